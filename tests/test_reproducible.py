"""The same parameters and seeds give the same bytes, and no stage writes into the dataset.

Every stage of the pipeline runs twice at small size (one week, 8 sockets, a tiny PPO budget), in
two folders and under two Python hash seeds: the dataset, every metrics file, timeseries,
checkpoint, curve and report must come out byte for byte the same. DVC hashes bytes: a record
that differed from run to run (a time stamp, a solve time, a zip entry's date) would make every
stage after it look stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import results_dir, write_params

TINY_PPO = {
    "agents.ppo.total_timesteps": 256,
    "agents.ppo.n_steps": 64,
    "agents.ppo.n_envs": 1,
    "agents.ppo.net_arch": [32, 32],
    "training.checkpoint_every_steps": 64,
    "training.seeds": [0],
    "scenarios": {"mall": {}},
}
# the rules share one runner: one that reads only CityLearn's observation and one that reads the
# station state stand for all of them
STAGES = [
    ("validate",),
    *(("baseline", name) for name in ("uncontrolled", "least_laxity")),
    ("baseline", "oracle"),
    ("train", "ppo", "--seed", "0"),
    ("evaluate", "ppo", "--seed", "0"),
    ("compare",),
]
MALL = "scenarios/mall/"
# words of a key (split at "_" and ".") that name a time, a date, a host or a run's memory
TIMELIKE_WORDS = {
    "s",
    "sec",
    "seconds",
    "time",
    "timestamp",
    "date",
    "datetime",
    "duration",
    "elapsed",
    "host",
    "hostname",
    "rss",
    "started",
    "finished",
}


def run_stage(folder: Path, hash_seed: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evstation.cli", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )
    assert result.returncode == 0, f"evstation {' '.join(args)} in {folder}:\n{result.stderr[-3000:]}"


def listing(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def run_pipeline(folder: Path, hash_seed: str, build: bool) -> dict[str, bytes]:
    """Every stage in order; returns the dataset's files as they were before the first reader ran."""
    if build:
        run_stage(folder, hash_seed, "build-dataset")
    dataset = listing(folder / "data")
    for stage in STAGES:
        run_stage(folder, hash_seed, *stage)
    return dataset


@pytest.fixture(scope="module")
def two_runs(built_small, tmp_path_factory) -> dict:
    """One project on the session's small dataset, one that builds its own; both run every stage."""
    reused, rebuilt = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    shutil.copytree(built_small / "data", reused / "data")
    shutil.copy2(results_dir(built_small) / "dataset" / "summary.json", reused / "dataset_summary.json")
    # where a build writes it: the report reads the station's service from it
    (results_dir(reused) / "dataset").mkdir(parents=True)
    shutil.copy2(
        results_dir(built_small) / "dataset" / "summary.json", results_dir(reused) / "dataset" / "summary.json"
    )
    for folder in (reused, rebuilt):
        write_params(folder, TINY_PPO)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two projects side by side
        first = pool.submit(run_pipeline, reused, "1", False)
        second = pool.submit(run_pipeline, rebuilt, "2", True)
        datasets = {"first": first.result(), "second": second.result()}
    return {"first": reused, "second": rebuilt, "datasets": datasets}


def test_a_rebuilt_dataset_is_the_same_bytes(two_runs):
    first, second = two_runs["first"], two_runs["second"]
    assert two_runs["datasets"]["first"] == two_runs["datasets"]["second"]
    assert (first / "dataset_summary.json").read_bytes() == (
        results_dir(second) / "dataset" / "summary.json"
    ).read_bytes()


def test_no_stage_writes_into_the_dataset_folder(two_runs):
    """validate, the baselines, the oracle, training, evaluation and the report only read the data:
    a stray file there (a cache, a lock, a log) would change the dataset's recorded hash."""
    for name in ("first", "second"):
        assert listing(two_runs[name] / "data") == two_runs["datasets"][name], name


def test_every_stage_writes_the_same_bytes_twice(two_runs):
    first, second = listing(two_runs["first"] / "results"), listing(two_runs["second"] / "results")
    for listing_ in (first, second):  # the first project reused a built dataset
        for name in [name for name in listing_ if name.endswith("dataset/summary.json")]:
            listing_.pop(name)
    assert sorted(first) == sorted(second)
    assert {
        MALL + name
        for name in (
            "validation.json",
            "metrics/oracle.json",
            "oracle/eval_lp.json",
            "metrics/least_laxity.json",
            "metrics/ppo_seed0.json",
            "curves/ppo_seed0.csv",
            "checkpoints/ppo/seed0/final/model.zip",
        )
    } | {"report/comparison.json", "report/kpi_bars.png"} <= set(first)
    different = [name for name in first if first[name] != second[name]]
    assert not different, f"differ between two runs: {different}"


def test_metrics_hold_no_time_date_or_host(two_runs):
    host = socket.gethostname()
    for path in sorted((two_runs["first"] / "results").rglob("*.json")):
        text = path.read_text()
        assert host not in text, path

        def keys(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    yield key
                    yield from keys(value)
                    if key == "name" and isinstance(value, str):
                        yield value  # validation checks are named entries
            elif isinstance(node, list):
                for value in node:
                    yield from keys(value)

        timelike = [key for key in keys(json.loads(text)) if TIMELIKE_WORDS & set(re.split(r"[_.]", key.lower()))]
        assert not timelike, f"{path.name}: {timelike}"
