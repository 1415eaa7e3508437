"""Layers and losses as functions of tensors: ``linear``, activations, ``dropout`` and the losses.

Shapes: N samples, C classes. Every loss takes ``reduction`` = ``"mean"`` (the default: average
over all elements), ``"sum"`` or ``"none"`` (the per-sample / per-element losses). Targets are
constants (numpy arrays, lists or Tensors whose gradient is not needed).

The fused ops these call (``Linear``, ``LogSoftmax``, ``CrossEntropy``, ``BinaryCrossEntropy``,
``BinaryCrossEntropyWithLogits``) and their derivatives live in ``fused.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.errors import InputError, ShapeError, check_number
from ..engine.tensor import Tensor, as_tensor
from ..fused import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    Linear,
    LogSoftmax,
    binary_targets,
    check_class_targets,
    reduce_loss,
)
from .init import as_rng

__all__ = [
    "REDUCTIONS",
    "BinaryCrossEntropy",
    "BinaryCrossEntropyWithLogits",
    "Linear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

Array = np.ndarray
REDUCTIONS = ("mean", "sum", "none")


def _array(t: Any) -> np.ndarray:
    return np.asarray(t.data if isinstance(t, Tensor) else t)


def _check_reduction(who: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{who}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}"
        )


# --------------------------------------------------------------------------- linear
def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b: (..., in) -> (..., out) for W of shape (out, in) (PyTorch's layout)."""
    x = as_tensor(x)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# --------------------------------------------------------------------------- activations
def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), elementwise."""
    return as_tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise."""
    return as_tensor(x).relu()


def tanh(x: Any) -> Tensor:
    """tanh x, elementwise."""
    return as_tensor(x).tanh()


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - log sum_j e^x_j along ``axis``: the fused, stable ``fused.LogSoftmax`` (one op, with
    dL/dx = g - softmax(x) sum(g)); ``Tensor.log_softmax`` composes the same from primitives."""
    return LogSoftmax.apply(as_tensor(x), axis=axis)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x_i / sum_j e^x_j along ``axis``: exp of the fused ``log_softmax`` (stable)."""
    return log_softmax(x, axis).exp()


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | int | None = None
) -> Tensor:
    """Inverted dropout: each element is zeroed with probability p and the rest scaled by
    1/(1-p), so E[out] = x; the identity when not ``training`` or p = 0."""
    p = check_number("dropout", "p", p, 0, 1)
    x = as_tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    keep = as_rng(rng, who="dropout").random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype if x.dtype.kind == "f" else np.float32)
    mask *= 1 / (1 - p)
    return x * mask


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Y[n, c] = 1 if y_n = c else 0: (N,) integer labels -> (N, C) rows (float32 by default).

    Boolean labels are the classes 0 and 1 (never a mask)."""
    y = _array(labels)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ShapeError(f"one_hot: labels must be integers of shape (N,), got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise InputError(
            f"one_hot: labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]"
        )
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y.astype(np.intp)] = 1  # as integers: a bool array would be a mask
    return out


# --------------------------------------------------------------------------- multi-class losses
def cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits z (N, C): l_n = -sum_c y_nc log softmax(z_n)_c.

    ``targets``: N integer labels (y one-hot; booleans are the classes 0 and 1) or (N, C) rows
    of target probabilities. Fused and stable (``fused.CrossEntropy``): for the mean,
    dL/dz = (softmax(z) s - y) / N with s the row sums of y (1 for labels and probabilities).
    Labels out of range raise InputError, for every reduction, and so does the mean of an empty
    batch.
    """
    _check_reduction("cross_entropy", reduction)
    z = as_tensor(logits)
    t = _array(targets)
    if reduction == "mean" or (reduction == "sum" and z.ndim == 2 and z.shape[0]):
        loss = CrossEntropy.apply(z, targets=t)
        return loss if reduction == "mean" else loss * float(z.shape[0])
    t = check_class_targets("cross_entropy", z.data, t)
    y = one_hot(t, z.shape[1], z.dtype) if t.ndim == 1 else t
    per_sample = -(log_softmax(z, axis=1) * y).sum(axis=1)
    return per_sample.sum() if reduction == "sum" else per_sample


def nll_loss(log_probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood from log-probabilities a (N, C) and N integer labels:
    l_n = -a[n, y_n].  With ``log_softmax`` first it equals ``cross_entropy``."""
    _check_reduction("nll_loss", reduction)
    a = as_tensor(log_probs)
    t = _array(targets)
    if a.ndim != 2:
        raise ShapeError(f"nll_loss: log_probs must have shape (N, C), got {a.shape}")
    if t.shape != (a.shape[0],) or t.dtype.kind not in "iu":
        raise ShapeError(
            f"nll_loss: targets must be {a.shape[0]} integer labels, got {t.dtype} {t.shape}"
        )
    if t.size and (t.min() < 0 or t.max() >= a.shape[1]):
        raise InputError(
            f"nll_loss: labels must lie in [0, {a.shape[1]}), got range [{t.min()}, {t.max()}]"
        )
    return reduce_loss(-a[np.arange(a.shape[0]), t], reduction, "nll_loss")


# --------------------------------------------------------------------------- regression
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: l_i = (x_i - y_i)^2 over all elements; shapes must be equal."""
    _check_reduction("mse_loss", reduction)
    x = as_tensor(input)
    y = target if isinstance(target, Tensor) else Tensor(_array(target).astype(x.dtype))
    if x.shape != y.shape:
        raise ShapeError(
            f"mse_loss: input of shape {x.shape} and target of shape {y.shape} differ (make "
            f"them equal, e.g. one_hot(labels, C) for (N, C) outputs)"
        )
    d = x - y
    return reduce_loss(d * d, reduction, "mse_loss")


# --------------------------------------------------------------------------- binary losses
def binary_cross_entropy(probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1] (e.g. a sigmoid output) against
    targets t in [0, 1] of the same shape (or the same number of elements: (N,) for (N, 1))."""
    _check_reduction("binary_cross_entropy", reduction)
    p = as_tensor(probs)
    t = binary_targets("binary_cross_entropy", p.data, targets)
    if p.size and not (p.data.min() >= 0 and p.data.max() <= 1):
        raise ValueError(
            f"binary_cross_entropy: inputs must be probabilities in [0, 1], got range "
            f"[{p.data.min()}, {p.data.max()}] (for logits use binary_cross_entropy_with_logits)"
        )
    return BinaryCrossEntropy.apply(p, targets=t, reduction=reduction)


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(z) from logits z, fused and stable; dl/dz = s(z) - t.
    For the single sigmoid neuron: logits (N, 1) or (N,), targets (N,) in {0, 1}."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    z = as_tensor(logits)
    t = binary_targets("binary_cross_entropy_with_logits", z.data, targets)
    return BinaryCrossEntropyWithLogits.apply(z, targets=t, reduction=reduction)
