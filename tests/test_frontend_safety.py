"""Both front ends beside other runs, kills and bad input files. Each command takes its lock before it
writes and replaces its outputs only whole; the front ends leave the outputs to it: DVC's persist, and
every Snakemake output `update()`, which Snakemake leaves in place when it runs the job (where it would
remove it first, before the command can take its lock).

- A job that fails or is refused leaves its previous outputs as they were: a dataset rebuild refused for a
  broken input file, a baseline killed in the middle of writing its record, a training run killed.
- A training job declares only its final model and learning curve, never its checkpoints: killed under
  Snakemake, it resumes from its newest intact checkpoint on the next run and on a retry, and ends with
  the bytes of a run never stopped.
- A Snakemake run started while another run (dvc repro, a command by hand) writes or reads an output of a
  job it plans stops before any job, having removed nothing; a job whose lock another run took after that
  check is refused by its command, in one line.

The tests work on copies of one small repository, built and checked once (conftest's small_repository)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (
    PRICE_FILES,
    data_dir,
    results_dir,
    run_cli_in_process,
    small_repository_params,
    tool_env,
    write_params,
)
from evstation.files import KILL_AT
from evstation.learning.training import KILL_HOOK
from evstation.locking import job_lock, locked, output_lock
from test_training import run_dir

FINAL = "results/scenarios/mall/checkpoints/ppo/seed0/final"
CURVE = "results/scenarios/mall/curves/ppo_seed0.csv"
BASELINE = "results/scenarios/mall/metrics/uncontrolled.json"


def digests(folder: Path) -> dict[str, str]:
    """Every file of a folder and its sha256, but the mark Snakemake leaves in a directory output."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".snakemake_timestamp"
    }


def snakemake_env(project: Path, **env: str) -> dict[str, str]:
    from test_frontends import BIN

    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, **tool_env(), "PATH": path, "DVC_SITE_CACHE_DIR": str(project / ".dvc-site"), **env}


def snakemake(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", "--cores", "1", *args],
        cwd=project,
        env=snakemake_env(project, **env),
        capture_output=True,
        text=True,
    )


@pytest.fixture
def project(small_repository, tmp_path) -> Path:
    """A copy of the small repository for one test (the files' times kept)."""
    return Path(shutil.copytree(small_repository, tmp_path / "repository", symlinks=True))


def break_price_file(project: Path) -> Path:
    """A negative price in the training year's price file: the build refuses it."""
    path = project / PRICE_FILES["train"]
    path.write_text(path.read_text().replace("2023-01-01 03:00,0.22", "2023-01-01 03:00,-0.22"))
    return path


def datasets(project: Path) -> dict:
    """The scenario's datasets and the summary their build wrote, as digests."""
    summary = results_dir(project) / "dataset" / "summary.json"
    return {"data": digests(data_dir(project)), "summary": hashlib.sha256(summary.read_bytes()).hexdigest()}


def test_a_snakemake_rebuild_refused_for_a_broken_input_file_leaves_the_datasets_as_they_were(project):
    before = datasets(project)
    break_price_file(project)  # newer than the datasets: Snakemake rebuilds them
    result = snakemake(project, str(data_dir(project).relative_to(project)))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "rule build_dataset:" in output, output[-3000:]
    assert "energy_price_train.csv" in output, output[-3000:]
    assert datasets(project) == before
    assert not (project / ".snakemake" / "backups").exists()  # no copy of the datasets either


def test_a_snakemake_rerun_that_fails_leaves_the_previous_record(project):
    """A baseline rerun killed in the middle of writing its new record: the old record stays, whole."""
    records = [project / BASELINE] + [
        results_dir(project) / "timeseries" / f"uncontrolled_{split}.csv" for split in ("train", "eval")
    ]
    for path in records:  # the previous run's record (no run needed: the new one never reaches it)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"the previous run's {path.name}\n")
    before = [path.read_bytes() for path in records]
    result = snakemake(project, "--forcerun", "baseline", "--", BASELINE, **{KILL_AT: "record-staged"})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "rule baseline:" in output, output[-3000:]
    assert [path.read_bytes() for path in records] == before


def test_a_killed_snakemake_training_job_resumes_on_its_rerun_and_its_retry_and_ends_as_an_uninterrupted_run(
    project, tmp_path
):
    """Killed after its checkpoint of step 128, the job fails, the previous final model and curve left in
    place; the next Snakemake run resumes it there, is killed again after step 192 and resumes on its retry."""
    final, curve = project / FINAL, project / CURVE
    final.mkdir(parents=True)
    (final / "model.zip").write_bytes(b"the previous run's model")
    curve.write_text("the previous run's curve\n")  # over the repository's own, of the full-size run
    previous = {"final": digests(final), "curve": curve.read_bytes()}
    killed = snakemake(project, "--forcerun", "train", "--", FINAL, CURVE, **{KILL_HOOK: "checkpoint:128"})
    output = killed.stdout + killed.stderr
    assert killed.returncode != 0 and "rule train:" in output, output[-3000:]
    # the previous run's record until the new one is complete: no new curve beside the old model
    assert {"final": digests(final), "curve": curve.read_bytes()} == previous

    result = snakemake(project, "--retries", "1", FINAL, CURVE, **{KILL_HOOK: "checkpoint:192"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "rule build_dataset:" not in output and "rule validate:" not in output, output[-3000:]
    log = (project / "results" / "logs" / "mall" / "train-ppo-0.log").read_text()
    assert log.count("ppo seed 0: training on") == 3, log  # the killed attempts' messages are kept
    assert "ppo seed 0: resuming from step_000000128 at step 128" in log, log
    assert "ppo seed 0: resuming from step_000000192 at step 192" in log, log

    whole = tmp_path / "whole"  # the same data, trained without a stop
    shutil.copytree(data_dir(project), data_dir(whole))
    write_params(whole, small_repository_params())
    run_cli_in_process("train", "ppo", "--seed", "0", "--resume", cwd=whole)
    assert digests(project / FINAL) == digests(run_dir(whole, "ppo") / "final")
    assert (project / CURVE).read_bytes() == (results_dir(whole) / "curves" / "ppo_seed0.csv").read_bytes()
    hidden = [*run_dir(project, "ppo").glob(".*"), *(project / CURVE).parent.glob(".*")]
    assert not [path.name for path in hidden if not path.name.endswith(".lock")], hidden  # no staging, no .tmp


def test_snakemake_removes_nothing_another_run_is_writing_or_reading(project):
    """A dataset an evaluate is reading and a training job DVC is running: Snakemake, asked to rebuild
    the one and retrain the other, stops before its first job and removes neither."""
    final = project / FINAL
    final.mkdir(parents=True)
    (final / "model.zip").write_bytes(b"the previous run's model")
    before = {"data": digests(data_dir(project)), "final": digests(final)}
    reading = {"datasets": output_lock(data_dir(project))}
    training = {"training": job_lock(results_dir(project), "ppo-seed0")}
    with locked(reads=reading), locked(writes=training):
        result = snakemake(project, "--forcerun", "build_dataset", "train", "--", FINAL)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("snakemake: ")]
    assert len(lines) == 1 and lines[0].startswith("snakemake: being written or read by another run: "), lines
    assert "data/mall/citylearn (its lock data/mall/.citylearn.lock" in lines[0], lines[0]
    assert f"{FINAL} (its lock results/scenarios/mall/.ppo-seed0.lock, pid {os.getpid()})" in lines[0], lines[0]
    assert lines[0].endswith("; nothing was run: wait for it to finish")
    assert {"data": digests(data_dir(project)), "final": digests(final)} == before
    assert "rule build_dataset:" not in result.stdout + result.stderr


def test_a_job_whose_lock_another_run_took_after_the_check_is_refused_by_its_command_removing_nothing(project):
    """Another run may take a job's lock after `onstart` checked it (`--no-hooks` skips the check here): the
    job runs, its command refuses it in one line, exit 2, and the datasets being read stay as they were."""
    before = datasets(project)
    with locked(reads={"datasets": output_lock(data_dir(project))}):
        result = snakemake(project, "--no-hooks", "--forcerun", "build_dataset", "--", "data/mall/citylearn")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "returned non-zero exit status 2" in output, output[-3000:]
    refusals = [line for line in result.stderr.splitlines() if line.startswith("evstation: ")]
    assert refusals == [
        "evstation: error: data/mall/citylearn is being read by another run; wait for it to finish "
        "(its lock, data/mall/.citylearn.lock, is released when that process ends)"
    ], output[-3000:]
    assert datasets(project) == before


def test_dvc_keeps_the_good_datasets_when_the_build_refuses_an_input_file(project):
    """DVC removed a stage's outputs before its command ran: a price file the build refuses wiped the
    datasets built from the good one. Every output persists now; the command replaces it only whole."""
    from test_frontends import run as tool

    tool("dvc", "commit", "--force", "--quiet", "build_dataset-mall", cwd=project)  # DVC's record of the build
    before = digests(data_dir(project))
    break_price_file(project)
    result = tool("dvc", "repro", "build_dataset-mall", cwd=project, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Running stage 'build_dataset-mall'" in output, output[-3000:]
    assert "energy_price_train.csv" in output
    assert digests(data_dir(project)) == before


def test_two_snakemake_runs_without_snakemakes_own_lock_write_one_record_once(project):
    """Two `snakemake --nolock` runs of the same baseline at once: the one that comes second is refused,
    before any job where its start finds the job's lock taken, or by the job's command where it passed
    that check first (`--no-hooks`), and removes nothing; the first run ends with its record whole and
    Snakemake's own record of it complete: nothing left to run."""
    from test_locking import let_it_finish, stopped_process

    first = subprocess.Popen(
        ["snakemake", "--cores", "1", "--nolock", "--forcerun", "baseline", "--", BASELINE],
        cwd=project,
        env=snakemake_env(project, EVSTATION_PAUSE_AT="record-staged"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    command = None
    try:
        command = stopped_process("baseline", project)  # the first run's command, holding its lock
        at_start = snakemake(project, "--nolock", "--forcerun", "baseline", "--", BASELINE)
        assert at_start.returncode != 0 and "rule baseline:" not in at_start.stdout + at_start.stderr
        assert "snakemake: being written or read by another run: " in at_start.stderr, at_start.stderr[-3000:]
        in_the_job = snakemake(project, "--nolock", "--no-hooks", "--forcerun", "baseline", "--", BASELINE)
        output = in_the_job.stdout + in_the_job.stderr
        assert in_the_job.returncode != 0 and "returned non-zero exit status 2" in output, output[-3000:]
        assert f"is being written by another run (pid {command})" in output, output[-3000:]
    finally:
        output = let_it_finish(first, command)
    assert first.returncode == 0, output[-3000:]
    record = json.loads((project / BASELINE).read_text())
    assert record["controller"] == "uncontrolled"
    dry = snakemake(project, "-n", "--", BASELINE)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
