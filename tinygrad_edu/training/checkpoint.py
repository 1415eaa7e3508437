"""The checkpoint of a run folder: everything needed to continue a run where it stopped.

``RUN_DIR/checkpoint.npz`` is written after every epoch through a temporary file and
``os.replace``, so it is always the previous complete checkpoint or the new complete one: arrays
``model/<name>``, ``optimizer/<i>/<key>`` and ``history/<list>``, and a JSON string
``__checkpoint__`` with the rest (:class:`Checkpoint`). It is read without pickle.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import is_integer
from .files import atomic_write, jsonable, one_line, read_npz

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_FORMAT = "tinygrad_edu.checkpoint"
CHECKPOINT_VERSION = 2  # 2: the history's lists as arrays (version 1 checkpoints still load)
_META_KEY = "__checkpoint__"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, or does not fit the model/optimiser/data it is loaded into."""


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly where it stopped.

    ``model_state``: parameter name -> array; ``optimizer_state``: what
    ``Optimizer.state_dict()`` returned; ``history``: ``History.to_dict()`` so far;
    ``loader_rng`` / ``dropout_rngs``: numpy bit-generator states of the training batch order
    and of each Dropout layer; ``metrics_offset``: the metrics log's size in bytes when the
    checkpoint was taken; ``callbacks``: each stateful callback's ``state_dict()`` by its name
    (:func:`~tinygrad_edu.training.callbacks.callback_states`; None in checkpoints written
    before callbacks had state); ``info``: what the caller asked to keep (the CLI's arguments);
    ``extra``: anything else (data sizes, the model's description, ...); ``run_id``: the run's
    identity, also in its metrics log (None in checkpoints written before there were any).
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
    callbacks: dict[str, dict[str, Any]] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None


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
    history = _history_arrays(checkpoint.history, arrays)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "time": time.time(),
        "epoch": checkpoint.epoch,
        "iteration": checkpoint.iteration,
        "epochs": checkpoint.epochs,
        "optimizer": opt,
        "history": history,
        "loader_rng": checkpoint.loader_rng,
        "dropout_rngs": checkpoint.dropout_rngs,
        "metrics_offset": checkpoint.metrics_offset,
        "callbacks": checkpoint.callbacks,
        "info": checkpoint.info,
        "extra": checkpoint.extra,
        "run_id": checkpoint.run_id,
    }
    # NaN stays NaN here (Python's json reads it back): the history must round-trip exactly
    text = json.dumps(jsonable(meta, nan=True))
    arrays[_META_KEY] = np.array(text)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


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
        history = dict(meta["history"])
        for key, value in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "model":
                model_state[rest] = value
            elif kind == "optimizer":
                index, _, name = rest.partition("/")
                state[int(index)][name] = value
            elif kind == "history" and value.ndim == 1:
                history[rest] = value.tolist()  # float64 and int64: the numbers exactly
            else:
                raise CheckpointError(f"{path}: unexpected entry {key!r}")
        opt["state"] = state
        counts = {key: _count(meta, key) for key in ("epoch", "iteration", "epochs")}
        offset = meta.get("metrics_offset")
        if offset is not None:
            offset = _count(meta, "metrics_offset")
        callbacks = meta.get("callbacks")
        if callbacks is not None and not isinstance(callbacks, dict):
            raise ValueError(f"callbacks must be an object, got {callbacks!r}")
        run_id = meta.get("run_id")
        if run_id is not None and not isinstance(run_id, str):
            raise ValueError(f"run_id must be a string, got {run_id!r}")
        return Checkpoint(
            **counts,
            model_state=model_state,
            optimizer_state=opt,
            history=history,
            loader_rng=meta.get("loader_rng"),
            dropout_rngs=list(meta.get("dropout_rngs") or []),
            metrics_offset=offset,
            callbacks=callbacks,
            info=dict(meta.get("info") or {}),
            extra=dict(meta.get("extra") or {}),
            run_id=run_id,
        )
    except (KeyError, TypeError, ValueError, IndexError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path}: corrupt checkpoint ({one_line(e)})") from None


def _history_arrays(history: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The history's lists of numbers into ``arrays`` as ``history/<name>`` (int64 for a list of
    integers such as the iteration counts, else float64: both give the numbers back exactly);
    returns what is left for the JSON (the config).

    Why: every epoch's checkpoint holds the whole history so far; as JSON text, a history of
    30,000 updates took 42 ms to write, each epoch, so a long run slowed down as it went; with
    the lists as arrays the whole checkpoint takes 6-8 ms."""
    rest: dict[str, Any] = {}
    for name, values in history.items():
        numbers = _numbers(values)
        if numbers is not None:
            arrays[f"history/{name}"] = numbers
        else:
            rest[name] = values
    return rest


def _numbers(values: Any) -> np.ndarray | None:
    """A list of integers as an int64 array, or of floats as a float64 array (Python's numbers or
    numpy's, each list one kind), if that holds them exactly; else None."""
    if not isinstance(values, list):
        return None
    kinds = set(map(type, values))
    if kinds and all(issubclass(k, int | np.integer) and k is not bool for k in kinds):
        dtype: Any = np.int64
    elif all(issubclass(k, float | np.floating) for k in kinds):
        dtype = np.float64
    else:
        return None
    try:
        arr = np.array(values)
    except OverflowError:  # an int beyond what numpy holds
        return None
    if arr.dtype.kind not in "if" or arr.dtype.itemsize > 8:
        return None  # beyond int64 (uint64 or objects), or a longdouble
    return arr.astype(dtype)


def _count(meta: dict[str, Any], key: str) -> int:
    """``meta[key]``, which must be an integer >= 0 (a count or a byte offset)."""
    value = meta[key]
    if not is_integer(value) or value < 0:
        raise ValueError(f"{key} must be an integer >= 0, got {value!r}")
    return value
