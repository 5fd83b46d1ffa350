"""Nothing runs on datasets it should not: a dataset built from other parameters than a command is given,
or one whose validation failed (or checked another build), is refused in one line, exit 2, with
nothing written; and both front ends stop a scenario's downstream stages at a failed validation.

The refusals run through the command line's main, in process, on copies of the session's small build:
each stops before any simulation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import data_dir, results_dir, small_repository_params, write_params
from conftest import refused_in_one_line as refused
from evstation.config import load_settings
from evstation.dataset import PARAMETERS_FILE, check_built_from, check_built_together
from evstation.errors import DataError

# a price the dataset's pricing.csv holds: a change is a rebuild
PRICE = {"tariff.peak_pen_per_kwh": 0.9}
COMMANDS = [["validate"], ["baseline", "uncontrolled"], ["train", "ppo"], ["evaluate", "ppo", "--seed", "0"]]


def written(project: Path) -> set[str]:
    """Every file under the project's results, lock files apart."""
    return {
        str(path.relative_to(project))
        for path in (project / "results").rglob("*")
        if path.is_file() and not path.name.endswith(".lock")
    }


@pytest.fixture
def project(built_small, tmp_path) -> Path:
    shutil.copytree(built_small, tmp_path, dirs_exist_ok=True)
    return tmp_path


# ---------------------------------------------------------------- the dataset was built from these parameters


@pytest.mark.parametrize("command", COMMANDS, ids=lambda words: words[0])
def test_a_dataset_built_from_other_parameters_is_refused_by_every_reader(project, capsys, command):
    """A price changed in params after the build: the old dataset's prices are no run's to read."""
    write_params(project, PRICE)
    before = written(project)
    line = refused(capsys, *command, cwd=project)
    assert line.startswith("evstation: error: data/mall/citylearn: built from other parameters (")
    assert "tariff.peak_pen_per_kwh: built with 0.45, params say 0.9" in line, line
    assert line.endswith("; run `evstation --scenario mall build-dataset` to rebuild it"), line
    assert written(project) == before


def test_the_first_keys_that_differ_are_named_and_the_rest_counted(project):
    settings = load_settings(
        write_params(
            project,
            {**PRICE, "sockets.moto.power_kw": 2.5, "pv.dc_capacity_kwp": 100.0, "battery.capacity_kwh": 100.0},
        )
    )
    data = data_dir(project)
    with pytest.raises(DataError) as refusal:
        check_built_from(data, settings, check_built_together(data))
    message = str(refusal.value)
    assert message.count("built with") == 3 and message.endswith(
        "and 1 more); run `evstation build-dataset` to rebuild it"
    )
    assert message.index("battery.capacity_kwh") < message.index("pv.dc_capacity_kwp")  # in key order


def test_keys_the_build_does_not_read_may_change(project):
    settings = load_settings(
        write_params(project, {"tariff.demand.generation_pen_per_kw_month": 50.0, "agents.ppo.learning_rate": 0.01})
    )
    data = data_dir(project)
    check_built_from(data, settings, check_built_together(data))


def test_a_dataset_without_its_parameters_record_is_refused(project, capsys):
    (data_dir(project) / PARAMETERS_FILE).unlink()
    line = refused(capsys, "baseline", "uncontrolled", cwd=project)
    assert line == (
        "evstation: error: data/mall/citylearn/parameters.json: file not found: no record of the parameters "
        "the dataset was built from; run `evstation --scenario mall build-dataset`"
    )


def test_a_parameters_record_of_another_build_is_refused(project, capsys):
    path = data_dir(project) / PARAMETERS_FILE
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "build_id": "0123456789abcdef"}))
    line = refused(capsys, "baseline", "uncontrolled", cwd=project)
    assert "parameters.json: the parameters of build 0123456789abcdef, not of the splits' build" in line


# ---------------------------------------------------------------- a failed validation stops what follows


def validation_record(project: Path, *, passed: bool, build_id: str | None = None) -> Path:
    path = results_dir(project) / "validation.json"
    checks = [
        {"name": "train.rows_per_csv", "value": 168, "limit": 168, "verdict": "pass"},
        {"name": "train.pv_yield_kwh_per_kwp", "value": 1200.0, "limit": [2000.0, 3000.0], "verdict": "fail"},
    ]
    if passed:
        checks = checks[:1]
    identifier = build_id or check_built_together(data_dir(project))
    path.write_text(json.dumps({"passed": passed, "build_id": identifier, "checks": checks}))
    return path


@pytest.mark.parametrize("command", COMMANDS[1:], ids=lambda words: words[0])
def test_nothing_runs_on_datasets_that_failed_validation(project, capsys, command):
    validation_record(project, passed=False)
    before = written(project)
    line = refused(capsys, *command, cwd=project)
    shown = " ".join(command)
    assert line.startswith(
        "evstation: error: results/scenarios/mall/validation.json: the datasets failed validation "
        f"(train.pv_yield_kwh_per_kwp): `evstation --scenario mall {shown}` not run; "
    ), line
    assert line.endswith("then run `evstation --scenario mall build-dataset` and `evstation --scenario mall validate`")
    assert written(project) == before


def test_a_validation_of_another_build_is_refused(project, capsys):
    validation_record(project, passed=True, build_id="0123456789abcdef")
    line = refused(capsys, "baseline", "uncontrolled", cwd=project)
    assert line.startswith(
        "evstation: error: results/scenarios/mall/validation.json: checks build 0123456789abcdef, not the "
        "datasets' build "
    ), line
    assert line.endswith(
        "run `evstation --scenario mall validate` before `evstation --scenario mall baseline uncontrolled`"
    )


def test_both_front_ends_stop_a_scenarios_stages_at_its_failed_validation(small_repository, tmp_path):
    """A validation limit the small station's PV cannot meet: `dvc repro` of a baseline and Snakemake asked
    for its record both stop at the failed validation, and no baseline record is written."""
    from test_frontends import BIN
    from test_frontends import run as tool

    project = Path(shutil.copytree(small_repository, tmp_path / "repository", symlinks=True))
    # the limit is no key the build reads: the built dataset stays current, recorded for DVC as built
    write_params(project, {**small_repository_params(), "validation.pv_yield_kwh_per_kwp": [2000.0, 3000.0]})
    tool("dvc", "commit", "--force", "--quiet", "build_dataset-mall", cwd=project)
    metrics = results_dir(project) / "metrics" / "uncontrolled.json"
    committed = metrics.read_bytes()  # the repository's own record, of the full-size station

    dvc = tool("dvc", "repro", "baseline-mall-uncontrolled", cwd=project, check=False)
    assert dvc.returncode != 0
    assert "validation failed: train.pv_yield_kwh_per_kwp" in dvc.stdout + dvc.stderr
    assert metrics.read_bytes() == committed and (data_dir(project) / "train").is_dir()

    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    snakemake = subprocess.run(
        ["snakemake", "--cores", "1", "--forcerun", "validate", "--", str(metrics.relative_to(project))],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    output = snakemake.stdout + snakemake.stderr
    assert snakemake.returncode != 0 and "rule validate:" in output, output[-3000:]
    assert "rule baseline:" not in output, output[-3000:]
    assert metrics.read_bytes() == committed
