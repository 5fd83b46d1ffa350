"""Running a controller on every split and writing its record: metrics JSON and timeseries CSVs.

Convention, the same for every controller (baselines, oracle, agents):
- `results/scenarios/<scenario>/metrics/<controller>.json`: `{"controller", "scenario", "train": {...}, "eval": {...}}`
- `results/scenarios/<scenario>/timeseries/<controller>_<split>.csv`: the per-step timeseries of `simulate`.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Callable

import pandas as pd

from .config import SPLITS, Settings
from .control.rules import Controller
from .errors import DataError
from .files import write_csv_atomically, write_json_atomically
from .kpis import compute_kpis
from .simulation.runner import simulate

log = logging.getLogger(__name__)


def split_kpis(settings: Settings, timeseries: pd.DataFrame, label: str) -> dict:
    return compute_kpis(
        timeseries,
        gasoline_kg_per_kwh=settings.emissions.gasoline_avoided_kg_per_kwh,
        tolerance_kwh=settings.validation.energy_balance_tolerance_kwh,
        round_trip_efficiency=settings.battery.round_trip_efficiency_pct / 100,
        battery_capacity_kwh=settings.battery.capacity_kwh,
        tariff=settings.tariff,
        standby_loss_fraction=settings.battery.standby_loss_pct_per_step / 100,
        min_soc_fraction=settings.battery.min_soc_pct / 100,
        label=label,
    )


def _clean(value):
    """JSON has no NaN or infinity: such a metric is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def simulator_of(settings: Settings, split: str, *, fast_training_year: bool, without_solar: bool = False) -> str:
    """Which simulator gives a split's figures: the held-out year always CityLearn; the training year the
    fast twin when the caller allows it and params choose it (without solar the twin is not proven equal)."""
    if split == "train" and fast_training_year and not without_solar:
        return settings.simulation.training_year_simulator
    return "citylearn"


def run_controller(settings: Settings, name: str, make_controller: Callable[[str], Controller], *,
                   data_dir: Path, results_dir: Path, without_solar: bool = False,
                   splits: tuple[str, ...] = SPLITS, fast_training_year: bool = False) -> dict:
    """Simulate the controller on each split, check its energy, and write its metrics and timeseries.

    `fast_training_year`: the training year may run on the fast simulator (see `simulator_of`); the
    record says which simulator gave each split. Nothing is written unless every split's run closes its
    energy balance."""
    record = {"controller": name, "scenario": settings.scenario, "simulator": {}}
    series = {}
    for split in splits:
        started = time.perf_counter()
        simulator = simulator_of(settings, split, fast_training_year=fast_training_year, without_solar=without_solar)
        record["simulator"][split] = simulator
        if simulator == "fast":
            from .simulation.fast_check import simulate_fast

            timeseries = simulate_fast(settings, data_dir / split, make_controller(split), label=f"{name}/{split}")
        else:
            timeseries = simulate(settings, data_dir / split, make_controller(split), without_solar=without_solar,
                                  label=f"{name}/{split}")
        metrics = split_kpis(settings, timeseries, f"{name}/{split}")
        log.info("%s/%s: simulated and measured in %.1f s", name, split, time.perf_counter() - started)
        record[split] = {key: _clean(value) for key, value in metrics.items()}
        series[split] = timeseries
    for split, timeseries in series.items():
        write_csv_atomically(results_dir / "timeseries" / f"{name}_{split}.csv", timeseries)
    write_json_atomically(results_dir / "metrics" / f"{name}.json", record)
    return record


def evaluate_policy(settings: Settings, agent: str, seed: int, *, data_dir: Path, results_dir: Path,
                    checkpoint: str = "final") -> dict:
    """Replay a trained policy, deterministic, on both years: `<agent>_seed<k>` records. The held-out
    year in CityLearn; the training year where `simulation.training_year_simulator` says (the fast
    twin sees the same observations and station states, so the policy acts the same)."""
    from .control.peak_shaving import with_tuned_residual
    from .learning.checkpoints import CheckpointStore
    from .learning.station_env import PolicyController
    from .learning.training import check_seed, check_trained_under, check_writable, run_folder

    check_seed(seed)
    settings = with_tuned_residual(settings, results_dir)       # the rule the policy corrects, as it was trained
    store = CheckpointStore(run_folder(results_dir, agent, seed), settings.training.keep_checkpoints)
    chosen = store.final() if checkpoint == "final" else store.newest()
    if chosen is None:
        raise DataError(f"{run_folder(results_dir, agent, seed)}: no intact {checkpoint} model "
                        f"(run `evstation train {agent} --seed {seed}`)")
    training_data = data_dir / "train"
    if not (training_data / "schema.json").is_file():
        raise DataError(f"{training_data / 'schema.json'}: training data not found (run `evstation build-dataset`)")
    # only under the parameters it was trained with (runtime settings apart), on the data it was trained on
    check_trained_under(chosen, settings, agent, seed, training_data)
    PolicyController(agent, chosen.model, chosen.normalization, settings)     # loads, and fits this station
    check_writable(results_dir / "metrics", results_dir / "timeseries")
    log.info("%s seed %d: evaluating %s (step %d)", agent, seed, chosen.folder, chosen.num_timesteps)
    record = run_controller(settings, f"{agent}_seed{seed}",
                            lambda split: PolicyController(agent, chosen.model, chosen.normalization, settings),
                            data_dir=data_dir, results_dir=results_dir, fast_training_year=True)
    record["model_steps"] = chosen.num_timesteps
    write_json_atomically(results_dir / "metrics" / f"{agent}_seed{seed}.json", record)
    return record

