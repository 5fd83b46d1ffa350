"""The station's year as plain tables: everything a dataset is written from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Settings
from . import grid, mall, sessions, solar
from .calendar import year_hours

# Each profile gets its own random stream derived from the split's seed, so changing one
# model (say the fleet) never changes the weather of the same seed.
STREAM_WEATHER, STREAM_MALL, STREAM_SESSIONS = 1, 2, 3


@dataclass(frozen=True)
class StationYear:
    hours: pd.DatetimeIndex
    weather: pd.DataFrame           # irradiance, temperature, humidity, wind
    pv: pd.DataFrame                # POA, cell temperature, DC and AC power (kW)
    mall_kwh: np.ndarray
    tariff_pen_per_kwh: np.ndarray
    emission_factor_kg_per_kwh: np.ndarray
    fleet: sessions.SessionYear


def _stream(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def build_station_year(settings: Settings, split: str) -> StationYear:
    """The weather, PV, mall load, tariff, emissions and EV sessions of one split's year."""
    year, seed = settings.splits[split].year, settings.splits[split].seed
    hours = year_hours(year, settings.site.utc_offset_h)
    if settings.weather.source == "file":
        weather = solar.tmy_weather(hours, settings.site, settings.weather.files[split])
    else:
        weather = solar.synthetic_weather(hours, settings.site, settings.weather, _stream(seed, STREAM_WEATHER))
    full_year = StationYear(
        hours=hours,
        weather=weather,
        pv=solar.pv_output(weather, settings.site, settings.pv),
        mall_kwh=mall.mall_load_kwh(hours, settings.mall, _stream(seed, STREAM_MALL), split),
        tariff_pen_per_kwh=grid.tariff_pen_per_kwh(hours, settings.tariff),
        emission_factor_kg_per_kwh=grid.emission_factor_kg_per_kwh(hours, settings.emissions),
        fleet=sessions.generate_sessions(hours, settings, _stream(seed, STREAM_SESSIONS)),
    )
    return first_hours(full_year, settings.simulation.horizon_hours)


def first_hours(year: StationYear, count: int) -> StationYear:
    """The year cut to its first `count` hours (whole days), sessions that end inside it kept.

    The year is always generated whole, so the weather's calibration and the mall's annual scaling
    are those of the full year whatever the horizon."""
    if count == len(year.hours):
        return year
    days = count // 24
    fleet = year.fleet
    kept = fleet.sessions[fleet.sessions["departure_step"] <= count].reset_index(drop=True)
    return StationYear(
        hours=year.hours[:count], weather=year.weather.iloc[:count], pv=year.pv.iloc[:count],
        mall_kwh=year.mall_kwh[:count], tariff_pen_per_kwh=year.tariff_pen_per_kwh[:count],
        emission_factor_kg_per_kwh=year.emission_factor_kg_per_kwh[:count],
        fleet=sessions.SessionYear(kept, fleet.turned_away.iloc[:days], fleet.arrivals.iloc[:days]),
    )
