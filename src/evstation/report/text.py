"""The report's text (`comparison.md`): how each value is written (its unit, its sign, its interval, "n/a"
where a record lacks it), the Markdown tables and the words around them: per scenario its grid factor and
the station's service (the vehicles turned away beside the satisfaction of those served), and, for a
horizon shorter than a year, that it is a check that everything runs and not a result.

No percentage beyond ±1,000 % is written (`MAX_SHOWN_PCT`): a base that small against the differences
between controllers says nothing in %; the absolute difference is given instead, or n/a for a share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings, scenario_settings
from .names import AGENT_ORDER, BILL_KPIS, OBJECTIVE_KPI, OBJECTIVE_LABEL, OPTIMA, OPTIMUM, PLANNERS, controller_order
from .records import REWARD_MEASURE, reference_scores, validation_measure, validation_scores
from .tables import HOURS_PER_YEAR, is_missing, marked_best_rule, optimum_of, short_horizon_days, target_rows

NOT_AVAILABLE = "n/a"
MAX_SHOWN_PCT = 1000.0
BEYOND = f"n/a (beyond ±{MAX_SHOWN_PCT:,.0f} %)"
COUNT_COLUMNS = ("sessions_departed", "arrivals", "turned_away")  # whole numbers of vehicles or sessions
# how a KPI is shown: divisor and unit
DISPLAY = {
    "co2_grid_kg": (1e3, "t"),
    "co2_net_kg": (1e3, "t"),
    "import_kwh": (1e3, "MWh"),
    "cost_pen": (1e3, "kPEN"),
    "turned_away_energy_kwh": (1e3, "MWh"),
    **{kpi: (1e3, "kPEN") for kpi in BILL_KPIS},
}
DISTANCE_TAGS = ("_change_vs_", "_vs_best_rule", "_vs_mpc")  # a distance column: KPI + tag (+ "_pct")
MARKDOWN_COLUMNS = {
    "controller": "controller",
    "runs": "runs",
    "forecast": "forecast",
    "co2_grid_kg": "grid CO2 (t)",
    "co2_net_kg": "net CO2 (t)",
    "import_kwh": "import (MWh)",
    "bill_pen": "bill (kPEN)",
    "bill_energy_pen": "energy (kPEN)",
    "bill_demand_generation_pen": "generation demand (kPEN)",
    "bill_demand_distribution_pen": "distribution demand (kPEN)",
    "solar_utilization_pct": "solar used (%)",
    "turned_away_pct": "turned away (% of arrivals)",
    "sessions_departed": "sessions served",
    "ev_satisfaction_pct": "EV satisfied (% of served)",
    "peak_import_kw": "peak import (kW)",
    "co2_grid_kg_change_vs_uncontrolled_pct": "grid CO2 vs uncontrolled",
    "bill_pen_change_vs_uncontrolled_pct": "bill vs uncontrolled",
    "co2_grid_kg_change_vs_without_solar_pct": "grid CO2 vs without solar",
    "share_of_oracle_gain_pct": "share of the optimum's gain over uncontrolled (%)",
    "share_of_room_pct": "share of the room (%)",
}
HEADLINE_COLUMNS = (
    "controller",
    "runs",
    "forecast",
    "co2_grid_kg",
    "bill_pen",
    "bill_energy_pen",
    "bill_demand_generation_pen",
    "bill_demand_distribution_pen",
    "import_kwh",
    "solar_utilization_pct",
    "turned_away_pct",
    "sessions_departed",
    "ev_satisfaction_pct",
    "co2_grid_kg_change_vs_uncontrolled_pct",
    "bill_pen_change_vs_uncontrolled_pct",
    "share_of_oracle_gain_pct",
    "share_of_room_pct",
)
BAR_COLUMNS = {
    "controller": "agent",
    "start": "start (untrained = this controller)",
    "model_steps_kept": "model kept (training step, per seed)",
    "co2_grid_kg_vs_best_rule_pct": "grid CO2 vs best rule",
    "bill_pen_vs_best_rule_pct": "bill vs best rule",
    "co2_grid_kg_vs_mpc_pct": "grid CO2 vs mpc",
    "bill_pen_vs_mpc_pct": "bill vs mpc",
    "reward_mean_vs_best_rule": "reward per step vs best rule",
    "learning_reward_mean_vs_best_rule": "learning reward per step vs best rule",
    "share_of_room_pct": "share of the room (%)",
}


# ---------------------------------------------------------------- values


def number(value: float, digits: int) -> str:
    """A value to `digits` decimals (none from 100,000 up); one that rounds to zero is unsigned ("0.0",
    never "-0.0")."""
    if round(float(value), digits) == 0:
        value = 0.0
    return f"{value:,.{digits}f}" if abs(value) < 1e5 else f"{value:,.0f}"


def signed(value: float, digits: int = 1) -> str:
    """A difference with its sign; one that rounds to zero is "0.0" (never "-0.0")."""
    return f"{0.0:.{digits}f}" if round(float(value), digits) == 0 else f"{value:+,.{digits}f}"


def beyond_shown(percent: float) -> bool:
    """Whether a percentage is too large to be worth writing (beyond ±`MAX_SHOWN_PCT`)."""
    return abs(float(percent)) > MAX_SHOWN_PCT


def _difference(row: pd.Series, column: str) -> str:
    """A change column (`..._pct` beside its absolute twin): the percentage, or the absolute difference in
    the KPI's unit where the base is near zero."""
    percent, absolute = row.get(column), row.get(column[: -len("_pct")])
    if not is_missing(percent) and not beyond_shown(percent):
        return f"{signed(percent)} %"
    if is_missing(absolute):
        return BEYOND if not is_missing(percent) else NOT_AVAILABLE
    kpi = column
    for tag in DISTANCE_TAGS:
        kpi = kpi.split(tag)[0]
    divisor, unit = DISPLAY.get(kpi, (1.0, ""))
    why = "base ≈ 0" if is_missing(percent) else f"beyond ±{MAX_SHOWN_PCT:,.0f} %"
    return f"{signed(absolute / divisor)} {unit} ({why}: no %)"


def cell(row: pd.Series, column: str) -> str:
    """One table row's `column` as the report writes it: a controller with its flags (best rule,
    optimum), a change with its sign, a KPI in its unit with its interval, "n/a" where it is missing."""
    value = row.get(column)
    if column == "controller":
        tags = [tag for flag, tag in (("best_rule", "best rule"), ("optimum", "optimum")) if row.get(flag) is True]
        return f"**{value}** ({', '.join(tags)})" if tags else str(value)
    if column.endswith("_pct") and any(tag in column for tag in DISTANCE_TAGS):
        return _difference(row, column)
    if is_missing(value):
        return NOT_AVAILABLE
    if column in ("runs", "model_steps_kept", "forecast", "start"):
        return str(value)
    if column in COUNT_COLUMNS:
        return f"{round(float(value)):,}"
    if column.endswith("_pct") and beyond_shown(value):
        return BEYOND
    divisor = DISPLAY.get(column, (1.0, ""))[0]
    digits = 4 if column.startswith(("reward", "learning_reward")) else 1
    text = number(value / divisor, digits)
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if not is_missing(low):
        text += f" [{number(low / divisor, digits)}, {number(high / divisor, digits)}]"
    return text


def table_lines(cells: list[list[str]], headings: list[str]) -> list[str]:
    """Cells already written as the report shows them, as a Markdown table (tabulate's pipe format, through
    pandas), then a blank line. Numbers stay exactly as written: no parsing, realigning or reformatting, and
    no padding (`stralign=None`): a padded headline row runs to several hundred characters in a terminal."""
    frame = pd.DataFrame(cells, columns=headings)
    lines = frame.to_markdown(index=False, disable_numparse=True, stralign=None).splitlines()
    lines[1] = "|" + "---|" * len(headings)  # tabulate draws it as wide as the widest cell
    return lines + [""]


def markdown_table(rows: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    """A Markdown table of `rows`: the `columns` (column -> heading) they have, then a blank line."""
    shown = [c for c in columns if c in rows.columns]
    return table_lines([[cell(row, c) for c in shown] for _, row in rows.iterrows()], [columns[c] for c in shown])


# ---------------------------------------------------------------- a scenario's section


def headline_rows(scenario_table: pd.DataFrame) -> pd.DataFrame:
    """Held-out year: without solar, uncontrolled, the best rule, the planner, the oracles, then each agent."""
    evaluation = scenario_table[scenario_table["split"] == "eval"]
    keep = (
        evaluation["controller"].isin(("without_solar", "uncontrolled") + PLANNERS + OPTIMA + AGENT_ORDER)
        | evaluation["best_rule"]
    )
    order = {name: index for index, name in enumerate(controller_order(evaluation["controller"]))}
    return evaluation[keep].sort_values("controller", key=lambda names: names.map(order))


def room_lines(settings: Settings, rows: pd.DataFrame) -> list[str]:
    """The scenario's objective, its best rule, the optimum and the room between them (evaluation year)."""
    evaluation = rows[rows["split"] == "eval"].set_index("controller")
    objective, label = OBJECTIVE_KPI[settings.objective], OBJECTIVE_LABEL[settings.objective]
    divisor, unit = DISPLAY[objective]
    bar, optimum = marked_best_rule(rows), optimum_of(settings.objective, evaluation.index)
    lines = [f"Objective: **{label}** (params `objective: {settings.objective}`)."]
    if bar is None:
        lines.append(f"Best rule: none (no rule that serves the fleet has the {label} in its record).")
        return lines + [""]
    lines.append(
        f"Best rule (the agents' bar): **{bar}**, {number(evaluation.loc[bar, objective] / divisor, 1)} {unit}."
    )
    if optimum is None:
        lines.append(f"Optimum: not run (`{OPTIMUM[settings.objective]}`), so no room and no share of it.")
        return lines + [""]
    room, room_pct = evaluation.loc[bar, f"{objective}_room"], evaluation.loc[bar, f"{objective}_room_pct"]
    lines.append(
        f"Optimum (`{optimum}`, perfect foresight): "
        f"{number(evaluation.loc[optimum, objective] / divisor, 1)} {unit}. "
        f"Room left by the best rule: {signed(room / divisor)} {unit}"
        + _room_percent(room_pct)
        + _why_no_share(settings, evaluation, label)
    )
    return lines + [""]


def _room_percent(room_pct: float) -> str:
    """The room in % of the best rule, where that base is neither near zero nor so small the % says nothing."""
    if is_missing(room_pct):
        return " (best rule near zero: no %)"
    return (
        f" (beyond ±{MAX_SHOWN_PCT:,.0f} % of the best rule: no %)"
        if beyond_shown(room_pct)
        else (f" ({signed(room_pct, 2)} % of the best rule)")
    )


def _why_no_share(settings: Settings, evaluation: pd.DataFrame, label: str) -> str:
    """The end of the room's sentence: why no controller has a share of it, where none has."""
    days = short_horizon_days(settings)
    if days is not None:
        return f". No share of it is given: {days} days at quick size are not a year."
    if evaluation["share_of_room_pct"].notna().any():
        return "."
    return (
        f": within {settings.report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's {label}, "
        "so no share of it is given: the best rule is already at the optimum."
    )


def period(settings: Settings, split: str) -> str:
    """The simulated period of `split` as the report names it: the year, or its first days at quick size."""
    year = {"eval": "evaluation year, held out", "train": "training year"}[split]
    days = short_horizon_days(settings)
    return year if days is None else f"first {days} days of the {year}, at quick size"


def _quantity(value, divisor: float = 1.0, digits: int = 1, unit: str = "") -> str:
    """A figure of the site in its unit, or n/a where the record lacks it."""
    if is_missing(value):
        return NOT_AVAILABLE
    text = f"{round(float(value)):,}" if digits == 0 else number(float(value) / divisor, digits)
    return f"{text} {unit}".rstrip()


def site_lines(settings: Settings, rows: pd.DataFrame) -> list[str]:
    """The scenario's grid emission factor and the station's service on the evaluation period, from its own
    dataset: how many vehicles came, how many found every socket of their kind taken and were turned away,
    and the energy those would have wanted; the same for every controller."""
    first = rows[rows["split"] == "eval"].iloc[0]
    mean, low, high = (first.get(f"grid_factor{part}_kg_per_kwh") for part in ("", "_min", "_max"))
    if is_missing(mean):
        factor = f"{NOT_AVAILABLE} (no dataset summary, no timeseries and a factor file named)"
    else:
        spread = "constant" if np.isclose(low, high) else f"mean, hourly {low:.4f} to {high:.4f}"
        factor = f"{mean:.4f} kg CO2/kWh ({spread}; from {first.get('grid_factor_source')})"
    turned_away_pct = _quantity(first.get("turned_away_pct"))
    wanted_kwh = first.get("turned_away_energy_kwh")
    small = not is_missing(wanted_kwh) and wanted_kwh < 1e4  # a week's at small size: in kWh
    wanted = _quantity(wanted_kwh, digits=0, unit="kWh") if small else _quantity(wanted_kwh, 1e3, 1, "MWh")
    if wanted == NOT_AVAILABLE and not is_missing(first.get("turned_away")):
        wanted += " (a dataset summary built before it was recorded; the next build records it)"
    return [
        f"Grid emission factor, {period(settings, 'eval')}: {factor}.",
        "",
        f"Service, {period(settings, 'eval')}, from the station's dataset (the same for every controller): "
        f"{_quantity(first.get('arrivals'), digits=0)} vehicles arrived; "
        f"{_quantity(first.get('turned_away'), digits=0)} ({turned_away_pct} %) found every socket of their kind taken "
        f"and were turned away, wanting {wanted}. "
        "Each controller's sessions served and the share of them it satisfied are in the tables: "
        "a satisfaction of 100 % says nothing of the vehicles turned away.",
        "",
    ]


def validation_lines(results_dir: Path, settings: Settings, scenario: str) -> list[str]:
    """Per agent and seed of the scenario (`settings` are its own), what model selection saw: the untrained
    policy's validation score (with a residual policy, its start's), the best score any trained model
    reached and at which step, the last score, the step of the model kept (the first best, as model
    selection keeps it), and the scores of the controllers a policy may start from on the same window, as
    the runs recorded them. A table per measure (`es` scores otherwise than the reward); empty when no run
    recorded its scores."""
    runs: dict[str, list] = {}
    for agent in AGENT_ORDER:
        for seed in settings.training.seeds:
            scores = validation_scores(results_dir, scenario, agent, seed)
            if scores is None or not len(scores) or scores.index[0] != 0:
                continue
            measure = validation_measure(results_dir, scenario, agent, seed)
            runs.setdefault(measure, []).append(
                (agent, seed, scores, reference_scores(results_dir, scenario, agent, seed))
            )
    return [line for measure, measured in runs.items() for line in _selection_table(settings, measure, measured)]


def _selection_table(settings: Settings, measure: str, runs: list) -> list[str]:
    """validation_lines' table of the runs scored by `measure` ((agent, seed, scores, references) each), then
    a blank line."""
    starts = list(dict.fromkeys(name for *_, references in runs for name in references))
    rows = []
    for agent, seed, scores, references in runs:
        trained = scores.iloc[1:]
        best = f"{trained.max():+.5f} (step {int(trained.idxmax()):,})" if len(trained) else NOT_AVAILABLE
        shown = [f"{references[name]:+.5f}" if name in references else NOT_AVAILABLE for name in starts]
        first, last, kept = f"{scores.iloc[0]:+.5f}", f"{scores.iloc[-1]:+.5f}", f"{int(scores.idxmax()):,}"
        rows.append([agent, str(seed), first, best, last, kept, *shown])
    if measure != REWARD_MEASURE:
        start = "its start's score (the rule it moves)"
    elif settings.control.residual != "none":
        start = "its start's score (the controller it corrects)"
    else:
        start = "the untrained policy's"
    return [
        f"### What model selection saw (validation score: {measure} on the training year's last days; "
        f"step 0 is {start})",
        "",
        *table_lines(rows, ["agent", "seed", "step 0", "best trained model", "last", "model kept (step)", *starts]),
    ]


def _agent_lines(settings: Settings, scenario: str, rows: pd.DataFrame, results_dir: Path | None) -> list[str]:
    """The agents against the best rule, and what model selection saw; nothing without agents or a bar."""
    agents = rows[(rows["split"] == "eval") & rows["controller"].isin(AGENT_ORDER)]
    if not (len(agents) and "co2_grid_kg_vs_best_rule" in rows):
        return []
    lines = [
        f"### Agents against the best rule ({period(settings, 'eval')}; negative CO2 and bill, positive reward "
        "are better)",
        "",
        "The model kept is the one model selection scored best on the validation window; step 0 is the "
        "untrained policy, which with a residual policy is the controller it starts from (its start).",
        "",
    ]
    lines += markdown_table(agents, BAR_COLUMNS)
    return lines + (validation_lines(results_dir, settings, scenario) if results_dir is not None else [])


def _target_lines(settings: Settings, rows: pd.DataFrame) -> list[str]:
    """The seed report's targets beside what the oracle allows, the best rule and the best agent."""

    def shown(value):
        if is_missing(value):
            return NOT_AVAILABLE
        return BEYOND if beyond_shown(value) else f"{value:.1f}"

    cells = []
    for target in target_rows(settings, rows):
        agent = (
            f"{target['best_agent']}: {shown(target['best_agent_value'])}"
            if target["best_agent"]
            else "none serves the fleet"
        )
        cells.append(
            [
                target["target"],
                f"{target['low']:g} to {target['high']:g}",
                shown(target["oracle"]),
                shown(target["best_rule"]),
                agent,
                target["verdict"],
                target["why"],
            ]
        )
    headings = ["target", "seed's range", "oracle allows", "best rule", "best agent serving the fleet (IQM)"]
    return [
        f"### Seed report's targets ({period(settings, 'eval')})",
        "",
        *table_lines(cells, [*headings, "verdict", "why"]),
    ]


def scenario_markdown(
    settings: Settings, scenario: str, table: pd.DataFrame, results_dir: Path | None = None
) -> list[str]:
    """A scenario's section: its room, the headline, the agents against the bar, the seed's targets, and
    every controller on both years."""
    settings = scenario_settings(settings, scenario)
    rows = table[table["scenario"] == scenario]
    lines = [f"## Scenario `{scenario}`", ""]
    if not len(rows):
        return lines + [
            "No records yet (`results/scenarios/" + scenario + "/metrics/` is empty): nothing to compare.",
            "",
        ]
    lines += room_lines(settings, rows)
    lines += site_lines(settings, rows)
    days = short_horizon_days(settings)
    quick = "" if days is None else ": a check that everything runs, not a result"
    lines += [f"### Headline: {period(settings, 'eval')}{quick}", ""]
    lines += markdown_table(headline_rows(rows), {c: MARKDOWN_COLUMNS[c] for c in HEADLINE_COLUMNS})
    lines += _agent_lines(settings, scenario, rows, results_dir)
    lines += _target_lines(settings, rows)
    for split in ("eval", "train"):
        lines += [f"### Every controller, {period(settings, split)}", ""]
        lines += markdown_table(rows[rows["split"] == split], MARKDOWN_COLUMNS)
    return lines


# ---------------------------------------------------------------- the whole report


def quick_days(table: pd.DataFrame) -> list[int]:
    """The horizons, in days, of the compared scenarios simulated for less than a year (`make quick`'s week)."""
    hours = table["horizon_hours"].dropna().astype(int) if "horizon_hours" in table else pd.Series(dtype=int)
    return sorted({int(hour) // 24 for hour in hours if hour < HOURS_PER_YEAR})


def _quick_lines(span: str) -> list[str]:
    """What a report at quick size (`span` days) is, and what it leaves out: said before anything else."""
    if not span:
        return []
    return [
        f"**Quick size: {span} days of a small station. A check that everything runs, not a result.** "
        "No share of the room or of the optimum's gain is given (the room of a few days is not a year's), nor "
        "the monthly demand charges (billed whole on a few days' import, they are not those days' cost; where "
        "a tariff has them, the bill still carries them).",
        "",
    ]


def _introduction(settings: Settings, table: pd.DataFrame) -> list[str]:
    """How to read every scenario's tables: the aggregate over seeds, the bar, the room, what gets no %; first,
    where the scenarios were simulated for less than a year, that the report is a check, not a result."""
    seeds = list(settings.training.seeds)
    report = settings.report
    span = " or ".join(map(str, quick_days(table)))
    size = f" at quick size ({span} days)" if span else ""
    return [
        f"# Controller comparison{size}, scenarios {', '.join(settings.scenarios)}",
        "",
        *_quick_lines(span),
        f"Agents: rliable's interquartile mean over training seeds {seeds} with a "
        f"{report.confidence_pct:g} % stratified bootstrap interval in brackets"
        + (" (with fewer than four seeds the IQM trims nothing and is the mean)" if len(seeds) < 4 else "")
        + ". Negative changes are savings. Each scenario's grid emission factor is its own, from its dataset. "
        "Vehicles turned away (every socket of their kind taken when they arrived) depend on the station and its "
        "fleet, not on the controller; EV satisfied is the share of the sessions served that left with their "
        "required charge. Each controller's forecast is what it knew of the hours ahead (none: a rule; perfect "
        "foresight: the optimum). "
        "Each scenario is judged on its objective (grid CO2 or bill). Its best rule is the rule with the least "
        "of it on the evaluation year among those that serve the fleet as the optimum does (within "
        f"{report.ev_service_tolerance_pct:g} points of EV satisfaction); the optimum is the perfect-foresight "
        "LP solved for that objective (`oracle`: grid CO2 first; `oracle_bill`: bill first). The room is the "
        "best rule minus the optimum; a controller's share of the room is how much of it it took (the best "
        "rule 0 %, the optimum 100 %). "
        "A change against a base within "
        f"{report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's value of that KPI is given as the "
        "absolute difference, never as a percentage of that near-zero base. No share of a gain is given (n/a) "
        "to `without_solar` (another site, without PV: not a way to control this one), nor to a controller "
        "that satisfies fewer EV sessions than the optimum: leaving vehicles uncharged also cuts grid CO2 and "
        "the bill, but not in a way the optimum, which serves every session, would count. n/a: not in the "
        f"record (records written before the bill was recorded have none). No percentage beyond "
        f"±{MAX_SHOWN_PCT:,.0f} % is written: the absolute difference is given instead, or n/a for a share.",
        "",
    ]


def markdown(settings: Settings, table: pd.DataFrame, results_dir: Path | None = None) -> str:
    """The whole of `comparison.md`: the introduction, then each scenario's section."""
    lines = _introduction(settings, table)
    for scenario in settings.scenarios:
        lines += scenario_markdown(settings, scenario, table, results_dir)
    return "\n".join(lines)
