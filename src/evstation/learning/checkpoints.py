"""Checkpoints of a training run: written atomically, verified on load, rotated.

Layout under `results/scenarios/<scenario>/checkpoints/<agent>/seed<k>/`:
    step_000004096/  model.zip, normalization.pkl, [replay_buffer.pkl], [run_state.pkl], curve.csv, meta.json
    best/            the best-scoring model so far (model selection), and selection.json beside it
    final/           the finished model: the training stage's output in both front ends
    curve.csv        the learning curve so far (training.live_curve_path)
Only `final/` is a declared output (with the learning curve, in `curves/`, written once `final/` is):
the periodic checkpoints and the curve so far are the run's own state, which no front end caches or
judges a job by, so a killed run resumes from them under either. Each periodic checkpoint carries the
learning curve up to its step, so a resumed run writes the curve whole.
`meta.json` is written last and holds each file's size and SHA-256: a checkpoint whose meta is
missing (a process killed mid-write) or whose files do not match it (truncated, corrupted) is
skipped with a warning and the previous one is used. Each checkpoint is first written into a
hidden temporary folder and then renamed, so a half-written one never carries a valid name.

SAC's replay buffer is large (hundreds of MB at full size): it is kept only in the newest
checkpoint, and removed from older ones once a newer checkpoint is complete.

Equal content is equal bytes, so DVC takes a retrained but unchanged model for the same one:
stable-baselines3's zip stamps each entry with the time of the save and adds `system_info.txt`
(the host's OS and versions) and the run's start time; the saved data also spells out each
pickled object's attributes with their memory addresses (descriptive only: loading reads the
pickled form). `save_model` writes the same zip without those, entries in a fixed order at a
fixed date; pickles use a fixed protocol.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import pickle
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.save_util import recursive_getattr

from ..errors import DataError
from ..files import staged_folder, write_text_atomically

log = logging.getLogger(__name__)

MODEL_FILE, NORMALIZATION_FILE, REPLAY_FILE, META_FILE = (
    "model.zip",
    "normalization.pkl",
    "replay_buffer.pkl",
    "meta.json",
)
RUN_STATE_FILE = "run_state.pkl"
CURVE_FILE = "curve.csv"  # a periodic checkpoint's learning curve up to its step
STEP_PREFIX, FINAL, BEST = "step_", "final", "best"
HASH_CHUNK_BYTES = 1 << 20
PICKLE_PROTOCOL = 4
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
ZIP_FILE_MODE = 0o644
UNSAVED_MODEL_ATTRIBUTES = ("start_time", "_num_timesteps_at_start")  # when this process started learning
UNSAVED_ZIP_ENTRIES = ("system_info.txt",)  # the host's OS and versions; loading never reads it
SERIALIZED, TYPE = ":serialized:", ":type:"


def canonical_model_data(text: bytes) -> bytes:
    """stable-baselines3's `data` entry with only what loading reads of each pickled object."""
    data = json.loads(text)
    for key, value in data.items():
        if isinstance(value, dict) and SERIALIZED in value:
            data[key] = {TYPE: value.get(TYPE, ""), SERIALIZED: value[SERIALIZED]}
    return json.dumps(data, indent=4).encode()


def canonical_zip(content: bytes) -> bytes:
    """The same archive with fixed dates, modes and order, without the host's system information."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(output, "w", zipfile.ZIP_STORED) as target:
        for name in sorted(source.namelist()):
            if name in UNSAVED_ZIP_ENTRIES:
                continue
            entry = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            entry.create_system, entry.external_attr = 3, ZIP_FILE_MODE << 16
            body = source.read(name)
            target.writestr(entry, canonical_model_data(body) if name == "data" else body)
    return output.getvalue()


def save_model(model, path: Path) -> None:
    """The model as stable-baselines3 saves it, in bytes that depend on its content only."""
    buffer = io.BytesIO()
    model.save(buffer, exclude=list(UNSAVED_MODEL_ATTRIBUTES))
    Path(path).write_bytes(canonical_zip(buffer.getvalue()))


class CanonicalPickler(pickle.Pickler):
    """A pickler whose bytes do not depend on where the numpy data types came from.

    numpy shares one data-type object per type (`np.dtype("f8")`), but an array read back from a
    pickle (a resumed run's statistics and state) carries a private copy of its data type, which
    pickle then writes out again in full where the shared one would be a back-reference: equal
    arrays, other bytes. Every array and numpy scalar is written here with the shared data type."""

    def reducer_override(self, value):
        if isinstance(value, np.ndarray) and type(value) is np.ndarray:
            function, arguments, state = value.__reduce__()
            return function, arguments, (state[0], state[1], _shared_dtype(state[2]), *state[3:])
        if isinstance(value, np.generic):
            function, (dtype, data) = value.__reduce__()[:2]
            return function, (_shared_dtype(dtype), data)
        return NotImplemented


def _shared_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(dtype.str) if dtype.fields is None and dtype.subdtype is None else dtype


def canonical_pickle(value) -> bytes:
    """`value` pickled with a fixed protocol and shared numpy data types: equal content, equal bytes."""
    stream = io.BytesIO()
    CanonicalPickler(stream, protocol=PICKLE_PROTOCOL).dump(value)
    return stream.getvalue()


def save_pickle(value, path: Path) -> None:
    Path(path).write_bytes(canonical_pickle(value))


# The replay buffer is saved as its contents only: the buffer object also holds the spaces and
# shapes it was built with, whose pickled form depends on which objects they share.
REPLAY_CONTENTS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts", "pos", "full")


def save_replay_buffer(model, path: Path) -> None:
    buffer = model.replay_buffer
    save_pickle({name: getattr(buffer, name) for name in REPLAY_CONTENTS if hasattr(buffer, name)}, path)


def load_replay_buffer(model, path: Path) -> None:
    """Fill the model's own (freshly built) replay buffer with a checkpoint's contents."""
    contents = pickle.loads(Path(path).read_bytes())
    if not isinstance(contents, dict):  # a checkpoint written whole by stable-baselines3
        model.load_replay_buffer(path)
        return
    buffer = model.replay_buffer
    for name, value in contents.items():
        current = getattr(buffer, name)
        if isinstance(current, np.ndarray) and (value.shape != current.shape or value.dtype != current.dtype):
            raise DataError(
                f"{path}: {name} is {value.shape} {value.dtype}, the model's buffer {current.shape} {current.dtype}"
            )
        setattr(buffer, name, value)


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

    def meta(self) -> dict:
        """What the checkpoint records of itself: its settings, data, counters, and what the run added."""
        return json.loads((self.folder / META_FILE).read_text())

    @property
    def replay_buffer(self) -> Path | None:
        path = self.folder / REPLAY_FILE
        return path if path.is_file() else None

    @property
    def curve(self) -> Path | None:
        """The learning curve's rows up to this checkpoint (periodic checkpoints; none in older ones)."""
        path = self.folder / CURVE_FILE
        return path if path.is_file() else None

    @property
    def run_state(self) -> Path | None:
        """The training run's own state at this point (fast simulator only; see run_state.py)."""
        path = self.folder / RUN_STATE_FILE
        return path if path.is_file() else None


# why a periodic checkpoint is passed over when a run resumes
OTHER_SETTINGS = "other settings or data"  # params or data changed since: routine, not a fault
DAMAGED = "damaged"  # incomplete or corrupt: each is warned of


def _verdict(folder: Path, fingerprint: str | None) -> Checkpoint | str:
    """The checkpoint in `folder`, or why it cannot be used (OTHER_SETTINGS, DAMAGED: warned of here)."""
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
        if fingerprint is not None and meta.get("fingerprint") != fingerprint:
            return OTHER_SETTINGS
        for name, expected in meta["files"].items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
                raise ValueError(f"{name} does not match its recorded size or hash")
        return Checkpoint(folder, int(meta["num_timesteps"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        log.warning("checkpoint %s is incomplete or corrupt (%s): skipped", folder, error)
        return DAMAGED


def verify(folder: Path, fingerprint: str | None = None) -> Checkpoint | None:
    """The checkpoint in `folder` if it is complete, intact and (when given) of the same settings,
    else None: with a warning where it is damaged, quietly where it is of other settings or data."""
    found = _verdict(folder, fingerprint)
    return found if isinstance(found, Checkpoint) else None


class CheckpointStore:
    """The checkpoints of one training run (one agent, one seed).

    `fingerprint` identifies the settings and data the run was trained with: a checkpoint written
    under another fingerprint (params changed since) is never resumed from. Without one (a store
    only read from), every intact checkpoint is found; what it was trained under is checked apart."""

    def __init__(self, root: Path, keep: int, fingerprint: str | None = None, record: dict | None = None):
        self.root = Path(root)
        self.keep = keep
        self.fingerprint = fingerprint
        self.record = dict(record or {})  # written into every meta: the settings and data trained on

    def _step_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(path for path in self.root.iterdir() if path.is_dir() and path.name.startswith(STEP_PREFIX))

    def save(
        self,
        model,
        normalization,
        *,
        with_replay_buffer: bool,
        final: bool = False,
        best: bool = False,
        run_state: bytes | None = None,
        curve: str | None = None,
        extra: dict | None = None,
    ) -> Checkpoint:
        name = FINAL if final else BEST if best else f"{STEP_PREFIX}{model.num_timesteps:09d}"
        target = self.root / name
        with staged_folder(target) as staging:
            save_model(model, staging / MODEL_FILE)
            save_pickle(normalization, staging / NORMALIZATION_FILE)
            if with_replay_buffer:
                save_replay_buffer(model, staging / REPLAY_FILE)
            if run_state is not None:
                (staging / RUN_STATE_FILE).write_bytes(run_state)
            if curve is not None:
                (staging / CURVE_FILE).write_text(curve)
            self._write_meta(staging, int(model.num_timesteps), extra)
        if not (final or best):
            self._rotate(keep_buffer_in=target)
        return Checkpoint(target, int(model.num_timesteps))

    def save_files(
        self, files: dict[str, bytes], num_timesteps: int, *, final: bool = False, extra: dict | None = None
    ) -> Checkpoint:
        """A checkpoint of a learner with its own training loop (learning/es.py): its files as bytes, staged,
        verified, named and rotated as `save` does a stable-baselines3 model's."""
        target = self.root / (FINAL if final else f"{STEP_PREFIX}{num_timesteps:09d}")
        with staged_folder(target) as staging:
            for name, content in sorted(files.items()):
                (staging / name).write_bytes(content)
            self._write_meta(staging, num_timesteps, extra)
        if not final:
            self._rotate(keep_buffer_in=target)
        return Checkpoint(target, num_timesteps)

    def _write_meta(self, staging: Path, num_timesteps: int, extra: dict | None) -> None:
        """The meta, written last: each file's size and hash, the settings and data trained under."""
        files = {
            path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)} for path in sorted(staging.iterdir())
        }
        meta = {
            "num_timesteps": num_timesteps,
            "fingerprint": self.fingerprint,
            **self.record,
            **(extra or {}),
            "files": files,
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2))

    def _rotate(self, keep_buffer_in: Path) -> None:
        folders = self._step_folders()
        for old in folders[: max(len(folders) - self.keep, 0)]:
            shutil.rmtree(old, ignore_errors=True)
        for folder in self._step_folders():
            if folder == keep_buffer_in:
                continue
            (folder / REPLAY_FILE).unlink(missing_ok=True)
            # the meta is rewritten even where the buffer is already gone: a kill between the two
            # steps must not leave a checkpoint whose meta names a file it no longer has
            meta_path = folder / META_FILE
            meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
            if meta is not None and REPLAY_FILE in meta["files"]:
                meta["files"].pop(REPLAY_FILE)
                write_text_atomically(meta_path, json.dumps(meta, indent=2))

    def newest(self) -> Checkpoint | None:
        """The newest intact periodic checkpoint, falling back past corrupt ones."""
        return self.resumable()[0]

    def resumable(self) -> tuple[Checkpoint | None, dict[str, int]]:
        """The newest intact periodic checkpoint of the store's fingerprint, and how many newer ones
        were passed over, by reason: {OTHER_SETTINGS: n, DAMAGED: m}."""
        passed = {OTHER_SETTINGS: 0, DAMAGED: 0}
        for folder in reversed(self._step_folders()):
            found = _verdict(folder, self.fingerprint)
            if isinstance(found, Checkpoint):
                return found, passed
            passed[found] += 1
        return None, passed

    def final(self) -> Checkpoint | None:
        folder = self.root / FINAL
        return verify(folder) if folder.is_dir() else None

    def best(self) -> Checkpoint | None:
        """The best-scoring model so far (model selection); it becomes `final/` when the run ends."""
        folder = self.root / BEST
        return verify(folder) if folder.is_dir() else None

    def promote_best(self, extra: dict | None = None) -> Checkpoint:
        """Copy `best/` to `final/` (staged, so `final/` appears only whole, and only once the run
        ended); `extra` joins its meta (what the run as a whole did)."""
        best = self.best()
        if best is None:
            raise ValueError(f"{self.root}: no intact best model to make final")
        with staged_folder(self.root / FINAL) as staging:
            for path in sorted(best.folder.iterdir()):
                shutil.copy2(path, staging / path.name)
            if extra:
                meta = json.loads((staging / META_FILE).read_text())
                files = meta.pop("files")
                (staging / META_FILE).write_text(json.dumps({**meta, **extra, "files": files}, indent=2))
        return Checkpoint(self.root / FINAL, best.num_timesteps)

    def discard_unfinished(self) -> None:
        """Remove the hidden staging folders a killed run left behind: they are no checkpoint, and
        inside the run's folder (a DVC output) they would make an identical run hash differently."""
        if self.root.is_dir():
            for path in self.root.iterdir():
                if path.is_dir() and path.name.startswith("."):
                    shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> None:
        """Start afresh: remove everything of the run but its final model, which stays until a new
        final model replaces it whole (a run that fails or is killed leaves the old one in place)."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            if path.name == FINAL:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def settle_loaded_optimizers(model) -> None:
    """Make a model loaded from a checkpoint save as a run never stopped would, in two ways.

    - The optimisers' state keys (`step`, `exp_avg`, ...) are put back as the interned strings the
      optimiser's own code uses. Loaded, they are strings read from the pickle; a parameter whose
      state the optimiser creates only after the resume (an actor held out of the gradient by the
      critic's warm-up, checkpointed inside it) gets the code's strings. Pickle writes an object it
      has seen as a back-reference, so the mix of both spelled the same state in other bytes.
    - The `step` counters go back on the CPU (a GPU resume): stable-baselines3 loads a checkpoint
      with every tensor mapped to the training device, and torch leaves the counters where they were
      loaded (it keeps them on the CPU unless an optimiser is fused or capturable); saved from the
      GPU, they were the same numbers as a run never stopped, other bytes."""
    state_dicts, _ = model._get_torch_save_params()
    for name in state_dicts:
        optimizer = recursive_getattr(model, name)
        if not isinstance(optimizer, torch.optim.Optimizer):
            continue
        for parameter, state in list(optimizer.state.items()):
            optimizer.state[parameter] = {
                sys.intern(key) if isinstance(key, str) else key: value for key, value in state.items()
            }
        for group in optimizer.param_groups:
            if group.get("fused") or group.get("capturable"):
                continue
            for parameter in group["params"]:
                state = optimizer.state.get(parameter, {})
                if torch.is_tensor(state.get("step")):
                    state["step"] = state["step"].cpu()
