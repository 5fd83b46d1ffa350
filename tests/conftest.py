"""Shared test fixtures: small configurations of the real station (a few sockets, one week)."""

from __future__ import annotations

import os
import subprocess
import sys
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
    "validation.pv_yield_kwh_per_kwp": [900.0, 1700.0],   # one January week, annualised
    "control.model_selection.validation_days": 2,         # the week's last 2 days: 120 training steps
}


def write_params(folder: Path, overrides: dict | None = None) -> Path:
    """A params.yaml in `folder`: the project's own, with the small station and `overrides` applied."""
    settings = apply_overrides(load_settings(PARAMS), {**SMALL, **(overrides or {})})
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(settings.as_params(), sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `evstation` command line for real, in `cwd`."""
    result = subprocess.run([sys.executable, "-m", "evstation.cli", *args], cwd=cwd, capture_output=True,
                            text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if check and result.returncode != 0:
        raise AssertionError(f"evstation {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A working directory with the small station's params.yaml."""
    write_params(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def built_small(tmp_path_factory) -> Path:
    """A small station's datasets, built once per test session through the command line."""
    folder = tmp_path_factory.mktemp("small_station")
    write_params(folder)
    run_cli("build-dataset", cwd=folder)
    return folder


def data_dir(folder: Path, scenario: str = "mall") -> Path:
    """Where the command line writes a scenario's datasets in a project folder."""
    return folder / "data" / scenario / "citylearn"


def results_dir(folder: Path, scenario: str = "mall") -> Path:
    """Where the command line writes a scenario's records in a project folder."""
    return folder / "results" / "scenarios" / scenario
