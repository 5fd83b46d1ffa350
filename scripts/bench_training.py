"""Training throughput of each agent at the size of params.yaml: steps per second, memory, checkpoint
sizes, and the projected wall time of the production budgets.

    .venv/bin/python scripts/bench_training.py                      # data/mall/citylearn/train, all agents
    .venv/bin/python scripts/bench_training.py --agents ppo --envs 1 2 --rollouts 1
    .venv/bin/python scripts/bench_training.py --scenario mall --device cuda           # on a GPU machine

Each measurement trains for real (the project's own model builders and environments) for one or
more whole rollouts (A2C, PPO: n_steps x n_envs steps and their update) or a number of steps after
warm-up (SAC), timing only the learning, not the environments' construction.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from stable_baselines3.common.vec_env import VecNormalize

from evstation.config import apply_overrides, load_settings
from evstation.control.peak_shaving import with_tuned_residual
from evstation.errors import UserError
from evstation.learning import agents
from evstation.learning.checkpoints import CheckpointStore
from evstation.learning.training import CLIP_OBSERVATION, choose_device, make_vec_env

BYTES_PER_MB = 1024 * 1024


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def measure(settings, agent: str, n_envs: int, folder: Path, rollouts: int, sac_steps: int, device: str) -> dict:
    if agent != "sac":
        settings = apply_overrides(settings, {f"agents.{agent}.n_envs": n_envs})
    started = time.perf_counter()
    learner = agents.Learner.of(agent, settings)
    venv = make_vec_env(settings, learner, folder)
    normalization = VecNormalize(venv, norm_obs=True, norm_reward=False, clip_obs=CLIP_OBSERVATION)
    budget = learner.total_timesteps(settings.simulation.horizon_hours)
    model = learner.build(normalization, seed=0, device=device, budget=budget)
    build_s = time.perf_counter() - started
    config = getattr(settings.agents, agent)
    steps = sac_steps if agent == "sac" else rollouts * config.n_steps * n_envs
    if agent == "sac":  # fill the warm-up first: the timed part trains every step
        model.learn(total_timesteps=config.learning_starts, callback=learner.schedule_callbacks())
    started = time.perf_counter()
    model.learn(total_timesteps=steps, reset_num_timesteps=agent != "sac", callback=learner.schedule_callbacks())
    elapsed = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as scratch:
        store = CheckpointStore(Path(scratch), keep=1)
        checkpoint = store.save(model, normalization, with_replay_buffer=agent == "sac")
        sizes = {path.name: path.stat().st_size / BYTES_PER_MB for path in checkpoint.folder.iterdir()}
    venv.close()
    rate = steps / elapsed
    return {
        "agent": agent,
        "n_envs": n_envs,
        "device": device,
        "build_s": build_s,
        "steps": steps,
        "steps_per_s": rate,
        "projected_h": budget / rate / 3600,
        "budget": budget,
        "peak_rss_mb": peak_rss_mb(),
        "checkpoint_mb": sizes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", default=None, help="the scenario applied (default: params' first)")
    parser.add_argument("--data-dir", default=None, help="the datasets' folder (default: data/SCENARIO/citylearn)")
    parser.add_argument(
        "--results-dir",
        default=None,
        help="the scenario's records, for a rule the policy corrects (default: results/scenarios/SCENARIO)",
    )
    parser.add_argument(
        "--device",
        default=None,
        choices=["auto", "cpu", "cuda"],
        help="where the networks train (default: params' training.device)",
    )
    parser.add_argument("--agents", nargs="+", default=list(agents.AGENTS), choices=agents.AGENTS)
    parser.add_argument("--envs", nargs="+", type=int, default=[1, 2], help="environment counts for A2C and PPO")
    parser.add_argument("--rollouts", type=int, default=1, help="whole rollouts timed for A2C and PPO")
    parser.add_argument("--sac-steps", type=int, default=500, help="SAC steps timed after its warm-up")
    args = parser.parse_args(argv)
    settings = load_settings(args.params, scenario=args.scenario)
    # a policy that corrects the tuned threshold rule needs its tuning, as training takes it
    settings = with_tuned_residual(settings, Path(args.results_dir or f"results/scenarios/{settings.scenario}"))
    device = choose_device(args.device or settings.training.device)
    torch.set_num_threads(settings.training.cpu_threads)  # as training does: params' thread count
    folder = Path(args.data_dir or f"data/{settings.scenario}/citylearn") / "train"
    gpu = f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""
    print(
        f"dataset {folder}: {settings.sockets.total} sockets, {settings.simulation.horizon_hours} h; "
        f"torch threads {settings.training.cpu_threads}; networks on {device}{gpu}"
    )
    for agent in args.agents:
        for n_envs in [1] if agent == "sac" else args.envs:
            result = measure(settings, agent, n_envs, folder, args.rollouts, args.sac_steps, device)
            sizes = ", ".join(f"{name} {mb:.1f} MB" for name, mb in sorted(result["checkpoint_mb"].items()))
            print(
                f"{agent} n_envs={n_envs} on {result['device']}: {result['steps_per_s']:.1f} steps/s "
                f"({result['steps']} steps timed, envs built in {result['build_s']:.1f} s); "
                f"production budget {result['budget']:,} steps -> {result['projected_h']:.2f} h; "
                f"peak RSS {result['peak_rss_mb']:.0f} MB; checkpoint: {sizes}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as error:  # a wrong key or a GPU asked for where none is: one line
        sys.exit(f"bench_training: {error}")
