"""One run at a time per output, whichever front end started it (Snakemake, DVC, by hand).

Each stage command locks the outputs it writes before it writes anything: an exclusive,
non-blocking `flock` (filelock's FileLock) on a hidden lock file beside the output (`data/<scenario>/.citylearn.lock`
for a scenario's datasets). A second run of the same target is refused at once, in one line; runs
of other targets (the baselines Snakemake starts in parallel) take other locks and go on. A
command that reads a scenario's datasets holds a shared lock on them, so the datasets are not
rebuilt under it, while any number of readers run together. The kernel releases a lock when its
process ends however it ends, so a killed run leaves nothing to clean up: the lock files stay.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import UserError


class LockedError(UserError):
    """The output is being written (or its input rebuilt) by another run."""


def output_lock(target: Path) -> Path:
    """The lock of one output (a file or a folder): beside it, hidden, never inside it, so a folder
    output stays exactly what the run wrote."""
    return target.parent / f".{target.name}.lock"


def job_lock(folder: Path, job: str) -> Path:
    """The lock of one job among several that write into `folder` (a baseline, an agent's seed)."""
    return folder / f".{job}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> str:
    """` (pid N)` of the writer holding `path`, where its pid is there and alive; empty for readers."""
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() and _alive(int(pid)) else ""


def _refused(path: Path, what: str, shared: bool) -> LockedError:
    holder = _holder(path)
    doing = "written" if shared or holder else "read"
    return LockedError(
        f"{what} is being {doing} by another run{holder}; wait for it to finish "
        f"(its lock, {path}, is released when that process ends)"
    )


def _unwritable(path: Path, what: str, error: OSError) -> UserError:
    """The one line for a lock that cannot be created: a read-only folder, a file where a folder is needed."""
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return UserError(f"{existing}: a file where a folder is needed (for the lock of {what}, {path})")
    return UserError(f"{path}: the lock of {what} cannot be taken ({error.strerror or error})")


def _write_pid(descriptor: int) -> None:
    """The writer's pid in its lock file, for the message another run gets."""
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, str(os.getpid()).encode(), 0)


def _acquire_exclusive(path: Path, what: str) -> FileLock:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, blocking=False, on_acquired=_write_pid)
        lock.acquire()
    except Timeout:  # before OSError, which filelock's Timeout is
        raise _refused(path, what, shared=False) from None
    except OSError as error:
        raise _unwritable(path, what, error) from None
    return lock


def _release_exclusive(lock: FileLock, path: Path) -> None:
    with suppress(FileNotFoundError):  # a lock file removed under the run: no pid to clear
        os.truncate(path, 0)  # no pid left behind once the writer is done
    lock.release()


def _acquire_shared(path: Path, what: str):
    # hand-written: filelock's FileLock is exclusive only, and its ReadWriteLock (a SQLite file) lets one process hold
    # it twice and is no flock the writers' FileLock on this file would contend with
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a+")
    except OSError as error:
        raise _unwritable(path, what, error) from None
    try:
        fcntl.flock(stream, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        stream.close()
        raise _refused(path, what, shared=True) from None
    return stream


def _release_shared(stream) -> None:
    fcntl.flock(stream, fcntl.LOCK_UN)
    stream.close()


@contextmanager
def locked(writes: dict[str, Path] | None = None, reads: dict[str, Path] | None = None):
    """Hold an exclusive lock for each output written and a shared one for each input read (both
    {what: lock file}); raise LockedError (exit 2) at once, holding nothing, if another run has one."""
    with ExitStack() as stack:
        for what, path in (reads or {}).items():
            stack.callback(_release_shared, _acquire_shared(Path(path), what))
        for what, path in (writes or {}).items():
            stack.callback(_release_exclusive, _acquire_exclusive(Path(path), what), Path(path))
        yield


# ---------------------------------------------------------------- which run writes an output

_SCENARIO_RESULTS = re.compile(r"^results/scenarios/(?P<scenario>[^/]+)/(?P<rest>.+)$")
_DATASETS = re.compile(r"^data/(?P<scenario>[^/]+)/citylearn$")
_RUN = re.compile(
    r"^(?:checkpoints/(?P<agent>[a-z0-9]+)/seed(?P<seed>\d+)(?:/.*)?"
    r"|curves/(?P<cagent>[a-z0-9]+)_seed(?P<cseed>\d+)\.csv)$"
)
_CONTROLLER = re.compile(r"^(?:metrics/(?P<metrics>.+)\.json|timeseries/(?P<series>.+)_(?:train|eval)\.csv)$")
_SEED_RECORD = re.compile(r"^(?P<agent>[a-z0-9]+)_seed(?P<seed>\d+)$")


def writer_lock(output: str | Path) -> Path | None:
    """The lock the stage command writing `output` (a path relative to the project, as the pipeline's
    declarations name it) holds while it writes it; None for a path no stage command writes."""
    path = Path(output)
    text = path.as_posix()
    if _DATASETS.match(text):
        return output_lock(path)
    if text.startswith("results/report/"):
        return output_lock(Path("results/report"))
    found = _SCENARIO_RESULTS.match(text)
    if found is None:
        return None
    results, rest = Path("results/scenarios") / found["scenario"], found["rest"]
    if rest == "validation.json":
        return output_lock(results / rest)
    if rest == "dataset/summary.json":
        return output_lock(Path("data") / found["scenario"] / "citylearn")
    run = _RUN.match(rest)
    if run is not None:
        return job_lock(results, f"{run['agent'] or run['cagent']}-seed{run['seed'] or run['cseed']}")
    controller = _CONTROLLER.match(rest)
    name = (controller["metrics"] or controller["series"]) if controller else None
    if rest.startswith("oracle/") and rest.endswith("_lp.json"):  # train_lp.json, <name>_eval_lp.json
        stem = rest.removeprefix("oracle/").removesuffix("_lp.json").rsplit("_", 1)
        name = stem[0] if len(stem) == 2 else "oracle"
    if name is None:
        return None
    seeded = _SEED_RECORD.match(name)
    return job_lock(results, f"{seeded['agent']}-seed{seeded['seed']}" if seeded else f"baseline-{name}")


def held_elsewhere(outputs) -> list[str]:
    """The outputs among `outputs` whose writer's lock another run holds now (a run writing them, or, for
    a dataset, one reading it), as `output (its lock L, pid N)`, one per lock: a front end about to remove
    outputs before it runs their jobs asks first. Nothing is created and nothing is held once it returns."""
    held, seen = [], set()
    for output in outputs:
        lock = writer_lock(output)
        if lock is None or lock in seen or not lock.is_file():  # no run ever locked it
            continue
        seen.add(lock)
        probe = FileLock(lock, blocking=False)
        try:
            probe.acquire()
        except Timeout:  # before OSError, which filelock's Timeout is
            holder = _holder(lock).strip(" ()")  # "pid N" of a writer, nothing for readers
            held.append(f"{output} (its lock {lock}{', ' + holder if holder else ''})")
            continue
        except OSError:  # a lock this user cannot open: the job's own run refuses in its own line
            continue
        probe.release()
    return held
