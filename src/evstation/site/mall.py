"""The mall's hourly electricity use behind the station's meter.

Modelled from the measured year's shape (params `mall`): a weekday hourly profile, lower on
Sundays, a gentle seasonal swing peaking in the hot months, and seeded noise, then scaled so the
year's energy equals `annual_energy_mwh` exactly. A user may give each split's hourly kWh in a
timestamped CSV instead (`mall.load_files`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import InputLimits, Mall
from .inputs import NON_NEGATIVE, hourly_series

SUNDAY = 6
KWH_PER_MWH = 1000.0
LOAD_KEY, LOAD_FILE_COLUMN = "mall.load_files", "mall_kwh"
HOTTEST_DAY_OF_YEAR = 15  # Iquitos is warmest around the turn of the year: the seasonal swing peaks there


def modelled_load_kwh(hours: pd.DatetimeIndex, mall: Mall, seed: int) -> np.ndarray:
    """Hourly mall energy (kWh per one-hour step) for the year of `hours`."""
    rng = np.random.default_rng(seed)
    profile = np.asarray(mall.weekday_profile_kw)[hours.hour.to_numpy()]
    day_factor = np.where(hours.dayofweek.to_numpy() == SUNDAY, mall.sunday_factor, 1.0)
    day_of_year = hours.dayofyear.to_numpy()
    season = 1 + mall.seasonal_amplitude_pct / 100 * np.cos(2 * np.pi * (day_of_year - HOTTEST_DAY_OF_YEAR) / 365)
    noise = np.clip(rng.normal(1.0, mall.noise_pct / 100, size=len(hours)), 0.0, None)
    shaped = profile * day_factor * season * noise
    return shaped * (mall.annual_energy_mwh * KWH_PER_MWH / shaped.sum())


def load_file_kwh(path: str | Path, hours: pd.DatetimeIndex, utc_offset_h: float, limits: InputLimits) -> np.ndarray:
    """The site's hourly load of the simulated `hours` from a user's timestamped CSV (`mall_kwh`, kWh
    per hour, non-negative, at most `inputs.limits.load_kwh_max`; format in inputs.py)."""
    bounds = NON_NEGATIVE.limited(limits.load_kwh_max, "load_kwh_max", "is it in W instead of kWh?")
    return hourly_series(path, LOAD_KEY, LOAD_FILE_COLUMN, hours, utc_offset_h, bounds)


def mall_load_kwh(hours: pd.DatetimeIndex, mall: Mall, seed: int) -> np.ndarray:
    """The mall's modelled hourly kWh over `hours`: zero when the station stands alone."""
    if not mall.enabled:
        return np.zeros(len(hours))
    return modelled_load_kwh(hours, mall, seed)
