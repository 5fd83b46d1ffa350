"""The grid behind the meter: hourly tariff and emission factor series.

Either the params' rule (two prices by hour of day; one constant factor) or a user's hourly file per
split (`tariff.energy_price_files`, `emissions.grid_factor_files`; format in inputs.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Emissions, InputLimits, Tariff
from .inputs import NON_NEGATIVE, hourly_series

PRICE_KEY, PRICE_COLUMN = "tariff.energy_price_files", "tariff_pen_per_kwh"
FACTOR_KEY, FACTOR_COLUMN = "emissions.grid_factor_files", "emission_factor_kg_per_kwh"


def tariff_pen_per_kwh(hours: pd.DatetimeIndex, tariff: Tariff) -> np.ndarray:
    """Energy price of each hour: the peak price inside [peak_start_hour, peak_end_hour), else off-peak."""
    hour = hours.hour.to_numpy()
    peak = (hour >= tariff.peak_start_hour) & (hour < tariff.peak_end_hour)
    return np.where(peak, tariff.peak_pen_per_kwh, tariff.offpeak_pen_per_kwh)


def emission_factor_kg_per_kwh(hours: pd.DatetimeIndex, emissions: Emissions) -> np.ndarray:
    """Grid CO2 per kWh imported, each hour (constant for the isolated thermal grid)."""
    return np.full(len(hours), emissions.grid_kg_per_kwh)


def tariff_file_pen_per_kwh(
    path: str | Path, hours: pd.DatetimeIndex, utc_offset_h: float, limits: InputLimits
) -> np.ndarray:
    """Energy price of each simulated hour from a file (PEN/kWh, non-negative, at most
    `inputs.limits.price_pen_per_kwh_max`)."""
    hint = "is it in centimos or per MWh instead of PEN per kWh?"
    bounds = NON_NEGATIVE.limited(limits.price_pen_per_kwh_max, "price_pen_per_kwh_max", hint)
    return hourly_series(path, PRICE_KEY, PRICE_COLUMN, hours, utc_offset_h, bounds)


def emission_factor_file_kg_per_kwh(
    path: str | Path, hours: pd.DatetimeIndex, utc_offset_h: float, limits: InputLimits
) -> np.ndarray:
    """Grid CO2 per kWh imported, each simulated hour, from a file (non-negative, at most
    `inputs.limits.emission_factor_kg_per_kwh_max`)."""
    hint = "is it in g instead of kg per kWh?"
    bounds = NON_NEGATIVE.limited(limits.emission_factor_kg_per_kwh_max, "emission_factor_kg_per_kwh_max", hint)
    return hourly_series(path, FACTOR_KEY, FACTOR_COLUMN, hours, utc_offset_h, bounds)
