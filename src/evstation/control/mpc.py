"""`mpc`: a rolling-horizon planner. Every hour it solves the oracle's LP (control/oracle.py) over the
next `mpc.horizon_hours` with what a station could know then, and applies only the first hour.

What the window's LP is given:
- this hour's mall load and PV as the state reads them (every rule reads them too); the later hours'
  from the station's forecaster (params `forecast`, forecast/forecaster.py: by default a forecast by
  day type, from the hours already seen). The forecast load beyond this hour may be raised by
  `mpc.load_margin_pct`, a reserve against the under-forecast hours that set a month's peak;
- the energy prices, the emission factor and the billing calendar: published, known ahead;
- the vehicles plugged in now, each with its socket, its departure (clipped to the window) and what
  it still needs and has room for, as the oracle's sessions;
- the vehicles still to come, which no station knows: as a fixed expected load, the training year's
  mean draw by weekday and hour of vehicles that arrive after the solve's hour (each charged at once
  to its required SOC at rated power). A fixed load rather than flexible pseudo-vehicles: it keeps
  the LP the oracle's, it never promises flexibility the fleet may not bring, and it errs towards
  keeping battery energy for the evening arrivals, which tend to set the peak hours' import;
- the month-to-date billed peaks (the state's, from the meter) as the lower bounds of the current
  month's billed-peak variables (the tariff's rows, `tariff.model.PeakRows`): a plan pays the demand
  rate only on a rise of the month's peak, as the tariff's per-step charges do;
- a tiny discharge price falling across the window (`late_discharge_tiebreak_per_kwh`): among hours
  priced alike (the five peak hours) the plan discharges late rather than spending the battery in
  the first and meeting a forecast error in the last with nothing left.
The objective is the scenario's: `grid_co2` solves the oracle's CO2-first LP, `bill` its bill-first.

Of the plan's first hour, the battery's action is applied (cut to its SOC window and power) and the
station's total EV draw is handed to the sockets least laxity first above the feasibility floor
(control/allocation.py, control/floor.py), so every vehicle that can still leave charged does.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Settings
from ..forecast.forecaster import Forecaster
from ..forecast.history import Calendar, TrainingProfiles
from ..tariff.model import BillingTariff
from .allocation import least_laxity_first
from .floor import HOURS_PER_STEP, battery_limits, ev_draw_kwh, floor_fraction
from .oracle import PERCENT, BatterySpec, LPInputs, build_lp, solve_lp
from .station import StationState

log = logging.getLogger(__name__)

NAME = "mpc"
REACH_MARGIN = 1e-3  # the share of the reachable stored energy a window's target leaves out (LP tolerances)
MS_PER_S = 1000.0


# ---------------------------------------------------------------- what is known ahead


# ---------------------------------------------------------------- the window's LP


def connected_sessions(state: StationState, window_steps: int) -> pd.DataFrame:
    """The vehicles plugged in now as the oracle's sessions of the window (departure clipped to it)."""
    sockets = np.flatnonzero(state.connected)
    return pd.DataFrame(
        {
            "socket_index": sockets,
            "arrival_step": np.zeros(len(sockets), dtype=int),
            "departure_step": np.minimum(state.steps_left[sockets], window_steps).astype(int),
            "power_kw": state.socket_power_kw[sockets],
            "battery_kwh": state.vehicle_capacity_kwh[sockets],
            "arrival_soc_pct": PERCENT * state.vehicle_soc[sockets],
            "required_soc_pct": PERCENT * state.required_soc[sockets],
        }
    )


def battery_now(battery: BatterySpec, state: StationState) -> BatterySpec:
    """The battery as the window starts: the state's SOC, kept inside the LP's SOC bounds (float32 rounding)."""
    soc_pct = min(max(PERCENT * state.battery_soc, battery.min_soc_pct), PERCENT)
    return BatterySpec(
        battery.capacity_kwh,
        battery.power_kw,
        battery.round_trip_efficiency,
        battery.min_soc_pct,
        soc_pct,
        battery.standby_loss_per_step,
    )


def floor_peaks(lp, state: StationState) -> None:
    """The month-to-date billed peaks as lower bounds of the current month's billed-peak variables."""
    peaks = lp.layout.peaks
    if peaks is None:
        return
    current = int(peaks.month_index[0])
    for block, floor_kw in (("peak_window", state.billed_peak_window_kw), ("peak_any", state.billed_peak_any_kw)):
        columns = lp.layout.block(block)
        if columns.stop > columns.start:
            lp.column_lower[columns.start + current] = floor_kw


def prefer_late_discharge(lp, tiebreak_per_kwh: float) -> None:
    """Discharge costs a little more early in the window, falling linearly to nothing at its end."""
    steps = lp.layout.steps
    lp.cost[lp.layout.block("discharge")] += tiebreak_per_kwh * (steps - 1 - np.arange(steps)) / max(steps - 1, 1)


def prefer_early_charge(lp, tiebreak_per_kwh: float) -> None:
    """Charging costs a little more late in the window, rising linearly from nothing at its start: among
    hours priced alike the battery refills at night, not in the mall's busy afternoon, where a forecast
    error on top of the refill raises the month's any-hour peak."""
    steps = lp.layout.steps
    lp.cost[lp.layout.block("charge")] += tiebreak_per_kwh * np.arange(steps) / max(steps - 1, 1)


def reachable_stored_kwh(battery: BatterySpec, steps: int) -> np.ndarray:
    """The most energy the battery can hold after each step of the window, charging at full power from
    the window's start (the LP's own dynamics: standby loss, then the charge at sqrt of the efficiency)."""
    reachable = np.empty(steps)
    stored = battery.initial_soc_pct / PERCENT * battery.capacity_kwh
    for step in range(steps):
        stored = min(
            (1 - battery.standby_loss_per_step) * stored
            + math.sqrt(battery.round_trip_efficiency) * battery.power_kw * HOURS_PER_STEP,
            battery.capacity_kwh,
        )
        reachable[step] = stored
    return reachable


def charge_before_windows(lp, inputs: LPInputs, target_pct: float) -> None:
    """The battery at `target_pct` of its capacity (or as near as it can get) when each peak window of
    the plan opens, where the tariff bills the window's peak: the evening meets its forecast errors
    with a full battery, whatever the plan expected of the day's PV. A lower bound on the stored
    energy of the hour before each window."""
    in_peak = np.asarray(inputs.in_peak, dtype=bool)
    opens = np.flatnonzero(in_peak[1:] & ~in_peak[:-1])  # the hour before a window opens
    # a hedge against the window's billed peak: where the tariff charges none, it only costs losses
    if target_pct <= 0 or not len(opens) or not inputs.billing.rates.generation_pen_per_kw_month:
        return
    battery = inputs.battery
    reachable = reachable_stored_kwh(battery, lp.layout.steps)
    columns = lp.layout.block("stored")
    for step in opens:
        # a hair under what full power reaches, so the bound never makes the LP infeasible
        wanted_kwh = min(target_pct / PERCENT * battery.capacity_kwh, reachable[step] * (1 - REACH_MARGIN))
        lp.column_lower[columns.start + step] = max(lp.column_lower[columns.start + step], wanted_kwh)


@dataclass(frozen=True)
class FirstHour:
    battery_kwh: float  # at the bus, + charges
    ev_kwh: float  # the station's total draw from the bus


class MpcController:
    """Re-solves the window's LP each hour and applies its first hour (see the module's docstring)."""

    name = NAME

    def __init__(self, settings: Settings, profiles: pd.DataFrame, training: TrainingProfiles, split: str):
        self.settings, self.options, self.horizon = settings, settings.oracle, settings.mpc.horizon_hours
        self.objective = settings.objective
        self.billing = BillingTariff.from_settings(settings.tariff)
        self.calendar = Calendar.of(profiles, self.billing)
        self.forecaster = Forecaster(
            settings.forecast, profiles["mall_kwh"], profiles["pv_kwh"], self.calendar, training, split
        )
        self.load_factor = 1.0 + settings.mpc.load_margin_pct / PERCENT
        self.training = training
        self.tariff = profiles["tariff_pen_per_kwh"].to_numpy(dtype=float)
        self.ef = profiles["emission_factor_kg_per_kwh"].to_numpy(dtype=float)
        self.battery = BatterySpec.from_settings(settings)
        self.efficiency = settings.sockets.efficiency_pct / PERCENT
        self.solve_seconds: list[float] = []  # HiGHS alone, per hour
        self.plan_seconds: list[float] = []  # forecast, LP build and solve, per hour

    def reset(self) -> None:
        self.solve_seconds, self.plan_seconds = [], []

    def window_inputs(self, step: int, state: StationState) -> LPInputs:
        steps = np.arange(step, min(step + self.horizon, len(self.tariff)))
        load, pv = self.forecaster.window(steps, state.load_kwh, state.pv_kwh)
        load[1:] *= self.load_factor  # the hours ahead planned higher: a reserve (this hour is read, not forecast)
        return LPInputs(
            load_kwh=load + self.training.ev_expected_kwh(self.calendar, steps),
            pv_kwh=pv,
            tariff_pen_per_kwh=self.tariff[steps],
            ef_kg_per_kwh=self.ef[steps],
            sessions=connected_sessions(state, len(steps)),
            battery=battery_now(self.battery, state),
            charger_efficiency=self.efficiency,
            socket_count=state.sockets,
            month=self.calendar.month[steps],
            in_peak=self.calendar.in_peak[steps],
            billing=self.billing,
        )

    def plan_first_hour(self, step: int, state: StationState) -> FirstHour:
        started = time.perf_counter()
        inputs = self.window_inputs(step, state)
        lp = build_lp(inputs, self.options, self.objective)
        floor_peaks(lp, state)
        prefer_late_discharge(lp, self.settings.mpc.late_discharge_tiebreak_per_kwh)
        prefer_early_charge(lp, self.settings.mpc.early_charge_tiebreak_per_kwh)
        charge_before_windows(lp, inputs, self.settings.mpc.window_soc_target_pct)
        solution = solve_lp(lp, self.options)
        self.solve_seconds.append(solution.solve_seconds)
        x, layout = solution.values, lp.layout
        first = layout.draw_step == 0
        self.plan_seconds.append(time.perf_counter() - started)
        return FirstHour(
            float(x[layout.block("charge")][0] - x[layout.block("discharge")][0]),
            float(np.clip(x[layout.block("draw")][first], 0.0, None).sum()),
        )

    def act(self, observation: Mapping[str, float], step: int, state: StationState | None = None) -> np.ndarray:
        if state is None:
            raise ValueError(f"{NAME}: needs the station state (run it through simulation.runner.simulate)")
        planned = self.plan_first_hour(step, state)
        floor = floor_fraction(state)
        sockets = least_laxity_first(
            state, floor, [planned.ev_kwh - ev_draw_kwh(state, floor)], socket_group=np.zeros_like(state.socket_group)
        )
        low, high = battery_limits(state)
        battery = min(max(planned.battery_kwh / (state.battery_power_kw * HOURS_PER_STEP), low), high)
        return np.concatenate([[battery], sockets])


# ---------------------------------------------------------------- recording it like a rule
