"""What a controller knows of the station at the start of a step: plain arrays, no simulator keys.

Every controller that needs more than CityLearn's observation (the rules that read each vehicle's
need, the feasibility floor, the agents' features) reads a `StationState`. It is built the same way
from either simulator (the fast twin in training, CityLearn in evaluation), so a policy sees and
is corrected identically in both. A vehicle's SOC comes from its session, not from CityLearn's
per-socket SOC observation, which shows the previous visitor's SOC in the first hour of a
back-to-back session (see the project's notes on CityLearn).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StationState:
    """The station before step `step` is taken. Energies are kWh over the step; per-socket arrays
    have one entry per socket in CityLearn's charger order."""

    step: int
    hour: int  # local hour of the step, 0-23
    weekday: int  # 0 Monday ... 6 Sunday
    load_kwh: float  # the mall's load this step (0 in station_only)
    pv_kwh: float  # PV generation this step
    tariff_pen_per_kwh: float
    emission_factor_kg_per_kwh: float
    load_forecast_kwh: np.ndarray  # the next `control.forecast_hours` steps' load
    pv_forecast_kwh: np.ndarray  # the next `control.forecast_hours` steps' PV
    battery_soc: float  # fraction of capacity, before the step
    battery_capacity_kwh: float
    battery_power_kw: float
    battery_min_soc: float  # 1 - depth of discharge
    battery_root_efficiency: float  # one-way efficiency (sqrt of round trip)
    # per socket
    socket_group: np.ndarray  # int: index into VEHICLE_KINDS (0 moto, 1 mototaxi)
    connected: np.ndarray  # bool: a vehicle is plugged in this step
    vehicle_soc: np.ndarray  # its SOC at the start of the step (arrival SOC on its first); 0 where none
    required_soc: np.ndarray  # the SOC it must leave with; 0 where none
    vehicle_capacity_kwh: np.ndarray
    steps_left: np.ndarray  # int: steps it stays plugged in, this one included; 0 where none
    socket_power_kw: np.ndarray  # rated power of the socket
    kwh_per_step_at_full_power: np.ndarray  # energy into the vehicle's battery in one step at rated power
    # the bill's month (tariff/demand.py): what a step's demand charge depends on. The builders
    # always set these; the defaults (no peak billed yet) only spare states made by hand.
    month: int = 1  # billing month of the step, 1-12
    hours_left_in_month: int = 1  # steps of this month from this one on, this one included
    in_peak_window: bool = False  # the step lies in the tariff's peak hours (the generation charge's window)
    hours_to_peak_window: int = 0  # hours until the next peak window starts; 0 within it
    # month-to-date billed peaks (kW): the largest hourly import of the steps before this one in its
    # month (counted from the episode's first step), within the peak hours and at any hour
    billed_peak_window_kw: float = 0.0
    billed_peak_any_kw: float = 0.0
    # the same for the site with sockets and battery idle (mall and PV only: exogenous)
    idle_peak_window_kw: float = 0.0
    idle_peak_any_kw: float = 0.0

    @property
    def sockets(self) -> int:
        return len(self.connected)


def once_per_state(derive):
    """A pure function of a StationState, computed once per state and kept beside it.

    A state never changes, and in one step the residual rule, the feasibility layer, the allocator
    and the features all ask for the same needs, laxities and orders: computing them once took the
    learner's step from 0.42 to 0.34 ms (scripts/bench_training.py). The kept array is read-only, so no
    caller can change what the next reads."""
    key = derive.__name__

    @functools.wraps(derive)
    def derived(state: StationState) -> np.ndarray:
        kept = state.__dict__.setdefault("_derived", {})  # a frozen dataclass still has its __dict__
        if key not in kept:
            value = derive(state)
            value.flags.writeable = False
            kept[key] = value
        return kept[key]

    return derived
