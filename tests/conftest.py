"""Shared test fixtures: small configurations of the real station (a few sockets, one week)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from evstation.config import apply_overrides, load_settings

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"

# A small station: 8 sockets (6 moto, 2 mototaxi), one week, fast enough for every test.
SMALL = {
    "simulation.horizon_hours": 168,
    "sockets.moto.count": 6,
    "sockets.mototaxi.count": 2,
    "fleet.daily_arrivals": {"moto": 60, "mototaxi": 20},
    "validation.rollout_steps": 48,
    "validation.pv_yield_kwh_per_kwp": [900.0, 1700.0],  # one January week, annualised
    "control.model_selection.validation_days": 2,  # the week's last 2 days: 120 training steps
}


# The station alone behind its meter: not in the default scenario list, a scenario a user adds
# (docs/your-site.md). The tests that compare a site without the mall's load add it themselves.
STATION_ONLY = {"mall": {"enabled": False}}


def with_station_only() -> dict:
    """Overrides that add `station_only` to the project's scenarios (after them)."""
    scenarios = yaml.safe_load(PARAMS.read_text())["scenarios"]
    return {"scenarios": {**scenarios, "station_only": STATION_ONLY}}


_TOOL_CONFIG: list[Path] = []


def tool_env() -> dict[str, str]:
    """Environment variables for git and DVC run by the tests: neither reads the user's or the
    system's configuration (a global `commit.gpgsign`, a global DVC remote or cache), and commits
    carry a fixed author. The DVC configuration folders are empty ones of the test session."""
    if not _TOOL_CONFIG:
        folder = Path(tempfile.mkdtemp(prefix="evstation-tests-config-"))
        atexit.register(shutil.rmtree, folder, True)
        _TOOL_CONFIG.append(folder)
    folder = _TOOL_CONFIG[0]
    return {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
        "DVC_GLOBAL_CONFIG_DIR": str(folder / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(folder / "dvc-system"),
        "DVC_NO_ANALYTICS": "1",
    }


def write_params(folder: Path, overrides: dict | None = None) -> Path:
    """A params.yaml in `folder`: the project's own, with the small station and `overrides` applied."""
    settings = apply_overrides(load_settings(PARAMS), {**SMALL, **(overrides or {})})
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(settings.as_params(), sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `evstation` command line for real, in `cwd`."""
    result = subprocess.run(
        [sys.executable, "-m", "evstation.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"evstation {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def main_in_process(*args: str, cwd: Path) -> int:
    """`evstation` through its `main` in this process, in `cwd`: its exit code (its messages go to this
    process's stderr, where pytest's capsys reads them)."""
    from evstation.cli import main

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main() points logging at this stderr
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return main(list(args))
    finally:
        os.chdir(previous)
        root.handlers[:] = handlers
        root.setLevel(level)


def run_cli_in_process(*args: str, cwd: Path) -> None:
    """`evstation` through its `main` in this process, for fixtures that need a stage's records rather
    than its process: no interpreter start and no CityLearn, torch and pandas imports again (~2.5 s a
    call). The tests of the command line itself, its messages, exits and kills, run it as a process."""
    code = main_in_process(*args, cwd=cwd)
    assert code == 0, f"evstation {' '.join(args)} in {cwd} exited with {code}"


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A working directory with the small station's params.yaml."""
    write_params(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def built_small(tmp_path_factory) -> Path:
    """A small station's datasets, built once per test session (per worker) by the command line's main."""
    folder = tmp_path_factory.mktemp("small_station")
    write_params(folder)
    run_cli_in_process("build-dataset", cwd=folder)
    return folder


PRICE_FILES = {split: f"data/examples/energy_price_{split}.csv" for split in ("train", "eval")}


def small_repository_params() -> dict:
    """The small repository's overrides: tiny training budgets, the energy prices from the example files
    (the build reads them: a broken one is refused in one line)."""
    from test_training import TINY

    return {**TINY, "tariff.energy_price_files": PRICE_FILES}


@pytest.fixture(scope="session")
def small_repository(tmp_path_factory) -> Path:
    """A git copy of the repository with the small station's params (small_repository_params), its dataset
    built and checked by the command line's main, newer than the code: Snakemake plans no build (DVC has
    no record of it). Built once per test session (per worker); the front-end tests each work on a copy."""
    from evstation.dataset import check_built_together
    from test_frontends import copy_repository, git_commit
    from test_frontends import run as tool

    project = copy_repository(tmp_path_factory.mktemp("small_repository"))
    write_params(project, small_repository_params())
    tool(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)
    git_commit(project, "the small station, tiny training budgets, its prices from files")
    run_cli_in_process("build-dataset", cwd=project)
    (results_dir(project) / "validation.json").write_text(
        json.dumps({"passed": True, "build_id": check_built_together(data_dir(project)), "checks": []})
    )
    return project


def data_dir(folder: Path, scenario: str = "mall") -> Path:
    """Where the command line writes a scenario's datasets in a project folder."""
    return folder / "data" / scenario / "citylearn"


def results_dir(folder: Path, scenario: str = "mall") -> Path:
    """Where the command line writes a scenario's records in a project folder."""
    return folder / "results" / "scenarios" / scenario


# The suite's longest test, the whole pipeline through both front ends: run first, so that on several
# workers (make test: pytest -n auto) it runs beside the others rather than alone after them.
LONGEST_FIRST = ("tests/test_frontends.py::test_smoke_pipeline_through_both_front_ends",)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.nodeid not in LONGEST_FIRST)


def refused_in_one_line(capsys, *args: str, cwd: Path) -> str:
    """The one line `evstation args` answers with, exiting 2 without a traceback."""
    capsys.readouterr()
    assert main_in_process("--quiet", *args, cwd=cwd) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evstation: error: ") and "Traceback" not in err, err[-2000:]
    return lines[0]


def evstation_process(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`evstation --quiet args` as its own process in `project` (for kills at chosen points: env)."""
    return subprocess.run(
        [sys.executable, "-m", "evstation.cli", "--quiet", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0", **env},
    )
