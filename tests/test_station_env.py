"""The learner's view of the station: compact features, the wrapper around either simulator, and
model selection on the validation window."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import data_dir, results_dir, run_cli_in_process, write_params
from evstation.config import VEHICLE_KINDS, apply_overrides, load_settings
from evstation.errors import ConfigError
from evstation.kpis import split_kpis
from evstation.learning.station_env import make_learner_env, validation_start_step
from evstation.problem.actions import ActionPipeline
from evstation.problem.features import feature_names, observation_size
from evstation.simulation.runner import simulate


@pytest.fixture(scope="module")
def small(built_small):
    return load_settings(built_small / "params.yaml"), data_dir(built_small) / "train"


def run_episode(env, action) -> tuple[np.ndarray, list[dict]]:
    observation, _ = env.reset()
    observations, infos, done = [observation], [], False
    while not done:
        observation, _, terminated, truncated, info = env.step(action(env))
        observations.append(observation)
        infos.append(info)
        done = terminated or truncated
    return np.array(observations), infos


@pytest.mark.parametrize("action_space", ["aggregated", "per_socket"])
def test_features_have_the_documented_size_and_range(small, action_space):
    settings, folder = small
    settings = apply_overrides(settings, {"control.action_space": action_space})
    groups = len(VEHICLE_KINDS) if action_space == "aggregated" else 0
    assert observation_size(settings) == 4 * 8 + 15 + 2 * settings.control.forecast_hours + 4 * groups
    assert len(feature_names(settings)) == observation_size(settings)
    env = make_learner_env(settings, folder, window="year")
    rng = np.random.default_rng(0)
    observations, _ = run_episode(env, lambda env: rng.uniform(-1, 1, env.action_space.shape))
    assert observations.shape == (settings.simulation.horizon_hours + 1, observation_size(settings))
    assert observations.dtype == np.float32 and np.isfinite(observations).all()
    # scaled to about [0, 1] (sine and cosine of the clock in [-1, 1]; the mall's noise may pass its modelled peak)
    assert observations.min() >= -1.0 and observations.max() <= 1.3
    names = feature_names(settings)
    connected = observations[
        :, [i for i, name in enumerate(names) if name.endswith("_connected") and name.startswith("socket")]
    ]
    assert set(np.unique(connected)) == {0.0, 1.0}


def test_training_stops_before_the_validation_window_which_starts_at_midnight(small):
    settings, folder = small
    steps = settings.simulation.horizon_hours
    start = validation_start_step(settings, steps)
    assert start == steps - 2 * 24
    train = make_learner_env(settings, folder)
    _, infos = run_episode(train, lambda env: np.zeros(env.action_space.shape))
    assert len(infos) == start
    validation = make_learner_env(settings, folder, window="validation")
    _, infos = run_episode(validation, lambda env: np.zeros(env.action_space.shape))
    assert len(infos) == steps - start and validation.unwrapped.time_step == steps - 1
    assert validation.observer.hour[start] == 0
    with pytest.raises(ConfigError, match="validation_days"):
        apply_overrides(settings, {"control.model_selection.validation_days": 7})


def test_info_keeps_learning_and_station_rewards_and_the_layers_work(small):
    settings, folder = small
    env = make_learner_env(settings, folder, reward_scale=0.1, window="year")
    env.reset()
    lowest = -np.ones(env.action_space.shape)  # the policy asks for nothing: the floor must act
    infos, rewards = [], []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(lowest)
        infos.append(info)
        rewards.append(reward)
        done = terminated or truncated
    assert np.allclose(rewards, [0.1 * info["reward_unscaled"] for info in infos])
    assert sum(info["layer"]["sockets_raised"] for info in infos) > 0
    assert all(info["reward_components"]["ev_satisfaction"] > -1e-6 for info in infos)  # nobody falls behind
    station = [info["reward_station"] for info in infos]
    assert not np.allclose(station, [info["reward_unscaled"] for info in infos])
    same = make_learner_env(apply_overrides(settings, {"control.learning_reward": "station"}), folder, window="year")
    _, station_infos = run_episode(same, lambda env: lowest)
    assert [info["reward_unscaled"] for info in station_infos] == station


class AsksForNothing:
    """A policy that asks every dimension for -1, through the learner's action pipeline, as
    `PolicyController` replays a trained policy (it keeps the layer's `last_stats` the same way)."""

    name = "asks_for_nothing"

    def __init__(self, settings):
        self.pipeline = ActionPipeline(settings)
        self.last_stats = None

    def reset(self) -> None:
        self.last_stats = None

    def act(self, observation, step, state=None):
        action, self.last_stats = self.pipeline.to_citylearn(-np.ones(self.pipeline.policy_action_space.shape), state)
        return action


def test_citylearn_evaluation_records_the_floors_work_and_serves_every_vehicle(small):
    """In CityLearn, the evaluation record counts what the floor raised under a policy that asks
    below it (the trained agents' records use the same runner and recorder)."""
    settings, folder = small
    record = split_kpis(settings, simulate(settings, folder, AsksForNothing(settings), progress=False), "nothing")
    assert record["sessions_departed"] > 0 and record["ev_satisfaction_pct"] == 100.0
    assert record["floor_raised_steps"] > 0 and record["floor_raised_kwh"] > 0


def test_the_wrapper_poses_the_same_problem_on_citylearn(small):
    settings, folder = small
    fast = make_learner_env(settings, folder, window="year")
    slow = make_learner_env(settings, folder, backend="citylearn", window="year")
    rng = np.random.default_rng(3)
    actions = rng.uniform(-1, 1, (24, fast.action_space.shape[0]))
    observations = []
    for env in (fast, slow):
        first, _ = env.reset()
        rows = [first]
        for action in actions:
            observation, reward, *_, info = env.step(action)
            rows.append(np.append(observation, [reward, info["reward_station"]]))
        observations.append(rows)
    for fast_row, slow_row in zip(*observations):
        assert np.allclose(fast_row, slow_row, rtol=1e-5, atol=1e-5)


def test_model_selection_writes_the_validation_score_and_keeps_the_best(built_small, tmp_path):
    project = tmp_path
    shutil.copytree(built_small / "data", project / "data")
    write_params(
        project,
        {
            "agents.ppo.total_timesteps": 256,
            "agents.ppo.n_steps": 32,
            "agents.ppo.n_envs": 1,
            "agents.ppo.batch_size": 32,
            "agents.ppo.net_arch": [16, 16],
            "agents.ppo.learning_rate": 0.01,
            "control.model_selection.every_steps": 64,
            "training.checkpoint_every_steps": 32,
        },
    )
    run_cli_in_process("train", "ppo", cwd=project)
    run = results_dir(project) / "checkpoints" / "ppo" / "seed0"
    record = json.loads((run / "selection.json").read_text())
    scores = record["scores"]
    assert [row["timesteps"] for row in scores] == [0, 64, 128, 192, 256]  # the untrained policy is a candidate
    best = max(scores, key=lambda row: row["score"])
    assert (record["best_score"], record["best_timesteps"]) == (best["score"], best["timesteps"])
    assert json.loads((run / "final" / "meta.json").read_text())["num_timesteps"] == best["timesteps"]
    curve = pd.read_csv(results_dir(project) / "curves" / "ppo_seed0.csv")
    logged = curve["validation_score"].dropna().tolist()
    assert logged == pytest.approx([row["score"] for row in scores])


@pytest.mark.parametrize("controller", ["least_laxity", "nothing"])
def test_skipping_citylearns_charger_feedback_leaves_the_record_as_it_was(small, monkeypatch, controller):
    """CityLearn's per-charger action diagnostics are not recorded (src/evstation/simulation/citylearn_env.py):
    the simulation's record is the same, column for column, as with them recorded."""
    from citylearn.internal.building_ops import BuildingOpsService

    from evstation.control.rules import LeastLaxity
    from evstation.simulation import citylearn_env

    settings, folder = small

    def record(feedback: bool) -> pd.DataFrame:
        monkeypatch.setattr(citylearn_env, "RECORD_CHARGER_FEEDBACK", feedback)
        policy = AsksForNothing(settings) if controller == "nothing" else LeastLaxity.from_settings(settings)
        return simulate(settings, folder, policy, progress=False)

    with_feedback = record(True)
    assert BuildingOpsService._record_charger_action_feedback is not citylearn_env._not_recorded
    without = record(False)
    assert BuildingOpsService._record_charger_action_feedback is citylearn_env._not_recorded
    pd.testing.assert_frame_equal(with_feedback, without, check_exact=True)
    assert with_feedback["ev_kwh"].sum() > 0


def test_citylearns_ev_time_bounds_computed_once_per_building_are_the_bounds_it_computes(small, monkeypatch):
    """The departure and arrival-time observations' bounds, computed once per building instead of once
    per charger key: the same observation spaces, limits and observations."""
    from evstation.simulation import citylearn_env

    settings, folder = small

    def built(once: bool) -> dict:
        monkeypatch.setattr(citylearn_env, "EV_TIME_BOUNDS_ONCE", once)
        env = citylearn_env.make_station_env(settings, folder)
        observations, _ = env.reset()
        building = env.buildings[0]
        return {
            "spaces": [(space.low.tolist(), space.high.tolist()) for space in env.observation_space],
            "limits": building.non_periodic_normalized_observation_space_limits,
            "periodic": building.periodic_normalized_observation_space_limits,
            "observations": np.asarray(observations).tolist(),
        }

    computed_per_key = built(False)
    assert built(True) == computed_per_key
    names = [name for name in computed_per_key["limits"][1] if "departure_time" in name]
    assert names, "the small station's chargers have departure-time observations"
