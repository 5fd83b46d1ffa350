"""The mall's hourly electricity use behind the station's meter.

Modelled from the measured year's shape (params `mall`): a weekday hourly profile, lower on
Sundays, a gentle seasonal swing peaking in the hot months, and seeded noise, then scaled so the
year's energy equals `annual_energy_mwh` exactly. A user may give a CSV of 8,760 hourly kWh instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Mall
from ..errors import DataError
from .calendar import HOURS_PER_YEAR

SUNDAY = 6
KWH_PER_MWH = 1000.0
LOAD_FILE_COLUMN = "mall_kwh"
HOTTEST_DAY_OF_YEAR = 15     # Iquitos is warmest around the turn of the year: the seasonal swing peaks there


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


def load_file_kwh(path: str | Path) -> np.ndarray:
    """Hourly mall energy read from a user CSV with a `mall_kwh` column of 8,760 non-negative values."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: mall.load_files: file not found")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None
    if LOAD_FILE_COLUMN not in table.columns:
        raise DataError(f"{path}: needs a column named {LOAD_FILE_COLUMN}")
    values = pd.to_numeric(table[LOAD_FILE_COLUMN], errors="coerce").to_numpy(dtype=float)
    if len(values) != HOURS_PER_YEAR:
        raise DataError(f"{path}: {LOAD_FILE_COLUMN} has {len(values)} rows, needs {HOURS_PER_YEAR}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise DataError(f"{path}: {LOAD_FILE_COLUMN} has missing, non-numeric or negative values")
    return values


def mall_load_kwh(hours: pd.DatetimeIndex, mall: Mall, seed: int, split: str) -> np.ndarray:
    """The mall's hourly kWh of one split: zero when the station stands alone."""
    if not mall.enabled:
        return np.zeros(len(hours))
    if mall.load_files:
        return load_file_kwh(mall.load_files[split])
    return modelled_load_kwh(hours, mall, seed)
