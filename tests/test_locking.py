"""One run at a time per target, whoever started it: a second run of a target that is being written
is refused in one line (exit 2); other targets go on in parallel; readers of the datasets keep them
from being rebuilt under them. The runs here are real concurrent processes: the first is stopped at
a named point of its write (EVSTATION_PAUSE_AT: it sends itself SIGSTOP there) while holding its lock.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import data_dir, results_dir, tool_env, write_params
from evstation.dataset import check_built_together
from evstation.errors import UserError
from evstation.locking import LockedError, job_lock, locked, output_lock


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "evstation.cli", "--quiet", *args]


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), cwd=project, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


def wait_until_stopped(process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the first run ended before its pause point"
        state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.05)
    raise AssertionError("the first run did not reach its pause point")


def test_a_second_build_of_one_dataset_is_refused_while_other_targets_run(tmp_path):
    write_params(tmp_path)
    first = subprocess.Popen(
        command("build-dataset"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "EVSTATION_PAUSE_AT": "staged"},
    )
    try:
        wait_until_stopped(first)
        line = one_line(run(tmp_path, "build-dataset"))
        assert line == (
            f"evstation: error: data/mall/citylearn is being written by another run (pid {first.pid}); "
            "wait for it to finish (its lock, data/mall/.citylearn.lock, is released when that "
            "process ends)"
        )
        assert "data/mall/citylearn is being written by another run" in one_line(run(tmp_path, "validate"))
        other = run(tmp_path, "--scenario", "mall_mt3", "build-dataset")  # another target: not held up
        assert other.returncode == 0, other.stderr
        assert not data_dir(tmp_path).exists()  # the first run's own
    finally:
        first.send_signal(signal.SIGCONT)
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert check_built_together(data_dir(tmp_path)) is not None
    assert (results_dir(tmp_path) / "dataset" / "summary.json").is_file()
    assert output_lock(data_dir(tmp_path)).read_text() == "", "a finished writer leaves no pid behind"


def test_datasets_being_read_are_not_rebuilt(built_small, tmp_path):
    shutil.copytree(data_dir(built_small), data_dir(tmp_path))
    write_params(tmp_path)
    before = sorted(path.stat().st_mtime_ns for path in data_dir(tmp_path).rglob("*"))
    with locked(reads={"datasets": output_lock(data_dir(tmp_path))}):  # a reader: this test's process
        line = one_line(run(tmp_path, "build-dataset"))
    assert line.startswith("evstation: error: data/mall/citylearn is being read by another run; wait for it")
    assert sorted(path.stat().st_mtime_ns for path in data_dir(tmp_path).rglob("*")) == before


def test_baselines_run_in_parallel_but_one_baseline_once(built_small, tmp_path):
    shutil.copytree(data_dir(built_small), data_dir(tmp_path))
    write_params(tmp_path)
    results = results_dir(tmp_path)
    running = {f"{results} (baseline uncontrolled)": job_lock(results, "baseline-uncontrolled")}
    with locked(writes=running, reads={"datasets": output_lock(data_dir(tmp_path))}):
        line = one_line(run(tmp_path, "baseline", "uncontrolled"))
        assert line.startswith(
            f"evstation: error: results/scenarios/mall (baseline uncontrolled) is being written "
            f"by another run (pid {os.getpid()}); wait for it"
        )
        other = run(tmp_path, "baseline", "rule_based")
        assert other.returncode == 0, other.stderr
    assert (results / "metrics" / "rule_based.json").is_file()
    assert not (results / "metrics" / "uncontrolled.json").exists()


def test_one_process_cannot_take_a_held_lock_twice_and_gets_it_once_released(tmp_path):
    target = tmp_path / "out"
    with locked(writes={"out": output_lock(target)}):
        assert output_lock(target).read_text() == str(os.getpid())
        with pytest.raises(LockedError, match=rf"out is being written by another run \(pid {os.getpid()}\)"):
            with locked(writes={"out": output_lock(target)}):
                pass
        with pytest.raises(LockedError, match=rf"datasets is being written by another run \(pid {os.getpid()}\)"):
            with locked(reads={"datasets": output_lock(target)}):
                pass
    with locked(writes={"out": output_lock(target)}):
        pass


def test_a_lock_that_cannot_be_created_is_refused_in_one_line(tmp_path):
    """A results folder that is a file (as a read-only one, for a user who is not root): one line, exit 2."""
    (tmp_path / "results").write_text("")
    assert one_line(run(tmp_path, "compare", "--results-dir", "results")) == (
        "evstation: error: results: a file where a folder is needed (for the lock of results/report, "
        "results/.report.lock)"
    )
    with pytest.raises(UserError, match=r"results: a file where a folder is needed \(for the lock of datasets"):
        with locked(reads={"datasets": output_lock(tmp_path / "results" / "data")}):
            pass


def stopped_process(command_word: str, cwd: Path, timeout_s: float = 180.0) -> int:
    """The pid of the process running `command_word` in `cwd` once it has stopped itself (SIGSTOP)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                here = Path(os.readlink(entry / "cwd")) == cwd
            except OSError:
                continue
            if here and state == "T" and command_word.encode() in words:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no {command_word} stopped at its pause point in {cwd}")


def let_it_finish(run: subprocess.Popen, stopped: int | None, timeout_s: float = 300.0) -> str:
    """Let `run` finish: its command `stopped` at its pause point continues (SIGCONT), or, where it never
    got there (None), the run is killed; its output."""
    if stopped is not None:
        os.kill(stopped, signal.SIGCONT)
    else:
        run.kill()
    output, _ = run.communicate(timeout=timeout_s)
    return output


def test_snakemake_and_dvc_started_together_build_the_datasets_once(tmp_path):
    """Both front ends asked for the same datasets at once: the run that comes second is refused."""
    from test_frontends import BIN, copy_repository, git_commit
    from test_frontends import run as tool

    project = copy_repository(tmp_path / "repository")
    write_params(project)
    tool(sys.executable, "workflow/write_dvc_yaml.py", cwd=project)
    git_commit(project, "the small station")
    env = {
        **os.environ,
        **tool_env(),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(project / ".dvc-site"),
        "EVSTATION_PAUSE_AT": "staged",
    }
    snakemake = subprocess.Popen(
        ["snakemake", "--cores", "1", "data/mall/citylearn"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    build = None
    try:
        build = stopped_process("build-dataset", project)
        dvc = tool("dvc", "repro", "build_dataset-mall", cwd=project, check=False)
        assert dvc.returncode != 0
        assert f"data/mall/citylearn is being written by another run (pid {build})" in dvc.stdout + dvc.stderr
    finally:
        output = let_it_finish(snakemake, build)
    assert snakemake.returncode == 0, output[-3000:]
    assert check_built_together(data_dir(project)) is not None
    assert (results_dir(project) / "dataset" / "summary.json").is_file()
