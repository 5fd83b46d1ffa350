"""The simulated year's hours, in the site's local (fixed-offset) time."""

from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd

HOURS_PER_YEAR = 8760


def year_hours(year: int, utc_offset_h: float) -> pd.DatetimeIndex:
    """The start of every hour of a non-leap `year`, local time: 8,760 stamps."""
    if calendar.isleap(year):
        raise ValueError(f"{year} is a leap year: a simulated year has {HOURS_PER_YEAR} hours")
    zone = dt.timezone(dt.timedelta(hours=utc_offset_h))
    return pd.date_range(start=pd.Timestamp(year, 1, 1), periods=HOURS_PER_YEAR, freq="h", tz=zone)


def mid_hours(hours: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The middle of each hour: where an hour's mean sun position and irradiance are best taken."""
    return hours + pd.Timedelta(minutes=30)
