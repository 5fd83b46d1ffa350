"""Training A2C, SAC and PPO for real through the command line, with tiny budgets on a small station."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from conftest import data_dir, main_in_process, results_dir, run_cli, write_params
from evstation.config import apply_overrides, load_settings
from evstation.learning.agents import MODEL_CLASSES, Learner, actor_parameters
from evstation.learning.station_env import make_learner_env
from evstation.learning.training import KILL_HOOK

TINY = {
    "agents.a2c.total_timesteps": 256,
    "agents.a2c.n_steps": 32,
    "agents.a2c.n_envs": 1,
    "agents.a2c.net_arch": [32, 32],
    "agents.ppo.total_timesteps": 256,
    "agents.ppo.n_steps": 64,
    "agents.ppo.n_envs": 1,
    "agents.ppo.batch_size": 32,
    "agents.ppo.net_arch": [32, 32],
    "agents.ppo.critic_warmup_steps": 128,  # the actor learns from step 128: a resume crosses it
    "agents.sac.episodes": 1,
    "agents.sac.learning_starts": 32,
    "agents.sac.batch_size": 32,
    "agents.sac.buffer_size": 1000,
    "agents.sac.net_arch": [32, 32],
    "training.checkpoint_every_steps": 64,
    "training.seeds": [0],
    "training.keep_checkpoints": 3,
}
BUDGET = {"a2c": 256, "ppo": 256, "sac": 120}  # SAC: one training episode: the week less its 2 validation days
ROLLOUT = {"a2c": 32, "ppo": 64, "sac": 1}
TRAINING_WINDOW = 120  # the one-week station less its 2 validation days


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
def test_every_untrained_agent_starts_at_the_rule_with_small_exploration(built_small, agent):
    """With the residual, the zero action is the least-laxity rule: every agent's untrained
    deterministic action must be exactly 0 in any state, and its exploration about exp(log_std_init)."""
    settings = apply_overrides(load_settings(built_small / "params.yaml"), TINY)
    env = DummyVecEnv([lambda: make_learner_env(settings, data_dir(built_small) / "train", window="year")])
    model = Learner.of(agent, settings).build(env, seed=0, device="cpu", budget=BUDGET[agent])
    rng = np.random.default_rng(0)
    observations = rng.uniform(-1.0, 1.3, (64, env.observation_space.shape[0])).astype(np.float32)
    actions, _ = model.predict(observations, deterministic=True)
    assert np.abs(actions).max() == 0.0
    samples = np.stack([model.predict(observations, deterministic=False)[0] for _ in range(20)])
    spread = samples.std(axis=0).mean()
    expected = np.exp(getattr(settings.agents, agent).log_std_init)
    assert expected / 2 < spread < expected * 2, spread


def _actor_and_critic(model, agent: str) -> tuple[list, list]:
    if agent == "sac":
        return list(model.actor.parameters()), list(model.critic.parameters())
    policy = model.policy
    return actor_parameters(policy), [*policy.mlp_extractor.value_net.parameters(), *policy.value_net.parameters()]


@pytest.mark.parametrize("agent", ["a2c", "sac", "ppo"])
@pytest.mark.parametrize("warmup", [0, 10_000])
def test_critic_warmup_holds_the_actor_at_the_rule_while_the_critic_learns(built_small, agent, warmup):
    """During `critic_warmup_steps` only the critic learns: the actor's parameters (and so its
    deterministic action, the rule) stay exactly as built; without the warm-up both move."""
    settings = apply_overrides(
        load_settings(built_small / "params.yaml"), {**TINY, f"agents.{agent}.critic_warmup_steps": warmup}
    )
    env = DummyVecEnv([lambda: make_learner_env(settings, data_dir(built_small) / "train", window="year")])
    model = Learner.of(agent, settings).build(env, seed=0, device="cpu", budget=BUDGET[agent])
    actor, critic = _actor_and_critic(model, agent)
    actor_before, critic_before = [p.detach().clone() for p in actor], [p.detach().clone() for p in critic]
    model.learn(total_timesteps=BUDGET[agent], callback=Learner.of(agent, settings).schedule_callbacks())
    actor_moved = any(not torch.equal(before, p) for before, p in zip(actor_before, actor))
    critic_moved = any(not torch.equal(before, p) for before, p in zip(critic_before, critic))
    assert critic_moved
    assert actor_moved == (warmup == 0)


def messages_of(capsys, *args: str, cwd: Path) -> str:
    """`evstation ARGS` in this process, which must succeed: its messages (the command's own process,
    exits and kills are tested as processes elsewhere)."""
    assert main_in_process(*args, cwd=cwd) == 0
    return capsys.readouterr().err


@pytest.mark.parametrize("agent", ["a2c", "sac", "ppo"])
def test_agent_trains_with_checkpoints_and_evaluates(built_small, tmp_path, capsys, agent):
    """In this process (the command's own messages and exits are tested as processes elsewhere)."""
    project = project_with(built_small, tmp_path)
    messages = messages_of(capsys, "train", agent, cwd=project)
    # params' `training.device: auto`: the GPU on a machine with one (tests/test_gpu.py), else the CPU
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"training on {expected_device} (" in messages and "fast environments" in messages
    final = run_dir(project, agent) / "final"
    selection = json.loads((run_dir(project, agent) / "selection.json").read_text())
    assert selection["scores"][0]["timesteps"] == 0 and selection["scores"][-1]["timesteps"] == BUDGET[agent]
    assert meta(final)["num_timesteps"] == selection["best_timesteps"]  # the best scored model is final
    steps = [meta(folder)["num_timesteps"] for folder in periodic(project, agent)]
    assert 1 <= len(steps) <= 3  # the newest K are kept
    assert all(step % ROLLOUT[agent] == 0 for step in steps)  # taken at rollout boundaries
    assert all(later - earlier >= 64 for earlier, later in zip(steps, steps[1:]))
    if agent == "sac":
        assert steps == [64]  # exactly every N steps (of 120)
        buffers = [folder.name for folder in periodic(project, agent) if (folder / "replay_buffer.pkl").exists()]
        assert buffers == [periodic(project, agent)[-1].name]  # the buffer only with the newest
    curve = (results_dir(project) / "curves" / f"{agent}_seed0.csv").read_text().splitlines()
    assert curve[0].startswith("timesteps,episodes,reward_mean,reward_co2_mean")
    assert "validation_score" in curve[0].split(",") and "reward_station_mean" in curve[0].split(",")
    assert len(curve) >= 3

    messages_of(capsys, "train", agent, "--eval-only", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / f"{agent}_seed0.json").read_text())
    assert record["model_steps"] == selection["best_timesteps"]
    for split in ("train", "eval"):
        assert record[split]["steps"] == 168
        assert record[split]["max_energy_balance_error_kwh"] <= 1e-6
        # a barely trained policy behind the feasibility floor serves every session in CityLearn too
        assert record[split]["ev_satisfaction_pct"] == 100.0
        assert record[split]["sessions_departed"] > 0
        # the layer's work is recorded; how much it raised depends on how far the kept model moved
        # from the residual rule (which never asks below the floor). That CityLearn's record counts
        # the floor's work under a policy that asks below it: tests/test_station_env.py
        assert record[split]["floor_raised_steps"] >= 0 and record[split]["floor_raised_kwh"] >= 0
        assert np.isfinite(record[split]["learning_reward_mean"]) and "reward_mean" in record[split]
    assert (results_dir(project) / "timeseries" / f"{agent}_seed0_eval.csv").is_file()


def train_killed_at(project: Path, agent: str, point: str) -> str:
    """`evstation train AGENT --resume`, killed with SIGKILL at a chosen point by the training loop's
    test hook: "checkpoint:N" right after the checkpoint of step N is complete, "step:N" when the step
    counter reaches N (mid-rollout). Returns the run's messages; fails if it was not killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evstation.cli", "train", agent, "--resume"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONHASHSEED": "0", KILL_HOOK: point},
    )
    try:
        _, messages = process.communicate(timeout=300)
    finally:
        try:  # CityLearn's environment workers, should any outlive the kill
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert process.returncode == -signal.SIGKILL, f"not killed at {point} ({process.returncode}):\n{messages[-2000:]}"
    where, step = point.split(":")
    steps = [meta(folder)["num_timesteps"] for folder in periodic(project, agent)]
    if where == "checkpoint":
        assert steps and steps[-1] == int(step), steps  # killed right after that checkpoint
    else:
        assert all(done < int(step) for done in steps), steps
    assert not (run_dir(project, agent) / "final").exists()
    return messages


@pytest.mark.parametrize(
    "agent, overrides",
    [
        # CityLearn's environments run in subprocesses: the kill must take them down and the resume rebuild
        # them; they restart their year, so only the counters and schedules match an uninterrupted run
        # (model selection off: `final/` is then the last model, whose counters are compared)
        (
            "a2c",
            {
                "agents.a2c.total_timesteps": 384,
                "agents.a2c.n_envs": 2,
                "training.backend": "citylearn",
                "control.model_selection.validation_days": 0,
            },
        ),
    ],
)
def test_resume_on_citylearn_continues_the_counters_and_schedules(built_small, tmp_path, agent, overrides):
    killed = project_with(built_small, tmp_path / "killed", overrides)
    train_killed_at(killed, agent, "checkpoint:64")
    resumed = run_cli("train", agent, "--resume", cwd=killed)
    assert "resuming from step_" in resumed.stderr
    whole = project_with(built_small, tmp_path / "whole", overrides)
    run_cli("train", agent, cwd=whole)

    budget = overrides.get(f"agents.{agent}.total_timesteps", TRAINING_WINDOW * overrides.get("agents.sac.episodes", 1))
    models = {}
    for name, project in (("resumed", killed), ("whole", whole)):
        final = run_dir(project, agent) / "final"
        assert meta(final)["num_timesteps"] == budget
        models[name] = MODEL_CLASSES[agent].load(final / "model.zip", device="cpu")
    # one gradient update per A2C rollout and per SAC step after warm-up: equal counts mean no
    # step was trained twice or lost, and the schedules ended at the same point
    assert models["resumed"]._n_updates == models["whole"]._n_updates
    assert models["resumed"]._current_progress_remaining == pytest.approx(models["whole"]._current_progress_remaining)
    if agent == "a2c":
        assert models["resumed"]._n_updates == budget // (32 * 2)
        assert models["resumed"].ent_coef == pytest.approx(models["whole"].ent_coef)
    else:
        assert models["resumed"]._n_updates == budget - 32


# On the fast simulator a resume is exact wherever the run is killed. Each run is killed, one after
# the other, at chosen points (the training loop's test hook) and resumed to the end: mid-rollout before
# its first checkpoint (the resume starts afresh), and right after checkpoints inside and after the
# critic's warm-up (its actor's optimiser state does not exist yet inside it), SAC's also before
# `learning_starts` (its replay buffer filling with random actions). Model selection scores at every
# rollout start that takes a checkpoint: the checkpoint comes before that step's score, so a run killed
# between the two scores it again. Two environments, so an episode ends mid-rollout; PPO with its
# state-dependent exploration; SAC over two episodes.
EXACT = {
    "a2c": {
        "agents.a2c.total_timesteps": 512,
        "agents.a2c.n_envs": 2,
        "agents.a2c.critic_warmup_steps": 192,
        "training.checkpoint_every_steps": 32,
        "control.model_selection.every_steps": 64,
    },
    "ppo": {
        "agents.ppo.total_timesteps": 512,
        "agents.ppo.n_envs": 2,
        "agents.ppo.use_sde": True,
        "agents.ppo.critic_warmup_steps": 256,
        "training.checkpoint_every_steps": 32,
        "control.model_selection.every_steps": 128,
    },
    "sac": {
        "agents.sac.episodes": 2,
        "agents.sac.learning_starts": 48,
        "agents.sac.critic_warmup_steps": 96,
        "training.checkpoint_every_steps": 32,
        "control.model_selection.every_steps": 32,
    },
}
# rollouts: A2C 2 x 32 steps, PPO 2 x 64; SAC one step, checkpointed every 32
KILL_POINTS = {
    "a2c": ["step:40", "checkpoint:128", "checkpoint:384"],  # warm-up until 192
    "ppo": ["step:100", "checkpoint:128", "checkpoint:384"],  # warm-up until 256
    "sac": ["checkpoint:32", "checkpoint:64", "checkpoint:224"],  # learns from 48, actor from 96
}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_same_files(first: dict[str, bytes], second: dict[str, bytes]) -> None:
    """Two `folder_bytes` hold the same files with the same bytes (the first that differs is named)."""
    assert sorted(first) == sorted(second)
    for name in second:
        assert first[name] == second[name], name


@pytest.mark.parametrize("agent", ["a2c", "ppo", "sac"])
def test_a_run_killed_at_chosen_points_and_resumed_ends_byte_identical(built_small, tmp_path, agent):
    killed = project_with(built_small, tmp_path / "killed", EXACT[agent])
    messages = [train_killed_at(killed, agent, point) for point in KILL_POINTS[agent]]
    messages.append(run_cli("train", agent, "--resume", cwd=killed).stderr)
    for point, resumed in zip(KILL_POINTS[agent], messages[1:]):
        if point.startswith("step:"):  # killed before its first checkpoint: starts afresh
            assert "no checkpoint to resume from: training from the start" in resumed
        else:
            assert f"resuming from step_{int(point.split(':')[1]):09d}" in resumed
    whole = project_with(built_small, tmp_path / "whole", EXACT[agent])
    run_cli("train", agent, cwd=whole)

    curve = Path("results") / "scenarios" / "mall" / "curves" / f"{agent}_seed0.csv"
    assert (killed / curve).read_bytes() == (whole / curve).read_bytes()
    resumed_run, whole_run = folder_bytes(run_dir(killed, agent)), folder_bytes(run_dir(whole, agent))
    assert "final/run_state.pkl" not in whole_run and any(name.endswith("run_state.pkl") for name in whole_run)
    assert_same_files(resumed_run, whole_run)  # model, normalisation, replay buffer, run state, meta


def test_corrupt_newest_checkpoint_falls_back_to_the_previous(built_small, tmp_path, capsys):
    project = project_with(built_small, tmp_path, {"agents.ppo.total_timesteps": 512})
    messages_of(capsys, "train", "ppo", cwd=project)
    shutil.rmtree(run_dir(project, "ppo") / "final")
    newest, previous = periodic(project, "ppo")[-1], periodic(project, "ppo")[-2]
    model = newest / "model.zip"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # a write cut short
    messages = messages_of(capsys, "train", "ppo", "--resume", cwd=project)
    assert f"{newest.name} is incomplete or corrupt" in messages
    assert f"resuming from {previous.name}" in messages
    selection = json.loads((run_dir(project, "ppo") / "selection.json").read_text())
    assert selection["scores"][-1]["timesteps"] == 512  # trained to the end again
    assert meta(run_dir(project, "ppo") / "final")["num_timesteps"] == selection["best_timesteps"]


def test_changed_settings_are_never_resumed_from(built_small, tmp_path, capsys):
    project = project_with(built_small, tmp_path)
    messages_of(capsys, "train", "ppo", cwd=project)
    write_params(project, {**TINY, "agents.ppo.clip_range": 0.1})
    messages = messages_of(capsys, "train", "ppo", "--resume", cwd=project)
    assert "trained with other settings or data" in messages
    assert "training from the start" in messages


def test_normalisation_statistics_are_saved_and_restored(built_small, tmp_path, capsys):
    from evstation.config import load_settings
    from evstation.learning.station_env import PolicyController

    project = project_with(
        built_small, tmp_path, {"control.model_selection.validation_days": 0}
    )  # final: the last model
    messages_of(capsys, "train", "ppo", cwd=project)
    final = run_dir(project, "ppo") / "final"
    with open(final / "normalization.pkl", "rb") as stream:
        saved = pickle.load(stream)
    assert saved.obs_rms.count >= BUDGET["ppo"]
    assert np.abs(saved.obs_rms.mean).max() > 0
    controller = PolicyController(
        "ppo", final / "model.zip", final / "normalization.pkl", load_settings(project / "params.yaml")
    )
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
