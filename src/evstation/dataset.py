"""Writing the station's year as a CityLearn 3.0.2 dataset, and reading it back.

One split = one folder: `schema.json` with the CSVs CityLearn reads (`building.csv`,
`weather.csv`, `pricing.csv`, `carbon_intensity.csv`, one `charger_<id>.csv` per socket), plus
the project's own plain tables (`profiles.csv`, `sessions.csv`, `arrivals.csv`) and `summary.json`.

CityLearn facts this relies on (checked against its source):
- `solar_generation` is W of AC per kW of PV; output = nominal_power * value / 1000.
- every battery attribute left out (efficiency and capacity-power curves, standby and capacity
  losses) is drawn at random, so all are written; a flat `power_efficiency_curve` keeps the
  round-trip efficiency constant, a flat `capacity_power_curve` keeps full power at any SOC.
- a charger's `max_discharging_power` defaults to 50 kW: written as 0 (no vehicle-to-grid).
- charger rows: state 1 plugged in, 2 incoming, 3 none; departure time counts the steps left
  including the current one; SOCs are fractions; the SOC at plug-in is `electric_vehicle_current_soc`.
- with `terminal_observation_padding` and the end step at the row count, all 8,760 hours are controlled.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .build_params import build_parameters
from .config import SPLITS, VEHICLE_KINDS, Settings, value_differences
from .errors import DataError
from .files import (
    crash_point,
    remove_leftovers_beside,
    staging_folder,
    swap_in_folder,
    temporary_json_beside,
    write_json_atomically,
)
from .files import read_json as read_json_file
from .site.sessions import SESSION_COLUMNS, charger_ids, socket_kinds

if TYPE_CHECKING:
    from .site.year import StationYear

# Every stage reads datasets, one builds them: the builder's modules (pvlib, a third of a second to
# import) are imported where a year is built, not by every reader.

BUILDING_NAME = "station"
STATE_PLUGGED, STATE_INCOMING, STATE_NONE = 1, 2, 3
FORECAST_STEPS = (1, 2, 3)
INDOOR_TEMPERATURE_C = 24.0  # CityLearn requires the column; no thermal model is used
SECONDS_PER_STEP = 3600
BUILDING_OBSERVATIONS = [
    "month",
    "day_type",
    "hour",
    "non_shiftable_load",
    "solar_generation",
    "net_electricity_consumption",
    "electrical_storage_soc",
    "electricity_pricing",
    "electricity_pricing_predicted_1",
    "electricity_pricing_predicted_2",
    "electricity_pricing_predicted_3",
    "carbon_intensity",
]
CHARGER_OBSERVATIONS = [
    "electric_vehicle_charger_connected_state",
    "connected_electric_vehicle_at_charger_departure_time",
    "connected_electric_vehicle_at_charger_required_soc_departure",
    "connected_electric_vehicle_at_charger_soc",
    "connected_electric_vehicle_at_charger_battery_capacity",
    "electric_vehicle_charger_incoming_state",
    "incoming_electric_vehicle_at_charger_estimated_arrival_time",
    "incoming_electric_vehicle_at_charger_estimated_soc_arrival",
]
SCHEMA_FILE, PROFILES_FILE, SESSIONS_FILE, ARRIVALS_FILE, SUMMARY_FILE = (
    "schema.json",
    "profiles.csv",
    "sessions.csv",
    "arrivals.csv",
    "summary.json",
)
BUILD_ID = "build_id"  # in each split's summary: the splits of one build carry the same id
# Beside the splits: the values of BUILD_KEYS the build read, with its build id. Every command that
# reads a dataset compares them with its own params (check_built_from).
PARAMETERS_FILE = "parameters.json"


def vehicle_id(charger: str) -> str:
    """The one vehicle entry that stands for every visitor of a socket (its SOC resets at each plug-in)."""
    return f"ev_{charger}"


def session_label(session_id: int) -> str:
    """A session id CityLearn reads as text: it tells back-to-back visitors of a socket apart only
    when the id is a string (a bare number is read as a float and the new arrival goes unnoticed)."""
    return f"s{int(session_id)}"


def charger_file(charger: str) -> str:
    return f"charger_{charger}.csv"


def _flat_curve(value: float) -> list[list[float]]:
    return [[0.0, value], [1.0, value]]


# ---------------------------------------------------------------- time series CSVs


def _forecasts(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """The value and its perfect forecasts 1..3 steps ahead (wrapping at the year's end)."""
    columns = {name: values}
    for ahead in FORECAST_STEPS:
        columns[f"{name}_predicted_{ahead}"] = np.roll(values, -ahead)
    return columns


def building_table(year: StationYear, settings: Settings) -> pd.DataFrame:
    from .site.solar import W_PER_KW

    hours = year.hours
    per_kw = (
        year.pv["pv_ac_kw"].to_numpy() / settings.pv.dc_capacity_kwp * W_PER_KW
        if settings.pv.dc_capacity_kwp > 0
        else np.zeros(len(hours))
    )
    return pd.DataFrame(
        {
            "month": hours.month,
            "hour": hours.hour + 1,
            "day_type": hours.dayofweek + 1,
            "daylight_savings_status": 0,
            "indoor_dry_bulb_temperature": INDOOR_TEMPERATURE_C,
            "average_unmet_cooling_setpoint_difference": 0.0,
            "indoor_relative_humidity": 50.0,
            "non_shiftable_load": year.mall_kwh,
            "dhw_demand": 0.0,
            "cooling_demand": 0.0,
            "heating_demand": 0.0,
            "solar_generation": per_kw,
        }
    )


def weather_table(year: StationYear) -> pd.DataFrame:
    weather = year.weather
    columns = {}
    for name, source in (
        ("outdoor_dry_bulb_temperature", "air_temperature_c"),
        ("outdoor_relative_humidity", "relative_humidity_pct"),
        ("diffuse_solar_irradiance", "dhi_w_m2"),
        ("direct_solar_irradiance", "dni_w_m2"),
    ):
        columns.update(_forecasts(name, weather[source].to_numpy()))
    return pd.DataFrame(columns)


def charger_table(sessions: pd.DataFrame, charger: str, steps: int) -> pd.DataFrame:
    """One socket's rows: idle (3), incoming the step before an arrival (2), plugged in (1)."""
    state = np.full(steps, STATE_NONE, dtype=int)
    ev = np.full(steps, "", dtype=object)
    session_id = np.full(steps, "", dtype=object)
    departure = np.full(steps, np.nan)
    required = np.full(steps, np.nan)
    arrival_in = np.full(steps, np.nan)
    arrival_soc = np.full(steps, np.nan)
    current_soc = np.full(steps, np.nan)
    for row in sessions.itertuples(index=False):
        start, end = int(row.arrival_step), int(row.departure_step)
        state[start:end] = STATE_PLUGGED
        ev[start:end] = vehicle_id(charger)
        session_id[start:end] = session_label(row.session_id)
        departure[start:end] = np.arange(end - start, 0, -1)
        required[start:end] = row.required_soc_pct / 100
        arrival_soc[start:end] = row.arrival_soc_pct / 100
        current_soc[start] = row.arrival_soc_pct / 100
        if start > 0 and state[start - 1] == STATE_NONE:
            state[start - 1], ev[start - 1] = STATE_INCOMING, vehicle_id(charger)
            arrival_in[start - 1], arrival_soc[start - 1] = 1, row.arrival_soc_pct / 100
    return pd.DataFrame(
        {
            "electric_vehicle_charger_state": state,
            "electric_vehicle_id": ev,
            "electric_vehicle_departure_time": departure,
            "electric_vehicle_required_soc_departure": required,
            "electric_vehicle_estimated_arrival_time": arrival_in,
            "electric_vehicle_estimated_soc_arrival": arrival_soc,
            "electric_vehicle_session_id": session_id,
            "electric_vehicle_current_soc": current_soc,
        }
    )


def profiles_table(year: StationYear) -> pd.DataFrame:
    """The hourly profiles in the project's own units (kWh per one-hour step), for checks and the oracle."""
    return pd.DataFrame(
        {
            "timestamp": year.hours.strftime("%Y-%m-%d %H:%M%z"),
            "ghi_w_m2": year.weather["ghi_w_m2"].to_numpy(),
            "poa_w_m2": year.pv["poa_w_m2"].to_numpy(),
            "air_temperature_c": year.weather["air_temperature_c"].to_numpy(),
            "cell_temperature_c": year.pv["cell_temperature_c"].to_numpy(),
            "pv_kwh": year.pv["pv_ac_kw"].to_numpy(),
            "mall_kwh": year.mall_kwh,
            "tariff_pen_per_kwh": year.tariff_pen_per_kwh,
            "emission_factor_kg_per_kwh": year.emission_factor_kg_per_kwh,
        }
    )


# ---------------------------------------------------------------- schema


def _battery_attributes(settings: Settings) -> dict:
    battery = settings.battery
    efficiency = battery.round_trip_efficiency_pct / 100
    return {
        "capacity": battery.capacity_kwh,
        "nominal_power": battery.power_kw,
        "efficiency": efficiency,
        "depth_of_discharge": 1 - battery.min_soc_pct / 100,
        "initial_soc": battery.initial_soc_pct / 100,
        "loss_coefficient": battery.standby_loss_pct_per_step / 100,
        "capacity_loss_coefficient": battery.capacity_fade_pct_per_cycle / 100,
        "power_efficiency_curve": _flat_curve(efficiency),
        "capacity_power_curve": _flat_curve(1.0),
    }


def _vehicle_definition(kind: str, settings: Settings) -> dict:
    """A vehicle's battery with every attribute explicit: lossless (the charger carries the loss)."""
    vehicle, group = settings.vehicles.kind(kind), settings.sockets.group(kind)
    return {
        "include": True,
        "battery": {
            "attributes": {
                "capacity": vehicle.battery_kwh,
                "nominal_power": group.power_kw,
                "initial_soc": vehicle.arrival_soc_pct / 100,
                "depth_of_discharge": 1.0,
                "efficiency": 1.0,
                "loss_coefficient": 0.0,
                "capacity_loss_coefficient": 0.0,
                "power_efficiency_curve": _flat_curve(1.0),
                "capacity_power_curve": _flat_curve(1.0),
            }
        },
    }


def _charger_definition(charger: str, kind: str, settings: Settings) -> dict:
    return {
        "type": "citylearn.electric_vehicle_charger.Charger",
        "charger_simulation": charger_file(charger),
        "noise_std": 0.0,
        "attributes": {
            "efficiency": settings.sockets.efficiency_pct / 100,
            "max_charging_power": settings.sockets.group(kind).power_kw,
            "min_charging_power": 0.0,
            "max_discharging_power": 0.0,
            "min_discharging_power": 0.0,
            "charge_efficiency_curve": None,
            "discharge_efficiency_curve": None,
        },
    }


def build_schema(settings: Settings, seed: int) -> dict:
    ids, kinds = charger_ids(settings), socket_kinds(settings)
    observations = {name: {"active": True, "shared_in_central_agent": True} for name in BUILDING_OBSERVATIONS}
    observations.update({name: {"active": True, "shared_in_central_agent": False} for name in CHARGER_OBSERVATIONS})
    return {
        "random_seed": seed,
        "root_directory": None,
        "central_agent": True,
        "simulation_start_time_step": 0,
        "simulation_end_time_step": settings.simulation.horizon_hours,
        "episode_time_steps": None,
        "rolling_episode_split": False,
        "random_episode_split": False,
        "seconds_per_time_step": SECONDS_PER_STEP,
        "terminal_observation_padding": True,
        "observations": observations,
        "actions": {"electrical_storage": {"active": True}, "electric_vehicle_storage": {"active": True}},
        "electric_vehicles_def": {vehicle_id(c): _vehicle_definition(k, settings) for c, k in zip(ids, kinds)},
        "reward_function": {"type": "citylearn.reward_function.RewardFunction", "attributes": {}},
        "buildings": {
            BUILDING_NAME: {
                "include": True,
                "energy_simulation": "building.csv",
                "weather": "weather.csv",
                "pricing": "pricing.csv",
                "carbon_intensity": "carbon_intensity.csv",
                "noise_std": 0.0,
                "pv": {
                    "type": "citylearn.energy_model.PV",
                    "autosize": False,
                    "attributes": {"nominal_power": settings.pv.dc_capacity_kwp, "generation_mode": "per_kw"},
                },
                "electrical_storage": {
                    "type": "citylearn.energy_model.Battery",
                    "autosize": False,
                    "attributes": _battery_attributes(settings),
                },
                "chargers": {c: _charger_definition(c, k, settings) for c, k in zip(ids, kinds)},
            }
        },
    }


# ---------------------------------------------------------------- summary


def service_by_hour(by_step: pd.DataFrame) -> dict:
    """Arrivals and turned-away arrivals by hour of the day (24 counts each, every kind together; step 0
    is midnight), and the energy the turned-away ones would have wanted: what the station leaves unserved,
    and when, in a few numbers rather than a file of one row per arrival."""
    from .site.sessions import step_columns

    hour = np.arange(len(by_step)) % 24
    arrivals, turned, energy = (
        by_step[[step_columns(kind)[index] for kind in VEHICLE_KINDS]].sum(axis=1) for index in range(3)
    )
    figures = {
        "turned_away_energy_kwh": float(energy.sum()),
        "arrivals_by_hour": [int(count) for count in np.bincount(hour, weights=arrivals, minlength=24)],
        "turned_away_by_hour": [int(count) for count in np.bincount(hour, weights=turned, minlength=24)],
    }
    for kind in VEHICLE_KINDS:
        figures[f"turned_away_energy_kwh_{kind}"] = float(by_step[step_columns(kind)[2]].sum())
    return figures


def emission_factor_summary(factor_kg_per_kwh: np.ndarray) -> dict:
    """The grid emission factor of the simulated hours (mean, lowest, highest), so that the report states the
    scenario's own factor, read from a user's file or modelled."""
    return {
        "emission_factor_kg_per_kwh_mean": float(np.mean(factor_kg_per_kwh)),
        "emission_factor_kg_per_kwh_min": float(np.min(factor_kg_per_kwh)),
        "emission_factor_kg_per_kwh_max": float(np.max(factor_kg_per_kwh)),
    }


def year_summary(year: StationYear, settings: Settings) -> dict:
    from .site.solar import W_PER_KW, pv_year_summary

    sessions, arrivals, turned = year.fleet.sessions, year.fleet.arrivals, year.fleet.turned_away
    days = len(year.hours) / 24
    figures = pv_year_summary(year.pv, settings.pv)
    total_arrivals = int(arrivals[list(VEHICLE_KINDS)].to_numpy().sum())
    total_turned = int(turned[list(VEHICLE_KINDS)].to_numpy().sum())
    figures.update(
        {
            "ghi_kwh_m2": float(year.weather["ghi_w_m2"].sum() / W_PER_KW),
            "mall_kwh": float(year.mall_kwh.sum()),
            "mall_gwh": float(year.mall_kwh.sum() / 1e6),
            "mall_peak_kw": float(year.mall_kwh.max()),
            "sessions": int(len(sessions)),
            "ev_energy_kwh_per_day": float(sessions["energy_required_kwh"].sum() / days),
            "arrivals": total_arrivals,
            "turned_away": total_turned,
            "turned_away_pct": 100 * total_turned / total_arrivals if total_arrivals else 0.0,
        }
    )
    for kind in VEHICLE_KINDS:
        of_kind = sessions[sessions["kind"] == kind]
        figures[f"sessions_per_day_{kind}"] = float(len(of_kind) / days)
        figures[f"ev_energy_kwh_per_day_{kind}"] = float(of_kind["energy_required_kwh"].sum() / days)
        figures[f"turned_away_{kind}"] = int(turned[kind].sum())
    figures.update(service_by_hour(year.fleet.by_step))
    figures.update(emission_factor_summary(year.emission_factor_kg_per_kwh))
    return figures


# ---------------------------------------------------------------- writing and reading


def write_split(settings: Settings, split: str, folder: Path) -> dict:
    """Build one split's year and write it into `folder` (a new folder inside the build's staging
    folder), all but its summary, which carries the build's id; return the summary."""
    from .site.year import build_station_year

    year = build_station_year(settings, split)
    folder.mkdir(parents=True)
    steps = len(year.hours)
    building_table(year, settings).to_csv(folder / "building.csv", index=False)
    weather_table(year).to_csv(folder / "weather.csv", index=False)
    pd.DataFrame(_forecasts("electricity_pricing", year.tariff_pen_per_kwh)).to_csv(folder / "pricing.csv", index=False)
    pd.DataFrame({"carbon_intensity": year.emission_factor_kg_per_kwh}).to_csv(
        folder / "carbon_intensity.csv", index=False
    )
    by_socket = dict(tuple(year.fleet.sessions.groupby("charger_id")))
    for charger in charger_ids(settings):
        table = charger_table(by_socket.get(charger, year.fleet.sessions.iloc[0:0]), charger, steps)
        table.to_csv(folder / charger_file(charger), index=False)
    profiles_table(year).to_csv(folder / PROFILES_FILE, index=False)
    year.fleet.sessions.to_csv(folder / SESSIONS_FILE, index=False)
    arrivals = year.fleet.arrivals.merge(year.fleet.turned_away, on="day", suffixes=("_arrivals", "_turned_away"))
    arrivals.to_csv(folder / ARRIVALS_FILE, index=False)
    write_json_atomically(folder / SCHEMA_FILE, build_schema(settings, settings.splits[split].seed))
    return {"split": split, **year_summary(year, settings)}


def build_id(folder: Path, splits: list[str]) -> str:
    """The id of one build: a digest of every file it wrote (the summaries aside, which carry it).
    The same inputs give the same id, so a rebuild is byte for byte a clean build."""
    digest = hashlib.sha256()
    for split in sorted(splits):
        for path in sorted((folder / split).iterdir()):
            if path.name != SUMMARY_FILE:
                digest.update(f"{split}/{path.name}\0{path.stat().st_size}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def write_all_splits(settings: Settings, data_dir: Path, splits: list[str], summary_path: Path) -> dict:
    """Write the splits into a staging folder beside `data_dir` and put it in place by renames: the
    splits of `data_dir` are always ones built together (a split not rebuilt is carried over as it
    was, with its own build's id). With every split rebuilt the overall summary is replaced too: the
    old one is removed before the swap and the new one renamed in after it, so a crash leaves it
    missing, never describing other data. The caller holds the dataset's lock (locking.py)."""
    remove_leftovers_beside(data_dir)
    remove_leftovers_beside(summary_path)
    staging = staging_folder(data_dir)
    summary_temporary = None
    try:
        summaries = {}
        for split in splits:
            summaries[split] = write_split(settings, split, staging / split)
            crash_point(f"split-written:{split}")
        for split in SPLITS:
            if split not in splits and (data_dir / split).is_dir():
                shutil.copytree(data_dir / split, staging / split)
        identifier = build_id(staging, splits)
        for split in splits:
            summaries[split] = {
                "split": split,
                BUILD_ID: identifier,
                **{k: v for k, v in summaries[split].items() if k != "split"},
            }
            write_json_atomically(staging / split / SUMMARY_FILE, summaries[split])
        write_json_atomically(staging / PARAMETERS_FILE, {BUILD_ID: identifier, "params": build_parameters(settings)})
        crash_point("staged")
        whole = set(splits) == set(SPLITS)
        if whole:
            summary_temporary = temporary_json_beside(summary_path, summaries)
            summary_path.unlink(missing_ok=True)
            crash_point("summary-removed")
        swap_in_folder(staging, data_dir)
        if whole:
            os.replace(summary_temporary, summary_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if summary_temporary is not None:
            Path(summary_temporary).unlink(missing_ok=True)
        raise
    return summaries


def check_built_together(data_dir: Path) -> str | None:
    """Refuse (DataError) a dataset folder whose splits come from different builds, or from a
    build that recorded no id; return the build's id (None when no split is there yet)."""
    found = {}
    for split in SPLITS:
        path = data_dir / split / SUMMARY_FILE
        if path.is_file():
            summary = read_json(path)
            found[split] = summary.get(BUILD_ID) if isinstance(summary, dict) else None
    if not found:
        return None
    if None in found.values():
        unmarked = next(split for split, identifier in found.items() if identifier is None)
        raise DataError(
            f"{data_dir / unmarked / SUMMARY_FILE}: no build id (written by an older version); "
            "run `evstation build-dataset`"
        )
    if len(set(found.values())) > 1:
        builds = ", ".join(f"{split} from build {identifier}" for split, identifier in found.items())
        raise DataError(
            f"{data_dir}: the splits were not built together ({builds}); run `evstation build-dataset` for all splits"
        )
    return next(iter(found.values()))


def check_validated(record: Path, identifier: str, command: str) -> None:
    """Refuse (DataError, one line) to run `command` on datasets (of build `identifier`) whose
    validation record says they failed, or records another build's checks. With no record, the command
    runs: the front ends make validation an input of every stage that runs a controller, so there the
    record is always present; by hand, the checks are the user's to run."""
    record = Path(record)
    if not record.exists():
        return
    report = read_json_file(record, "run `evstation validate`")
    if not isinstance(report, dict) or not isinstance(report.get("checks"), list):
        raise DataError(f"{record}: not a validation record; run `evstation validate`")
    checked = report.get(BUILD_ID)
    if checked is not None and checked != identifier:
        raise DataError(
            f"{record}: checks build {checked}, not the datasets' build {identifier}; "
            f"run `evstation validate` before `{command}`"
        )
    failed = [str(check.get("name")) for check in report["checks"] if check.get("verdict") != "pass"]
    if failed or report.get("passed") is not True:
        more = len(failed) - SHOWN_DIFFERENCES
        named = ", ".join(failed[:SHOWN_DIFFERENCES]) + (f" and {more} more" if more > 0 else "")
        raise DataError(
            f"{record}: the datasets failed validation ({named or 'not passed'}): `{command}` not run; "
            "correct the params or input files, then run `evstation build-dataset` and `evstation validate`"
        )


SHOWN_DIFFERENCES = 3  # the first keys that differ a refusal names


def check_built_from(data_dir: Path, settings: Settings, identifier: str) -> None:
    """Refuse (DataError, one line) datasets (of build `identifier`, check_built_together) built from
    other values of BUILD_KEYS than `settings` hold, naming the first keys that differ."""
    path = data_dir / PARAMETERS_FILE
    if not path.is_file():
        raise DataError(f"{path}: file not found: no record of the parameters the dataset was built from; {REBUILD}")
    record = read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("params"), dict):
        raise DataError(f"{path}: not a record of the parameters the dataset was built from; {REBUILD}")
    if record.get(BUILD_ID) != identifier:
        raise DataError(
            f"{path}: the parameters of build {record.get(BUILD_ID)}, not of the splits' build {identifier}; {REBUILD}"
        )
    differences = value_differences(record["params"], build_parameters(settings), "built with")
    if differences:
        more = len(differences) - SHOWN_DIFFERENCES
        listed = "; ".join(differences[:SHOWN_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")
        raise DataError(f"{data_dir}: built from other parameters ({listed}); {REBUILD} to rebuild it")


@dataclass(frozen=True)
class Dataset:
    """A split's dataset as read back from disk."""

    folder: Path
    schema: dict
    profiles: pd.DataFrame
    sessions: pd.DataFrame
    arrivals: pd.DataFrame
    summary: dict

    @property
    def schema_path(self) -> Path:
        return self.folder / SCHEMA_FILE

    @property
    def chargers(self) -> list[str]:
        return list(self.schema["buildings"][BUILDING_NAME]["chargers"])

    def charger_table(self, charger: str) -> pd.DataFrame:
        return read_csv(self.folder / charger_file(charger))


REBUILD = "run `evstation build-dataset`"


def check_complete(path: Path, rows: int | None = None) -> None:
    """A dataset's CSV as its build wrote it: ending with its last line's end and, where `rows` is given,
    holding that many rows at least; else a DataError naming it (cut short by a full disk, a crash or an edit)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found ({REBUILD})")
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        raise DataError(f"{path}: cut short (its last line is incomplete); {REBUILD} to rebuild the dataset")
    found = data.count(b"\n") - 1  # the header's line
    if rows is not None and found < rows:
        raise DataError(
            f"{path}: cut short ({found} rows, the dataset's schema simulates {rows} steps); "
            f"{REBUILD} to rebuild the dataset"
        )


def step_files(schema: dict) -> list[str]:
    """The files of one row per step a split's schema names: its building's series and each socket's."""
    (building,) = schema["buildings"].values()
    series = [building[name] for name in ("energy_simulation", "weather", "pricing", "carbon_intensity")]
    return series + [charger["charger_simulation"] for charger in (building.get("chargers") or {}).values()]


def check_step_files(folder: Path, schema: dict) -> None:
    """Every per-step file of a split complete, one row per simulated step, before a simulator reads it:
    CityLearn would stop on a short one with a traceback, or read a cut last line as missing values."""
    for name in step_files(schema):
        check_complete(Path(folder) / name, int(schema["simulation_end_time_step"]))


def read_csv(path: Path) -> pd.DataFrame:
    check_complete(path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None


def read_json(path: Path) -> dict:
    return read_json_file(path, REBUILD)


def read_dataset(folder: Path) -> Dataset:
    """Read a split folder back; raises DataError naming the first missing or broken file."""
    schema = read_json(folder / SCHEMA_FILE)
    sessions = read_csv(folder / SESSIONS_FILE)
    missing = [column for column in SESSION_COLUMNS if column not in sessions.columns]
    if missing:
        raise DataError(f"{folder / SESSIONS_FILE}: missing columns {', '.join(missing)}")
    return Dataset(
        folder,
        schema,
        read_csv(folder / PROFILES_FILE),
        sessions,
        read_csv(folder / ARRIVALS_FILE),
        read_json(folder / SUMMARY_FILE),
    )
