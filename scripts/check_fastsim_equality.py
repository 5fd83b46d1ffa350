"""Full-size equality check of the fast simulator against CityLearn 3.0.2.

Runs one episode of each control mode (seeded random actions, uncontrolled full-power charging,
the rule-based controller) through CityLearn and through `evstation.simulation.fast_env.FastStationEnv` on a
dataset folder, prints the largest difference of every per-step quantity and of every KPI, and
exits non-zero if any exceeds its tolerance.

    .venv/bin/python scripts/check_fastsim_equality.py [data/mall/citylearn/train] [--params params.yaml]

CityLearn takes minutes per year at 128 sockets: expect ~10-15 minutes for the three modes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evstation.config import load_settings
from evstation.simulation.fast_check import MODES, compare, kpi_differences_pct, run_citylearn, run_fast, trace_kpis
from evstation.simulation.fast_env import make_fast_env

STEP_TOLERANCE = 1e-6  # relative (absolute below 1): per-step flows, SOCs, observations, rewards
KPI_TOLERANCE_PCT = 0.01  # relative, in percent


def check_mode(settings, folder: Path, mode: str, seed: int) -> bool:
    fast_env = make_fast_env(settings, folder)
    reference = run_citylearn(settings, folder, mode, seed)
    candidate = run_fast(settings, folder, mode, seed, env=fast_env)
    differences = compare(reference, candidate)
    kpis = kpi_differences_pct(
        trace_kpis(reference, settings, folder, fast_env.charger_ids, f"citylearn/{mode}"),
        trace_kpis(candidate, settings, folder, fast_env.charger_ids, f"fast/{mode}"),
    )
    steps = len(reference.rewards)
    print(
        f"\n{mode}: {steps} steps, {len(fast_env.charger_ids)} sockets; CityLearn {reference.seconds:.1f} s "
        f"({steps / reference.seconds:.0f} steps/s), fast {candidate.seconds:.2f} s "
        f"({steps / candidate.seconds:.0f} steps/s)"
    )
    print(f"  {'quantity':<32}{'largest difference':>20}  (relative; absolute below 1)")
    for name, value in differences.items():
        flag = "" if value <= STEP_TOLERANCE else "   <-- exceeds tolerance"
        print(f"  {name:<32}{value:>20.3g}{flag}")
    worst_kpi = max(kpis, key=kpis.get)
    print(f"  {'KPIs (' + str(len(kpis)) + ')':<32}{kpis[worst_kpi]:>19.3g}%  (largest: {worst_kpi})")
    for name, value in kpis.items():
        if value > KPI_TOLERANCE_PCT:
            print(f"  KPI {name}: {value:.3g} %   <-- exceeds tolerance")
    return max(differences.values()) <= STEP_TOLERANCE and kpis[worst_kpi] <= KPI_TOLERANCE_PCT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="data/mall/citylearn/train", type=Path)
    parser.add_argument("--params", default="params.yaml", type=Path)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random actions")
    args = parser.parse_args(argv)
    if not (args.folder / "schema.json").is_file():
        parser.error(f"{args.folder / 'schema.json'}: not found (run `evstation build-dataset`)")
    settings = load_settings(args.params)
    results = {mode: check_mode(settings, args.folder, mode, args.seed) for mode in args.modes}
    failed = [mode for mode, ok in results.items() if not ok]
    print(
        f"\n{'FAILED: ' + ', '.join(failed) if failed else 'all modes agree'} "
        f"(tolerances: {STEP_TOLERANCE:g} per step, {KPI_TOLERANCE_PCT:g} % per KPI)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
