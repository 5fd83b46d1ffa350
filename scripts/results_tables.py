"""The README's results tables, from the report's records (results/report/comparison.csv, written by
`evstation compare`): per scenario, the station's service (vehicles arrived, turned away, sessions served),
the held-out year of every controller (CO2, import, the bill and its parts, EV satisfaction of the sessions
served) and the room on each objective, best rule minus optimum, in units and in %. A report written before
it recorded the service takes it from the dataset summary beside it (`../scenarios/<scenario>/dataset/`).

    .venv/bin/python scripts/results_tables.py                  # results/report/comparison.csv
    .venv/bin/python scripts/results_tables.py --report other/report
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evstation.config import load_settings, scenario_settings  # noqa: E402
from evstation.report.names import AGENT_ORDER, BASELINE_ORDER, OBJECTIVE_KPI, OBJECTIVE_LABEL, OPTIMUM  # noqa: E402
from evstation.report.records import dataset_summary  # noqa: E402
from evstation.report.tables import best_rule, near_zero  # noqa: E402
from evstation.report.text import signed, table_lines  # noqa: E402  (signed: "0.0", never "-0.0"; the report's tables)

COLUMNS = {
    "co2_grid_kg": ("grid CO2 (t)", 1e3),
    "import_kwh": ("import (MWh)", 1e3),
    "bill_pen": ("bill (kPEN)", 1e3),
    "bill_energy_pen": ("energy (kPEN)", 1e3),
    "bill_demand_generation_pen": ("generation demand (kPEN)", 1e3),
    "bill_demand_distribution_pen": ("distribution demand (kPEN)", 1e3),
    "ev_satisfaction_pct": ("EV satisfied (% of served)", 1.0),
}
UNITS = {"co2_grid_kg": ("t", 1e3), "bill_pen": ("kPEN", 1e3)}


def _cell(row: pd.Series, column: str, divisor: float) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value / divisor:,.1f}"
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if isinstance(low, float) and not math.isnan(low) and round(low / divisor, 1) != round(high / divisor, 1):
        text += f" [{low / divisor:,.1f}, {high / divisor:,.1f}]"
    return text


def room_line(evaluation: pd.DataFrame, table: pd.DataFrame, objective: str, settings) -> str:
    """The best rule on an objective, its optimum, and the room between them; no % of a best rule
    near zero (within the report's near-zero share of uncontrolled's value), as the report does."""
    kpi, optimum, label = OBJECTIVE_KPI[objective], OPTIMUM[objective], OBJECTIVE_LABEL[objective]
    unit, divisor = UNITS[kpi]
    bar = best_rule(table, settings.report.ev_service_tolerance_pct, objective)
    if bar is None or optimum not in evaluation.index:
        return f"- {label}: no best rule or no `{optimum}` record."
    rule_value, best = evaluation.loc[bar, kpi], evaluation.loc[optimum, kpi]
    room = rule_value - best
    share = (
        ""
        if near_zero(rule_value, evaluation.loc["uncontrolled", kpi], settings)
        else f" ({signed(100 * room / rule_value)} % of the best rule)"
    )
    return (
        f"- {label}: best rule `{bar}` {rule_value / divisor:,.1f} {unit}, "
        f"`{optimum}` {best / divisor:,.1f} {unit}: room {signed(room / divisor)} {unit}{share}"
    )


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def service(evaluation: pd.DataFrame, results_dir: Path, scenario: str) -> str:
    """The station's service on the held-out year, as the heading's tail: from the report's rows, else from the
    scenario's dataset summary; empty where neither has it."""
    first = evaluation.iloc[0]
    figures = {key: first.get(key) for key in ("arrivals", "turned_away", "turned_away_pct", "turned_away_energy_kwh")}
    if not _known(figures["arrivals"]):
        figures = dataset_summary(results_dir, scenario).get("eval", {})
    if not all(_known(figures.get(key)) for key in ("arrivals", "turned_away", "turned_away_pct")):
        return ""
    energy = figures.get("turned_away_energy_kwh")
    wanted = f", wanting {energy / 1e3:,.1f} MWh" if _known(energy) else ""
    sessions = evaluation["sessions_departed"].dropna() if "sessions_departed" in evaluation else []
    sessions = [sessions.iloc[0]] if len(sessions) and sessions.nunique() == 1 else [figures.get("sessions")]
    served = f", {int(sessions[0]):,} sessions served" if _known(sessions[0]) else ""
    return (
        f"; {int(figures['arrivals']):,} vehicles arrived, {int(figures['turned_away']):,} "
        f"({figures['turned_away_pct']:.1f} %) turned away (every socket of their kind taken){wanted}{served}"
    )


def scenario_tables(table: pd.DataFrame, params: Path, results_dir: Path) -> str:
    settings = load_settings(params)
    lines = []
    for scenario in dict.fromkeys(table["scenario"]):
        rows = table[table["scenario"] == scenario]
        scenario_config = scenario_settings(settings, scenario) if scenario in settings.scenarios else settings
        evaluation = rows[rows["split"] == "eval"].set_index("controller")
        order = [name for name in BASELINE_ORDER + AGENT_ORDER if name in evaluation.index]
        heading = f"**{scenario}** (objective `{scenario_config.objective}`), held-out year"
        lines += [f"{heading}{service(evaluation, results_dir, scenario)}:", ""]
        lines += [room_line(evaluation, rows, objective, scenario_config) for objective in ("grid_co2", "bill")] + [""]
        rows_shown = {
            name: (
                str(int(evaluation.loc[name, "runs"])),
                *(_cell(evaluation.loc[name], column, divisor) for column, (_, divisor) in COLUMNS.items()),
            )
            for name in order
        }
        agents = [name for name in AGENT_ORDER if name in rows_shown]
        alike: dict[tuple, list[str]] = {}  # agents with identical rows: one row
        for name in agents:
            alike.setdefault(rows_shown[name], []).append(name)
        rows_shown = {name: row for name, row in rows_shown.items() if name not in agents}
        for row, names in alike.items():
            rows_shown[f"{', '.join(names)} (each)" if len(names) > 1 else names[0]] = row
        shown = pd.DataFrame(
            [[name, *row] for name, row in rows_shown.items()],
            columns=["controller", "runs", *(label for label, _ in COLUMNS.values())],
        )
        lines += table_lines(shown.values.tolist(), list(shown.columns))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, default=ROOT / "results" / "report", help="the report's folder")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args(argv)
    path = args.report / "comparison.csv"
    if not path.is_file():
        print(f"results_tables: error: {path}: no such file (run `evstation compare`)", file=sys.stderr)
        return 2
    print(scenario_tables(pd.read_csv(path), args.params, args.report.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
