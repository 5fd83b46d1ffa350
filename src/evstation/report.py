"""The comparison of every controller of every scenario on both years: tables (Markdown, CSV, JSON) and figures.

Agents trained with several seeds are reported by their interquartile mean over seeds with a
stratified bootstrap confidence interval, both from rliable (the field's library for aggregating
RL runs); never by their best seed. With three seeds the IQM trims nothing (a quarter of three
runs is less than one) and equals the mean; from four seeds on it drops the extremes. Changes are
given against `uncontrolled` (the no-control baseline) and `without_solar`, and, when the oracle
was run, each controller's share of the oracle's CO2 gain over `uncontrolled`.

The bar an agent is measured against is the best rule of its scenario: the rule controller with
the lowest held-out grid CO2 among those that serve the fleet as well as the oracle does (within
`report.ev_service_tolerance_pct`). The seed report's targets (params `report.seed_targets`) are
set beside what was measured and what the oracle shows to be possible.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.stats  # noqa: E402

from rliable import library as rly  # noqa: E402
from rliable import metrics as rl_metrics  # noqa: E402

from .config import SPLITS, Settings, scenario_settings  # noqa: E402
from .errors import DataError  # noqa: E402
from .files import write_csv_atomically, write_json_atomically  # noqa: E402

log = logging.getLogger(__name__)
RULES = ("uncontrolled", "rule_based", "self_consumption", "least_laxity")   # the candidates for the bar
BASELINE_ORDER = ("without_solar",) + RULES + ("oracle",)
AGENT_ORDER = ("a2c", "sac", "ppo")
KPIS = ("co2_grid_kg", "co2_net_kg", "co2_emitted_kg", "co2_indirect_avoided_kg", "co2_direct_avoided_kg",
        "import_kwh", "cost_pen", "solar_utilization_pct", "surplus_kwh", "ev_satisfaction_pct",
        "ev_energy_fulfilment_pct", "peak_import_kw", "mean_daily_peak_import_kw", "bess_in_kwh", "bess_out_kwh",
        "reward_mean", "learning_reward_mean")
BAR_KPIS = ("co2_grid_kg", "reward_mean", "learning_reward_mean")   # each agent's distance to the best rule
IQM_TRIM = 0.25                    # rliable's interquartile mean cuts a quarter of the runs at each end
CHANGE_KPIS = ("co2_grid_kg", "co2_net_kg", "import_kwh", "cost_pen")
FLOW_COLUMNS = {"pv_kwh": "PV", "load_kwh": "mall", "ev_kwh": "EV charging", "import_kwh": "grid import"}


@dataclass(frozen=True)
class Entry:
    """One controller's KPIs on one split: a single run, or the seeds of an agent."""
    controller: str
    split: str
    values: dict[str, list[float]]          # KPI -> one value per run (one run for a baseline)


def interquartile_mean(values: np.ndarray) -> float:
    """rliable's IQM over runs (a 25 % trimmed mean: with fewer than four runs, the mean)."""
    return float(rl_metrics.aggregate_iqm(np.asarray(values, dtype=float)))


def central(values: np.ndarray) -> float:
    return interquartile_mean(values)


def _iqm_per_column(scores: np.ndarray) -> np.ndarray:
    """rliable's IQM (`aggregate_iqm`: scipy's 25 % trimmed mean) of each column at once: the same
    numbers as one `aggregate_iqm` call per column, and fast enough for thousands of resamples."""
    return np.atleast_1d(scipy.stats.trim_mean(scores, proportiontocut=IQM_TRIM, axis=0))


def bootstrap_intervals(scores: np.ndarray, samples: int, confidence_pct: float, seed: int) -> np.ndarray:
    """rliable's stratified bootstrap interval of the IQM of each column (a KPI) over the rows (runs):
    an array (2, columns) of low and high bounds. Each KPI is a stratum, so its runs are resampled
    among themselves, as a task's runs are in rliable."""
    with warnings.catch_warnings():      # arch asks for a Generator; rliable hands it a RandomState
        warnings.simplefilter("ignore", FutureWarning)
        _, intervals = rly.get_interval_estimates({"runs": scores}, _iqm_per_column, reps=samples,
                                                  confidence_interval_size=confidence_pct / 100,
                                                  random_state=np.random.RandomState(seed))
    return intervals["runs"]


def bootstrap_interval(values: np.ndarray, samples: int, confidence_pct: float, seed: int):
    """The interval of one KPI's IQM over runs; a single run has no interval."""
    if len(values) < 2:
        return None, None
    low, high = bootstrap_intervals(np.asarray(values, dtype=float).reshape(-1, 1), samples, confidence_pct, seed)[:, 0]
    return float(low), float(high)


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
    rows = []
    for entry in entries:
        row = {"controller": entry.controller, "split": entry.split, "runs": len(entry.values["co2_grid_kg"])}
        kpis = [kpi for kpi, values in entry.values.items() if all(v is not None for v in values)]
        scores = np.array([entry.values[kpi] for kpi in kpis], dtype=float).T      # runs x KPIs
        row.update({kpi: np.nan for kpi in entry.values})
        if kpis:
            row.update(dict(zip(kpis, _iqm_per_column(scores))))
        if row["runs"] > 1 and kpis:
            intervals = bootstrap_intervals(scores, report.bootstrap_samples, report.confidence_pct, report.bootstrap_seed)
            for index, kpi in enumerate(kpis):
                row[f"{kpi}_ci_low"], row[f"{kpi}_ci_high"] = map(float, intervals[:, index])
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


# ---------------------------------------------------------------- the bar and the seed's targets

def best_rule(table: pd.DataFrame, tolerance_pct: float) -> str | None:
    """The rule with the lowest held-out grid CO2 among those serving the fleet within `tolerance_pct`
    of the oracle's EV satisfaction (of every rule's, when the oracle was not run)."""
    evaluation = table[table["split"] == "eval"].set_index("controller")
    rules = evaluation[evaluation.index.isin(RULES)]
    if "oracle" in evaluation.index:
        rules = rules[rules["ev_satisfaction_pct"] >= evaluation.loc["oracle", "ev_satisfaction_pct"] - tolerance_pct]
    return str(rules["co2_grid_kg"].idxmin()) if len(rules) else None


def mark_the_bar(table: pd.DataFrame, tolerance_pct: float) -> pd.DataFrame:
    """Flag the scenario's best rule and give every controller its distance to it, per split:
    grid CO2 in percent, the rewards (per step, higher is better) as differences."""
    table = table.copy()
    bar = best_rule(table, tolerance_pct)
    table["best_rule"] = table["controller"] == bar
    for split in SPLITS:
        in_split = table["split"] == split
        reference = table[in_split & table["best_rule"]]
        if not len(reference):
            continue
        base = float(reference["co2_grid_kg"].iloc[0])
        table.loc[in_split, "co2_grid_kg_vs_best_rule_pct"] = 100 * (table.loc[in_split, "co2_grid_kg"] - base) / base
        for kpi in BAR_KPIS[1:]:
            if kpi in table and pd.notna(reference[kpi].iloc[0]):
                table.loc[in_split, f"{kpi}_vs_best_rule"] = table.loc[in_split, kpi] - float(reference[kpi].iloc[0])
    return table


TARGETS = {   # target key -> (column of the table, higher is better, label)
    "grid_import_change_pct": ("import_kwh_change_vs_uncontrolled_pct", False, "grid import vs uncontrolled (%)"),
    "grid_co2_change_pct": ("co2_grid_kg_change_vs_uncontrolled_pct", False, "grid CO2 vs uncontrolled (%)"),
    "solar_utilization_pct": ("solar_utilization_pct", True, "solar used (%)"),
    "ev_satisfaction_pct": ("ev_satisfaction_pct", True, "EV sessions satisfied (%)"),
}


def _verdict(value: float, low: float, high: float, higher_is_better: bool) -> str:
    if np.isnan(value):
        return "no agent serving the fleet"
    if low <= value <= high:
        return "in range"
    better = value > high if higher_is_better else value < low
    return "beyond (better)" if better else "short"


def target_rows(settings: Settings, table: pd.DataFrame) -> list[dict]:
    """Each seed target beside the oracle's value, the best rule's and the best agent's (eval year); for the
    CO2, import and solar targets the best agent among those serving the fleet as the oracle does."""
    evaluation = table[table["split"] == "eval"].set_index("controller")
    agents = [agent for agent in AGENT_ORDER if agent in evaluation.index]
    bar = best_rule(table, settings.report.ev_service_tolerance_pct)
    required = (evaluation.loc["oracle", "ev_satisfaction_pct"] - settings.report.ev_service_tolerance_pct
                if "oracle" in evaluation.index else -np.inf)
    serving = [agent for agent in agents if evaluation.loc[agent, "ev_satisfaction_pct"] >= required]
    rows = []
    for key, (column, higher, label) in TARGETS.items():
        low, high = getattr(settings.report.seed_targets, key)

        def value(name):
            return float(evaluation.loc[name, column]) if name in evaluation.index and column in evaluation else np.nan

        # a CO2 or solar figure bought by leaving vehicles uncharged is no claim met: those agents only count for EV service
        candidates = agents if key == "ev_satisfaction_pct" else [agent for agent in agents if agent in serving]
        agent_values = {agent: value(agent) for agent in candidates}
        best_agent = (max if higher else min)(agent_values, key=agent_values.get) if candidates else None
        oracle, measured = value("oracle"), agent_values.get(best_agent, np.nan)
        possible = _verdict(oracle, low, high, higher)
        if possible == "short":
            why = f"cannot hold here: the oracle, with perfect foresight, reaches only {oracle:.1f}"
        elif np.isnan(oracle):
            why = "oracle not run"
        elif key.endswith("change_pct") or key == "ev_satisfaction_pct":
            why = f"possible (oracle {oracle:.1f}); agents {_verdict(measured, low, high, higher)}"
        else:
            reference = value("uncontrolled")
            why = (f"the site already uses {reference:.1f} without control: the target describes another site"
                   if _verdict(reference, low, high, higher) == "beyond (better)" else
                   f"possible (oracle {oracle:.1f}); agents {_verdict(measured, low, high, higher)}")
        rows.append({"target": label, "low": low, "high": high, "oracle": oracle, "best_rule": value(bar) if bar else np.nan,
                     "best_agent": best_agent, "best_agent_value": measured,
                     "verdict": _verdict(measured, low, high, higher), "why": why})
    return rows


# ---------------------------------------------------------------- Markdown

MARKDOWN_COLUMNS = {
    "controller": "controller", "runs": "runs", "co2_grid_kg": "grid CO2 (t)", "co2_net_kg": "net CO2 (t)",
    "import_kwh": "import (MWh)", "cost_pen": "cost (kPEN)", "solar_utilization_pct": "solar used (%)",
    "ev_satisfaction_pct": "EV satisfied (%)", "peak_import_kw": "peak import (kW)",
    "co2_grid_kg_change_vs_uncontrolled_pct": "grid CO2 vs uncontrolled (%)",
    "co2_grid_kg_change_vs_without_solar_pct": "grid CO2 vs without solar (%)",
    "share_of_oracle_gain_pct": "share of oracle gain (%)",
}
HEADLINE_COLUMNS = ("controller", "runs", "co2_grid_kg", "import_kwh", "solar_utilization_pct", "ev_satisfaction_pct",
                    "co2_grid_kg_change_vs_uncontrolled_pct", "share_of_oracle_gain_pct")
BAR_COLUMNS = {"controller": "agent", "co2_grid_kg_vs_best_rule_pct": "grid CO2 vs best rule (%)",
               "reward_mean_vs_best_rule": "reward per step vs best rule",
               "learning_reward_mean_vs_best_rule": "learning reward per step vs best rule"}
DIVISORS = {"co2_grid_kg": 1e3, "co2_net_kg": 1e3, "import_kwh": 1e3, "cost_pen": 1e3}


def _cell(row: pd.Series, column: str) -> str:
    value = row.get(column)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if column == "controller":
        return f"**{value}** (best rule)" if row.get("best_rule") is True else str(value)
    if column == "runs":
        return str(value)
    divisor = DIVISORS.get(column, 1.0)
    digits = 4 if column.startswith(("reward", "learning_reward")) else 1
    text = f"{value / divisor:,.{digits}f}" if abs(value / divisor) < 1e5 else f"{value / divisor:,.0f}"
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if low is not None and not (isinstance(low, float) and np.isnan(low)):
        text += f" [{low / divisor:,.{digits}f}, {high / divisor:,.{digits}f}]"
    return text


def _table(rows: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    shown = [c for c in columns if c in rows.columns]
    lines = ["| " + " | ".join(columns[c] for c in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(row, c) for c in shown) + " |" for _, row in rows.iterrows()]
    return lines + [""]


def headline_rows(scenario_table: pd.DataFrame) -> pd.DataFrame:
    """Held-out year: without solar, uncontrolled, the best rule, the oracle, then each agent."""
    evaluation = scenario_table[scenario_table["split"] == "eval"]
    keep = evaluation["controller"].isin(("without_solar", "uncontrolled", "oracle") + AGENT_ORDER) | evaluation["best_rule"]
    order = {name: index for index, name in enumerate(("without_solar", "uncontrolled") + RULES[1:] + ("oracle",) + AGENT_ORDER)}
    return evaluation[keep].sort_values("controller", key=lambda names: names.map(order))


def scenario_markdown(settings: Settings, scenario: str, table: pd.DataFrame) -> list[str]:
    rows = table[table["scenario"] == scenario]
    bar = rows.loc[rows["best_rule"], "controller"]
    lines = [f"## Scenario `{scenario}`", "",
             f"Best rule (the bar for the agents): **{bar.iloc[0] if len(bar) else 'none serves the fleet'}**.", "",
             "### Headline: evaluation year (held out)", ""]
    lines += _table(headline_rows(rows), {c: MARKDOWN_COLUMNS[c] for c in HEADLINE_COLUMNS})
    agents = rows[(rows["split"] == "eval") & rows["controller"].isin(AGENT_ORDER)]
    if len(agents) and "co2_grid_kg_vs_best_rule_pct" in rows:
        lines += ["### Agents against the best rule (evaluation year; negative CO2 and positive reward are better)", ""]
        lines += _table(agents, BAR_COLUMNS)
    lines += ["### Seed report's targets (evaluation year)", "",
              "| target | seed's range | oracle allows | best rule | best agent serving the fleet (IQM) | verdict | why |",
              "|---|---|---|---|---|---|---|"]
    for target in target_rows(settings, rows):
        agent = (f"{target['best_agent']}: {target['best_agent_value']:.1f}" if target["best_agent"] else "none serves the fleet")
        lines.append(f"| {target['target']} | {target['low']:g} to {target['high']:g} | {target['oracle']:.1f} | "
                     f"{target['best_rule']:.1f} | {agent} | {target['verdict']} | {target['why']} |")
    lines.append("")
    for split, title in (("eval", "Every controller, evaluation year (held out)"), ("train", "Every controller, training year")):
        lines += [f"### {title}", ""] + _table(rows[rows["split"] == split], MARKDOWN_COLUMNS)
    return lines


def markdown(settings: Settings, table: pd.DataFrame) -> str:
    seeds = list(settings.training.seeds)
    lines = [f"# Controller comparison, scenarios {', '.join(settings.scenarios)}", "",
             f"Agents: rliable's interquartile mean over training seeds {seeds} with a "
             f"{settings.report.confidence_pct:g} % stratified bootstrap interval in brackets"
             + (" (with fewer than four seeds the IQM trims nothing and is the mean)" if len(seeds) < 4 else "")
             + ". Negative changes are savings. Grid emission factor "
             f"{settings.emissions.grid_kg_per_kwh} kg CO2/kWh (a diesel grid is nearer 0.65-0.95). "
             "The share of the oracle's gain is not given (–) for a controller that satisfies fewer EV sessions "
             f"than the oracle (by more than {settings.report.ev_service_tolerance_pct:g} points): leaving vehicles "
             "uncharged also cuts grid CO2, but not in a way the oracle, which serves every session, would count. "
             "The best rule is the lowest held-out grid CO2 among the rules that serve the fleet as well.", ""]
    for scenario in settings.scenarios:
        lines += scenario_markdown(settings, scenario, table)
    return "\n".join(lines)


# ---------------------------------------------------------------- figures

def kpi_bars(table: pd.DataFrame, scenarios: tuple[str, ...], path: Path) -> None:
    """One row of panels per scenario; the best rule in orange."""
    shown = [("co2_grid_kg", "grid CO2 (t)", 1e3), ("cost_pen", "cost (kPEN)", 1e3),
             ("solar_utilization_pct", "solar used (%)", 1.0), ("ev_satisfaction_pct", "EV sessions satisfied (%)", 1.0)]
    figure, axes = plt.subplots(len(scenarios), len(shown), figsize=(4.2 * len(shown), 4 * len(scenarios)), squeeze=False)
    for row, scenario in zip(axes, scenarios):
        evaluation = table[(table["split"] == "eval") & (table["scenario"] == scenario)]
        colours = np.where(evaluation["best_rule"], "tab:orange", "tab:blue")
        for axis, (kpi, label, divisor) in zip(row, shown):
            values = evaluation[kpi] / divisor
            low = evaluation.get(f"{kpi}_ci_low", pd.Series(np.nan, index=evaluation.index)) / divisor
            high = evaluation.get(f"{kpi}_ci_high", pd.Series(np.nan, index=evaluation.index)) / divisor
            errors = np.vstack([(values - low).fillna(0).clip(lower=0), (high - values).fillna(0).clip(lower=0)])
            axis.bar(evaluation["controller"], values, yerr=errors, capsize=4, color=colours)
            axis.set_title(f"{scenario}: {label}")
            axis.tick_params(axis="x", rotation=45)
            if (kpi.endswith("_kg") or kpi.endswith("_pen")) and len(values) and values.min() > 0:
                # the differences between controllers are a few percent: the axis starts near the smallest bar
                axis.set_ylim(bottom=values.min() * 0.95)
                axis.set_title(f"{scenario}: {label}, axis not from 0")
    figure.suptitle("Evaluation year: KPIs per controller (agents: IQM over seeds, 95 % interval; best rule orange)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def representative_week(timeseries: pd.DataFrame, start_day: int) -> slice:
    steps = len(timeseries)
    start = min(start_day * 24, max(steps - 168, 0))
    return slice(start, min(start + 168, steps))


def week_of(scenario_dir: Path, controller: str, settings: Settings) -> pd.DataFrame | None:
    name = controller if controller in BASELINE_ORDER else f"{controller}_seed{settings.training.seeds[0]}"
    path = scenario_dir / "timeseries" / f"{name}_eval.csv"
    if not path.is_file():
        return None
    timeseries = pd.read_csv(path)
    return timeseries.iloc[representative_week(timeseries, settings.report.representative_week_start_day)]


def power_flows(results_dir: Path, settings: Settings, controllers: list[str], path: Path) -> None:
    """A column per scenario, a row per controller."""
    scenarios = settings.scenarios
    figure, axes = plt.subplots(len(controllers), len(scenarios), figsize=(9 * len(scenarios), 2.6 * len(controllers)),
                                sharex=True, squeeze=False)
    for column, scenario in enumerate(scenarios):
        for row, controller in enumerate(controllers):
            axis, week = axes[row, column], week_of(scenario_dir(results_dir, scenario), controller, settings)
            axis.set_ylabel(f"{controller}\nkW")
            axis.grid(alpha=0.3)
            if week is None:
                continue
            hours = np.arange(len(week))
            for name, label in FLOW_COLUMNS.items():
                axis.plot(hours, week[name], label=label)
            axis.plot(hours, week["bess_out_kwh"] - week["bess_in_kwh"], label="battery (+ discharge)")
        axes[0, column].set_title(scenario)
        axes[-1, column].set_xlabel("hour of the representative week (evaluation year)")
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(loc="upper right", ncol=5, fontsize=8)
    figure.suptitle("Power flows over one week, per controller and scenario")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def battery_soc(results_dir: Path, settings: Settings, controllers: list[str], path: Path) -> None:
    figure, axes = plt.subplots(len(settings.scenarios), 1, figsize=(12, 3.5 * len(settings.scenarios)), squeeze=False)
    for axis, scenario in zip(axes[:, 0], settings.scenarios):
        for controller in controllers:
            week = week_of(scenario_dir(results_dir, scenario), controller, settings)
            if week is not None:
                axis.plot(np.arange(len(week)), week["bess_soc_pct"], label=controller)
        axis.axhline(settings.battery.min_soc_pct, color="grey", linestyle="--", linewidth=1, label="SOC floor")
        axis.set_title(scenario)
        axis.set_ylabel("battery SOC (%)")
        axis.legend(ncol=4, fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("hour of the representative week (evaluation year)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


CURVE_PANELS = {"reward_mean": "mean reward per step", "reward_co2_mean": "CO2 component",
                "reward_ev_satisfaction_mean": "EV satisfaction component"}


def learning_curves(results_dir: Path, settings: Settings, path: Path) -> None:
    """One row per scenario and agent, each on its own step axis: SAC's budget is a twentieth of the others'."""
    curves = {(scenario, agent): {seed: pd.read_csv(p) for seed in settings.training.seeds
                                  if (p := scenario_dir(results_dir, scenario) / "curves" / f"{agent}_seed{seed}.csv").is_file()}
              for scenario in settings.scenarios for agent in AGENT_ORDER}
    curves = {key: runs for key, runs in curves.items() if runs}
    rows = max(len(curves), 1)
    figure, axes = plt.subplots(rows, len(CURVE_PANELS), figsize=(13, 2.8 * rows), squeeze=False)
    if not curves:
        axes[0, 0].text(0.5, 0.5, "no agent has been trained yet", ha="center", va="center")
    for row, ((scenario, agent), runs) in zip(axes, curves.items()):
        for seed, curve in runs.items():
            for axis, column in zip(row, CURVE_PANELS):
                if column in curve:
                    axis.plot(curve["timesteps"], curve[column], label=f"seed {seed}")
        row[0].set_ylabel(f"{scenario}\n{agent}")
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


def scenario_dir(results_dir: Path, scenario: str) -> Path:
    return results_dir / "scenarios" / scenario


def scenario_table(settings: Settings, results_dir: Path, scenario: str) -> pd.DataFrame:
    """One scenario's rows: its records compared, its best rule marked, each controller's distance to it."""
    settings = scenario_settings(settings, scenario)
    table = comparison_table(settings, load_entries(settings, scenario_dir(results_dir, scenario) / "metrics"))
    table = mark_the_bar(table, settings.report.ev_service_tolerance_pct)
    table.insert(0, "scenario", scenario)
    return table


def _json_safe(value):
    """JSON has no NaN: a missing figure is null."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def write_report(settings: Settings, results_dir: Path, report_dir: Path) -> pd.DataFrame:
    """The report of every scenario of `settings` from the records under `results_dir/scenarios/`."""
    table = pd.concat([scenario_table(settings, results_dir, scenario) for scenario in settings.scenarios],
                      ignore_index=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomically(report_dir / "comparison.csv", table)
    records = json.loads(table.to_json(orient="records"))
    targets = {scenario: target_rows(settings, table[table["scenario"] == scenario]) for scenario in settings.scenarios}
    write_json_atomically(report_dir / "comparison.json", {"scenarios": list(settings.scenarios), "rows": records,
                                                           "seed_targets": _json_safe(targets)})
    (report_dir / "comparison.md").write_text(markdown(settings, table) + "\n")
    controllers = list(dict.fromkeys(table["controller"]))
    kpi_bars(table, settings.scenarios, report_dir / "kpi_bars.png")
    power_flows(results_dir, settings, controllers, report_dir / "power_flows_week.png")
    battery_soc(results_dir, settings, controllers, report_dir / "battery_soc_week.png")
    learning_curves(results_dir, settings, report_dir / "learning_curves.png")
    return table
