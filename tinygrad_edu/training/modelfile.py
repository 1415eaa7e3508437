"""Model files: ``save`` writes a model to an ``.npz`` (one array per parameter and a JSON
description of its architecture), ``load`` rebuilds it from one without pickle, and
``read_metadata`` reads the description alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from .files import atomic_write, read_npz

__all__ = ["MODEL_FORMAT", "ModelFileError", "describe", "load", "read_metadata", "save"]

MODEL_FORMAT = "tinygrad_edu.model"
MODEL_FORMAT_VERSION = 1
_META_KEY = "__meta__"


class ModelFileError(ValueError):
    """A model file is corrupt or not a tinygrad_edu model; the message names the file."""


# =============================================================================== save / load
_SIMPLE_LAYERS: dict[str, type[nn.Module]] = {
    "Sigmoid": nn.Sigmoid,
    "ReLU": nn.ReLU,
    "Tanh": nn.Tanh,
    "Identity": nn.Identity,
}


def describe(model: nn.Module) -> dict[str, Any]:
    """The architecture as JSON-ready data, enough to rebuild the model with fresh parameters."""
    cls = type(model)
    if cls is nn.MLP:
        return {
            "class": "MLP",
            "sizes": model.sizes,
            "activation": model.activation,
            "dropout": model.dropout,
        }
    if cls is nn.Linear:
        return {
            "class": "Linear",
            "in_features": model.in_features,
            "out_features": model.out_features,
            "bias": model.bias is not None,
        }
    if cls is nn.Sequential:
        return {"class": "Sequential", "layers": [describe(m) for m in model.layers]}
    if cls.__name__ in _SIMPLE_LAYERS and _SIMPLE_LAYERS[cls.__name__] is cls:
        return {"class": cls.__name__}
    if cls is nn.Dropout:
        return {"class": "Dropout", "p": model.p}
    if cls is nn.Flatten:
        return {"class": "Flatten", "start_dim": model.start_dim}
    if cls in (nn.LogSoftmax, nn.Softmax):
        return {"class": cls.__name__, "axis": model.axis}
    if cls is nn.Conv2d:
        return {
            "class": "Conv2d",
            "in_channels": model.in_channels,
            "out_channels": model.out_channels,
            "kernel_size": list(model.kernel_size),
            "stride": list(model.stride),
            "padding": list(model.padding),
            "bias": model.bias is not None,
        }
    if cls is nn.MaxPool2d:
        return {
            "class": "MaxPool2d",
            "kernel_size": list(model.kernel_size),
            "stride": list(model.stride),
        }
    raise TypeError(
        f"save: cannot describe the architecture of a {cls.__name__}; supported: MLP, "
        "Sequential, Linear, Conv2d, MaxPool2d, Sigmoid, ReLU, Tanh, Identity, Dropout, "
        "Flatten, Softmax, LogSoftmax (save other models' state_dict() with np.savez)"
    )


def _build(desc: Any, dtype: Any) -> nn.Module:
    """Inverse of :func:`describe` (parameters are then overwritten by the saved ones)."""
    if not isinstance(desc, dict) or "class" not in desc:
        raise ValueError("no architecture description (no 'class' entry)")
    cls = desc["class"]
    if cls == "MLP":
        return nn.MLP(
            desc["sizes"],
            desc.get("activation", "sigmoid"),
            dropout=desc.get("dropout", 0.0),
            dtype=dtype,
            seed=0,
        )
    if cls == "Linear":
        return nn.Linear(
            desc["in_features"],
            desc["out_features"],
            bias=desc.get("bias", True),
            dtype=dtype,
            seed=0,
        )
    if cls == "Sequential":
        return nn.Sequential([_build(d, dtype) for d in desc["layers"]])
    if cls in _SIMPLE_LAYERS:
        return _SIMPLE_LAYERS[cls]()
    if cls == "Dropout":
        return nn.Dropout(desc["p"])
    if cls == "Flatten":
        return nn.Flatten(desc["start_dim"])
    if cls in ("LogSoftmax", "Softmax"):
        return getattr(nn, cls)(desc["axis"])
    if cls == "Conv2d":
        return nn.Conv2d(
            desc["in_channels"],
            desc["out_channels"],
            tuple(desc["kernel_size"]),
            stride=tuple(desc["stride"]),
            padding=tuple(desc["padding"]),
            bias=desc.get("bias", True),
            dtype=dtype,
            seed=0,
        )
    if cls == "MaxPool2d":
        return nn.MaxPool2d(tuple(desc["kernel_size"]), tuple(desc["stride"]))
    raise ValueError(f"unknown layer class {cls!r}")


def save(
    model: nn.Module, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """Save ``model`` to ``path`` (``.npz``): one array per parameter (by dotted name) and a JSON
    string ``__meta__``: the format, the architecture at top level (``class``, and ``sizes``,
    ``activation``, ``dropout`` for an MLP; ``layers`` for a Sequential; ...), the ``dtype``, and
    the keys of ``metadata`` (JSON-ready; e.g. ``dataset``, ``classes``). Written atomically
    (temp file + rename); read back without pickle. Returns the path."""
    path = Path(path)
    meta: dict[str, Any] = {"format": MODEL_FORMAT, "version": MODEL_FORMAT_VERSION}
    meta.update(describe(model))
    state = model.state_dict()
    dtypes = {str(a.dtype) for a in state.values()}
    meta["dtype"] = dtypes.pop() if len(dtypes) == 1 else "float32"
    clash = sorted(set(metadata or {}) & set(meta))
    if clash:
        raise ValueError(f"save: metadata keys {clash} are reserved for the model description")
    meta.update(metadata or {})
    if _META_KEY in state:
        raise ValueError(f"save: a parameter is named {_META_KEY!r}")
    try:
        meta_json = json.dumps(meta)
    except TypeError as e:
        raise TypeError(f"save: metadata must be JSON-serialisable: {e}") from None
    arrays = {_META_KEY: np.array(meta_json), **state}
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def _open_npz(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no model file at {path}")
    if path.is_dir():
        raise ModelFileError(f"load: {path} is a directory, not a model file (.npz)")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelFileError(f"load: cannot read {path}: {e.strerror or e}") from None
    if magic[:2] != b"PK":
        raise ModelFileError(f"load: {path} is not a model file (an .npz zip archive)")
    return read_npz(path, _META_KEY, MODEL_FORMAT, ModelFileError, "model", "load: ")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata saved with a model (architecture, dtype, and what ``save`` was given)."""
    return _open_npz(path)[0]


def load(path: str | os.PathLike[str]) -> nn.Module:
    """The model saved at ``path`` by :func:`save`, with its parameters; it predicts identically.

    Raises FileNotFoundError if there is no file and ModelFileError if it is corrupt or does not
    match its architecture."""
    meta, arrays = _open_npz(path)
    try:
        dtype = np.dtype(meta.get("dtype", "float32"))
        model = _build(meta, dtype)
        model.load_state_dict(arrays)
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"load: {path}: {e}") from None
    return model
