"""Writing outputs atomically: a reader (or a crashed run) never leaves a half-written file that looks valid;
and reading a record back, refused in one line when it is missing, empty or cut short all the same."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from .errors import FULL, DataError


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


def _json_writer(data) -> Callable[[str], None]:
    def write(path: str) -> None:
        with open(path, "w") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")

    return write


def _text_writer(text: str) -> Callable[[str], None]:
    def write(path: str) -> None:
        with open(path, "w", newline="") as stream:
            stream.write(text)

    return write


def _csv_writer(table: pd.DataFrame) -> Callable[[str], None]:
    return lambda path: table.to_csv(path, index=False)


def _written_beside(path: Path, write: Callable[[str], None]) -> str:
    """A hidden temporary file beside `path` holding what `write` wrote there; removed if it fails
    (a full disk, a file size limit), so no partial file is left."""
    temporary = _temporary_beside(path)
    try:
        write(temporary)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in FULL:
            raise DataError(f"{path}: cannot be written ({error.strerror}); left as it was") from None
        raise
    return temporary


def write_json_atomically(path: Path, data: dict) -> None:
    os.replace(_written_beside(path, _json_writer(data)), path)


def write_text_atomically(path: Path, text: str) -> None:
    os.replace(_written_beside(path, _text_writer(text)), path)


def write_csv_atomically(path: Path, table: pd.DataFrame) -> None:
    os.replace(_written_beside(path, _csv_writer(table)), path)


# ---------------------------------------------------------------- a record of several files


def json_part(data) -> Callable[[str], None]:
    """A record's JSON file (write_record)."""
    return _json_writer(data)


def csv_part(table: pd.DataFrame) -> Callable[[str], None]:
    """A record's CSV file (write_record)."""
    return _csv_writer(table)


def remove_temporaries_of(paths) -> None:
    """Remove the temporary files an interrupted atomic write of each path left beside it; only while
    no other run writes those paths (the caller holds their job's lock)."""
    for path in paths:
        path = Path(path)
        if path.parent.is_dir():
            for temporary in path.parent.glob(f".{path.name}.*.tmp"):
                temporary.unlink(missing_ok=True)


def write_record(parts: dict[Path, Callable[[str], None]], index: Path, write_index: Callable[[str], None]) -> None:
    """Write several files (in any folders) as one record whose `index` file says it is there: a
    controller's metrics with its timeseries. Every file is written to a temporary beside it first (a
    failure removes them all, and leaves the old record as it was); then the old index is removed, the
    parts renamed into place, and the new index renamed in last. So a kill leaves the old record, no
    record (no index: its parts are no record's), or the new one, never an index beside another run's
    parts; what a killed write left beside them goes at the next write. The caller holds the record's lock."""
    every = [*parts, index]
    remove_temporaries_of(every)
    staged: dict[Path, str] = {}
    try:
        for path, write in [*parts.items(), (index, write_index)]:
            staged[Path(path)] = _written_beside(Path(path), write)
    except BaseException:
        for temporary in staged.values():
            Path(temporary).unlink(missing_ok=True)
        raise
    crash_point("record-staged")
    Path(index).unlink(missing_ok=True)
    crash_point("record-index-removed")
    for path in parts:
        os.replace(staged[Path(path)], path)
    crash_point("record-parts-in")
    os.replace(staged[Path(index)], index)


@contextmanager
def staged_folder(target: Path):
    """A hidden folder beside `target` to fill; it replaces `target` by renames (swap_in_folder) only
    if the block succeeds, and is removed if it fails: `target` is the old folder or a complete new
    one (or, killed between two renames, missing, the old one set aside beside it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield staging
        swap_in_folder(staging, target)
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
