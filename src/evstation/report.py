"""The comparison of every controller on both years: tables (Markdown, CSV, JSON) and figures.

Agents trained with several seeds are reported by their mean over seeds (the interquartile mean
from 5 seeds up, which a single lucky seed cannot pull) with a bootstrap confidence interval over
the seeds; never by their best seed. Changes are given against `uncontrolled` (the no-control
baseline) and `without_solar`, and, when the oracle was run, each controller's share of the
oracle's CO2 gain over `uncontrolled`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .config import SPLITS, Settings  # noqa: E402
from .errors import DataError  # noqa: E402
from .files import write_csv_atomically, write_json_atomically  # noqa: E402

log = logging.getLogger(__name__)
BASELINE_ORDER = ("without_solar", "uncontrolled", "rule_based", "self_consumption", "least_laxity", "oracle")
AGENT_ORDER = ("a2c", "sac", "ppo")
KPIS = ("co2_grid_kg", "co2_net_kg", "co2_emitted_kg", "co2_indirect_avoided_kg", "co2_direct_avoided_kg",
        "import_kwh", "cost_pen", "solar_utilization_pct", "surplus_kwh", "ev_satisfaction_pct",
        "ev_energy_fulfilment_pct", "peak_import_kw", "mean_daily_peak_import_kw", "bess_in_kwh", "bess_out_kwh",
        "reward_mean")
CHANGE_KPIS = ("co2_grid_kg", "co2_net_kg", "import_kwh", "cost_pen")
IQM_FROM_SEEDS = 5
FLOW_COLUMNS = {"pv_kwh": "PV", "load_kwh": "mall", "ev_kwh": "EV charging", "import_kwh": "grid import"}


@dataclass(frozen=True)
class Entry:
    """One controller's KPIs on one split: a single run, or the seeds of an agent."""
    controller: str
    split: str
    values: dict[str, list[float]]          # KPI -> one value per run (one run for a baseline)


def interquartile_mean(values: np.ndarray) -> float:
    ordered = np.sort(values)
    cut = len(ordered) // 4
    return float(ordered[cut: len(ordered) - cut].mean())


def central(values: np.ndarray) -> float:
    return interquartile_mean(values) if len(values) >= IQM_FROM_SEEDS else float(np.mean(values))


def bootstrap_interval(values: np.ndarray, samples: int, confidence_pct: float, rng: np.random.Generator):
    """Percentile bootstrap of the central value over runs; a single run has no interval."""
    if len(values) < 2:
        return None, None
    draws = rng.choice(values, size=(samples, len(values)), replace=True)
    statistics = np.array([central(row) for row in draws])
    tail = (100 - confidence_pct) / 2
    return float(np.percentile(statistics, tail)), float(np.percentile(statistics, 100 - tail))


def load_entries(settings: Settings, metrics_dir: Path) -> list[Entry]:
    """Every controller with a metrics record: the baselines (and oracle) and each agent's seeds."""
    entries = []
    for name in BASELINE_ORDER:
        path = metrics_dir / f"{name}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            entries += [Entry(name, split, {k: [record[split].get(k)] for k in KPIS}) for split in SPLITS]
    for agent in AGENT_ORDER:
        records = [json.loads(path.read_text()) for seed in settings.training.seeds
                   if (path := metrics_dir / f"{agent}_seed{seed}.json").is_file()]
        if records:
            entries += [Entry(agent, split, {k: [r[split].get(k) for r in records] for k in KPIS}) for split in SPLITS]
    if not any(entry.controller == "uncontrolled" for entry in entries):
        raise DataError(f"{metrics_dir}/uncontrolled.json: missing (run `evstation baseline uncontrolled`)")
    return entries


def comparison_table(settings: Settings, entries: list[Entry]) -> pd.DataFrame:
    """One row per controller and split: central KPIs, intervals, changes, share of the oracle's gain."""
    report = settings.report
    rng = np.random.default_rng(report.bootstrap_seed)
    rows = []
    for entry in entries:
        row = {"controller": entry.controller, "split": entry.split, "runs": len(entry.values["co2_grid_kg"])}
        for kpi, values in entry.values.items():
            array = np.array([v for v in values if v is not None], dtype=float)
            row[kpi] = central(array) if len(array) else np.nan
            if row["runs"] > 1:
                row[f"{kpi}_ci_low"], row[f"{kpi}_ci_high"] = bootstrap_interval(
                    array, report.bootstrap_samples, report.confidence_pct, rng)
        rows.append(row)
    table = pd.DataFrame(rows)
    for split in SPLITS:
        in_split = table["split"] == split
        reference = {name: table[in_split & (table["controller"] == name)] for name in ("uncontrolled", "without_solar", "oracle")}
        for kpi in CHANGE_KPIS:
            for name in ("uncontrolled", "without_solar"):
                if len(reference[name]):
                    base = float(reference[name][kpi].iloc[0])
                    table.loc[in_split, f"{kpi}_change_vs_{name}_pct"] = 100 * (table.loc[in_split, kpi] - base) / abs(base) if base else np.nan
        if len(reference["oracle"]):
            uncontrolled = float(reference["uncontrolled"]["co2_grid_kg"].iloc[0])
            gain = uncontrolled - float(reference["oracle"]["co2_grid_kg"].iloc[0])
            share = 100 * (uncontrolled - table.loc[in_split, "co2_grid_kg"]) / gain if gain > 0 else np.nan
            # leaving vehicles uncharged also cuts import: that is not a share of what the oracle,
            # which serves every session, shows to be possible
            required = float(reference["oracle"]["ev_satisfaction_pct"].iloc[0]) - report.ev_service_tolerance_pct
            serves_fleet = table.loc[in_split, "ev_satisfaction_pct"] >= required
            table.loc[in_split, "share_of_oracle_gain_pct"] = np.where(serves_fleet, share, np.nan)
    return table


# ---------------------------------------------------------------- Markdown

MARKDOWN_COLUMNS = {
    "controller": "controller", "runs": "runs", "co2_grid_kg": "grid CO2 (t)", "co2_net_kg": "net CO2 (t)",
    "import_kwh": "import (MWh)", "cost_pen": "cost (kPEN)", "solar_utilization_pct": "solar used (%)",
    "ev_satisfaction_pct": "EV satisfied (%)", "peak_import_kw": "peak import (kW)",
    "co2_grid_kg_change_vs_uncontrolled_pct": "grid CO2 vs uncontrolled (%)",
    "co2_grid_kg_change_vs_without_solar_pct": "grid CO2 vs without solar (%)",
    "share_of_oracle_gain_pct": "share of oracle gain (%)",
}
DIVISORS = {"co2_grid_kg": 1e3, "co2_net_kg": 1e3, "import_kwh": 1e3, "cost_pen": 1e3}


def _cell(row: pd.Series, column: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if column in ("controller", "runs"):
        return str(value)
    divisor = DIVISORS.get(column, 1.0)
    text = f"{value / divisor:,.1f}" if abs(value / divisor) < 1e5 else f"{value / divisor:,.0f}"
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if low is not None and not (isinstance(low, float) and np.isnan(low)):
        text += f" [{low / divisor:,.1f}, {high / divisor:,.1f}]"
    return text


def markdown(settings: Settings, table: pd.DataFrame) -> str:
    columns = [c for c in MARKDOWN_COLUMNS if c in table.columns]
    lines = [f"# Controller comparison ({settings.scenario} scenario)", "",
             f"Agents: {'interquartile mean' if len(settings.training.seeds) >= IQM_FROM_SEEDS else 'mean'} over "
             f"training seeds {list(settings.training.seeds)} with a {settings.report.confidence_pct:g} % bootstrap "
             "interval in brackets. Negative changes are savings. Grid emission factor "
             f"{settings.emissions.grid_kg_per_kwh} kg CO2/kWh (a diesel grid is nearer 0.65-0.95). "
             "The share of the oracle's gain is not given (–) for a controller that satisfies fewer EV sessions "
             f"than the oracle (by more than {settings.report.ev_service_tolerance_pct:g} points): leaving vehicles "
             "uncharged also cuts grid CO2, but not in a way the oracle, which serves every session, would count.", ""]
    for split, title in (("eval", "Evaluation year (held out)"), ("train", "Training year")):
        lines += [f"## {title}", "", "| " + " | ".join(MARKDOWN_COLUMNS[c] for c in columns) + " |",
                  "|" + "---|" * len(columns)]
        for _, row in table[table["split"] == split].iterrows():
            lines.append("| " + " | ".join(_cell(row, c) for c in columns) + " |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- figures

def kpi_bars(table: pd.DataFrame, path: Path) -> None:
    shown = [("co2_grid_kg", "grid CO2 (t)", 1e3), ("cost_pen", "cost (kPEN)", 1e3),
             ("solar_utilization_pct", "solar used (%)", 1.0), ("ev_satisfaction_pct", "EV sessions satisfied (%)", 1.0)]
    evaluation = table[table["split"] == "eval"]
    figure, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4))
    for axis, (kpi, label, divisor) in zip(axes, shown):
        values = evaluation[kpi] / divisor
        low = evaluation.get(f"{kpi}_ci_low", pd.Series(np.nan, index=evaluation.index)) / divisor
        high = evaluation.get(f"{kpi}_ci_high", pd.Series(np.nan, index=evaluation.index)) / divisor
        errors = np.vstack([(values - low).fillna(0).clip(lower=0), (high - values).fillna(0).clip(lower=0)])
        axis.bar(evaluation["controller"], values, yerr=errors, capsize=4, color="tab:blue")
        axis.set_title(label)
        axis.tick_params(axis="x", rotation=45)
        if kpi.endswith("_kg") or kpi.endswith("_pen"):
            # the differences between controllers are a few percent: the axis starts near the smallest bar
            axis.set_ylim(bottom=max(values.min() * 0.95, 0))
            axis.set_title(f"{label}, axis not from 0")
    figure.suptitle("Evaluation year: KPIs per controller (agents: mean over seeds, 95 % interval)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def representative_week(timeseries: pd.DataFrame, start_day: int) -> slice:
    steps = len(timeseries)
    start = min(start_day * 24, max(steps - 168, 0))
    return slice(start, min(start + 168, steps))


def week_of(results_dir: Path, controller: str, settings: Settings) -> pd.DataFrame | None:
    name = controller if controller in BASELINE_ORDER else f"{controller}_seed{settings.training.seeds[0]}"
    path = results_dir / "timeseries" / f"{name}_eval.csv"
    if not path.is_file():
        return None
    timeseries = pd.read_csv(path)
    return timeseries.iloc[representative_week(timeseries, settings.report.representative_week_start_day)]


def power_flows(results_dir: Path, settings: Settings, controllers: list[str], path: Path) -> None:
    weeks = {c: week for c in controllers if (week := week_of(results_dir, c, settings)) is not None}
    figure, axes = plt.subplots(len(weeks), 1, figsize=(12, 2.6 * len(weeks)), sharex=True, squeeze=False)
    for axis, (controller, week) in zip(axes[:, 0], weeks.items()):
        hours = np.arange(len(week))
        for column, label in FLOW_COLUMNS.items():
            axis.plot(hours, week[column], label=label)
        axis.plot(hours, week["bess_out_kwh"] - week["bess_in_kwh"], label="battery (+ discharge)")
        axis.set_ylabel(f"{controller}\nkW")
        axis.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", ncol=5, fontsize=8)
    first_day = next(iter(weeks.values())).index[0] // 24 if weeks else 0
    axes[-1, 0].set_xlabel(f"hour of the representative week (evaluation year, from day {first_day})")
    figure.suptitle("Power flows over one week, per controller")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def battery_soc(results_dir: Path, settings: Settings, controllers: list[str], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(12, 3.5))
    for controller in controllers:
        week = week_of(results_dir, controller, settings)
        if week is not None:
            axis.plot(np.arange(len(week)), week["bess_soc_pct"], label=controller)
    axis.axhline(settings.battery.min_soc_pct, color="grey", linestyle="--", linewidth=1, label="SOC floor")
    axis.set_ylabel("battery SOC (%)")
    axis.set_xlabel("hour of the representative week (evaluation year)")
    axis.legend(ncol=4, fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


CURVE_PANELS = {"reward_mean": "mean reward per step", "reward_co2_mean": "CO2 component",
                "reward_ev_satisfaction_mean": "EV satisfaction component"}


def learning_curves(results_dir: Path, settings: Settings, path: Path) -> None:
    """One row per agent, each on its own step axis: SAC's budget is a twentieth of the others'."""
    curves = {agent: {seed: pd.read_csv(p) for seed in settings.training.seeds
                      if (p := results_dir / "curves" / f"{agent}_seed{seed}.csv").is_file()}
              for agent in AGENT_ORDER}
    curves = {agent: runs for agent, runs in curves.items() if runs}
    rows = max(len(curves), 1)
    figure, axes = plt.subplots(rows, len(CURVE_PANELS), figsize=(13, 2.8 * rows), squeeze=False)
    if not curves:
        axes[0, 0].text(0.5, 0.5, "no agent has been trained yet", ha="center", va="center")
    for row, (agent, runs) in zip(axes, curves.items()):
        for seed, curve in runs.items():
            for axis, column in zip(row, CURVE_PANELS):
                axis.plot(curve["timesteps"], curve[column], label=f"seed {seed}")
        row[0].set_ylabel(agent)
        row[0].legend(fontsize=7)
    for axis, title in zip(axes[0], CURVE_PANELS.values()):
        axis.set_title(title)
    for axis in axes.flat:
        axis.grid(alpha=0.3)
    for axis in axes[-1]:
        axis.set_xlabel("training steps")
    figure.suptitle("Learning curves on the training year (per-step reward components, 0 is best)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(settings: Settings, results_dir: Path, report_dir: Path) -> pd.DataFrame:
    entries = load_entries(settings, results_dir / "metrics")
    table = comparison_table(settings, entries)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomically(report_dir / "comparison.csv", table)
    records = json.loads(table.to_json(orient="records"))
    write_json_atomically(report_dir / "comparison.json", {"scenario": settings.scenario, "rows": records})
    (report_dir / "comparison.md").write_text(markdown(settings, table) + "\n")
    controllers = list(dict.fromkeys(table["controller"]))
    kpi_bars(table, report_dir / "kpi_bars.png")
    power_flows(results_dir, settings, controllers, report_dir / "power_flows_week.png")
    battery_soc(results_dir, settings, controllers, report_dir / "battery_soc_week.png")
    learning_curves(results_dir, settings, report_dir / "learning_curves.png")
    return table
