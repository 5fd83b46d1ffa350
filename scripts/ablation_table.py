"""The ablation's record: every experiment of `scripts/ablation.sh`, read from DVC, as one JSON file
and the README's table.

    PATH=.venv/bin:$PATH python scripts/ablation_table.py --rev <commit the experiments ran on> [--scenario S]

DVC keeps experiments as local git refs, which a clone does not carry: this file
(`results/ablation/ppo_<scenario>.json`) is what stays in the repository, with each experiment's
name, revision, held-out metrics and training time, beside the uncontrolled and oracle records the
shares are taken against. The training time is the training stage's own log line ("N steps in
S s"), read from the experiment's queue log.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import pandas as pd

METRICS = "results/scenarios/{scenario}/metrics/ppo_seed0.json"
REFERENCES = "results/scenarios/{scenario}/metrics"
OUTPUT = "results/ablation/ppo_{scenario}.json"
TRAINING_LINE = re.compile(r"ppo seed 0: (\d+) steps in (\d+) s")
KEPT = (
    "co2_grid_kg",
    "import_kwh",
    "cost_pen",
    "ev_satisfaction_pct",
    "reward_mean",
    "learning_reward_mean",
    "floor_raised_steps",
    "floor_raised_kwh",
    "solar_utilization_pct",
)


def training_seconds(rev: str) -> dict[str, float]:
    """Each experiment queued on `rev`: its training stage's wall time, from the queue's log (the
    newest successful task of each name)."""
    from dvc.repo import Repo

    seconds = {}
    for done in Repo(".").experiments.celery_queue.iter_success():
        if not done.entry.baseline_rev.startswith(rev):
            continue
        log = subprocess.run(["dvc", "queue", "logs", done.entry.stash_rev], capture_output=True, text=True).stdout
        found = TRAINING_LINE.findall(log)
        if found:
            seconds[done.entry.name] = float(found[-1][1])
    return seconds


def experiments(rev: str, metrics_path: str) -> list[dict]:
    shown = json.loads(
        subprocess.run(
            ["dvc", "exp", "show", "--json", "--no-pager", "--rev", rev], check=True, capture_output=True, text=True
        ).stdout
    )
    rows = []
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            for run in experiment.get("revs", []):
                if run.get("error"):  # a failed or killed run shows its baseline's metrics
                    continue
                data = run.get("data") or {}
                record = (data.get("metrics", {}).get(metrics_path) or {}).get("data")
                if record is None:
                    continue
                rows.append(
                    {
                        "name": experiment["name"],
                        "rev": run["rev"],
                        "eval": {key: record["eval"].get(key) for key in KEPT},
                        "model_steps": record.get("model_steps"),
                    }
                )
    return sorted(rows, key=lambda row: row["name"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", required=True, help="the commit the experiments were queued on")
    parser.add_argument("--scenario", default="mall", help="the scenario the experiments ran (default mall)")
    args = parser.parse_args()
    references = Path(REFERENCES.format(scenario=args.scenario))
    reference = {
        name: json.loads((references / f"{name}.json").read_text())["eval"]["co2_grid_kg"]
        for name in ("uncontrolled", "oracle")
    }
    rows = experiments(args.rev, METRICS.format(scenario=args.scenario))
    seconds = training_seconds(args.rev)
    gain = reference["uncontrolled"] - reference["oracle"]
    for row in rows:
        # a scenario where the rules import nothing has no gain to share: every controller's CO2 is
        # then read against uncontrolled alone
        row["share_of_oracle_gain_pct"] = (
            100 * (reference["uncontrolled"] - row["eval"]["co2_grid_kg"]) / gain if gain > 0 else None
        )
        row["training_s"] = seconds.get(row["name"])
    output = Path(OUTPUT.format(scenario=args.scenario))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {"base_rev": args.rev, "scenario": args.scenario, "reference_co2_grid_kg": reference, "experiments": rows},
            indent=2,
        )
        + "\n"
    )
    cells = []
    for row in rows:
        metrics = row["eval"]
        share = "n/a" if row["share_of_oracle_gain_pct"] is None else f"{row['share_of_oracle_gain_pct']:.1f} %"
        training = "n/a" if row["training_s"] is None else f"{row['training_s']:.0f} s"
        cells.append(
            [
                f"`{row['name']}`",
                f"{metrics['co2_grid_kg'] / 1000:,.1f}",
                share,
                f"{metrics['ev_satisfaction_pct']:.0f} %",
                f"{metrics['cost_pen'] / 1000:,.1f}",
                f"{metrics['learning_reward_mean']:.4f}",
                f"step {row['model_steps']:,}",
                training,
            ]
        )
    headings = ["experiment", "grid CO2 (t)", "share of oracle gain", "EV satisfied", "cost (kPEN)"]
    headings += ["learning reward", "model kept", "training"]
    print(pd.DataFrame(cells, columns=headings).to_markdown(index=False, disable_numparse=True, stralign=None))


if __name__ == "__main__":
    main()
