"""Writing outputs atomically: a reader (or a crashed run) never leaves a half-written file that looks valid."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd


def _temporary_beside(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    return temporary


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
