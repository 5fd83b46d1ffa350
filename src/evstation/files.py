"""Writing outputs atomically: a reader (or a crashed run) never leaves a half-written file that looks valid;
and reading a record back, refused in one line when it is missing, empty or cut short all the same."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .errors import DataError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temporary_beside(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # the mode of any new file, not mkstemp's private one
    return temporary


def read_json(path: Path, remedy: str):
    r"""A JSON file the pipeline wrote, or a DataError naming it: missing, a folder, empty, cut short or
    otherwise not JSON; `remedy` tells how to write it again (`run \`evstation build-dataset\``)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file ({remedy})")
    if not path.is_file():
        raise DataError(f"{path}: file not found ({remedy})")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: empty ({remedy})")
    try:
        return json.loads(data)
    except ValueError as error:  # JSONDecodeError, or bytes that are no text
        where = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise DataError(f"{path}: not valid JSON{where}, cut short or damaged ({remedy})") from None


def write_json_atomically(path: Path, data: dict) -> None:
    temporary = _temporary_beside(path)
    with open(temporary, "w") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)


def write_text_atomically(path: Path, text: str) -> None:
    temporary = _temporary_beside(path)
    with open(temporary, "w", newline="") as stream:
        stream.write(text)
    os.replace(temporary, path)


def write_csv_atomically(path: Path, table: pd.DataFrame) -> None:
    temporary = _temporary_beside(path)
    table.to_csv(temporary, index=False)
    os.replace(temporary, path)


@contextmanager
def staged_folder(target: Path):
    """A hidden folder beside `target` to fill; it replaces `target` only if the block succeeds,
    and is removed if it fails, so `target` is always either the old folder or a complete new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# ---------------------------------------------------------------- replacing a folder as a whole

# A crash test names a point of a write; the run then kills itself there (EVSTATION_KILL_AT) or
# stops until sent SIGCONT (EVSTATION_PAUSE_AT), so a test can stop it at that exact point.
KILL_AT, PAUSE_AT = "EVSTATION_KILL_AT", "EVSTATION_PAUSE_AT"
STAGING, OLD = "staging", "old"


def crash_point(name: str) -> None:
    """A named point of a write where a crash test may stop the process (see KILL_AT, PAUSE_AT)."""
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_AT) == name:
        os.kill(os.getpid(), signal.SIGSTOP)


def staging_folder(target: Path) -> Path:
    """An empty hidden folder beside `target` (same file system, so it can be renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{STAGING}-")
    os.chmod(staging, 0o777 & ~_umask())  # the mode of any new folder, not mkdtemp's private one
    return Path(staging)


def leftovers_beside(target: Path) -> list[Path]:
    """What an interrupted replacement of `target` can leave beside it: staging folders, the old
    folder set aside, temporary files of an atomic write."""
    if not target.parent.is_dir():
        return []
    return sorted(
        path
        for pattern in (f".{target.name}.{STAGING}-*", f".{target.name}.{OLD}-*", f".{target.name}.*.tmp")
        for path in target.parent.glob(pattern)
    )


def remove_leftovers_beside(target: Path) -> None:
    """Remove what an interrupted write of `target` left; only while no other run writes it."""
    for path in leftovers_beside(target):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def swap_in_folder(staging: Path, target: Path) -> None:
    """Put the complete folder `staging` in the place of `target` by renames. A crash leaves
    `target` either the old folder, the new one, or missing (the old set aside beside it): never a
    mix of the two, and nothing that is not its own inside it."""
    aside = None
    if target.exists():
        aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{OLD}-"))
        os.replace(target, aside)  # onto the empty folder just made: a rename, nothing copied
        crash_point("old-set-aside")
    os.replace(staging, target)
    crash_point("swapped")
    if aside is not None:
        shutil.rmtree(aside)


def temporary_json_beside(path: Path, data: dict) -> str:
    """`data` written to a hidden temporary file beside `path`, to be renamed onto it later."""
    temporary = _temporary_beside(path)
    with open(temporary, "w") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")
    return temporary
