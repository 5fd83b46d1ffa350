"""The dataset round trip on the small station: what build-dataset writes is what CityLearn reads."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS, SMALL, data_dir, main_in_process, results_dir, run_cli_in_process, write_params
from evstation.config import SPLITS, VEHICLE_KINDS, apply_overrides, load_settings
from evstation.dataset import BUILDING_NAME, read_dataset
from evstation.errors import DataError
from evstation.simulation.citylearn_env import connected_vehicle_socs, make_citylearn_env, make_station_env
from evstation.simulation.fast_data import load_station

BATTERY_ATTRIBUTES = (
    "capacity",
    "nominal_power",
    "efficiency",
    "depth_of_discharge",
    "initial_soc",
    "loss_coefficient",
    "capacity_loss_coefficient",
    "power_efficiency_curve",
    "capacity_power_curve",
)
CHARGERS = [f"moto_{i:03d}" for i in range(6)] + [f"mototaxi_{i:03d}" for i in range(2)]
HORIZON = SMALL["simulation.horizon_hours"]


@pytest.fixture(scope="module")
def settings():
    return apply_overrides(load_settings(PARAMS), SMALL)


def split_dir(project: Path, split: str) -> Path:
    return data_dir(project) / split


def hashes(project: Path) -> dict[str, str]:
    root = data_dir(project)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module", params=SPLITS)
def split(request):
    return request.param


def test_folders_and_files(built_small):
    for name in SPLITS:
        folder = split_dir(built_small, name)
        files = {path.name for path in folder.iterdir()}
        expected = {
            "schema.json",
            "building.csv",
            "weather.csv",
            "pricing.csv",
            "carbon_intensity.csv",
            "profiles.csv",
            "sessions.csv",
            "arrivals.csv",
            "summary.json",
        }
        expected |= {f"charger_{c}.csv" for c in CHARGERS}
        assert files == expected, files ^ expected
    hidden = [p.relative_to(built_small).as_posix() for p in (built_small / "data").rglob(".*")]
    assert hidden == ["data/mall/.citylearn.lock"], "no staging leftovers, only the dataset's lock beside it"


def test_schema_loads_and_describes_the_station(built_small, split, settings):
    schema = json.loads((split_dir(built_small, split) / "schema.json").read_text())
    assert schema["central_agent"] is True
    assert schema["random_seed"] == settings.splits[split].seed
    assert schema["simulation_start_time_step"] == 0
    assert schema["simulation_end_time_step"] == HORIZON
    assert schema["seconds_per_time_step"] == 3600
    building = schema["buildings"][BUILDING_NAME]
    assert list(building["chargers"]) == CHARGERS
    assert building["pv"]["attributes"]["nominal_power"] == settings.pv.dc_capacity_kwp
    assert building["pv"]["autosize"] is False
    for charger, definition in building["chargers"].items():
        kind = charger.split("_")[0]
        attributes = definition["attributes"]
        assert definition["charger_simulation"] == f"charger_{charger}.csv"
        assert attributes["max_charging_power"] == settings.sockets.group(kind).power_kw
        assert attributes["efficiency"] == pytest.approx(settings.sockets.efficiency_pct / 100)
        assert attributes["max_discharging_power"] == 0.0
    for name in ("energy_simulation", "weather", "pricing", "carbon_intensity"):
        assert (split_dir(built_small, split) / building[name]).is_file()


def test_plugged_rows_name_defined_vehicles(built_small, split):
    folder = split_dir(built_small, split)
    schema = json.loads((folder / "schema.json").read_text())
    defined = set(schema["electric_vehicles_def"])
    assert len(defined) == len(CHARGERS)
    sessions = pd.read_csv(folder / "sessions.csv")
    plugged_total = 0
    for charger in CHARGERS:
        table = pd.read_csv(folder / f"charger_{charger}.csv")
        assert len(table) == HORIZON
        state = table["electric_vehicle_charger_state"].to_numpy()
        assert set(state) <= {1, 2, 3}
        plugged = state == 1
        plugged_total += int(plugged.sum())
        ids = table.loc[plugged, "electric_vehicle_id"]
        assert ids.isin(defined).all(), set(ids) - defined
        # incoming rows also name a defined vehicle; idle rows name none
        assert table.loc[state == 2, "electric_vehicle_id"].isin(defined).all()
        assert table.loc[state == 3, "electric_vehicle_id"].isna().all()
        # the plugged-in rows are exactly this socket's sessions, with the right departure countdown and SOCs
        own = sessions[sessions["charger_id"] == charger]
        expected = np.zeros(HORIZON, dtype=bool)
        for row in own.itertuples(index=False):
            expected[row.arrival_step : row.departure_step] = True
            countdown = table["electric_vehicle_departure_time"].to_numpy()[row.arrival_step : row.departure_step]
            np.testing.assert_array_equal(countdown, np.arange(row.stay_steps, 0, -1))
            assert table["electric_vehicle_current_soc"][row.arrival_step] == pytest.approx(row.arrival_soc_pct / 100)
            required = table["electric_vehicle_required_soc_departure"].to_numpy()[
                row.arrival_step : row.departure_step
            ]
            np.testing.assert_allclose(required, row.required_soc_pct / 100)
        np.testing.assert_array_equal(plugged, expected)
        # back-to-back visitors are told apart by a text session id
        labels = table.loc[plugged, "electric_vehicle_session_id"]
        assert labels.str.startswith("s").all()
        assert labels.nunique() == len(own)
    assert plugged_total == sessions["stay_steps"].sum() > 0


def test_solar_generation_is_w_per_kw(built_small, split, settings):
    folder = split_dir(built_small, split)
    building = pd.read_csv(folder / "building.csv")
    profiles = pd.read_csv(folder / "profiles.csv")
    schema = json.loads((folder / "schema.json").read_text())
    nominal = schema["buildings"][BUILDING_NAME]["pv"]["attributes"]["nominal_power"]
    per_kw = building["solar_generation"].to_numpy()
    assert len(building) == len(profiles) == HORIZON
    assert per_kw.min() >= 0
    assert 300 < per_kw.max() <= 1000
    np.testing.assert_allclose(nominal * per_kw / 1000, profiles["pv_kwh"], rtol=1e-9, atol=1e-6)
    assert profiles["pv_kwh"].max() <= settings.pv.inverter_ac_limit_kw
    assert (per_kw[profiles["ghi_w_m2"].to_numpy() <= 0] == 0).all()
    np.testing.assert_allclose(building["non_shiftable_load"], profiles["mall_kwh"], rtol=1e-12)


def test_time_columns(built_small, split, settings):
    folder = split_dir(built_small, split)
    building = pd.read_csv(folder / "building.csv")
    year = settings.splits[split].year
    start = pd.Timestamp(year, 1, 1)
    stamps = pd.date_range(start, periods=HORIZON, freq="h")
    np.testing.assert_array_equal(building["hour"], stamps.hour + 1)
    np.testing.assert_array_equal(building["month"], stamps.month)
    np.testing.assert_array_equal(building["day_type"], stamps.dayofweek + 1)
    pricing = pd.read_csv(folder / "pricing.csv")
    peak = (stamps.hour >= settings.tariff.peak_start_hour) & (stamps.hour < settings.tariff.peak_end_hour)
    np.testing.assert_allclose(
        pricing["electricity_pricing"],
        np.where(peak, settings.tariff.peak_pen_per_kwh, settings.tariff.offpeak_pen_per_kwh),
    )
    np.testing.assert_allclose(pricing["electricity_pricing_predicted_1"], np.roll(pricing["electricity_pricing"], -1))
    carbon = pd.read_csv(folder / "carbon_intensity.csv")
    np.testing.assert_allclose(carbon["carbon_intensity"], settings.emissions.grid_kg_per_kwh)
    for name in ("building.csv", "weather.csv", "pricing.csv", "carbon_intensity.csv"):
        table = pd.read_csv(folder / name)
        assert len(table) == HORIZON and not table.isna().to_numpy().any(), name


def test_battery_and_vehicle_physics_explicit(built_small, split, settings):
    schema = json.loads((split_dir(built_small, split) / "schema.json").read_text())
    storage = schema["buildings"][BUILDING_NAME]["electrical_storage"]
    assert storage["autosize"] is False
    battery = storage["attributes"]
    assert set(BATTERY_ATTRIBUTES) <= set(battery)
    assert battery["capacity"] == 4520.0 and battery["nominal_power"] == 2712.0
    assert battery["efficiency"] == pytest.approx(0.90)
    assert battery["depth_of_discharge"] == pytest.approx(0.80)
    assert battery["initial_soc"] == pytest.approx(0.50)
    assert battery["loss_coefficient"] == 0.0 and battery["capacity_loss_coefficient"] == 0.0
    assert all(point[1] == pytest.approx(0.90) for point in battery["power_efficiency_curve"])
    assert all(point[1] == pytest.approx(1.0) for point in battery["capacity_power_curve"])
    for name, definition in schema["electric_vehicles_def"].items():
        attributes = definition["battery"]["attributes"]
        assert set(BATTERY_ATTRIBUTES) <= set(attributes), name
        kind = name.removeprefix("ev_").split("_")[0]
        assert attributes["capacity"] == settings.vehicles.kind(kind).battery_kwh
        assert attributes["nominal_power"] == settings.sockets.group(kind).power_kw
        assert attributes["efficiency"] == 1.0 and attributes["depth_of_discharge"] == 1.0


@pytest.fixture(scope="module")
def rollout(built_small):
    """The train split driven in CityLearn for the whole horizon: battery idle, every socket at full power."""
    env = make_citylearn_env(split_dir(built_small, "train") / "schema.json")
    env.reset()
    actions = [[0.0] + [1.0] * len(CHARGERS)]
    n_actions = env.action_space[0].shape[0]
    steps, socs = 0, []
    while True:
        result = env.step(actions)
        socs.append(connected_vehicle_socs(env, steps))
        steps += 1
        if result[2] or result[3] or steps > 2 * HORIZON:
            break
    return env, n_actions, steps, socs


def test_citylearn_loads_with_one_action_per_socket_plus_battery(rollout):
    env, n_actions, steps, _ = rollout
    assert n_actions == 1 + len(CHARGERS)
    assert steps == HORIZON, "every hour of the horizon is controlled"
    chargers = env.buildings[0].electric_vehicle_chargers
    assert [c.charger_id for c in chargers] == CHARGERS


def test_citylearn_serves_every_session(built_small, rollout, settings):
    """At full power every session leaves with its required SOC: the chargers see the vehicles."""
    env, _, _, socs = rollout
    sessions = pd.read_csv(split_dir(built_small, "train") / "sessions.csv")
    chargers = env.buildings[0].electric_vehicle_chargers
    index = {c.charger_id: i for i, c in enumerate(chargers)}
    short = []
    for row in sessions.itertuples(index=False):
        soc = socs[row.departure_step - 1][index[row.charger_id]]
        if soc is None or soc < row.required_soc_pct / 100 - 1e-4:
            short.append((row.session_id, soc))
    assert not short, short[:5]
    drawn_kwh = sum(float(np.sum(c.electricity_consumption[:HORIZON])) for c in chargers)
    delivered_kwh = drawn_kwh * settings.sockets.efficiency_pct / 100
    to_full_kwh = ((100 - sessions["arrival_soc_pct"]) / 100 * sessions["battery_kwh"]).sum()
    assert sessions["energy_required_kwh"].sum() <= delivered_kwh <= to_full_kwh + 1e-3


def test_summary_consistent_with_tables(built_small, split, settings):
    folder = split_dir(built_small, split)
    summary = json.loads((folder / "summary.json").read_text())
    sessions = pd.read_csv(folder / "sessions.csv")
    arrivals = pd.read_csv(folder / "arrivals.csv")
    profiles = pd.read_csv(folder / "profiles.csv")
    days = HORIZON / 24
    assert summary["split"] == split
    assert summary["sessions"] == len(sessions) > 0
    assert summary["ev_energy_kwh_per_day"] == pytest.approx(sessions["energy_required_kwh"].sum() / days)
    assert summary["arrivals"] == arrivals[[f"{k}_arrivals" for k in VEHICLE_KINDS]].to_numpy().sum()
    assert summary["turned_away"] == arrivals[[f"{k}_turned_away" for k in VEHICLE_KINDS]].to_numpy().sum()
    assert summary["arrivals"] == summary["sessions"] + summary["turned_away"]
    for kind in VEHICLE_KINDS:
        of_kind = sessions[sessions["kind"] == kind]
        assert summary[f"sessions_per_day_{kind}"] == pytest.approx(len(of_kind) / days)
        assert summary[f"ev_energy_kwh_per_day_{kind}"] == pytest.approx(of_kind["energy_required_kwh"].sum() / days)
        assert summary[f"turned_away_{kind}"] == arrivals[f"{kind}_turned_away"].sum()
        vehicle = settings.vehicles.kind(kind)  # turned away: counted at the kind's mean arrival SOC
        wanted_kwh = (vehicle.required_soc_pct - vehicle.arrival_soc_pct) / 100 * vehicle.battery_kwh
        assert summary[f"turned_away_energy_kwh_{kind}"] == pytest.approx(summary[f"turned_away_{kind}"] * wanted_kwh)
    assert summary["turned_away_energy_kwh"] == pytest.approx(
        sum(summary[f"turned_away_energy_kwh_{kind}"] for kind in VEHICLE_KINDS)
    )
    assert sum(summary["arrivals_by_hour"]) == summary["arrivals"] and len(summary["arrivals_by_hour"]) == 24
    assert sum(summary["turned_away_by_hour"]) == summary["turned_away"] and len(summary["turned_away_by_hour"]) == 24
    closed = [
        hour for hour in range(24) if not settings.opening_hours.open_hour <= hour < settings.opening_hours.close_hour
    ]
    assert all(summary["arrivals_by_hour"][hour] == 0 for hour in closed)
    factor = profiles["emission_factor_kg_per_kwh"]
    assert summary["emission_factor_kg_per_kwh_mean"] == pytest.approx(factor.mean())
    assert summary["emission_factor_kg_per_kwh_min"] <= summary["emission_factor_kg_per_kwh_max"]
    assert summary["pv_ac_kwh"] == pytest.approx(profiles["pv_kwh"].sum())
    assert summary["mall_kwh"] == pytest.approx(profiles["mall_kwh"].sum())
    assert summary["ghi_kwh_m2"] == pytest.approx(profiles["ghi_w_m2"].sum() / 1000)
    assert summary["pv_yield_kwh_per_kwp"] == pytest.approx(summary["pv_ac_kwh"] / settings.pv.dc_capacity_kwp)
    overall = json.loads((results_dir(built_small) / "dataset" / "summary.json").read_text())
    assert overall[split] == summary


def test_read_dataset_round_trip(built_small, split):
    dataset = read_dataset(split_dir(built_small, split))
    assert dataset.chargers == CHARGERS
    assert len(dataset.profiles) == HORIZON
    assert dataset.summary["sessions"] == len(dataset.sessions)
    assert len(dataset.charger_table("moto_000")) == HORIZON


def _cut(path: Path, where: str) -> None:
    """Cut a file short as a full disk or a killed copy does: after its 43rd line, or inside its last line."""
    data = path.read_bytes()
    path.write_bytes(b"".join(data.splitlines(keepends=True)[:43]) if where == "at a line end" else data[:-3])


@pytest.mark.parametrize("where", ["at a line end", "inside a line"])
@pytest.mark.parametrize("name", ["building.csv", "charger_mototaxi_001.csv"])
def test_a_dataset_file_cut_short_is_named_before_a_simulator_reads_it(built_small, tmp_path, settings, name, where):
    """CityLearn stops on a short file with a traceback, and reads a cut last line as missing values: both
    simulators' readers refuse it first, naming the file and the rebuild."""
    folder = tmp_path / "eval"
    shutil.copytree(split_dir(built_small, "eval"), folder)
    _cut(folder / name, where)
    readers = {
        "station env": lambda: make_station_env(settings, folder),
        "citylearn env": lambda: make_citylearn_env(folder / "schema.json"),
        "fast twin": lambda: load_station(folder),
    }
    for reader, call in readers.items():
        with pytest.raises(DataError, match=re.escape(str(folder / name))) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "cut short" in message and "evstation build-dataset" in message, (
            reader,
            message,
        )


def test_a_table_cut_short_is_named(built_small, tmp_path):
    folder = tmp_path / "train"
    shutil.copytree(split_dir(built_small, "train"), folder)
    _cut(folder / "profiles.csv", "inside a line")
    with pytest.raises(DataError, match=re.escape(f"{folder / 'profiles.csv'}: cut short")):
        read_dataset(folder)


def test_baseline_on_a_dataset_cut_short_is_one_line(built_small, tmp_path, capsys):
    project = tmp_path / "project"
    shutil.copytree(built_small, project)
    _cut(split_dir(project, "eval") / "building.csv", "at a line end")
    record = results_dir(project) / "metrics" / "uncontrolled.json"
    before = record.read_bytes() if record.is_file() else None
    capsys.readouterr()
    assert main_in_process("--quiet", "baseline", "uncontrolled", cwd=project) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith("evstation: error: data/mall/citylearn/eval/building.csv: cut short"), lines
    assert (record.read_bytes() if record.is_file() else None) == before, "no record of the refused run"


def test_train_and_eval_differ(built_small):
    train, eval_ = (pd.read_csv(split_dir(built_small, s) / "building.csv") for s in SPLITS)
    assert not np.allclose(train["solar_generation"], eval_["solar_generation"])
    assert not np.allclose(train["non_shiftable_load"], eval_["non_shiftable_load"])
    sessions = [pd.read_csv(split_dir(built_small, s) / "sessions.csv") for s in SPLITS]
    assert not sessions[0][["arrival_step", "charger_id"]].equals(sessions[1][["arrival_step", "charger_id"]])


def test_build_is_byte_identical(built_small, tmp_path):
    write_params(tmp_path)
    run_cli_in_process("build-dataset", cwd=tmp_path)
    first, second = hashes(built_small), hashes(tmp_path)
    assert len(first) == 2 * (9 + len(CHARGERS)) + 1  # each split's files and the build's parameters.json
    assert first == second, sorted(name for name in first if first[name] != second.get(name))
    assert (results_dir(tmp_path) / "dataset" / "summary.json").read_bytes() == (
        results_dir(built_small) / "dataset" / "summary.json"
    ).read_bytes()


def test_fleet_change_leaves_weather_and_mall_alone(built_small, tmp_path):
    write_params(tmp_path, {"fleet.daily_arrivals": {"moto": 30, "mototaxi": 10}})
    run_cli_in_process("build-dataset", "--split", "train", cwd=tmp_path)
    before, after = split_dir(built_small, "train"), split_dir(tmp_path, "train")
    assert not (data_dir(tmp_path) / "eval").exists()
    for name in ("building.csv", "weather.csv", "pricing.csv", "carbon_intensity.csv"):
        assert (before / name).read_bytes() == (after / name).read_bytes(), name
    old, new = (pd.read_csv(folder / "sessions.csv") for folder in (before, after))
    assert len(new) != len(old) or not old[["arrival_step", "charger_id"]].equals(new[["arrival_step", "charger_id"]])
    old_arrivals, new_arrivals = (pd.read_csv(folder / "arrivals.csv") for folder in (before, after))
    assert new_arrivals["moto_arrivals"].sum() < old_arrivals["moto_arrivals"].sum()


def test_seed_change_changes_the_split(built_small, tmp_path, settings):
    write_params(tmp_path, {"splits.train.seed": 7})
    run_cli_in_process("build-dataset", "--split", "train", cwd=tmp_path)
    before, after = split_dir(built_small, "train"), split_dir(tmp_path, "train")
    for name in ("building.csv", "weather.csv", "sessions.csv"):
        assert (before / name).read_bytes() != (after / name).read_bytes(), name
    assert json.loads((after / "schema.json").read_text())["random_seed"] == 7
