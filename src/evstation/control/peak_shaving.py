"""The threshold rule `peak_shaving`, its threshold chosen on the training year only.

Every candidate (a threshold in `peak_shaving.threshold_pct`'s range, in steps of
`threshold_step_pct`, times each `recharge_soc_pct`) runs on the training year in the fast simulator;
the best by the scenario's `objective` (the bill, or grid CO2; the other breaks ties) is then run on
both years like every baseline, and the metrics JSON records the choice and every candidate's
figures under "tuning". The held-out year is never looked at to choose. Thresholds are in % of the
training year's largest hourly mall load less PV: the site's own scale, known before any control.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings, apply_overrides
from ..dataset import read_dataset
from ..errors import DataError
from ..files import write_json_atomically
from .bill import timeseries_bill
from .rules import PeakShaving, StationSpec

log = logging.getLogger(__name__)

NAME = "peak_shaving"
PERCENT = 100.0
TUNING_SPLIT = "train"
# a candidate's figures, in the order it is judged: the scenario's objective first, the other second
JUDGED_BY = {"bill": ("bill_pen", "co2_grid_kg"), "grid_co2": ("co2_grid_kg", "bill_pen")}


@dataclass(frozen=True)
class Candidate:
    threshold_pct: float
    recharge_soc_pct: float


def candidates(settings: Settings) -> list[Candidate]:
    rule = settings.peak_shaving
    low, high = rule.threshold_pct
    steps = int(np.floor((high - low) / rule.threshold_step_pct + 1e-9)) + 1
    thresholds = low + rule.threshold_step_pct * np.arange(steps)
    return [Candidate(float(pct), float(soc)) for soc in rule.recharge_soc_pct for pct in thresholds]


def reference_kw(profiles: pd.DataFrame) -> float:
    """The training year's largest hourly mall load less PV (kW over a one-hour step)."""
    return float((profiles["mall_kwh"] - profiles["pv_kwh"]).max())


def make_rule(settings: Settings, threshold_kw: float, recharge_soc_pct: float) -> PeakShaving:
    return PeakShaving(StationSpec.from_settings(settings), threshold_kw, recharge_soc_pct / PERCENT)


def candidate_figures(settings: Settings, folder: Path, threshold_kw: float, recharge_soc_pct: float) -> dict:
    """One candidate on a split in the fast simulator: its bill and grid CO2."""
    from ..simulation.fast_check import simulate_fast

    rule = make_rule(settings, threshold_kw, recharge_soc_pct)
    timeseries = simulate_fast(settings, folder, rule, label=f"{NAME} {threshold_kw:.0f} kW")
    return {"bill_pen": timeseries_bill(timeseries, settings.tariff)["bill_pen"],
            "co2_grid_kg": float((timeseries["import_kwh"] * timeseries["emission_factor_kg_per_kwh"]).sum())}


def tune(settings: Settings, data_dir: Path) -> dict:
    """Every candidate on the training year; the best by the scenario's objective, and the table."""
    folder = Path(data_dir) / TUNING_SPLIT
    profiles = read_dataset(folder).profiles
    scale_kw = reference_kw(profiles)
    table = []
    for candidate in candidates(settings):
        threshold_kw = scale_kw * candidate.threshold_pct / PERCENT
        figures = candidate_figures(settings, folder, threshold_kw, candidate.recharge_soc_pct)
        table.append({"threshold_pct": candidate.threshold_pct, "threshold_kw": threshold_kw,
                      "recharge_soc_pct": candidate.recharge_soc_pct, **figures})
    first, second = JUDGED_BY[settings.objective]
    best = min(table, key=lambda row: (row[first], row[second]))
    log.info("%s: %d candidates on the %s year; best by %s: %.0f kW (%.0f %% of %.0f kW), recharge to %.0f %% SOC",
             NAME, len(table), TUNING_SPLIT, first, best["threshold_kw"], best["threshold_pct"], scale_kw,
             best["recharge_soc_pct"])
    return {"split": TUNING_SPLIT, "objective": settings.objective, "reference_kw": scale_kw,
            "threshold_kw": best["threshold_kw"], "threshold_pct": best["threshold_pct"],
            "recharge_soc_pct": best["recharge_soc_pct"], "candidates": table}


def run_peak_shaving(settings: Settings, data_dir: Path, results_dir: Path) -> dict:
    """Tune on the training year, run the chosen rule on both years and record the choice with the metrics."""
    from ..evaluation import run_controller

    tuning = tune(settings, data_dir)

    def make_controller(split: str) -> PeakShaving:
        return make_rule(settings, tuning["threshold_kw"], tuning["recharge_soc_pct"])

    record = run_controller(settings, NAME, make_controller, data_dir=Path(data_dir), results_dir=Path(results_dir),
                            fast_training_year=True)
    record["tuning"] = tuning
    write_json_atomically(record_path(results_dir), record)
    return record


def record_path(results_dir: Path) -> Path:
    return Path(results_dir) / "metrics" / f"{NAME}.json"


def with_tuned_residual(settings: Settings, results_dir: Path) -> Settings:
    """`settings` with `control.residual_tuning` set from the scenario's record where the policy
    corrects this rule (`control.residual: peak_shaving`): the threshold chosen on the training year."""
    if settings.control.residual != NAME:
        return settings
    path = record_path(results_dir)
    try:
        tuning = json.loads(path.read_text())["tuning"]
        chosen = {"threshold_kw": float(tuning["threshold_kw"]), "recharge_soc_pct": float(tuning["recharge_soc_pct"])}
    except FileNotFoundError:
        raise DataError(f"{path}: not found; control.residual {NAME} corrects the tuned rule "
                        f"(run `evstation baseline {NAME}` first)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: no tuned rule in it ({type(error).__name__}: {error})") from None
    return apply_overrides(settings, {"control.residual_tuning": chosen})
