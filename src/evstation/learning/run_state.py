"""The state of a training run beyond its model, so a run killed at any point resumes exactly.

A checkpoint is taken at the start of a rollout. The model's zip and the normalisation pickle hold
the networks, optimisers, step counter and running statistics; what they leave out, and what an
uninterrupted run would carry on with, is captured here and written beside them as
`run_state.pkl` (fast simulator only):

- every environment's own state, found by walking each vectorised member's wrapper chain (`env`,
  `env.env`, ... down to the unwrapped environment): whatever defines `snapshot() -> dict` and
  `restore(dict)` is saved and restored, anything else is taken to be stateless;
- the vectorised environment's step buffers and VecNormalize's running return and last
  observation and reward (its pickle leaves the return out and `VecNormalize.load` zeroes it);
- the model's last observation, episode starts and counters, episode-info buffers, and the
  values its logger holds until the next dump (the learning curve reads the losses from there);
- the random generators: Python's, numpy's, torch's (and CUDA's when present), the action space's
  (SAC's warm-up samples it), and the state-dependent exploration noise PPO draws just before the
  rollout starts (restored in place of the draw the resumed run would otherwise make);
- the learning curve's open window (sums, steps, episode rewards, counters).

With it, a run killed with SIGKILL and resumed ends with the same bytes as one never stopped:
final model, normalisation statistics, checkpoints and learning curve. CityLearn's environment
cannot be captured mid-episode: on that backend no run state is written and a resumed run's
environments restart their year (the model, optimiser, statistics and counters still continue).
"""

from __future__ import annotations

import copy
import logging
import pickle
import random
from collections import deque
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from ..errors import DataError
from .checkpoints import canonical_pickle

log = logging.getLogger(__name__)

VEC_ENV_BUFFERS = ("buf_obs", "buf_dones", "buf_rews", "buf_infos", "actions", "reset_infos", "_seeds", "_options")
NORMALIZATION_BUFFERS = ("returns", "old_obs", "old_reward")
MODEL_FIELDS = (
    "_last_obs",
    "_last_original_obs",
    "_last_episode_starts",
    "_episode_num",
    "ep_info_buffer",
    "ep_success_buffer",
)
NOISE_FIELDS = ("exploration_mat", "exploration_matrices")
LOGGER_FIELDS = ("name_to_value", "name_to_count", "name_to_excluded")


class StateMismatch(ValueError):
    """The saved state does not fit the environments built now (the code changed in between)."""


# ---------------------------------------------------------------- environments


def wrapper_chain(env) -> list:
    """env, env.env, ... down to the unwrapped environment."""
    chain = [env]
    while getattr(chain[-1], "env", None) is not None and all(chain[-1].env is not seen for seen in chain):
        chain.append(chain[-1].env)
    return chain


def _has_state(layer) -> bool:
    """Whether the layer itself defines the protocol. Looked up on its class: gymnasium's wrappers
    forward unknown attributes to the environment inside, which would then be saved twice."""
    kind = type(layer)
    return callable(getattr(kind, "snapshot", None)) and callable(getattr(kind, "restore", None))


def base_vec_env(venv):
    """The innermost vectorised environment (below VecNormalize and any other VecEnvWrapper)."""
    while hasattr(venv, "venv"):
        venv = venv.venv
    return venv


def environment_states(venv) -> list[list[tuple[str, dict | None]]]:
    """Per vectorised member, per layer of its wrapper chain: the layer's type and its snapshot."""
    return [
        [
            (type(layer).__qualname__, copy.deepcopy(layer.snapshot()) if _has_state(layer) else None)
            for layer in wrapper_chain(env)
        ]
        for env in base_vec_env(venv).envs
    ]


def restore_environments(venv, states: list) -> None:
    members = base_vec_env(venv).envs
    chains = [wrapper_chain(env) for env in members]
    layout = [[type(layer).__qualname__ for layer in chain] for chain in chains]
    if layout != [[name for name, _ in member] for member in states]:
        raise StateMismatch(
            f"environments are built as {layout}, the checkpoint has "
            f"{[[name for name, _ in member] for member in states]}"
        )
    for chain, member in zip(chains, states):
        # innermost first: a wrapper may read the simulator it wraps when it restores
        for layer, (_, state) in reversed(list(zip(chain, member))):
            if state is not None:
                layer.restore(copy.deepcopy(state))


# ---------------------------------------------------------------- random generators


def _space_rng(space):
    return getattr(space, "_np_random", None)  # never `np_random`: reading it would seed it


def random_states(model) -> dict:
    rng = _space_rng(model.action_space)
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state().numpy().copy(),
        "cuda": [state.numpy().copy() for state in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "action_space": rng.bit_generator.state if rng is not None else None,
    }


def restore_random_states(model, states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(torch.from_numpy(states["torch"]))
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.from_numpy(state) for state in states["cuda"]])
    if states["action_space"] is not None:
        model.action_space.seed(0)  # creates the generator; its state is set next
        _space_rng(model.action_space).bit_generator.state = states["action_space"]


# ---------------------------------------------------------------- exploration noise (gSDE)


def _noise_owner(model):
    """The policy part whose `reset_noise` the rollout calls: SAC's actor, else the policy."""
    actor = getattr(model, "actor", None)
    return actor if actor is not None else model.policy


def exploration_noise(model) -> dict | None:
    if not getattr(model, "use_sde", False):
        return None
    distribution = _noise_owner(model).action_dist
    return {
        name: getattr(distribution, name).detach().cpu().numpy().copy()
        for name in NOISE_FIELDS
        if getattr(distribution, name, None) is not None
    }


def reuse_noise_once(model, noise: dict) -> None:
    """The first `reset_noise` of the resumed run sets the saved noise instead of drawing new:
    the uninterrupted run drew it just before the checkpoint, from the generator state saved."""
    owner = _noise_owner(model)

    def saved_noise(*args, **kwargs) -> None:
        del owner.reset_noise  # back to the class's own method
        distribution = owner.action_dist
        std = distribution.get_std(owner.log_std)
        distribution.weights_dist = torch.distributions.Normal(torch.zeros_like(std), std)
        for name, value in noise.items():
            setattr(distribution, name, torch.as_tensor(value, device=owner.device))

    owner.reset_noise = saved_noise


# ---------------------------------------------------------------- capture and restore


def capture(model, *, normalization, curve) -> bytes:
    """The run state at a rollout start, as bytes that depend on its content only."""
    vec_env = base_vec_env(normalization)
    state = {
        "environments": environment_states(normalization),
        "vec_env": {name: copy.deepcopy(getattr(vec_env, name)) for name in VEC_ENV_BUFFERS if hasattr(vec_env, name)},
        "normalization": {name: copy.deepcopy(getattr(normalization, name)) for name in NORMALIZATION_BUFFERS},
        "model": {name: copy.deepcopy(getattr(model, name, None)) for name in MODEL_FIELDS},
        "logger": {name: dict(getattr(model.logger, name)) for name in LOGGER_FIELDS},
        "random": random_states(model),
        "noise": exploration_noise(model),
        "curve": curve.snapshot(),
    }
    return canonical_pickle(state)


class ResumedRun(BaseCallback):
    """Puts back what `learn` itself sets up afresh (the logger's values, the random generators,
    the exploration noise) when training starts, after stable-baselines3's own setup."""

    def __init__(self, state: dict):
        super().__init__()
        self.state = state

    def _on_training_start(self) -> None:
        for name, values in self.state["logger"].items():
            target = getattr(self.model.logger, name)
            target.clear()
            target.update(values)
        if self.state["noise"] is not None:
            reuse_noise_once(self.model, self.state["noise"])
        restore_random_states(self.model, self.state["random"])

    def _on_step(self) -> bool:
        return True


def read(path: Path | None) -> dict | None:
    """A checkpoint's run state (None where it has none); a file that does not load is refused in
    one line (its bytes matched the checkpoint's recorded hash: written so, not cut short)."""
    if path is None:
        return None
    try:
        state = pickle.loads(Path(path).read_bytes())
    except Exception as error:  # any garbage: pickle raises whatever the bytes lead it to
        state = error
    if not isinstance(state, dict) or not RUN_STATE_KEYS <= set(state):
        detail = f"{type(state).__name__}: {str(state).splitlines()[0][:200] if str(state) else ''}"
        raise DataError(f"{path}: not a run state this code can load ({detail})")
    return state


RUN_STATE_KEYS = {"environments", "vec_env", "normalization", "model", "logger", "random", "noise", "curve"}


def resume(state: dict | None, model, *, normalization, curve) -> ResumedRun | None:
    """Restore a checkpoint's run state (`read`) into freshly built environments, model and curve
    (before `learn`: a model with its last observation set does not reset its environments). Returns
    the callback that finishes the restore when training starts, or None when there is no usable
    state (the environments then restart their year, as on CityLearn)."""
    if state is None:
        log.warning("the checkpoint holds no run state: the environments restart their year")
        return None
    try:
        restore_environments(normalization, state["environments"])
    except StateMismatch as error:
        log.warning("run state not restored (%s): the environments restart their year", error)
        return None
    vec_env = base_vec_env(normalization)
    for name, value in state["vec_env"].items():
        setattr(vec_env, name, copy.deepcopy(value))
    for name, value in state["normalization"].items():
        setattr(normalization, name, copy.deepcopy(value))
    for name, value in state["model"].items():
        setattr(model, name, deque(value, maxlen=value.maxlen) if isinstance(value, deque) else copy.deepcopy(value))
    # one pair of spaces, the environments', shared by the model and the normalisation wrapper as in
    # a run never stopped (copies read back from the checkpoint pickle to other bytes)
    for name in ("observation_space", "action_space"):
        space = getattr(vec_env, name)
        for holder in (model, normalization, getattr(model, "replay_buffer", None)):
            if holder is not None:
                setattr(holder, name, space)
    curve.restore(state["curve"])
    return ResumedRun(state)
