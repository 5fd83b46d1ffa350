"""Running the rolling planner `mpc` on each split and recording its settings beside its metrics."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..config import SPLITS, Settings
from ..control.mpc import MS_PER_S, NAME, MpcController
from ..dataset import read_dataset
from ..forecast.forecaster import forecast_record
from ..forecast.history import training_profiles
from .records import run_controller

log = logging.getLogger(__name__)


def planner_record(settings: Settings) -> dict:
    """What the metrics file says of the planner: its settings (the times are the machine's: logged only)."""
    mpc = settings.mpc
    return {
        "horizon_hours": mpc.horizon_hours,
        "forecast": forecast_record(settings.forecast),
        "objective": settings.objective,
        "load_margin_pct": mpc.load_margin_pct,
        "late_discharge_tiebreak_per_kwh": mpc.late_discharge_tiebreak_per_kwh,
        "early_charge_tiebreak_per_kwh": mpc.early_charge_tiebreak_per_kwh,
        "window_soc_target_pct": mpc.window_soc_target_pct,
        "future_arrivals": "training year's mean draw by weekday and hour, fixed",
    }


def run_mpc(
    settings: Settings, data_dir: Path, results_dir: Path, splits: tuple[str, ...] = SPLITS, *, name: str = NAME
) -> dict:
    """Run the planner on each split through the common runner (the held-out year in CityLearn) and
    record its settings beside the metrics; each split's solve times go to the log."""
    data_dir, results_dir = Path(data_dir), Path(results_dir)
    training = training_profiles(settings, data_dir)
    made: dict[str, MpcController] = {}

    def make_controller(split: str) -> MpcController:
        made[split] = MpcController(settings, read_dataset(data_dir / split).profiles, training, split)
        return made[split]

    started = time.perf_counter()
    record = run_controller(
        settings,
        name,
        make_controller,
        data_dir=data_dir,
        results_dir=results_dir,
        splits=splits,
        fast_training_year=True,
        extra={"planner": planner_record(settings)},
    )
    for split, controller in made.items():
        seconds, planning = np.asarray(controller.solve_seconds), np.asarray(controller.plan_seconds)
        log.info(
            "%s/%s (%s forecast): %d solves, HiGHS %.1f s in all (%.1f ms mean, %.1f ms largest); "
            "planning with the LP's build %.1f s in all (%.1f ms mean)",
            name,
            split,
            settings.forecast.kind,
            len(seconds),
            seconds.sum(),
            MS_PER_S * seconds.mean(),
            MS_PER_S * seconds.max(),
            planning.sum(),
            MS_PER_S * planning.mean(),
        )
    log.info("%s: every split planned and simulated in %.0f s", name, time.perf_counter() - started)
    return record
