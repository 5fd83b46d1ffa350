"""Build and solve the oracle's LP for one split at a chosen size; print its size, time and memory.

    .venv/bin/python scripts/bench_oracle.py                      # params.yaml's full size
    .venv/bin/python scripts/bench_oracle.py --hours 720 --moto 32 --mototaxi 8
    .venv/bin/python scripts/bench_oracle.py --oracle-params my_oracle.yaml --solver ipm
    .venv/bin/python scripts/bench_oracle.py --scenario mall_mt3 --mode oracle_bill \
        --data-dir data/mall_mt3/citylearn/train

Without size options it uses data/mall/citylearn/train when it exists (the pipeline's dataset), else it
builds the train split into a temporary folder with `evstation build-dataset` (never in the
project's own data folder). With size options it always builds into a temporary folder. The oracle
settings are read from the `oracle:` section of --oracle-params (default: the --params file).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import yaml

from evstation.config import apply_overrides, load_settings
from evstation.control.oracle import MODES, inputs_from_dataset, peak_rss_mb, solve_inputs
from evstation.dataset import read_dataset

BENCH_SPLIT = "train"
BYTES_PER_MB = 1024 * 1024


def _size_overrides(args: argparse.Namespace) -> dict:
    overrides = {}
    if args.hours is not None:
        overrides["simulation.horizon_hours"] = args.hours
    if args.moto is not None:
        overrides["sockets.moto.count"] = args.moto
    if args.mototaxi is not None:
        overrides["sockets.mototaxi.count"] = args.mototaxi
    return overrides


def _build_in(folder: Path, settings) -> Path:
    """Write the params and build the train split in `folder` through the real command line."""
    (folder / "params.yaml").write_text(yaml.safe_dump(settings.as_params(), sort_keys=False))
    started = time.perf_counter()
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
            BENCH_SPLIT,
        ],
        cwd=folder,
        check=True,
    )
    print(f"dataset built in {time.perf_counter() - started:.1f} s in {folder}")
    return folder / "data" / "citylearn" / BENCH_SPLIT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scenario", help="the scenario of the params to apply (default: the first)")
    parser.add_argument("--mode", choices=list(MODES), default="oracle", help="what the LP minimises first")
    parser.add_argument("--data-dir", default=f"data/mall/citylearn/{BENCH_SPLIT}")
    parser.add_argument("--hours", type=int, help="horizon_hours (builds a dataset in a temporary folder)")
    parser.add_argument("--moto", type=int, help="moto socket count (builds a dataset)")
    parser.add_argument("--mototaxi", type=int, help="mototaxi socket count (builds a dataset)")
    parser.add_argument("--solver", choices=["choose", "simplex", "ipm"], help="override oracle.solver")
    parser.add_argument("--threads", type=int, help="override oracle.threads")
    args = parser.parse_args(argv)

    settings = load_settings(args.params, args.scenario)
    options = replace(
        settings.oracle, **{k: v for k, v in (("solver", args.solver), ("threads", args.threads)) if v is not None}
    )
    overrides = _size_overrides(args)
    with tempfile.TemporaryDirectory(prefix="bench_oracle.") as scratch:
        if overrides or not Path(args.data_dir).is_dir():
            settings = apply_overrides(settings, overrides)
            folder = _build_in(Path(scratch), settings)
        else:
            folder = Path(args.data_dir)
        started = time.perf_counter()
        dataset = read_dataset(folder)
        inputs = inputs_from_dataset(settings, dataset.profiles, dataset.sessions)
        read_seconds = time.perf_counter() - started
        rss_before_mb = peak_rss_mb()
        report = solve_inputs(inputs, options, MODES[args.mode]).report

    print(
        f"dataset           {folder}  ({inputs.steps} h, {inputs.socket_count} sockets, {report['sessions']} sessions)"
    )
    print(f"solver            HiGHS {options.solver}, {options.threads} thread(s), status {report['status']}")
    print(f"variables         {report['variables']:,} ({report['session_hour_variables']:,} session-hours)")
    print(f"constraints       {report['constraints']:,}")
    print(f"nonzeros          {report['nonzeros']:,}")
    print(f"read seconds      {read_seconds:.2f}")
    print(f"build seconds     {report['build_seconds']:.2f}")
    print(f"solve seconds     {report['solve_seconds']:.2f}")
    print(f"peak RSS MB       {report['peak_rss_mb']:.0f} (after reading the data: {rss_before_mb:.0f})")
    print(
        f"LP grid CO2 kg    {report['lp_grid_co2_kg']:,.1f}   import kWh {report['lp_import_kwh']:,.1f}   "
        f"unmet kWh {report['lp_unmet_kwh']:.3g}"
    )
    print(f"LP bill PEN       {report['lp_bill_pen']:,.0f} ({args.mode}: {report['objective']} first)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
