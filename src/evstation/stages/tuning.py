"""Tuning the threshold rule `peak_shaving` on the training year, then running it like every baseline.

Every candidate of `control.peak_shaving.candidates` runs on the training year in the fast simulator;
the best by the scenario's objective is run on both years and its record keeps the choice and every
candidate's figures under "tuning". The held-out year is never looked at to choose.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Settings
from ..control.peak_shaving import JUDGED_BY, NAME, PERCENT, TUNING_SPLIT, candidates, make_rule, reference_kw
from ..control.rules import PeakShaving
from ..dataset import read_dataset
from ..simulation.fast_check import simulate_fast
from ..tariff.model import BillingTariff
from .records import run_controller

log = logging.getLogger(__name__)


def candidate_figures(settings: Settings, folder: Path, threshold_kw: float, recharge_soc_pct: float) -> dict:
    """One candidate on a split in the fast simulator: its bill and grid CO2."""
    rule = make_rule(settings, threshold_kw, recharge_soc_pct)
    timeseries = simulate_fast(settings, folder, rule, label=f"{NAME} {threshold_kw:.0f} kW")
    return {
        "bill_pen": BillingTariff.from_settings(settings.tariff).bill(timeseries)["bill_pen"],
        "co2_grid_kg": float((timeseries["import_kwh"] * timeseries["emission_factor_kg_per_kwh"]).sum()),
    }


def tune(settings: Settings, data_dir: Path) -> dict:
    """Every candidate on the training year; the best by the scenario's objective, and the table."""
    folder = Path(data_dir) / TUNING_SPLIT
    profiles = read_dataset(folder).profiles
    scale_kw = reference_kw(profiles)
    table = []
    for candidate in candidates(settings):
        threshold_kw = scale_kw * candidate.threshold_pct / PERCENT
        figures = candidate_figures(settings, folder, threshold_kw, candidate.recharge_soc_pct)
        table.append(
            {
                "threshold_pct": candidate.threshold_pct,
                "threshold_kw": threshold_kw,
                "recharge_soc_pct": candidate.recharge_soc_pct,
                **figures,
            }
        )
    first, second = JUDGED_BY[settings.objective]
    best = min(table, key=lambda row: (row[first], row[second]))
    log.info(
        "%s: %d candidates on the %s year; best by %s: %.0f kW (%.0f %% of %.0f kW), recharge to %.0f %% SOC",
        NAME,
        len(table),
        TUNING_SPLIT,
        first,
        best["threshold_kw"],
        best["threshold_pct"],
        scale_kw,
        best["recharge_soc_pct"],
    )
    return {
        "split": TUNING_SPLIT,
        "objective": settings.objective,
        "reference_kw": scale_kw,
        "threshold_kw": best["threshold_kw"],
        "threshold_pct": best["threshold_pct"],
        "recharge_soc_pct": best["recharge_soc_pct"],
        "candidates": table,
    }


def run_peak_shaving(settings: Settings, data_dir: Path, results_dir: Path, *, name: str = NAME) -> dict:
    """Tune on the training year, run the chosen rule on both years and record the choice with the metrics."""
    tuning = tune(settings, data_dir)

    def make_controller(split: str) -> PeakShaving:
        return make_rule(settings, tuning["threshold_kw"], tuning["recharge_soc_pct"])

    return run_controller(
        settings,
        name,
        make_controller,
        data_dir=Path(data_dir),
        results_dir=Path(results_dir),
        fast_training_year=True,
        extra={"tuning": tuning},
    )
