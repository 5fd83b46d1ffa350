"""Every kept checkpoint of a training run scored on the fast twin: on the validation window
(what model selection sees) and on the held-out year (what the evaluation measures), as the mean
learning reward per step of the deterministic policy. It says whether the validation window ranks
models as the held-out year would, and what training did between the scores of the curve.

    python scripts/score_checkpoints.py RUN_FOLDER --params PARAMS --scenario SCENARIO

RUN_FOLDER is a run's `checkpoints/<agent>/seed<N>` (keep its checkpoints with
`training.keep_checkpoints`, e.g. a probe: `scripts/probe_training.sh NAME ppo mall --
training.checkpoint_every_steps=25000 training.keep_checkpoints=50`). The step-0 row is the
untrained policy: with the residual, the least-laxity rule.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from evstation.config import load_settings
from evstation.learning import agents
from evstation.learning.selection import validation_score
from evstation.learning.station_env import make_learner_env


def score(folder: Path, agent: str, environments: dict) -> dict:
    model = agents.model_class(agent).load(folder / "model.zip", device="cpu")
    scores = {}
    for name, env in environments.items():
        normalization = VecNormalize.load(str(folder / "normalization.pkl"), DummyVecEnv([lambda env=env: env]))
        normalization.training = False
        scores[name] = validation_score(model, normalization, env)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folder", type=Path)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--data-dir", type=Path, help="default: data/<scenario>/citylearn")
    args = parser.parse_args()
    settings = load_settings(args.params, args.scenario)
    data = args.data_dir or Path("data") / args.scenario / "citylearn"
    environments = {"validation": make_learner_env(settings, data / "train", window="validation"),
                    "held_out_year": make_learner_env(settings, data / "eval", window="year")}
    agent = args.run_folder.parent.name
    selection = json.loads((args.run_folder / "selection.json").read_text())
    print(f"{args.run_folder}: best on validation at step {selection['best_timesteps']:,}")
    print("     steps  validation  held-out year")
    folders = [args.run_folder / "best"] if selection["best_timesteps"] == 0 else []
    folders += sorted(args.run_folder.glob("step_*"))
    for folder in folders:
        steps = json.loads((folder / "meta.json").read_text())["num_timesteps"]
        scores = score(folder, agent, environments)
        print(f"{steps:>10,}  {scores['validation']:>10.5f}  {scores['held_out_year']:>13.5f}")


if __name__ == "__main__":
    main()
