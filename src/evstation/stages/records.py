"""Running a controller on every split and writing its record: metrics JSON and timeseries CSVs.

Convention, the same for every controller (baselines, oracle, agents):
- `results/scenarios/<scenario>/metrics/<controller>.json`: `{"controller", "scenario", "train": {...}, "eval": {...}}`
- `results/scenarios/<scenario>/timeseries/<controller>_<split>.csv`: the per-step timeseries of `simulate`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from ..config import SPLITS, Settings
from ..control.rules import Controller
from ..files import csv_part, json_part, remove_temporaries_of, write_record
from ..kpis import split_kpis
from ..simulation.fast_check import simulate_fast
from ..simulation.runner import simulate

log = logging.getLogger(__name__)


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


def run_controller(
    settings: Settings,
    name: str,
    make_controller: Callable[[str], Controller],
    *,
    data_dir: Path,
    results_dir: Path,
    without_solar: bool = False,
    splits: tuple[str, ...] = SPLITS,
    fast_training_year: bool = False,
    extra: dict | None = None,
    other_files: Callable[[dict], dict[Path, dict]] | None = None,
) -> dict:
    """Simulate the controller on each split, check its energy, and write its metrics and timeseries.

    `fast_training_year`: the training year may run on the fast simulator (see `simulator_of`); the
    record says which simulator gave each split. `extra`: what the controller's driver records with the
    metrics (keys added to the record); `other_files(record)`: the other files of its record ({path: JSON
    data}). Nothing is written unless every split's run closes its energy balance, and then the metrics,
    the timeseries and those files are written as one record (files.write_record)."""
    metrics_path = results_dir / "metrics" / f"{name}.json"
    series_paths = {split: results_dir / "timeseries" / f"{name}_{split}.csv" for split in splits}
    remove_temporaries_of([metrics_path, *series_paths.values()])  # what a killed run of this job left
    record = {"controller": name, "scenario": settings.scenario, "simulator": {}}
    series = {}
    for split in splits:
        started = time.perf_counter()
        simulator = simulator_of(settings, split, fast_training_year=fast_training_year, without_solar=without_solar)
        record["simulator"][split] = simulator
        if simulator == "fast":
            timeseries = simulate_fast(settings, data_dir / split, make_controller(split), label=f"{name}/{split}")
        else:
            timeseries = simulate(
                settings, data_dir / split, make_controller(split), without_solar=without_solar, label=f"{name}/{split}"
            )
        metrics = split_kpis(settings, timeseries, f"{name}/{split}")
        log.info("%s/%s: simulated and measured in %.1f s", name, split, time.perf_counter() - started)
        record[split] = {key: _clean(value) for key, value in metrics.items()}
        series[split] = timeseries
    record.update(extra or {})
    others = other_files(record) if other_files is not None else {}
    parts = {series_paths[split]: csv_part(timeseries) for split, timeseries in series.items()}
    parts.update({Path(path): json_part(data) for path, data in others.items()})
    write_record(parts, metrics_path, json_part(record))
    return record
