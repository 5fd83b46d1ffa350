"""The comparison of every controller of every scenario on both years: tables (Markdown, CSV, JSON),
a summary of every controller's main figures, the headline figures `dvc metrics` follows, and figures.

Agents trained with several seeds are reported by their interquartile mean over seeds with a
stratified bootstrap confidence interval, both from rliable (the field's library for aggregating
RL runs); never by their best seed. With three seeds the IQM trims nothing (a quarter of three
runs is less than one) and equals the mean; from four seeds on it drops the extremes.

Each scenario is judged on its objective (params `objective`): least grid CO2 or smallest bill.
The bar an agent is measured against is the scenario's best rule: the rule controller with the
lowest held-out objective among those that serve the fleet as well as the optimum does (within
`report.ev_service_tolerance_pct`). The optimum is the perfect-foresight LP solved for that
objective: `oracle` (grid CO2 first) or `oracle_bill` (bill first). The room is what the best rule
leaves to any controller: best rule minus optimum, and each controller's share of the room is how
much of it it took. The rolling-horizon planner `mpc` is reported like the agents (its bill, CO2
and share of the room, and each agent's distance to it), never as a candidate for the bar: it is a
planner on forecasts, not a rule.
Changes are also given against `uncontrolled` (the no-control baseline) and
`without_solar`, with each controller's share of the optimum's gain over `uncontrolled`.

Nothing is given as a percentage of a base near zero (within `report.near_zero_base_pct_of_uncontrolled`
of `uncontrolled`'s own value of that KPI): the absolute difference is given instead. No share of a
gain is given to `without_solar` (another site, not a control strategy) nor to a controller that
serves fewer EV sessions than the optimum. Records without a KPI (older records have no bill) show
"n/a". The seed report's targets (params `report.seed_targets`) are set beside what was measured
and what the oracle shows to be possible.

One concern per module: `names` (the controllers by role, the KPIs), `records` (reading the
pipeline's records), `statistics` (IQM and intervals), `tables` (the comparison as a DataFrame, the
bar, the targets, the summary), `text` (values as written, the Markdown) and `figures`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from ..config import Settings, scenario_settings
from ..errors import FULL, DataError
from ..files import (
    crash_point,
    remove_leftovers_beside,
    staging_folder,
    swap_in_folder,
    write_csv_atomically,
    write_json_atomically,
)
from .figures import battery_soc, kpi_bars, learning_curves, power_flows, scenario_weeks, turned_away_by_hour
from .names import controller_order
from .records import kept_model_steps
from .tables import headline, json_safe, scenario_table, summary, target_rows
from .text import markdown

__all__ = ["write_report"]

log = logging.getLogger(__name__)
WEEK_FIGURES = ("power_flows_week.png", "battery_soc_week.png")


def _write_week_figures(table: pd.DataFrame, settings: Settings, results_dir: Path, report_dir: Path) -> None:
    """The representative week's flows and battery SOC, where the evaluation timeseries are there; else none,
    not even an earlier run's (it would show other records)."""
    weeks = scenario_weeks(results_dir, settings, controller_order(table["controller"]))
    if weeks:
        power_flows(weeks, settings, report_dir / WEEK_FIGURES[0])
        battery_soc(weeks, settings, report_dir / WEEK_FIGURES[1])
        return
    log.warning(
        "no evaluation timeseries under %s/scenarios/*/timeseries: week figures (%s) not drawn",
        results_dir,
        ", ".join(WEEK_FIGURES),
    )
    for name in WEEK_FIGURES:
        (report_dir / name).unlink(missing_ok=True)


def write_report(settings: Settings, results_dir: Path, report_dir: Path) -> pd.DataFrame:
    """The report of every scenario of `settings` from the records under `results_dir/scenarios/`, written
    into a hidden folder beside `report_dir` that then replaces it by renames: the report's Markdown,
    tables, summary and figures are all of one run, or (a run killed between the renames) missing;
    a run that fails leaves the old report as it was. `report_dir` holds this report's files only. The
    caller holds the report's lock (locking.py)."""
    remove_leftovers_beside(report_dir)  # what a killed run left
    staging = staging_folder(report_dir)
    try:
        table = _write_report_into(settings, results_dir, staging)
        crash_point("report-staged")
        swap_in_folder(staging, report_dir)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError) and error.errno in FULL:  # a figure's file, written by matplotlib
            raise DataError(f"{report_dir}: cannot be written ({error.strerror}); left as it was") from None
        raise
    return table


def _write_report_into(settings: Settings, results_dir: Path, report_dir: Path) -> pd.DataFrame:
    tables = [scenario_table(settings, results_dir, scenario) for scenario in settings.scenarios]
    tables = [table for table in tables if len(table)]
    if not tables:
        raise DataError(f"{results_dir}/scenarios: no scenario has metrics records (run the baselines first)")
    table = pd.concat(tables, ignore_index=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomically(report_dir / "comparison.csv", table)
    records = json.loads(table.to_json(orient="records"))
    compared = [scenario for scenario in settings.scenarios if (table["scenario"] == scenario).any()]
    targets = {
        scenario: target_rows(scenario_settings(settings, scenario), table[table["scenario"] == scenario])
        for scenario in compared
    }
    write_json_atomically(
        report_dir / "comparison.json", {"scenarios": compared, "rows": records, "seed_targets": json_safe(targets)}
    )
    write_json_atomically(report_dir / "summary.json", summary(table, compared))
    write_json_atomically(report_dir / "headline.json", headline(table, compared))
    (report_dir / "comparison.md").write_text(markdown(settings, table, results_dir) + "\n")
    kpi_bars(table, tuple(compared), report_dir / "kpi_bars.png")
    turned_away_by_hour(results_dir, settings, tuple(compared), report_dir / "turned_away_by_hour.png")
    _write_week_figures(table, settings, results_dir, report_dir)
    learning_curves(results_dir, settings, kept_model_steps(results_dir, settings), report_dir / "learning_curves.png")
    return table
