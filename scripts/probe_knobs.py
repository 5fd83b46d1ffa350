"""Each knob of the knob problem held constant, month by month of the training window: where it gains.

    .venv/bin/python scripts/probe_knobs.py --scenario mall_mt3 --data-dir D --results-dir R

Runs the tuned rule (the scenario's `peak_shaving` record) and a few constant knob settings through every
billing month of the training window (the validation days left out) in the fast simulator, as `es`
runs its candidates (each month from its first hour), and prints each setting's cost against the
rule's over the whole window and month by month (%, the scenario's objective).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from evstation.config import load_settings
from evstation.control.knobs import KNOB_NAMES
from evstation.control.peak_shaving import with_tuned_residual
from evstation.learning.es import KnobRunner, billing_months, relative_cost
from evstation.learning.knob_policy import FEATURE_NAMES, PARAMETERS, LinearKnobPolicy
from evstation.learning.station_env import validation_start_step

# constant knobs (window_cap, refill_soc, offpeak_cap), and one that depends on the hour
SETTINGS = {
    "window_cap -0.3": (-0.3, 0.0, 0.0),
    "window_cap -0.1": (-0.1, 0.0, 0.0),
    "window_cap +0.3": (0.3, 0.0, 0.0),
    "refill_soc -0.3": (0.0, -0.3, 0.0),
    "offpeak_cap -0.5": (0.0, 0.0, -0.5),
    "offpeak_cap +1": (0.0, 0.0, 1.0),
}
NEAR_WINDOW = "offpeak_cap +1 in the hours before the window"


def constant(knobs: tuple[float, float, float]) -> np.ndarray:
    parameters = np.zeros(PARAMETERS)
    parameters[len(KNOB_NAMES) * len(FEATURE_NAMES) :] = knobs
    return parameters


def near_window() -> np.ndarray:
    """offpeak_cap = 1 - 4 x hours to the window / 24: +1 just before the window, -1 from 12 hours before."""
    parameters = constant((0.0, 0.0, 1.0))
    parameters[KNOB_NAMES.index("offpeak_cap") * len(FEATURE_NAMES) + FEATURE_NAMES.index("hours_to_window")] = -4.0
    return parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", default="mall_mt3")
    parser.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    parser.add_argument("--results-dir", help="default: results/scenarios/<scenario>")
    args = parser.parse_args()
    settings = load_settings(args.params, args.scenario)
    results_dir = Path(args.results_dir or f"results/scenarios/{settings.scenario}")
    settings = with_tuned_residual(settings, results_dir, needed=True)
    runner = KnobRunner(settings, Path(args.data_dir or f"data/{settings.scenario}/citylearn") / "train")
    steps = runner.observer.steps
    months = billing_months(runner.observer.clock["month"], 0, validation_start_step(settings, steps))
    penalty = settings.agents.es.unmet_penalty_per_kwh
    rule = [runner.run(LinearKnobPolicy.zero(), month) for month in months]
    print(f"the rule over {len(months)} billing months: {sum(o.objective(settings.objective) for o in rule):,.0f}")
    candidates = {name: constant(knobs) for name, knobs in SETTINGS.items()} | {NEAR_WINDOW: near_window()}
    for name, parameters in candidates.items():
        outcomes = [runner.run(LinearKnobPolicy(parameters), month) for month in months]
        by_month = [relative_cost([own], [base], settings.objective, penalty) for own, base in zip(outcomes, rule)]
        whole = relative_cost(outcomes, rule, settings.objective, penalty)
        print(f"{name:48s} {100 * whole:+.2f} %; by month " + " ".join(f"{100 * x:+.1f}" for x in by_month))


if __name__ == "__main__":
    main()
