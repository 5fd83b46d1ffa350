"""Agents that start from the planner (`control.residual: mpc`): the zero action is `mpc`'s own, in every
state the policy visits, and a policy trained that way is recorded with the planner as its start."""

from __future__ import annotations

import json

import numpy as np

from conftest import data_dir, results_dir, run_cli_in_process
from evstation.config import apply_overrides, load_settings
from evstation.learning.station_env import make_learner_env, residual_planner
from test_training import project_with

FROM_PLANNER = {"control.residual": "mpc"}
SHORT = {"agents.ppo.total_timesteps": 64, "agents.ppo.critic_warmup_steps": 0}  # one rollout: the start and one update
STEPS = 36  # a day and a half: the planner's first evening with vehicles plugged in
EXPLORING = 0.3  # a policy's change, away from the planner, that moves the states it visits


def test_the_zero_action_is_the_planners_own_in_every_state_the_policy_visits(built_small):
    """The states are those of a policy that does *not* act as the planner (a fixed change each step):
    the planner re-plans from whatever state it meets, and the zero action there is exactly its answer."""
    settings = apply_overrides(load_settings(built_small / "params.yaml"), FROM_PLANNER)
    folder = data_dir(built_small) / "train"
    env = make_learner_env(settings, folder, window="year")
    planner = residual_planner(settings, folder)
    env.reset(seed=0)
    zero = np.zeros(env.action_space.shape)
    compared = 0
    for _ in range(STEPS):
        state = env.state
        action, _ = env.pipeline.to_citylearn(zero, state)
        np.testing.assert_array_equal(action, planner.act({}, state.step, state))
        compared += int(state.connected.any())
        env.step(np.full(env.action_space.shape, EXPLORING))
    assert compared > 0  # vehicles were plugged in for some of the states compared


def test_a_policy_started_from_the_planner_trains_evaluates_and_records_its_start(built_small, tmp_path):
    project = project_with(built_small, tmp_path, {**FROM_PLANNER, **SHORT})
    run_cli_in_process("train", "ppo", cwd=project)
    run_cli_in_process("train", "ppo", "--eval-only", cwd=project)
    record = json.loads((results_dir(project) / "metrics" / "ppo_seed0.json").read_text())
    assert record["start"] == "mpc"
    validation = record["validation"]
    assert set(validation["references"]) == {"least_laxity", "mpc"}  # no tuned threshold rule in this run
    # the untrained policy is the planner: its validation score is the planner's, to the last bit
    assert validation["start_score"] == validation["references"]["mpc"]
    assert validation["kept_score"] >= validation["start_score"]
    for split in ("train", "eval"):
        assert record[split]["steps"] == 168
        assert record[split]["ev_satisfaction_pct"] == 100.0
        assert record[split]["max_energy_balance_error_kwh"] <= 1e-6
