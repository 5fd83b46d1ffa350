"""The command an error tells the user to run names the scenario (and parameters file) it failed for,
and `evstation validate` without a dataset stops in one line instead of recording failed checks.

Every command runs in this process through the command line's `main` (no CityLearn or torch import
again, no dataset built): each stops at its first missing file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from conftest import results_dir
from evstation.errors import naming_the_run


def evstation(*args: str, cwd: Path, capsys) -> tuple[int, list[str]]:
    """`evstation ARGS` in `cwd` through `main`: its exit status and the lines it wrote to stderr."""
    from evstation.cli import main

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main() points logging at this stderr
    previous = Path.cwd()
    capsys.readouterr()
    os.chdir(cwd)
    try:
        code = main(["--quiet", *args])
    finally:
        os.chdir(previous)
        root.handlers[:] = handlers
        root.setLevel(level)
    return code, capsys.readouterr().err.strip().splitlines()


def refusal(*args: str, cwd: Path, capsys) -> str:
    """The one line a refused command writes (exit 2, a user's mistake)."""
    code, lines = evstation(*args, cwd=cwd, capsys=capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("evstation: error: "), (code, lines)
    return lines[0]


def test_the_commands_an_error_suggests_name_the_scenario_it_ran_for(small_project, capsys):
    line = refusal("--scenario", "mall_mt3", "baseline", "uncontrolled", cwd=small_project, capsys=capsys)
    assert "data/mall_mt3/citylearn/train/schema.json: file not found" in line
    assert line.endswith("(run `evstation --scenario mall_mt3 build-dataset`)"), line
    # mall_mt3's agents correct the tuned peak_shaving rule: its record comes first
    line = refusal("--scenario", "mall_mt3", "evaluate", "ppo", "--seed", "0", cwd=small_project, capsys=capsys)
    assert "(run `evstation --scenario mall_mt3 baseline peak_shaving` first)" in line, line
    # the default scenario is named too, and a parameters file other than params.yaml
    (small_project / "other.yaml").write_text((small_project / "params.yaml").read_text())
    line = refusal("--params", "other.yaml", "baseline", "rule_based", cwd=small_project, capsys=capsys)
    assert line.endswith("(run `evstation --params other.yaml --scenario mall build-dataset`)"), line


def test_compare_names_the_scenario_whose_record_is_missing(small_project, capsys):
    metrics = results_dir(small_project, "mall_mt3") / "metrics"
    metrics.mkdir(parents=True)
    (metrics / "rule_based.json").write_text(json.dumps({"train": {}, "eval": {}}))
    code, lines = evstation("compare", cwd=small_project, capsys=capsys)  # after a warning: mall has no record
    line = lines[-1]
    assert code == 2 and "mall_mt3/metrics/uncontrolled.json: missing" in line, lines
    assert line.endswith("(run `evstation --scenario mall_mt3 baseline uncontrolled`)"), line


def test_a_hint_that_names_its_options_is_left_as_it_is():
    message = "no dataset (run `evstation --scenario mall build-dataset`), then `evstation train ppo`"
    assert naming_the_run(message, "mall_mt3") == (
        "no dataset (run `evstation --scenario mall build-dataset`), then `evstation --scenario mall_mt3 train ppo`"
    )


def test_validate_without_a_dataset_exits_2_in_one_line_and_records_nothing(small_project, capsys):
    record = results_dir(small_project, "mall_mt3") / "validation.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"passed": True, "checks": []}))  # an earlier run's, of another dataset
    line = refusal("--scenario", "mall_mt3", "validate", cwd=small_project, capsys=capsys)
    assert line == (
        "evstation: error: data/mall_mt3/citylearn/train/schema.json: dataset not found "
        "(run `evstation --scenario mall_mt3 build-dataset`)"
    )
    assert not record.exists()  # neither the earlier report nor a record of the missing dataset


def test_the_help_names_the_paths_the_commands_write():
    from evstation.cli import _parser

    text = _parser().format_help()
    assert "results/scenarios/<scenario>/validation.json" in text and "results/<scenario>" not in text
