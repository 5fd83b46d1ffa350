"""The station as a registered gymnasium environment: made by id, API-checked, learnable by stable-baselines3."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from conftest import data_dir, write_params
from evstation.errors import DataError

ENV_ID = "evstation/Station-v0"


def make(folder, **kwargs):
    return gymnasium.make(ENV_ID, params=str(folder / "params.yaml"), scenario="mall", **kwargs)


def test_importing_gymnasium_registers_the_id_without_loading_the_station():
    code = (
        "import sys, gymnasium; print('evstation/Station-v0' in gymnasium.registry, "
        "any(name.startswith('evstation.learning') or name == 'torch' for name in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]


def test_passes_the_environment_checker_and_steps(built_small):
    env = make(built_small, split="train", data_dir=str(data_dir(built_small)))
    station = env.unwrapped
    assert station.split == "train" and station.folder == data_dir(built_small) / "train"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(station, skip_render_check=True)
    # the compact features are scaled to about [0, 1] but unbounded (a late vehicle's laxity is < 0): the
    # checker's notes on an infinite Box are expected, any other warning is a fault
    notes = [str(warning.message) for warning in caught if "infinity" not in str(warning.message)]
    assert not notes

    observation, _ = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    steps, total = 0, 0.0
    truncated = terminated = False
    while not (terminated or truncated):
        observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and env.observation_space.contains(observation)
        assert {"reward_unscaled", "reward_components", "reward_station"} <= set(info)
        steps, total = steps + 1, total + reward
    # the small week (168 h) less the 2 model-selection days: the training window
    assert truncated and not terminated and steps == 168 - 2 * 24
    env.close()


def test_dataset_defaults_to_the_scenario_folder_beside_the_params(built_small):
    env = make(built_small, split="eval")
    observation, _ = env.reset(seed=1)
    steps, terminated = 0, False
    while not terminated:
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
    assert (
        env.unwrapped.folder == data_dir(built_small) / "eval" and steps == 168
    )  # the whole year (the small one: a week)
    env.close()


def test_same_seed_same_episode(built_small):
    rewards = []
    for _ in range(2):
        env = make(built_small, split="train")
        env.reset(seed=3)
        env.action_space.seed(3)
        rewards.append([env.step(env.action_space.sample())[1] for _ in range(24)])
    assert rewards[0] == rewards[1]


def test_missing_dataset_names_the_command_to_run(tmp_path):
    write_params(tmp_path)
    with pytest.raises(DataError, match=r"run `evstation --scenario mall_mt3 build-dataset`"):
        gymnasium.make(ENV_ID, params=str(tmp_path / "params.yaml"), scenario="mall_mt3", split="train")
    with pytest.raises(ValueError, match="split 'test'"):
        gymnasium.make(ENV_ID, params=str(tmp_path / "params.yaml"), split="test")


def test_a_scenario_correcting_the_tuned_rule_needs_its_record(built_small, tmp_path):
    """`mall_mt3`'s agents correct `peak_shaving` as its baseline tuned it: without that record, one
    error naming it and the command that writes it."""
    shutil.copytree(built_small / "data" / "mall", tmp_path / "data" / "mall_mt3")
    write_params(tmp_path)
    with pytest.raises(
        DataError,
        match=r"mall_mt3/metrics/peak_shaving.json: not found.*`evstation --scenario mall_mt3 baseline peak_shaving`",
    ):
        gymnasium.make(ENV_ID, params=str(tmp_path / "params.yaml"), scenario="mall_mt3", split="train")


def test_stable_baselines3_ppo_learns_on_it(built_small):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(built_small, split="train")
    sb3_check_env(env.unwrapped, warn=True)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu")
    before = [parameter.detach().clone() for parameter in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert any(
        not np.allclose(old.numpy(), new.detach().numpy()) for old, new in zip(before, model.policy.parameters())
    )
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action)
