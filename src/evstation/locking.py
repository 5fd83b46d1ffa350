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
