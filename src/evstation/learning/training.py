"""Training an agent on the training year: vectorised environments, observation normalisation,
checkpoints, resume after a kill, a progress bar, and the learning curve.

Checkpoints are taken at the start of a rollout (after the previous update) once `checkpoint_every_steps`
have passed since the last one: at that moment every collected step has been trained on, so a run
resumed from it neither repeats nor loses a step. SAC collects one step per rollout, so it is
checkpointed exactly every N steps; A2C and PPO at the first rollout boundary after each N steps
(n_steps x n_envs apart). A resumed run calls `learn` for the remaining steps without resetting the
step counter, so the learning-rate and entropy schedules continue where they stopped; the networks,
optimisers, normalisation statistics and (SAC) replay buffer continue. On the fast simulator a
checkpoint also carries the run's own state (`run_state`: environments, random generators,
buffers, the curve's open window), and a resumed run ends byte for byte as an uninterrupted one.
On CityLearn, which cannot be captured mid-episode, the environments restart their year at the
resume point. The tests kill runs at chosen points through a hook (`KILL_HOOK`).

A2C and PPO stop at the first rollout end at or past the budget: where n_steps x n_envs does not
divide it, the run trains that many steps more; it says so when it starts, and `final/meta.json`
records the budget, the steps trained and the overshoot. The schedules hold their end value there.
Every checkpoint's meta records the settings (runtime ones apart) and the training data it was
trained under: a final model is evaluated only under the same (`check_trained_under`).
"""

from __future__ import annotations

import copy
import csv
import functools
import hashlib
import io
import json
import logging
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

from .. import registry
from ..config import REWARD_COMPONENTS, Settings, value_differences
from ..control.peak_shaving import with_tuned_residual
from ..errors import ConfigError, DataError, UserError
from ..files import write_text_atomically
from ..simulation.progress import progress_bar
from . import agents, run_state
from .checkpoints import (
    CURVE_FILE,
    DAMAGED,
    OTHER_SETTINGS,
    Checkpoint,
    CheckpointStore,
    load_replay_buffer,
    settle_loaded_optimizers,
)
from .policy_settings import policy_settings
from .selection import ModelSelection, reference_scores
from .station_env import make_learner_env, make_training_env, unreadable, validation_start_step

log = logging.getLogger(__name__)
CURVE_LOSSES = (
    "train/value_loss",
    "train/policy_loss",
    "train/policy_gradient_loss",
    "train/entropy_loss",
    "train/actor_loss",
    "train/critic_loss",
    "train/ent_coef",
    "train/approx_kl",
    "train/learning_rate",
)
CURVE_COLUMNS = [
    "timesteps",
    "episodes",
    "reward_mean",
    *(f"reward_{c}_mean" for c in REWARD_COMPONENTS),
    "reward_station_mean",
    "episode_reward_last",
    "validation_score",
    *(name.split("/")[1] for name in CURVE_LOSSES),
]
CLIP_OBSERVATION = 10.0


def choose_device(preference: str) -> str:
    if preference == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda" and not torch.cuda.is_available():
        raise UserError("training.device: cuda asked for, but no GPU is available")
    return preference


def run_folder(results_dir: Path, agent: str, seed: int) -> Path:
    return results_dir / "checkpoints" / agent / f"seed{seed}"


def curve_path(results_dir: Path, agent: str, seed: int) -> Path:
    return results_dir / "curves" / f"{agent}_seed{seed}.csv"


def live_curve_path(results_dir: Path, agent: str, seed: int) -> Path:
    """The learning curve a run writes as it trains, in its own folder: the curve file (curve_path), an
    output, is replaced by it only once the final model is in place, so a run that fails or is killed
    leaves the previous run's curve beside the previous final model, never its own partial one."""
    return run_folder(results_dir, agent, seed) / CURVE_FILE


MAX_SEED = 2**32 - 1  # numpy's and torch's seeds


def check_seed(seed: int, key: str = "seed") -> None:
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{key}: {seed} is no training seed (a whole number from 0 to {MAX_SEED})")


def run_fingerprint(settings: Settings, agent: str, seed: int, folder: Path) -> str:
    """A hash of everything the trained policy depends on: its settings (policy_settings), agent, seed
    and the training data."""
    digest = hashlib.sha256(json.dumps([policy_settings(settings, agent), agent, seed], sort_keys=True).encode())
    _hash_training_data(digest, folder)
    return digest.hexdigest()[:16]


def _hash_training_data(digest, folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_size).encode())
    for name in ("schema.json", "summary.json"):  # the summary changes with any profile
        digest.update((folder / name).read_bytes())


def data_fingerprint(folder: Path) -> str:
    """The training data's part of `run_fingerprint`: which dataset a model was trained on."""
    digest = hashlib.sha256()
    _hash_training_data(digest, folder)
    return digest.hexdigest()[:16]


def trained_settings(settings: Settings, agent: str) -> dict:
    """The settings a model's policy depends on, as its checkpoints record them (JSON values)."""
    return policy_settings(settings, agent)


def settings_differences(trained: dict, now: dict) -> list[str]:
    """`key: trained with X, params say Y` for each key whose value differs."""
    return value_differences(trained, now, "trained with")


def check_trained_under(checkpoint: Checkpoint, settings: Settings, agent: str, seed: int, data_folder: Path) -> None:
    """Refuse (one line) a model trained under other parameters or on other training data than now."""
    meta = checkpoint.meta()
    recorded = meta.get("settings")
    if recorded is None:  # recorded before checkpoints held their settings
        if meta.get("fingerprint") != run_fingerprint(settings, agent, seed, data_folder):
            raise DataError(
                f"{checkpoint.model}: trained under other parameters or training data than these "
                f"(its meta records no settings to name them): retrain it"
            )
        return
    differences = settings_differences(recorded, trained_settings(settings, agent))
    if differences:
        raise DataError(f"{checkpoint.model}: trained under other parameters: {'; '.join(differences)}")
    if meta.get("data") != data_fingerprint(data_folder):
        raise DataError(
            f"{data_folder}: not the training data {checkpoint.model} was trained on "
            f"(the dataset was rebuilt since): retrain, or rebuild the dataset it was trained on"
        )


def check_writable(*folders: Path) -> None:
    """Each folder can be written (or created) - checked before a run writes anything."""
    for folder in folders:
        existing = Path(folder)
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise DataError(f"{existing}: a file where a folder is needed (to write {folder})")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise DataError(f"{existing}: not writable (to write {folder})")


def make_vec_env(settings: Settings, learner: agents.Learner, folder: Path):
    """n_envs copies of the training environment. CityLearn's are stepped in subprocesses so both
    cores work; the fast simulator's stay in-process, where a step (~0.1 ms at 128 sockets) costs
    less than sending it to another process."""
    count = learner.n_envs
    build = functools.partial(
        make_training_env, settings.as_dict(), str(folder), learner.reward_scale, settings.training.backend
    )
    if count == 1 or settings.training.backend == "fast":
        return DummyVecEnv([build] * count)
    return SubprocVecEnv([build] * count, start_method="spawn")


# Tests only: "checkpoint:N" kills the process (SIGKILL, no clean-up) right after the checkpoint of
# step N is complete, "step:N" once the step counter reaches N (mid-rollout): a kill at a chosen point.
KILL_HOOK = "EVSTATION_TEST_KILL_AT"


def _kill_point() -> tuple[str, int] | None:
    value = os.environ.get(KILL_HOOK, "")
    where, _, step = value.partition(":")
    return (where, int(step)) if where in ("checkpoint", "step") and step.isdigit() else None


def _kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAtStep(BaseCallback):
    """The test hook's "step:N": SIGKILL once the step counter reaches N."""

    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.step:
            _kill_now()
        return True


# not SB3's CheckpointCallback: it saves every N env.step calls, mid-rollout, without the run state exact resume needs
class Checkpointing(BaseCallback):
    """Saves a checkpoint at a rollout start once `every` steps have passed since the last one."""

    def __init__(
        self,
        store: CheckpointStore,
        normalization: VecNormalize,
        every: int,
        with_replay_buffer: bool,
        capture_run_state=None,
        curve: LearningCurve | None = None,
    ):
        super().__init__()
        self.store, self.normalization, self.every = store, normalization, every
        self.with_replay_buffer = with_replay_buffer
        self.capture_run_state = capture_run_state  # model -> bytes, or None where it cannot be captured
        self.curve = curve  # its rows so far go into each checkpoint
        self.last_saved = None

    def _on_training_start(self) -> None:
        self.last_saved = self.model.num_timesteps

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps - self.last_saved >= self.every:
            state = self.capture_run_state(self.model) if self.capture_run_state else None
            self.store.save(
                self.model,
                self.normalization,
                with_replay_buffer=self.with_replay_buffer,
                run_state=state,
                curve=self.curve.text if self.curve is not None else None,
            )
            self.last_saved = self.model.num_timesteps
            if _kill_point() == ("checkpoint", self.model.num_timesteps):
                _kill_now()

    def _on_step(self) -> bool:
        return True


# not SB3's CSV logger: it writes at the algorithm's dump interval and cannot restart from a checkpoint's rows
class LearningCurve(BaseCallback):
    """Per-step rewards and components averaged over each logging interval, episode totals, losses."""

    def __init__(
        self,
        path: Path,
        every: int,
        resumed_at: int,
        selection: ModelSelection | None = None,
        kept: Path | None = None,
    ):
        super().__init__()
        self.path, self.every, self.selection = path, every, selection
        self._truncate_after(resumed_at, kept)
        self._reset_window()
        self.episode_rewards = None
        self.episodes = 0
        self.last_episode_reward = float("nan")
        self.last_row = resumed_at

    def _truncate_after(self, timesteps: int, kept: Path | None) -> None:
        """A resumed run rewrites the curve from its checkpoint on: the rows its checkpoint kept (`kept`),
        or, from a checkpoint without them, the curve file's rows up to its step."""
        rows = []
        source = kept if kept is not None else self.path
        if timesteps and source.is_file():
            with open(source) as stream:
                rows = [row for row in csv.DictReader(stream) if int(float(row["timesteps"])) <= timesteps]
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=CURVE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        self.text = text.getvalue()
        write_text_atomically(self.path, self.text)  # a kill here must not lose the kept rows

    WINDOW = ("steps", "sums", "episode_rewards", "episodes", "last_episode_reward", "last_row")

    def snapshot(self) -> dict:
        """The open window and counters, so a resumed run writes the rows an uninterrupted one would."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.WINDOW}

    def restore(self, state: dict) -> None:
        for name in self.WINDOW:
            setattr(self, name, copy.deepcopy(state[name]))

    def _reset_window(self) -> None:
        self.steps = 0
        self.sums = dict.fromkeys(["reward", "reward_station", *REWARD_COMPONENTS], 0.0)

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        if self.episode_rewards is None:
            self.episode_rewards = np.zeros(len(infos))
        for index, info in enumerate(infos):
            self.steps += 1
            self.sums["reward"] += info["reward_unscaled"]
            self.sums["reward_station"] += info.get("reward_station", info["reward_unscaled"])
            for name, value in info["reward_components"].items():
                self.sums[name] += value
            self.episode_rewards[index] += info["reward_unscaled"]
            if dones[index]:
                self.episodes += 1
                self.last_episode_reward = float(self.episode_rewards[index])
                self.episode_rewards[index] = 0.0
        if self.model.num_timesteps - self.last_row >= self.every:
            self._write_row()
        return True

    def _mean(self, name: str) -> float:
        return self.sums[name] / self.steps if self.steps else float("nan")

    def _write_row(self) -> None:
        losses = self.model.logger.name_to_value
        row = {
            "timesteps": self.model.num_timesteps,
            "episodes": self.episodes,
            "reward_mean": self._mean("reward"),
            **{f"reward_{c}_mean": self._mean(c) for c in REWARD_COMPONENTS},
            "reward_station_mean": self._mean("reward_station"),
            "episode_reward_last": self.last_episode_reward,
            "validation_score": self.selection.take_score() if self.selection is not None else float("nan"),
            **{name.split("/")[1]: losses.get(name, float("nan")) for name in CURVE_LOSSES},
        }
        line = io.StringIO(newline="")
        csv.DictWriter(line, fieldnames=CURVE_COLUMNS).writerow(row)
        self.text += line.getvalue()
        # written whole each time: a kill leaves every row written so far (a resume without the rows of
        # its checkpoint reads them here)
        write_text_atomically(self.path, self.text)
        self.last_row = self.model.num_timesteps
        self._reset_window()

    def _on_training_end(self) -> None:
        final_score = self.selection is not None and not math.isnan(self.selection.pending_score)
        if self.steps or final_score:  # the score of the last model comes after the last row
            self._write_row()


# not SB3's ProgressBarCallback: its rich bar counts only the steps left and writes a job's log only its end
class ProgressBar(BaseCallback):
    """Steps per second and time left, on the whole budget (a resumed run starts part-way)."""

    def __init__(self, total: int, label: str):
        super().__init__()
        self.total, self.label = total, label

    def _on_training_start(self) -> None:
        self.bar = progress_bar(
            total=self.total, initial=self.model.num_timesteps, desc=self.label, mininterval=2.0, smoothing=0.05
        )

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def _load_normalization(path: Path, venv) -> VecNormalize:
    try:
        normalization = VecNormalize.load(str(path), venv)
    except Exception as error:  # any garbage: pickle raises whatever the bytes lead it to
        raise unreadable(path, "normalisation statistics", error) from None
    if not isinstance(normalization, VecNormalize):
        raise DataError(f"{path}: not normalisation statistics (holds a {type(normalization).__name__})")
    normalization.training = True
    return normalization


def _load_model(learner: agents.Learner, checkpoint: Checkpoint, normalization, device: str):
    try:
        model = learner.model_class.load(
            checkpoint.model, env=normalization, device=device, custom_objects=learner.rebuilt_on_load()
        )
    except Exception as error:
        raise unreadable(checkpoint.model, f"a {learner.name} model", error) from None
    settle_loaded_optimizers(model)
    if checkpoint.replay_buffer is not None:
        try:
            load_replay_buffer(model, checkpoint.replay_buffer)
        except UserError:
            raise
        except Exception as error:
            raise unreadable(checkpoint.replay_buffer, "a replay buffer", error) from None
    return model


def budget_overshoot(learner: agents.Learner, budget: int) -> int:
    """Steps past the budget an uninterrupted run trains: it stops at the first rollout end at or past it."""
    return -budget % learner.rollout_steps


def resume_point(store: CheckpointStore, agent: str, seed: int) -> Checkpoint | None:
    """The checkpoint `--resume` continues from, or None with one line on why the run starts afresh:
    at INFO where that is routine (no checkpoint yet, or only of other settings or data: the params
    changed), a WARNING where checkpoints are damaged (each named before)."""
    checkpoint, passed = store.resumable()
    if checkpoint is not None:
        return checkpoint
    if passed[DAMAGED]:
        log.warning("%s seed %d: no intact checkpoint to resume from: training from the start", agent, seed)
    elif passed[OTHER_SETTINGS]:
        log.info(
            "%s seed %d: its checkpoints (%d) were trained with other settings or data: training from the start",
            agent,
            seed,
            passed[OTHER_SETTINGS],
        )
    else:
        log.info("%s seed %d: no checkpoint to resume from: training from the start", agent, seed)
    return None


def train_agent(
    settings: Settings, agent: str, seed: int, *, data_dir: Path, results_dir: Path, resume: bool = False
) -> dict:
    """Train one agent with one seed on the training year; returns where its final model lies. A learner
    with a training loop of its own (its registry entry's `trainer`: `es`) runs that, with these arguments."""
    own_loop = registry.entry(agent).trainer
    if own_loop is not None:
        trainer = registry.resolve(own_loop)
        return trainer(settings, agent, seed, data_dir=data_dir, results_dir=results_dir, resume=resume)
    check_seed(seed)
    settings = with_tuned_residual(settings, results_dir)  # the tuned rule a peak_shaving residual corrects
    device = choose_device(settings.training.device)
    torch.set_num_threads(settings.training.cpu_threads)
    folder = data_dir / "train"
    if not (folder / "schema.json").is_file():
        raise DataError(f"{folder / 'schema.json'}: training data not found (run `evstation build-dataset`)")
    check_writable(run_folder(results_dir, agent, seed), curve_path(results_dir, agent, seed).parent)
    store = CheckpointStore(
        run_folder(results_dir, agent, seed),
        settings.training.keep_checkpoints,
        run_fingerprint(settings, agent, seed, folder),
        record={"settings": trained_settings(settings, agent), "data": data_fingerprint(folder)},
    )
    learner = agents.Learner.of(agent, settings)
    venv = make_vec_env(settings, learner, folder)
    episode_steps = validation_start_step(settings, settings.simulation.horizon_hours)  # the training window
    budget = learner.total_timesteps(episode_steps)
    overshoot = budget_overshoot(learner, budget)
    if overshoot:
        log.warning(
            "%s seed %d: rollouts of %d steps end at step %d, %d past the budget of %d steps (recorded "
            "in final/meta.json)",
            agent,
            seed,
            learner.rollout_steps,
            budget + overshoot,
            overshoot,
            budget,
        )
    checkpoint = resume_point(store, agent, seed) if resume else None
    if checkpoint is None:
        normalization = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=CLIP_OBSERVATION)
        model = learner.build(normalization, seed, device, budget)
    else:  # every file loads before anything is written
        normalization = _load_normalization(checkpoint.normalization, venv)
        model = _load_model(learner, checkpoint, normalization, device)
        if checkpoint.replay_buffer is None and learner.off_policy:
            log.warning("%s seed %d: the checkpoint has no replay buffer: it refills from here", agent, seed)
    # stable-baselines3's own logger would make an empty SB3-<time> folder in the temp folder at every
    # `learn`; the learning curve reads the losses from the logger's values, which this one keeps too
    model.set_logger(Logger(folder=None, output_formats=[]))
    exact = settings.training.backend == "fast"  # CityLearn cannot be captured mid-episode
    saved_state = run_state.read(checkpoint.run_state) if exact and checkpoint is not None else None
    if checkpoint is not None:
        log.info(
            "%s seed %d: resuming from %s at step %d", agent, seed, checkpoint.folder.name, checkpoint.num_timesteps
        )
    if resume:
        store.discard_unfinished()
    if checkpoint is None:
        store.clear()
    log.info(
        "%s seed %d: training on %s (%d CPU threads, %d %s environments), %d of %d steps to go",
        agent,
        seed,
        device,
        settings.training.cpu_threads,
        venv.num_envs,
        settings.training.backend,
        budget - model.num_timesteps,
        budget,
    )
    every = settings.training.checkpoint_every_steps
    selection = None
    if settings.control.model_selection.validation_days:
        validation_env = make_learner_env(settings, folder, window="validation")
        selection = ModelSelection(
            validation_env,
            normalization,
            store,
            settings.control.model_selection.every_steps,
            references=functools.partial(reference_scores, settings, folder),
        )
    curve = LearningCurve(
        live_curve_path(results_dir, agent, seed),
        every,
        model.num_timesteps,
        selection,
        kept=checkpoint.curve if checkpoint is not None else None,
    )
    resumed = (
        run_state.resume(saved_state, model, normalization=normalization, curve=curve)
        if exact and checkpoint is not None
        else None
    )
    capture = functools.partial(run_state.capture, normalization=normalization, curve=curve) if exact else None
    kill = _kill_point()
    callbacks = CallbackList(
        [
            *([resumed] if resumed is not None else []),
            *learner.schedule_callbacks(),
            Checkpointing(
                store,
                normalization,
                every,
                with_replay_buffer=learner.off_policy,
                capture_run_state=capture,
                curve=curve,
            ),
            *([selection] if selection is not None else []),
            curve,
            ProgressBar(budget, f"{agent}/seed{seed}"),
            *([KillAtStep(kill[1])] if kill is not None and kill[0] == "step" else []),
        ]
    )
    started, first_step = time.perf_counter(), model.num_timesteps
    if budget > model.num_timesteps:
        model.learn(
            total_timesteps=budget - model.num_timesteps, callback=callbacks, reset_num_timesteps=checkpoint is None
        )
    elapsed = time.perf_counter() - started
    # what the run trained against its budget: rollouts end past it unless they divide it
    budget_record = {
        "budget_timesteps": int(budget),
        "trained_timesteps": int(model.num_timesteps),
        "overshoot_timesteps": int(model.num_timesteps - budget),
    }
    if selection is None:
        final = store.save(model, normalization, with_replay_buffer=False, final=True, extra=budget_record)
    else:  # the best-scoring model on the validation window is final
        if store.best() is None:
            selection.init_callback(model)
            selection.score_now()
        final = store.promote_best(extra={**budget_record, "validation": selection.summary()})
    write_text_atomically(curve_path(results_dir, agent, seed), curve.text)
    venv.close()
    trained = model.num_timesteps - first_step
    log.info(
        "%s seed %d: %d steps in %.0f s (%.1f steps/s); final model in %s",
        agent,
        seed,
        trained,
        elapsed,
        trained / elapsed if elapsed else float("nan"),
        final.folder,
    )
    return {
        "agent": agent,
        "seed": seed,
        "num_timesteps": int(model.num_timesteps),
        "device": device,
        "final": str(final.folder),
    }
