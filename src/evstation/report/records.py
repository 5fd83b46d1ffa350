"""What the report reads from the pipeline's records under `results/scenarios/<scenario>/`: each
controller's metrics (`metrics/`) and the forecast it planned on, the agents' learning curves (`curves/`),
model selection's validation scores (`checkpoints/<agent>/seed<seed>/selection.json`), and the dataset's
summary (`dataset/summary.json`: the vehicles that came and those turned away, the grid's emission factor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..config import SPLITS, Settings
from ..errors import DataError
from ..files import read_json
from .names import AGENT_ORDER, BASELINE_ORDER, KPIS, OPTIMA, PLANNERS

NO_FORECAST, PERFECT_FORESIGHT = "none", "perfect foresight"


@dataclass(frozen=True)
class Entry:
    """One controller's KPIs on one split: a single run, or the seeds of an agent."""

    controller: str
    split: str
    values: dict[str, list[float]]  # KPI -> one value per run (one run for a baseline)
    model_steps: tuple = field(default=())  # an agent's seeds: the training step of the model each kept
    forecast: str | None = None  # what it knew of the hours ahead (`forecast_of`); None: its record does not say
    start: str | None = None  # an agent's untrained behaviour: the controller it corrects (`control.residual`)


def scenario_dir(results_dir: Path, scenario: str) -> Path:
    return results_dir / "scenarios" / scenario


def _scalar(value):
    """A KPI as a number, or None where the record lacks it (older records have no bill)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _forecast_kind(forecast) -> str | None:
    """A record's forecast as the report names it: `{"kind": ...}` as records write it now, a bare name
    as older planner records did."""
    if isinstance(forecast, dict):
        forecast = forecast.get("kind")
    return str(forecast) if isinstance(forecast, str) and forecast else None


def forecast_of(controller: str, record: dict) -> str | None:
    """What a controller knew of the hours ahead: nothing (a rule, the site without PV), everything (an
    optimum), or the forecast its record names (the planner under `planner`, an agent at the top level);
    None where the record does not say (agents' records before they carried it)."""
    if controller in OPTIMA:
        return PERFECT_FORESIGHT
    if controller in PLANNERS:
        return _forecast_kind((record.get("planner") or {}).get("forecast"))
    if controller in AGENT_ORDER:
        return _forecast_kind(record.get("forecast"))
    return NO_FORECAST


def _seeds_value(values) -> str | None:
    """What the seeds' records say: the one value they share, or each named where they differ (none is
    left out, a record that does not say shown n/a); None where no record says."""
    distinct = list(dict.fromkeys(values))
    if distinct == [None]:
        return None
    return " / ".join(str(value or "n/a") for value in distinct)


def _again(command: str, settings: Settings) -> str:
    """How to write a damaged record again: its stage's command in its scenario."""
    return f"run `evstation --scenario {settings.scenario} {command}` again"


def load_entries(settings: Settings, metrics_dir: Path) -> list[Entry]:
    """Every controller with a metrics record: the baselines (and oracles) and each agent's seeds;
    none when the scenario has no record yet. A record that is empty or cut short is refused by name."""
    entries = []
    for name in BASELINE_ORDER:
        path = metrics_dir / f"{name}.json"
        if path.is_file():
            record = read_json(path, _again(f"baseline {name}", settings))
            forecast = forecast_of(name, record)
            entries += [
                Entry(name, split, {k: [_scalar(record[split].get(k))] for k in KPIS}, forecast=forecast)
                for split in SPLITS
            ]
    for agent in AGENT_ORDER:
        records = [
            read_json(path, _again(f"evaluate {agent} --seed {seed}", settings))
            for seed in settings.training.seeds
            if (path := metrics_dir / f"{agent}_seed{seed}.json").is_file()
        ]
        if records:
            steps = tuple(record.get("model_steps") for record in records)
            forecast = _seeds_value(forecast_of(agent, record) for record in records)
            start = _seeds_value(record.get("start") for record in records)
            entries += [
                Entry(
                    agent, split, {k: [_scalar(r[split].get(k)) for r in records] for k in KPIS}, steps, forecast, start
                )
                for split in SPLITS
            ]
    if entries and not any(entry.controller == "uncontrolled" for entry in entries):
        raise DataError(
            f"{metrics_dir}/uncontrolled.json: missing "
            f"(run `evstation --scenario {settings.scenario} baseline uncontrolled`)"
        )
    return entries


def kept_model_steps(results_dir: Path, settings: Settings) -> dict:
    """(scenario, agent, seed) -> the training step of the model its record was evaluated with."""
    steps = {}
    for scenario in settings.scenarios:
        for agent in AGENT_ORDER:
            for seed in settings.training.seeds:
                path = scenario_dir(results_dir, scenario) / "metrics" / f"{agent}_seed{seed}.json"
                remedy = f"run `evstation --scenario {scenario} evaluate {agent} --seed {seed}` again"
                if path.is_file() and (step := read_json(path, remedy).get("model_steps")) is not None:
                    steps[(scenario, agent, seed)] = int(step)
    return steps


def dataset_summary(results_dir: Path, scenario: str) -> dict:
    """The scenario's dataset summary as `build-dataset` wrote it (split -> figures), empty where there is
    none (records copied without it): the report then says n/a where it would quote it."""
    path = scenario_dir(results_dir, scenario) / "dataset" / "summary.json"
    if not path.is_file():
        return {}
    summary = read_json(path, f"run `evstation --scenario {scenario} build-dataset` again")
    return {split: figures for split, figures in summary.items() if isinstance(figures, dict)}


def timeseries_file(results_dir: Path, scenario: str, name: str, split: str) -> Path:
    """A run's per-step record, as the stages write it (stages/records.py)."""
    return scenario_dir(results_dir, scenario) / "timeseries" / f"{name}_{split}.csv"


# the learning curves' files, as training writes them (learning/training.py, learning/selection.py)
def curve_file(results_dir: Path, scenario: str, agent: str, seed: int) -> Path:
    return scenario_dir(results_dir, scenario) / "curves" / f"{agent}_seed{seed}.csv"


# what a validation score is where a record does not say (learning/selection.py's REWARD_MEASURE)
REWARD_MEASURE = "learning reward per step"


def _validation_record(results_dir: Path, scenario: str, agent: str, seed: int) -> dict:
    """Model selection as a run's evaluation record keeps it (`{}` for a record without it, or none)."""
    path = scenario_dir(results_dir, scenario) / "metrics" / f"{agent}_seed{seed}.json"
    if not path.is_file():
        return {}
    record = read_json(path, f"written by `evstation --scenario {scenario} evaluate {agent} --seed {seed}`")
    return dict(record.get("validation") or {})


def reference_scores(results_dir: Path, scenario: str, agent: str, seed: int) -> dict[str, float]:
    """The validation scores of the controllers a run may start from, as its evaluation record keeps them
    (`{}` for a record without them, or none)."""
    return dict(_validation_record(results_dir, scenario, agent, seed).get("references") or {})


def validation_measure(results_dir: Path, scenario: str, agent: str, seed: int) -> str:
    """What a run's validation scores measure, as its evaluation record says, else its model selection's
    record (the learning reward per step where neither says): `es` scores the share of the rule's cost saved."""
    measure = _validation_record(results_dir, scenario, agent, seed).get("measure")
    selection = selection_file(results_dir, scenario, agent, seed)
    if measure is None and selection.is_file():
        measure = read_json(selection, f"written by `evstation --scenario {scenario} train {agent}`").get("measure")
    return measure or REWARD_MEASURE


def selection_file(results_dir: Path, scenario: str, agent: str, seed: int) -> Path:
    return scenario_dir(results_dir, scenario) / "checkpoints" / agent / f"seed{seed}" / "selection.json"


def validation_scores(results_dir: Path, scenario: str, agent: str, seed: int) -> pd.Series | None:
    """One run's validation scores by training step: from model selection's record when the checkpoints are
    there, else from the learning curve (each score lands on the curve's next row; the first is the untrained
    policy's, scored when training started: step 0; `es`'s rows are its generations', its start's score is in
    its evaluation record)."""
    record = selection_file(results_dir, scenario, agent, seed)
    if record.is_file():
        remedy = f"written by `evstation --scenario {scenario} train {agent} --seed {seed}`"
        scores = read_json(record, remedy)["scores"]
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
    scores = pd.Series(scored["validation_score"].to_numpy(dtype=float), index=steps)
    validation = _validation_record(results_dir, scenario, agent, seed)  # no selection record here: this says all
    if (validation.get("measure") or REWARD_MEASURE) == REWARD_MEASURE:
        scores.index = [0, *steps[1:]]  # the untrained policy, scored when training started, on the first row
        return scores
    # `es` scores its start (the rule: 0) before its first generation, on no row of its curve: from its record
    start = validation.get("start_score")
    return scores if start is None else pd.concat([pd.Series({0: float(start)}), scores])
