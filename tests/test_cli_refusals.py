"""A user's mistake around the stages, not in their inputs, is one line and exit 2 too: a log that names a
folder, a record of the pipeline's left empty or cut short. Through the command line's main, in process."""

from __future__ import annotations

import pytest

from conftest import refused_in_one_line as refused
from conftest import write_params


@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_a_log_that_cannot_be_written_is_one_line(tmp_path, capsys, where):
    write_params(tmp_path)
    if where == "a folder":
        log = tmp_path / "logs"
        log.mkdir()
        expected = "--log: is a folder, not a file"
    else:
        (tmp_path / "logs").write_text("a file\n")
        log = tmp_path / "logs" / "build.log"
        expected = "--log: cannot be written"
    line = refused(capsys, "--log", str(log), "build-dataset", cwd=tmp_path)
    assert f"{log}: {expected}" in line, line
    assert not (tmp_path / "data").exists(), "nothing ran"


@pytest.mark.parametrize(
    "name, text",
    [
        ("uncontrolled.json", ""),
        ("uncontrolled.json", '{"train": {"import_kwh": 1.5e6, "co2_grid'),
        ("ppo_seed0.json", '{"train": {"import_kwh": 1.5e6}, "ev'),
    ],
    ids=["empty", "cut short", "agent's cut short"],
)
def test_compare_refuses_a_damaged_metrics_record_in_one_line(tmp_path, capsys, name, text):
    write_params(tmp_path)
    metrics = tmp_path / "results" / "scenarios" / "mall" / "metrics"
    metrics.mkdir(parents=True)
    (metrics / name).write_text(text)
    line = refused(capsys, "compare", cwd=tmp_path)
    assert f"results/scenarios/mall/metrics/{name}: " in line, line
    assert ("empty" if not text else "not valid JSON") in line and "again" in line, line
    assert not (tmp_path / "results" / "report" / "comparison.csv").exists()
