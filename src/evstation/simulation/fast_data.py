"""A station dataset folder read the way CityLearn 3.0.2 reads it, as arrays for the fast simulator.

Everything that does not depend on the controller is worked out here once, at construction: the
exogenous series in the float32 CityLearn stores them in, each socket's session state for every
step (who is plugged in, which step opens a new session and the SOC the vehicle arrives with, the
vehicle SOC CityLearn shows on a session's first step), the observation matrix with its
controller-independent columns filled, and the observation and action spaces with CityLearn's
bounds. Anything in a schema this project does not write (several buildings, noise, EV losses,
other observations, sub-hourly steps) raises NotImplementedError rather than being simulated wrongly.

Source references are to citylearn 3.0.2 (`data.py`, `internal/loading.py`, `internal/runtime.py`,
`internal/building_ops.py`, `building.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..dataset import check_step_files, read_json
from ..errors import DataError

SECONDS_PER_HOUR = 3600.0
W_PER_KW = 1000.0
STATE_PLUGGED, STATE_INCOMING = 1, 2
NO_TIME = -1  # CityLearn's value for a missing countdown (data.py)
NO_SOC = -0.1  # CityLearn's value for a missing SOC (data.py, building_ops.py)
NO_CAPACITY = -1.0  # battery capacity observed at an empty socket (building_ops.py)
CAPACITY_OBSERVATION_HIGH = 100.0  # CityLearn's fixed upper bound of the capacity observation
MIN_TIME_OBSERVATION_HIGH = 24.0  # CityLearn's least upper bound of countdown observations
ZERO_DIVISION_PLACEHOLDER = 1e-6  # CityLearn's guard against division by zero
CALENDAR_OBSERVATIONS = ("month", "day_type", "hour", "daylight_savings_status")
PRICING_OBSERVATIONS = tuple(["electricity_pricing"] + [f"electricity_pricing_predicted_{k}" for k in (1, 2, 3)])
WEATHER_VARIABLES = (
    "outdoor_dry_bulb_temperature",
    "outdoor_relative_humidity",
    "diffuse_solar_irradiance",
    "direct_solar_irradiance",
)
WEATHER_OBSERVATIONS = tuple(
    name + suffix for name in WEATHER_VARIABLES for suffix in ("", "_predicted_1", "_predicted_2", "_predicted_3")
)
DYNAMIC_OBSERVATIONS = ("net_electricity_consumption", "electrical_storage_soc")
# The per-socket observations CityLearn expands, in the order it always writes them (loading.py).
CHARGER_HELPERS = (
    ("electric_vehicle_charger_connected_state", "electric_vehicle_charger_{id}_connected_state"),
    (
        "connected_electric_vehicle_at_charger_departure_time",
        "connected_electric_vehicle_at_charger_{id}_departure_time",
    ),
    (
        "connected_electric_vehicle_at_charger_required_soc_departure",
        "connected_electric_vehicle_at_charger_{id}_required_soc_departure",
    ),
    ("connected_electric_vehicle_at_charger_soc", "connected_electric_vehicle_at_charger_{id}_soc"),
    (
        "connected_electric_vehicle_at_charger_battery_capacity",
        "connected_electric_vehicle_at_charger_{id}_battery_capacity",
    ),
    ("electric_vehicle_charger_incoming_state", "electric_vehicle_charger_{id}_incoming_state"),
    (
        "incoming_electric_vehicle_at_charger_estimated_arrival_time",
        "incoming_electric_vehicle_at_charger_{id}_estimated_arrival_time",
    ),
    (
        "incoming_electric_vehicle_at_charger_estimated_soc_arrival",
        "incoming_electric_vehicle_at_charger_{id}_estimated_soc_arrival",
    ),
)


@dataclass(frozen=True)
class BatterySpec:
    """The station battery's attributes as CityLearn's `Battery` holds them."""

    capacity_kwh: float
    nominal_power_kw: float
    depth_of_discharge: float
    initial_soc: float
    loss_per_step: float  # standby loss, fraction of SOC per step
    capacity_loss_coefficient: float  # degradation per charge/discharge (fraction of capacity)
    efficiency_curve: np.ndarray  # (2, N): normalised power -> round-trip efficiency
    capacity_power_curve: np.ndarray  # (2, N): SOC -> fraction of nominal power


@dataclass(frozen=True)
class SocketSpec:
    """Per-socket constants (arrays over sockets): the charger and the vehicle entry it serves."""

    max_power_kw: np.ndarray
    min_power_kw: np.ndarray
    charger_efficiency: np.ndarray
    vehicle_capacity_kwh: np.ndarray
    vehicle_max_power_kw: np.ndarray  # nominal power x capacity-power factor (flat curve)
    vehicle_root_efficiency: np.ndarray  # sqrt of the (flat) round-trip efficiency curve
    vehicle_min_soc: np.ndarray  # 1 - depth of discharge


@dataclass(frozen=True)
class SessionTable:
    """Each socket's session state for every row (arrays of shape (rows, sockets))."""

    connected: np.ndarray  # a vehicle is plugged in and controllable (state 1, known vehicle)
    new_session: np.ndarray  # this row opens a session: CityLearn resets the vehicle's SOC
    arrival_soc: np.ndarray  # float32 SOC it resets to (valid where new_session)
    first_observed_soc: np.ndarray  # float32 SOC CityLearn observes on a row whose previous row had no session
    leaving: np.ndarray  # connected with one step or less left: departs after this row
    required_soc: np.ndarray  # float32
    departure_steps: np.ndarray  # int32


@dataclass(frozen=True)
class StationData:
    """A dataset folder as the fast simulator needs it."""

    rows: int  # CityLearn's time_steps (the episode has rows - 1 steps)
    hours_per_step: float
    charger_ids: tuple[str, ...]
    observation_names: tuple[str, ...]
    observation_low: np.ndarray
    observation_high: np.ndarray
    action_low: np.ndarray
    action_high: np.ndarray
    observations: np.ndarray  # (rows, n) float32, controller-independent columns filled
    net_column: int | None
    battery_soc_column: int | None
    vehicle_soc_columns: np.ndarray | None
    load_kwh: np.ndarray  # float32 per row
    pv_kwh: np.ndarray  # float32 per row, >= 0
    pricing: np.ndarray  # float32 per row
    carbon_intensity: np.ndarray  # float32 per row
    battery: BatterySpec
    sockets: SocketSpec
    sessions: SessionTable
    month: np.ndarray  # int per row, 1-12: CityLearn's calendar, which its reward function reads
    hour: np.ndarray  # int per row, CityLearn's 1-24 (hour 1 is 00:00-00:59 local)


# ---------------------------------------------------------------- reading


def _read_table(path: Path, schema: dict) -> pd.DataFrame:
    """The simulation window of a CSV, with CityLearn's padded terminal row (loading.py 1070-1149)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (run `evstation build-dataset`)")
    start, end = int(schema["simulation_start_time_step"]), int(schema["simulation_end_time_step"])
    frame = pd.read_csv(path).iloc[start : end + 1].reset_index(drop=True)
    expected_rows = end - start + 1
    if len(frame) == expected_rows:
        return frame
    if not schema.get("terminal_observation_padding", False) or len(frame) != expected_rows - 1:
        raise DataError(f"{path}: {len(frame)} rows, CityLearn expects {expected_rows}")
    if "minutes" in frame.columns:
        raise NotImplementedError(f"{path}: sub-hourly calendars (a minutes column) are not simulated")
    terminal = frame.iloc[-1].copy()
    if "electric_vehicle_charger_state" in frame.columns:
        departure = pd.to_numeric(pd.Series([terminal["electric_vehicle_departure_time"]]), errors="coerce").iloc[0]
        if terminal["electric_vehicle_charger_state"] == STATE_PLUGGED and np.isfinite(departure) and departure <= 1:
            terminal["electric_vehicle_charger_state"] = 3
            for column in (
                "electric_vehicle_session_id",
                "electric_vehicle_departure_time",
                "electric_vehicle_required_soc_departure",
                "electric_vehicle_current_soc",
            ):
                if column in frame.columns:
                    terminal[column] = np.nan
    padded = pd.DataFrame(
        {column: pd.Series([terminal[column]], dtype=dtype) for column, dtype in frame.dtypes.items()}
    )
    return pd.concat([frame, padded], ignore_index=True)


def _float32(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.array(frame[column].to_numpy(), dtype=np.float32)


def _soc_series(values) -> np.ndarray:
    """CityLearn's SOC normalisation (data.py normalize_soc_series, no noise): fractions kept,
    values above 1 read as percent, missing as -0.1."""
    raw = np.array(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(), dtype=np.float32)
    raw = np.where(np.isnan(raw), np.float32(NO_SOC), raw).astype(np.float32)
    normalized = np.full(raw.shape, NO_SOC, dtype=np.float32)
    valid = (raw != np.float32(NO_SOC)) & (raw >= 0.0)
    fraction, percent = valid & (raw <= 1.0), valid & (raw > 1.0)
    normalized[fraction] = raw[fraction]
    normalized[percent] = raw[percent] / 100.0
    normalized[valid] = np.clip(normalized[valid], 0.0, 1.0)
    return normalized.astype(np.float32)


def _countdown(values) -> np.ndarray:
    raw = np.array(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(), dtype=np.float32)
    return np.where(np.isnan(raw), NO_TIME, raw).astype(np.int32)


def _charger_state(values: pd.Series) -> np.ndarray:
    """CityLearn parses the state as text digits (data.py): a float-read '1.0' is no state at all."""
    if pd.api.types.is_integer_dtype(values):
        numbers = values.to_numpy()
        return np.where(numbers >= 0, numbers, np.nan).astype(np.float32)
    return np.array([int(str(v)) if str(v).isdigit() else np.nan for v in values], dtype=np.float32)


def _is_label(value) -> bool:
    return isinstance(value, str) and value.strip() not in ("", "nan")


def _labels(values: np.ndarray) -> np.ndarray:
    """Which entries CityLearn takes for an id (a non-blank text)."""
    return np.fromiter((_is_label(v) for v in values), dtype=bool, count=len(values))


def _valid_soc(values: np.ndarray) -> np.ndarray:
    return (values >= 0.0) & (values <= 1.0)


def _previous(values: np.ndarray, first) -> np.ndarray:
    """values shifted one row later (row t holds row t - 1), `first` on row 0."""
    return np.concatenate([[first], values[:-1]])


# ---------------------------------------------------------------- equipment


def _require_zero(value: float, what: str) -> None:
    if value:
        raise NotImplementedError(f"{what} = {value}: not simulated by the fast simulator (the datasets write 0)")


def battery_spec(attributes: dict) -> BatterySpec:
    for name in (
        "capacity",
        "nominal_power",
        "depth_of_discharge",
        "initial_soc",
        "loss_coefficient",
        "capacity_loss_coefficient",
        "power_efficiency_curve",
        "capacity_power_curve",
    ):
        if attributes.get(name) is None:
            raise NotImplementedError(f"electrical_storage.{name}: CityLearn draws it at random when omitted")
    return BatterySpec(
        capacity_kwh=float(attributes["capacity"]),
        nominal_power_kw=float(attributes["nominal_power"]),
        depth_of_discharge=float(attributes["depth_of_discharge"]),
        initial_soc=float(attributes["initial_soc"]),
        loss_per_step=float(attributes["loss_coefficient"]),
        capacity_loss_coefficient=float(attributes["capacity_loss_coefficient"]),
        efficiency_curve=np.array(attributes["power_efficiency_curve"], dtype=float).T,
        capacity_power_curve=np.array(attributes["capacity_power_curve"], dtype=float).T,
    )


def _flat_curve_value(curve, what: str) -> float:
    values = {float(y) for _, y in curve}
    if len(values) != 1:
        raise NotImplementedError(f"{what}: only flat curves are simulated for vehicles")
    return values.pop()


def socket_spec(chargers: dict, vehicles: dict, vehicle_of: list[str]) -> SocketSpec:
    columns = {name: [] for name in SocketSpec.__dataclass_fields__}
    for (charger_id, charger), vehicle_name in zip(chargers.items(), vehicle_of):
        attributes = charger.get("attributes", {}) or {}
        if attributes.get("charge_efficiency_curve") is not None:
            raise NotImplementedError(f"charger {charger_id}: charge efficiency curves are not simulated")
        if attributes.get("max_discharging_power", 50.0):  # CityLearn's default allows V2G at 50 kW
            raise NotImplementedError(f"charger {charger_id}: discharging (V2G) is not simulated")
        battery = vehicles[vehicle_name]["battery"]["attributes"]
        _require_zero(float(battery.get("loss_coefficient", 0.0) or 0.0), f"{vehicle_name}.loss_coefficient")
        _require_zero(
            float(battery.get("capacity_loss_coefficient", 0.0) or 0.0), f"{vehicle_name}.capacity_loss_coefficient"
        )
        for curve in ("power_efficiency_curve", "capacity_power_curve"):
            if battery.get(curve) is None:
                raise NotImplementedError(f"{vehicle_name}.{curve}: CityLearn draws it at random when omitted")
        efficiency = _flat_curve_value(battery["power_efficiency_curve"], f"{vehicle_name}.power_efficiency_curve")
        power_factor = _flat_curve_value(battery["capacity_power_curve"], f"{vehicle_name}.capacity_power_curve")
        columns["max_power_kw"].append(float(attributes.get("max_charging_power", 50.0)))
        columns["min_power_kw"].append(float(attributes.get("min_charging_power", 0.0)))
        columns["charger_efficiency"].append(float(attributes.get("efficiency", 1.0)))
        columns["vehicle_capacity_kwh"].append(float(battery["capacity"]))
        columns["vehicle_max_power_kw"].append(max(float(battery["nominal_power"]) * power_factor, 0.0))
        columns["vehicle_root_efficiency"].append(efficiency**0.5)
        columns["vehicle_min_soc"].append(float(np.clip(1.0 - float(battery.get("depth_of_discharge", 1.0)), 0.0, 1.0)))
    return SocketSpec(**{name: np.array(values, dtype=float) for name, values in columns.items()})


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class ChargerColumns:
    """One charger CSV parsed as CityLearn's ChargerSimulation holds it."""

    state: np.ndarray
    vehicle: np.ndarray
    vehicle_labelled: np.ndarray
    session: np.ndarray
    session_labelled: np.ndarray
    departure_steps: np.ndarray
    required_soc: np.ndarray
    arrival_in_steps: np.ndarray
    estimated_soc_arrival: np.ndarray
    current_soc: np.ndarray


def charger_columns(frame: pd.DataFrame) -> ChargerColumns:
    rows = len(frame)
    vehicle = frame["electric_vehicle_id"].to_numpy(dtype=object)
    session = (
        frame["electric_vehicle_session_id"].to_numpy(dtype=object)
        if "electric_vehicle_session_id" in frame
        else np.full(rows, "", dtype=object)
    )
    current = (
        _soc_series(frame["electric_vehicle_current_soc"])
        if "electric_vehicle_current_soc" in frame
        else np.full(rows, NO_SOC, dtype=np.float32)
    )
    return ChargerColumns(
        state=_charger_state(frame["electric_vehicle_charger_state"]),
        vehicle=vehicle,
        vehicle_labelled=_labels(vehicle),
        session=session,
        session_labelled=_labels(session),
        departure_steps=_countdown(frame["electric_vehicle_departure_time"]),
        required_soc=_soc_series(frame["electric_vehicle_required_soc_departure"]),
        arrival_in_steps=_countdown(frame["electric_vehicle_estimated_arrival_time"]),
        estimated_soc_arrival=_soc_series(frame["electric_vehicle_estimated_soc_arrival"]),
        current_soc=current,
    )


def _session_changed(columns: ChargerColumns) -> np.ndarray:
    """Rows where a back-to-back arrival begins: a new session id, or (rows without an id) a
    countdown that restarts after 1 (runtime.py associate_chargers_to_electric_vehicles)."""
    labelled, session, countdown = columns.session_labelled, columns.session, columns.departure_steps
    new_id = labelled & _previous(labelled, False) & np.concatenate([[False], session[1:] != session[:-1]])
    restarted = ~labelled & np.concatenate([[False], (countdown[:-1] <= 1) & (countdown[1:] > countdown[:-1])])
    return new_id | restarted


def _arrival_socs(columns: ChargerColumns) -> np.ndarray:
    """The SOC a session starting on each row starts from, NaN where there is none
    (runtime.py _resolve_arrival_soc: current SOC, else the estimated arrival SOC of the
    previous row when it had no vehicle plugged in, else of this row)."""
    rows = np.arange(len(columns.state))
    after_idle = (rows > 0) & np.isin(_previous(columns.state, np.nan), (STATE_INCOMING, 3))
    candidate = columns.estimated_soc_arrival[np.where(after_idle, rows - 1, rows)]
    current = columns.current_soc
    return np.where(_valid_soc(current), current, np.where(_valid_soc(candidate), candidate, np.nan)).astype(np.float32)


def _socs_before_arrival(columns: ChargerColumns, own: np.ndarray, initial_soc: np.float32) -> np.ndarray:
    """The vehicle's SOC on the row before each row, when that row had no session: the estimated
    arrival SOC CityLearn sets there (runtime.py simulate_unconnected_ev_soc: of that row if it
    announced this vehicle, else of the arrival row), the vehicle's initial SOC on row 0; NaN
    where CityLearn would show its random drift instead."""
    rows = np.arange(len(columns.state))
    announced = _previous(own & (columns.state == STATE_INCOMING), False)
    value = columns.estimated_soc_arrival[np.where(announced, rows - 1, rows)]
    value = np.where(_valid_soc(value) & (_previous(columns.state, np.nan) != STATE_PLUGGED), value, np.nan)
    value[0] = np.nan
    if len(value) > 1:
        value[1] = initial_soc
    return value.astype(np.float32)


def socket_sessions(
    columns: ChargerColumns, vehicle: str, initial_soc: np.float32, where: str
) -> dict[str, np.ndarray]:
    own = columns.vehicle_labelled & (columns.vehicle == vehicle)
    stranger = columns.vehicle_labelled & ~own & np.isin(columns.state, (STATE_PLUGGED, STATE_INCOMING))
    if stranger.any():
        raise NotImplementedError(
            f"{where}: vehicles shared between sockets are not simulated (row {int(np.argmax(stranger))})"
        )
    connected = own & (columns.state == STATE_PLUGGED)
    follows = _previous(connected, False)
    new_session = connected & (~follows | _session_changed(columns))
    arrival = np.where(new_session, _arrival_socs(columns), np.nan).astype(np.float32)
    if np.isnan(arrival[new_session]).any():
        row = int(np.flatnonzero(new_session & np.isnan(arrival))[0])
        raise NotImplementedError(f"{where}: row {row} opens a session without a valid arrival SOC")
    after_idle = new_session & ~follows
    first_observed = np.where(after_idle, _socs_before_arrival(columns, own, initial_soc), np.nan).astype(np.float32)
    first_observed[0] = arrival[0]  # plugged in at reset: CityLearn observes the reset SOC
    if np.isnan(first_observed[after_idle]).any():
        row = int(np.flatnonzero(after_idle & np.isnan(first_observed))[0])
        raise NotImplementedError(f"{where}: row {row - 1} has no valid estimated arrival SOC")
    countdown = np.maximum(columns.departure_steps, 0)
    leaving = connected & (countdown > 0) & (countdown <= 1)
    return {
        "connected": connected,
        "new_session": new_session,
        "arrival_soc": arrival,
        "first_observed_soc": first_observed,
        "leaving": leaving,
        "required_soc": columns.required_soc,
        "departure_steps": columns.departure_steps,
    }


def session_table(per_socket: list[dict[str, np.ndarray]]) -> SessionTable:
    return SessionTable(
        **{
            name: np.stack([socket[name] for socket in per_socket], axis=1)
            for name in SessionTable.__dataclass_fields__
        }
    )


# ---------------------------------------------------------------- observations and spaces


def _series_bounds(values: np.ndarray) -> tuple[float, float]:
    return float(np.nanmin(values)), float(np.nanmax(values))


def _net_bounds(load_kwh: np.ndarray, pv_kwh: np.ndarray, battery: BatterySpec, hours: float) -> tuple[float, float]:
    """CityLearn's rough net-consumption bounds, in its float32 arithmetic (building.py
    estimate_observation_space_limits; no cooling, heating, hot water or escalator devices)."""
    storage_kwh = float(battery.nominal_power_kw) * hours
    low = load_kwh - (storage_kwh + pv_kwh)
    high = load_kwh + 0.0 + 0.0 + 0.0 + storage_kwh + 0 - pv_kwh
    return float(min(low.min(), 0.0)), float(high.max())


def _time_high(tables: list[ChargerColumns], column: str, rows: int) -> float:
    high = max(MIN_TIME_OBSERVATION_HIGH, float(rows))
    for table in tables:
        values = getattr(table, column).astype(float)
        high = max(high, float(values.size))
        valid = values[np.isfinite(values) & (values >= 0.0)]
        if valid.size:
            high = max(high, float(valid.max()))
    return high


def _charger_observation(
    helper: str, columns: ChargerColumns, sessions: dict, capacity_kwh: float, time_high: dict[str, float]
) -> tuple[np.ndarray, float, float]:
    """One socket's observation column for every row, and its bounds (CityLearn's building_ops.py
    update_ev_charger_observations)."""
    connected = sessions["connected"]
    incoming = columns.vehicle_labelled & (columns.state == STATE_INCOMING)
    if helper.endswith("connected_state"):
        return connected.astype(np.float32), 0.0, 1.0
    if helper.endswith("departure_time"):
        return np.where(connected, columns.departure_steps, NO_TIME).astype(np.float32), NO_TIME, time_high["departure"]
    if helper.endswith("required_soc_departure"):
        return np.where(connected, columns.required_soc, np.float32(NO_SOC)).astype(np.float32), NO_SOC, 1.0
    if helper.endswith("at_charger_soc"):
        return np.full(len(connected), NO_SOC, dtype=np.float32), NO_SOC, 1.0  # filled per step
    if helper.endswith("battery_capacity"):
        return np.where(connected, capacity_kwh, NO_CAPACITY).astype(np.float32), NO_CAPACITY, CAPACITY_OBSERVATION_HIGH
    if helper.endswith("incoming_state"):
        return incoming.astype(np.float32), 0.0, 1.0
    if helper.endswith("estimated_arrival_time"):
        return np.where(incoming, columns.arrival_in_steps, NO_TIME).astype(np.float32), NO_TIME, time_high["arrival"]
    return np.where(incoming, columns.estimated_soc_arrival, np.float32(NO_SOC)).astype(np.float32), NO_SOC, 1.0


def _building_series(folder: Path, building: dict, schema: dict) -> dict[str, np.ndarray]:
    energy = _read_table(folder / building["energy_simulation"], schema)
    weather = _read_table(folder / building["weather"], schema)
    pricing = _read_table(folder / building["pricing"], schema)
    carbon = _read_table(folder / building["carbon_intensity"], schema)
    pv = building.get("pv", {}).get("attributes", {})
    if str(pv.get("generation_mode", "per_kw")) not in ("per_kw", "w_per_kw", "profile"):
        raise NotImplementedError("pv.generation_mode: only W per kW of PV is simulated")
    hours = float(schema["seconds_per_time_step"]) / SECONDS_PER_HOUR
    solar_w_per_kw = _float32(energy, "solar_generation")
    # float32 throughout, as CityLearn computes it (energy_model.py PV.get_generation)
    pv_kwh = np.array(float(pv.get("nominal_power", 0.0)) * solar_w_per_kw / W_PER_KW * hours, dtype=np.float32)
    series = {
        name: np.array(energy[name].to_numpy(), dtype=np.int32) for name in CALENDAR_OBSERVATIONS if name in energy
    }
    series.update(
        {
            "non_shiftable_load": _float32(energy, "non_shiftable_load"),
            "solar_generation": pv_kwh,
            "carbon_intensity": _float32(carbon, "carbon_intensity"),
        }
    )
    series.update({name: _float32(pricing, name) for name in PRICING_OBSERVATIONS})
    series.update({name: _float32(weather, name) for name in WEATHER_OBSERVATIONS if name in weather})
    return series


def _building_observation_names(schema: dict) -> list[str]:
    return [
        name
        for name, spec in schema["observations"].items()
        if spec.get("active", False) and "electric_vehicle_" not in name
    ]


def _check_schema(schema: dict, building: dict) -> None:
    if len(schema["buildings"]) != 1:
        raise NotImplementedError("only one building is simulated")
    if int(schema["simulation_start_time_step"]) != 0 or schema.get("episode_time_steps") is not None:
        raise NotImplementedError("only whole-window episodes from step 0 are simulated")
    if float(schema["seconds_per_time_step"]) != SECONDS_PER_HOUR:
        raise NotImplementedError("only one-hour steps are simulated")
    if float(building.get("noise_std", 0.0) or 0.0) or any(
        float(c.get("noise_std", 0.0) or 0.0) for c in building["chargers"].values()
    ):
        raise NotImplementedError("noise_std: noisy data is not simulated")
    active_actions = [name for name, spec in schema["actions"].items() if spec.get("active", False)]
    if active_actions != ["electrical_storage", "electric_vehicle_storage"]:
        raise NotImplementedError(
            f"actions {active_actions}: only electrical_storage + electric_vehicle_storage are simulated"
        )


def load_station(folder: Path) -> StationData:
    """Read a dataset folder written by `evstation build-dataset`."""
    folder = Path(folder)
    schema = read_json(folder / "schema.json")
    check_step_files(folder, schema)
    (building,) = list(schema["buildings"].values())
    _check_schema(schema, building)
    hours = float(schema["seconds_per_time_step"]) / SECONDS_PER_HOUR
    series = _building_series(folder, building, schema)
    rows = len(series["non_shiftable_load"])
    chargers = building.get("chargers") or {}
    charger_ids = tuple(chargers)
    vehicles = {name: spec for name, spec in schema["electric_vehicles_def"].items() if spec.get("include", True)}
    tables = [charger_columns(_read_table(folder / spec["charger_simulation"], schema)) for spec in chargers.values()]
    vehicle_of = [_socket_vehicle(table, charger_id, vehicles) for table, charger_id in zip(tables, charger_ids)]
    battery = battery_spec(building["electrical_storage"]["attributes"])
    sockets = socket_spec(chargers, vehicles, vehicle_of)
    per_socket = [
        socket_sessions(table, vehicle, _initial_vehicle_soc(vehicles[vehicle]), f"charger {charger_id}")
        for table, vehicle, charger_id in zip(tables, vehicle_of, charger_ids)
    ]
    return _assemble(schema, series, rows, charger_ids, tables, per_socket, battery, sockets, hours)


def _socket_vehicle(table: ChargerColumns, charger_id: str, vehicles: dict) -> str:
    names = set(table.vehicle[table.vehicle_labelled])
    if len(names) > 1:
        raise NotImplementedError(f"charger {charger_id}: several vehicle entries at one socket are not simulated")
    if names and names <= set(vehicles):
        return names.pop()
    if names:
        raise NotImplementedError(f"charger {charger_id}: vehicle {names.pop()} is not in electric_vehicles_def")
    return next(iter(vehicles))  # a socket nobody visits: any entry, never plugged in


def _initial_vehicle_soc(vehicle: dict) -> np.float32:
    attributes = vehicle["battery"]["attributes"]
    if attributes.get("initial_soc") is None:
        raise NotImplementedError("vehicle initial_soc: CityLearn draws it at random when omitted")
    minimum = float(np.clip(1.0 - float(attributes.get("depth_of_discharge", 1.0)), 0.0, 1.0))
    return np.float32(max(float(attributes["initial_soc"]), minimum))


@dataclass
class _Columns:
    """Observation columns being collected: names, values per row, bounds."""

    names: list = field(default_factory=list)
    values: list = field(default_factory=list)
    lows: list = field(default_factory=list)
    highs: list = field(default_factory=list)

    def add(self, name: str, values: np.ndarray, low: float, high: float) -> int:
        self.names.append(name), self.values.append(values), self.lows.append(low), self.highs.append(high)
        return len(self.names) - 1


def _building_observations(
    columns: _Columns, schema: dict, series: dict, battery: BatterySpec, rows: int, hours: float
) -> dict:
    """The building's observations (schema order); returns the columns filled per step."""
    dynamic = {}
    for name in _building_observation_names(schema):
        if name == "net_electricity_consumption":
            low, high = _net_bounds(series["non_shiftable_load"], series["solar_generation"], battery, hours)
            dynamic["net"] = columns.add(name, np.zeros(rows, np.float32), low, high)
        elif name == "electrical_storage_soc":
            dynamic["battery_soc"] = columns.add(name, np.zeros(rows, np.float32), 0.0, 1.0)
        elif name in series:
            columns.add(name, series[name].astype(np.float32), *_series_bounds(series[name]))
        else:
            raise NotImplementedError(f"observation {name!r} is not simulated")
    return dynamic


def _charger_observations(
    columns: _Columns, schema: dict, charger_ids, tables, per_socket, sockets: SocketSpec, rows: int
) -> list[int]:
    """Each socket's observations in CityLearn's order; returns the vehicle SOC columns."""
    active = {name for name, spec in schema["observations"].items() if spec.get("active", False)}
    time_high = {
        "departure": _time_high(tables, "departure_steps", rows),
        "arrival": _time_high(tables, "arrival_in_steps", rows),
    }
    vehicle_soc = []
    for socket, (charger_id, table, sessions) in enumerate(zip(charger_ids, tables, per_socket)):
        for helper, pattern in CHARGER_HELPERS:
            if helper in active:
                values, low, high = _charger_observation(
                    helper, table, sessions, sockets.vehicle_capacity_kwh[socket], time_high
                )
                column = columns.add(pattern.format(id=charger_id), values, low, high)
                if helper.endswith("at_charger_soc"):
                    vehicle_soc.append(column)
    return vehicle_soc


def _assemble(schema, series, rows, charger_ids, tables, per_socket, battery, sockets, hours) -> StationData:
    columns = _Columns()
    dynamic = _building_observations(columns, schema, series, battery, rows, hours)
    vehicle_soc = _charger_observations(columns, schema, charger_ids, tables, per_socket, sockets, rows)
    return StationData(
        rows=rows,
        hours_per_step=hours,
        charger_ids=charger_ids,
        observation_names=tuple(columns.names),
        observation_low=np.array(columns.lows, dtype=np.float32),
        observation_high=np.array(columns.highs, dtype=np.float32),
        action_low=np.concatenate([[-1.0], np.zeros(len(charger_ids))]).astype(np.float32),  # no V2G: sockets from 0
        action_high=np.ones(1 + len(charger_ids), dtype=np.float32),
        observations=np.stack(columns.values, axis=1).astype(np.float32),
        net_column=dynamic.get("net"),
        battery_soc_column=dynamic.get("battery_soc"),
        vehicle_soc_columns=np.array(vehicle_soc, dtype=int) if vehicle_soc else None,
        load_kwh=series["non_shiftable_load"],
        pv_kwh=series["solar_generation"],
        pricing=series["electricity_pricing"],
        carbon_intensity=series["carbon_intensity"],
        battery=battery,
        sockets=sockets,
        sessions=session_table(per_socket),
        month=_calendar_column(series, "month", rows),
        hour=_calendar_column(series, "hour", rows),
    )


def _calendar_column(series: dict, name: str, rows: int) -> np.ndarray:
    """A calendar column of the energy simulation table (the demand charges' month and peak hours)."""
    if name not in series:
        raise NotImplementedError(f"energy simulation without a {name} column is not simulated")
    return np.asarray(series[name], dtype=int)[:rows]
