"""The comparison of every controller of every scenario on both years: tables (Markdown, CSV, JSON),
a compact summary for `dvc metrics` and figures.

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
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
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
RULES = ("uncontrolled", "rule_based", "self_consumption", "least_laxity", "hold_for_peak",
         "peak_shaving")                                      # the candidates for the bar
OPTIMA = ("oracle", "oracle_bill")                            # the LP solved grid CO2 first | bill first
PLANNERS = ("mpc",)                                           # forecasts and re-plans: reported with its share, never the bar
NOT_STRATEGIES = ("without_solar",)                           # another site (no PV), not a way to control this one
BASELINE_ORDER = ("without_solar",) + RULES + PLANNERS + OPTIMA
AGENT_ORDER = ("a2c", "sac", "ppo")
OBJECTIVE_KPI = {"grid_co2": "co2_grid_kg", "bill": "bill_pen"}
OPTIMUM = {"grid_co2": "oracle", "bill": "oracle_bill"}
OBJECTIVE_LABEL = {"grid_co2": "grid CO2", "bill": "bill"}
BILL_KPIS = ("bill_pen", "bill_energy_pen", "bill_demand_generation_pen", "bill_demand_distribution_pen",
             "bill_export_credit_pen")
KPIS = ("co2_grid_kg", "co2_net_kg", "co2_emitted_kg", "co2_indirect_avoided_kg", "co2_direct_avoided_kg",
        "import_kwh", "cost_pen", *BILL_KPIS, "solar_utilization_pct", "surplus_kwh", "ev_satisfaction_pct",
        "ev_energy_fulfilment_pct", "peak_import_kw", "mean_daily_peak_import_kw", "bess_in_kwh", "bess_out_kwh",
        "reward_mean", "learning_reward_mean")
BAR_KPIS = ("co2_grid_kg", "bill_pen")                  # each agent's distance to the best rule, absolute and %
BAR_REWARDS = ("reward_mean", "learning_reward_mean")   # and in reward per step (higher is better)
HOURS_PER_DAY = 24                 # the validation window is whole days of hourly steps (learning/station_env.py)
IQM_TRIM = 0.25                    # rliable's interquartile mean cuts a quarter of the runs at each end
CHANGE_KPIS = ("co2_grid_kg", "co2_net_kg", "import_kwh", "cost_pen", "bill_pen")
FLOW_COLUMNS = {"pv_kwh": "PV", "load_kwh": "mall", "ev_kwh": "EV charging", "import_kwh": "grid import"}
# how a KPI is shown: divisor and unit
DISPLAY = {"co2_grid_kg": (1e3, "t"), "co2_net_kg": (1e3, "t"), "import_kwh": (1e3, "MWh"), "cost_pen": (1e3, "kPEN"),
           **{kpi: (1e3, "kPEN") for kpi in BILL_KPIS}}


@dataclass(frozen=True)
class Entry:
    """One controller's KPIs on one split: a single run, or the seeds of an agent."""
    controller: str
    split: str
    values: dict[str, list[float]]          # KPI -> one value per run (one run for a baseline)
    model_steps: tuple = field(default=())  # an agent's seeds: the training step of the model each kept


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
    among themselves, as a task's runs are in rliable. Seeded: rliable's stratified bootstrap draws its
    resamples from numpy's global generator (`np.random.choice`), not from the `random_state` it is
    given, so that generator is seeded here and put back afterwards."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():      # arch asks for a Generator; rliable hands it a RandomState
            warnings.simplefilter("ignore", FutureWarning)
            _, intervals = rly.get_interval_estimates({"runs": scores}, _iqm_per_column, reps=samples,
                                                      confidence_interval_size=confidence_pct / 100,
                                                      random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)
    return intervals["runs"]


def bootstrap_interval(values: np.ndarray, samples: int, confidence_pct: float, seed: int):
    """The interval of one KPI's IQM over runs; a single run has no interval."""
    if len(values) < 2:
        return None, None
    low, high = bootstrap_intervals(np.asarray(values, dtype=float).reshape(-1, 1), samples, confidence_pct, seed)[:, 0]
    return float(low), float(high)


def _scalar(value):
    """A KPI as a number, or None where the record lacks it (older records have no bill)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def load_entries(settings: Settings, metrics_dir: Path) -> list[Entry]:
    """Every controller with a metrics record: the baselines (and oracles) and each agent's seeds;
    none when the scenario has no record yet."""
    entries = []
    for name in BASELINE_ORDER:
        path = metrics_dir / f"{name}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            entries += [Entry(name, split, {k: [_scalar(record[split].get(k))] for k in KPIS}) for split in SPLITS]
    for agent in AGENT_ORDER:
        records = [json.loads(path.read_text()) for seed in settings.training.seeds
                   if (path := metrics_dir / f"{agent}_seed{seed}.json").is_file()]
        if records:
            steps = tuple(record.get("model_steps") for record in records)
            entries += [Entry(agent, split, {k: [_scalar(r[split].get(k)) for r in records] for k in KPIS}, steps)
                        for split in SPLITS]
    if entries and not any(entry.controller == "uncontrolled" for entry in entries):
        raise DataError(f"{metrics_dir}/uncontrolled.json: missing (run `evstation baseline uncontrolled`)")
    return entries


def near_zero(base: float, scale: float, settings: Settings) -> bool:
    """Whether `base` is too close to zero to give a percentage of: within
    `report.near_zero_base_pct_of_uncontrolled` % of `scale` (uncontrolled's value of the same KPI)."""
    if not (np.isfinite(base) and np.isfinite(scale)):
        return True
    return abs(base) <= settings.report.near_zero_base_pct_of_uncontrolled / 100 * abs(scale)


def _value(table: pd.DataFrame, rows, controller: str, kpi: str) -> float:
    selected = table.loc[rows & (table["controller"] == controller), kpi] if kpi in table else []
    return float(selected.iloc[0]) if len(selected) else np.nan


def _change(table: pd.DataFrame, rows, kpi: str, base: float, scale: float, settings: Settings, name: str) -> None:
    """Columns `{name}` (absolute difference from `base`) and `{name}_pct` (only when `base` is not near zero)."""
    difference = table.loc[rows, kpi] - base
    table.loc[rows, name] = difference
    table.loc[rows, f"{name}_pct"] = np.nan if near_zero(base, scale, settings) else 100 * difference / abs(base)


def optimum_of(objective: str, controllers) -> str | None:
    """The LP's record solved for `objective`, when it was run; the CO2-first oracle is no bill optimum."""
    name = OPTIMUM[objective]
    return name if name in set(controllers) else None


def fleet_reference(objective: str, controllers) -> str | None:
    """The controller whose EV service the others must match: the optimum, else any oracle run."""
    return optimum_of(objective, controllers) or next((name for name in OPTIMA if name in set(controllers)), None)


def _may_share(table: pd.DataFrame, rows, required_ev: float) -> pd.Series:
    """Controllers that may be credited with a share of a gain: control strategies that serve the
    fleet (leaving vehicles uncharged also cuts import, which no optimum serving every session counts)."""
    return (~table.loc[rows, "controller"].isin(NOT_STRATEGIES)) & (table.loc[rows, "ev_satisfaction_pct"] >= required_ev)


def comparison_table(settings: Settings, entries: list[Entry]) -> pd.DataFrame:
    """One row per controller and split: central KPIs, intervals, changes, share of the optimum's gain."""
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
        steps = [step for step in entry.model_steps if step is not None]
        row["model_steps_kept"] = ", ".join(str(int(step)) for step in steps) if steps else None
        rows.append(row)
    table = pd.DataFrame(rows)
    objective = OBJECTIVE_KPI[settings.objective]
    optimum = optimum_of(settings.objective, table["controller"])
    reference = fleet_reference(settings.objective, table["controller"])
    table["share_of_oracle_gain_pct"] = np.nan
    for split in SPLITS:
        in_split = table["split"] == split
        for kpi in CHANGE_KPIS:
            if kpi not in table:
                continue
            scale = _value(table, in_split, "uncontrolled", kpi)
            for name in ("uncontrolled", "without_solar"):
                if (table.loc[in_split, "controller"] == name).any():
                    _change(table, in_split, kpi, _value(table, in_split, name, kpi), scale, settings,
                            f"{kpi}_change_vs_{name}")
        if optimum is None:
            continue
        uncontrolled = _value(table, in_split, "uncontrolled", objective)
        gain = uncontrolled - _value(table, in_split, optimum, objective)
        if gain > 0 and not near_zero(gain, uncontrolled, settings):
            share = 100 * (uncontrolled - table.loc[in_split, objective]) / gain
            required = _value(table, in_split, reference, "ev_satisfaction_pct") - report.ev_service_tolerance_pct
            table.loc[in_split, "share_of_oracle_gain_pct"] = np.where(_may_share(table, in_split, required), share, np.nan)
    return table


# ---------------------------------------------------------------- the bar, the room and the seed's targets

def best_rule(table: pd.DataFrame, tolerance_pct: float, objective: str = "grid_co2") -> str | None:
    """The rule with the lowest held-out objective (grid CO2 or bill) among those serving the fleet within
    `tolerance_pct` of the optimum's EV satisfaction (of every rule's, when no oracle was run); None when
    no rule has the objective in its record."""
    evaluation = table[table["split"] == "eval"].set_index("controller")
    kpi = OBJECTIVE_KPI[objective]
    if kpi not in evaluation:
        return None
    rules = evaluation[evaluation.index.isin(RULES) & evaluation[kpi].notna()]
    reference = fleet_reference(objective, evaluation.index)
    if reference is not None:
        rules = rules[rules["ev_satisfaction_pct"] >= evaluation.loc[reference, "ev_satisfaction_pct"] - tolerance_pct]
    return str(rules[kpi].idxmin()) if len(rules) else None


def mark_the_bar(table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Flag the scenario's best rule; give every controller its distance to it per split (grid CO2 and
    bill: absolute, and in % unless the best rule's value is near zero; rewards as differences); the
    room the best rule leaves above the optimum and each controller's share of it."""
    table = table.copy()
    objective = OBJECTIVE_KPI[settings.objective]
    bar = best_rule(table, settings.report.ev_service_tolerance_pct, settings.objective)
    optimum = optimum_of(settings.objective, table["controller"])
    table["best_rule"] = table["controller"] == bar
    table["optimum"] = table["controller"] == optimum
    table[f"{objective}_room"] = table[f"{objective}_room_pct"] = table["share_of_room_pct"] = np.nan
    for split in SPLITS:
        in_split = table["split"] == split
        _distance_to_planner(table, in_split, settings)
        if bar is None:
            continue
        for kpi in BAR_KPIS:
            if kpi in table:
                scale = _value(table, in_split, "uncontrolled", kpi)
                _change(table, in_split, kpi, _value(table, in_split, bar, kpi), scale, settings, f"{kpi}_vs_best_rule")
        for kpi in BAR_REWARDS:
            base = _value(table, in_split, bar, kpi)
            if np.isfinite(base):
                table.loc[in_split, f"{kpi}_vs_best_rule"] = table.loc[in_split, kpi] - base
        if optimum is None:
            continue
        best, scale = _value(table, in_split, bar, objective), _value(table, in_split, "uncontrolled", objective)
        room = best - _value(table, in_split, optimum, objective)
        table.loc[in_split, f"{objective}_room"] = room
        if not near_zero(best, scale, settings):
            table.loc[in_split, f"{objective}_room_pct"] = 100 * room / abs(best)
        if room > 0 and not near_zero(room, scale, settings):
            required = _value(table, in_split, optimum, "ev_satisfaction_pct") - settings.report.ev_service_tolerance_pct
            share = 100 * (best - table.loc[in_split, objective]) / room
            table.loc[in_split, "share_of_room_pct"] = np.where(_may_share(table, in_split, required), share, np.nan)
    return table


def _distance_to_planner(table: pd.DataFrame, in_split, settings: Settings) -> None:
    """Every controller's grid CO2 and bill against the planner `mpc`'s (`{kpi}_vs_mpc`, `..._pct`),
    when the planner was run: the agents' second bar."""
    if not (table.loc[in_split, "controller"] == PLANNERS[0]).any():
        return
    for kpi in BAR_KPIS:
        if kpi in table:
            scale = _value(table, in_split, "uncontrolled", kpi)
            _change(table, in_split, kpi, _value(table, in_split, PLANNERS[0], kpi), scale, settings, f"{kpi}_vs_mpc")


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


def _bar_of(table: pd.DataFrame) -> str | None:
    flagged = table.loc[table["best_rule"], "controller"] if "best_rule" in table else []
    return str(flagged.iloc[0]) if len(flagged) else None


def target_rows(settings: Settings, table: pd.DataFrame) -> list[dict]:
    """Each seed target beside the oracle's value, the best rule's and the best agent's (eval year); for the
    CO2, import and solar targets the best agent among those serving the fleet as the oracle does."""
    evaluation = table[table["split"] == "eval"].set_index("controller")
    agents = [agent for agent in AGENT_ORDER if agent in evaluation.index]
    bar = _bar_of(table)
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
        agent_values = {agent: value(agent) for agent in candidates if np.isfinite(value(agent))}
        best_agent = (max if higher else min)(agent_values, key=agent_values.get) if agent_values else None
        oracle, measured = value("oracle"), agent_values.get(best_agent, np.nan)
        possible = _verdict(oracle, low, high, higher)
        if possible == "short":
            why = f"cannot hold here: the oracle, with perfect foresight, reaches only {oracle:.1f}"
        elif np.isnan(oracle):
            why = "oracle not run, or no percentage against a base near zero"
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

NOT_AVAILABLE = "n/a"
DISTANCE_TAGS = ("_change_vs_", "_vs_best_rule", "_vs_mpc")   # a distance column: KPI + tag (+ "_pct")
MARKDOWN_COLUMNS = {
    "controller": "controller", "runs": "runs", "co2_grid_kg": "grid CO2 (t)", "co2_net_kg": "net CO2 (t)",
    "import_kwh": "import (MWh)", "bill_pen": "bill (kPEN)", "bill_energy_pen": "energy (kPEN)",
    "bill_demand_generation_pen": "generation demand (kPEN)", "bill_demand_distribution_pen": "distribution demand (kPEN)",
    "solar_utilization_pct": "solar used (%)", "ev_satisfaction_pct": "EV satisfied (%)", "peak_import_kw": "peak import (kW)",
    "co2_grid_kg_change_vs_uncontrolled_pct": "grid CO2 vs uncontrolled",
    "bill_pen_change_vs_uncontrolled_pct": "bill vs uncontrolled",
    "co2_grid_kg_change_vs_without_solar_pct": "grid CO2 vs without solar",
    "share_of_oracle_gain_pct": "share of the optimum's gain over uncontrolled (%)",
    "share_of_room_pct": "share of the room (%)",
}
HEADLINE_COLUMNS = ("controller", "runs", "co2_grid_kg", "bill_pen", "bill_energy_pen", "bill_demand_generation_pen",
                    "bill_demand_distribution_pen", "import_kwh", "solar_utilization_pct", "ev_satisfaction_pct",
                    "co2_grid_kg_change_vs_uncontrolled_pct", "bill_pen_change_vs_uncontrolled_pct",
                    "share_of_oracle_gain_pct", "share_of_room_pct")
BAR_COLUMNS = {"controller": "agent", "model_steps_kept": "model kept (training step, per seed)",
               "co2_grid_kg_vs_best_rule_pct": "grid CO2 vs best rule", "bill_pen_vs_best_rule_pct": "bill vs best rule",
               "co2_grid_kg_vs_mpc_pct": "grid CO2 vs mpc", "bill_pen_vs_mpc_pct": "bill vs mpc",
               "reward_mean_vs_best_rule": "reward per step vs best rule",
               "learning_reward_mean_vs_best_rule": "learning reward per step vs best rule",
               "share_of_room_pct": "share of the room (%)"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _number(value: float, digits: int) -> str:
    """A value to `digits` decimals (none from 100,000 up); one that rounds to zero is unsigned ("0.0", never "-0.0")."""
    if round(float(value), digits) == 0:
        value = 0.0
    return f"{value:,.{digits}f}" if abs(value) < 1e5 else f"{value:,.0f}"


def _signed(value: float, digits: int = 1) -> str:
    """A difference with its sign; one that rounds to zero is "0.0" (never "-0.0")."""
    return f"{0.0:.{digits}f}" if round(float(value), digits) == 0 else f"{value:+,.{digits}f}"


def _difference(row: pd.Series, column: str) -> str:
    """A change column (`..._pct` beside its absolute twin): the percentage, or the absolute difference in
    the KPI's unit where the base is near zero."""
    percent, absolute = row.get(column), row.get(column[:-len("_pct")])
    if not _missing(percent):
        return f"{_signed(percent)} %"
    if _missing(absolute):
        return NOT_AVAILABLE
    kpi = column
    for tag in DISTANCE_TAGS:
        kpi = kpi.split(tag)[0]
    divisor, unit = DISPLAY.get(kpi, (1.0, ""))
    return f"{_signed(absolute / divisor)} {unit} (base ≈ 0: no %)"


def _cell(row: pd.Series, column: str) -> str:
    value = row.get(column)
    if column == "controller":
        tags = [tag for flag, tag in (("best_rule", "best rule"), ("optimum", "optimum")) if row.get(flag) is True]
        return f"**{value}** ({', '.join(tags)})" if tags else str(value)
    if column.endswith("_pct") and any(tag in column for tag in DISTANCE_TAGS):
        return _difference(row, column)
    if _missing(value):
        return NOT_AVAILABLE
    if column in ("runs", "model_steps_kept"):
        return str(value)
    divisor = DISPLAY.get(column, (1.0, ""))[0]
    digits = 4 if column.startswith(("reward", "learning_reward")) else 1
    text = _number(value / divisor, digits)
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if not _missing(low):
        text += f" [{_number(low / divisor, digits)}, {_number(high / divisor, digits)}]"
    return text


def _table(rows: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    shown = [c for c in columns if c in rows.columns]
    lines = ["| " + " | ".join(columns[c] for c in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(row, c) for c in shown) + " |" for _, row in rows.iterrows()]
    return lines + [""]


def controller_order(names) -> list[str]:
    order = {name: index for index, name in enumerate(BASELINE_ORDER + AGENT_ORDER)}
    return sorted(dict.fromkeys(names), key=lambda name: order.get(name, len(order)))


def headline_rows(scenario_table: pd.DataFrame) -> pd.DataFrame:
    """Held-out year: without solar, uncontrolled, the best rule, the planner, the oracles, then each agent."""
    evaluation = scenario_table[scenario_table["split"] == "eval"]
    keep = (evaluation["controller"].isin(("without_solar", "uncontrolled") + PLANNERS + OPTIMA + AGENT_ORDER)
            | evaluation["best_rule"])
    order = {name: index for index, name in enumerate(controller_order(evaluation["controller"]))}
    return evaluation[keep].sort_values("controller", key=lambda names: names.map(order))


def room_lines(settings: Settings, rows: pd.DataFrame) -> list[str]:
    """The scenario's objective, its best rule, the optimum and the room between them (evaluation year)."""
    evaluation = rows[rows["split"] == "eval"].set_index("controller")
    objective, label = OBJECTIVE_KPI[settings.objective], OBJECTIVE_LABEL[settings.objective]
    divisor, unit = DISPLAY[objective]
    bar, optimum = _bar_of(rows), optimum_of(settings.objective, evaluation.index)
    lines = [f"Objective: **{label}** (params `objective: {settings.objective}`)."]
    if bar is None:
        lines.append(f"Best rule: none (no rule that serves the fleet has the {label} in its record).")
        return lines + [""]
    lines.append(f"Best rule (the agents' bar): **{bar}**, {_number(evaluation.loc[bar, objective] / divisor, 1)} {unit}.")
    if optimum is None:
        lines.append(f"Optimum: not run (`{OPTIMUM[settings.objective]}`), so no room and no share of it.")
        return lines + [""]
    room, room_pct = evaluation.loc[bar, f"{objective}_room"], evaluation.loc[bar, f"{objective}_room_pct"]
    share = evaluation["share_of_room_pct"].notna().any()
    lines.append(f"Optimum (`{optimum}`, perfect foresight): {_number(evaluation.loc[optimum, objective] / divisor, 1)} {unit}. "
                 f"Room left by the best rule: {_signed(room / divisor)} {unit}"
                 + (f" ({_signed(room_pct, 2)} % of the best rule)" if not _missing(room_pct) else " (best rule near zero: no %)")
                 + ("." if share else
                    f": within {settings.report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's {label}, "
                    "so no share of it is given: the best rule is already at the optimum."))
    return lines + [""]


def validation_lines(results_dir: Path, settings: Settings, scenario: str) -> list[str]:
    """Per agent and seed of the scenario (`settings` are its own), what model selection saw: the untrained
    policy's validation score (with a residual policy, the rule's), the best score any trained model
    reached and at which step, the last score, and the step of the model kept (the first best, as model
    selection keeps it). Empty when no run recorded its scores."""
    rows = []
    for agent in AGENT_ORDER:
        for seed in settings.training.seeds:
            scores = validation_scores(results_dir, scenario, agent, seed)
            if scores is None or not len(scores) or scores.index[0] != 0:
                continue
            trained = scores.iloc[1:]
            best = (f"{trained.max():+.5f} (step {int(trained.idxmax()):,})" if len(trained) else NOT_AVAILABLE)
            rows.append(f"| {agent} | {seed} | {scores.iloc[0]:+.5f} | {best} | {scores.iloc[-1]:+.5f} | "
                        f"{int(scores.idxmax()):,} |")
    if not rows:
        return []
    start = "the rule's score" if settings.control.residual != "none" else "the untrained policy's"
    return [f"### What model selection saw (validation score: learning reward per step on the training year's last "
            f"days; step 0 is {start})", "",
            "| agent | seed | step 0 | best trained model | last | model kept (step) |", "|---|---|---|---|---|---|",
            *rows, ""]


def scenario_markdown(settings: Settings, scenario: str, table: pd.DataFrame, results_dir: Path | None = None) -> list[str]:
    settings = scenario_settings(settings, scenario)
    rows = table[table["scenario"] == scenario]
    lines = [f"## Scenario `{scenario}`", ""]
    if not len(rows):
        return lines + ["No records yet (`results/scenarios/" + scenario + "/metrics/` is empty): nothing to compare.", ""]
    lines += room_lines(settings, rows)
    lines += ["### Headline: evaluation year (held out)", ""]
    lines += _table(headline_rows(rows), {c: MARKDOWN_COLUMNS[c] for c in HEADLINE_COLUMNS})
    agents = rows[(rows["split"] == "eval") & rows["controller"].isin(AGENT_ORDER)]
    if len(agents) and "co2_grid_kg_vs_best_rule" in rows:
        lines += ["### Agents against the best rule (evaluation year; negative CO2 and bill, positive reward are better)", "",
                  "The model kept is the one model selection scored best on the validation window; step 0 is the "
                  "untrained policy, which with a residual policy is the rule itself.", ""]
        lines += _table(agents, BAR_COLUMNS)
        lines += validation_lines(results_dir, settings, scenario) if results_dir is not None else []
    lines += ["### Seed report's targets (evaluation year)", "",
              "| target | seed's range | oracle allows | best rule | best agent serving the fleet (IQM) | verdict | why |",
              "|---|---|---|---|---|---|---|"]

    def shown(value):
        return NOT_AVAILABLE if _missing(value) else f"{value:.1f}"

    for target in target_rows(settings, rows):
        agent = (f"{target['best_agent']}: {shown(target['best_agent_value'])}" if target["best_agent"] else "none serves the fleet")
        lines.append(f"| {target['target']} | {target['low']:g} to {target['high']:g} | {shown(target['oracle'])} | "
                     f"{shown(target['best_rule'])} | {agent} | {target['verdict']} | {target['why']} |")
    lines.append("")
    for split, title in (("eval", "Every controller, evaluation year (held out)"), ("train", "Every controller, training year")):
        lines += [f"### {title}", ""] + _table(rows[rows["split"] == split], MARKDOWN_COLUMNS)
    return lines


def markdown(settings: Settings, table: pd.DataFrame, results_dir: Path | None = None) -> str:
    seeds = list(settings.training.seeds)
    report = settings.report
    lines = [f"# Controller comparison, scenarios {', '.join(settings.scenarios)}", "",
             f"Agents: rliable's interquartile mean over training seeds {seeds} with a "
             f"{report.confidence_pct:g} % stratified bootstrap interval in brackets"
             + (" (with fewer than four seeds the IQM trims nothing and is the mean)" if len(seeds) < 4 else "")
             + ". Negative changes are savings. Grid emission factor "
             f"{settings.emissions.grid_kg_per_kwh} kg CO2/kWh (a diesel grid is nearer 0.65-0.95). "
             "Each scenario is judged on its objective (grid CO2 or bill). Its best rule is the rule with the least "
             "of it on the evaluation year among those that serve the fleet as the optimum does (within "
             f"{report.ev_service_tolerance_pct:g} points of EV satisfaction); the optimum is the perfect-foresight "
             "LP solved for that objective (`oracle`: grid CO2 first; `oracle_bill`: bill first). The room is the "
             "best rule minus the optimum; a controller's share of the room is how much of it it took (the best "
             "rule 0 %, the optimum 100 %). "
             "A change against a base within "
             f"{report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's value of that KPI is given as the absolute "
             "difference, never as a percentage of that near-zero base. No share of a gain is given (n/a) to "
             "`without_solar` (another site, without PV: not a way to control this one), nor to a controller that "
             "satisfies fewer EV sessions than the optimum: leaving vehicles uncharged also cuts grid CO2 and the bill, "
             "but not in a way the optimum, which serves every session, would count. n/a: not in the record "
             "(records written before the bill was recorded have none).", ""]
    for scenario in settings.scenarios:
        lines += scenario_markdown(settings, scenario, table, results_dir)
    return "\n".join(lines)


# ---------------------------------------------------------------- figures

BAR_PANELS = (("co2_grid_kg", "grid CO2 (t)", 1e3), ("bill_pen", "bill (kPEN)", 1e3), ("import_kwh", "grid import (MWh)", 1e3),
              ("solar_utilization_pct", "solar used (points)", 1.0), ("ev_satisfaction_pct", "EV sessions satisfied (points)", 1.0))


def _bar_colour(row: pd.Series) -> str:
    if row["best_rule"]:
        return "tab:orange"
    if row["controller"] in OPTIMA:
        return "tab:green"
    return "tab:blue" if row["controller"] in AGENT_ORDER else "tab:grey"


def kpi_bars(table: pd.DataFrame, scenarios: tuple[str, ...], path: Path) -> None:
    """One row of panels per scenario: each controller's difference from `uncontrolled` (evaluation year).
    `without_solar` (another site) is left out, so that it does not set the scale; agents with their interval."""
    figure, axes = plt.subplots(len(scenarios), len(BAR_PANELS), figsize=(4.4 * len(BAR_PANELS), 4.2 * len(scenarios)),
                                squeeze=False)
    for row, scenario in zip(axes, scenarios):
        evaluation = table[(table["split"] == "eval") & (table["scenario"] == scenario)]
        for axis, (kpi, label, divisor) in zip(row, BAR_PANELS):
            axis.set_title(f"{scenario}: {label}", fontsize=10)
            axis.grid(axis="y", alpha=0.3)
            base = _value(evaluation, evaluation["split"] == "eval", "uncontrolled", kpi) if len(evaluation) else np.nan
            shown = evaluation[~evaluation["controller"].isin(NOT_STRATEGIES + ("uncontrolled",))]
            if kpi not in shown or not np.isfinite(base) or shown[kpi].isna().all():
                axis.text(0.5, 0.5, f"{NOT_AVAILABLE}: not in these records", ha="center", va="center", transform=axis.transAxes)
                axis.set_xticks([])
                axis.set_yticks([])
                continue
            shown = shown[shown[kpi].notna()]
            values = (shown[kpi] - base) / divisor
            low = (shown.get(f"{kpi}_ci_low", pd.Series(np.nan, index=shown.index)) - base) / divisor
            high = (shown.get(f"{kpi}_ci_high", pd.Series(np.nan, index=shown.index)) - base) / divisor
            errors = np.vstack([(values - low).fillna(0).clip(lower=0), (high - values).fillna(0).clip(lower=0)])
            axis.bar(shown["controller"], values, yerr=errors, capsize=4,
                     color=[_bar_colour(item) for _, item in shown.iterrows()])
            for position, (value, below, above) in enumerate(zip(values, errors[0], errors[1])):
                end = value + above if value >= 0 else value - below       # beyond the interval's end
                axis.annotate(_signed(value), (position, end), ha="center", va="bottom" if value >= 0 else "top",
                              fontsize=7, xytext=(0, 2 if value >= 0 else -2), textcoords="offset points")
            axis.margins(y=0.12)
            axis.axhline(0, color="black", linewidth=0.8)
            axis.tick_params(axis="x", rotation=60, labelsize=8)
            axis.set_ylabel("difference from uncontrolled")
    figure.suptitle("Evaluation year: each controller minus uncontrolled (without_solar left out; agents: IQM over seeds "
                    "with 95 % interval; best rule orange, optimum green, agents blue)")
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


def identical_groups(weeks: dict[str, pd.DataFrame], columns: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """Controllers whose week is the same in `columns` drawn once, named together ("a = b"): equal lines
    hide each other otherwise."""
    groups: list[tuple[list[str], pd.DataFrame]] = []
    for name, week in weeks.items():
        values = week[columns].to_numpy(dtype=float)
        for members, first in groups:
            if first.shape == week.shape and np.allclose(first[columns].to_numpy(dtype=float), values, atol=1e-6):
                members.append(name)
                break
        else:
            groups.append(([name], week))
    return [(" = ".join(members), week) for members, week in groups]


def scenario_weeks(results_dir: Path, settings: Settings, controllers: list[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """Each scenario's representative week per controller whose evaluation timeseries exist."""
    weeks = {}
    for scenario in settings.scenarios:
        found = {(name if name in BASELINE_ORDER else f"{name} (seed {settings.training.seeds[0]})"): week
                 for name in controllers if (week := week_of(scenario_dir(results_dir, scenario), name, settings)) is not None}
        if found:
            weeks[scenario] = found
    return weeks


def power_flows(weeks: dict[str, dict[str, pd.DataFrame]], settings: Settings, path: Path) -> None:
    """A column per scenario, a row per controller; controllers with identical flows share a row."""
    columns = list(FLOW_COLUMNS) + ["bess_in_kwh", "bess_out_kwh"]
    groups = {scenario: identical_groups(found, columns) for scenario, found in weeks.items()}
    rows = max(len(group) for group in groups.values())
    figure, axes = plt.subplots(rows, len(groups), figsize=(9 * len(groups), 2.4 * rows), sharex=True, squeeze=False)
    for column, (scenario, scenario_groups) in enumerate(groups.items()):
        for row, (label, week) in enumerate(scenario_groups):
            axis, hours = axes[row, column], np.arange(len(week))
            for name, flow in FLOW_COLUMNS.items():
                axis.plot(hours, week[name], label=flow, linewidth=1)
            axis.plot(hours, week["bess_out_kwh"] - week["bess_in_kwh"], label="battery (+ discharge)", linewidth=1)
            axis.set_title(f"{scenario}: {label}", fontsize=9)
            axis.set_ylabel("kW")
            axis.grid(alpha=0.3)
        for axis in axes[len(scenario_groups):, column]:
            axis.axis("off")
        axes[len(scenario_groups) - 1, column].set_xlabel("hour of the representative week (evaluation year)")
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8)
    figure.suptitle("Power flows over one week; controllers with identical flows share a panel (a = b)")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*")


def battery_soc(weeks: dict[str, dict[str, pd.DataFrame]], settings: Settings, path: Path) -> None:
    """A panel per scenario, a line per group of controllers with the same SOC (named together), each
    with its own line style and marker."""
    figure, axes = plt.subplots(len(weeks), 1, figsize=(14, 3.6 * len(weeks)), squeeze=False)
    for axis, (scenario, found) in zip(axes[:, 0], weeks.items()):
        for index, (label, week) in enumerate(identical_groups(found, ["bess_soc_pct"])):
            axis.plot(np.arange(len(week)), week["bess_soc_pct"], label=label, linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                      marker=MARKERS[index % len(MARKERS)], markevery=(3 * index % 12, 12), markersize=4, linewidth=1.2)
        axis.axhline(settings.battery.min_soc_pct, color="grey", linestyle="--", linewidth=1, label="SOC floor")
        axis.set_title(f"{scenario} (controllers with the same SOC share a line: a = b)", fontsize=10)
        axis.set_ylabel("battery SOC (%)")
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("hour of the representative week (evaluation year)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# the learning curves' files, as training writes them (learning/training.py, learning/selection.py)
def curve_file(results_dir: Path, scenario: str, agent: str, seed: int) -> Path:
    return scenario_dir(results_dir, scenario) / "curves" / f"{agent}_seed{seed}.csv"


def selection_file(results_dir: Path, scenario: str, agent: str, seed: int) -> Path:
    return scenario_dir(results_dir, scenario) / "checkpoints" / agent / f"seed{seed}" / "selection.json"


def validation_scores(results_dir: Path, scenario: str, agent: str, seed: int) -> pd.Series | None:
    """One run's validation scores by training step: from model selection's record when the checkpoints are
    there, else from the learning curve (each score lands on the curve's next row; the first is the untrained
    policy's, scored when training started: step 0)."""
    record = selection_file(results_dir, scenario, agent, seed)
    if record.is_file():
        scores = json.loads(record.read_text())["scores"]
        return pd.Series({int(row["timesteps"]): float(row["score"]) for row in scores}).sort_index()
    path = curve_file(results_dir, scenario, agent, seed)
    if not path.is_file():
        return None
    curve = pd.read_csv(path)
    if "validation_score" not in curve:
        return None
    scored = curve.dropna(subset=["validation_score"])
    if not len(scored):
        return None
    steps = scored["timesteps"].to_numpy(dtype=int)
    steps[0] = 0
    return pd.Series(scored["validation_score"].to_numpy(dtype=float), index=steps)


def _band(runs: list[pd.Series]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeds on the union of their steps (interpolated where their steps differ): steps, median, low, high."""
    steps = np.unique(np.concatenate([run.index.to_numpy(dtype=float) for run in runs]))
    values = np.array([np.interp(steps, run.index.to_numpy(dtype=float), run.to_numpy(dtype=float)) for run in runs])
    return steps, np.median(values, axis=0), values.min(axis=0), values.max(axis=0)


def reference_scores(results_dir: Path, settings: Settings, scenario: str, runs: list[pd.Series]) -> dict[str, float]:
    """Scores to draw beside an agent's, where they can be had: the residual rule's (the untrained residual
    policy is that rule: its step-0 score) and, where the training year's timeseries are there, the mean
    learning reward of the scenario's optimum over the validation window (the year's last days) of its year run."""
    settings = scenario_settings(settings, scenario)
    references = {}
    residual = settings.control.residual
    starts = [run.iloc[0] for run in runs if len(run) and run.index[0] == 0]
    if residual != "none" and starts:
        references[f"{residual} (residual rule: step 0)"] = float(np.median(starts))
    days = settings.control.model_selection.validation_days
    optimum = OPTIMUM[settings.objective]
    path = scenario_dir(results_dir, scenario) / "timeseries" / f"{optimum}_train.csv"
    if days and path.is_file():
        series = pd.read_csv(path, usecols=lambda column: column == "learning_reward")
        if "learning_reward" in series:
            window = series["learning_reward"].iloc[-days * HOURS_PER_DAY:]
            references[f"{optimum} (same {days} days of its year run)"] = float(window.mean())
    return references


def learning_curves(results_dir: Path, settings: Settings, model_steps: dict, path: Path) -> None:
    """Per scenario, a tall row of each agent's validation score (what selects the model: seeds' median and
    band, each seed's kept model marked, the rule's and the optimum's scores as horizontal lines where there
    are) over a short row of its training reward; each agent on its own step axis (SAC's budget is a twentieth)."""
    scenarios = [scenario for scenario in settings.scenarios
                 if any(curve_file(results_dir, scenario, agent, seed).is_file()
                        for agent in AGENT_ORDER for seed in settings.training.seeds)]
    if not scenarios:
        figure, axis = plt.subplots(figsize=(6, 2))
        axis.text(0.5, 0.5, "no agent has been trained yet", ha="center", va="center")
        axis.axis("off")
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return
    figure, axes = plt.subplots(2 * len(scenarios), len(AGENT_ORDER), figsize=(5.2 * len(AGENT_ORDER), 5.2 * len(scenarios)),
                                squeeze=False, gridspec_kw={"height_ratios": [3, 1] * len(scenarios)})
    references_drawn: dict[str, set] = {}
    for index, scenario in enumerate(scenarios):
        for column, agent in enumerate(AGENT_ORDER):
            top, bottom = axes[2 * index, column], axes[2 * index + 1, column]
            top.set_title(f"{scenario}: {agent}", fontsize=10)
            seeds = [seed for seed in settings.training.seeds
                     if validation_scores(results_dir, scenario, agent, seed) is not None]
            if not seeds:
                top.text(0.5, 0.5, "no validation score recorded", ha="center", va="center", transform=top.transAxes)
                bottom.axis("off")
                continue
            runs = [validation_scores(results_dir, scenario, agent, seed) for seed in seeds]
            steps, median, low, high = _band(runs)
            top.fill_between(steps, low, high, alpha=0.25, color="tab:blue", label=f"seeds {seeds[0]}-{seeds[-1]} (range)")
            top.plot(steps, median, color="tab:blue", marker=".", label="median of seeds")
            for seed, run in zip(seeds, runs):
                kept = model_steps.get((scenario, agent, seed))
                if kept is not None:
                    top.plot([kept], [run.max()], marker="*", markersize=11, linestyle="none", color="tab:red",
                             label="model kept" if seed == seeds[0] else None)
            references = reference_scores(results_dir, settings, scenario, runs)
            references_drawn.setdefault(scenario, set()).update(references)
            for (label, score), style in zip(references.items(), ("--", ":")):
                top.axhline(score, color="black", linestyle=style, linewidth=1, label=f"{label}: {score:.4f}")
            top.set_ylabel("validation score\n(learning reward per step)", fontsize=8)
            top.legend(fontsize=6, loc="lower right")
            top.grid(alpha=0.3)
            curves = [pd.read_csv(curve_file(results_dir, scenario, agent, seed)) for seed in seeds]
            rewards = [pd.Series(curve["reward_mean"].to_numpy(dtype=float), index=curve["timesteps"].to_numpy())
                       for curve in curves if "reward_mean" in curve]
            if rewards:
                steps, median, low, high = _band(rewards)
                bottom.fill_between(steps, low, high, alpha=0.25, color="tab:grey")
                bottom.plot(steps, median, color="tab:grey", linewidth=0.8)
            bottom.set_ylabel("training reward\nper step", fontsize=7)
            bottom.tick_params(labelsize=7)
            bottom.grid(alpha=0.3)
            bottom.set_xlabel("training steps", fontsize=8)
    drawn = {label.split(" ")[0] for scenario in scenarios for label in references_drawn.get(scenario, ())}
    missing = "" if OPTIMA[0] in drawn or OPTIMA[1] in drawn else (
        "\n(no optimum line: it needs the optimum's training-year timeseries, not found)")
    figure.suptitle("Validation score (selects the model kept) per agent, seeds as a band; below: reward on the training year"
                    + missing)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def scenario_dir(results_dir: Path, scenario: str) -> Path:
    return results_dir / "scenarios" / scenario


def scenario_table(settings: Settings, results_dir: Path, scenario: str) -> pd.DataFrame:
    """One scenario's rows: its records compared, its best rule marked, each controller's distance to it
    and share of the room; no rows when the scenario has no record yet."""
    settings = scenario_settings(settings, scenario)
    entries = load_entries(settings, scenario_dir(results_dir, scenario) / "metrics")
    if not entries:
        log.warning("scenario %s: no metrics records yet; left out of the comparison", scenario)
        return pd.DataFrame()
    table = mark_the_bar(comparison_table(settings, entries), settings)
    table.insert(0, "scenario", scenario)
    table.insert(1, "objective", settings.objective)
    return table


def _rounded(value, digits: int = 3):
    return None if _missing(value) else round(float(value), digits)


SUMMARY_METRICS = {   # summary key -> (table column, divisor)
    "grid_co2_t": ("co2_grid_kg", 1e3), "bill_kpen": ("bill_pen", 1e3), "import_mwh": ("import_kwh", 1e3),
    "ev_satisfaction_pct": ("ev_satisfaction_pct", 1.0), "share_of_room_pct": ("share_of_room_pct", 1.0),
}


def summary(table: pd.DataFrame, scenarios) -> dict:
    """The few numbers to follow across runs (`dvc metrics`): per scenario and controller, on the evaluation
    year, grid CO2, bill, import, EV satisfaction and share of the room; for agents (IQM over seeds) also the
    training step of the model kept, first and last over the seeds."""
    result = {}
    for scenario in scenarios:
        evaluation = table[(table["scenario"] == scenario) & (table["split"] == "eval")] if len(table) else table
        if not len(evaluation):
            continue
        controllers = {}
        for _, row in evaluation.set_index("controller").loc[controller_order(evaluation["controller"])].reset_index().iterrows():
            values = {key: _rounded(row.get(column) / divisor if not _missing(row.get(column)) else None)
                      for key, (column, divisor) in SUMMARY_METRICS.items()}
            if row["controller"] in AGENT_ORDER:
                steps = [int(step) for step in str(row.get("model_steps_kept") or "").split(", ") if step]
                values["model_kept_step_min"] = min(steps) if steps else None
                values["model_kept_step_max"] = max(steps) if steps else None
            controllers[row["controller"]] = values
        result[scenario] = controllers
    return result


def _json_safe(value):
    """JSON has no NaN: a missing figure is null."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def kept_model_steps(results_dir: Path, settings: Settings) -> dict:
    """(scenario, agent, seed) -> the training step of the model its record was evaluated with."""
    steps = {}
    for scenario in settings.scenarios:
        for agent in AGENT_ORDER:
            for seed in settings.training.seeds:
                path = scenario_dir(results_dir, scenario) / "metrics" / f"{agent}_seed{seed}.json"
                if path.is_file() and (step := json.loads(path.read_text()).get("model_steps")) is not None:
                    steps[(scenario, agent, seed)] = int(step)
    return steps


WEEK_FIGURES = ("power_flows_week.png", "battery_soc_week.png")


def write_report(settings: Settings, results_dir: Path, report_dir: Path) -> pd.DataFrame:
    """The report of every scenario of `settings` from the records under `results_dir/scenarios/`."""
    tables = [scenario_table(settings, results_dir, scenario) for scenario in settings.scenarios]
    tables = [table for table in tables if len(table)]
    if not tables:
        raise DataError(f"{results_dir}/scenarios: no scenario has metrics records (run the baselines first)")
    table = pd.concat(tables, ignore_index=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    write_csv_atomically(report_dir / "comparison.csv", table)
    records = json.loads(table.to_json(orient="records"))
    compared = [scenario for scenario in settings.scenarios if (table["scenario"] == scenario).any()]
    targets = {scenario: target_rows(scenario_settings(settings, scenario), table[table["scenario"] == scenario])
               for scenario in compared}
    write_json_atomically(report_dir / "comparison.json", {"scenarios": compared, "rows": records,
                                                           "seed_targets": _json_safe(targets)})
    write_json_atomically(report_dir / "summary.json", summary(table, compared))
    (report_dir / "comparison.md").write_text(markdown(settings, table, results_dir) + "\n")
    kpi_bars(table, tuple(compared), report_dir / "kpi_bars.png")
    weeks = scenario_weeks(results_dir, settings, controller_order(table["controller"]))
    if weeks:
        power_flows(weeks, settings, report_dir / WEEK_FIGURES[0])
        battery_soc(weeks, settings, report_dir / WEEK_FIGURES[1])
    else:
        log.warning("no evaluation timeseries under %s/scenarios/*/timeseries: week figures (%s) not drawn",
                    results_dir, ", ".join(WEEK_FIGURES))
        for name in WEEK_FIGURES:            # an earlier run's figure would show other records
            (report_dir / name).unlink(missing_ok=True)
    learning_curves(results_dir, settings, kept_model_steps(results_dir, settings), report_dir / "learning_curves.png")
    return table
