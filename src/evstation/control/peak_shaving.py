"""The threshold rule `peak_shaving`: its candidate thresholds and the rule a tuned choice builds.

The tuning itself runs in `stages/tuning.py`: every candidate (a threshold in `peak_shaving.threshold_pct`'s
range, in steps of `threshold_step_pct`, times each `recharge_soc_pct`) runs on the training year in the fast
simulator;
the best by the scenario's `objective` (the bill, or grid CO2; the other breaks ties) is then run on
both years like every baseline, and the metrics JSON records the choice and every candidate's
figures under "tuning". The held-out year is never looked at to choose. Thresholds are in % of the
training year's largest hourly mall load less PV: the site's own scale, known before any control.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings, apply_overrides
from ..errors import DataError
from .rules import PeakShaving, StationSpec

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


def record_path(results_dir: Path) -> Path:
    return Path(results_dir) / "metrics" / f"{NAME}.json"


def with_tuned_residual(settings: Settings, results_dir: Path, *, needed: bool = False) -> Settings:
    """`settings` with `control.residual_tuning` set from the scenario's record where the policy
    corrects this rule (`control.residual: peak_shaving`), or moves it by knobs (`needed`: a learner
    built on it whatever the residual, learning/es.py): the threshold chosen on the training year."""
    if settings.control.residual != NAME and not needed:
        return settings
    path = record_path(results_dir)
    try:
        tuning = json.loads(path.read_text())["tuning"]
        chosen = {"threshold_kw": float(tuning["threshold_kw"]), "recharge_soc_pct": float(tuning["recharge_soc_pct"])}
    except FileNotFoundError:
        raise DataError(
            f"{path}: not found; the policy corrects or moves the tuned rule (run `evstation baseline {NAME}` first)"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: no tuned rule in it ({type(error).__name__}: {error})") from None
    return apply_overrides(settings, {"control.residual_tuning": chosen})
