"""`make quick`: its small params stay valid as params.yaml changes, and its copy leaves the records out."""

from __future__ import annotations

import sys

import yaml

from conftest import ROOT
from evstation.config import load_settings

sys.path.insert(0, str(ROOT / "scripts"))
import quick  # noqa: E402

OVERLAY = ROOT / "workflow" / "quick.yaml"


def test_the_overlay_gives_valid_small_params_for_every_scenario(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(quick.quick_params(OVERLAY))
    overlay = yaml.safe_load(OVERLAY.read_text())
    params = yaml.safe_load(path.read_text())
    assert list(params["scenarios"]) == list(yaml.safe_load((ROOT / "params.yaml").read_text())["scenarios"])
    for scenario in params["scenarios"]:
        settings = load_settings(path, scenario)
        assert settings.simulation.horizon_hours == overlay["simulation.horizon_hours"] <= 2 * 168
        assert settings.sockets.total == 8 and list(settings.training.seeds) == [0]
        assert settings.agents.ppo.total_timesteps == overlay["agents.ppo.total_timesteps"] <= 1000


def test_the_copy_holds_the_code_and_not_the_records():
    files = quick.working_files()
    assert "Snakefile" in files and "params.yaml" in files and "src/evstation/cli.py" in files
    assert not [name for name in files if name.startswith("results/") or name == "dvc.lock"]
    assert not [name for name in files if name.startswith(("quick/", ".venv/"))]
