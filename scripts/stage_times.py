"""How long each job of a Snakemake run took, from its log: the figures of the README's timing table.

    python scripts/stage_times.py .snakemake/log/<run>.snakemake.log
    make pipeline > run.log 2>&1; python scripts/stage_times.py run.log

Snakemake stamps a job's start (`[date]` then `rule NAME:` with its `jobid` and `wildcards`) and its
end (`[date]` then `Finished jobid: N`); the duration is the difference, to the second. Prints one
line per job, then per rule (and agent) the count, the shortest and longest job and the sum (core
time: every job here runs on one core), then the wall time from the first start to the last end.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

# a stamp can follow a progress bar's last update on the same line (the bar writes no newline)
STAMP = re.compile(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]")
RULE = re.compile(r"^(?:local)?rule (\w+):")
JOBID = re.compile(r"^\s+jobid: (\d+)")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)")
FINISHED = re.compile(r"Finished jobid: (\d+)")


def parse(lines: list[str]) -> list[dict]:
    """Jobs with rule, wildcards, start and end (those that never finished are left out)."""
    jobs, stamp, current = {}, None, None
    for line in lines:
        if stamps := STAMP.findall(line):
            stamp = datetime.strptime(stamps[-1], "%a %b %d %H:%M:%S %Y")
        if match := RULE.match(line):
            current = {"rule": match.group(1), "wildcards": "", "start": stamp}
        elif current is not None and (match := JOBID.match(line)):
            jobs[match.group(1)] = current
        elif current is not None and (match := WILDCARDS.match(line)):
            current["wildcards"] = match.group(1)
        if match := FINISHED.search(line):
            if match.group(1) in jobs:
                jobs[match.group(1)]["end"] = stamp
    return [job for job in jobs.values() if "end" in job and job["start"] is not None]


def group_of(job: dict) -> str:
    """Rule, with the agent for train and evaluate (their jobs differ by agent, not by seed)."""
    agent = re.search(r"agent=(\w+)", job["wildcards"])
    return f"{job['rule']} {agent.group(1)}" if agent else job["rule"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    args = parser.parse_args(argv)
    if not args.log.is_file():
        print(f"{args.log}: no such log", file=sys.stderr)
        return 1
    jobs = parse(args.log.read_text(errors="replace").splitlines())
    if not jobs:
        print(f"{args.log}: no finished job found", file=sys.stderr)
        return 1
    groups = defaultdict(list)
    for job in sorted(jobs, key=lambda job: job["start"]):
        seconds = (job["end"] - job["start"]).total_seconds()
        groups[group_of(job)].append(seconds)
        print(f"{job['start']:%H:%M:%S}  {seconds:>6.0f} s  {job['rule']:<16} {job['wildcards']}")
    print()
    print(f"{'rule':<20} {'jobs':>4} {'shortest_s':>10} {'longest_s':>9} {'sum_s':>7}")
    for name, durations in sorted(groups.items()):
        print(f"{name:<20} {len(durations):>4} {min(durations):>10.0f} {max(durations):>9.0f} {sum(durations):>7.0f}")
    total = sum(sum(durations) for durations in groups.values())
    wall = (max(job["end"] for job in jobs) - min(job["start"] for job in jobs)).total_seconds()
    print(f"\n{len(jobs)} jobs, {total / 60:.1f} core-minutes, {wall / 60:.1f} minutes from first start to last end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
