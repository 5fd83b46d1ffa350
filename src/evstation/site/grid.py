"""The grid behind the meter: hourly tariff and emission factor series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Emissions, Tariff


def tariff_pen_per_kwh(hours: pd.DatetimeIndex, tariff: Tariff) -> np.ndarray:
    """Energy price of each hour: the peak price inside [peak_start_hour, peak_end_hour), else off-peak."""
    hour = hours.hour.to_numpy()
    peak = (hour >= tariff.peak_start_hour) & (hour < tariff.peak_end_hour)
    return np.where(peak, tariff.peak_pen_per_kwh, tariff.offpeak_pen_per_kwh)


def emission_factor_kg_per_kwh(hours: pd.DatetimeIndex, emissions: Emissions) -> np.ndarray:
    """Grid CO2 per kWh imported, each hour (constant for the isolated thermal grid)."""
    return np.full(len(hours), emissions.grid_kg_per_kwh)
