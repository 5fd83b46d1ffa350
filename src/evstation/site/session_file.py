"""EV sessions read from a user's file instead of the fleet model (`fleet.sessions_files`).

One row per visit: `arrival` and `departure` (timestamps, see inputs.py), `kind` (moto | mototaxi),
`required_soc_pct`, and either `arrival_soc_pct` or `energy_requested_kwh` (the energy the battery
must gain; the arrival SOC is then the required SOC less that energy over the kind's battery).

Times are rounded to the nearest hour step (half past rounds up); a visit shorter than one step after
rounding keeps one step (sessions are at least one step long). Visits are met in order of their exact
arrival time by the same socket rule as the model's (`sessions.SocketPool`): one that finds every
socket of its kind busy is counted as turned away. A visit that needs more energy than its socket's
rated power delivers in its rounded stay is refused with a line naming it: the file must be fixed,
never silently changed. Visits that arrive or leave after the simulated horizon are left out of it.
SOCs are percentages (0-100): a column whose every SOC is at most 1 is refused as fractions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import VEHICLE_KINDS, Settings
from ..errors import DataError
from .inputs import NON_NEGATIVE, PERCENT, check_year, line_of, numbers, read_table, timestamps
from .sessions import SessionYear, SocketPool, empty_by_step, number_sessions, step_columns

KEY = "fleet.sessions_files"
ARRIVAL, DEPARTURE, KIND = "arrival", "departure", "kind"
REQUIRED_SOC, ARRIVAL_SOC, ENERGY = "required_soc_pct", "arrival_soc_pct", "energy_requested_kwh"
STEP = pd.Timedelta(hours=1)
FEASIBILITY_TOLERANCE_KWH = 1e-9  # float error in (SOC difference x battery) is no shortfall (as in validate)


def _steps(stamps: pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    """Each time's nearest hour step from the year's start (half past rounds up)."""
    return np.floor((stamps - start) / STEP + 0.5).astype(int)


def _kinds(table: pd.DataFrame, path: Path) -> np.ndarray:
    kinds = table[KIND].str.strip().to_numpy()
    unknown = ~np.isin(kinds, VEHICLE_KINDS)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"{path}: column {KIND}: line {line_of(row)}: {kinds[row]!r} is not a vehicle kind "
            f"({' | '.join(VEHICLE_KINDS)})"
        )
    return kinds


def soc_pct(table: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A SOC column in percent (0-100). A column whose every value is at most 1 (some above 0: a file of
    empty batteries is no fraction) holds fractions, 0.31 for 31 %: refused rather than read as 0.31 %."""
    values = numbers(table, column, path, PERCENT)
    if 0 < values.max() <= 1:
        raise DataError(
            f"{path}: column {column}: line {line_of(0)}: {values[0]:g}, and every SOC of the column is at most 1: "
            "it looks like a fraction (0.31 for 31 %); give the SOC in percent, 0-100"
        )
    return values


def _energy_column(table: pd.DataFrame, path: Path) -> str:
    given = [name for name in (ARRIVAL_SOC, ENERGY) if name in table.columns]
    if len(given) != 1:
        raise DataError(
            f"{path}: column {ARRIVAL_SOC}: give either {ARRIVAL_SOC} or {ENERGY}, "
            f"{'not both' if given else 'neither is there'}"
        )
    return given[0]


def _arrival_soc_pct(
    table: pd.DataFrame, kinds: np.ndarray, required: np.ndarray, path: Path, settings: Settings
) -> tuple[np.ndarray, str]:
    """The SOC at plug-in of each row, and the column it came from (named in errors about the energy)."""
    column = _energy_column(table, path)
    battery_kwh = np.array([settings.vehicles.kind(kind).battery_kwh for kind in kinds])
    if column == ARRIVAL_SOC:
        arrival = soc_pct(table, ARRIVAL_SOC, path)
    else:
        arrival = required - numbers(table, ENERGY, path, NON_NEGATIVE) / battery_kwh * 100
        too_much = arrival < 0
        if too_much.any():
            row = int(np.flatnonzero(too_much)[0])
            raise DataError(
                f"{path}: column {ENERGY}: line {line_of(row)}: {table[ENERGY].iloc[row].strip()} kWh does not fit "
                f"a {battery_kwh[row]:g} kWh {kinds[row]} battery below its required {required[row]:g} %"
            )
    none_needed = arrival >= required
    if none_needed.any():
        row = int(np.flatnonzero(none_needed)[0])
        raise DataError(
            f"{path}: column {column}: line {line_of(row)}: the vehicle needs no energy "
            f"(arrival SOC {arrival[row]:g} % is not below {REQUIRED_SOC} {required[row]:g} %)"
        )
    return arrival, column


def _check_order(arrival: pd.DatetimeIndex, departure: pd.DatetimeIndex, path: Path) -> None:
    early = departure <= arrival
    if early.any():
        row = int(np.flatnonzero(early)[0])
        raise DataError(
            f"{path}: column {DEPARTURE}: line {line_of(row)}: {departure[row]:%Y-%m-%d %H:%M} "
            f"is not after the arrival {arrival[row]:%Y-%m-%d %H:%M}"
        )


def _check_feasible(visits: pd.DataFrame, column: str, path: Path) -> None:
    """Every visit can get its energy at rated power within its rounded stay."""
    short = visits["energy_required_kwh"] > visits["deliverable_kwh"] + FEASIBILITY_TOLERANCE_KWH
    if short.any():
        row = visits[short].iloc[0]
        raise DataError(
            f"{path}: column {column}: line {line_of(int(row['row']))}: needs {row['energy_required_kwh']:.2f} kWh, "
            f"a {row['kind']} socket delivers {row['deliverable_kwh']:.2f} kWh in its {int(row['stay_steps'])}-hour "
            "stay (times rounded to the hour): lengthen the stay or lower the requirement"
        )


def read_visits(path: str | Path, hours: pd.DatetimeIndex, settings: Settings) -> pd.DataFrame:
    """Every row of the file checked and put on hour steps, in arrival order (file order breaks ties)."""
    path = Path(path)
    table = read_table(path, KEY, [ARRIVAL, DEPARTURE, KIND, REQUIRED_SOC])
    offset = settings.site.utc_offset_h
    arrival, departure = (timestamps(table, name, path, offset) for name in (ARRIVAL, DEPARTURE))
    check_year(arrival, hours, ARRIVAL, path)
    _check_order(arrival, departure, path)
    kinds = _kinds(table, path)
    required = soc_pct(table, REQUIRED_SOC, path)
    arrival_soc, column = _arrival_soc_pct(table, kinds, required, path, settings)
    battery_kwh = np.array([settings.vehicles.kind(kind).battery_kwh for kind in kinds])
    per_step_kwh = (
        np.array([settings.sockets.group(kind).power_kw for kind in kinds]) * settings.sockets.efficiency_pct / 100
    )
    arrival_step = _steps(arrival, hours[0])
    stay = np.maximum(_steps(departure, hours[0]) - arrival_step, 1)
    visits = pd.DataFrame(
        {
            "row": np.arange(len(table)),
            "time": arrival,
            "kind": kinds,
            "arrival_step": arrival_step,
            "departure_step": arrival_step + stay,
            "stay_steps": stay,
            "battery_kwh": battery_kwh,
            "arrival_soc_pct": arrival_soc,
            "required_soc_pct": required,
            "energy_required_kwh": (required - arrival_soc) / 100 * battery_kwh,
            "deliverable_kwh": per_step_kwh * stay,
            "per_step_kwh": per_step_kwh,
        }
    )
    _check_feasible(visits, column, path)
    return visits.sort_values(["time", "row"], kind="stable").reset_index(drop=True)


def _session(visit, socket: int, charger: str) -> dict:
    min_steps = max(1, math.ceil(visit.energy_required_kwh / visit.per_step_kwh - 1e-9))
    return {
        "kind": visit.kind,
        "socket": socket,
        "charger_id": charger,
        "arrival_step": int(visit.arrival_step),
        "departure_step": int(visit.departure_step),
        "stay_steps": int(visit.stay_steps),
        "battery_kwh": visit.battery_kwh,
        "arrival_soc_pct": visit.arrival_soc_pct,
        "required_soc_pct": visit.required_soc_pct,
        "energy_required_kwh": visit.energy_required_kwh,
        "min_steps": min_steps,
    }


def sessions_from_file(path: str | Path, hours: pd.DatetimeIndex, settings: Settings) -> SessionYear:
    """The sessions of the simulated `hours` (whole days) from a file, sockets assigned as the model does."""
    visits = read_visits(path, hours, settings)
    visits = visits[visits["departure_step"] <= len(hours)]
    pool = SocketPool(settings)
    days = len(hours) // 24
    arrived = {kind: np.zeros(days, dtype=int) for kind in VEHICLE_KINDS}
    refused = {kind: np.zeros(days, dtype=int) for kind in VEHICLE_KINDS}
    by_step = empty_by_step(len(hours))
    rows = []
    for visit in visits.itertuples(index=False):
        step = int(visit.arrival_step)
        arrivals_column, turned_column, energy_column = step_columns(visit.kind)
        arrived[visit.kind][step // 24] += 1
        by_step[arrivals_column][step] += 1
        socket = pool.take(visit.kind, step)
        if socket is None:
            refused[visit.kind][step // 24] += 1
            by_step[turned_column][step] += 1
            by_step[energy_column][step] += visit.energy_required_kwh  # the file says what it wanted
            continue
        pool.hold(socket, int(visit.departure_step))
        rows.append(_session(visit, socket, pool.ids[socket]))
    day_index = {"day": np.arange(days)}
    return SessionYear(
        number_sessions(rows, len(hours)),
        pd.DataFrame({**day_index, **refused}),
        pd.DataFrame({**day_index, **arrived}),
        pd.DataFrame(by_step),
    )
