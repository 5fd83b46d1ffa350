"""One run at a time per output, whichever front end started it (Snakemake, DVC, by hand).

Each stage command locks the outputs it writes before it writes anything: an exclusive,
non-blocking `flock` on a hidden lock file beside the output (`data/<scenario>/.citylearn.lock`
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
from contextlib import ExitStack, contextmanager
from pathlib import Path

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


def _holder(stream) -> str:
    stream.seek(0)
    pid = stream.read().strip()
    return f" (pid {pid})" if pid.isdigit() and _alive(int(pid)) else ""


def _acquire(path: Path, shared: bool, what: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "a+")
    try:
        fcntl.flock(stream, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(stream)
        stream.close()
        doing = "written" if shared or holder else "read"
        raise LockedError(
            f"{what} is being {doing} by another run{holder}; wait for it to finish "
            f"(its lock, {path}, is released when that process ends)"
        ) from None
    if not shared:  # the writer's pid, for the message another run gets
        stream.seek(0)
        stream.truncate()
        stream.write(str(os.getpid()))
        stream.flush()
    return stream


def _release(stream, shared: bool) -> None:
    if not shared:
        stream.seek(0)
        stream.truncate()  # no pid left behind once the writer is done
        stream.flush()
    fcntl.flock(stream, fcntl.LOCK_UN)
    stream.close()


@contextmanager
def locked(writes: dict[str, Path] | None = None, reads: dict[str, Path] | None = None):
    """Hold an exclusive lock for each output written and a shared one for each input read (both
    {what: lock file}); raise LockedError (exit 2) at once, holding nothing, if another run has one."""
    with ExitStack() as stack:
        for what, path in (reads or {}).items():
            stack.callback(_release, _acquire(path, True, what), True)
        for what, path in (writes or {}).items():
            stack.callback(_release, _acquire(path, False, what), False)
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
        with open(lock) as stream:
            try:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(stream).strip(" ()")  # "pid N" of a writer, nothing for readers
                held.append(f"{output} (its lock {lock}{', ' + holder if holder else ''})")
                continue
            fcntl.flock(stream, fcntl.LOCK_UN)
    return held
