"""The files of a training run folder: a JSON-lines metrics log and an atomic checkpoint.

``RUN_DIR/metrics.jsonl`` holds one JSON object per line, in the order things happened (see
``docs/training.md`` for every field):

* ``{"event": "config", ...}`` first: how the run was set up;
* ``{"event": "eval", "iteration", "epoch", "train_loss", "train_acc", "test_loss",
  "test_acc", ...}`` at every test evaluation (train values: mean of the minibatches since the
  previous evaluation; null before the first update);
* ``{"event": "epoch", "epoch", "iteration", "seconds", "eval_seconds", ..., "batch_loss",
  "batch_acc"}`` at every epoch end, with the epoch's per-minibatch values;
* ``{"event": "resume", "epoch", "iteration", "epochs", ...}`` where a run was resumed.

Every line is flushed when written, and the file is fsync'ed at epoch ends, so a run can be
plotted while it trains. Non-finite numbers are written as null (strict JSON). Readers
(:func:`read_metrics`) skip a last line cut short by a killed writer.

``RUN_DIR/checkpoint.npz`` is written after every epoch through a temporary file and
``os.replace``, so it is always the previous complete checkpoint or the new complete one: arrays
``model/<name>`` and ``optimizer/<i>/<key>``, and a JSON string ``__checkpoint__`` with the rest
(:class:`Checkpoint`). It is read without pickle.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "METRICS_FILE",
    "Checkpoint",
    "CheckpointError",
    "MetricsLogError",
    "MetricsWriter",
    "atomic_write",
    "load_checkpoint",
    "read_metrics",
    "save_checkpoint",
]

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_FORMAT = "tinygrad_edu.checkpoint"
CHECKPOINT_VERSION = 1
_META_KEY = "__checkpoint__"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, or does not fit the model/optimiser/data it is loaded into."""


class MetricsLogError(ValueError):
    """A metrics log is missing, empty or corrupt (before its last line)."""


# =============================================================================== files
def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` via a temp file in the same folder, fsync and ``os.replace``: readers see
    the old file or the complete new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays as Python numbers/lists and NaN/inf as None."""
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# =============================================================================== metrics log
class MetricsWriter:
    """Append JSON lines to a metrics log; each line is flushed as it is written.

    ``truncate_at``: when resuming, cut the file to this many bytes first (the size it had at
    the checkpoint), dropping records of work that the resumed run repeats exactly; ``None``
    starts a new, empty log.
    """

    def __init__(self, path: str | os.PathLike[str], truncate_at: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if truncate_at is None:
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        else:
            self._file = open(self.path, "ab")  # noqa: SIM115
            size = self._file.seek(0, os.SEEK_END)
            if size > truncate_at:
                self._file.truncate(truncate_at)
            elif size < truncate_at:  # the log lost its end: keep what is there, whole lines
                self._cut_partial_line()
            self._file.seek(0, os.SEEK_END)

    def _cut_partial_line(self) -> None:
        self._file.flush()
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self._file.truncate(data.rfind(b"\n") + 1)

    @property
    def offset(self) -> int:
        """Bytes written so far (the file's size)."""
        return self._file.tell()

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line (numpy numbers converted, NaN/inf as null); flush."""
        line = json.dumps(_jsonable(record), allow_nan=False, separators=(", ", ": "))
        self._file.write(line.encode() + b"\n")
        self._file.flush()

    def sync(self) -> None:
        """Flush and fsync: what was written survives a crash of the machine."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a metrics log (a ``metrics.jsonl`` file or a run folder holding one).

    A last line without its newline or that is not valid JSON (a writer killed mid-line) is
    skipped; an invalid line before it raises :class:`MetricsLogError` naming the line. Raises
    MetricsLogError for a missing or empty log.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MetricsLogError(f"no metrics log at {path}") from None
    except IsADirectoryError:
        raise MetricsLogError(f"{path} is a folder, not a metrics log") from None
    lines = data.split(b"\n")
    last_number = max((n for n, raw in enumerate(lines, 1) if raw.strip()), default=0)
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == last_number
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if last:
                break  # cut short by a killed writer
            raise MetricsLogError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(record, dict) or "event" not in record:
            if last:
                break
            raise MetricsLogError(f"{path}: line {number} is not a record with an 'event'")
        records.append(record)
    if not records:
        raise MetricsLogError(f"the metrics log {path} is empty")
    return records


# =============================================================================== checkpoint
@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly where it stopped.

    ``model_state``: parameter name -> array; ``optimizer_state``: what
    ``Optimizer.state_dict()`` returned; ``history``: ``History.to_dict()`` so far;
    ``loader_rng`` / ``dropout_rngs``: numpy bit-generator states of the training batch order
    and of each Dropout layer; ``metrics_offset``: the metrics log's size in bytes when the
    checkpoint was taken; ``info``: what the caller asked to keep (the CLI's arguments);
    ``extra``: anything else (data sizes, the model's description, ...).
    """

    epoch: int
    iteration: int
    epochs: int
    model_state: dict[str, np.ndarray]
    optimizer_state: dict[str, Any]
    history: dict[str, Any]
    loader_rng: dict[str, Any] | None = None
    dropout_rngs: list[dict[str, Any]] = field(default_factory=list)
    metrics_offset: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` (``.npz``) atomically; returns the path."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for name, value in checkpoint.model_state.items():
        arrays[f"model/{name}"] = np.asarray(value)
    opt = dict(checkpoint.optimizer_state)
    scalars: list[dict[str, Any]] = []
    for i, entry in enumerate(opt.get("state", [])):
        kept: dict[str, Any] = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optimizer/{i}/{key}"] = value
            else:
                kept[key] = value
        scalars.append(kept)
    opt["state"] = scalars
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "time": time.time(),
        "epoch": checkpoint.epoch,
        "iteration": checkpoint.iteration,
        "epochs": checkpoint.epochs,
        "optimizer": opt,
        "history": checkpoint.history,
        "loader_rng": checkpoint.loader_rng,
        "dropout_rngs": checkpoint.dropout_rngs,
        "metrics_offset": checkpoint.metrics_offset,
        "info": checkpoint.info,
        "extra": checkpoint.extra,
    }
    # NaN stays NaN here (Python's json reads it back): the history must round-trip exactly
    text = json.dumps(_jsonable_keep_nan(meta))
    arrays[_META_KEY] = np.array(text)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def _jsonable_keep_nan(value: Any) -> Any:
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable_keep_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable_keep_nan(v) for v in value]
    return value


def read_npz(
    path: Path, meta_key: str, fmt: str, error: type[Exception], what: str, prefix: str = ""
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of an .npz holding a JSON entry ``meta_key`` whose "format" is ``fmt``
    (models and checkpoints); anything else raises ``error`` with a message naming the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise error(f"{prefix}{path} is not a readable {what} ({_short(e)})") from None
    if meta_key not in arrays:
        raise error(f"{prefix}{path} has no {meta_key} entry: not a tinygrad_edu {what}")
    try:
        meta = json.loads(str(arrays.pop(meta_key)))
    except json.JSONDecodeError as e:
        raise error(f"{prefix}{path}: corrupt {what} metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise error(f"{prefix}{path} is not a tinygrad_edu {what} (format {found!r})")
    return meta, arrays


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (``path`` may be the run folder).

    Raises FileNotFoundError if there is none and :class:`CheckpointError` if it is corrupt.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_FILE
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    meta, arrays = read_npz(path, _META_KEY, CHECKPOINT_FORMAT, CheckpointError, "checkpoint")
    try:
        opt = dict(meta["optimizer"])
        state = [dict(s) for s in opt.get("state", [])]
        model_state: dict[str, np.ndarray] = {}
        for key, value in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "model":
                model_state[rest] = value
            elif kind == "optimizer":
                index, _, name = rest.partition("/")
                state[int(index)][name] = value
            else:
                raise CheckpointError(f"{path}: unexpected entry {key!r}")
        opt["state"] = state
        return Checkpoint(
            epoch=int(meta["epoch"]),
            iteration=int(meta["iteration"]),
            epochs=int(meta["epochs"]),
            model_state=model_state,
            optimizer_state=opt,
            history=dict(meta["history"]),
            loader_rng=meta.get("loader_rng"),
            dropout_rngs=list(meta.get("dropout_rngs") or []),
            metrics_offset=meta.get("metrics_offset"),
            info=dict(meta.get("info") or {}),
            extra=dict(meta.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError, IndexError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path}: corrupt checkpoint ({_short(e)})") from None


def _short(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
