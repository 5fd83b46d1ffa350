"""The EV feasibility floor and the battery's window: pure functions of a `StationState`.

A vehicle's laxity is the steps it stays minus the steps it still needs at its socket's rated
power; a vehicle with laxity below 1 must charge this step or it can no longer reach its required
SOC by departure. The floor is the least socket action that keeps every vehicle that can still make
it able to: `1 - laxity` of rated power (none above laxity 1, full power at laxity 0 or below).
Applied every step, it serves every session that was feasible when it arrived, whatever else asks.

Socket actions are fractions of the charger's rated (`max_charging_power`) power. A fraction `a`
puts `a * kwh_per_step_at_full_power` into the vehicle's battery (the charger's and the vehicle's
efficiencies included; the observer refuses datasets where that is not linear) until it is full,
and draws `a * socket_power_kw` kWh over a one-hour step from the bus.
"""

from __future__ import annotations

import numpy as np

from .station import StationState, once_per_state

HOURS_PER_STEP = 1.0  # both simulators run one-hour steps only (fast_data refuses others)


@once_per_state
def energy_needed_kwh(state: StationState) -> np.ndarray:
    """Energy each connected vehicle's battery still needs to reach its required SOC (0 elsewhere)."""
    need = np.maximum(state.required_soc - state.vehicle_soc, 0.0) * state.vehicle_capacity_kwh
    return np.where(state.connected, need, 0.0)


@once_per_state
def room_kwh(state: StationState) -> np.ndarray:
    """Energy each connected vehicle's battery can still take before it is full (0 elsewhere)."""
    return np.where(state.connected, np.maximum(1.0 - state.vehicle_soc, 0.0) * state.vehicle_capacity_kwh, 0.0)


@once_per_state
def steps_needed(state: StationState) -> np.ndarray:
    """Steps at rated power each vehicle still needs, as a fraction (1.5: one full step and a half)."""
    return energy_needed_kwh(state) / state.kwh_per_step_at_full_power


@once_per_state
def laxity_steps(state: StationState) -> np.ndarray:
    """Steps left (this one included) minus steps needed at rated power; below 0 the vehicle can
    no longer make it. Empty sockets read 0 and are never charged."""
    return np.where(state.connected, state.steps_left - steps_needed(state), 0.0)


@once_per_state
def floor_fraction(state: StationState) -> np.ndarray:
    """Per socket, the least fraction of rated power this step without which its vehicle could no
    longer reach its required SOC by departure at rated power (1 where it already cannot)."""
    floor = np.clip(1.0 - laxity_steps(state), 0.0, 1.0)
    return np.where(state.connected & (energy_needed_kwh(state) > 0.0), floor, 0.0)


@once_per_state
def room_fraction(state: StationState) -> np.ndarray:
    """Per socket, the fraction of rated power that fills its vehicle this step (at most 1)."""
    return np.minimum(room_kwh(state) / state.kwh_per_step_at_full_power, 1.0)


@once_per_state
def need_fraction(state: StationState) -> np.ndarray:
    """Per socket, the fraction of rated power that brings its vehicle to its required SOC this step (at most 1)."""
    return np.minimum(energy_needed_kwh(state) / state.kwh_per_step_at_full_power, 1.0)


def ev_draw_kwh(state: StationState, socket_fraction: np.ndarray) -> float:
    """Bus energy the sockets draw this step under these fractions (a vehicle takes no more than fills it)."""
    return float((np.minimum(socket_fraction, room_fraction(state)) * socket_kwh_per_step(state)).sum())


@once_per_state
def socket_kwh_per_step(state: StationState) -> np.ndarray:
    """Energy a socket draws from the bus in one step at rated power."""
    return state.socket_power_kw * HOURS_PER_STEP


def battery_limits(state: StationState) -> tuple[float, float]:
    """The battery action's window (fractions of its power, + charges): as much as it can discharge
    down to its minimum SOC and charge up to full, each at most its power. CityLearn would cut an
    action beyond these anyway; cutting it first makes the action the battery really takes visible."""
    step_kwh = state.battery_power_kw * HOURS_PER_STEP
    stored_kwh = state.battery_soc * state.battery_capacity_kwh
    room_grid_kwh = max(state.battery_capacity_kwh - stored_kwh, 0.0) / state.battery_root_efficiency
    available_grid_kwh = (
        max(stored_kwh - state.battery_min_soc * state.battery_capacity_kwh, 0.0) * state.battery_root_efficiency
    )
    return -min(available_grid_kwh / step_kwh, 1.0), min(room_grid_kwh / step_kwh, 1.0)
