"""The station battery and the sockets' vehicles, step by step, as CityLearn 3.0.2 computes them.

Each function follows one CityLearn method operation for operation, including where it keeps
values in float32 (SOC, energy balance and electricity consumption arrays are float32 in
CityLearn; the arithmetic between them is float64), so the fast simulator reproduces its numbers
to the last bit rather than approximately. References: citylearn/energy_model.py (Battery.charge,
StorageDevice._charge / next_time_step, get_max_input_power, get_current_efficiency, degrade),
electric_vehicle_charger.py (update_connected_electric_vehicle_soc), building.py
(update_electrical_storage).
"""

from __future__ import annotations

import bisect

import numpy as np

from .fast_data import ZERO_DIVISION_PLACEHOLDER, BatterySpec, SocketSpec

LIMIT_ITERATIONS = 2  # CityLearn recomputes efficiency and the limits twice per charge


def clip(value: float, low: float, high: float) -> float:
    """np.clip for one float, without its call overhead (same result, NaN included)."""
    return min(max(value, low), high)


class Curve:
    """CityLearn's piecewise-linear curve lookup (searchsorted 'left'; the end segments extrapolate)."""

    def __init__(self, curve: np.ndarray):
        self.xs, self.ys = [float(x) for x in curve[0]], [float(y) for y in curve[1]]

    def __call__(self, x: float) -> float:
        xs, ys = self.xs, self.ys
        index = min(len(xs) - 2, max(0, bisect.bisect_left(xs, x) - 1))
        return ys[index] + (x - xs[index]) * (ys[index + 1] - ys[index]) / (xs[index + 1] - xs[index])


class StationBattery:
    """The station's `Battery`: SOC (float32, fraction of capacity), degraded capacity, and the
    energy it exchanged with the bus on the last step (float32 kWh, + charging)."""

    def __init__(self, spec: BatterySpec, hours_per_step: float = 1.0):
        self.spec, self.hours = spec, hours_per_step
        self.min_soc = clip(1.0 - spec.depth_of_discharge, 0.0, 1.0)
        self.power_factor, self.efficiency = Curve(spec.capacity_power_curve), Curve(spec.efficiency_curve)
        self.reset()

    def reset(self) -> None:
        self.soc = np.float32(max(self.spec.initial_soc, self.min_soc))
        self.degraded_capacity_kwh = self.spec.capacity_kwh
        self.energy_kwh = np.float32(0.0)

    def snapshot(self) -> dict:
        """Everything a step changes, so a run can be stopped and continued exactly."""
        return {"soc": self.soc, "degraded_capacity_kwh": self.degraded_capacity_kwh, "energy_kwh": self.energy_kwh}

    def restore(self, state: dict) -> None:
        self.soc, self.energy_kwh = np.float32(state["soc"]), np.float32(state["energy_kwh"])
        self.degraded_capacity_kwh = state["degraded_capacity_kwh"]

    def _max_energy_kwh(self, energy_init_kwh: float) -> float:
        soc = energy_init_kwh / max(self.spec.capacity_kwh, ZERO_DIVISION_PLACEHOLDER)
        power_kw = self.spec.nominal_power_kw * self.power_factor(soc)
        return max(float(power_kw), 0.0) * self.hours

    def _efficiency(self, energy_kwh: float) -> float:
        normalized = clip(
            abs(float(energy_kwh / self.hours)) / max(self.spec.nominal_power_kw, ZERO_DIVISION_PLACEHOLDER), 0.0, 1.0
        )
        return self.efficiency(normalized)

    def _limited_charge_kwh(self, requested_kwh: float, energy_init_kwh: float) -> tuple[float, float]:
        """Accepted grid-side energy (signed) and the round-trip efficiency it was accepted at."""
        max_kwh = self._max_energy_kwh(energy_init_kwh)
        if requested_kwh >= 0:
            limited = min(requested_kwh, max_kwh)
            for _ in range(LIMIT_ITERATIONS):
                root = self._efficiency(abs(limited)) ** 0.5
                room_kwh = max(self.degraded_capacity_kwh - energy_init_kwh, 0.0) / max(root, ZERO_DIVISION_PLACEHOLDER)
                limited = min(requested_kwh, max_kwh, room_kwh)
            return limited, root
        requested_out = abs(requested_kwh)
        limited = min(requested_out, max_kwh)
        for _ in range(LIMIT_ITERATIONS):
            root = self._efficiency(limited) ** 0.5
            minimum_kwh = (1.0 - self.spec.depth_of_discharge) * self.spec.capacity_kwh
            available_kwh = max(energy_init_kwh - minimum_kwh, 0.0) * root
            limited = min(requested_out, max_kwh, available_kwh)
        return -limited, root

    def charge(self, action: float) -> None:
        """One step's action in [-1, 1] (fraction of nominal power, + charges)."""
        capacity = self.spec.capacity_kwh
        requested_kwh = clip(float(action), -1.0, 1.0) * float(self.spec.nominal_power_kw) * self.hours
        energy_init = max(self.min_soc * capacity, float(self.soc) * capacity)
        energy, root = self._limited_charge_kwh(requested_kwh, energy_init)
        final = (
            min(energy_init + energy * root, capacity)
            if energy >= 0
            else max(self.min_soc * capacity, energy_init + energy / root)
        )
        self.soc = np.float32(final / max(capacity, ZERO_DIVISION_PLACEHOLDER))
        delta = final - energy_init
        self.energy_kwh = np.float32(delta / root if delta >= 0 else delta * root)
        self._degrade()

    def _degrade(self) -> None:
        if not self.spec.capacity_loss_coefficient:
            return
        fade = (
            self.spec.capacity_loss_coefficient
            * self.spec.capacity_kwh
            * abs(float(self.energy_kwh))
            / (2 * max(self.degraded_capacity_kwh, ZERO_DIVISION_PLACEHOLDER))
        )
        self.degraded_capacity_kwh = max(self.degraded_capacity_kwh - fade, 0.0)

    def next_step(self) -> None:
        """Standby loss between steps (StorageDevice.next_time_step)."""
        loss = self.spec.loss_per_step * self.hours
        self.soc = np.float32(clip(float(self.soc) * (1.0 - loss), self.min_soc, 1.0))


def socket_energy_kwh(actions: np.ndarray, spec: SocketSpec, hours: float) -> np.ndarray:
    """Energy each charger commands over the step (kWh, before its efficiency): the action in
    [0, 1] times the rated power, nothing below the minimum power; negative actions charge nothing
    (no V2G)."""
    action = np.minimum(np.maximum(actions, -1.0), 1.0)
    requested_kw = np.where(action > 0.0, action * spec.max_power_kw, 0.0)
    power_kw = np.minimum(requested_kw, spec.max_power_kw)
    if spec.min_power_kw.any():
        power_kw = np.where(requested_kw < np.minimum(spec.min_power_kw, spec.max_power_kw), 0.0, power_kw)
    normalized = power_kw / np.maximum(spec.max_power_kw, ZERO_DIVISION_PLACEHOLDER)
    return normalized * spec.max_power_kw * hours


def charge_vehicles(
    soc: np.ndarray, connected: np.ndarray, actions: np.ndarray, spec: SocketSpec, hours: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Every socket's vehicle charged for one step.

    `soc` is each vehicle's float32 SOC before the step; returns the SOC after it (float32;
    unchanged where no vehicle is plugged in) and each charger's draw from the bus (float32 kWh,
    0 at an empty socket)."""
    commanded_kwh = socket_energy_kwh(actions, spec, hours)
    offered_kwh = commanded_kwh * spec.charger_efficiency
    capacity = spec.vehicle_capacity_kwh
    root = spec.vehicle_root_efficiency
    energy_init = np.maximum(spec.vehicle_min_soc * capacity, soc.astype(float) * capacity)
    room_kwh = np.maximum(capacity - energy_init, 0.0) / np.maximum(root, ZERO_DIVISION_PLACEHOLDER)
    accepted_kwh = np.minimum(np.minimum(offered_kwh, spec.vehicle_max_power_kw * hours), room_kwh)
    final = np.minimum(energy_init + accepted_kwh * root, capacity)
    new_soc = (final / np.maximum(capacity, ZERO_DIVISION_PLACEHOLDER)).astype(np.float32)
    delta = final - energy_init
    balance = np.where(delta >= 0, delta / root, delta * root).astype(np.float32)
    draw = (balance.astype(float) / np.maximum(spec.charger_efficiency, ZERO_DIVISION_PLACEHOLDER)).astype(np.float32)
    # no power asked: CityLearn still "charges" 0 kWh, which only rewrites the same SOC
    draw = np.where(connected & (commanded_kwh > 0.0), draw, np.float32(0.0))
    return np.where(connected, new_soc, soc), draw
