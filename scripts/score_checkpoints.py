"""Every kept checkpoint of a training run scored on the fast twin: on the validation window
(what model selection sees) and on the held-out year (what the evaluation measures), as the mean
learning reward per step of the deterministic policy; on the held-out year also each term of that
reward (unweighted means) and the exploring (stochastic) policy's score. It says whether the
validation window ranks models as the held-out year would, and what training did between the
scores of the curve.

    python scripts/score_checkpoints.py RUN_FOLDER --params PARAMS --scenario SCENARIO

RUN_FOLDER is a run's `checkpoints/<agent>/seed<N>` (keep its checkpoints with
`training.keep_checkpoints`, e.g. a probe: `scripts/probe_training.sh NAME ppo mall --
training.checkpoint_every_steps=25000 training.keep_checkpoints=50`). The first row is the kept
model (`best/`); a step-0 row is the untrained policy: with the residual, the least-laxity rule.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from evstation.config import REWARD_COMPONENTS, load_settings
from evstation.learning import agents
from evstation.learning.selection import episode_means
from evstation.learning.station_env import make_learner_env


def score(folder: Path, agent: str, environments: dict) -> dict:
    model = agents.MODEL_CLASSES[agent].load(folder / "model.zip", device="cpu")
    normalizations = {}
    for name, env in environments.items():
        normalizations[name] = VecNormalize.load(str(folder / "normalization.pkl"), DummyVecEnv([lambda env=env: env]))
        normalizations[name].training = False
    held_out = environments["held_out_year"]
    return {
        "validation": episode_means(model, normalizations["validation"], environments["validation"])["reward"],
        "held_out_year": episode_means(model, normalizations["held_out_year"], held_out),
        "exploring": episode_means(model, normalizations["held_out_year"], held_out, deterministic=False)["reward"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folder", type=Path)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--data-dir", type=Path, help="default: data/<scenario>/citylearn")
    args = parser.parse_args()
    settings = load_settings(args.params, args.scenario)
    data = args.data_dir or Path("data") / args.scenario / "citylearn"
    environments = {
        "validation": make_learner_env(settings, data / "train", window="validation"),
        "held_out_year": make_learner_env(settings, data / "eval", window="year"),
    }
    agent = args.run_folder.parent.name
    selection = json.loads((args.run_folder / "selection.json").read_text())
    print(f"{args.run_folder}: best on validation at step {selection['best_timesteps']:,}")
    print(
        "     steps  validation  held-out year  "
        + "  ".join(f"{name:>14}" for name in REWARD_COMPONENTS)
        + "  exploring policy"
    )
    folders = [args.run_folder / "best", *sorted(args.run_folder.glob("step_*"))]  # best: the kept model
    for folder in folders:
        steps = json.loads((folder / "meta.json").read_text())["num_timesteps"]
        scores = score(folder, agent, environments)
        held_out = scores["held_out_year"]
        print(
            f"{steps:>10,}  {scores['validation']:>10.5f}  {held_out['reward']:>13.5f}  "
            + "  ".join(f"{held_out[name]:>14.5f}" for name in REWARD_COMPONENTS)
            + f"  {scores['exploring']:>16.5f}"
        )


if __name__ == "__main__":
    main()
