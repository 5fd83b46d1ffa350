"""Controllers behind one small interface: given the step's observation and station state, return the 1 + N actions.

Actions are CityLearn's, in its order: `[electrical_storage, electric_vehicle_storage_<socket>...]`,
the battery's in [-1, 1] (fraction of its power, + charges), each socket's in [0, 1] (fraction of
its rated power). Observations are CityLearn's raw values by name, for the current step; the
`StationState` (control.station) is the same step as plain arrays, each vehicle's SOC read from
its session. `uncontrolled` and `rule_based` read the observation only (their results are the
project's reference and stay as they were); `self_consumption`, `least_laxity`, `hold_for_peak` and
`peak_shaving` read the state. None of them knows the future: only the vehicles plugged in now, the
hour, and (`peak_shaving`) the month and the imports it has seen in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import registry
from ..config import Settings
from ..site.sessions import charger_ids, socket_kinds
from ..tariff.model import BillingTariff
from .allocation import least_laxity_first
from .floor import HOURS_PER_STEP, battery_limits, ev_draw_kwh, floor_fraction, need_fraction
from .station import StationState


@dataclass(frozen=True)
class StationSpec:
    """What a controller may know of the equipment, from params."""

    chargers: tuple[str, ...]
    socket_power_kw: np.ndarray
    charger_efficiency: float
    battery_power_kw: float
    billing: BillingTariff  # its peak hours: where the battery is spent

    @classmethod
    def from_settings(cls, settings: Settings) -> StationSpec:
        kinds = socket_kinds(settings)
        return cls(
            chargers=tuple(charger_ids(settings)),
            socket_power_kw=np.array([settings.sockets.group(kind).power_kw for kind in kinds]),
            charger_efficiency=settings.sockets.efficiency_pct / 100,
            battery_power_kw=settings.battery.power_kw,
            billing=BillingTariff.from_settings(settings.tariff),
        )


class Controller(Protocol):
    name: str

    def reset(self) -> None: ...

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray: ...


class Rule:
    """A rule that decides from the station's state alone; `from_settings` is how the registry builds it."""

    name = "rule"

    @classmethod
    def from_settings(cls, settings: Settings) -> Rule:
        return cls()

    def reset(self) -> None:
        pass


class EquipmentRule(Rule):
    """A rule that also reads the equipment from params (socket powers, battery power, peak hours)."""

    def __init__(self, spec: StationSpec):
        self.spec = spec

    @classmethod
    def from_settings(cls, settings: Settings) -> EquipmentRule:
        return cls(StationSpec.from_settings(settings))


class FullPowerCharging(EquipmentRule):
    """Every socket at full power the moment a vehicle is plugged in; the battery idle."""

    name = "uncontrolled"

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        return np.concatenate([[0.0], np.ones(len(self.spec.chargers))])


def expected_ev_draw_kwh(observation: Mapping[str, float], spec: StationSpec) -> float:
    """Energy the sockets will draw this step at full power: each connected vehicle takes what it
    still has room for, up to its socket's rated power (CityLearn fills a battery no further)."""
    total = 0.0
    for charger, power_kw in zip(spec.chargers, spec.socket_power_kw):
        if observation.get(f"electric_vehicle_charger_{charger}_connected_state", 0.0) < 0.5:
            continue
        soc = observation[f"connected_electric_vehicle_at_charger_{charger}_soc"]
        capacity = observation[f"connected_electric_vehicle_at_charger_{charger}_battery_capacity"]
        total += min(power_kw, max(1.0 - soc, 0.0) * capacity / spec.charger_efficiency)
    return total


class RuleBased(FullPowerCharging):
    """Full-power charging; the battery stores PV surplus and discharges against import in the
    evening tariff peak. CityLearn keeps it within its SOC window and power."""

    name = "rule_based"

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        actions = super().act(observation, step, state)
        demand_kwh = observation["non_shiftable_load"] + expected_ev_draw_kwh(observation, self.spec)
        surplus_kwh = observation["solar_generation"] - demand_kwh
        local_hour = int(observation["hour"]) - 1  # CityLearn's hour 1 is 00:00-00:59
        power = self.spec.battery_power_kw
        if surplus_kwh > 0:
            actions[0] = min(surplus_kwh, power) / power
        elif in_peak_hours(local_hour, self.spec):
            actions[0] = -min(-surplus_kwh, power) / power
        return actions


def _require(state: StationState | None, name: str) -> StationState:
    if state is None:
        raise ValueError(f"{name}: needs the station state (run it through simulation.runner.simulate)")
    return state


def self_consumption_battery(state: StationState, ev_kwh: float) -> float:
    """The battery's action: store any PV surplus beyond the load and the sockets' draw, supply any
    shortfall, each within its SOC window and power."""
    surplus_kwh = state.pv_kwh - state.load_kwh - ev_kwh
    low, high = battery_limits(state)
    return min(max(surplus_kwh / (state.battery_power_kw * HOURS_PER_STEP), low), high)


class SelfConsumption(Rule):
    """Every socket at full power; the battery charges from any PV surplus and discharges against any
    import (not only in the tariff peak, unlike `rule_based`), within its SOC window and power."""

    name = "self_consumption"

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        sockets = np.ones(state.sockets)
        return np.concatenate([[self_consumption_battery(state, ev_draw_kwh(state, sockets))], sockets])


class LeastLaxity(Rule):
    """Vehicles charge on PV surplus beyond the mall's load, handed out least-laxity-first across the
    station, and otherwise only their floor: what they need to still leave at their required SOC.
    Surplus charges a vehicle only up to its required SOC: energy beyond it leaves the site and
    displaces no import, where the battery can store it for the evening. The battery follows the
    self-consumption rule on what remains."""

    name = "least_laxity"

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        floor = floor_fraction(state)
        surplus_kwh = max(state.pv_kwh - state.load_kwh - ev_draw_kwh(state, floor), 0.0)
        # one pool for the whole station: the surplus is not the policy's to split between groups
        sockets = least_laxity_first(
            state,
            floor,
            [surplus_kwh],
            ceiling_fraction=need_fraction(state),
            socket_group=np.zeros_like(state.socket_group),
        )
        return np.concatenate([[self_consumption_battery(state, ev_draw_kwh(state, sockets))], sockets])


def charge_at_once(state: StationState) -> np.ndarray:
    """Every connected vehicle at once towards its required SOC, at up to rated power: no vehicle is
    filled beyond it (that energy leaves the site and displaces no import), none waits."""
    return np.maximum(floor_fraction(state), need_fraction(state))


def in_peak_hours(hour: int, spec: StationSpec) -> bool:
    """Whether a local hour (0-23) is in the tariff's peak hours: its dearest energy, its generation charge."""
    return spec.billing.in_peak_hours(hour)


def battery_action(state: StationState, grid_kwh: float) -> float:
    """The battery's action for `grid_kwh` at the bus (+ charges), cut to its SOC window and power."""
    low, high = battery_limits(state)
    return min(max(grid_kwh / (state.battery_power_kw * HOURS_PER_STEP), low), high)


class HoldForPeak(EquipmentRule):
    """Every vehicle charged at once to its required SOC; the battery stores PV surplus and gives it
    back only in the tariff's peak hours, against import: the energy bought there is the dearest, and
    the generation demand charge is billed on the peak hours' largest import."""

    name = "hold_for_peak"

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        sockets = charge_at_once(state)
        net_kwh = state.load_kwh + ev_draw_kwh(state, sockets) - state.pv_kwh
        wanted_kwh = -net_kwh if net_kwh < 0 or in_peak_hours(state.hour, self.spec) else 0.0
        return np.concatenate([[battery_action(state, wanted_kwh)], sockets])


class PeakShaving:
    """Keeps each month's import in the tariff's peak hours under a threshold, where the generation
    demand charge (the larger one) is billed: there the battery discharges whatever import exceeds it,
    and vehicles charge at once to their required SOC unless the battery cannot cover them, then only
    what it can, least laxity first above their floor (the floor is always served). Outside the peak
    hours the battery never discharges (its energy is kept for the peak hours; the any-hour demand
    charge is the smaller one): it stores PV surplus and refills from the grid up to `recharge_soc`,
    keeping the import under the threshold. Once the month's import in the peak hours has exceeded
    the threshold, holding it under the threshold any longer saves nothing: the month's billed peak so
    far becomes the limit. That peak is the meter's (the state's month-to-date billed peak), so the
    rule keeps no memory of its own and acts the same when something else moved the import (a policy
    correcting it: `control.residual`). Nothing here reads the future."""

    name = "peak_shaving"

    def __init__(self, spec: StationSpec, threshold_kw: float, recharge_soc: float):
        self.spec, self.threshold_kw, self.recharge_soc = spec, float(threshold_kw), float(recharge_soc)

    def reset(self) -> None:
        pass

    def _limit_kwh(self, state: StationState) -> float:
        return max(self.threshold_kw, state.billed_peak_window_kw) * HOURS_PER_STEP

    def _refill_cap_kwh(self, state: StationState) -> float:
        """The import under which the battery refills from the grid outside the peak hours: the threshold."""
        return self.threshold_kw * HOURS_PER_STEP

    def _refill_soc(self, state: StationState) -> float:
        """The SOC the battery refills to from the grid outside the peak hours."""
        return self.recharge_soc

    def _recharge_kwh(self, state: StationState, room_kwh: float) -> float:
        """Grid energy that refills the battery towards `_refill_soc`, within `room_kwh` under the threshold."""
        missing_kwh = max(self._refill_soc(state) - state.battery_soc, 0.0) * state.battery_capacity_kwh
        return min(missing_kwh / state.battery_root_efficiency, max(room_kwh, 0.0))

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        limit_kwh = self._limit_kwh(state)
        floor, sockets = floor_fraction(state), charge_at_once(state)
        base_kwh = state.load_kwh - state.pv_kwh
        net_kwh = base_kwh + ev_draw_kwh(state, sockets)
        if net_kwh <= 0:
            battery = battery_action(state, -net_kwh)
        elif not in_peak_hours(state.hour, self.spec):
            battery = battery_action(state, self._recharge_kwh(state, self._refill_cap_kwh(state) - net_kwh))
        elif net_kwh > limit_kwh:
            battery = battery_action(state, limit_kwh - net_kwh)
            covered_kwh = limit_kwh - battery * state.battery_power_kw * HOURS_PER_STEP
            if net_kwh > covered_kwh:  # the battery cannot hold it: vehicles above their floor wait
                budget_kwh = covered_kwh - base_kwh - ev_draw_kwh(state, floor)
                sockets = least_laxity_first(
                    state, floor, [budget_kwh], ceiling_fraction=sockets, socket_group=np.zeros_like(state.socket_group)
                )
        else:
            battery = 0.0
        return np.concatenate([[battery], sockets])


def make_baseline(name: str, settings: Settings) -> Controller:
    """The rule a registry entry names, built from params (`without_solar` is full-power charging with
    the PV set to 0 by the simulation). A rule without a class (`peak_shaving`) is tuned first."""
    entry = registry.entry(name)
    if entry.build is None or entry.kind not in ("rule", "site"):
        raise ValueError(
            f"{name}: not built from params alone: it is tuned on the training year or planned first "
            f"(its driver: {entry.driver})"
        )
    controller = registry.resolve(entry.build).from_settings(settings)
    controller.name = name
    return controller
