"""The typed params loader: the real params.yaml loads, and every kind of mistake is one clear
ConfigError naming the key path, through the API and through the command line."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from conftest import PARAMS, run_cli, with_station_only
from evstation.config import (
    REWARD_COMPONENTS,
    Settings,
    apply_overrides,
    load_settings,
    scenario_settings,
    settings_from_data,
)
from evstation.errors import ConfigError, UserError
from evstation.schema import build


@pytest.fixture(scope="module")
def real_data() -> dict:
    """The project's params.yaml as plain YAML data (never modified: tests deep-copy it)."""
    return yaml.safe_load(PARAMS.read_text())


def write_yaml(folder: Path, data, name: str = "params.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def mutated(data: dict, dotted: str, value=..., *, delete: bool = False) -> dict:
    """A deep copy of `data` with the dotted key set to `value` (created if absent) or deleted."""
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def renamed(data: dict, dotted: str, new_leaf: str) -> dict:
    data = copy.deepcopy(data)
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[new_leaf] = node.pop(leaf)
    return data


def config_error(tmp_path: Path, data) -> str:
    path = write_yaml(tmp_path, data)
    with pytest.raises(ConfigError, match=r"^\S+: \S") as caught:  # the key or file, then what is wrong
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message, f"a config error is one line: {message!r}"
    return message


# ---------------------------------------------------------------- the real file


def test_real_params_load_with_domain_values():
    settings = load_settings(PARAMS)
    assert isinstance(settings, Settings)
    assert settings.site.latitude_deg == -3.75 and settings.site.longitude_deg == -73.25
    assert settings.pv.dc_capacity_kwp == 4162.0 and settings.pv.tilt_deg == 10.0 and settings.pv.azimuth_deg == 0.0
    assert settings.battery.capacity_kwh == 4520.0 and settings.battery.power_kw == 2712.0
    assert settings.sockets.moto.count == 112 and settings.sockets.mototaxi.count == 16
    assert settings.sockets.total == 128
    installed_kw = sum(
        settings.sockets.group(k).count * settings.sockets.group(k).power_kw for k in ("moto", "mototaxi")
    )
    assert installed_kw == pytest.approx(272.0)
    assert settings.simulation.horizon_hours == 8760
    assert settings.splits["train"].seed != settings.splits["eval"].seed
    assert set(settings.reward.weights) == set(REWARD_COMPONENTS)
    assert sum(settings.reward.weights.values()) == pytest.approx(1.0)
    assert settings.emissions.gasoline_avoided_kg_per_kwh == pytest.approx(2.596, abs=5e-4)
    assert isinstance(settings.sockets.moto.count, int)
    assert isinstance(settings.pv.dc_capacity_kwp, float)
    assert isinstance(settings.mall.weekday_profile_kw, tuple) and len(settings.mall.weekday_profile_kw) == 24


def test_settings_are_frozen():
    settings = load_settings(PARAMS)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'tilt_deg'"):
        settings.pv.tilt_deg = 20.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="does not support item assignment"):
        settings.reward.weights["co2"] = 1.0  # type: ignore[index]


def test_settings_round_trip_through_yaml(tmp_path):
    settings = load_settings(PARAMS)
    path = write_yaml(tmp_path, settings.as_params())
    assert load_settings(path).as_dict() == settings.as_dict()
    for scenario in settings.scenarios:
        assert load_settings(path, scenario).as_dict() == load_settings(PARAMS, scenario).as_dict()


def test_integer_accepted_where_a_number_is_expected(tmp_path, real_data):
    settings = load_settings(write_yaml(tmp_path, mutated(real_data, "pv.dc_capacity_kwp", 4000)))
    assert settings.pv.dc_capacity_kwp == 4000.0 and isinstance(settings.pv.dc_capacity_kwp, float)


def test_apply_overrides_validates_and_names_the_key():
    settings = load_settings(PARAMS)
    changed = apply_overrides(settings, {"sockets.moto.count": 4, "pv.tilt_deg": 15.0})
    assert changed.sockets.moto.count == 4 and changed.pv.tilt_deg == 15.0
    assert settings.sockets.moto.count == 112, "overrides never change the original settings"
    with pytest.raises(ConfigError, match=r"^pv\.tilt_degs: unknown key"):
        apply_overrides(settings, {"pv.tilt_degs": 15.0})
    with pytest.raises(ConfigError, match=r"^sockets\.moto\.count\.x: unknown key"):  # below a value, not a mapping
        apply_overrides(settings, {"sockets.moto.count.x": 1})
    assert apply_overrides(settings, {"sockets.moto.count": 4}).as_params()["sockets"]["moto"]["count"] == 4
    with pytest.raises(ConfigError, match=r"^pv\.tilt_deg: must be <= 90"):
        apply_overrides(settings, {"pv.tilt_deg": 95.0})


# ---------------------------------------------------------------- every kind of error


def _weights(**changes):
    weights = {"co2": 0.50, "solar": 0.20, "cost": 0.15, "ev_satisfaction": 0.10, "grid_stability": 0.05}
    weights.update(changes)
    return {k: v for k, v in weights.items() if v is not None}


BAD = [
    # (id, dotted key, value or "DELETE" or ("RENAME", new leaf), message start, extra words in message)
    ("unknown top-level key", "colour", "blue", "colour: unknown key", ()),
    ("misspelled nested key", "pv.tilt_deg", ("RENAME", "tilt_degs"), "pv.tilt_degs: unknown key", ("tilt_deg",)),
    ("misspelled deep key", "sockets.moto.count", ("RENAME", "cuont"), "sockets.moto.cuont: unknown key", ()),
    ("missing key", "battery.power_kw", "DELETE", "battery.power_kw: missing key", ()),
    ("missing section", "mall", "DELETE", "mall: missing key", ()),
    ("text for a number", "pv.dc_capacity_kwp", "lots", "pv.dc_capacity_kwp: expected a number", ("lots",)),
    ("number for a bool", "tariff.export_enabled", 1, "tariff.export_enabled: expected true or false", ()),
    ("float for an int", "sockets.moto.count", 4.5, "sockets.moto.count: expected a whole number", ("4.5",)),
    ("float-valued int", "simulation.horizon_hours", 168.0, "simulation.horizon_hours: expected a whole number", ()),
    ("bool for an int", "sockets.mototaxi.count", True, "sockets.mototaxi.count: expected a whole number", ()),
    ("text for an int", "splits.train.seed", "2023", "splits.train.seed: expected a whole number", ()),
    ("mapping expected", "pv", [1, 2], "pv: expected a mapping", ()),
    ("list expected", "mall.weekday_profile_kw", 500, "mall.weekday_profile_kw: expected a list", ()),
    ("wrong profile length", "mall.weekday_profile_kw", [500.0] * 23, "mall.weekday_profile_kw: needs 24", ()),
    (
        "negative in a list",
        "mall.weekday_profile_kw",
        [500.0] * 23 + [-1.0],
        "mall.weekday_profile_kw[23]: must be >= 0",
        (),
    ),
    ("unknown choice", "objective", "city", "objective: must be one of", ("grid_co2", "bill")),
    ("not finite", "pv.albedo", float("nan"), "pv.albedo: must be a finite number", ()),
    ("negative capacity", "battery.capacity_kwh", -10.0, "battery.capacity_kwh: must be > 0", ("-10",)),
    ("negative pv", "pv.dc_capacity_kwp", -1.0, "pv.dc_capacity_kwp: must be >= 0", ()),
    ("tilt 95", "pv.tilt_deg", 95.0, "pv.tilt_deg: must be <= 90", ("95",)),
    ("azimuth 360", "pv.azimuth_deg", 360.0, "pv.azimuth_deg: must be < 360", ()),
    ("min soc above initial", "battery.min_soc_pct", 60.0, "battery.initial_soc_pct:", ("min_soc_pct", "60")),
    ("leap year eval", "splits.eval.year", 2024, "splits.eval.year: 2024 is a leap year", ()),
    ("leap year train", "splits.train.year", 2020, "splits.train.year: 2020 is a leap year", ()),
    ("identical seeds", "splits.eval.seed", 2023, "splits.eval.seed: must differ", ("splits.train.seed",)),
    ("negative seed", "splits.train.seed", -1, "splits.train.seed: must be >= 0", ()),
    ("missing split", "splits.eval", "DELETE", "splits:", ("eval",)),
    (
        "horizon not whole days",
        "simulation.horizon_hours",
        100,
        "simulation.horizon_hours: must be whole days",
        ("100",),
    ),
    ("horizon beyond a year", "simulation.horizon_hours", 8784, "simulation.horizon_hours: must be <= 8760", ()),
    ("weights sum 1.1", "reward.weights", _weights(co2=0.6), "reward.weights: must sum to 1", ("1.1",)),
    ("weights sum 0.9", "reward.weights", _weights(co2=0.4), "reward.weights: must sum to 1", ("0.9",)),
    (
        "missing component",
        "reward.weights",
        _weights(grid_stability=None, co2=0.55),
        "reward.weights: missing grid_stability",
        (),
    ),
    (
        "unknown component",
        "reward.weights",
        {**_weights(co2=0.45), "comfort": 0.05},
        "reward.weights: unknown comfort",
        (),
    ),
    ("negative weight", "reward.weights", _weights(co2=0.6, solar=-0.1), "reward.weights.solar: must be >= 0", ()),
    ("weather source without files", "weather.source", "file", "weather.files: required", ()),
    ("close before open", "opening_hours.close_hour", 8, "opening_hours.close_hour: must be after open_hour", ()),
    ("fleet kinds", "fleet.daily_arrivals", {"moto": 900}, "fleet.daily_arrivals: needs exactly the kinds", ()),
    (
        "negative arrivals",
        "fleet.daily_arrivals",
        {"moto": -5, "mototaxi": 130},
        "fleet.daily_arrivals.moto: must be >= 0",
        (),
    ),
    ("required soc below arrival", "vehicles.moto.required_soc_pct", 20.0, "vehicles.moto.required_soc_pct:", ()),
    ("no sockets", "sockets.moto.count", 0, None, ()),  # handled below with mototaxi 0 too
    ("repeated seed", "training.seeds", [0, 1, 0], "training.seeds: seed 0 is listed twice", ("[0, 1, 0]",)),
    ("zero limit", "inputs.limits.load_kwh_max", 0.0, "inputs.limits.load_kwh_max: must be > 0", ()),
    ("text limit", "inputs.limits.price_pen_per_kwh_max", "5 PEN", "inputs.limits.price_pen_per_kwh_max:", ("number",)),
    ("missing limit", "inputs.limits.irradiance_w_per_m2_max", "DELETE", "inputs.limits.irradiance_w_per_m2_max:", ()),
    ("unknown limit", "inputs.limits.wind_max", 1.0, "inputs.limits.wind_max: unknown key", ()),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0] for case in BAD])
def test_config_error_names_the_key(tmp_path, real_data, case):
    _, dotted, change, start, words = case
    if start is None:
        data = mutated(mutated(real_data, dotted, 0), "sockets.mototaxi.count", 0)
        start = "sockets: at least one socket"
    elif change == "DELETE":
        data = mutated(real_data, dotted, delete=True)
    elif isinstance(change, tuple) and change[0] == "RENAME":
        data = renamed(real_data, dotted, change[1])
    else:
        data = mutated(real_data, dotted, change)
    message = config_error(tmp_path, data)
    assert message.startswith(start), message
    for word in words:
        assert word in message, message


def test_session_that_cannot_fit_opening_hours(tmp_path, real_data):
    data = mutated(real_data, "vehicles.mototaxi.battery_kwh", 100.0)
    message = config_error(tmp_path, data)
    assert message.startswith("vehicles.mototaxi:") and "kWh" in message


def test_missing_params_file(tmp_path):
    path = tmp_path / "nowhere" / "params.yaml"
    with pytest.raises(ConfigError, match="parameters file not found") as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("text", ["pv: {tilt_deg: 10\n", "a: [1, 2\nb: 3\n", "pv:\n  tilt: 1\n bad: 2\n"])
def test_invalid_yaml(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just text\n"])
def test_params_not_a_mapping(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_settings(path)


def test_config_error_is_a_user_error():
    assert issubclass(ConfigError, UserError)


def test_build_rejects_data_directly(real_data):
    data = renamed(real_data, "battery.capacity_kwh", "capacity_kw")
    with pytest.raises(ConfigError, match=r"^battery\.capacity_kw: unknown key"):
        build(Settings, data)


# ---------------------------------------------------------------- through the command line

CLI_BAD = [
    ("misspelled", lambda d: renamed(d, "pv.tilt_deg", "tilt_degs"), "pv.tilt_degs"),
    ("leap year", lambda d: mutated(d, "splits.eval.year", 2024), "splits.eval.year"),
    ("weights", lambda d: mutated(d, "reward.weights", _weights(co2=0.6)), "reward.weights"),
    ("wrong type", lambda d: mutated(d, "battery.capacity_kwh", "big"), "battery.capacity_kwh"),
]


@pytest.mark.parametrize("name, change, key", CLI_BAD, ids=[case[0] for case in CLI_BAD])
def test_cli_build_dataset_rejects_bad_params(tmp_path, real_data, name, change, key):
    write_yaml(tmp_path, change(real_data))
    result = run_cli("build-dataset", cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("evstation: error:"), lines[0]
    assert key in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "results").exists()


def test_cli_missing_params_file(tmp_path):
    result = run_cli("build-dataset", cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evstation: error:") and "params.yaml" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_cli_invalid_yaml_and_explicit_params_path(tmp_path):
    (tmp_path / "custom.yaml").write_text("pv: {tilt_deg: 10\n")
    result = run_cli("--params", "custom.yaml", "validate", cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evstation: error:")
    assert "custom.yaml" in lines[0] and "YAML" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_scenarios_are_named_overrides(tmp_path):
    settings = load_settings(PARAMS)
    assert list(settings.scenarios) == ["mall", "mall_mt3"] and settings.scenario == "mall"
    station = scenario_settings(apply_overrides(settings, with_station_only()), "station_only")
    assert station.scenario == "station_only" and not station.mall.enabled and settings.mall.enabled
    mt3 = load_settings(PARAMS, "mall_mt3")
    assert mt3.objective == "bill" and mt3.tariff.demand.generation_pen_per_kw_month == 56.09
    assert mt3.tariff.peak_pen_per_kwh == settings.tariff.peak_pen_per_kwh  # what it does not override stays
    data = yaml.safe_load(PARAMS.read_text())
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({**data, "scenarios": {"hot_day": {"site": {"altitude_m": 5.0}}}}, sort_keys=False)
    )
    assert load_settings(tmp_path / "params.yaml").site.altitude_m == 5.0  # any name, any key
    result = run_cli("--scenario", "mall", "build-dataset", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "scenario mall: not in scenarios (hot_day)" in result.stderr


@pytest.mark.parametrize(
    "scenarios, message",
    [
        (
            {"mt3": {"tariff": {"demand": {"generation_pen_per_kw_month": -1.0}}}},
            "scenario mt3: tariff.demand.generation_pen_per_kw_month: must be >= 0",
        ),
        ({"mt3": {"tarif": {}}}, "scenario mt3: tarif: unknown key"),
        (
            {"mt3": {"mall": {"load_files": {"train": "a.csv"}}}},
            "scenario mt3: mall.load_files: needs one file per split",
        ),
        ({"bad name": {}}, "scenarios.bad name: a name of letters"),
        ({"mt3": [1]}, "scenarios.mt3: expected a mapping"),
        ({}, "scenarios: needs a mapping"),
        (["mall"], "scenarios: needs a mapping"),
    ],
)
def test_a_scenario_mistake_names_the_scenario_and_the_key(tmp_path, scenarios, message):
    data = yaml.safe_load(PARAMS.read_text())
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump(
            {
                **data,
                "scenarios": {"mall": {}, **scenarios} if isinstance(scenarios, dict) and scenarios else scenarios,
            },
            sort_keys=False,
        )
    )
    result = run_cli("--scenario", "mall", "validate", cwd=tmp_path, check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_is_refused_in_one_line(tmp_path):
    data = yaml.safe_load(PARAMS.read_text())
    data["tariff"]["export_enabled"] = True
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError, match="tariff.export_enabled: export is not modelled"):
        load_settings(tmp_path / "params.yaml")


def test_a_key_written_twice_is_refused(tmp_path):
    text = PARAMS.read_text().replace("  capacity_kwh: 4520.0\n", "  capacity_kwh: 4520.0\n  capacity_kwh: 45.0\n")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match="key 'capacity_kwh' written twice"):
        load_settings(tmp_path / "params.yaml")


def test_the_input_limits_are_those_of_params():
    limits = load_settings(PARAMS).inputs.limits
    assert (limits.load_kwh_max, limits.irradiance_w_per_m2_max) == (10000.0, 1400.0)
    assert (limits.price_pen_per_kwh_max, limits.emission_factor_kg_per_kwh_max) == (5.0, 2.0)


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "true", "False"])
def test_a_scenario_name_yaml_reads_as_a_boolean_is_refused(tmp_path, word):
    """`on:` is the boolean true to YAML 1.1 (PyYAML, Snakemake): the scenario would be called True."""
    text = PARAMS.read_text()
    assert "\n  mall: {}" in text
    (tmp_path / "params.yaml").write_text(text.replace("\n  mall: {}", f"\n  mall: {{}}\n  {word}: {{}}", 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "params.yaml")
    message = str(caught.value)
    assert "\n" not in message and f"scenarios.{word}:" in message and f"scenario {word} " in message, message
    assert f"quote it ('{word}':)" in message, message
    quoted = text.replace("\n  mall: {}", f"\n  mall: {{}}\n  '{word}': {{}}", 1)
    (tmp_path / "params.yaml").write_text(quoted)
    assert word in load_settings(tmp_path / "params.yaml").scenarios, "quoted, it is a name"


def test_a_boolean_scenario_name_in_data_is_refused(real_data):
    data = {**copy.deepcopy(real_data), "scenarios": {"mall": {}, True: {}}}
    with pytest.raises(ConfigError, match=r"^scenarios\.True: .*quote its name"):
        settings_from_data(data)


def test_a_params_folder_is_named_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a parameters file") as caught:
        load_settings(tmp_path)
    assert str(tmp_path) in str(caught.value) and "not found" not in str(caught.value)


def test_a_number_in_exponent_form_without_a_dot_is_a_number(tmp_path):
    """`dvc exp run -S agents.ppo.learning_rate=0.00003` writes `3e-05`: YAML 1.1 (PyYAML) would read a
    string and refuse it; it is the number."""
    text = PARAMS.read_text()
    assert "    learning_rate: 1.0e-4\n" in text
    (tmp_path / "params.yaml").write_text(text.replace("    learning_rate: 1.0e-4\n", "    learning_rate: 3e-05\n", 1))
    settings = load_settings(tmp_path / "params.yaml")
    assert settings.agents.a2c.learning_rate == 3e-05


def test_an_overlay_of_dotted_keys_is_laid_over_params_data():
    """The one override format (workflow/quick.yaml, `snakemake --configfile`): a dotted key replaces one
    value, a scenario's key included; a plain key's mapping merges; a mistake is refused in one line."""
    from evstation.config import lay_over, read_params, settings_from_data

    data = read_params(PARAMS)
    merged = lay_over(
        data,
        {"sockets.moto.count": 4, "scenarios.mall_mt3.objective": "grid_co2", "battery": {"capacity_kwh": 100.0}},
    )
    assert merged["sockets"]["moto"] == {**data["sockets"]["moto"], "count": 4}
    assert merged["battery"] == {**data["battery"], "capacity_kwh": 100.0}
    assert settings_from_data(merged, "mall_mt3").objective == "grid_co2" and data == read_params(PARAMS)
    count = data["sockets"]["moto"]["count"]
    with pytest.raises(ConfigError, match=rf"^sockets.moto.count.x: sockets.moto.count is {count}, not a mapping"):
        lay_over(data, {"sockets.moto.count.x": 1})
    with pytest.raises(ConfigError, match=r"^sockets.moto.cuont: unknown key"):
        settings_from_data(lay_over(data, {"sockets.moto.cuont": 1}))
