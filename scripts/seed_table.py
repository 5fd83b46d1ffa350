"""Print the README's table of one seed's agents beside the rules and the oracle, per scenario.

    python scripts/seed_table.py --seed 0

Reads `results/scenarios/<scenario>/metrics/*.json` (evaluation year, CityLearn). Share of the
oracle's gain = (uncontrolled - controller) / (uncontrolled - oracle) grid CO2. Distance to the
best rule: on grid CO2 (t) and on the learning reward per step the agents were trained for. The
best rule is the rule with the least grid CO2, ties broken by the learning reward.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RULES = ("uncontrolled", "rule_based", "self_consumption", "least_laxity")
REFERENCES = ("without_solar", *RULES, "oracle")
AGENTS = ("a2c", "ppo", "sac")


def evaluation(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text())["eval"] | {"record": json.loads(path.read_text())} if path.is_file() else None


def signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4f}"


def table(results: Path, scenario: str, seed: int) -> list[str]:
    folder = results / "scenarios" / scenario / "metrics"
    rows = {name: evaluation(folder, name) for name in REFERENCES}
    rows |= {f"{agent} (seed {seed})": evaluation(folder, f"{agent}_seed{seed}") for agent in AGENTS}
    rows = {name: row for name, row in rows.items() if row is not None}
    gain = rows["uncontrolled"]["co2_grid_kg"] - rows["oracle"]["co2_grid_kg"]
    best = min((name for name in RULES if name in rows),
               key=lambda name: (round(rows[name]["co2_grid_kg"], 3), -rows[name].get("learning_reward_mean", -1e9)))
    lines = [f"| {scenario} | controller | grid CO2 | share of oracle gain | EV satisfied | cost | learning reward per step "
             f"| reported reward per step | vs best rule: CO2 | vs best rule: learning reward | model kept |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        learning = row.get("learning_reward_mean")     # without_solar has no station to score
        share = 100 * (rows["uncontrolled"]["co2_grid_kg"] - row["co2_grid_kg"]) / gain
        share_text = "–" if name == "without_solar" else f"{share:.1f} %"    # a loss many times the gain
        model = row["record"].get("model_steps")
        mark = " (best rule)" if name == best else ""
        lines.append(
            f"| | {name}{mark} | {row['co2_grid_kg'] / 1000:,.1f} t | {share_text} | {row['ev_satisfaction_pct']:.2f} % "
            f"| {row['cost_pen'] / 1000:,.1f} kPEN | {signed(learning)} | {row['reward_mean']:+.4f} "
            f"| {(row['co2_grid_kg'] - rows[best]['co2_grid_kg']) / 1000:+,.1f} t "
            f"| {signed(None if learning is None else learning - rows[best]['learning_reward_mean'])} "
            f"| {'step ' + format(model, ',') if model is not None else ''} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--scenarios", nargs="+", default=["mall", "station_only"])
    args = parser.parse_args()
    for scenario in args.scenarios:
        print("\n".join(table(args.results, scenario, args.seed)) + "\n")


if __name__ == "__main__":
    main()
