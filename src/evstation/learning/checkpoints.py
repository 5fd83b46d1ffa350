"""Checkpoints of a training run: written atomically, verified on load, rotated.

Layout under `results/scenarios/<scenario>/checkpoints/<agent>/seed<k>/`:
    step_000004096/  model.zip, normalization.pkl, [replay_buffer.pkl], meta.json
    final/           the same for the finished model
`meta.json` is written last and holds each file's size and SHA-256: a checkpoint whose meta is
missing (a process killed mid-write) or whose files do not match it (truncated, corrupted) is
skipped with a warning and the previous one is used. Each checkpoint is first written into a
hidden temporary folder and then renamed, so a half-written one never carries a valid name.

SAC's replay buffer is large (hundreds of MB at full size): it is kept only in the newest
checkpoint, and removed from older ones once a newer checkpoint is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..files import staged_folder

log = logging.getLogger(__name__)

MODEL_FILE, NORMALIZATION_FILE, REPLAY_FILE, META_FILE = "model.zip", "normalization.pkl", "replay_buffer.pkl", "meta.json"
STEP_PREFIX, FINAL = "step_", "final"
HASH_CHUNK_BYTES = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    folder: Path
    num_timesteps: int

    @property
    def model(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def normalization(self) -> Path:
        return self.folder / NORMALIZATION_FILE

    @property
    def replay_buffer(self) -> Path | None:
        path = self.folder / REPLAY_FILE
        return path if path.is_file() else None


def verify(folder: Path, fingerprint: str | None = None) -> Checkpoint | None:
    """The checkpoint in `folder` if it is complete, intact and (when given) of the same settings,
    else None with the reason logged."""
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        if fingerprint is not None and meta.get("fingerprint") != fingerprint:
            log.warning("checkpoint %s was trained with other settings or data: not resumed from", folder)
            return None
        for name, expected in meta["files"].items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
                raise ValueError(f"{name} does not match its recorded size or hash")
        return Checkpoint(folder, int(meta["num_timesteps"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        log.warning("checkpoint %s is incomplete or corrupt (%s): skipped", folder, error)
        return None


class CheckpointStore:
    """The checkpoints of one training run (one agent, one seed).

    `fingerprint` identifies the settings and data the run was trained with: a checkpoint written
    under another fingerprint (params changed since) is never resumed from."""

    def __init__(self, root: Path, keep: int, fingerprint: str = ""):
        self.root = Path(root)
        self.keep = keep
        self.fingerprint = fingerprint

    def _step_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(path for path in self.root.iterdir() if path.is_dir() and path.name.startswith(STEP_PREFIX))

    def save(self, model, normalization, *, with_replay_buffer: bool, final: bool = False) -> Checkpoint:
        name = FINAL if final else f"{STEP_PREFIX}{model.num_timesteps:09d}"
        target = self.root / name
        with staged_folder(target) as staging:
            model.save(staging / MODEL_FILE)
            normalization.save(str(staging / NORMALIZATION_FILE))
            if with_replay_buffer:
                model.save_replay_buffer(staging / REPLAY_FILE)
            files = {path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)} for path in sorted(staging.iterdir())}
            meta = {"num_timesteps": int(model.num_timesteps), "fingerprint": self.fingerprint, "files": files}
            (staging / META_FILE).write_text(json.dumps(meta, indent=2))
        if not final:
            self._rotate(keep_buffer_in=target)
        return Checkpoint(target, int(model.num_timesteps))

    def _rotate(self, keep_buffer_in: Path) -> None:
        folders = self._step_folders()
        for old in folders[: max(len(folders) - self.keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)
        for folder in self._step_folders():
            buffer = folder / REPLAY_FILE
            if folder != keep_buffer_in and buffer.exists():
                buffer.unlink()
                meta = json.loads((folder / META_FILE).read_text())
                meta["files"].pop(REPLAY_FILE, None)
                (folder / META_FILE).write_text(json.dumps(meta, indent=2))

    def newest(self) -> Checkpoint | None:
        """The newest intact periodic checkpoint, falling back past corrupt ones."""
        for folder in reversed(self._step_folders()):
            checkpoint = verify(folder, self.fingerprint)
            if checkpoint is not None:
                return checkpoint
        return None

    def final(self) -> Checkpoint | None:
        folder = self.root / FINAL
        return verify(folder) if folder.is_dir() else None

    def clear(self) -> None:
        """Start afresh: remove every checkpoint of this run."""
        if self.root.exists():
            shutil.rmtree(self.root)
