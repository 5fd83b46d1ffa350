"""A named configuration (workflow/experiments/*.yaml) becomes one `dvc exp run` with its keys as -S."""

import subprocess
import sys

import yaml

from conftest import ROOT
from evstation.config import apply_overrides, load_settings

SCRIPT = ROOT / "scripts" / "exp_overlay.py"
SEED_SETTINGS = ROOT / "workflow" / "experiments" / "seed_settings.yaml"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True)


def test_the_seed_settings_are_the_seed_reports_and_valid_params():
    overrides = yaml.safe_load(SEED_SETTINGS.read_text())
    settings = apply_overrides(load_settings(ROOT / "params.yaml"), overrides)
    assert (
        settings.agents.ppo.use_sde and settings.agents.sac.ent_coef_init == 0.5 and settings.agents.sac.train_freq == 1
    )
    assert (settings.agents.a2c.total_timesteps, settings.agents.ppo.total_timesteps, settings.agents.sac.episodes) == (
        500_000,
        500_000,
        3,
    )
    assert not any(key.startswith("control.") for key in overrides)  # the learners' settings, not the problem


def test_a_dry_run_prints_the_dvc_command_that_sets_every_key():
    result = run_script(
        "seed-settings", str(SEED_SETTINGS), "evaluate-mall_mt3-ppo-0", "-S", "training.seeds=[0]", "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:5] == ["dvc", "exp", "run", "-n", "seed-settings"] and words[-1] == "evaluate-mall_mt3-ppo-0"
    assert "agents.ppo.use_sde=true" in words and "agents.sac.log_std_init=-3.0" in words
    assert "'training.seeds=[0]'" in words
    set_keys = [words[i + 1].split("=")[0] for i, word in enumerate(words) if word == "-S"]
    assert set_keys[:-1] == list(yaml.safe_load(SEED_SETTINGS.read_text()))


def test_a_misspelled_key_stops_in_one_line(tmp_path):
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("agents.ppo.use_sdee: true\n")
    result = run_script("mine", str(overlay), "--dry-run")
    assert result.returncode == 2 and result.stderr.strip() == "exp_overlay: error: agents.ppo.use_sdee: unknown key"
    assert result.stdout == ""
