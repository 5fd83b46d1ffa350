"""Solving the perfect-foresight LP of each split, replaying its plan and recording both.

The LP itself is `control.oracle`; here it is solved per split in the mode the controller's name
picks, replayed through the common runner, and its record written beside the metrics with the gap
between what the LP planned and what the replay measured.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import SPLITS, Oracle, Settings
from ..control.oracle import CONTROLLER_NAME, MODES, PERCENT, REPORT_DIR, RUN_FIGURES, OracleSchedule, solve_split
from ..errors import ConfigError
from .records import run_controller

log = logging.getLogger(__name__)


def replay_gap(report: dict, metrics: dict) -> dict:
    """How far CityLearn's replay lands from what the LP planned (replay minus LP)."""
    co2_gap, import_gap = (
        metrics["co2_grid_kg"] - report["lp_grid_co2_kg"],
        metrics["import_kwh"] - report["lp_import_kwh"],
    )
    bill_gap = metrics["bill_pen"] - report["lp_bill_pen"]
    return {
        "replay_grid_co2_kg": metrics["co2_grid_kg"],
        "replay_import_kwh": metrics["import_kwh"],
        "replay_bill_pen": metrics["bill_pen"],
        "replay_ev_satisfaction_pct": metrics["ev_satisfaction_pct"],
        "gap_grid_co2_kg": co2_gap,
        "gap_import_kwh": import_gap,
        "gap_bill_pen": bill_gap,
        "gap_grid_co2_pct": PERCENT * co2_gap / report["lp_grid_co2_kg"] if report["lp_grid_co2_kg"] else 0.0,
        "gap_import_pct": PERCENT * import_gap / report["lp_import_kwh"] if report["lp_import_kwh"] else 0.0,
        "gap_bill_pct": PERCENT * bill_gap / report["lp_bill_pen"] if report["lp_bill_pen"] else 0.0,
    }


def lp_record(report: dict) -> dict:
    """The LP report as the metrics file records it: without the run's times and memory."""
    return {key: value for key, value in report.items() if key not in RUN_FIGURES}


def lp_record_path(results_dir: Path, name: str, split: str) -> Path:
    """`oracle/<split>_lp.json` for `oracle` (its path from before the modes), `oracle/<name>_<split>_lp.json` else."""
    prefix = "" if name == CONTROLLER_NAME else f"{name}_"
    return Path(results_dir) / REPORT_DIR / f"{prefix}{split}_lp.json"


def run_oracle(
    settings: Settings,
    data_dir: Path,
    results_dir: Path,
    *,
    name: str = CONTROLLER_NAME,
    options: Oracle | None = None,
    splits: tuple[str, ...] = SPLITS,
) -> dict:
    """Solve each split's LP in the mode `name` names (MODES), replay it through the common runner (the
    held-out year in CityLearn; metrics and timeseries as every controller), and write its LP record
    (`lp_record_path`: size, LP figures, replay gap; times and memory only in the log). Returns the
    runner's record, with each split's full LP report under "lp"."""
    if name not in MODES:
        raise ConfigError(f"oracle: unknown mode {name!r} (known: {', '.join(MODES)})")
    options = options or settings.oracle
    data_dir, results_dir = Path(data_dir), Path(results_dir)
    reports = {}

    def make_controller(split: str) -> OracleSchedule:
        solved = solve_split(settings, data_dir / split, options, MODES[name])
        reports[split] = solved.report
        log.info(
            "%s/%s: LP %d variables, %d constraints, built in %.1f s, solved in %.1f s, peak memory %.0f MB, "
            "grid CO2 %.0f kg, bill %.0f PEN",
            name,
            split,
            solved.report["variables"],
            solved.report["constraints"],
            solved.report["build_seconds"],
            solved.report["solve_seconds"],
            solved.report["peak_rss_mb"],
            solved.report["lp_grid_co2_kg"],
            solved.report["lp_bill_pen"],
        )
        return OracleSchedule(solved.actions, name)

    def lp_records(record: dict) -> dict[Path, dict]:
        """The LP's record of each split, with its replay's gap: written with the metrics, as one record."""
        for split in splits:
            gap = replay_gap(reports[split], record[split])
            reports[split].update(gap, replay_simulator=record["simulator"][split])
        return {lp_record_path(results_dir, name, split): lp_record(reports[split]) for split in splits}

    record = run_controller(
        settings,
        name,
        make_controller,
        data_dir=data_dir,
        results_dir=results_dir,
        splits=splits,
        fast_training_year=True,
        other_files=lp_records,
    )
    record["lp"] = reports
    return record
