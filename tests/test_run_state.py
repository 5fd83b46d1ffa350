"""A training run's state beyond its model: environments (through their wrapper chains) and buffers."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from conftest import data_dir
from evstation.config import load_settings
from evstation.learning.checkpoints import canonical_pickle
from evstation.learning.run_state import StateMismatch, environment_states, restore_environments, wrapper_chain
from evstation.simulation.fast_env import make_fast_env

STEPS_BEFORE, STEPS_AFTER = 30, 40  # past the first day: vehicles plugged in, battery moved


class CountingWrapper(gymnasium.Wrapper):
    """A wrapper with a state of its own, kept by the snapshot/restore protocol."""

    def __init__(self, env):
        super().__init__(env)
        self.steps_seen = 0

    def step(self, action):
        self.steps_seen += 1
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward + 1e-3 * self.steps_seen, terminated, truncated, info

    def snapshot(self) -> dict:
        return {"steps_seen": self.steps_seen}

    def restore(self, state: dict) -> None:
        self.steps_seen = state["steps_seen"]


class PlainWrapper(gymnasium.Wrapper):
    """No state of its own: the protocol must not reach through it to the environment inside."""


@pytest.fixture(scope="module")
def station(built_small):
    return load_settings(built_small / "params.yaml"), data_dir(built_small) / "train"


def vec_env(station, wrapped: bool = True) -> DummyVecEnv:
    settings, folder = station
    build = (
        (lambda: PlainWrapper(CountingWrapper(make_fast_env(settings, folder))))
        if wrapped
        else (lambda: make_fast_env(settings, folder))
    )
    return DummyVecEnv([build, build])


def actions(step: int, shape) -> np.ndarray:
    return np.random.default_rng(step).uniform(-1.0, 1.0, size=(2, *shape)).astype(np.float32)


def run(venv, first_step: int, count: int) -> list:
    outputs = []
    for step in range(first_step, first_step + count):
        venv.step_async(actions(step, venv.action_space.shape))
        observation, reward, done, _ = venv.step_wait()
        outputs.append((observation.copy(), reward.copy(), done.copy()))
    return outputs


def test_environments_continue_exactly_from_a_snapshot(station):
    original = vec_env(station)
    original.reset()
    run(original, 0, STEPS_BEFORE)
    states = environment_states(original)
    assert [[name for name, _ in member] for member in states] == [
        ["PlainWrapper", "CountingWrapper", "FastStationEnv"]
    ] * 2
    assert [state is None for _, state in states[0]] == [True, False, False]
    expected = run(original, STEPS_BEFORE, STEPS_AFTER)

    resumed = vec_env(station)  # built afresh, as a resumed run builds it
    resumed.reset()
    restore_environments(resumed, canonical_roundtrip(states))
    for got, want in zip(run(resumed, STEPS_BEFORE, STEPS_AFTER), expected):
        for got_array, want_array in zip(got, want):
            np.testing.assert_array_equal(got_array, want_array)


def canonical_roundtrip(value):
    """As a checkpoint stores the state and a resumed run reads it."""
    import pickle

    return pickle.loads(canonical_pickle(value))


def test_a_snapshot_that_does_not_fit_is_refused(station):
    states = environment_states(vec_env(station))
    with pytest.raises(StateMismatch, match="environments are built as .*, the checkpoint has"):
        restore_environments(vec_env(station, wrapped=False), states)


def test_wrapper_chain_ends_at_the_unwrapped_environment(station):
    env = vec_env(station).envs[0]
    chain = wrapper_chain(env)
    assert [type(layer).__name__ for layer in chain] == ["PlainWrapper", "CountingWrapper", "FastStationEnv"]
    assert chain[-1] is env.unwrapped


def test_equal_arrays_pickle_to_equal_bytes_wherever_they_came_from():
    import pickle

    fresh = {"mean": np.zeros(3), "var": np.ones(3), "count": np.float64(2.0)}
    read_back = pickle.loads(pickle.dumps(fresh))  # private data-type objects
    assert pickle.dumps(fresh) != pickle.dumps(read_back)  # what plain pickle does
    assert canonical_pickle(fresh) == canonical_pickle(read_back)
