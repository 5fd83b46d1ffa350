"""The report's text (`comparison.md`): how each value is written (its unit, its sign, its interval, "n/a"
where a record lacks it), the Markdown tables and the words around them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import Settings, scenario_settings
from .names import AGENT_ORDER, BILL_KPIS, OBJECTIVE_KPI, OBJECTIVE_LABEL, OPTIMA, OPTIMUM, PLANNERS, controller_order
from .records import validation_scores
from .tables import is_missing, marked_best_rule, optimum_of, target_rows

NOT_AVAILABLE = "n/a"
# how a KPI is shown: divisor and unit
DISPLAY = {
    "co2_grid_kg": (1e3, "t"),
    "co2_net_kg": (1e3, "t"),
    "import_kwh": (1e3, "MWh"),
    "cost_pen": (1e3, "kPEN"),
    **{kpi: (1e3, "kPEN") for kpi in BILL_KPIS},
}
DISTANCE_TAGS = ("_change_vs_", "_vs_best_rule", "_vs_mpc")  # a distance column: KPI + tag (+ "_pct")
MARKDOWN_COLUMNS = {
    "controller": "controller",
    "runs": "runs",
    "co2_grid_kg": "grid CO2 (t)",
    "co2_net_kg": "net CO2 (t)",
    "import_kwh": "import (MWh)",
    "bill_pen": "bill (kPEN)",
    "bill_energy_pen": "energy (kPEN)",
    "bill_demand_generation_pen": "generation demand (kPEN)",
    "bill_demand_distribution_pen": "distribution demand (kPEN)",
    "solar_utilization_pct": "solar used (%)",
    "ev_satisfaction_pct": "EV satisfied (%)",
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
    "co2_grid_kg",
    "bill_pen",
    "bill_energy_pen",
    "bill_demand_generation_pen",
    "bill_demand_distribution_pen",
    "import_kwh",
    "solar_utilization_pct",
    "ev_satisfaction_pct",
    "co2_grid_kg_change_vs_uncontrolled_pct",
    "bill_pen_change_vs_uncontrolled_pct",
    "share_of_oracle_gain_pct",
    "share_of_room_pct",
)
BAR_COLUMNS = {
    "controller": "agent",
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


def _difference(row: pd.Series, column: str) -> str:
    """A change column (`..._pct` beside its absolute twin): the percentage, or the absolute difference in
    the KPI's unit where the base is near zero."""
    percent, absolute = row.get(column), row.get(column[: -len("_pct")])
    if not is_missing(percent):
        return f"{signed(percent)} %"
    if is_missing(absolute):
        return NOT_AVAILABLE
    kpi = column
    for tag in DISTANCE_TAGS:
        kpi = kpi.split(tag)[0]
    divisor, unit = DISPLAY.get(kpi, (1.0, ""))
    return f"{signed(absolute / divisor)} {unit} (base ≈ 0: no %)"


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
    if column in ("runs", "model_steps_kept"):
        return str(value)
    divisor = DISPLAY.get(column, (1.0, ""))[0]
    digits = 4 if column.startswith(("reward", "learning_reward")) else 1
    text = number(value / divisor, digits)
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if not is_missing(low):
        text += f" [{number(low / divisor, digits)}, {number(high / divisor, digits)}]"
    return text


def markdown_table(rows: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    """A Markdown table of `rows`: the `columns` (column -> heading) they have, then a blank line."""
    shown = [c for c in columns if c in rows.columns]
    lines = ["| " + " | ".join(columns[c] for c in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(cell(row, c) for c in shown) + " |" for _, row in rows.iterrows()]
    return lines + [""]


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
    share = evaluation["share_of_room_pct"].notna().any()
    lines.append(
        f"Optimum (`{optimum}`, perfect foresight): "
        f"{number(evaluation.loc[optimum, objective] / divisor, 1)} {unit}. "
        f"Room left by the best rule: {signed(room / divisor)} {unit}"
        + (
            f" ({signed(room_pct, 2)} % of the best rule)"
            if not is_missing(room_pct)
            else " (best rule near zero: no %)"
        )
        + (
            "."
            if share
            else f": within {settings.report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's {label}, "
            "so no share of it is given: the best rule is already at the optimum."
        )
    )
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
            best = f"{trained.max():+.5f} (step {int(trained.idxmax()):,})" if len(trained) else NOT_AVAILABLE
            rows.append(
                f"| {agent} | {seed} | {scores.iloc[0]:+.5f} | {best} | {scores.iloc[-1]:+.5f} | "
                f"{int(scores.idxmax()):,} |"
            )
    if not rows:
        return []
    start = "the rule's score" if settings.control.residual != "none" else "the untrained policy's"
    return [
        f"### What model selection saw (validation score: learning reward per step on the training year's last "
        f"days; step 0 is {start})",
        "",
        "| agent | seed | step 0 | best trained model | last | model kept (step) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _agent_lines(settings: Settings, scenario: str, rows: pd.DataFrame, results_dir: Path | None) -> list[str]:
    """The agents against the best rule, and what model selection saw; nothing without agents or a bar."""
    agents = rows[(rows["split"] == "eval") & rows["controller"].isin(AGENT_ORDER)]
    if not (len(agents) and "co2_grid_kg_vs_best_rule" in rows):
        return []
    lines = [
        "### Agents against the best rule (evaluation year; negative CO2 and bill, positive reward are better)",
        "",
        "The model kept is the one model selection scored best on the validation window; step 0 is the "
        "untrained policy, which with a residual policy is the rule itself.",
        "",
    ]
    lines += markdown_table(agents, BAR_COLUMNS)
    return lines + (validation_lines(results_dir, settings, scenario) if results_dir is not None else [])


def _target_lines(settings: Settings, rows: pd.DataFrame) -> list[str]:
    """The seed report's targets beside what the oracle allows, the best rule and the best agent."""

    def shown(value):
        return NOT_AVAILABLE if is_missing(value) else f"{value:.1f}"

    lines = [
        "### Seed report's targets (evaluation year)",
        "",
        "| target | seed's range | oracle allows | best rule | best agent serving the fleet (IQM) | verdict | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in target_rows(settings, rows):
        agent = (
            f"{target['best_agent']}: {shown(target['best_agent_value'])}"
            if target["best_agent"]
            else "none serves the fleet"
        )
        lines.append(
            f"| {target['target']} | {target['low']:g} to {target['high']:g} | {shown(target['oracle'])} | "
            f"{shown(target['best_rule'])} | {agent} | {target['verdict']} | {target['why']} |"
        )
    return lines + [""]


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
    lines += ["### Headline: evaluation year (held out)", ""]
    lines += markdown_table(headline_rows(rows), {c: MARKDOWN_COLUMNS[c] for c in HEADLINE_COLUMNS})
    lines += _agent_lines(settings, scenario, rows, results_dir)
    lines += _target_lines(settings, rows)
    for split, title in (
        ("eval", "Every controller, evaluation year (held out)"),
        ("train", "Every controller, training year"),
    ):
        lines += [f"### {title}", ""] + markdown_table(rows[rows["split"] == split], MARKDOWN_COLUMNS)
    return lines


# ---------------------------------------------------------------- the whole report


def _introduction(settings: Settings) -> list[str]:
    """How to read every scenario's tables: the aggregate over seeds, the bar, the room, what gets no %."""
    seeds = list(settings.training.seeds)
    report = settings.report
    return [
        f"# Controller comparison, scenarios {', '.join(settings.scenarios)}",
        "",
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
        f"{report.near_zero_base_pct_of_uncontrolled:g} % of uncontrolled's value of that KPI is given as the "
        "absolute difference, never as a percentage of that near-zero base. No share of a gain is given (n/a) "
        "to `without_solar` (another site, without PV: not a way to control this one), nor to a controller "
        "that satisfies fewer EV sessions than the optimum: leaving vehicles uncharged also cuts grid CO2 and "
        "the bill, but not in a way the optimum, which serves every session, would count. n/a: not in the "
        "record (records written before the bill was recorded have none).",
        "",
    ]


def markdown(settings: Settings, table: pd.DataFrame, results_dir: Path | None = None) -> str:
    """The whole of `comparison.md`: the introduction, then each scenario's section."""
    lines = _introduction(settings)
    for scenario in settings.scenarios:
        lines += scenario_markdown(settings, scenario, table, results_dir)
    return "\n".join(lines)
