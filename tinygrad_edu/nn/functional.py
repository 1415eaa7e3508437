"""Layers and losses as functions of tensors: ``linear``, activations, ``dropout`` and the losses.

Shapes: N samples, C classes. Every loss takes ``reduction`` = ``"mean"`` (the default: average
over all elements), ``"sum"`` or ``"none"`` (the per-sample / per-element losses). Targets are
constants (numpy arrays, lists or Tensors whose gradient is not needed).

Two fused ops live here because their composite forms are unstable, written like the entries of
``ops.py`` (value, then local derivative): :class:`BinaryCrossEntropy` and
:class:`BinaryCrossEntropyWithLogits`. :class:`Linear` is fused for speed: it computes
``x W^T + b`` with BLAS reading the transposed W in place and returns ``dL/dW`` already in W's
(out, in) layout, where ``x @ W.T + b`` would run three ops and copy a transposed gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..function import Function
from ..tensor import ShapeError, Tensor
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
_LOG_FLOOR = -100.0  # BCE clamps log p and log(1-p) here, as PyTorch does: loss <= 100 per element


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _array(t: Any) -> np.ndarray:
    return np.asarray(t.data if isinstance(t, Tensor) else t)


def _check_reduction(who: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{who}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}"
        )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# --------------------------------------------------------------------------- linear
class Linear(Function):
    """out = x W^T + b, with x (N, in), W (out, in), b (out,) -> out (N, out).

    d out_nj / d W_jk = x_nk, so  dL/dW = g^T x  (out, in);  dL/db = sum_n g_n  (out,);
    dL/dx = g W  (N, in), computed only if x needs it (the input batch never does).
    Leading batch axes of x (..., in) are allowed.
    """

    op_name = "Linear"

    @staticmethod
    def forward(ctx: Any, x: Array, w: Array, b: Array | None = None) -> Array:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ShapeError(
                f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                f"(expected (..., {w.shape[1] if w.ndim == 2 else '?'}))"
            )
        if b is not None and b.shape != (w.shape[0],):
            raise ShapeError(
                f"linear: bias of shape {b.shape} for weight {w.shape}: expected ({w.shape[0]},)"
            )
        out = np.dot(x, w.T)  # BLAS reads W transposed in place: no copy of W^T
        if b is not None:
            out += b
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, ...]:
        x, w = ctx.saved
        need = ctx.needs_input_grad
        dx = np.dot(g, w) if need[0] else None
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        dw = db = None
        if need[1]:
            x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            dw = np.dot(g2.T, x2)  # (out, N) (N, in): lands in W's layout, contiguous
        if len(need) > 2 and need[2]:
            db = g2.sum(axis=0)
        return (dx, dw, db) if len(need) > 2 else (dx, dw)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b: (..., in) -> (..., out) for W of shape (out, in) (PyTorch's layout)."""
    x = _tensor(x)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# --------------------------------------------------------------------------- activations
def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), elementwise."""
    return _tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise."""
    return _tensor(x).relu()


def tanh(x: Any) -> Tensor:
    """tanh x, elementwise."""
    return _tensor(x).tanh()


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - log sum_j e^x_j along ``axis`` (stable)."""
    return _tensor(x).log_softmax(axis)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x_i / sum_j e^x_j along ``axis`` (stable)."""
    return _tensor(x).softmax(axis)


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | int | None = None
) -> Tensor:
    """Inverted dropout: each element is zeroed with probability p and the rest scaled by
    1/(1-p), so E[out] = x; the identity when not ``training`` or p = 0."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    x = _tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    keep = as_rng(rng, who="dropout").random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype if x.dtype.kind == "f" else np.float32)
    mask *= 1 / (1 - p)
    return x * mask


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """(N,) integer labels -> (N, C) rows with a single 1 at each label."""
    y = _array(labels)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise ShapeError(f"one_hot: labels must be integers of shape (N,), got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]"
        )
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


# --------------------------------------------------------------------------- multi-class losses
def cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits z (N, C): l_n = -sum_c y_nc log softmax(z_n)_c.

    ``targets``: N integer labels (y one-hot) or (N, C) rows of target probabilities. Fused and
    stable (ops.CrossEntropy): for the mean, dL/dz = (softmax(z) - y) / N.
    """
    _check_reduction("cross_entropy", reduction)
    z = _tensor(logits)
    t = _array(targets)
    if reduction == "mean":
        return ops.CrossEntropy.apply(z, targets=t)
    if reduction == "sum":
        return ops.CrossEntropy.apply(z, targets=t) * float(z.shape[0])
    if z.ndim != 2:
        raise ShapeError(f"cross_entropy: logits must have shape (N, C), got {z.shape}")
    y = one_hot(t, z.shape[1], z.dtype) if t.ndim == 1 else t
    if y.shape != z.shape:
        raise ShapeError(f"cross_entropy: targets of shape {t.shape} for logits {z.shape}")
    return -(z.log_softmax(axis=1) * y).sum(axis=1)


def nll_loss(log_probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood from log-probabilities a (N, C) and N integer labels:
    l_n = -a[n, y_n].  With ``log_softmax`` first it equals ``cross_entropy``."""
    _check_reduction("nll_loss", reduction)
    a = _tensor(log_probs)
    t = _array(targets)
    if a.ndim != 2:
        raise ShapeError(f"nll_loss: log_probs must have shape (N, C), got {a.shape}")
    if t.shape != (a.shape[0],) or t.dtype.kind not in "iu":
        raise ShapeError(
            f"nll_loss: targets must be {a.shape[0]} integer labels, got {t.dtype} {t.shape}"
        )
    if t.size and (t.min() < 0 or t.max() >= a.shape[1]):
        raise ValueError(
            f"nll_loss: labels must lie in [0, {a.shape[1]}), got range [{t.min()}, {t.max()}]"
        )
    return _reduce(-a[np.arange(a.shape[0]), t], reduction)


# --------------------------------------------------------------------------- regression
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: l_i = (x_i - y_i)^2 over all elements; shapes must be equal."""
    _check_reduction("mse_loss", reduction)
    x = _tensor(input)
    y = target if isinstance(target, Tensor) else Tensor(_array(target).astype(x.dtype))
    if x.shape != y.shape:
        raise ShapeError(
            f"mse_loss: input of shape {x.shape} and target of shape {y.shape} differ (make "
            f"them equal, e.g. one_hot(labels, C) for (N, C) outputs)"
        )
    d = x - y
    return _reduce(d * d, reduction)


# --------------------------------------------------------------------------- binary losses
def _binary_targets(who: str, x: Array, targets: Any) -> Array:
    """Targets as x's float dtype and shape: same shape, or the same number of elements (so
    (N,) labels fit an (N, 1) output)."""
    t = _array(targets)
    if t.shape != x.shape:
        if t.size != x.size:
            raise ShapeError(f"{who}: targets of shape {t.shape} for input of shape {x.shape}")
        t = t.reshape(x.shape)
    return t.astype(x.dtype, copy=False)


def _scale(n: int, reduction: str) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def _finish(l: Array, reduction: str, dtype: Any) -> Array:
    if reduction == "none":
        return l
    total = l.sum(dtype=np.float64)
    return np.asarray(total / max(l.size, 1) if reduction == "mean" else total, dtype=dtype)


class BinaryCrossEntropy(Function):
    """l = -(t log p + (1 - t) log(1 - p)) from probabilities p in [0, 1], elementwise.

    dl/dp = (p - t) / (p (1 - p)).  As in PyTorch, log p and log(1 - p) are clamped at -100
    (so p = 0 or 1 gives a finite loss) and p (1 - p) at 1e-12 in the derivative.
    Targets are constants (no gradient).
    """

    op_name = "BCE"

    @staticmethod
    def forward(ctx: Any, p: Array, targets: Any = None, reduction: str = "mean") -> Array:
        t = _binary_targets("binary_cross_entropy", p, targets)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), _LOG_FLOOR)
            log_q = np.maximum(np.log1p(-p), _LOG_FLOOR)
        l = -(t * log_p + (1 - t) * log_q)
        ctx.save_for_backward(p, t)
        ctx.reduction = reduction
        return _finish(l, reduction, p.dtype)

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        p, t = ctx.saved
        denom = np.maximum(p * (1 - p), 1e-12)
        return g * _scale(p.size, ctx.reduction) * (p - t) / denom


class BinaryCrossEntropyWithLogits(Function):
    """l = -(t log s(z) + (1 - t) log(1 - s(z))) with s the sigmoid, from logits z, elementwise.

    Computed stably as l = max(z, 0) - z t + log(1 + e^-|z|) (no overflow for any z).
    dl/dz = s(z) - t.  Targets are constants (no gradient).
    """

    op_name = "BCEWithLogits"

    @staticmethod
    def forward(ctx: Any, z: Array, targets: Any = None, reduction: str = "mean") -> Array:
        t = _binary_targets("binary_cross_entropy_with_logits", z, targets)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
        l = np.maximum(z, 0) - z * t + np.log1p(e)
        s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(z), stable on both sides
        ctx.save_for_backward(s, t)
        ctx.reduction = reduction
        return _finish(l, reduction, z.dtype)

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        s, t = ctx.saved
        return g * _scale(s.size, ctx.reduction) * (s - t)


def binary_cross_entropy(probs: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities p in [0, 1] (e.g. a sigmoid output) against
    targets t in [0, 1] of the same shape (or the same number of elements: (N,) for (N, 1))."""
    _check_reduction("binary_cross_entropy", reduction)
    p = _tensor(probs)
    t = _binary_targets("binary_cross_entropy", p.data, targets)
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
    z = _tensor(logits)
    t = _binary_targets("binary_cross_entropy_with_logits", z.data, targets)
    return BinaryCrossEntropyWithLogits.apply(z, targets=t, reduction=reduction)
