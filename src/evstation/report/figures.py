"""The report's figures: each controller's KPIs against `uncontrolled` (and its EV service as it is), the
vehicles turned away by hour of the day, a representative week of power flows and battery state of charge,
and the agents' learning curves. Drawn off screen (the Agg backend, chosen before pyplot is imported), so
that `compare` runs where there is no display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..config import Settings, scenario_settings  # noqa: E402
from .names import AGENT_ORDER, BASELINE_ORDER, NOT_STRATEGIES, OPTIMA, OPTIMUM, PLANNERS  # noqa: E402
from .records import (  # noqa: E402
    REWARD_MEASURE,
    curve_file,
    dataset_summary,
    scenario_dir,
    validation_measure,
    validation_scores,
)
from .records import reference_scores as record_references  # noqa: E402
from .tables import controller_value, is_missing  # noqa: E402
from .text import NOT_AVAILABLE, period, signed  # noqa: E402

DPI = 110
HOURS_PER_DAY = 24  # the validation window is whole days of hourly steps (learning/station_env.py)
HOURS_PER_WEEK = 7 * HOURS_PER_DAY


def _save(figure, path: Path) -> None:
    figure.savefig(path, dpi=DPI)
    plt.close(figure)


def _titled_layout(figure, top_in: float = 0.55, bottom_in: float = 0.0) -> None:
    """Lay the panels out below a suptitle of `top_in` inches (and above a figure legend of `bottom_in`):
    a fixed fraction of the height overlaps the first panels of a short figure (one row at quick size)."""
    height_in = figure.get_figheight()
    figure.tight_layout(rect=(0, bottom_in / height_in, 1, 1 - top_in / height_in))


def _no_data(axis, text: str) -> None:
    """A panel that says what is missing instead of drawing nothing."""
    axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes, fontsize=9, wrap=True)
    axis.set_xticks([])
    axis.set_yticks([])


# ---------------------------------------------------------------- the KPIs against uncontrolled

BAR_PANELS = (
    ("co2_grid_kg", "grid CO2 (t)", 1e3),
    ("bill_pen", "bill (kPEN)", 1e3),
    ("import_kwh", "grid import (MWh)", 1e3),
    ("solar_utilization_pct", "solar used (points)", 1.0),
)
EV_PANEL = "EV service (% of arrivals)"  # as it is, not minus uncontrolled (all alike: every bar 0)


def _bar_colour(row: pd.Series) -> str:
    if row["best_rule"]:
        return "tab:orange"
    if row["controller"] in OPTIMA:
        return "tab:green"
    return "tab:blue" if row["controller"] in AGENT_ORDER else "tab:grey"


def _kpi_panel(axis, evaluation: pd.DataFrame, kpi: str, divisor: float) -> None:
    """Each controller's `kpi` minus uncontrolled's, with its interval and its value written beyond it."""
    base = (
        controller_value(evaluation, evaluation["split"] == "eval", "uncontrolled", kpi) if len(evaluation) else np.nan
    )
    shown = evaluation[~evaluation["controller"].isin(NOT_STRATEGIES + ("uncontrolled",))]
    if kpi not in shown or not np.isfinite(base) or shown[kpi].isna().all():
        _no_data(axis, f"{NOT_AVAILABLE}: not in these records")
        return
    shown = shown[shown[kpi].notna()]
    values = (shown[kpi] - base) / divisor
    low = (shown.get(f"{kpi}_ci_low", pd.Series(np.nan, index=shown.index)) - base) / divisor
    high = (shown.get(f"{kpi}_ci_high", pd.Series(np.nan, index=shown.index)) - base) / divisor
    errors = np.vstack([(values - low).fillna(0).clip(lower=0), (high - values).fillna(0).clip(lower=0)])
    axis.bar(
        shown["controller"], values, yerr=errors, capsize=4, color=[_bar_colour(item) for _, item in shown.iterrows()]
    )
    for position, (value, below, above) in enumerate(zip(values, errors[0], errors[1])):
        end = value + above if value >= 0 else value - below  # beyond the interval's end
        axis.annotate(
            signed(value),
            (position, end),
            ha="center",
            va="bottom" if value >= 0 else "top",
            fontsize=7,
            xytext=(0, 2 if value >= 0 else -2),
            textcoords="offset points",
        )
    axis.margins(y=0.12)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.tick_params(axis="x", rotation=60, labelsize=8)
    axis.set_ylabel("difference from uncontrolled")


def _ev_panel(axis, evaluation: pd.DataFrame) -> None:
    """Each controller's service of the arriving vehicles, as it is (a difference from uncontrolled is zero
    wherever every controller serves alike, and drew empty bars): of 100 arrivals, those served that left
    charged, those served that left short, and those turned away (the same for every controller)."""
    shown = evaluation[~evaluation["controller"].isin(NOT_STRATEGIES)]
    if "ev_satisfaction_pct" not in shown or shown["ev_satisfaction_pct"].isna().all():
        _no_data(axis, f"{NOT_AVAILABLE}: not in these records")
        return
    shown = shown[shown["ev_satisfaction_pct"].notna()]
    turned_away = shown["turned_away_pct"].iloc[0] if "turned_away_pct" in shown else np.nan
    served = 100.0 - (0.0 if is_missing(turned_away) else turned_away)
    charged = served * shown["ev_satisfaction_pct"].to_numpy(dtype=float) / 100
    names = shown["controller"]
    axis.bar(names, charged, color="tab:green", label="served, left charged")
    axis.bar(names, served - charged, bottom=charged, color="tab:orange", label="served, left short")
    if is_missing(turned_away):
        axis.set_title(f"{axis.get_title()}\n(turned away: {NOT_AVAILABLE}, no dataset summary)", fontsize=9)
    else:
        axis.bar(names, np.full(len(shown), turned_away), bottom=served, color="tab:red", label="turned away")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=7, loc="lower left", framealpha=0.9)
    axis.tick_params(axis="x", rotation=60, labelsize=8)
    axis.set_ylabel("% of arriving vehicles")


def kpi_bars(table: pd.DataFrame, scenarios: tuple[str, ...], path: Path) -> None:
    """One row of panels per scenario: each controller's difference from `uncontrolled` (evaluation year), and
    its EV service as it is beside the share of arrivals served. `without_solar` (another site) is left out,
    so that it does not set the scale; agents with their interval."""
    columns = len(BAR_PANELS) + 1
    figure, axes = plt.subplots(len(scenarios), columns, figsize=(4.4 * columns, 4.2 * len(scenarios)), squeeze=False)
    for row, scenario in zip(axes, scenarios):
        evaluation = table[(table["split"] == "eval") & (table["scenario"] == scenario)]
        for axis, (kpi, label, divisor) in zip(row, BAR_PANELS):
            axis.set_title(f"{scenario}: {label}", fontsize=10)
            axis.grid(axis="y", alpha=0.3)
            _kpi_panel(axis, evaluation, kpi, divisor)
        row[-1].set_title(f"{scenario}: {EV_PANEL}", fontsize=10)
        row[-1].grid(axis="y", alpha=0.3)
        _ev_panel(row[-1], evaluation)
    figure.suptitle(
        "Evaluation period: each controller minus uncontrolled, and its EV service (without_solar left out; "
        "agents: IQM over seeds with 95 % interval; best rule orange, optimum green, agents blue; EV: its own key)"
    )
    _titled_layout(figure)
    _save(figure, path)


# ---------------------------------------------------------------- vehicles turned away by hour of the day


def _service_panel(axis, scenario: str, summary: dict, settings: Settings) -> None:
    """The evaluation period's arrivals per day by hour of arrival: served, and turned away on top."""
    figures = summary.get("eval", {})
    if "arrivals_by_hour" not in figures or "turned_away_by_hour" not in figures:
        _no_data(axis, f"{NOT_AVAILABLE}: the dataset summary has no counts by hour\n(rebuild the dataset)")
        axis.set_title(scenario, fontsize=10)
        return
    days = settings.simulation.horizon_hours / HOURS_PER_DAY
    arrivals = np.asarray(figures["arrivals_by_hour"], dtype=float) / days
    turned = np.asarray(figures["turned_away_by_hour"], dtype=float) / days
    hours = np.arange(HOURS_PER_DAY)
    axis.bar(hours, arrivals - turned, color="tab:grey", label="served")
    axis.bar(hours, turned, bottom=arrivals - turned, color="tab:red", label="turned away")
    share = figures.get("turned_away_pct")
    shown = f"{share:.1f} % of arrivals turned away" if share is not None else NOT_AVAILABLE
    axis.set_title(f"{scenario}: {shown}, {period(settings, 'eval')}", fontsize=10)
    axis.set_xticks(hours[::2])
    axis.set_xlabel("hour of arrival")
    axis.set_ylabel("vehicles per day")
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(axis="y", alpha=0.3)


def turned_away_by_hour(results_dir: Path, settings: Settings, scenarios: tuple[str, ...], path: Path) -> None:
    """A panel per scenario: when vehicles arrive and when they find every socket of their kind taken, from
    the scenario's dataset summary (the same for every controller): where a planner sees the station's size."""
    figure, axes = plt.subplots(len(scenarios), 1, figsize=(10, 3.4 * len(scenarios)), squeeze=False)
    for axis, scenario in zip(axes[:, 0], scenarios):
        summary = dataset_summary(results_dir, scenario)
        _service_panel(axis, scenario, summary, scenario_settings(settings, scenario))
    figure.suptitle("Vehicles arriving per day by hour of arrival: served, and turned away (every socket taken)")
    _titled_layout(figure, top_in=0.3)
    _save(figure, path)


# ---------------------------------------------------------------- a representative week

FLOW_COLUMNS = {"pv_kwh": "PV", "load_kwh": "mall", "ev_kwh": "EV charging", "import_kwh": "grid import"}
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*")


def representative_week(timeseries: pd.DataFrame, start_day: int) -> slice:
    """The week from `start_day`, or the last whole week where the year ends before it."""
    steps = len(timeseries)
    start = min(start_day * HOURS_PER_DAY, max(steps - HOURS_PER_WEEK, 0))
    return slice(start, min(start + HOURS_PER_WEEK, steps))


def week_of(scenario_dir: Path, controller: str, settings: Settings) -> pd.DataFrame | None:
    """A controller's representative week of the evaluation year (an agent's first seed), if it was recorded."""
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
        folder = scenario_dir(results_dir, scenario)
        found = {
            (name if name in BASELINE_ORDER else f"{name} (seed {settings.training.seeds[0]})"): week
            for name in controllers
            if (week := week_of(folder, name, settings)) is not None
        }
        if found:
            weeks[scenario] = found
    return weeks


def power_flows(weeks: dict[str, dict[str, pd.DataFrame]], settings: Settings, path: Path) -> None:
    """A column per scenario, a row per controller; controllers with identical flows share a row."""
    columns = list(FLOW_COLUMNS) + ["bess_in_kwh", "bess_out_kwh"]
    groups = {scenario: identical_groups(found, columns) for scenario, found in weeks.items()}
    rows = max(len(group) for group in groups.values())
    height_in = 2.4 * rows + 0.8  # and the title and the legend
    figure, axes = plt.subplots(rows, len(groups), figsize=(9 * len(groups), height_in), sharex=True, squeeze=False)
    for column, (scenario, scenario_groups) in enumerate(groups.items()):
        for row, (label, week) in enumerate(scenario_groups):
            axis, hours = axes[row, column], np.arange(len(week))
            for name, flow in FLOW_COLUMNS.items():
                axis.plot(hours, week[name], label=flow, linewidth=1)
            axis.plot(hours, week["bess_out_kwh"] - week["bess_in_kwh"], label="battery (+ discharge)", linewidth=1)
            axis.set_title(f"{scenario}: {label}", fontsize=9)
            axis.set_ylabel("kW")
            axis.grid(alpha=0.3)
        for axis in axes[len(scenario_groups) :, column]:
            axis.axis("off")
        axes[len(scenario_groups) - 1, column].set_xlabel("hour of the representative week (evaluation year)")
    figure.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8)
    figure.suptitle("Power flows over one week; controllers with identical flows share a panel (a = b)")
    _titled_layout(figure, top_in=0.45, bottom_in=0.35)
    _save(figure, path)


def battery_soc(weeks: dict[str, dict[str, pd.DataFrame]], settings: Settings, path: Path) -> None:
    """A panel per scenario, a line per group of controllers with the same SOC (named together), each
    with its own line style and marker."""
    figure, axes = plt.subplots(len(weeks), 1, figsize=(14, 3.6 * len(weeks)), squeeze=False)
    for axis, (scenario, found) in zip(axes[:, 0], weeks.items()):
        for index, (label, week) in enumerate(identical_groups(found, ["bess_soc_pct"])):
            axis.plot(
                np.arange(len(week)),
                week["bess_soc_pct"],
                label=label,
                linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                marker=MARKERS[index % len(MARKERS)],
                markevery=(3 * index % 12, 12),
                markersize=4,
                linewidth=1.2,
            )
        axis.axhline(settings.battery.min_soc_pct, color="grey", linestyle="--", linewidth=1, label="SOC floor")
        axis.set_title(f"{scenario} (controllers with the same SOC share a line: a = b)", fontsize=10)
        axis.set_ylabel("battery SOC (%)")
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("hour of the representative week (evaluation year)")
    figure.tight_layout()
    _save(figure, path)


# ---------------------------------------------------------------- learning curves


def _points(run: pd.Series) -> pd.Series:
    """A run's recorded points: a curve's rows without a value (a row written for another column, as the last
    evaluation's at the final step) left out, one value per step (the last), in step order."""
    run = run[np.isfinite(run.to_numpy(dtype=float))]
    return run[~run.index.duplicated(keep="last")].sort_index()


def _band(runs: list[pd.Series]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeds on the union of their steps (interpolated where their steps differ): steps, median, low, high.
    A row without a value is no point: interpolating through it would leave the whole band empty."""
    runs = [points for run in runs if len(points := _points(run))]
    if not runs:
        return (np.array([]),) * 4
    steps = np.unique(np.concatenate([run.index.to_numpy(dtype=float) for run in runs]))
    values = np.array([np.interp(steps, run.index.to_numpy(dtype=float), run.to_numpy(dtype=float)) for run in runs])
    return steps, np.median(values, axis=0), values.min(axis=0), values.max(axis=0)


def reference_scores(
    results_dir: Path, settings: Settings, scenario: str, agent: str, scored: dict[int, pd.Series]
) -> dict[str, float]:
    """Scores to draw beside an agent's (`scored`: seed -> its validation scores), where they can be had.
    Scored by the learning reward: the residual rule's (the untrained residual policy is that rule: its
    step-0 score) and, where the training year's timeseries are there, the mean learning reward of the
    scenario's optimum over the validation window (the year's last days) of its year run. Scored otherwise
    (`es`): its start's and the planner's, as its records keep them."""
    if _measure(results_dir, scenario, agent, list(scored)) != REWARD_MEASURE:
        return _recorded_references(results_dir, scenario, agent, list(scored))
    runs = list(scored.values())
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
            window = series["learning_reward"].iloc[-days * HOURS_PER_DAY :]
            references[f"{optimum} (same {days} days of its year run)"] = float(window.mean())
    return references


def _measure(results_dir: Path, scenario: str, agent: str, seeds: list[int]) -> str:
    """What the agent's validation scores measure, as its first scored run's record says."""
    return validation_measure(results_dir, scenario, agent, seeds[0]) if seeds else REWARD_MEASURE


def _recorded_references(results_dir: Path, scenario: str, agent: str, seeds: list[int]) -> dict[str, float]:
    """An agent scored relative to its start: that start (0) and the planner's score as its runs recorded
    it (the seeds' median)."""
    recorded = [record_references(results_dir, scenario, agent, seed) for seed in seeds]
    lines = {"its start (0: scores are relative to it)": 0.0}
    for name in PLANNERS:
        planned = [scores[name] for scores in recorded if name in scores]
        if planned:
            lines[f"{name} (same days)"] = float(np.median(planned))
    return lines


def _validation_panel(
    axis, results_dir: Path, settings: Settings, scenario: str, agent: str, model_steps: dict
) -> tuple[list[int], dict[str, float], str]:
    """An agent's validation scores: the seeds' median and range, each seed's kept model, and the reference
    scores as horizontal lines. The seeds drawn, the references (none when no seed recorded a score) and what
    the scores measure."""
    scored = {
        seed: scores
        for seed in settings.training.seeds
        if (scores := validation_scores(results_dir, scenario, agent, seed)) is not None
    }
    seeds, runs = list(scored), list(scored.values())
    measure = _measure(results_dir, scenario, agent, seeds)
    if not seeds:
        axis.text(0.5, 0.5, "no validation score recorded", ha="center", va="center", transform=axis.transAxes)
        return seeds, {}, measure
    steps, median, low, high = _band(runs)
    if not len(steps):
        _no_data(axis, "no validation score recorded")
        return seeds, {}, measure
    axis.fill_between(steps, low, high, alpha=0.25, color="tab:blue", label=f"seeds {seeds[0]}-{seeds[-1]} (range)")
    axis.plot(steps, median, color="tab:blue", marker=".", label="median of seeds")
    for seed, run in zip(seeds, runs):
        kept = model_steps.get((scenario, agent, seed))
        if kept is not None:
            axis.plot(
                [kept],
                [run.max()],
                marker="*",
                markersize=11,
                linestyle="none",
                color="tab:red",
                label="model kept" if seed == seeds[0] else None,
            )
    references = reference_scores(results_dir, settings, scenario, agent, scored)
    for (label, score), style in zip(references.items(), ("--", ":")):
        axis.axhline(score, color="black", linestyle=style, linewidth=1, label=f"{label}: {score:.4f}")
    axis.set_ylabel(f"validation score\n({measure})", fontsize=8)
    axis.legend(fontsize=6, loc="lower right")
    axis.grid(alpha=0.3)
    return seeds, references, measure


def _reward_panel(axis, results_dir: Path, scenario: str, agent: str, seeds: list[int], measure: str) -> None:
    """The seeds' training reward per step (median and range), under their validation scores."""
    if not seeds:
        axis.axis("off")
        return
    curves = [pd.read_csv(curve_file(results_dir, scenario, agent, seed)) for seed in seeds]
    rewards = [
        pd.Series(curve["reward_mean"].to_numpy(dtype=float), index=curve["timesteps"].to_numpy())
        for curve in curves
        if "reward_mean" in curve
    ]
    steps, median, low, high = _band(rewards) if rewards else (np.array([]),) * 4
    if len(steps):
        axis.fill_between(steps, low, high, alpha=0.25, color="tab:grey")
        # few points (a short run logs two or three): marked, since a line through one point draws nothing
        axis.plot(steps, median, color="tab:grey", linewidth=0.8, marker="." if len(steps) < 10 else None)
    else:
        _no_data(axis, "no training reward recorded")
    # es's curve holds its generation's mean score on the months it drew, in its validation's terms
    axis.set_ylabel("training reward\nper step" if measure == REWARD_MEASURE else "training score\n(mean)", fontsize=7)
    axis.tick_params(labelsize=7)
    axis.grid(alpha=0.3)
    axis.set_xlabel("training steps", fontsize=8)


def _no_curves(path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 2))
    axis.text(0.5, 0.5, "no agent has been trained yet", ha="center", va="center")
    axis.axis("off")
    _save(figure, path)


def learning_curves(results_dir: Path, settings: Settings, model_steps: dict, path: Path) -> None:
    """Per scenario, a tall row of each agent's validation score (what selects the model: seeds' median and
    band, each seed's kept model marked, the rule's and the optimum's scores as horizontal lines where there
    are) over a short row of its training reward; each agent on its own step axis (SAC's budget is a twentieth)."""
    scenarios = [
        scenario
        for scenario in settings.scenarios
        if any(
            curve_file(results_dir, scenario, agent, seed).is_file()
            for agent in AGENT_ORDER
            for seed in settings.training.seeds
        )
    ]
    if not scenarios:
        _no_curves(path)
        return
    figure, axes = plt.subplots(
        2 * len(scenarios),
        len(AGENT_ORDER),
        figsize=(5.2 * len(AGENT_ORDER), 5.2 * len(scenarios)),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1] * len(scenarios)},
    )
    drawn = set()  # the controllers whose score is drawn as a reference line
    for index, scenario in enumerate(scenarios):
        for column, agent in enumerate(AGENT_ORDER):
            top, bottom = axes[2 * index, column], axes[2 * index + 1, column]
            top.set_title(f"{scenario}: {agent}", fontsize=10)
            seeds, references, measure = _validation_panel(top, results_dir, settings, scenario, agent, model_steps)
            drawn.update(label.split(" ")[0] for label in references)
            _reward_panel(bottom, results_dir, scenario, agent, seeds, measure)
    missing = (
        ""
        if OPTIMA[0] in drawn or OPTIMA[1] in drawn
        else ("\n(no optimum line: it needs the optimum's training-year timeseries, not found)")
    )
    figure.suptitle(
        "Validation score (selects the model kept) per agent, seeds as a band; below: reward on the "
        "training year" + missing
    )
    _titled_layout(figure, top_in=0.7 if missing else 0.45)
    _save(figure, path)
