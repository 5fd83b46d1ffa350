"""The learner `es` at the size of params.yaml: its training time, then its bill against the tuned rule and the
planner on the training year, the validation days and the held-out year.

    .venv/bin/python scripts/bench_es.py --scenario mall_mt3 --seed 0            # train, evaluate, print
    .venv/bin/python scripts/bench_es.py --scenario mall_mt3 --seed 0 --print-only  # from the records alone
    .venv/bin/python scripts/bench_es.py ... --data-dir D --results-dir R -S agents.es.generations=40

Trains and evaluates through the stages' own functions (`train_agent`, `evaluate_policy`: the records land
where `evstation train` and `evaluate` write them), timing each, then prints every figure from the records:
`es_seed<k>.json` (the year runs: the training year in the fast twin, the held-out year in CityLearn),
its final model's validation score (the rule's cost on the validation days less the policy's, relative
to the rule's), and the `peak_shaving` and `mpc` records beside it. It needs the scenario's
`peak_shaving` record (`evstation baseline peak_shaving`); `mpc` is printed where its record is there.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import pandas as pd
import yaml

from evstation.config import apply_overrides, load_settings
from evstation.learning.training import run_folder, train_agent
from evstation.stages.policy import evaluate_policy

AGENT = "es"
KPEN = 1e3
SPLITS = ("train", "eval")
REFERENCES = ("peak_shaving", "mpc")
PARTS = {
    "bill_energy_pen": "energy",
    "bill_demand_generation_pen": "generation demand",
    "bill_demand_distribution_pen": "distribution demand",
}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", default="mall_mt3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="default: data/<scenario>/citylearn")
    parser.add_argument("--results-dir", help="default: results/scenarios/<scenario>")
    parser.add_argument("-S", dest="overrides", action="append", default=[], help="key=value (YAML value)")
    parser.add_argument("--print-only", action="store_true", help="print from the records, train nothing")
    return parser.parse_args()


def settings_of(args: argparse.Namespace):
    settings = load_settings(args.params, args.scenario)
    overrides = dict(item.split("=", 1) for item in args.overrides)
    return apply_overrides(settings, {key: yaml.safe_load(value) for key, value in overrides.items()})


def timed(label: str, run) -> float:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.0f} s ({seconds / 60:.1f} min)")
    return seconds


def bill_kpen(results_dir: Path, name: str, split: str) -> float | None:
    path = results_dir / "metrics" / f"{name}.json"
    return json.loads(path.read_text())[split]["bill_pen"] / KPEN if path.is_file() else None


def print_figures(results_dir: Path, seed: int) -> None:
    name = f"{AGENT}_seed{seed}"
    record = json.loads((results_dir / "metrics" / f"{name}.json").read_text())
    final = json.loads((run_folder(results_dir, AGENT, seed) / "final" / "meta.json").read_text())
    print(
        f"{name}: kept generation {final['best_generation']} of {final['generations']} "
        f"({final['num_timesteps']:,} of {final['trained_timesteps']:,} simulated steps); "
        f"validation score {final['validation_score']:+.4f} (rule's cost less the policy's, over the rule's)"
    )
    curve = pd.read_csv(results_dir / "curves" / f"{name}.csv")
    print(
        "search, fitness (cost less the rule's over the rule's, on each generation's months): generation's best "
        f"{100 * curve['fitness_best'].min():+.2f} to {100 * curve['fitness_best'].max():+.2f} %, its mean "
        f"{100 * curve['fitness_mean'].min():+.2f} to {100 * curve['fitness_mean'].max():+.2f} %"
    )
    for split in SPLITS:
        rule = bill_kpen(results_dir, REFERENCES[0], split)
        for reference in REFERENCES[1:]:
            other = bill_kpen(results_dir, reference, split)
            if other is not None and rule is not None:
                print(f"{split}: {reference} {other:,.1f} kPEN, {100 * (other - rule) / rule:+.2f} % against the rule")
    for split in SPLITS:
        own = record[split]["bill_pen"] / KPEN
        line = f"{split} ({record['simulator'][split]}): bill {own:,.1f} kPEN"
        for reference in REFERENCES:
            other = bill_kpen(results_dir, reference, split)
            if other is not None:
                line += f"; {reference} {other:,.1f} ({100 * (own - other) / other:+.2f} %)"
        line += f"; EV satisfied {record[split]['ev_satisfaction_pct']:.1f} %"
        print(line)
        rule_path = results_dir / "metrics" / f"{REFERENCES[0]}.json"
        if rule_path.is_file():
            rule = json.loads(rule_path.read_text())[split]
            parts = ", ".join(
                f"{label} {(record[split][key] - rule[key]) / KPEN:+,.1f}" for key, label in PARTS.items()
            )
            change_t = (record[split]["co2_grid_kg"] - rule["co2_grid_kg"]) / KPEN
            print(f"  against {REFERENCES[0]}: {parts} kPEN; grid CO2 {change_t:+,.1f} t")


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = settings_of(args)
    data_dir = Path(args.data_dir or f"data/{settings.scenario}/citylearn")
    results_dir = Path(args.results_dir or f"results/scenarios/{settings.scenario}")
    if not args.print_only:
        options = settings.agents.es
        print(
            f"{AGENT} seed {args.seed}: population {options.population}, {options.generations} generations, "
            f"{options.months_per_generation} months each, sigma0 {options.sigma0}"
        )
        folders = {"data_dir": data_dir, "results_dir": results_dir}
        timed("training", lambda: train_agent(settings, AGENT, args.seed, **folders))
        timed("evaluation (both years)", lambda: evaluate_policy(settings, AGENT, args.seed, **folders))
    print_figures(results_dir, args.seed)


if __name__ == "__main__":
    main()
