"""What `train --resume` says when it cannot resume: a routine fresh start (no checkpoint yet, or only of
other settings after a params change) is one INFO line; only a damaged checkpoint warns.

The checkpoints here are folders as the store writes them (a file and its meta), without training."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from evstation.learning.checkpoints import META_FILE, MODEL_FILE, STEP_PREFIX, CheckpointStore
from evstation.learning.training import resume_point

FINGERPRINT = "these settings and data"


def checkpoint(root: Path, step: int, fingerprint: str = FINGERPRINT, damaged: bool = False) -> Path:
    folder = root / f"{STEP_PREFIX}{step:09d}"
    folder.mkdir(parents=True)
    content = b"a model"
    (folder / MODEL_FILE).write_bytes(content)
    files = {MODEL_FILE: {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}}
    (folder / META_FILE).write_text(json.dumps({"num_timesteps": step, "fingerprint": fingerprint, "files": files}))
    if damaged:
        (folder / MODEL_FILE).write_bytes(content[:3])  # a write cut short
    return folder


def resumed(root: Path, caplog) -> tuple[Path | None, list[tuple[int, str]]]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="evstation"):
        found = resume_point(CheckpointStore(root, keep=3, fingerprint=FINGERPRINT), "ppo", 0)
    return (found.folder if found else None), [(record.levelno, record.getMessage()) for record in caplog.records]


def test_no_checkpoint_yet_is_one_info_line(tmp_path, caplog):
    assert resumed(tmp_path / "run", caplog) == (
        None,
        [(logging.INFO, "ppo seed 0: no checkpoint to resume from: training from the start")],
    )


def test_checkpoints_of_other_settings_are_one_info_line(tmp_path, caplog):
    for step in (64, 128, 192):
        checkpoint(tmp_path, step, fingerprint="the settings before a params change")
    found, messages = resumed(tmp_path, caplog)
    assert found is None
    assert messages == [
        (
            logging.INFO,
            "ppo seed 0: its checkpoints (3) were trained with other settings or data: training from the start",
        )
    ]


@pytest.mark.parametrize("intact_before", [False, True])
def test_a_damaged_checkpoint_warns(tmp_path, caplog, intact_before):
    previous = checkpoint(tmp_path, 64) if intact_before else None
    damaged = checkpoint(tmp_path, 128, damaged=True)
    found, messages = resumed(tmp_path, caplog)
    assert found == previous  # falls back past the damaged one
    assert messages[0][0] == logging.WARNING and f"{damaged} is incomplete or corrupt" in messages[0][1]
    if intact_before:
        assert messages[1:] == []
    else:
        assert messages[1:] == [
            (logging.WARNING, "ppo seed 0: no intact checkpoint to resume from: training from the start")
        ]


def test_a_store_only_read_from_finds_the_newest_of_any_settings(tmp_path, caplog):
    """`train --eval-only --checkpoint newest` reads the store without a fingerprint; what the model was
    trained under is checked apart, with its own message."""
    newest = checkpoint(tmp_path, 128)
    checkpoint(tmp_path, 64)
    with caplog.at_level(logging.INFO, logger="evstation"):
        assert CheckpointStore(tmp_path, keep=3).newest().folder == newest
    assert caplog.records == []
