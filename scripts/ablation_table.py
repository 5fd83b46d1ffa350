"""The ablation's record: every experiment of `scripts/ablation.sh`, read from DVC, as one JSON file
and the README's table.

    PATH=.venv/bin:$PATH python scripts/ablation_table.py --rev <commit the experiments ran on>

DVC keeps experiments as local git refs, which a clone does not carry: this file
(`results/ablation/ppo_mall.json`) is what stays in the repository, with each experiment's name,
revision, parameter changes and held-out metrics, beside the uncontrolled and oracle records the
shares are taken against.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

METRICS = "results/scenarios/mall/metrics/ppo_seed0.json"
REFERENCES = "results/scenarios/mall/metrics"
OUTPUT = Path("results/ablation/ppo_mall.json")
KEPT = ("co2_grid_kg", "import_kwh", "cost_pen", "ev_satisfaction_pct", "reward_mean", "learning_reward_mean",
        "floor_raised_steps", "floor_raised_kwh", "solar_utilization_pct")


def experiments(rev: str) -> list[dict]:
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json", "--no-pager", "--rev", rev], check=True,
                                      capture_output=True, text=True).stdout)
    rows = []
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            for run in experiment.get("revs", []):
                data = run.get("data") or {}
                record = (data.get("metrics", {}).get(METRICS) or {}).get("data")
                if record is None:
                    continue
                rows.append({"name": experiment["name"], "rev": run["rev"],
                             "eval": {key: record["eval"].get(key) for key in KEPT},
                             "model_steps": record.get("model_steps")})
    return sorted(rows, key=lambda row: row["name"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the commit the experiments were queued on")
    args = parser.parse_args()
    reference = {name: json.loads((Path(REFERENCES) / f"{name}.json").read_text())["eval"]["co2_grid_kg"]
                 for name in ("uncontrolled", "oracle")}
    rows = experiments(args.rev)
    gain = reference["uncontrolled"] - reference["oracle"]
    for row in rows:
        row["share_of_oracle_gain_pct"] = 100 * (reference["uncontrolled"] - row["eval"]["co2_grid_kg"]) / gain
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({"base_rev": args.rev, "reference_co2_grid_kg": reference, "experiments": rows},
                                 indent=2) + "\n")
    print("| experiment | grid CO2 (t) | share of oracle gain | EV satisfied | cost (kPEN) | learning reward | model kept |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        metrics = row["eval"]
        print(f"| `{row['name']}` | {metrics['co2_grid_kg'] / 1000:,.1f} | {row['share_of_oracle_gain_pct']:.1f} % "
              f"| {metrics['ev_satisfaction_pct']:.0f} % | {metrics['cost_pen'] / 1000:,.1f} "
              f"| {metrics['learning_reward_mean']:.4f} | step {row['model_steps']:,} |")


if __name__ == "__main__":
    main()
