"""How long each job of a Snakemake run took and how much memory it held, from its benchmark files.

    python scripts/stage_times.py                      # results/benchmarks
    python scripts/stage_times.py path/to/benchmarks

Every rule writes `results/benchmarks/<scenario>/<job>.tsv` (Snakemake's `benchmark:`: seconds,
peak resident memory, CPU time). Prints one line per job, then per stage (and agent) the count, the
shortest and longest job and the sum (core time: every job here runs on one core), then the wall
time from the first start to the last end (a job's end is its file's time, its start that less its
seconds).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

DEFAULT = Path("results/benchmarks")


def read_job(path: Path, root: Path) -> dict:
    with path.open() as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    seconds = float(row["s"])
    end = path.stat().st_mtime
    name = str(path.relative_to(root).with_suffix(""))
    return {
        "job": name,
        "seconds": seconds,
        "max_rss_mb": float(row.get("max_rss") or "nan"),
        "start": end - seconds,
        "end": end,
    }


def group_of(job: str) -> str:
    """The stage, with the agent for train and evaluate (their jobs differ by seed, not in kind)."""
    stage = job.split("/")[-1]
    parts = stage.split("-")
    return "-".join(parts[:2]) if parts[0] in ("train", "evaluate", "baseline") else parts[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT)
    args = parser.parse_args(argv)
    files = sorted(args.folder.rglob("*.tsv")) if args.folder.is_dir() else []
    if not files:
        print(f"{args.folder}: no benchmark files (run the pipeline with snakemake first)", file=sys.stderr)
        return 1
    jobs = sorted((read_job(path, args.folder) for path in files), key=lambda job: job["start"])
    groups = defaultdict(list)
    for job in jobs:
        groups[group_of(job["job"])].append(job["seconds"])
        print(f"{job['seconds']:>8.0f} s  {job['max_rss_mb']:>7.0f} MB  {job['job']}")
    print()
    print(f"{'stage':<28} {'jobs':>4} {'shortest_s':>10} {'longest_s':>9} {'sum_s':>7}")
    for name, durations in sorted(groups.items()):
        print(f"{name:<28} {len(durations):>4} {min(durations):>10.0f} {max(durations):>9.0f} {sum(durations):>7.0f}")
    total = sum(job["seconds"] for job in jobs)
    wall = max(job["end"] for job in jobs) - min(job["start"] for job in jobs)
    print(f"\n{len(jobs)} jobs, {total / 60:.1f} core-minutes, {wall / 60:.1f} minutes from first start to last end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
