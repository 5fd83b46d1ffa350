"""The registry is the one list of controllers and learners: the command line, both front ends and the
report read it, and a new rule is its class and one registry entry (docs/new-rule.md, done here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, data_dir, tool_env
from evstation import registry
from evstation.cli import _parser
from test_frontends import copy_repository

sys.path.insert(0, str(ROOT / "workflow"))
import stages as workflow_stages  # noqa: E402

# docs/new-rule.md's example, word for word as the page gives it
NEW_RULE_CLASS = '''

class NightCharging(EquipmentRule):
    """Every connected vehicle at full power; the battery charges only outside the peak hours."""
    name = "night_charging"

    def act(self, observation, step, state=None):
        state = _require(state, self.name)
        battery = 0.0 if in_peak_hours(state.hour, self.spec) else 1.0
        return np.concatenate([[battery], np.ones(state.sockets)])
'''
NEW_RULE_ENTRY = '    Entry("night_charging", "rule", build="evstation.control.rules:NightCharging"),\n'
ENTRY_ANCHOR = '    Entry("hold_for_peak", "rule", build="evstation.control.rules:HoldForPeak"),\n'


def choices(command: str, argument: str) -> tuple[str, ...]:
    subparsers = next(action for action in _parser()._actions if action.dest == "command")
    parser = subparsers.choices[command]
    return tuple(next(action for action in parser._actions if action.dest == argument).choices)


def test_every_entry_has_a_known_kind_and_one_name():
    assert len(registry.BY_NAME) == len(registry.ENTRIES)
    assert {entry.kind for entry in registry.ENTRIES} <= set(registry.KINDS)
    for entry in registry.ENTRIES:
        assert entry.build or entry.driver or entry.trainer, entry.name  # something builds, runs or trains it
        if entry.trainer:
            assert entry.kind == "learner" and entry.replayer, entry.name  # what it trains, evaluate replays
        if entry.kind != "learner":
            assert entry.driver, entry.name  # `evstation baseline NAME` can run it


def test_the_command_line_and_the_workflow_offer_what_the_registry_lists():
    assert choices("baseline", "name") == registry.names("site", "rule", "planner", "optimum")
    assert choices("train", "agent") == choices("evaluate", "agent") == registry.names("learner")
    assert workflow_stages.BASELINES + workflow_stages.ORACLES == list(
        registry.names("site", "rule", "planner", "optimum")
    )
    assert workflow_stages.AGENTS == list(registry.names("learner"))
    for entry in registry.ENTRIES:
        if entry.params:
            assert set(entry.params) <= set(workflow_stages.stage_keys(entry.stage, controller=entry.name))


def test_every_builder_and_driver_resolves():
    for entry in registry.ENTRIES:
        for target in filter(None, (entry.build, entry.driver, entry.trainer, entry.replayer)):
            assert callable(registry.resolve(target)), target


def test_an_unknown_name_is_refused_in_one_line():
    with pytest.raises(Exception, match="unknown controller 'nope' \\(known: without_solar, "):
        registry.entry("nope")


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **tool_env(),
        "PYTHONPATH": str(cwd / "src"),
        "PYTHONHASHSEED": "0",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def test_a_new_rule_is_its_class_and_one_registry_entry(tmp_path, built_small):
    """The worked example of docs/new-rule.md: two edits, then both front ends run the rule's jobs and the
    command line records it on both years of a small station."""
    project = copy_repository(tmp_path / "project")
    rules = project / "src/evstation/control/rules.py"
    rules.write_text(rules.read_text() + NEW_RULE_CLASS)
    listing = project / "src/evstation/registry.py"
    assert listing.read_text().count(ENTRY_ANCHOR) == 1
    listing.write_text(listing.read_text().replace(ENTRY_ANCHOR, ENTRY_ANCHOR + NEW_RULE_ENTRY))
    page = (ROOT / "docs/new-rule.md").read_text()
    assert NEW_RULE_CLASS.strip() in page and NEW_RULE_ENTRY.strip() in page

    run(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)  # dvc.yaml is generated
    dvc_stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    planned = run("snakemake", "-n", "-F", "--cores", "1", cwd=project).stdout
    scenarios = yaml.safe_load((project / "params.yaml").read_text())["scenarios"]
    for scenario in scenarios:
        assert f"baseline-{scenario}-night_charging" in dvc_stages
        assert f"results/scenarios/{scenario}/metrics/night_charging.json" in planned

    shown = run(sys.executable, "-c", "from evstation.report.names import RULES; print(' '.join(RULES))", cwd=project)
    assert "night_charging" in shown.stdout.split()  # a candidate for the agents' bar

    shutil.copy2(built_small / "params.yaml", project / "params.yaml")
    run(
        sys.executable,
        "-m",
        "evstation.cli",
        "baseline",
        "night_charging",
        "--data-dir",
        str(data_dir(built_small)),
        "--results-dir",
        str(tmp_path / "results"),
        cwd=project,
    )
    record = json.loads((tmp_path / "results/metrics/night_charging.json").read_text())
    assert record["controller"] == "night_charging"
    assert record["eval"]["max_energy_balance_error_kwh"] < 1.0
    assert record["eval"]["ev_satisfaction_pct"] > 0
