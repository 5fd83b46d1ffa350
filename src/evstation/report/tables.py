"""The comparison as a DataFrame: one row per scenario, controller and split, with its central KPIs and
intervals, its changes against `uncontrolled` and `without_solar`, its share of the optimum's gain,
the scenario's best rule (the agents' bar), each controller's distance to it and share of the room;
the station's service and grid factor from the scenario's dataset beside them (`SITE_COLUMNS`), the seed
report's targets, the summary of every controller and the headline `dvc metrics` follows.

A scenario simulated for less than a year (`make quick`'s week) is a check that everything runs: its rows
carry no share of the room nor of the optimum's gain, and no monthly demand charge (a whole month's charge
on a week's import), which such a horizon cannot show.

Nothing is given as a percentage of a base near zero (within `report.near_zero_base_pct_of_uncontrolled`
of `uncontrolled`'s own value of that KPI): the absolute difference is given instead. No share of a
gain is given to `without_solar` (another site, not a control strategy) nor to a controller that
serves fewer EV sessions than the optimum.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import SPLITS, Settings, scenario_settings
from .names import AGENT_ORDER, NOT_STRATEGIES, OBJECTIVE_KPI, OPTIMA, OPTIMUM, PLANNERS, RULES, controller_order
from .records import Entry, dataset_summary, load_entries, scenario_dir, timeseries_file
from .statistics import bootstrap_intervals, iqm_per_column

log = logging.getLogger(__name__)
HOURS_PER_YEAR = 8760
# what a horizon shorter than a year cannot show: shares of a room or gain that are not a year's, and
# monthly demand charges billed whole on a few days' import
SHORT_HORIZON_LEFT_OUT = (
    "share_of_room_pct",
    "share_of_oracle_gain_pct",
    "bill_demand_generation_pen",
    "bill_demand_distribution_pen",
)
# the station's service on each split, from the dataset summary: the same for every controller
SERVICE_FIGURES = {  # column -> summary key
    "arrivals": "arrivals",
    "turned_away": "turned_away",
    "turned_away_pct": "turned_away_pct",
    "turned_away_energy_kwh": "turned_away_energy_kwh",  # summaries built before it was recorded: n/a
}
GRID_FACTOR_FIGURES = {  # column -> summary key
    "grid_factor_kg_per_kwh": "emission_factor_kg_per_kwh_mean",
    "grid_factor_min_kg_per_kwh": "emission_factor_kg_per_kwh_min",
    "grid_factor_max_kg_per_kwh": "emission_factor_kg_per_kwh_max",
}
SITE_COLUMNS = (*SERVICE_FIGURES, *GRID_FACTOR_FIGURES, "grid_factor_source")
CHANGE_KPIS = ("co2_grid_kg", "co2_net_kg", "import_kwh", "cost_pen", "bill_pen")
BAR_KPIS = ("co2_grid_kg", "bill_pen")  # each agent's distance to the best rule, absolute and %
BAR_REWARDS = ("reward_mean", "learning_reward_mean")  # and in reward per step (higher is better)


def is_missing(value) -> bool:
    """Whether a table's value is absent: None, or NaN as pandas fills a column a record lacks."""
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def near_zero(base: float, scale: float, settings: Settings) -> bool:
    """Whether `base` is too close to zero to give a percentage of: within
    `report.near_zero_base_pct_of_uncontrolled` % of `scale` (uncontrolled's value of the same KPI)."""
    if not (np.isfinite(base) and np.isfinite(scale)):
        return True
    return abs(base) <= settings.report.near_zero_base_pct_of_uncontrolled / 100 * abs(scale)


def controller_value(table: pd.DataFrame, rows, controller: str, kpi: str) -> float:
    """`controller`'s `kpi` among `rows` (a mask of `table`), NaN where it has no row or no such column."""
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
    strategies = ~table.loc[rows, "controller"].isin(NOT_STRATEGIES)
    return strategies & (table.loc[rows, "ev_satisfaction_pct"] >= required_ev)


# ---------------------------------------------------------------- the comparison


def _entry_row(entry: Entry, settings: Settings) -> dict:
    """An entry's row: each KPI's IQM over its runs, with an interval where there are several runs, and
    the training step of the model each seed kept."""
    report = settings.report
    row = {"controller": entry.controller, "split": entry.split, "runs": len(entry.values["co2_grid_kg"])}
    kpis = [kpi for kpi, values in entry.values.items() if all(v is not None for v in values)]
    scores = np.array([entry.values[kpi] for kpi in kpis], dtype=float).T  # runs x KPIs
    row.update({kpi: np.nan for kpi in entry.values})
    if kpis:
        row.update(dict(zip(kpis, iqm_per_column(scores))))
    if row["runs"] > 1 and kpis:
        intervals = bootstrap_intervals(scores, report.bootstrap_samples, report.confidence_pct, report.bootstrap_seed)
        for index, kpi in enumerate(kpis):
            row[f"{kpi}_ci_low"], row[f"{kpi}_ci_high"] = map(float, intervals[:, index])
    steps = [step for step in entry.model_steps if step is not None]
    row["model_steps_kept"] = ", ".join(str(int(step)) for step in steps) if steps else None
    row["forecast"] = entry.forecast
    row["start"] = entry.start
    return row


def _changes_vs_baselines(table: pd.DataFrame, in_split, settings: Settings) -> None:
    """Each change KPI against `uncontrolled` and `without_solar`, where they were run."""
    for kpi in CHANGE_KPIS:
        if kpi not in table:
            continue
        scale = controller_value(table, in_split, "uncontrolled", kpi)
        for name in ("uncontrolled", "without_solar"):
            if (table.loc[in_split, "controller"] == name).any():
                _change(
                    table,
                    in_split,
                    kpi,
                    controller_value(table, in_split, name, kpi),
                    scale,
                    settings,
                    f"{kpi}_change_vs_{name}",
                )


def _share_of_oracle_gain(table: pd.DataFrame, in_split, settings: Settings, optimum: str, reference: str) -> None:
    """Each controller's share of the optimum's gain over `uncontrolled` on the scenario's objective; none
    when that gain is not positive or is near zero."""
    objective = OBJECTIVE_KPI[settings.objective]
    uncontrolled = controller_value(table, in_split, "uncontrolled", objective)
    gain = uncontrolled - controller_value(table, in_split, optimum, objective)
    if gain > 0 and not near_zero(gain, uncontrolled, settings):
        share = 100 * (uncontrolled - table.loc[in_split, objective]) / gain
        required = (
            controller_value(table, in_split, reference, "ev_satisfaction_pct")
            - settings.report.ev_service_tolerance_pct
        )
        table.loc[in_split, "share_of_oracle_gain_pct"] = np.where(_may_share(table, in_split, required), share, np.nan)


def comparison_table(settings: Settings, entries: list[Entry]) -> pd.DataFrame:
    """One row per controller and split: central KPIs, intervals, changes, share of the optimum's gain."""
    table = pd.DataFrame([_entry_row(entry, settings) for entry in entries])
    optimum = optimum_of(settings.objective, table["controller"])
    reference = fleet_reference(settings.objective, table["controller"])
    table["share_of_oracle_gain_pct"] = np.nan
    for split in SPLITS:
        in_split = table["split"] == split
        _changes_vs_baselines(table, in_split, settings)
        if optimum is not None:
            _share_of_oracle_gain(table, in_split, settings, optimum, reference)
    return table


# ---------------------------------------------------------------- the bar and the room


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
        required = evaluation.loc[reference, "ev_satisfaction_pct"] - tolerance_pct
        rules = rules[rules["ev_satisfaction_pct"] >= required]
    return str(rules[kpi].idxmin()) if len(rules) else None


def marked_best_rule(table: pd.DataFrame) -> str | None:
    """The rule `mark_the_bar` flagged as the scenario's best, if any."""
    flagged = table.loc[table["best_rule"], "controller"] if "best_rule" in table else []
    return str(flagged.iloc[0]) if len(flagged) else None


def _distance_to(table: pd.DataFrame, in_split, settings: Settings, controller: str, suffix: str) -> None:
    """Every controller's grid CO2 and bill against `controller`'s (`{kpi}_{suffix}`, `..._pct`)."""
    for kpi in BAR_KPIS:
        if kpi in table:
            scale = controller_value(table, in_split, "uncontrolled", kpi)
            _change(
                table,
                in_split,
                kpi,
                controller_value(table, in_split, controller, kpi),
                scale,
                settings,
                f"{kpi}_{suffix}",
            )


def _distance_to_planner(table: pd.DataFrame, in_split, settings: Settings) -> None:
    """Every controller's grid CO2 and bill against the planner `mpc`'s (`{kpi}_vs_mpc`, `..._pct`),
    when the planner was run: the agents' second bar."""
    if (table.loc[in_split, "controller"] == PLANNERS[0]).any():
        _distance_to(table, in_split, settings, PLANNERS[0], "vs_mpc")


def _distance_to_bar(table: pd.DataFrame, in_split, settings: Settings, bar: str) -> None:
    """Every controller's grid CO2 and bill against the best rule's, and its rewards as differences."""
    _distance_to(table, in_split, settings, bar, "vs_best_rule")
    for kpi in BAR_REWARDS:
        base = controller_value(table, in_split, bar, kpi)
        if np.isfinite(base):
            table.loc[in_split, f"{kpi}_vs_best_rule"] = table.loc[in_split, kpi] - base


def _room(table: pd.DataFrame, in_split, settings: Settings, bar: str, optimum: str) -> None:
    """The room the best rule leaves above the optimum (absolute, and in % unless the best rule is near
    zero), and each controller's share of it unless the room is near zero."""
    objective = OBJECTIVE_KPI[settings.objective]
    best = controller_value(table, in_split, bar, objective)
    scale = controller_value(table, in_split, "uncontrolled", objective)
    room = best - controller_value(table, in_split, optimum, objective)
    table.loc[in_split, f"{objective}_room"] = room
    if not near_zero(best, scale, settings):
        table.loc[in_split, f"{objective}_room_pct"] = 100 * room / abs(best)
    if room > 0 and not near_zero(room, scale, settings):
        required = (
            controller_value(table, in_split, optimum, "ev_satisfaction_pct") - settings.report.ev_service_tolerance_pct
        )
        share = 100 * (best - table.loc[in_split, objective]) / room
        table.loc[in_split, "share_of_room_pct"] = np.where(_may_share(table, in_split, required), share, np.nan)


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
        _distance_to_bar(table, in_split, settings, bar)
        if optimum is not None:
            _room(table, in_split, settings, bar, optimum)
    return table


# ---------------------------------------------------------------- the seed report's targets

TARGETS = {  # target key -> (column of the table, higher is better, label)
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


def _why(key: str, oracle: float, measured: float, reference: float, low: float, high: float, higher: bool) -> str:
    """Why a target can or cannot hold: what the oracle reaches, or what the site already does uncontrolled."""
    possible = _verdict(oracle, low, high, higher)
    if possible == "short":
        return f"cannot hold here: the oracle, with perfect foresight, reaches only {oracle:.1f}"
    if np.isnan(oracle):
        return "oracle not run, or no percentage against a base near zero"
    about_the_site = not (key.endswith("change_pct") or key == "ev_satisfaction_pct")  # solar used
    if about_the_site and _verdict(reference, low, high, higher) == "beyond (better)":
        return f"the site already uses {reference:.1f} without control: the target describes another site"
    return f"possible (oracle {oracle:.1f}); agents {_verdict(measured, low, high, higher)}"


def target_rows(settings: Settings, table: pd.DataFrame) -> list[dict]:
    """Each seed target beside the oracle's value, the best rule's and the best agent's (eval year); for the
    CO2, import and solar targets the best agent among those serving the fleet as the oracle does."""
    evaluation = table[table["split"] == "eval"].set_index("controller")
    agents = [agent for agent in AGENT_ORDER if agent in evaluation.index]
    bar = marked_best_rule(table)
    required = (
        evaluation.loc["oracle", "ev_satisfaction_pct"] - settings.report.ev_service_tolerance_pct
        if "oracle" in evaluation.index
        else -np.inf
    )
    serving = [agent for agent in agents if evaluation.loc[agent, "ev_satisfaction_pct"] >= required]
    rows = []
    for key, (column, higher, label) in TARGETS.items():
        low, high = getattr(settings.report.seed_targets, key)

        def value(name, column=column):
            return float(evaluation.loc[name, column]) if name in evaluation.index and column in evaluation else np.nan

        # a CO2 or solar figure bought by leaving vehicles uncharged is no claim met: those agents only count
        # for EV service
        candidates = agents if key == "ev_satisfaction_pct" else [agent for agent in agents if agent in serving]
        agent_values = {agent: value(agent) for agent in candidates if np.isfinite(value(agent))}
        best_agent = (max if higher else min)(agent_values, key=agent_values.get) if agent_values else None
        oracle, measured = value("oracle"), agent_values.get(best_agent, np.nan)
        rows.append(
            {
                "target": label,
                "low": low,
                "high": high,
                "oracle": oracle,
                "best_rule": value(bar) if bar else np.nan,
                "best_agent": best_agent,
                "best_agent_value": measured,
                "verdict": _verdict(measured, low, high, higher),
                "why": _why(key, oracle, measured, value("uncontrolled"), low, high, higher),
            }
        )
    return rows


# ---------------------------------------------------------------- the site: service, grid factor, horizon


def short_horizon_days(settings: Settings) -> int | None:
    """The days a scenario simulates when that is less than a year (`make quick`'s week), else None."""
    hours = settings.simulation.horizon_hours
    return hours // 24 if hours < HOURS_PER_YEAR else None


def _grid_factor(settings: Settings, results_dir: Path, scenario: str, split: str, figures: dict) -> dict:
    """The scenario's own grid emission factor on `split` (mean, lowest, highest) and where it was read: the
    dataset summary; else the hourly factors `uncontrolled` ran on; else, where the scenario names no factor
    file, the constant its settings model. Never another scenario's or params' default for a site with files."""
    if all(key in figures for key in GRID_FACTOR_FIGURES.values()):
        values = {column: figures[key] for column, key in GRID_FACTOR_FIGURES.items()}
        return {**values, "grid_factor_source": "the dataset"}
    path = timeseries_file(results_dir, scenario, "uncontrolled", split)
    if path.is_file():
        series = pd.read_csv(path, usecols=lambda column: column == "emission_factor_kg_per_kwh")
        if "emission_factor_kg_per_kwh" in series and len(series):
            factor = series["emission_factor_kg_per_kwh"]
            values = dict(zip(GRID_FACTOR_FIGURES, (factor.mean(), factor.min(), factor.max())))
            return {**values, "grid_factor_source": "uncontrolled's run"}
    if not settings.emissions.grid_factor_files:
        values = dict.fromkeys(GRID_FACTOR_FIGURES, settings.emissions.grid_kg_per_kwh)
        return {**values, "grid_factor_source": "params `emissions.grid_kg_per_kwh`, no factor file named"}
    return {**dict.fromkeys(GRID_FACTOR_FIGURES, np.nan), "grid_factor_source": None}


def site_figures(settings: Settings, results_dir: Path, scenario: str) -> dict[str, dict]:
    """Per split, the station's service (arrivals, those turned away, the energy they wanted) and its grid
    factor, from the scenario's own dataset: NaN where the summary lacks a figure (older summaries)."""
    summary = dataset_summary(results_dir, scenario)
    site = {}
    for split in SPLITS:
        figures = summary.get(split, {})
        service = {column: figures.get(key, np.nan) for column, key in SERVICE_FIGURES.items()}
        site[split] = {**service, **_grid_factor(settings, results_dir, scenario, split, figures)}
    return site


def _add_site(table: pd.DataFrame, site: dict[str, dict]) -> None:
    """Each row's split's site figures, as columns (the same for every controller of a split)."""
    for column in SITE_COLUMNS:
        table[column] = [site[split][column] for split in table["split"]]


def _leave_out_what_a_short_horizon_cannot_show(table: pd.DataFrame) -> None:
    """NaN (n/a) for the shares and the monthly demand charges of a horizon shorter than a year."""
    for column in SHORT_HORIZON_LEFT_OUT:
        for name in (column, f"{column}_ci_low", f"{column}_ci_high"):
            if name in table:
                table[name] = np.nan


# ---------------------------------------------------------------- a scenario's rows and the summary


def scenario_table(settings: Settings, results_dir: Path, scenario: str) -> pd.DataFrame:
    """One scenario's rows: its records compared, its best rule marked, each controller's distance to it
    and share of the room, its site's service and grid factor; no rows when the scenario has no record yet."""
    settings = scenario_settings(settings, scenario)
    entries = load_entries(settings, scenario_dir(results_dir, scenario) / "metrics")
    if not entries:
        log.warning("scenario %s: no metrics records yet; left out of the comparison", scenario)
        return pd.DataFrame()
    table = mark_the_bar(comparison_table(settings, entries), settings)
    if short_horizon_days(settings) is not None:
        _leave_out_what_a_short_horizon_cannot_show(table)
    _add_site(table, site_figures(settings, results_dir, scenario))
    table.insert(0, "scenario", scenario)
    table.insert(1, "objective", settings.objective)
    table.insert(2, "horizon_hours", settings.simulation.horizon_hours)
    return table


def _rounded(value, digits: int = 3):
    return None if is_missing(value) else round(float(value), digits)


SUMMARY_METRICS = {  # summary key -> (table column, divisor)
    "grid_co2_t": ("co2_grid_kg", 1e3),
    "bill_kpen": ("bill_pen", 1e3),
    "import_mwh": ("import_kwh", 1e3),
    "turned_away_pct": ("turned_away_pct", 1.0),  # of the arrivals: the dataset's, the same for every controller
    "sessions_served": ("sessions_departed", 1.0),
    "ev_satisfaction_pct": ("ev_satisfaction_pct", 1.0),  # of the sessions served
    "share_of_room_pct": ("share_of_room_pct", 1.0),
}


def _summary_values(row: pd.Series) -> dict:
    """One controller's figures in the summary; an agent's also the first and last step of the models kept."""
    values = {
        key: _rounded(row.get(column) / divisor if not is_missing(row.get(column)) else None)
        for key, (column, divisor) in SUMMARY_METRICS.items()
    }
    if row["controller"] in AGENT_ORDER:
        steps = [int(step) for step in str(row.get("model_steps_kept") or "").split(", ") if step]
        values["model_kept_step_min"] = min(steps) if steps else None
        values["model_kept_step_max"] = max(steps) if steps else None
    return values


def summary(table: pd.DataFrame, scenarios) -> dict:
    """The few numbers to follow across runs (`dvc metrics`): per scenario and controller, on the evaluation
    year, grid CO2, bill, import, the share of arrivals turned away, the sessions served and the satisfaction
    of those, and the share of the room; for agents (IQM over seeds) also the training step of the model kept,
    first and last over the seeds."""
    result = {}
    for scenario in scenarios:
        evaluation = table[(table["scenario"] == scenario) & (table["split"] == "eval")] if len(table) else table
        if not len(evaluation):
            continue
        ordered = evaluation.set_index("controller").loc[controller_order(evaluation["controller"])].reset_index()
        result[scenario] = {row["controller"]: _summary_values(row) for _, row in ordered.iterrows()}
    return result


HEADLINE_METRICS = ("grid_co2_t", "bill_kpen")  # each headline controller's figures, keys of SUMMARY_METRICS


def _row_of(evaluation: pd.DataFrame, controller: str | None) -> pd.Series | None:
    rows = evaluation[evaluation["controller"] == controller]
    return rows.iloc[0] if len(rows) else None


def _best_agent(evaluation: pd.DataFrame, objective: str) -> str | None:
    """The agent (IQM over seeds) with the lowest held-out objective; the first in the registry's order on a tie."""
    kpi = OBJECTIVE_KPI[objective]
    agents = evaluation[evaluation["controller"].isin(AGENT_ORDER) & evaluation[kpi].notna()]
    if not len(agents):
        return None
    ordered = agents.set_index("controller").loc[controller_order(agents["controller"])]
    return str(ordered[kpi].idxmin())


def _headline_values(row: pd.Series | None) -> dict:
    values = _summary_values(row) if row is not None else {}
    return {key: values.get(key) for key in HEADLINE_METRICS}


def headline(table: pd.DataFrame, scenarios) -> dict:
    """The handful of figures an experiment is judged by (`dvc metrics`, `dvc exp show`): per scenario, on the
    evaluation year, the share of arrivals turned away, and grid CO2 and bill of the best rule, of the planner
    and of the best agent (on the scenario's objective); null where that controller has no record. Every
    controller's figures stay in the summary: these few keep a table of experiments within a terminal."""
    result = {}
    for scenario in scenarios:
        evaluation = table[(table["scenario"] == scenario) & (table["split"] == "eval")] if len(table) else table
        if not len(evaluation):
            continue
        objective = str(evaluation["objective"].iloc[0])
        result[scenario] = {
            "turned_away_pct": _rounded(evaluation.iloc[0].get("turned_away_pct")),  # the dataset's: every row's
            "best_rule": _headline_values(_row_of(evaluation, marked_best_rule(evaluation))),
            PLANNERS[0]: _headline_values(_row_of(evaluation, PLANNERS[0])),
            "best_agent": _headline_values(_row_of(evaluation, _best_agent(evaluation, objective))),
        }
    return result


def json_safe(value):
    """JSON has no NaN: a missing figure is null."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value
