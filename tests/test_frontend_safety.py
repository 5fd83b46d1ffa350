"""Snakemake beside other runs and kills: it removes a job's declared outputs before each attempt, before
the command can take its lock.

- A training job declares only its final model and learning curve, never its checkpoints: killed under
  Snakemake, it resumes from its newest intact checkpoint on the retry, and ends with the bytes of a run
  never stopped.
- A Snakemake run started while another run (dvc repro, a command by hand) writes or reads an output of a
  job it plans stops before any job, having removed nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import data_dir, results_dir, run_cli_in_process, write_params
from evstation.dataset import check_built_together
from evstation.learning.training import KILL_HOOK
from evstation.locking import job_lock, locked, output_lock
from test_training import TINY, run_dir

FINAL = "results/scenarios/mall/checkpoints/ppo/seed0/final"
CURVE = "results/scenarios/mall/curves/ppo_seed0.csv"


def digests(folder: Path) -> dict[str, str]:
    """Every file of a folder and its sha256, but the mark Snakemake leaves in a directory output."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".snakemake_timestamp"
    }


def test_a_killed_snakemake_training_job_resumes_on_its_retry_and_ends_as_an_uninterrupted_run(tmp_path):
    from test_frontends import BIN, copy_repository, git_commit
    from test_frontends import run as tool

    project = copy_repository(tmp_path / "repository")
    write_params(project, TINY)
    tool(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)
    git_commit(project, "the small station, tiny training budgets")
    # the small build, checked, newer than the code: Snakemake runs the training alone
    run_cli_in_process("build-dataset", cwd=project)
    (results_dir(project) / "validation.json").write_text(
        json.dumps({"passed": True, "build_id": check_built_together(data_dir(project)), "checks": []})
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", KILL_HOOK: "checkpoint:128"}
    # the first attempt kills itself right after its checkpoint of step 128; the retry resumes there
    result = subprocess.run(
        ["snakemake", "--cores", "1", "--retries", "1", FINAL, CURVE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "rule build_dataset:" not in output and "rule validate:" not in output, output[-3000:]
    log = (project / "results" / "logs" / "mall" / "train-ppo-0.log").read_text()
    assert log.count("ppo seed 0: training on") == 2, log  # the killed attempt's messages are kept
    assert "ppo seed 0: resuming from step_000000128 at step 128" in log, log

    whole = tmp_path / "whole"  # the same data, trained without a stop
    shutil.copytree(data_dir(project), data_dir(whole))
    write_params(whole, TINY)
    run_cli_in_process("train", "ppo", "--seed", "0", "--resume", cwd=whole)
    assert digests(project / FINAL) == digests(run_dir(whole, "ppo") / "final")
    assert (project / CURVE).read_bytes() == (results_dir(whole) / "curves" / "ppo_seed0.csv").read_bytes()
    hidden = [*run_dir(project, "ppo").glob(".*"), *(project / CURVE).parent.glob(".*")]
    assert not [path.name for path in hidden if not path.name.endswith(".lock")], hidden  # no staging, no .tmp


def test_snakemake_removes_nothing_another_run_is_writing_or_reading(built_small, tmp_path):
    """A dataset an evaluate is reading and a training job DVC is running: Snakemake, asked to rebuild
    the one and retrain the other, stops before its first job and removes neither."""
    from test_frontends import BIN, copy_repository

    project = copy_repository(tmp_path / "repository")
    write_params(project, TINY)
    shutil.copytree(data_dir(built_small), data_dir(project))
    final = project / FINAL
    final.mkdir(parents=True)
    (final / "model.zip").write_bytes(b"the previous run's model")
    before = {"data": digests(data_dir(project)), "final": digests(final)}
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    reading = {"datasets": output_lock(data_dir(project))}
    training = {"training": job_lock(results_dir(project), "ppo-seed0")}
    with locked(reads=reading), locked(writes=training):
        result = subprocess.run(
            ["snakemake", "--cores", "1", "--forcerun", "build_dataset", "train", "--", FINAL],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("snakemake: ")]
    assert len(lines) == 1 and lines[0].startswith("snakemake: being written or read by another run: "), lines
    assert "data/mall/citylearn (its lock data/mall/.citylearn.lock" in lines[0], lines[0]
    assert f"{FINAL} (its lock results/scenarios/mall/.ppo-seed0.lock, pid {os.getpid()})" in lines[0], lines[0]
    assert lines[0].endswith("; nothing was run: wait for it to finish")
    assert {"data": digests(data_dir(project)), "final": digests(final)} == before
    assert "rule build_dataset:" not in result.stdout + result.stderr


def test_dvc_keeps_the_good_datasets_when_the_build_refuses_an_input_file(tmp_path):
    """DVC removed a stage's outputs before its command ran: a price file the build refuses wiped the
    datasets built from the good one. Every output persists now; the command replaces it only whole."""
    from test_frontends import copy_repository, git_commit
    from test_frontends import run as tool

    project = copy_repository(tmp_path / "repository")
    prices = {split: f"data/examples/energy_price_{split}.csv" for split in ("train", "eval")}
    write_params(project, {"tariff.energy_price_files": prices})
    tool(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)
    git_commit(project, "the small station's prices from a file")
    tool("dvc", "repro", "build_dataset-mall", cwd=project)
    before = digests(data_dir(project))
    path = project / prices["train"]
    path.write_text(path.read_text().replace("2023-01-01 03:00,0.22", "2023-01-01 03:00,-0.22"))
    result = tool("dvc", "repro", "build_dataset-mall", cwd=project, check=False)
    assert result.returncode != 0
    assert "energy_price_train.csv" in result.stdout + result.stderr
    assert digests(data_dir(project)) == before
