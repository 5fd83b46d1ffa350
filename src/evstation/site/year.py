"""The station's year as plain tables: everything a dataset is written from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Settings
from . import grid, mall, session_file, sessions, solar
from .calendar import year_hours

# Each profile gets its own random stream derived from the split's seed, so changing one
# model (say the fleet) never changes the weather of the same seed.
STREAM_WEATHER, STREAM_MALL, STREAM_SESSIONS = 1, 2, 3


@dataclass(frozen=True)
class StationYear:
    hours: pd.DatetimeIndex
    weather: pd.DataFrame  # irradiance, temperature, humidity, wind
    pv: pd.DataFrame  # POA, cell temperature, DC and AC power (kW)
    mall_kwh: np.ndarray
    tariff_pen_per_kwh: np.ndarray
    emission_factor_kg_per_kwh: np.ndarray
    fleet: sessions.SessionYear


def _stream(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


def _weather_and_pv(
    settings: Settings, split: str, hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if settings.weather.source == "file":
        weather = solar.file_weather(
            hours, simulated, settings.site, settings.weather.files[split], settings.inputs.limits
        )
    else:
        weather = solar.synthetic_weather(hours, settings.site, settings.weather, _stream(seed, STREAM_WEATHER))
    return weather, solar.pv_output(weather, settings.site, settings.pv)


def _mall_kwh(
    settings: Settings, split: str, hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex, seed: int
) -> np.ndarray:
    if settings.mall.enabled and settings.mall.load_files:
        return mall.load_file_kwh(
            settings.mall.load_files[split], simulated, settings.site.utc_offset_h, settings.inputs.limits
        )
    return mall.mall_load_kwh(hours, settings.mall, _stream(seed, STREAM_MALL))


def _tariff(settings: Settings, split: str, hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex) -> np.ndarray:
    if settings.tariff.energy_price_files:
        return grid.tariff_file_pen_per_kwh(
            settings.tariff.energy_price_files[split], simulated, settings.site.utc_offset_h, settings.inputs.limits
        )
    return grid.tariff_pen_per_kwh(hours, settings.tariff)


def _emission_factor(
    settings: Settings, split: str, hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex
) -> np.ndarray:
    if settings.emissions.grid_factor_files:
        return grid.emission_factor_file_kg_per_kwh(
            settings.emissions.grid_factor_files[split], simulated, settings.site.utc_offset_h, settings.inputs.limits
        )
    return grid.emission_factor_kg_per_kwh(hours, settings.emissions)


def _fleet(
    settings: Settings, split: str, hours: pd.DatetimeIndex, simulated: pd.DatetimeIndex, seed: int
) -> sessions.SessionYear:
    if settings.fleet.sessions_files:
        return session_file.sessions_from_file(settings.fleet.sessions_files[split], simulated, settings)
    return sessions.generate_sessions(hours, settings, _stream(seed, STREAM_SESSIONS))


def build_station_year(settings: Settings, split: str) -> StationYear:
    """The weather, PV, mall load, tariff, emissions and EV sessions of one split's year.

    A modelled profile is made for the whole year and cut to the horizon (see first_hours); one read
    from a user's file covers the simulated hours only (a PVGIS typical year: the whole year), and the
    same cut leaves it as it is."""
    year, seed = settings.splits[split].year, settings.splits[split].seed
    hours = year_hours(year, settings.site.utc_offset_h)
    simulated = hours[: settings.simulation.horizon_hours]
    weather, pv = _weather_and_pv(settings, split, hours, simulated, seed)
    full_year = StationYear(
        hours=hours,
        weather=weather,
        pv=pv,
        mall_kwh=_mall_kwh(settings, split, hours, simulated, seed),
        tariff_pen_per_kwh=_tariff(settings, split, hours, simulated),
        emission_factor_kg_per_kwh=_emission_factor(settings, split, hours, simulated),
        fleet=_fleet(settings, split, hours, simulated, seed),
    )
    return first_hours(full_year, settings.simulation.horizon_hours)


def first_hours(year: StationYear, count: int) -> StationYear:
    """The year cut to its first `count` hours (whole days), sessions that end inside it kept.

    The modelled profiles are always generated whole, so the weather's calibration and the mall's annual
    scaling are those of the full year whatever the horizon. Profiles already `count` long pass unchanged."""
    if count == len(year.hours):
        return year
    days = count // 24
    fleet = year.fleet
    kept = fleet.sessions[fleet.sessions["departure_step"] <= count].reset_index(drop=True)
    return StationYear(
        hours=year.hours[:count],
        weather=year.weather.iloc[:count],
        pv=year.pv.iloc[:count],
        mall_kwh=year.mall_kwh[:count],
        tariff_pen_per_kwh=year.tariff_pen_per_kwh[:count],
        emission_factor_kg_per_kwh=year.emission_factor_kg_per_kwh[:count],
        fleet=sessions.SessionYear(
            kept, fleet.turned_away.iloc[:days], fleet.arrivals.iloc[:days], fleet.by_step.iloc[:count]
        ),
    )
