"""A record of several files appears whole or not at all: a controller's metrics with its timeseries
(and the optimum's LP records), the report's tables, summary and figures, a final model.

A write stops at named points (files.crash_point): these tests look at what is on disk at each point,
which is what a kill there leaves (the record of the old run, none, or the new one, never a mix), and kill
a run for real at one of them; a run that fails for want of room (a file size limit) is refused in one line
with the old record left as it was and no temporary file beside it."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import evstation.report as report_module
from conftest import evstation_process as evstation
from conftest import results_dir, run_cli_in_process, write_params
from evstation import files

# the same dataset, another measurement: both the timeseries (its reward columns) and the metrics change
OTHER_RUN = {"reward.scales.co2_kg": 1000.0}
RECORD_POINTS = ("record-staged", "record-index-removed", "record-parts-in")


def digests(folder: Path) -> dict[str, str]:
    """Every file under `folder`, hidden ones included, and its sha256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


def baseline_record(project: Path, name: str = "uncontrolled") -> dict[str, str]:
    results = results_dir(project)
    paths = [results / "metrics" / f"{name}.json"] + [
        results / "timeseries" / f"{name}_{split}.csv" for split in ("train", "eval")
    ]
    found = [path for path in paths if path.exists()]
    return {str(path.relative_to(results)): hashlib.sha256(path.read_bytes()).hexdigest() for path in found}


def leftovers(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob(".*") if not path.name.endswith(".lock"))


@pytest.fixture(scope="module")
def baselines(built_small, tmp_path_factory) -> dict[str, Path]:
    """The small station's `uncontrolled` record of one run ("old") and of another ("new")."""
    projects = {}
    for name, overrides in (("old", {}), ("new", OTHER_RUN)):
        project = tmp_path_factory.mktemp(f"baseline_{name}")
        shutil.copytree(built_small, project, dirs_exist_ok=True)
        write_params(project, overrides)
        run_cli_in_process("baseline", "uncontrolled", cwd=project)
        projects[name] = project
    old, new = (baseline_record(projects[name]) for name in ("old", "new"))
    assert len(old) == 3 and all(old[key] != new[key] for key in old), "the two runs must differ in every file"
    return projects


@pytest.fixture
def rerun(baselines, tmp_path) -> Path:
    """The old run's project, its params now the new run's."""
    project = tmp_path / "project"
    shutil.copytree(baselines["old"], project)
    write_params(project, OTHER_RUN)
    return project


def test_a_controllers_record_is_the_old_none_or_the_new_at_every_point_of_its_write(baselines, rerun, monkeypatch):
    """Looked at at each point of the write; a killed run's temporary files (as one killed at the first
    point leaves) go at the next run of the job."""
    for stale in ("metrics/.uncontrolled.json.k1ll3d.tmp", "timeseries/.uncontrolled_eval.csv.k1ll3d.tmp"):
        (results_dir(rerun) / stale).write_text("cut sh")
    seen = {}

    def look(point: str) -> None:
        seen[point] = baseline_record(rerun)

    monkeypatch.setattr(files, "crash_point", look)
    run_cli_in_process("baseline", "uncontrolled", cwd=rerun)
    old, new = (baseline_record(baselines[name]) for name in ("old", "new"))
    assert list(seen) == list(RECORD_POINTS)
    assert seen["record-staged"] == old  # the new files written beside, under temporary names
    for point in ("record-index-removed", "record-parts-in"):  # no metrics: no record
        assert "metrics/uncontrolled.json" not in seen[point], point
    assert baseline_record(rerun) == new and not leftovers(results_dir(rerun))


def limited_to(size_bytes: int):
    """A child process that may write no file larger than `size_bytes` (a write past it fails: EFBIG)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size_bytes, size_bytes))


def test_a_baseline_without_room_for_its_timeseries_leaves_the_old_record(baselines, rerun):
    before = digests(results_dir(rerun))
    result = subprocess.run(
        [sys.executable, "-m", "evstation.cli", "--quiet", "baseline", "uncontrolled"],
        cwd=rerun,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        preexec_fn=limited_to(20_000),  # the metrics fit, a timeseries does not
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0].startswith("evstation: error: results/scenarios/mall/timeseries/uncontrolled_")
    assert lines[0].endswith(".csv: cannot be written (File too large); left as it was")
    assert digests(results_dir(rerun)) == before  # the old record, and nothing beside it


# ---------------------------------------------------------------- the report


def report_project(folder: Path, co2_kg: float) -> Path:
    """Records of two rules and the optimum, and params whose report draws few bootstrap samples."""
    from test_report import record, write_records

    write_params(folder, {"report.bootstrap_samples": 100})
    write_records(
        folder / "results",
        "mall",
        {
            "without_solar": record("without_solar", 2000.0, solar_pct=0.0),
            "uncontrolled": record("uncontrolled", 1000.0),
            "rule_based": record("rule_based", co2_kg),
            "oracle": record("oracle", 900.0),
        },
    )
    return folder


def set_rule_based(folder: Path, co2_kg: float) -> None:
    from test_report import record

    path = folder / "results" / "scenarios" / "mall" / "metrics" / "rule_based.json"
    path.write_text(json.dumps(record("rule_based", co2_kg)))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """The report of one set of records ("old") and of the same with one figure changed ("new")."""
    projects = {}
    for name, co2 in (("old", 970.0), ("new", 950.0)):
        project = report_project(tmp_path_factory.mktemp(f"report_{name}"), co2)
        run_cli_in_process("compare", cwd=project)
        projects[name] = project
    old, new = (digests(project / "results" / "report") for project in projects.values())
    assert old.keys() == new.keys() and old["comparison.md"] != new["comparison.md"]
    return projects


@pytest.fixture
def recompare(reports, tmp_path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(reports["old"], project)
    set_rule_based(project, 950.0)
    return project


def test_the_report_is_the_old_none_or_the_new_at_every_point_of_its_write(reports, recompare, monkeypatch):
    report = recompare / "results" / "report"
    seen = {}

    def look(point: str) -> None:
        seen[point] = digests(report) if report.exists() else None

    monkeypatch.setattr(files, "crash_point", look)
    monkeypatch.setattr(report_module, "crash_point", look)
    run_cli_in_process("compare", cwd=recompare)
    old, new = (digests(reports[name] / "results" / "report") for name in ("old", "new"))
    assert seen == {"report-staged": old, "old-set-aside": None, "swapped": new}
    assert digests(report) == new
    assert sorted(path.name for path in report.parent.iterdir()) == [".report.lock", "report", "scenarios"]


def test_a_compare_without_room_for_a_figure_leaves_the_old_report(reports, recompare):
    before = digests(recompare / "results")
    result = subprocess.run(
        [sys.executable, "-m", "evstation.cli", "--quiet", "compare"],
        cwd=recompare,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        preexec_fn=limited_to(60_000),  # the tables fit, the figures do not
    )
    lines = [line for line in result.stderr.strip().splitlines() if " WARNING " not in line]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[0] == "evstation: error: results/report: cannot be written (File too large); left as it was"
    assert digests(recompare / "results") == before


def test_a_killed_compare_leaves_the_old_report_and_the_next_one_the_new(reports, recompare):
    killed = evstation(recompare, "compare", EVSTATION_KILL_AT="report-staged")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert digests(recompare / "results" / "report") == digests(reports["old"] / "results" / "report")
    run_cli_in_process("compare", cwd=recompare)
    assert digests(recompare / "results" / "report") == digests(reports["new"] / "results" / "report")
    assert not [
        path
        for path in (recompare / "results").iterdir()
        if path.name.startswith(".report.") and not path.name.endswith(".lock")
    ]


# ---------------------------------------------------------------- a final model


def test_training_afresh_keeps_the_old_final_model_until_the_new_one_is_complete(built_small, tmp_path):
    from evstation.learning.training import KILL_HOOK
    from test_training import project_with, run_dir

    project = project_with(built_small, tmp_path, {"control.model_selection.validation_days": 0})
    final = run_dir(project, "ppo") / "final"
    final.mkdir(parents=True)
    (final / "meta.json").write_text(json.dumps({"num_timesteps": 7, "files": {}}))
    (final / "model.zip").write_bytes(b"the previous run's model")
    before = digests(final)
    killed = evstation(project, "train", "ppo", **{KILL_HOOK: "step:100"})  # no --resume: afresh
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert digests(final) == before  # the new final model is swapped in whole (tests/test_frontend_safety.py)


def test_the_record_writer_removes_its_temporaries_when_a_part_fails(tmp_path):
    def failing(path: str) -> None:
        Path(path).write_text("half")
        raise OSError(28, "No space left on device")

    (tmp_path / "a.csv").write_text("old\n")
    with pytest.raises(files.DataError, match=r"b.json: cannot be written \(No space left on device\)"):
        files.write_record({tmp_path / "a.csv": files.csv_part(pd.DataFrame({"x": [1]}))}, tmp_path / "b.json", failing)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.csv"]
    assert (tmp_path / "a.csv").read_text() == "old\n"
