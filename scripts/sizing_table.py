"""The sizing example's table (docs/sizing.md), read from recorded experiments, never typed in.

Each experiment (`dvc exp run --queue -n sizing-<sockets> -S sockets.moto.count=... ...`, run with
`dvc queue start`) committed its params, its dataset's summary and the records of the stages it ran.
This prints, per experiment whose name starts with the prefix, the sockets, the vehicles that arrived
and were turned away on the held-out year, and what an uncontrolled station then imports, bills and
emits there.

    python scripts/sizing_table.py --prefix sizing- --scenario mall
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import yaml

SPLIT = "eval"  # the held-out year: every figure of the table is CityLearn's
CONTROLLER = "uncontrolled"  # the station as its vehicles would use it: charge at once, no battery dispatch


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def experiments(prefix: str) -> dict[str, str]:
    """Name -> commit of each experiment ref whose name starts with `prefix`."""
    found = {}
    for line in git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps").splitlines():
        ref, commit = line.split()
        name = ref.rsplit("/", 1)[-1]
        if name.startswith(prefix):
            found[name] = commit
    return found


def row(commit: str, scenario: str) -> dict | None:
    """One experiment's row, or None where it lacks a record (a run that did not finish)."""
    try:
        params = yaml.safe_load(git("show", f"{commit}:params.yaml"))
        results = f"results/scenarios/{scenario}"
        summary = json.loads(git("show", f"{commit}:{results}/dataset/summary.json"))[SPLIT]
        metrics = json.loads(git("show", f"{commit}:{results}/metrics/{CONTROLLER}.json"))[SPLIT]
    except subprocess.CalledProcessError:
        return None
    sockets = params["sockets"]
    return {
        "moto sockets": sockets["moto"]["count"],
        "mototaxi sockets": sockets["mototaxi"]["count"],
        "arrivals": summary["arrivals"],
        "turned away (%)": summary["turned_away_pct"],
        "sessions served": metrics["sessions_departed"],
        "EV satisfied (% of served)": metrics["ev_satisfaction_pct"],
        "EV energy drawn (MWh)": metrics["ev_kwh"] / 1e3,
        "peak import (kW)": metrics["peak_import_kw"],
        "bill (kPEN)": metrics["bill_pen"] / 1e3,
        "grid CO2 (t)": metrics["co2_grid_kg"] / 1e3,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="sizing-")
    parser.add_argument("--scenario", default="mall")
    args = parser.parse_args()
    rows = [(name, found) for name, commit in experiments(args.prefix).items() if (found := row(commit, args.scenario))]
    if not rows:
        print(f"no experiment named {args.prefix}* with its records", file=sys.stderr)
        return 1
    rows.sort(key=lambda item: item[1]["moto sockets"] + item[1]["mototaxi sockets"])
    columns = list(rows[0][1])
    print("| experiment | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, values in rows:
        cells = [f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" for value in values.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
