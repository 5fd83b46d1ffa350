"""Speed of CityLearn and of the fast simulator, and what it means for the production training budgets.

1. Steps per second of both simulators with random actions, at 8 and at 128 sockets (one-year
   datasets; built in a temporary folder with `evstation build-dataset` where none is given).
2. stable-baselines3 training throughput on the fast simulator at 128 sockets with the agents'
   production settings (A2C and PPO with 1 and 2 environments, built as training builds them; SAC
   with its warm-up and its training phase timed apart), and the projected wall time of each production
   budget. CityLearn's projection adds its measured step time to the learner's own time per step
   (one environment: the learner and the simulator take turns).

    .venv/bin/python scripts/bench_simulators.py [--params params.yaml] [--full-folder data/mall/citylearn/train]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from stable_baselines3.common.vec_env import VecNormalize

from evstation.config import Settings, apply_overrides, load_settings
from evstation.learning import agents
from evstation.learning.training import CLIP_OBSERVATION, make_vec_env
from evstation.simulation.citylearn_env import CentralAgentEnv, make_station_env
from evstation.simulation.fast_env import make_fast_env

SOCKET_COUNTS = {8: (6, 2), 128: (112, 16)}  # sockets -> (moto, mototaxi), as the tests and params
CITYLEARN_STEPS = {8: 8760, 128: 1000}  # CityLearn is timed on part of the year at full size
SEED = 0
ROLLOUTS_TIMED = 2  # A2C/PPO: whole rollouts + updates timed
SAC_TRAINING_STEPS_TIMED = 1000  # SAC: steps timed after its warm-up
SECONDS_PER_HOUR = 3600.0


# ---------------------------------------------------------------- datasets


def socket_count(folder: Path) -> int:
    return len(json.loads((folder / "schema.json").read_text())["buildings"]["station"]["chargers"])


def build_dataset(settings: Settings, sockets: int, workdir: Path) -> Path:
    """A one-year training split with `sockets` sockets, built through the command line."""
    moto, mototaxi = SOCKET_COUNTS[sockets]
    project = workdir / f"station_{sockets}"
    project.mkdir(parents=True, exist_ok=True)
    sized = apply_overrides(settings, {"sockets.moto.count": moto, "sockets.mototaxi.count": mototaxi})
    (project / "params.yaml").write_text(yaml.safe_dump(sized.as_params(), sort_keys=False))
    print(f"building a {sockets}-socket year in {project} ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "evstation.cli",
            "--quiet",
            "build-dataset",
            "--data-dir",
            "data/citylearn",
            "--split",
            "train",
        ],
        cwd=project,
        check=True,
    )
    return project / "data" / "citylearn" / "train"


def dataset_for(sockets: int, settings: Settings, full_folder: Path, workdir: Path) -> tuple[Path, Settings]:
    if (full_folder / "schema.json").is_file() and socket_count(full_folder) == sockets:
        return full_folder, settings
    folder = build_dataset(settings, sockets, workdir)
    return folder, load_settings(folder.parents[2] / "params.yaml")


# ---------------------------------------------------------------- simulators


def steps_per_second(env, steps: int) -> tuple[float, float]:
    """(construction-excluded) random-action steps per second over `steps` steps, restarting at episode end."""
    rng = np.random.default_rng(SEED)
    env.reset()
    started = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, _, _ = env.step(rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32))
        if terminated:
            env.reset()
    return steps / (time.perf_counter() - started)


def time_simulators(sockets: int, settings: Settings, folder: Path) -> dict:
    started = time.perf_counter()
    citylearn = CentralAgentEnv(make_station_env(settings, folder))
    citylearn_build = time.perf_counter() - started
    started = time.perf_counter()
    fast = make_fast_env(settings, folder)
    fast_build = time.perf_counter() - started
    row = {
        "sockets": sockets,
        "citylearn_build_s": citylearn_build,
        "fast_build_s": fast_build,
        "citylearn_steps_per_s": steps_per_second(citylearn, CITYLEARN_STEPS[sockets]),
        "fast_steps_per_s": steps_per_second(fast, fast.steps_per_episode),
    }
    row["speedup"] = row["fast_steps_per_s"] / row["citylearn_steps_per_s"]
    return row


# ---------------------------------------------------------------- training throughput


def fast_vec_env(settings: Settings, agent: str, folder: Path):
    """The training environments of `agent` on the fast simulator, exactly as `evstation train` builds them."""
    fast = apply_overrides(settings, {"training.backend": "fast"})
    venv = make_vec_env(fast, agents.Learner.of(agent, fast), folder)
    return VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=CLIP_OBSERVATION)


def build_model(agent: str, settings: Settings, venv):
    learner = agents.Learner.of(agent, settings)
    return learner.build(venv, SEED, "cpu", learner.total_timesteps(settings.simulation.horizon_hours))


def _learn_seconds(model, steps: int, agent: str, settings: Settings, first: bool) -> float:
    started = time.perf_counter()
    model.learn(
        total_timesteps=steps,
        callback=agents.Learner.of(agent, settings).schedule_callbacks(),
        reset_num_timesteps=first,
    )
    return time.perf_counter() - started


def on_policy_rate(settings: Settings, agent: str, folder: Path, count: int) -> float:
    sized = apply_overrides(settings, {f"agents.{agent}.n_envs": count})
    venv = fast_vec_env(sized, agent, folder)
    model = build_model(agent, sized, venv)
    steps = ROLLOUTS_TIMED * getattr(sized.agents, agent).n_steps * count
    rate = steps / _learn_seconds(model, steps, agent, sized, first=True)
    venv.close()
    return rate


def sac_rates(settings: Settings, folder: Path) -> tuple[float, float]:
    """Steps per second during SAC's warm-up (random actions, no updates) and after it."""
    venv = fast_vec_env(settings, "sac", folder)
    model = build_model("sac", settings, venv)
    warmup = settings.agents.sac.learning_starts
    warm_rate = warmup / _learn_seconds(model, warmup, "sac", settings, first=True) if warmup else float("inf")
    train_rate = SAC_TRAINING_STEPS_TIMED / _learn_seconds(
        model, SAC_TRAINING_STEPS_TIMED, "sac", settings, first=False
    )
    venv.close()
    return warm_rate, train_rate


def training_projection(settings: Settings, folder: Path, simulators: dict) -> list[dict]:
    episode_steps = settings.simulation.horizon_hours
    rows = []
    for agent in ("a2c", "ppo"):
        budget = agents.Learner.of(agent, settings).total_timesteps(episode_steps)
        for count in (1, 2):
            rate = on_policy_rate(settings, agent, folder, count)
            rows.append(
                {
                    "agent": agent,
                    "n_envs": count,
                    "budget": budget,
                    "fast_steps_per_s": rate,
                    "fast_hours": budget / rate / SECONDS_PER_HOUR,
                }
            )
            print(f"  {agent} n_envs={count}: {rate:.0f} steps/s", flush=True)
    budget = agents.Learner.of("sac", settings).total_timesteps(episode_steps)
    warmup = min(settings.agents.sac.learning_starts, budget)
    warm_rate, train_rate = sac_rates(settings, folder)
    seconds = warmup / warm_rate + (budget - warmup) / train_rate
    rows.append(
        {
            "agent": "sac",
            "n_envs": 1,
            "budget": budget,
            "fast_steps_per_s": budget / seconds,
            "fast_hours": seconds / SECONDS_PER_HOUR,
            "warmup_steps_per_s": warm_rate,
            "training_steps_per_s": train_rate,
        }
    )
    print(f"  sac: warm-up {warm_rate:.0f} steps/s, training {train_rate:.0f} steps/s", flush=True)
    fast_step_s, citylearn_step_s = 1.0 / simulators["fast_steps_per_s"], 1.0 / simulators["citylearn_steps_per_s"]
    for row in rows:
        if row["n_envs"] == 1:  # learner time per step + CityLearn's step time instead of the fast one
            learner_s = max(row["fast_hours"] * SECONDS_PER_HOUR / row["budget"] - fast_step_s, 0.0)
            row["citylearn_hours"] = row["budget"] * (learner_s + citylearn_step_s) / SECONDS_PER_HOUR
    return rows


# ---------------------------------------------------------------- report


def print_report(simulators: list[dict], training: list[dict]) -> None:
    print("\nSimulators, random actions, one process (steps/s):")
    print(f"  {'sockets':>7} {'CityLearn':>10} {'fast':>10} {'speed-up':>9} {'build CL s':>11} {'build fast s':>13}")
    for row in simulators:
        print(
            f"  {row['sockets']:>7} {row['citylearn_steps_per_s']:>10.0f} {row['fast_steps_per_s']:>10.0f} "
            f"{row['speedup']:>8.0f}x {row['citylearn_build_s']:>11.1f} {row['fast_build_s']:>13.1f}"
        )
    print("\nTraining at 128 sockets (CPU), production budgets:")
    print(
        f"  {'agent':<5} {'n_envs':>6} {'budget':>8} {'fast steps/s':>13} {'fast h':>7} {'CityLearn h (derived)':>22}"
    )
    for row in training:
        citylearn = f"{row['citylearn_hours']:.1f}" if "citylearn_hours" in row else "-"
        print(
            f"  {row['agent']:<5} {row['n_envs']:>6} {row['budget']:>8} {row['fast_steps_per_s']:>13.0f} "
            f"{row['fast_hours']:>7.2f} {citylearn:>22}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", type=Path)
    parser.add_argument(
        "--full-folder",
        default="data/mall/citylearn/train",
        type=Path,
        help="an existing 128-socket one-year dataset to use instead of building one",
    )
    parser.add_argument("--skip-training", action="store_true", help="only time the simulators")
    args = parser.parse_args(argv)
    settings = load_settings(args.params)
    torch.set_num_threads(settings.training.cpu_threads)
    simulators, training = [], []
    with tempfile.TemporaryDirectory(prefix="bench_simulators_") as workdir:
        folders = {}
        for sockets in SOCKET_COUNTS:
            folder, sized = dataset_for(sockets, settings, args.full_folder, Path(workdir))
            folders[sockets] = (folder, sized)
            simulators.append(time_simulators(sockets, sized, folder))
            print(
                f"{sockets} sockets: CityLearn {simulators[-1]['citylearn_steps_per_s']:.0f} steps/s, "
                f"fast {simulators[-1]['fast_steps_per_s']:.0f} steps/s",
                flush=True,
            )
        if not args.skip_training:
            folder, sized = folders[128]
            training = training_projection(sized, folder, simulators[-1])
    print_report(simulators, training)
    return 0


if __name__ == "__main__":
    sys.exit(main())
