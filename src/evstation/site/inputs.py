"""Reading a user's input CSVs: one file per split, each checked before any of its values is used.

Every problem is a DataError of one line that names the file, the column (or the params key when the
file itself is missing) and what is wrong, with the line of the file where it applies (the header is
line 1). Timestamps are ISO 8601 (`2023-01-01 18:00`, `2023-01-01T18:00-05:00`, `...Z`): without an
offset they are the site's local time (`site.utc_offset_h`), with one they are converted to it; a file
uses one form or the other throughout.

An hourly series (load, prices, emission factors, weather) starts at 1 January 00:00 of its split's
year and runs hour by hour without gaps for at least the simulated horizon (`simulation.horizon_hours`)
and at most the whole year; each row is the hour that starts at its timestamp. Rows past the horizon
are checked like the others but not used.

Besides its physical range (no negative energy, humidity within 0-100 %) a column may have a plausibility
limit from params (`inputs.limits`): a value above it is refused naming that key, since it is far more
likely a unit slip (a load in W, a price in centimos) than the site's.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .calendar import HOURS_PER_YEAR

TIMESTAMP = "timestamp"
LIMITS_KEY = "inputs.limits"
HEADER_LINES = 1  # a data row's line in the file is its index + 1 + HEADER_LINES
# a UTC offset after the time of day (a bare date's "-01" is no offset)
OFFSET = re.compile(r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$")


@dataclass(frozen=True)
class Bounds:
    """The range of a column's values (None: unbounded on that side): physical, or with `high` a
    plausibility limit of params (`limit_key`), refused with a `hint` at the likely unit slip."""

    low: float | None = 0.0
    high: float | None = None
    limit_key: str | None = None
    hint: str = ""

    def limited(self, high: float, name: str, hint: str = "") -> Bounds:
        """These bounds capped at the plausibility limit `inputs.limits.<name>`, whose value is `high`."""
        return replace(self, high=high, limit_key=f"{LIMITS_KEY}.{name}", hint=hint)


NON_NEGATIVE = Bounds(0.0, None)
ANY_FINITE = Bounds(None, None)
PERCENT = Bounds(0.0, 100.0)


def line_of(row: int) -> int:
    """The file line of a table row (0-based), for error messages a user can open the file at."""
    return row + 1 + HEADER_LINES


def require_file(path: str | Path, key: str) -> Path:
    """`path` as a Path, refused in one line (naming the params `key`) unless it is a file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: {key}: is a folder, not a file (name the CSV inside it)")
    if not path.is_file():
        raise DataError(f"{path}: {key}: file not found")
    return path


def header(path: Path) -> list[str]:
    """The names of a CSV's first line, spaces around each stripped; a name given twice is refused
    (a reader would silently take one of the two)."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as stream:  # a spreadsheet's BOM
        names = [name.strip() for name in next(csv.reader(stream), [])]
    seen = set()
    for name in names:
        if name in seen and name:
            raise DataError(f"{path}: column {name}: line 1: named twice in the header; keep one of the two")
        seen.add(name)
    return names


def read_table(path: str | Path, key: str, columns: list[str]) -> pd.DataFrame:
    """A CSV with at least `columns`, every cell read as text (typed by the checks that follow). Spaces
    around a column's name are dropped; a name given twice is refused."""
    path = require_file(path, key)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: {key}: not a readable CSV ({str(error).splitlines()[0]})") from None
    header(path)
    table.columns = [str(name).strip() for name in table.columns]
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise DataError(f"{path}: column {missing[0]}: missing (the file's columns: {', '.join(table.columns)})")
    if table.empty:
        raise DataError(f"{path}: {key}: no rows")
    return table


def numbers(table: pd.DataFrame, column: str, path: str | Path, bounds: Bounds = NON_NEGATIVE) -> np.ndarray:
    """A column as floats: every cell a finite number within `bounds`, else one line naming the first bad cell."""
    text = table[column].str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = f"{text.iloc[row]!r} is not a number" if text.iloc[row] else "missing value"
        raise DataError(f"{path}: column {column}: line {line_of(row)}: {what}")
    if bounds.low is not None:
        _within(values, values < bounds.low, f"below {bounds.low:g}", column, path)
    if bounds.high is not None:
        what = f"above {bounds.high:g}"
        if bounds.limit_key:
            what += f", the limit {bounds.limit_key}" + (f" ({bounds.hint})" if bounds.hint else "")
        _within(values, values > bounds.high, what, column, path)
    return values


def _within(values: np.ndarray, outside: np.ndarray, what: str, column: str, path: str | Path) -> None:
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(f"{path}: column {column}: line {line_of(row)}: {values[row]:g} is {what}")


def timestamps(table: pd.DataFrame, column: str, path: str | Path, utc_offset_h: float) -> pd.DatetimeIndex:
    """A column of ISO 8601 timestamps in the site's local time (fixed offset, as the simulated year)."""
    text = table[column].str.strip()
    with_offset = text.str.contains(OFFSET)
    if with_offset.any() and not with_offset.all():
        row = int(np.flatnonzero((with_offset != with_offset.iloc[0]).to_numpy())[0])
        raise DataError(
            f"{path}: column {column}: line {line_of(row)}: {text.iloc[row]!r} mixes timestamps "
            "with and without a UTC offset"
        )
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=bool(with_offset.all()))
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = f"{text.iloc[row]!r} is not an ISO 8601 timestamp" if text.iloc[row] else "missing timestamp"
        raise DataError(f"{path}: column {column}: line {line_of(row)}: {what}")
    zone = dt.timezone(dt.timedelta(hours=utc_offset_h))
    stamps = pd.DatetimeIndex(parsed)
    return stamps.tz_convert(zone) if stamps.tz is not None else stamps.tz_localize(zone)


def check_year(stamps: pd.DatetimeIndex, hours: pd.DatetimeIndex, column: str, path: str | Path) -> None:
    """Every timestamp inside the split's year (the simulated `hours` start on its 1 January)."""
    year = hours[0].year
    outside = np.asarray(stamps.year != year)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{path}: column {column}: line {line_of(row)}: {stamps[row]:%Y-%m-%d %H:%M} "
            f"is not in {year}, this split's year (splits.<split>.year)"
        )


def check_hourly(stamps: pd.DatetimeIndex, hours: pd.DatetimeIndex, column: str, path: str | Path) -> None:
    """Row i is the hour that starts i hours after 1 January 00:00, for at least the horizon's hours.
    A missing or misplaced hour is named by its line before the rows are counted (a year's file with one
    hour missing is one row short: the line says which)."""
    if len(stamps) > HOURS_PER_YEAR:
        raise DataError(
            f"{path}: column {column}: {len(stamps)} rows, a file holds at most {HOURS_PER_YEAR} (one year)"
        )
    check_year(stamps, hours, column, path)
    expected = pd.date_range(hours[0], periods=len(stamps), freq="h")
    wrong = np.asarray(stamps != expected)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        if stamps[row].minute or stamps[row].second:
            what = "is not on the hour"
        elif stamps[row] > expected[row]:
            what = f"expected {expected[row]:%Y-%m-%d %H:%M}, which is missing"
        else:
            what = f"expected {expected[row]:%Y-%m-%d %H:%M}"
        raise DataError(
            f"{path}: column {column}: line {line_of(row)}: {stamps[row]:%Y-%m-%d %H:%M} {what} "
            "(hourly rows from 1 January 00:00, in order, without gaps)"
        )
    if len(stamps) < len(hours):
        raise DataError(
            f"{path}: column {column}: {len(stamps)} rows, needs at least {len(hours)} (simulation.horizon_hours) "
            f"and at most {HOURS_PER_YEAR} (one year): the last, line {line_of(len(stamps) - 1)}, is "
            f"{stamps[-1]:%Y-%m-%d %H:%M}"
        )


def hourly_table(
    path: str | Path, key: str, columns: dict[str, Bounds], hours: pd.DatetimeIndex, utc_offset_h: float
) -> pd.DataFrame:
    """The first len(hours) rows of an hourly file: `columns` as floats, indexed by the simulated hours."""
    table = read_table(path, key, [TIMESTAMP, *columns])
    check_hourly(timestamps(table, TIMESTAMP, path, utc_offset_h), hours, TIMESTAMP, path)
    values = {name: numbers(table, name, path, bounds)[: len(hours)] for name, bounds in columns.items()}
    return pd.DataFrame(values, index=hours)


def hourly_series(
    path: str | Path, key: str, column: str, hours: pd.DatetimeIndex, utc_offset_h: float, bounds: Bounds = NON_NEGATIVE
) -> np.ndarray:
    """One hourly column of a file (kWh, PEN/kWh, kg/kWh, ...) for the simulated hours."""
    return hourly_table(path, key, {column: bounds}, hours, utc_offset_h)[column].to_numpy()
