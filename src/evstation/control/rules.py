"""Controllers behind one small interface: given the step's observation and station state, return the 1 + N actions.

Actions are CityLearn's, in its order: `[electrical_storage, electric_vehicle_storage_<socket>...]`,
the battery's in [-1, 1] (fraction of its power, + charges), each socket's in [0, 1] (fraction of
its rated power). Observations are CityLearn's raw values by name, for the current step; the
`StationState` (control.station) is the same step as plain arrays, each vehicle's SOC read from
its session. `uncontrolled` and `rule_based` read the observation only (their results are the
project's reference and stay as they were); `self_consumption` and `least_laxity` read the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import numpy as np

from ..config import Settings
from ..site.sessions import charger_ids, socket_kinds
from .allocation import least_laxity_first
from .floor import HOURS_PER_STEP, battery_limits, ev_draw_kwh, floor_fraction, need_fraction
from .station import StationState

BASELINES = ("without_solar", "uncontrolled", "rule_based", "self_consumption", "least_laxity")


@dataclass(frozen=True)
class StationSpec:
    """What a controller may know of the equipment, from params."""
    chargers: tuple[str, ...]
    socket_power_kw: np.ndarray
    charger_efficiency: float
    battery_power_kw: float
    peak_start_hour: int
    peak_end_hour: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "StationSpec":
        kinds = socket_kinds(settings)
        return cls(
            chargers=tuple(charger_ids(settings)),
            socket_power_kw=np.array([settings.sockets.group(kind).power_kw for kind in kinds]),
            charger_efficiency=settings.sockets.efficiency_pct / 100,
            battery_power_kw=settings.battery.power_kw,
            peak_start_hour=settings.tariff.peak_start_hour,
            peak_end_hour=settings.tariff.peak_end_hour,
        )


class Controller(Protocol):
    name: str

    def reset(self) -> None: ...

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray: ...


class FullPowerCharging:
    """Every socket at full power the moment a vehicle is plugged in; the battery idle."""
    name = "uncontrolled"

    def __init__(self, spec: StationSpec):
        self.spec = spec

    def reset(self) -> None:
        pass

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
        local_hour = int(observation["hour"]) - 1          # CityLearn's hour 1 is 00:00-00:59
        power = self.spec.battery_power_kw
        if surplus_kwh > 0:
            actions[0] = min(surplus_kwh, power) / power
        elif self.spec.peak_start_hour <= local_hour < self.spec.peak_end_hour:
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


class SelfConsumption:
    """Every socket at full power; the battery charges from any PV surplus and discharges against any
    import (not only in the tariff peak, unlike `rule_based`), within its SOC window and power."""
    name = "self_consumption"

    def reset(self) -> None:
        pass

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        sockets = np.ones(state.sockets)
        return np.concatenate([[self_consumption_battery(state, ev_draw_kwh(state, sockets))], sockets])


class LeastLaxity:
    """Vehicles charge on PV surplus beyond the mall's load, handed out least-laxity-first across the
    station, and otherwise only their floor: what they need to still leave at their required SOC.
    Surplus charges a vehicle only up to its required SOC: energy beyond it leaves the site and
    displaces no import, where the battery can store it for the evening. The battery follows the
    self-consumption rule on what remains."""
    name = "least_laxity"

    def reset(self) -> None:
        pass

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        state = _require(state, self.name)
        floor = floor_fraction(state)
        surplus_kwh = max(state.pv_kwh - state.load_kwh - ev_draw_kwh(state, floor), 0.0)
        # one pool for the whole station: the surplus is not the policy's to split between groups
        sockets = least_laxity_first(state, floor, [surplus_kwh], ceiling_fraction=need_fraction(state),
                                     socket_group=np.zeros_like(state.socket_group))
        return np.concatenate([[self_consumption_battery(state, ev_draw_kwh(state, sockets))], sockets])


def make_baseline(name: str, settings: Settings) -> Controller:
    """The controller a baseline runs (`without_solar` is full-power charging with the PV set to 0)."""
    spec = StationSpec.from_settings(settings)
    if name in ("without_solar", "uncontrolled"):
        controller = FullPowerCharging(spec)
        controller.name = name
        return controller
    if name == "rule_based":
        return RuleBased(spec)
    if name == "self_consumption":
        return SelfConsumption()
    if name == "least_laxity":
        return LeastLaxity()
    raise ValueError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
