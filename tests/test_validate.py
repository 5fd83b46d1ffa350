"""`evstation validate` passes the small build and rejects the traps of the earlier attempt.

Every corruption is made on a copy of the session's small build (never on the fixture itself),
in the train split only, so the eval split shows the checks are specific."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import data_dir, results_dir, run_cli
from evstation.config import load_settings
from evstation.dataset import check_built_together
from evstation.validate import run_validation

REQUIRED_KEYS = {"name", "value", "limit", "verdict"}


@pytest.fixture
def project(built_small, tmp_path) -> Path:
    """A private copy of the small build to corrupt."""
    copy = tmp_path / "project"
    shutil.copytree(built_small, copy)
    (results_dir(copy) / "validation.json").unlink(missing_ok=True)
    return copy


def train(project: Path) -> Path:
    return data_dir(project) / "train"


def report_of(project: Path) -> dict:
    return json.loads((results_dir(project) / "validation.json").read_text())


def verdicts(report: dict) -> dict[str, str]:
    return {check["name"]: check["verdict"] for check in report["checks"]}


def validate_in_process(project: Path) -> dict:
    settings = load_settings(project / "params.yaml")
    report = run_validation(settings, data_dir(project), results_dir(project) / "validation.json")
    assert report_of(project)["passed"] is report["passed"]
    return report


def assert_fails(report: dict, *names: str) -> None:
    found = verdicts(report)
    assert report["passed"] is False
    for name in names:
        assert name in found, f"{name} not among {sorted(found)}"
        assert found[name] == "fail", f"{name}: {found[name]}"
    # the untouched split still passes everything, including its rollout
    eval_checks = {name: verdict for name, verdict in found.items() if name.startswith("eval.")}
    assert eval_checks and all(verdict == "pass" for verdict in eval_checks.values()), eval_checks
    assert "eval.rollout_energy_balance_error_kwh" in eval_checks


def assert_cli_fails(project: Path, *names: str) -> None:
    result = run_cli("validate", cwd=project, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert f"validation failed: {name}:" in result.stderr, result.stderr
    assert_fails(report_of(project), *names)


def edit_csv(path: Path, change) -> None:
    table = pd.read_csv(path)
    table = change(table)
    table.to_csv(path, index=False)


# ---------------------------------------------------------------- the sound build


def test_validate_passes_the_small_build(project):
    result = run_cli("validate", cwd=project, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "validation failed" not in result.stderr
    report = report_of(project)
    assert report["passed"] is True
    assert report["build_id"] == check_built_together(data_dir(project))  # the build it checked
    names = [check["name"] for check in report["checks"]]
    assert len(names) == len(set(names))
    for check in report["checks"]:
        assert REQUIRED_KEYS <= set(check), check
        assert check["verdict"] == "pass", check
    for split in ("train", "eval"):
        for name in (
            "rows_per_csv",
            "pv_w_per_kw_max",
            "pv_yield_kwh_per_kwp",
            "pv_performance_ratio",
            "infeasible_sessions",
            "plugged_rows_without_defined_vehicle",
            "attributes_left_to_random",
            "actions",
            "controlled_steps",
            "rollout_full_power_without_soc_gain",
            "rollout_energy_balance_error_kwh",
            "rollout_battery_soc_error_kwh",
        ):
            assert f"{split}.{name}" in names
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["train.actions"]["value"] == 9
    assert checks["train.controlled_steps"]["value"] == 168
    assert checks["train.pv_w_per_kw_max"]["value"] <= 1000
    assert checks["train.rollout_full_power_steps_with_a_vehicle"]["value"] > 0


# ---------------------------------------------------------------- PV in the wrong unit


def test_rejects_pv_four_times_too_large(project):
    edit_csv(train(project) / "building.csv", lambda t: t.assign(solar_generation=t["solar_generation"] * 4))
    assert_cli_fails(
        project,
        "train.pv_w_per_kw_max",
        "train.pv_matches_profile_kwh",
        "train.pv_yield_kwh_per_kwp",
        "train.pv_performance_ratio",
    )
    found = verdicts(report_of(project))
    assert found["train.rollout"] == "fail", "no rollout on a dataset that failed its static checks"
    assert "train.actions" not in found


def test_rejects_pv_written_in_kwh(project):
    profiles = pd.read_csv(train(project) / "profiles.csv")
    edit_csv(train(project) / "building.csv", lambda t: t.assign(solar_generation=profiles["pv_kwh"]))
    report = validate_in_process(project)
    assert_fails(report, "train.pv_w_per_kw_max", "train.pv_matches_profile_kwh")


def test_rejects_pv_at_night(project):
    def light_at_midnight(table):
        table.loc[24, "solar_generation"] = 50.0
        return table

    edit_csv(train(project) / "building.csv", light_at_midnight)
    report = validate_in_process(project)
    assert_fails(report, "train.pv_at_night_kwh", "train.pv_matches_profile_kwh")


# ---------------------------------------------------------------- chargers, vehicles, sessions


def test_rejects_charger_naming_an_undefined_vehicle(project):
    def ghost(table):
        plugged = table["electric_vehicle_charger_state"] == 1
        assert plugged.any()
        table["electric_vehicle_id"] = table["electric_vehicle_id"].astype(object)
        table.loc[plugged, "electric_vehicle_id"] = "ev_ghost"
        return table

    edit_csv(train(project) / "charger_moto_001.csv", ghost)
    assert_cli_fails(project, "train.plugged_rows_without_defined_vehicle")


def test_rejects_vehicle_of_another_socket(project):
    def swapped(table):
        plugged = table["electric_vehicle_charger_state"] == 1
        table["electric_vehicle_id"] = table["electric_vehicle_id"].astype(object)
        table.loc[plugged, "electric_vehicle_id"] = "ev_moto_000"
        return table

    edit_csv(train(project) / "charger_moto_001.csv", swapped)
    report = validate_in_process(project)
    assert_fails(report, "train.plugged_rows_without_defined_vehicle")


def test_rejects_infeasible_session(project):
    def infeasible(table):
        first = table.index[table["kind"] == "moto"][0]
        table.loc[first, "arrival_soc_pct"] = 0.0  # 2.25 kWh needed ...
        table.loc[first, "stay_steps"] = 1  # ... in one step of 1.9 kWh
        return table

    edit_csv(train(project) / "sessions.csv", infeasible)
    report = validate_in_process(project)
    assert_fails(report, "train.infeasible_sessions")
    check = next(c for c in report["checks"] if c["name"] == "train.infeasible_sessions")
    assert check["value"] == 1


def test_rejects_overlapping_sessions(project):
    def doubled(table):
        first = table.iloc[[0]].assign(session_id=table["session_id"].max() + 1)
        return pd.concat([table, first], ignore_index=True)

    edit_csv(train(project) / "sessions.csv", doubled)
    report = validate_in_process(project)
    assert_fails(report, "train.overlapping_session_steps")


def test_rejects_charger_rows_not_matching_sessions(project):
    def unplug(table):
        plugged = np.flatnonzero(table["electric_vehicle_charger_state"].to_numpy() == 1)
        table.loc[plugged[0], "electric_vehicle_charger_state"] = 3
        return table

    edit_csv(train(project) / "charger_mototaxi_000.csv", unplug)
    report = validate_in_process(project)
    assert_fails(report, "train.plugged_rows_not_matching_sessions")


# ---------------------------------------------------------------- physics left to random


def test_rejects_removed_power_efficiency_curve(project):
    path = train(project) / "schema.json"
    schema = json.loads(path.read_text())
    del schema["buildings"]["station"]["electrical_storage"]["attributes"]["power_efficiency_curve"]
    path.write_text(json.dumps(schema, indent=2))
    report = validate_in_process(project)
    assert_fails(report, "train.attributes_left_to_random", "train.battery_efficiency_curve_matches_params")
    check = next(c for c in report["checks"] if c["name"] == "train.attributes_left_to_random")
    assert check["value"] == 1 and "power_efficiency_curve" in check["detail"]


def test_rejects_vehicle_attribute_left_to_random(project):
    path = train(project) / "schema.json"
    schema = json.loads(path.read_text())
    del schema["electric_vehicles_def"]["ev_moto_002"]["battery"]["attributes"]["capacity_power_curve"]
    path.write_text(json.dumps(schema, indent=2))
    report = validate_in_process(project)
    assert_fails(report, "train.attributes_left_to_random")


def test_rejects_wrong_battery_efficiency_curve(project):
    path = train(project) / "schema.json"
    schema = json.loads(path.read_text())
    schema["buildings"]["station"]["electrical_storage"]["attributes"]["power_efficiency_curve"] = [
        [0, 0.83],
        [1, 0.97],
    ]
    path.write_text(json.dumps(schema, indent=2))
    report = validate_in_process(project)
    assert_fails(report, "train.battery_efficiency_curve_matches_params")


# ---------------------------------------------------------------- broken files


def test_rejects_nan_in_building_csv(project):
    def hole(table):
        table.loc[10, "non_shiftable_load"] = np.nan
        return table

    edit_csv(train(project) / "building.csv", hole)
    assert_cli_fails(project, "train.missing_or_non_numeric_values")


def test_rejects_text_in_pricing_csv(project):
    def text(table):
        table["electricity_pricing"] = table["electricity_pricing"].astype(object)
        table.loc[3, "electricity_pricing"] = "free"
        return table

    edit_csv(train(project) / "pricing.csv", text)
    report = validate_in_process(project)
    assert_fails(report, "train.missing_or_non_numeric_values")


def test_rejects_deleted_schema(project):
    (train(project) / "schema.json").unlink()
    result = run_cli("validate", cwd=project, check=False)
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert "schema.json" in result.stderr
    if result.returncode == 1:
        assert_fails(report_of(project), "train.dataset_readable")


def test_rejects_deleted_charger_csv_cleanly(project):
    (train(project) / "charger_moto_003.csv").unlink()
    result = run_cli("validate", cwd=project, check=False)
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "charger_moto_003.csv" in line]
    assert len(errors) == 1, result.stderr
    if result.returncode == 2:
        assert errors[0].startswith("evstation: error:")
    else:
        assert report_of(project)["passed"] is False
    assert_fails(validate_in_process(project), "train.dataset_readable")


def test_failed_validate_leaves_no_passing_report(project):
    run_cli("validate", cwd=project)
    assert report_of(project)["passed"] is True
    (train(project) / "charger_moto_003.csv").unlink()
    result = run_cli("validate", cwd=project, check=False)
    assert result.returncode != 0
    path = results_dir(project) / "validation.json"
    assert not path.exists() or report_of(project)["passed"] is False


def test_rejects_truncated_building_csv(project):
    edit_csv(train(project) / "building.csv", lambda t: t.iloc[:100])
    result = run_cli("validate", cwd=project, check=False)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert_fails(report_of(project), "train.rows_per_csv")


def test_rejects_deleted_building_csv_cleanly(project):
    (train(project) / "building.csv").unlink()
    result = run_cli("validate", cwd=project, check=False)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (1, 2)
    assert "building.csv" in result.stderr
