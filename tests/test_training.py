"""Training A2C, SAC and PPO for real through the command line, with tiny budgets on a small station."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from evstation.learning.agents import model_class

from conftest import run_cli, write_params, results_dir

TINY = {
    "agents.a2c.total_timesteps": 256, "agents.a2c.n_steps": 32, "agents.a2c.n_envs": 1, "agents.a2c.net_arch": [32, 32],
    "agents.ppo.total_timesteps": 256, "agents.ppo.n_steps": 64, "agents.ppo.n_envs": 1, "agents.ppo.net_arch": [32, 32],
    "agents.sac.episodes": 1, "agents.sac.learning_starts": 32, "agents.sac.batch_size": 32,
    "agents.sac.buffer_size": 1000, "agents.sac.net_arch": [32, 32],
    "training.checkpoint_every_steps": 64, "training.seeds": [0], "training.keep_checkpoints": 3,
}
BUDGET = {"a2c": 256, "ppo": 256, "sac": 168}          # SAC: one episode of the one-week station
ROLLOUT = {"a2c": 32, "ppo": 64, "sac": 1}


def project_with(built_small: Path, folder: Path, overrides: dict | None = None) -> Path:
    shutil.copytree(built_small / "data", folder / "data")
    write_params(folder, {**TINY, **(overrides or {})})
    return folder


def run_dir(project: Path, agent: str, seed: int = 0) -> Path:
    return results_dir(project) / "checkpoints" / agent / f"seed{seed}"


def meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())


def periodic(project: Path, agent: str) -> list[Path]:
    return sorted(run_dir(project, agent).glob("step_*"))


@pytest.mark.parametrize("agent", ["a2c", "sac", "ppo"])
def test_agent_trains_with_checkpoints_and_evaluates(built_small, tmp_path, agent):
    project = project_with(built_small, tmp_path)
    result = run_cli("train", agent, cwd=project)
    assert "training on cpu" in result.stderr and "fast environments" in result.stderr
    final = run_dir(project, agent) / "final"
    assert meta(final)["num_timesteps"] == BUDGET[agent]
    steps = [meta(folder)["num_timesteps"] for folder in periodic(project, agent)]
    assert 1 <= len(steps) <= 3                                   # the newest K are kept
    assert all(step % ROLLOUT[agent] == 0 for step in steps)     # taken at rollout boundaries
    assert all(later - earlier >= 64 for earlier, later in zip(steps, steps[1:]))
    if agent == "sac":
        assert steps == [64, 128]                                 # exactly every N steps
        buffers = [folder.name for folder in periodic(project, agent) if (folder / "replay_buffer.pkl").exists()]
        assert buffers == [periodic(project, agent)[-1].name]     # the buffer only with the newest
    curve = (results_dir(project) / "curves" / f"{agent}_seed0.csv").read_text().splitlines()
    assert curve[0].startswith("timesteps,episodes,reward_mean,reward_co2_mean")
    assert len(curve) >= 3

    run_cli("train", agent, "--eval-only", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / f"{agent}_seed0.json").read_text())
    assert record["model_steps"] == BUDGET[agent]
    for split in ("train", "eval"):
        assert record[split]["steps"] == 168
        assert record[split]["max_energy_balance_error_kwh"] <= 1e-6
    assert (results_dir(project) / "timeseries" / f"{agent}_seed0_eval.csv").is_file()


def _train_until_first_checkpoint_then_kill(project: Path, agent: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "evstation.cli", "train", agent], cwd=project,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any((folder / "meta.json").exists() for folder in periodic(project, agent)):
                break
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (run_dir(project, agent) / "final").exists(), "the run finished before it could be killed"


@pytest.mark.parametrize("agent, overrides", [
    # CityLearn's environments run in subprocesses: the kill must take them down and the resume rebuild them
    ("a2c", {"agents.a2c.total_timesteps": 1024, "agents.a2c.n_envs": 2, "training.backend": "citylearn"}),
    ("sac", {"agents.sac.episodes": 2}),
])
def test_resume_after_sigkill_ends_like_an_uninterrupted_run(built_small, tmp_path, agent, overrides):
    killed = project_with(built_small, tmp_path / "killed", overrides)
    _train_until_first_checkpoint_then_kill(killed, agent)
    resumed = run_cli("train", agent, "--resume", cwd=killed)
    assert "resuming from step_" in resumed.stderr
    whole = project_with(built_small, tmp_path / "whole", overrides)
    run_cli("train", agent, cwd=whole)

    budget = overrides.get(f"agents.{agent}.total_timesteps", 168 * overrides.get("agents.sac.episodes", 1))
    models = {}
    for name, project in (("resumed", killed), ("whole", whole)):
        final = run_dir(project, agent) / "final"
        assert meta(final)["num_timesteps"] == budget
        models[name] = model_class(agent).load(final / "model.zip", device="cpu")
    # one gradient update per A2C rollout and per SAC step after warm-up: equal counts mean no
    # step was trained twice or lost, and the schedules ended at the same point
    assert models["resumed"]._n_updates == models["whole"]._n_updates
    assert models["resumed"]._current_progress_remaining == pytest.approx(models["whole"]._current_progress_remaining)
    if agent == "a2c":
        assert models["resumed"]._n_updates == budget // (32 * 2)
        assert models["resumed"].ent_coef == pytest.approx(models["whole"].ent_coef)
    else:
        assert models["resumed"]._n_updates == budget - 32


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(built_small, tmp_path):
    project = project_with(built_small, tmp_path, {"agents.ppo.total_timesteps": 512})
    run_cli("train", "ppo", cwd=project)
    shutil.rmtree(run_dir(project, "ppo") / "final")
    newest, previous = periodic(project, "ppo")[-1], periodic(project, "ppo")[-2]
    model = newest / "model.zip"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])      # a write cut short
    result = run_cli("train", "ppo", "--resume", cwd=project)
    assert f"{newest.name} is incomplete or corrupt" in result.stderr
    assert f"resuming from {previous.name}" in result.stderr
    assert meta(run_dir(project, "ppo") / "final")["num_timesteps"] == 512


def test_changed_settings_are_never_resumed_from(built_small, tmp_path):
    project = project_with(built_small, tmp_path)
    run_cli("train", "ppo", cwd=project)
    write_params(project, {**TINY, "agents.ppo.clip_range": 0.1})
    result = run_cli("train", "ppo", "--resume", cwd=project)
    assert "trained with other settings or data" in result.stderr
    assert "training from the start" in result.stderr


def test_normalisation_statistics_are_saved_and_restored(built_small, tmp_path):
    from evstation.learning.training import PolicyController

    project = project_with(built_small, tmp_path)
    run_cli("train", "ppo", cwd=project)
    final = run_dir(project, "ppo") / "final"
    with open(final / "normalization.pkl", "rb") as stream:
        saved = pickle.load(stream)
    assert saved.obs_rms.count >= BUDGET["ppo"]
    assert np.abs(saved.obs_rms.mean).max() > 0
    controller = PolicyController("ppo", final / "model.zip", final / "normalization.pkl")
    np.testing.assert_array_equal(controller.normalization.obs_rms.mean, saved.obs_rms.mean)
    raw = np.linspace(0, 1, saved.obs_rms.mean.shape[0]).astype(np.float32)
    expected = np.clip((raw - saved.obs_rms.mean) / np.sqrt(saved.obs_rms.var + saved.epsilon), -10, 10)
    np.testing.assert_allclose(controller.normalization.normalize_obs(raw[None, :])[0], expected, rtol=1e-6)


def test_a_misspelled_hyperparameter_is_rejected(built_small, tmp_path):
    import yaml

    project = project_with(built_small, tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["agents"]["ppo"]["learning_rat"] = params["agents"]["ppo"].pop("learning_rate")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = run_cli("train", "ppo", cwd=project, check=False)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "agents.ppo.learning_rat: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (results_dir(project) / "checkpoints").exists()
