"""Model files: ``save`` writes a model to an ``.npz`` (one array per parameter and a JSON
description of its architecture), ``load`` rebuilds it from one without pickle, and
``read_metadata`` reads the description alone.

A model file may come from anyone, so ``load`` trusts nothing in it: the description is checked
(its fields, nesting at most :data:`MAX_DEPTH` deep, at most :data:`MAX_LAYERS` layers and
:data:`MAX_PARAMETERS` scalars) and the parameter shapes it implies are compared with the arrays
the file holds, from their headers, *before* anything is built; then each array is read
straight into its parameter. Loading thus takes the memory of the model itself plus the
initialisation of one layer at a time. A module used twice (``Sequential([lin, act, lin])``)
is described once and referred to by its dotted name (``{"same_as": "layers.0"}``) the second
time, so it is shared again after loading.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..engine.errors import is_integer
from .files import NpzReader, atomic_write

__all__ = [
    "MAX_DEPTH",
    "MAX_LAYERS",
    "MAX_PARAMETERS",
    "MODEL_FORMAT",
    "ModelFileError",
    "describe",
    "load",
    "read_metadata",
    "save",
]

MODEL_FORMAT = "tinygrad_edu.model"
MODEL_FORMAT_VERSION = 1
_META_KEY = "__meta__"
#: Caps on what a model file may describe: Sequentials nested this deep, layers in all, and
#: scalar parameters in all (400 MB of float32).
MAX_DEPTH = 32
MAX_LAYERS = 10_000
MAX_PARAMETERS = 100_000_000


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
    """The architecture as JSON-ready data, enough to rebuild the model with fresh parameters.
    A module met again is ``{"same_as": <its dotted name>}``."""
    return _describe(model, "", {}, 0)


def _describe(model: nn.Module, path: str, seen: dict[int, str], depth: int) -> dict[str, Any]:
    if id(model) in seen:
        return {"same_as": seen[id(model)]}
    seen[id(model)] = path
    if depth > MAX_DEPTH:
        raise ValueError(f"save: modules nested more than {MAX_DEPTH} deep")
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
        prefix = f"{path}.layers." if path else "layers."
        layers = [_describe(m, f"{prefix}{i}", seen, depth + 1) for i, m in enumerate(model.layers)]
        return {"class": "Sequential", "layers": layers}
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


# =============================================================================== checking
def _expected_parameters(desc: Any) -> dict[str, tuple[int, ...]]:
    """The parameters (dotted name -> shape) the description ``desc`` implies, computed without
    building anything; ValueError for a malformed description or one over the caps."""
    shapes: dict[str, tuple[int, ...]] = {}
    modules: set[str] = set()
    total = 0
    stack: list[tuple[Any, str, int]] = [(desc, "", 0)]
    while stack:
        d, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"modules nested more than {MAX_DEPTH} deep")
        if len(modules) >= MAX_LAYERS:
            raise ValueError(f"more than {MAX_LAYERS} layers")
        at = f"{path}: " if path else ""
        if isinstance(d, dict) and "same_as" in d:
            ref = d["same_as"]
            if ref not in modules or ref == "" or path.startswith(f"{ref}."):
                raise ValueError(f"{at}same_as {ref!r} names no earlier module outside this one")
            continue
        modules.add(path)
        if not isinstance(d, dict) or "class" not in d:
            raise ValueError(f"{at}no architecture description (no 'class' entry)")
        prefix = f"{path}." if path else ""
        if d["class"] == "Sequential":
            layers = d.get("layers")
            if not isinstance(layers, list):
                raise ValueError(f"{at}Sequential without a list of layers")
            stack.extend(
                (layer, f"{prefix}layers.{i}", depth + 1)
                for i, layer in reversed(list(enumerate(layers)))
            )
        else:
            for name, shape in _layer_parameters(d):
                shapes[prefix + name] = shape
                total += math.prod(shape)
        if total > MAX_PARAMETERS:
            raise ValueError(f"the architecture has over {MAX_PARAMETERS} parameters (the cap)")
    return shapes


def _layer_parameters(d: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of the parameters of one layer's description (no Sequential)."""
    cls = d["class"]
    if cls == "MLP":
        sizes = d.get("sizes")
        if not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS:
            raise ValueError(f"MLP: sizes must be a list of 2 to {MAX_LAYERS} widths")
        sizes = [_size(d, "sizes", n) for n in sizes]
        dropout = d.get("dropout", 0.0)
        if not isinstance(dropout, int | float):
            raise ValueError(f"MLP: dropout must be a number, got {dropout!r}")
        step = 3 if dropout > 0 else 2
        out: list[tuple[str, tuple[int, ...]]] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            out += [
                (f"layers.{step * i}.weight", (n_out, n_in)),
                (f"layers.{step * i}.bias", (n_out,)),
            ]
        return out
    if cls == "Linear":
        n_in, n_out = _size(d, "in_features"), _size(d, "out_features")
        return [("weight", (n_out, n_in))] + ([("bias", (n_out,))] if _flag(d, "bias") else [])
    if cls == "Conv2d":
        c_in, c_out = _size(d, "in_channels"), _size(d, "out_channels")
        kernel = d.get("kernel_size")
        if not isinstance(kernel, list) or len(kernel) != 2:
            raise ValueError(f"Conv2d: kernel_size must be a pair, got {kernel!r}")
        kh, kw = (_size(d, "kernel_size", k) for k in kernel)
        return [("weight", (c_out, c_in, kh, kw))] + (
            [("bias", (c_out,))] if _flag(d, "bias") else []
        )
    return []  # layers without parameters: their constructors check the rest


def _size(d: dict[str, Any], key: str, value: Any = None) -> int:
    """``d[key]`` (or ``value``) as a layer size: an integer 1 .. MAX_PARAMETERS."""
    n = d.get(key) if value is None else value
    if not is_integer(n) or not 1 <= n <= MAX_PARAMETERS:
        raise ValueError(f"{d['class']}: {key} must be integers 1 .. {MAX_PARAMETERS}, got {n!r}")
    return n


def _flag(d: dict[str, Any], key: str) -> bool:
    value = d.get(key, True)
    if not isinstance(value, bool):
        raise ValueError(f"{d['class']}: {key} must be true or false, got {value!r}")
    return value


def _check_arrays(expected: dict[str, tuple[int, ...]], stored: dict[str, Any]) -> None:
    """The file holds exactly the parameters the description implies, with their shapes, as
    floating-point arrays."""
    for name, shape in expected.items():
        if name not in stored:
            raise ValueError(f"the architecture needs {name!r} of shape {shape}, not in the file")
        have, dtype = stored[name]
        if have != shape:
            raise ValueError(
                f"{name!r} has shape {have} in the file, the architecture needs {shape}"
            )
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ValueError(f"{name!r} has dtype {dtype}, not float32 or float64")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise ValueError(f"the file holds {extra[0]!r}, which the architecture has no place for")


# =============================================================================== building
def _build(
    desc: Any, dtype: Any, path: str = "", built: dict[str, nn.Module] | None = None
) -> nn.Module:
    """Inverse of :func:`describe` (parameters are then overwritten by the saved ones); a
    ``same_as`` entry is the module already built under that name. ``desc`` has been checked by
    :func:`_expected_parameters`."""
    built = {} if built is None else built
    if "same_as" in desc:
        return built[desc["same_as"]]
    module = _build_one(desc, dtype, path, built)
    built[path] = module
    return module


def _build_one(
    desc: dict[str, Any], dtype: Any, path: str, built: dict[str, nn.Module]
) -> nn.Module:
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
        seq = nn.Sequential([])
        prefix = f"{path}.layers." if path else "layers."
        for i, d in enumerate(desc["layers"]):
            seq.append(_build(d, dtype, f"{prefix}{i}", built))
        return seq
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
    try:
        _check_arrays(_expected_parameters(meta), {k: (a.shape, a.dtype) for k, a in state.items()})
    except ValueError as e:  # e.g. one Parameter object in two different layers
        raise ValueError(
            f"save: load could not rebuild this model ({e}; is one Parameter in two layers?)"
        ) from None
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


def _open(path: str | os.PathLike[str]) -> NpzReader:
    """The model file at ``path``, opened; its entries' headers checked."""
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
    return NpzReader(path, ModelFileError, "model", "load: ")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata saved with a model (architecture, dtype, and what ``save`` was given)."""
    with _open(path) as npz:
        return npz.metadata(_META_KEY, MODEL_FORMAT)


def load(path: str | os.PathLike[str]) -> nn.Module:
    """The model saved at ``path`` by :func:`save`, with its parameters; it predicts identically.

    Raises FileNotFoundError if there is no file and ModelFileError if it is corrupt, over the
    caps, or does not match its architecture: all checked before the model is built."""
    with _open(path) as npz:
        meta = npz.metadata(_META_KEY, MODEL_FORMAT)
        stored = {k: v for k, v in npz.entries.items() if k != _META_KEY}
        try:
            dtype = np.dtype(meta.get("dtype", "float32"))
            if dtype.kind != "f":
                raise ValueError(f"dtype {dtype} is not floating point")
            _check_arrays(_expected_parameters(meta), stored)
            model = _build(meta, dtype)
        except (ValueError, TypeError, KeyError) as e:
            raise ModelFileError(f"load: {path}: {e}") from None
        for name, parameter in model.named_parameters():
            npz.read(name, out=parameter.data)
    return model
