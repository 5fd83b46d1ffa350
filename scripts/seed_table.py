"""Print the README's table of one seed's agents beside the rules and the oracle, per scenario.

    python scripts/seed_table.py --seed 0

The figures are the report's own (`evstation.report.tables`: its comparison table, share of the oracle's
gain and best rule, the bar), made from `results/scenarios/<scenario>/metrics/*.json` for this one
seed; evaluation year (CityLearn). "vs best rule": the controller minus the scenario's best rule,
on grid CO2 (t) and on the learning reward per step the agents were trained for.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from evstation.config import apply_overrides, load_settings, scenario_settings
from evstation.report.records import load_entries
from evstation.report.tables import comparison_table, mark_the_bar

AGENTS = ("a2c", "ppo", "sac")


def signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.4f}"


def table(settings, results: Path, scenario: str, seed: int) -> list[str]:
    settings = scenario_settings(settings, scenario)
    folder = results / "scenarios" / scenario / "metrics"
    rows = mark_the_bar(comparison_table(settings, load_entries(settings, folder)), settings)
    rows = rows[rows["split"] == "eval"]
    best = rows[rows["best_rule"]].iloc[0]
    headings = [
        scenario,
        "controller",
        "grid CO2",
        "share of oracle gain",
        "EV satisfied",
        "cost",
        "learning reward per step",
        "reported reward per step",
        "vs best rule: CO2",
        "vs best rule: learning reward",
        "model kept",
    ]
    cells = []
    for _, row in rows.iterrows():
        name, model = row["controller"], ""
        if name in AGENTS:
            model = f"step {json.loads((folder / f'{name}_seed{seed}.json').read_text())['model_steps']:,}"
            name = f"{name} (seed {seed})"
        share = row["share_of_oracle_gain_pct"]
        cells.append(
            [
                "",
                f"{name}{' (best rule)' if row['best_rule'] else ''}",
                f"{row['co2_grid_kg'] / 1000:,.1f} t",
                "–" if name == "without_solar" or math.isnan(share) else f"{share:.1f} %",
                f"{row['ev_satisfaction_pct']:.2f} %",
                f"{row['cost_pen'] / 1000:,.1f} kPEN",
                signed(row["learning_reward_mean"]),
                f"{row['reward_mean']:+.4f}",
                f"{(row['co2_grid_kg'] - best['co2_grid_kg']) / 1000:+,.1f} t",
                signed(row["learning_reward_mean"] - best["learning_reward_mean"]),
                model,
            ]
        )
    return (
        pd.DataFrame(cells, columns=headings)
        .to_markdown(index=False, disable_numparse=True, stralign=None)
        .splitlines()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    settings = apply_overrides(load_settings(args.params), {"training.seeds": [args.seed]})
    for scenario in settings.scenarios:
        if not any((args.results / "scenarios" / scenario / "metrics").glob("*.json")):
            print(f"{scenario}: no records yet\n")
            continue
        print("\n".join(table(settings, args.results, scenario, args.seed)) + "\n")


if __name__ == "__main__":
    main()
