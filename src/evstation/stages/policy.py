"""Evaluating a trained policy: its final (or newest) model replayed, deterministic, on both years."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from .. import registry
from ..config import Settings
from ..control.peak_shaving import with_tuned_residual
from ..errors import DataError
from ..forecast.forecaster import forecast_record
from ..learning.checkpoints import CheckpointStore
from ..learning.station_env import PolicyController, residual_planner
from ..learning.training import check_seed, check_trained_under, check_writable, run_folder
from .records import run_controller

log = logging.getLogger(__name__)


def replayer(agent: str):
    """How a checkpoint of `agent` becomes a controller on a split's data folder: `replay(checkpoint,
    settings, folder)`. A learner with a training loop of its own names its replayer in the registry; the
    stable-baselines3 agents replay their model through `PolicyController` (with the planner a `mpc`
    residual corrects, built on that folder)."""
    own = registry.entry(agent).replayer
    if own is not None:
        return functools.partial(registry.resolve(own), agent)

    def replay(checkpoint, settings: Settings, folder: Path) -> PolicyController:
        planner = residual_planner(settings, folder)
        return PolicyController(agent, checkpoint.model, checkpoint.normalization, settings, planner=planner)

    return replay


def evaluate_policy(
    settings: Settings, agent: str, seed: int, *, data_dir: Path, results_dir: Path, checkpoint: str = "final"
) -> dict:
    """Replay a trained policy, deterministic, on both years: `<agent>_seed<k>` records. The held-out
    year in CityLearn; the training year where `simulation.training_year_simulator` says (the fast
    twin sees the same observations and station states, so the policy acts the same)."""
    check_seed(seed)
    entry = registry.entry(agent)
    # the rule the policy corrects or moves, as it was trained
    settings = with_tuned_residual(settings, results_dir, needed="peak_shaving" in entry.after)
    store = CheckpointStore(run_folder(results_dir, agent, seed), settings.training.keep_checkpoints)
    chosen = store.final() if checkpoint == "final" else store.newest()
    if chosen is None:
        raise DataError(
            f"{run_folder(results_dir, agent, seed)}: no intact {checkpoint} model "
            f"(run `evstation train {agent} --seed {seed}`)"
        )
    training_data = data_dir / "train"
    if not (training_data / "schema.json").is_file():
        raise DataError(f"{training_data / 'schema.json'}: training data not found (run `evstation build-dataset`)")
    # only under the parameters it was trained with (runtime settings apart), on the data it was trained on
    check_trained_under(chosen, settings, agent, seed, training_data)
    replay = replayer(agent)
    replay(chosen, settings, training_data)  # loads, and fits this station
    check_writable(results_dir / "metrics", results_dir / "timeseries")
    log.info("%s seed %d: evaluating %s (step %d)", agent, seed, chosen.folder, chosen.num_timesteps)
    record = run_controller(
        settings,
        f"{agent}_seed{seed}",
        lambda split: replay(chosen, settings, data_dir / split),
        data_dir=data_dir,
        results_dir=results_dir,
        fast_training_year=True,
        # the model kept, and what the policy observed of the hours ahead
        extra={
            "model_steps": chosen.num_timesteps,
            # the controller the policy corrects, or moves (`es`: the rule its registry entry reads)
            "start": entry.after[0] if entry.after else settings.control.residual,
            # model selection's scores: the start's, the kept model's, the controllers' it may start from
            "validation": chosen.meta().get("validation"),
            "forecast": forecast_record(settings.forecast),
        },
    )
    return record
