"""What a station holds before it runs: the calendar of a split and the training year's means.

The training year is the past the station has recorded: its mall load by weekday and hour, its PV
by hour of day, and the EV draw by weekday and hour of vehicles that arrived some hours before
(each charged at once to its required SOC at rated power), the planner's expected arrivals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings
from ..dataset import read_dataset
from ..site.sessions import socket_sessions
from ..tariff.model import BillingTariff

TRAINING_SPLIT = "train"
DAYS_PER_WEEK, HOURS_PER_DAY = 7, 24
HOURS_PER_STEP = 1.0  # the datasets are hourly: a step's kWh is its mean kW
PERCENT = 100.0


@dataclass(frozen=True)
class Calendar:
    """A split's hours: weekday (0 Monday) and hour of day of each step, its billing month and peak hours."""

    weekday: np.ndarray
    hour: np.ndarray
    month: np.ndarray
    in_peak: np.ndarray

    @classmethod
    def of(cls, profiles: pd.DataFrame, billing: BillingTariff) -> Calendar:
        return cls.of_stamps(pd.DatetimeIndex(pd.to_datetime(profiles["timestamp"])), billing)

    @classmethod
    def of_stamps(cls, stamps: pd.DatetimeIndex, billing: BillingTariff) -> Calendar:
        month, in_peak = billing.calendar(stamps)
        return cls(stamps.weekday.to_numpy(), stamps.hour.to_numpy(), month, in_peak)


@dataclass(frozen=True)
class TrainingMeans:
    """The training year's mall load by weekday and hour and PV by hour of day: what a forecast falls
    back on before the split has shown the hours it needs."""

    load_kwh: np.ndarray  # (7, 24)
    pv_kwh: np.ndarray  # (24,)


@dataclass(frozen=True)
class TrainingProfiles(TrainingMeans):
    """The training year's means and the EV draw by weekday and hour of vehicles that arrived `lag` hours
    before: the planner's expected arrivals."""

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


def weekday_hour_cells(calendar: Calendar) -> tuple[np.ndarray, np.ndarray]:
    """Each step's weekday-hour cell (0..167) and how many steps each cell holds (at least 1)."""
    cell = calendar.weekday * HOURS_PER_DAY + calendar.hour
    return cell, np.maximum(np.bincount(cell, minlength=DAYS_PER_WEEK * HOURS_PER_DAY), 1)


def means_of(profiles: pd.DataFrame, calendar: Calendar) -> TrainingMeans:
    """A year's mall load by weekday and hour and PV by hour of day."""
    cell, hours_in_cell = weekday_hour_cells(calendar)
    load = np.bincount(cell, weights=profiles["mall_kwh"].to_numpy(), minlength=len(hours_in_cell)) / hours_in_cell
    pv = np.bincount(calendar.hour, weights=profiles["pv_kwh"].to_numpy(), minlength=HOURS_PER_DAY) / np.maximum(
        np.bincount(calendar.hour, minlength=HOURS_PER_DAY), 1
    )
    return TrainingMeans(load.reshape(DAYS_PER_WEEK, HOURS_PER_DAY), pv)


def training_profiles(settings: Settings, data_dir: Path) -> TrainingProfiles:
    dataset = read_dataset(Path(data_dir) / TRAINING_SPLIT)
    profiles = dataset.profiles
    calendar = Calendar.of(profiles, BillingTariff.from_settings(settings.tariff))
    means = means_of(profiles, calendar)
    cell, hours_in_cell = weekday_hour_cells(calendar)
    cells = len(hours_in_cell)
    table = socket_sessions(settings, dataset.sessions)
    draw, arrival = asap_draw_kwh(table, settings.sockets.efficiency_pct / PERCENT)
    lags = draw.shape[1]
    at_step = arrival[:, None] + np.arange(lags)[None, :]
    inside = at_step < len(profiles)
    by_lag = np.zeros((cells, lags))
    lag_of = np.broadcast_to(np.arange(lags), draw.shape)
    np.add.at(by_lag, (cell[at_step[inside]], lag_of[inside]), draw[inside])
    by_lag /= hours_in_cell[:, None]
    return TrainingProfiles(means.load_kwh, means.pv_kwh, by_lag.reshape(DAYS_PER_WEEK, HOURS_PER_DAY, lags))
