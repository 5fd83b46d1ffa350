"""The planner's settings against the tuned rule, on both years of a scenario, in the fast simulator.

Each variant is a set of dotted overrides of params.yaml (`--variant NAME KEY=VALUE ...`, repeatable);
every variant runs `mpc` on both years in the fast twin (equal to CityLearn to 0.1 PEN on these
records), beside `peak_shaving` with the threshold its record chose on the training year. Prints
each one's bill, grid CO2 and EV service, and its distance to the rule.

    python scripts/planner_study.py --scenario mall_mt3 \\
        --variant persistence forecast.kind=persistence --variant day_type forecast.kind=day_type
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evstation.config import apply_overrides, load_settings  # noqa: E402
from evstation.control.mpc import MpcController  # noqa: E402
from evstation.control.peak_shaving import make_rule  # noqa: E402
from evstation.dataset import read_dataset  # noqa: E402
from evstation.forecast.history import training_profiles  # noqa: E402
from evstation.kpis import split_kpis  # noqa: E402
from evstation.simulation.fast_check import simulate_fast  # noqa: E402

SPLITS = ("train", "eval")


def number_or_yaml(text: str):
    """A value given on the command line: a number where it reads as one (YAML 1.1 reads `1e-5` as text)."""
    try:
        return float(text) if any(mark in text for mark in ".eE") else int(text)
    except ValueError:
        return yaml.safe_load(text)


def figures(settings, timeseries) -> dict:
    return split_kpis(settings, timeseries, "study")


def rule(settings, data_dir: Path, results_dir: Path) -> dict:
    tuning = json.loads((results_dir / "metrics" / "peak_shaving.json").read_text())["tuning"]
    return {
        split: figures(
            settings,
            simulate_fast(
                settings,
                data_dir / split,
                make_rule(settings, tuning["threshold_kw"], tuning["recharge_soc_pct"]),
                label=f"peak_shaving/{split}",
            ),
        )
        for split in SPLITS
    }


def planner(settings, data_dir: Path) -> dict:
    training = training_profiles(settings, data_dir)
    result = {}
    for split in SPLITS:
        controller = MpcController(settings, read_dataset(data_dir / split).profiles, training, split)
        result[split] = figures(settings, simulate_fast(settings, data_dir / split, controller, label=f"mpc/{split}"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="mall_mt3")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--variant", nargs="+", action="append", metavar=("NAME", "KEY=VALUE"), default=[])
    args = parser.parse_args(argv)
    settings = load_settings(args.params, args.scenario)
    data_dir = ROOT / "data" / args.scenario / "citylearn"
    results_dir = ROOT / "results" / "scenarios" / args.scenario
    base = rule(settings, data_dir, results_dir)
    header = "".join(f"{split + ' bill kPEN':>16}{'vs rule':>9}{'CO2 vs rule':>12}" for split in SPLITS)
    print(f"{'variant':<28}{header}")
    rule_cells = "".join(f"{base[split]['bill_pen'] / 1e3:>16,.1f}{'':>21}" for split in SPLITS)
    print(f"{'peak_shaving (tuned)':<28}{rule_cells}", flush=True)
    for name, *pairs in args.variant:
        overrides = {key: number_or_yaml(value) for key, value in (pair.split("=", 1) for pair in pairs)}
        started = time.perf_counter()
        result = planner(apply_overrides(settings, overrides), data_dir)
        cells = ""
        for split in SPLITS:
            bill, reference = result[split]["bill_pen"], base[split]["bill_pen"]
            co2 = result[split]["co2_grid_kg"] / base[split]["co2_grid_kg"] - 1
            cells += f"{bill / 1e3:>16,.1f}{100 * (bill / reference - 1):>+8.2f}%{100 * co2:>+11.2f}%"
        served = min(result[split]["ev_satisfaction_pct"] for split in SPLITS)
        print(f"{name:<28}{cells}   EV served {served:.1f} %   ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
