"""Model selection: score the policy on a validation window during training and keep the best.

The final policy of a noisy run is rarely its best (rl-zoo's `EvalCallback` does the same). Every
`control.model_selection.every_steps`, and once more when training ends, the deterministic policy
drives a separate fast simulator through the validation window - the training year's last
`validation_days`, which the training episodes stop before, never the held-out year - and its
score is the mean learning reward per step there. The best-scoring model so far is kept as
`best/`, copied to `final/` when the run ends (so `final/` exists only for a finished run);
`selection.json` beside it keeps every score, so a resumed run goes on comparing against the best
of the interrupted one. The untrained policy is scored too (step 0): training must beat it.

So that a reader can place a score, the controllers a policy may start from (`STARTS`) are scored once
on the same window with the same reward (`references`: the least-laxity rule, the tuned threshold rule
where the run knows its tuning, the planner), and the record carries them with what its scores measure
(`measure`: the learner `es` scores otherwise, learning/es.py).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from ..config import REWARD_COMPONENTS, Settings, apply_overrides
from ..control.rules import Controller
from ..files import write_json_atomically
from ..problem.actions import residual_rule
from .checkpoints import CheckpointStore
from .station_env import make_learner_env, residual_planner

log = logging.getLogger(__name__)
SELECTION_FILE = "selection.json"
STARTS = ("least_laxity", "peak_shaving", "mpc")  # the controllers a policy may start from (`control.residual`)
REWARD_MEASURE = "learning reward per step"  # what a validation score is, for the stable-baselines3 learners


def episode_means(model, normalization, env, deterministic: bool = True) -> dict[str, float]:
    """The policy through `env`'s episode (a `LearnerEnv`): its mean learning reward per step
    ("reward") and the mean of each of the reward's terms; observations normalised with the
    training statistics, which this does not update."""

    def act(observation: np.ndarray) -> np.ndarray:
        action, _ = model.predict(normalization.normalize_obs(observation[None, :]), deterministic=deterministic)
        return np.asarray(action[0])

    return acted_means(env, act)


def acted_means(env, act) -> dict[str, float]:
    """`act` (an observation -> an action) through `env`'s episode: the mean learning reward per step
    ("reward") and the mean of each of the reward's terms."""
    observation, _ = env.reset()
    totals, steps, done = dict.fromkeys(["reward", *REWARD_COMPONENTS], 0.0), 0, False
    while not done:
        observation, _, terminated, truncated, info = env.step(act(observation))
        totals["reward"] += info["reward_unscaled"]
        for name, value in info["reward_components"].items():
            totals[name] += value
        steps += 1
        done = terminated or truncated
    return {name: total / steps for name, total in totals.items()}


def validation_score(model, normalization, env) -> float:
    """Mean learning reward per step of the deterministic policy through the validation window."""
    return episode_means(model, normalization, env)["reward"]


def starts_known(settings: Settings) -> list[str]:
    """The starts a run can score: the tuned threshold rule only where the run knows its tuning."""
    return [start for start in STARTS if start != "peak_shaving" or settings.control.residual_tuning]


def start_settings(settings: Settings, start: str) -> Settings:
    """`settings` with the policy correcting `start`, unguarded: its zero correction is `start` itself."""
    overrides = {"control.residual": start, "control.peak_guard": False}
    if settings.control.action_space == "knobs":  # the knobs move peak_shaving alone; a zero correction of
        overrides["control.action_space"] = "aggregated"  # any start is that start, whatever its action space
    return apply_overrides(settings, overrides)


def start_controller(settings: Settings, folder: Path, start: str) -> Controller:
    """The controller `start` itself, the planner planning on the training data in `folder`."""
    plain = start_settings(settings, start)
    return residual_rule(plain, residual_planner(plain, folder))


def start_score(settings: Settings, folder: Path, start: str) -> float:
    """The validation score of the controller `start` (a `control.residual`): the zero correction of it,
    unguarded, through the validation window of the training data in `folder`."""
    env = make_learner_env(start_settings(settings, start), folder, window="validation")
    zero = np.zeros(env.action_space.shape)
    return acted_means(env, lambda observation: zero)["reward"]


def reference_scores(settings: Settings, folder: Path) -> dict[str, float]:
    """The validation scores of the controllers a policy may start from (the module's docstring)."""
    return {start: start_score(settings, folder, start) for start in starts_known(settings)}


class ModelSelection(BaseCallback):
    """Scores the policy every `every` steps (at a rollout start: every collected step trained on)
    and at the end of training; keeps the best as `best/` (final when the run ends)."""

    def __init__(self, env, normalization, store: CheckpointStore, every: int, references=None):
        super().__init__()
        self.env, self.normalization, self.store, self.every = env, normalization, store, every
        self.references = references  # () -> {controller: score}, scored when a run starts afresh
        self.path = Path(store.root) / SELECTION_FILE
        self.record = {"best_score": None, "best_timesteps": None, "scores": []}
        self.last_scored = 0
        self.pending_score = math.nan  # the latest score, for the learning curve's next row

    def _on_training_start(self) -> None:
        self.last_scored = self.model.num_timesteps
        if self.path.is_file() and self.model.num_timesteps > 0:  # a resumed run: keep its history
            # up to its checkpoint, which is taken before that rollout start's score: a run killed
            # between the two scores that step again, as a run never stopped does once
            record = json.loads(self.path.read_text())
            record["scores"] = [row for row in record["scores"] if row["timesteps"] < self.model.num_timesteps]
            self.record = record
            self.last_scored = record["scores"][-1]["timesteps"] if record["scores"] else 0
        if self.model.num_timesteps == 0:
            if self.references is not None:
                self.record["references"] = self.references()
            # the untrained policy is a candidate too: with a residual policy it is the rule itself,
            # and training must beat it to replace it
            self.score_now()

    def summary(self) -> dict:
        """What the final model's record says of model selection: the start's score, the kept model's
        and the references'."""
        scores = self.record["scores"]
        return {
            "start_score": scores[0]["score"] if scores and scores[0]["timesteps"] == 0 else None,
            "kept_score": self.record["best_score"],
            "kept_timesteps": self.record["best_timesteps"],
            "references": self.record.get("references", {}),
            "measure": REWARD_MEASURE,
        }

    def take_score(self) -> float:
        score, self.pending_score = self.pending_score, math.nan
        return score

    def score_now(self) -> float:
        score = validation_score(self.model, self.normalization, self.env)
        steps = int(self.model.num_timesteps)
        self.record["scores"].append({"timesteps": steps, "score": score})
        best = self.record["best_score"]
        if best is None or score > best or self.store.best() is None:
            self.store.save(self.model, self.normalization, with_replay_buffer=False, best=True)
            self.record["best_score"], self.record["best_timesteps"] = score, steps
            log.info("validation score %.5f at step %d: the best so far, kept", score, steps)
        else:
            log.info(
                "validation score %.5f at step %d (best %.5f at step %d)",
                score,
                steps,
                best,
                self.record["best_timesteps"],
            )
        write_json_atomically(self.path, self.record)
        self.last_scored, self.pending_score = steps, score
        return score

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self.last_scored >= self.every:
            self.score_now()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.model.num_timesteps != self.last_scored or self.store.best() is None:
            self.score_now()
