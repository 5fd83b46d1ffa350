"""`mpc`: a rolling-horizon planner. Every hour it solves the oracle's LP (control/oracle.py) over the
next `mpc.horizon_hours` with what a station could know then, and applies only the first hour.

What the window's LP is given:
- this hour's mall load and PV as the state reads them (every rule reads them too); the later hours'
  from `mpc.forecast`: `persistence` (the same hour yesterday; on the split's first day, when there
  is no yesterday, the `profile` value), `profile` (the training year's mean: load by weekday and
  hour, PV by hour of day), `noisy` (the dataset's values times 1 + independent Gaussian noise of
  `forecast_noise_pct` per hour, drawn from (seed, split, hour of the solve): the same run gives the
  same plan) or `perfect` (the dataset's values: a reference no station has).
  The forecast load beyond this hour may be raised by `mpc.load_margin_pct`, a reserve against the
  under-forecast hours that set a month's peak;
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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import SPLITS, Settings
from ..dataset import read_dataset
from ..tariff.model import BillingTariff
from .allocation import least_laxity_first
from .floor import HOURS_PER_STEP, battery_limits, ev_draw_kwh, floor_fraction
from .oracle import PERCENT, BatterySpec, LPInputs, build_lp, inputs_from_dataset, solve_lp
from .station import StationState

log = logging.getLogger(__name__)

NAME = "mpc"
TRAINING_SPLIT = "train"
DAYS_PER_WEEK, HOURS_PER_DAY = 7, 24
MS_PER_S = 1000.0


# ---------------------------------------------------------------- what is known ahead


@dataclass(frozen=True)
class Calendar:
    """A split's hours: weekday (0 Monday) and hour of day of each step, its billing month and peak hours."""

    weekday: np.ndarray
    hour: np.ndarray
    month: np.ndarray
    in_peak: np.ndarray

    @classmethod
    def of(cls, profiles: pd.DataFrame, billing: BillingTariff) -> Calendar:
        times = pd.DatetimeIndex(pd.to_datetime(profiles["timestamp"]))
        month, in_peak = billing.calendar(profiles["timestamp"])
        return cls(times.weekday.to_numpy(), times.hour.to_numpy(), month, in_peak)


@dataclass(frozen=True)
class TrainingProfiles:
    """The training year's means a station can hold before it runs: load by weekday and hour, PV by hour
    of day, and the EV draw by weekday and hour of vehicles that arrived `lag` hours before."""

    load_kwh: np.ndarray  # (7, 24)
    pv_kwh: np.ndarray  # (24,)
    ev_by_lag_kwh: np.ndarray  # (7, 24, longest stay): mean draw at that weekday-hour of arrivals `lag` hours earlier

    def ev_expected_kwh(self, calendar: Calendar, steps: np.ndarray) -> np.ndarray:
        """Expected draw of vehicles not yet plugged in at steps[0], at each step of the window."""
        lags = self.ev_by_lag_kwh.shape[2]
        ahead = np.arange(len(steps))
        # at window step k, only arrivals after the solve's hour: lag < k
        counted = np.arange(lags)[None, :] < ahead[:, None]
        table = self.ev_by_lag_kwh[calendar.weekday[steps], calendar.hour[steps]]
        return (table * counted).sum(axis=1)


def asap_draw_kwh(sessions: pd.DataFrame, efficiency: float) -> tuple[np.ndarray, np.ndarray]:
    """Each session charged at once to its required SOC at rated power: (session row, lag) -> bus kWh,
    as a (sessions, longest stay) array, and each session's arrival step."""
    stay = (sessions["departure_step"] - sessions["arrival_step"]).to_numpy(dtype=int)
    need_kwh = (
        np.clip(sessions["required_soc_pct"] - sessions["arrival_soc_pct"], 0.0, None).to_numpy()
        / PERCENT
        * sessions["battery_kwh"].to_numpy()
        / efficiency
    )
    power = sessions["power_kw"].to_numpy() * HOURS_PER_STEP
    lag = np.arange(max(int(stay.max(initial=0)), 1))
    draw = np.clip(need_kwh[:, None] - lag[None, :] * power[:, None], 0.0, power[:, None])
    return np.where(lag[None, :] < stay[:, None], draw, 0.0), sessions["arrival_step"].to_numpy(dtype=int)


def training_profiles(settings: Settings, data_dir: Path) -> TrainingProfiles:
    dataset = read_dataset(Path(data_dir) / TRAINING_SPLIT)
    profiles = dataset.profiles
    calendar = Calendar.of(profiles, BillingTariff.from_settings(settings.tariff))
    cell = calendar.weekday * HOURS_PER_DAY + calendar.hour
    cells = DAYS_PER_WEEK * HOURS_PER_DAY
    hours_in_cell = np.maximum(np.bincount(cell, minlength=cells), 1)
    load = np.bincount(cell, weights=profiles["mall_kwh"].to_numpy(), minlength=cells) / hours_in_cell
    pv = np.bincount(calendar.hour, weights=profiles["pv_kwh"].to_numpy(), minlength=HOURS_PER_DAY) / np.maximum(
        np.bincount(calendar.hour, minlength=HOURS_PER_DAY), 1
    )
    table = inputs_from_dataset(settings, profiles, dataset.sessions).sessions
    draw, arrival = asap_draw_kwh(table, settings.sockets.efficiency_pct / PERCENT)
    lags = draw.shape[1]
    at_step = arrival[:, None] + np.arange(lags)[None, :]
    inside = at_step < len(profiles)
    by_lag = np.zeros((cells, lags))
    lag_of = np.broadcast_to(np.arange(lags), draw.shape)
    np.add.at(by_lag, (cell[at_step[inside]], lag_of[inside]), draw[inside])
    by_lag /= hours_in_cell[:, None]
    return TrainingProfiles(
        load.reshape(DAYS_PER_WEEK, HOURS_PER_DAY), pv, by_lag.reshape(DAYS_PER_WEEK, HOURS_PER_DAY, lags)
    )


class Forecast:
    """Load and PV over a window (kWh per step): step 0 what the state reads, the rest forecast."""

    def __init__(
        self,
        kind: str,
        profiles: pd.DataFrame,
        calendar: Calendar,
        training: TrainingProfiles,
        noise_pct: float,
        seed: int,
        split: str,
        load_margin_pct: float = 0.0,
    ):
        self.kind, self.calendar, self.training = kind, calendar, training
        self.load_factor = 1.0 + load_margin_pct / PERCENT
        self.load_kwh = profiles["mall_kwh"].to_numpy(dtype=float)
        self.pv_kwh = profiles["pv_kwh"].to_numpy(dtype=float)
        self.noise, self.seed, self.split_code = noise_pct / PERCENT, seed, SPLITS.index(split)

    def _profile(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hour = self.calendar.hour[steps]
        return self.training.load_kwh[self.calendar.weekday[steps], hour], self.training.pv_kwh[hour]

    def _persistence(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same hour of the latest day already seen (yesterday for the next 24 hours)."""
        ahead = steps - steps[0]
        seen = steps - HOURS_PER_DAY * np.ceil(ahead / HOURS_PER_DAY).astype(int)
        load, pv = self._profile(steps)
        known = seen >= 0
        load[known], pv[known] = self.load_kwh[seen[known]], self.pv_kwh[seen[known]]
        return load, pv

    def _noisy(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, self.split_code, int(steps[0])))
        factor = 1.0 + self.noise * rng.standard_normal((2, len(steps)))
        return (
            np.clip(self.load_kwh[steps] * factor[0], 0.0, None),
            np.clip(self.pv_kwh[steps] * factor[1], 0.0, None),
        )

    def window(self, steps: np.ndarray, state: StationState) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "perfect":
            load, pv = self.load_kwh[steps].copy(), self.pv_kwh[steps].copy()
        elif self.kind == "noisy":
            load, pv = self._noisy(steps)
        elif self.kind == "persistence":
            load, pv = self._persistence(steps)
        else:
            load, pv = self._profile(steps)
        load *= self.load_factor
        load[0], pv[0] = state.load_kwh, state.pv_kwh
        return load, pv


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
        self.forecast = Forecast(
            settings.mpc.forecast,
            profiles,
            self.calendar,
            training,
            settings.mpc.forecast_noise_pct,
            settings.mpc.seed,
            split,
            settings.mpc.load_margin_pct,
        )
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
        load, pv = self.forecast.window(steps, state)
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
        lp = build_lp(self.window_inputs(step, state), self.options, self.objective)
        floor_peaks(lp, state)
        prefer_late_discharge(lp, self.settings.mpc.late_discharge_tiebreak_per_kwh)
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
