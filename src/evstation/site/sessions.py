"""EV charging sessions for the station's sockets over one year.

Each day, each vehicle kind gets a volume of arrivals (params `fleet`: the design fleet, varied
day to day and lower on Sundays), spread over opening hours with a larger share in the evening
peak and drawn hour by hour from a Poisson law. An arrival takes the socket of its kind that has
been free longest; when every socket of its kind is busy it is turned away and counted (`SocketPool`,
which sessions read from a user's file go through too: see session_file.py), hour by hour with the
energy it would have wanted (`by_step`): what a planner sizing the station reads first.

A session lasts the whole steps its energy needs at the socket's rated power, plus a random
slack (the room a controller can use to shift charging), ending at closing time at the latest but
never shorter than what it needs: every session is feasible by construction, and `validate`
checks it again on the written dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import VEHICLE_KINDS, Settings
from ..errors import DataError

SESSION_COLUMNS = [
    "session_id",
    "kind",
    "socket",
    "charger_id",
    "arrival_step",
    "departure_step",
    "stay_steps",
    "battery_kwh",
    "arrival_soc_pct",
    "required_soc_pct",
    "energy_required_kwh",
    "min_steps",
]


@dataclass(frozen=True)
class SessionYear:
    sessions: pd.DataFrame  # one row per served session, SESSION_COLUMNS
    turned_away: pd.DataFrame  # arrivals per day and kind that found no free socket
    arrivals: pd.DataFrame  # all arrivals per day and kind
    by_step: pd.DataFrame  # per step: arrivals, turned away and the energy those wanted, per kind (step_columns)


def step_columns(kind: str) -> tuple[str, str, str]:
    """`by_step`'s columns of one kind: its arrivals, its turned-away arrivals, and the energy (kWh) the
    turned-away ones would have wanted."""
    return f"arrivals_{kind}", f"turned_away_{kind}", f"turned_away_energy_kwh_{kind}"


def empty_by_step(steps: int) -> dict[str, np.ndarray]:
    """`by_step`'s columns, zero, as arrays to count into."""
    return {
        column: np.zeros(steps, dtype=float if "energy" in column else int)
        for kind in VEHICLE_KINDS
        for column in step_columns(kind)
    }


def expected_energy_kwh(settings: Settings, kind: str) -> float:
    """The energy an arrival of `kind` wants on average: its SOC at arrival is drawn uniformly around
    the kind's mean, so the mean SOC gives the mean energy. A turned-away arrival draws no SOC (drawing
    one would change every later session of the seed): it is counted at this mean."""
    vehicle = settings.vehicles.kind(kind)
    return (vehicle.required_soc_pct - vehicle.arrival_soc_pct) / 100 * vehicle.battery_kwh


def charger_ids(settings: Settings) -> list[str]:
    """Socket names in action order: every moto socket, then every mototaxi socket."""
    return [f"{kind}_{index:03d}" for kind in VEHICLE_KINDS for index in range(settings.sockets.group(kind).count)]


def socket_kinds(settings: Settings) -> list[str]:
    return [kind for kind in VEHICLE_KINDS for _ in range(settings.sockets.group(kind).count)]


def hourly_arrival_weights(settings: Settings) -> np.ndarray:
    """Share of a day's arrivals in each hour: opening hours only, the evening peak weighted."""
    hours = settings.opening_hours
    weights = np.zeros(24)
    open_hours = np.arange(hours.open_hour, hours.close_hour)
    peak = (open_hours >= hours.evening_peak_start_hour) & (open_hours < hours.evening_peak_end_hour)
    share = settings.fleet.evening_peak_share_pct / 100
    if peak.all() or not peak.any():
        weights[open_hours] = 1 / len(open_hours)
        return weights
    weights[open_hours[peak]] = share / peak.sum()
    weights[open_hours[~peak]] = (1 - share) / (~peak).sum()
    return weights


def _daily_volumes(days: pd.DatetimeIndex, settings: Settings, rng: np.random.Generator) -> dict[str, np.ndarray]:
    fleet = settings.fleet
    sunday = np.where(days.dayofweek == 6, fleet.sunday_volume_factor, 1.0)
    volumes = {}
    for kind in VEHICLE_KINDS:
        spread = np.clip(rng.normal(1.0, fleet.daily_volume_spread_pct / 100, size=len(days)), 0.0, None)
        volumes[kind] = fleet.daily_arrivals[kind] * sunday * spread
    return volumes


class SocketPool:
    """The station's sockets as arrivals meet them: an arrival takes the socket of its kind that has
    been free longest, or is turned away when every socket of its kind is still busy. The model and a
    user's session file go through this one rule, so both count turned-away arrivals alike."""

    def __init__(self, settings: Settings):
        kinds = socket_kinds(settings)
        self.ids = charger_ids(settings)
        self._of_kind = {
            kind: np.array([i for i, k in enumerate(kinds) if k == kind], dtype=int) for kind in VEHICLE_KINDS
        }
        self._free_from_step = np.zeros(len(kinds), dtype=int)

    def take(self, kind: str, step: int) -> int | None:
        """The socket an arrival of `kind` at `step` plugs into, or None when it is turned away."""
        candidates = self._of_kind[kind]
        if len(candidates) == 0:
            return None
        socket = int(candidates[np.argmin(self._free_from_step[candidates])])
        return None if self._free_from_step[socket] > step else socket

    def hold(self, socket: int, until_step: int) -> None:
        """The socket is busy until `until_step` (the session's departure)."""
        self._free_from_step[socket] = until_step


def number_sessions(rows: list[dict], steps: int) -> pd.DataFrame:
    """The served sessions as a table, numbered in arrival order; those still plugged in at the end
    of the year are left out (they cannot be simulated)."""
    sessions = pd.DataFrame(rows, columns=SESSION_COLUMNS[1:])
    sessions.insert(0, "session_id", np.arange(len(sessions)))
    return sessions[sessions["departure_step"] <= steps].reset_index(drop=True)


def generate_sessions(hours: pd.DatetimeIndex, settings: Settings, seed: int) -> SessionYear:
    """The year's sessions, socket by socket, with turned-away arrivals counted per day and per step."""
    rng = np.random.default_rng(seed)
    days = hours[::24]
    weights = hourly_arrival_weights(settings)
    volumes = _daily_volumes(days, settings, rng)
    pool = SocketPool(settings)
    rows, turned, arrived = [], [], []
    by_step = empty_by_step(len(hours))
    close_hour = settings.opening_hours.close_hour
    for day_index in range(len(days)):
        day_start = day_index * 24
        counts = {kind: rng.poisson(volumes[kind][day_index] * weights) for kind in VEHICLE_KINDS}
        refused = dict.fromkeys(VEHICLE_KINDS, 0)
        for hour in np.flatnonzero(weights):
            step = day_start + int(hour)
            for kind in VEHICLE_KINDS:
                arrivals_column, turned_column, _ = step_columns(kind)
                by_step[arrivals_column][step] = counts[kind][hour]
                for _ in range(int(counts[kind][hour])):
                    socket = pool.take(kind, step)
                    if socket is None:
                        refused[kind] += 1
                        by_step[turned_column][step] += 1
                        continue
                    row = _new_session(kind, socket, pool.ids[socket], step, day_start + close_hour, settings, rng)
                    pool.hold(socket, row["departure_step"])
                    rows.append(row)
        turned.append({"day": day_index, **refused})
        arrived.append({"day": day_index, **{kind: int(counts[kind].sum()) for kind in VEHICLE_KINDS}})
    for kind in VEHICLE_KINDS:
        _, turned_column, energy_column = step_columns(kind)
        by_step[energy_column] = by_step[turned_column] * expected_energy_kwh(settings, kind)
    return SessionYear(
        number_sessions(rows, len(hours)), pd.DataFrame(turned), pd.DataFrame(arrived), pd.DataFrame(by_step)
    )


def _new_session(
    kind: str, socket: int, charger: str, step: int, closing_step: int, settings: Settings, rng: np.random.Generator
) -> dict:
    vehicle, group = settings.vehicles.kind(kind), settings.sockets.group(kind)
    arrival_soc = vehicle.arrival_soc_pct + rng.uniform(-1, 1) * vehicle.arrival_soc_spread_pct
    energy_kwh = (vehicle.required_soc_pct - arrival_soc) / 100 * vehicle.battery_kwh
    delivered_per_step_kwh = group.power_kw * settings.sockets.efficiency_pct / 100
    min_steps = max(1, math.ceil(energy_kwh / delivered_per_step_kwh - 1e-9))
    slack = int(rng.integers(settings.fleet.stay_slack_steps_min, settings.fleet.stay_slack_steps_max + 1))
    stay = max(min_steps, min(min_steps + slack, closing_step - step))
    return {
        "kind": kind,
        "socket": socket,
        "charger_id": charger,
        "arrival_step": step,
        "departure_step": step + stay,
        "stay_steps": stay,
        "battery_kwh": vehicle.battery_kwh,
        "arrival_soc_pct": arrival_soc,
        "required_soc_pct": vehicle.required_soc_pct,
        "energy_required_kwh": energy_kwh,
        "min_steps": min_steps,
    }


def socket_sessions(settings: Settings, sessions: pd.DataFrame) -> pd.DataFrame:
    """A split's sessions (its sessions.csv) on the sockets in action order: each with its socket's index
    and rated power, its battery and its arrival and required SOC (departure_step exclusive)."""
    ids, kinds = charger_ids(settings), socket_kinds(settings)
    index_of = {charger: index for index, charger in enumerate(ids)}
    unknown = sorted(set(sessions["charger_id"]) - set(index_of))
    if unknown:
        raise DataError(f"sessions.csv: sockets {', '.join(unknown[:3])} are not in params.yaml's sockets")
    power_of = np.array([settings.sockets.group(kind).power_kw for kind in kinds])
    socket_index = sessions["charger_id"].map(index_of).to_numpy(dtype=int)
    return pd.DataFrame(
        {
            "socket_index": socket_index,
            "arrival_step": sessions["arrival_step"].to_numpy(dtype=int),
            "departure_step": sessions["departure_step"].to_numpy(dtype=int),
            "power_kw": power_of[socket_index],
            "battery_kwh": sessions["battery_kwh"].to_numpy(dtype=float),
            "arrival_soc_pct": sessions["arrival_soc_pct"].to_numpy(dtype=float),
            "required_soc_pct": sessions["required_soc_pct"].to_numpy(dtype=float),
        }
    )
