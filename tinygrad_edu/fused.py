"""Fused ops: several primitives computed as one op, with one derivative.

Each could be composed from the primitives of ``ops.py``; each is fused for a reason:

* ``LogSoftmax``: speed. The composition in ``Tensor.log_softmax`` is just as stable (it shifts
  by the row max) and exact to any order, but records six ops; this is one, with the closed-form
  derivative g - p sum(g).
* ``CrossEntropy``: stability and speed. log softmax and the pick of the target class in one
  pass, never taking log 0; its gradient is simply (p - y) / N (for target rows summing to 1).
* ``Linear``: speed. x W^T + b in one BLAS call reading W transposed in place, and dW = g^T x
  computed straight into W's layout, instead of Transpose, MatMul and Add nodes.
* ``BinaryCrossEntropy``: stability. log p and log(1 - p) are clamped (p = 0 or 1 is finite).
* ``BinaryCrossEntropyWithLogits``: stability. sigmoid and cross-entropy in one, with no
  overflow for any logit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine.errors import check_bias
from .engine.function import Function, InputError, ShapeError
from .engine.speed import max_along, sum_along, sum_rows
from .engine.tensor import Tensor

Array = np.ndarray


class LogSoftmax(Function):
    """out = a - logsumexp(a) along ``axis``; computed as (a - m) - log(sum(e^(a - m))), m = max a.

    d out_i / d a_j = delta_ij - p_j with p = softmax(a) = e^out, so  dL/da = g - p * sum(g).
    """

    def forward(ctx, a: Array, axis: int = -1) -> Array:
        shifted = a - max_along(a, axis)
        out = shifted - np.log(sum_along(np.exp(shifted), axis))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    def backward(ctx, g: Array) -> Array:
        (out,) = ctx.saved
        return g - np.exp(out) * sum_along(g, ctx.axis)

    def jvp(ctx, t: Array, axis: int = -1) -> Array:
        """tangent: t - sum_j p_j t_j."""
        (out,) = ctx.saved
        return t - (np.exp(out) * t).sum(axis=axis, keepdims=True)

    def composite(ctx) -> Tensor:
        return ctx.parents[0].log_softmax(ctx.axis)


class CrossEntropy(Function):
    """loss = -(1/N) sum_n sum_c y_nc log softmax(z_n)_c, from logits z of shape (N, C), N >= 1.

    ``targets`` are N integer labels (y is then one-hot; booleans are the classes 0 and 1) or an
    (N, C) array y of target weights, usually probabilities. With p = softmax(z) and
    s_n = sum_c y_nc:  dL/dz_nc = (p_nc s_n - y_nc) / N, which is (p - y) / N when every row
    sums to 1 (labels, one-hot rows, probabilities).
    """

    def forward(ctx, z: Array, targets: Array | None = None) -> Array:
        t = check_class_targets("cross_entropy", z, targets)
        refuse_empty_mean("cross_entropy", z.shape, "mean")
        n = z.shape[0]
        shifted = z - max_along(z, 1)
        logp = shifted - np.log(sum_along(np.exp(shifted), 1))
        if t.ndim == 1:
            loss = -logp[np.arange(n), t].sum() / n
        else:
            loss = -(t * logp).sum() / n
        ctx.save_for_backward(logp, t)
        return np.asarray(loss, dtype=z.dtype)

    def backward(ctx, g: Array) -> Array:
        logp, t = ctx.saved
        n = logp.shape[0]
        grad = np.exp(logp)  # p
        if t.ndim == 1:  # the hot path: rows of one-hot labels sum to 1
            grad[np.arange(n), t] -= 1
        else:
            grad *= sum_along(t, 1)  # p s: O(N C), as cheap as the loss's own t * logp
            grad -= t
        grad *= g / n
        return grad

    def jvp(ctx, tz: Array, targets: Any = None) -> Array:
        """tangent: sum_nc (p s - y)_nc tz_nc / N."""
        logp, t = ctx.saved
        if t.ndim == 2:
            return ((np.exp(logp) * t.sum(axis=1, keepdims=True) - t) * tz).sum() / logp.shape[0]
        y = np.eye(logp.shape[1], dtype=logp.dtype)[t]
        return ((np.exp(logp) - y) * tz).sum() / logp.shape[0]

    def composite(ctx) -> Tensor:
        """-mean_n log softmax(z_n)[y_n] (or with target rows), from primitives."""
        z, (_, t) = ctx.parents[0], ctx.saved
        logp = z.log_softmax(axis=1)
        picked = logp[np.arange(len(t)), t] if t.ndim == 1 else logp * t
        return -picked.sum() * (1.0 / z.shape[0])


class Linear(Function):
    """out = x W^T + b, with x (N, in), W (out, in), b (out,) -> out (N, out).

    d out_nj / d W_jk = x_nk, so  dL/dW = g^T x  (out, in);  dL/db = sum_n g_n  (out,);
    dL/dx = g W  (N, in), computed only if x needs it (the input batch never does).
    Leading batch axes of x (..., in) are allowed.
    """

    def forward(ctx, x: Array, w: Array, b: Array | None = None) -> Array:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ShapeError(
                f"linear: input of shape {x.shape} does not fit weight of shape {w.shape} "
                f"(expected (..., {w.shape[1] if w.ndim == 2 else '?'}))"
            )
        check_bias("linear", b, w)
        out = _times_transposed(x, w)
        if b is not None:
            out += b
        ctx.save_for_backward(x, w)
        return out

    def backward(ctx, g: Array) -> tuple[Array | None, ...]:
        x, w = ctx.saved
        need = ctx.needs_input_grad
        dx = np.dot(g, w) if need[0] else None
        if x.ndim != 2:  # a single row, or leading batch axes: as rows
            g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        dw = _transposed_times(g, x) if need[1] else None
        db = sum_rows(g) if len(need) > 2 and need[2] else None
        return (dx, dw, db) if len(need) > 2 else (dx, dw)

    def jvp(ctx, tx: Array | None, tw: Array | None, tb: Array | None = None) -> Array:
        """tangent: tx W^T + x tW^T + tb."""
        x, w = ctx.saved
        terms = [tx @ w.T if tx is not None else None, x @ tw.T if tw is not None else None, tb]
        return sum(t for t in terms if t is not None)

    def composite(ctx) -> Tensor:
        x, w = ctx.parents[0], ctx.parents[1]
        return x @ w.T + ctx.parents[2] if len(ctx.parents) == 3 else x @ w.T


LOG_FLOOR = -100.0  # BCE clamps log p and log(1-p) here, as PyTorch does: loss <= 100 per element


class BinaryCrossEntropy(Function):
    """l = -(t log p + (1 - t) log(1 - p)) from probabilities p in [0, 1], elementwise.

    dl/dp = (p - t) / (p (1 - p)).  As in PyTorch, log p and log(1 - p) are clamped at -100
    (so p = 0 or 1 gives a finite loss) and p (1 - p) at 1e-12 in the derivative.
    Targets are constants (no gradient). ``reduction``: "mean", "sum" or "none".
    """

    op_name = "BCE"

    def forward(ctx, p: Array, targets: Any = None, reduction: str = "mean") -> Array:
        t = binary_targets("binary_cross_entropy", p, targets)
        refuse_empty_mean("binary_cross_entropy", p.shape, reduction)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), LOG_FLOOR)
            log_q = np.maximum(np.log1p(-p), LOG_FLOOR)
        ctx.save_for_backward(p, t)
        ctx.reduction = reduction
        return _reduce(-(t * log_p + (1 - t) * log_q), reduction)

    def backward(ctx, g: Array) -> Array:
        p, t = ctx.saved
        denom = np.maximum(p * (1 - p), 1e-12)
        return g * _mean_scale(p.size, ctx.reduction) * (p - t) / denom

    def jvp(ctx, tp: Array, targets: Any = None, reduction: str = "mean") -> Array:
        """tangent: the reduction of (p - t) / (p (1 - p)) tp."""
        p, t = ctx.saved
        return _reduce((p - t) / np.maximum(p * (1 - p), 1e-12) * tp, reduction)

    def composite(ctx) -> Tensor:
        """-(t log p + (1 - t) log(1 - p)), reduced, from primitives (without the clamps: for
        p strictly between 0 and 1)."""
        p, (_, t) = ctx.parents[0], ctx.saved
        bce = -(t * p.log() + (1 - t) * (1 - p).log())
        return reduce_loss(bce, ctx.reduction, "binary_cross_entropy")


class BinaryCrossEntropyWithLogits(Function):
    """l = -(t log s(z) + (1 - t) log(1 - s(z))) with s the sigmoid, from logits z, elementwise.

    Computed stably as l = max(z, 0) - z t + log(1 + e^-|z|) (no overflow for any z).
    dl/dz = s(z) - t.  Targets are constants (no gradient).
    """

    op_name = "BCEWithLogits"

    def forward(ctx, z: Array, targets: Any = None, reduction: str = "mean") -> Array:
        t = binary_targets("binary_cross_entropy_with_logits", z, targets)
        refuse_empty_mean("binary_cross_entropy_with_logits", z.shape, reduction)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
        s = np.where(z >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(z), stable on both sides
        ctx.save_for_backward(s, t)
        ctx.reduction = reduction
        return _reduce(np.maximum(z, 0) - z * t + np.log1p(e), reduction)

    def backward(ctx, g: Array) -> Array:
        s, t = ctx.saved
        return g * _mean_scale(s.size, ctx.reduction) * (s - t)

    def jvp(ctx, tz: Array, targets: Any = None, reduction: str = "mean") -> Array:
        """tangent: the reduction of (s(z) - t) tz."""
        s, t = ctx.saved
        return _reduce((s - t) * tz, reduction)

    def composite(ctx) -> Tensor:
        """max(z, 0) - z t + log(1 + e^-|z|), reduced, from primitives (|z| = relu(z) +
        relu(-z))."""
        z, (_, t) = ctx.parents[0], ctx.saved
        abs_z = z.relu() + (-z).relu()
        bce = z.relu() - z * t + (1 + (-abs_z).exp()).log()
        return reduce_loss(bce, ctx.reduction, "binary_cross_entropy_with_logits")


# --------------------------------------------------------------------------- targets
def check_class_targets(who: str, z: Array, targets: Any) -> Array:
    """``targets`` for logits z (N, C): N integer labels in [0, C) (booleans as the classes 0
    and 1, never a mask) or (N, C) rows of target weights.

    Raises ShapeError for shapes that do not fit, InputError for labels out of range."""
    if z.ndim != 2:
        raise ShapeError(f"{who}: logits must have shape (N, C), got {z.shape}")
    n, c = z.shape
    t = np.asarray(targets)
    if t.ndim == 1 and t.dtype.kind in "iub":
        if t.shape[0] != n:
            raise ShapeError(f"{who}: {t.shape[0]} labels for {n} rows of logits {z.shape}")
        if n and (t.min() < 0 or t.max() >= c):
            raise InputError(
                f"{who}: labels must lie in [0, {c}), got range [{t.min()}, {t.max()}]"
            )
        if t.dtype.kind == "b":
            t = t.astype(np.intp)
    elif t.shape != z.shape:
        raise ShapeError(
            f"{who}: targets must be {n} integer labels or one-hot rows of shape "
            f"{z.shape}, got shape {t.shape} and dtype {t.dtype}"
        )
    return t


def binary_targets(who: str, x: Array, targets: Any) -> Array:
    """Targets t in [0, 1] as x's float dtype and shape: same shape, or the same number of
    elements (so (N,) labels fit an (N, 1) output). Raises ShapeError for a size that does not
    fit, InputError for a target outside [0, 1] (or NaN): one min and one max, O(N)."""
    t = np.asarray(targets)
    if t.shape != x.shape:
        if t.size != x.size:
            raise ShapeError(f"{who}: targets of shape {t.shape} for input of shape {x.shape}")
        t = t.reshape(x.shape)
    if t.size and t.dtype.kind != "b" and not (t.min() >= 0 and t.max() <= 1):
        raise InputError(
            f"{who}: targets must lie in [0, 1] (probabilities or labels 0 and 1), got range "
            f"[{t.min()}, {t.max()}]"
        )
    return t.astype(x.dtype, copy=False)


def refuse_empty_mean(who: str, shape: tuple[int, ...], reduction: str) -> None:
    """An empty batch has no mean loss (as ``Tensor.mean`` says): InputError for it, so that a
    loss is never NaN (0/0) or a silent 0; its sum (0) and per-element losses are fine."""
    if reduction == "mean" and 0 in shape:
        raise InputError(
            f"{who}: an empty batch (shape {shape}) has no mean loss; use reduction='sum' or 'none'"
        )


def _mean_scale(n: int, reduction: str) -> float:
    """d(reduction)/d(element): 1/n for the mean, 1 for the sum and for none."""
    return 1.0 / n if reduction == "mean" else 1.0


def _reduce(l: Array, reduction: str) -> Array:
    """The elementwise losses l, reduced: their mean, their sum (both summed in float64, then
    rounded to l's dtype) or l itself for "none"."""
    if reduction == "none":
        return l
    total = l.sum(dtype=np.float64)
    return np.asarray(total / max(l.size, 1) if reduction == "mean" else total, dtype=l.dtype)


def reduce_loss(l: Tensor, reduction: str, who: str) -> Tensor:
    """The elementwise losses l (a Tensor), reduced: their mean (of none refused, naming the
    loss ``who``), their sum, or l itself for "none"."""
    refuse_empty_mean(who, l.shape, reduction)
    return l.mean() if reduction == "mean" else l.sum() if reduction == "sum" else l


# --------------------------------------------------------------------------- speed helpers
def _times_transposed(x: Array, w: Array) -> Array:
    """x W^T, with BLAS reading W transposed in place: no copy of W^T each step (measured in
    ``benchmarks/speed_helpers.py``)."""
    return np.dot(x, w.T)


def _transposed_times(g: Array, x: Array) -> Array:
    """g^T x (out, in), computed in W's own layout, so ``W -= lr dW`` runs on matching memory
    layouts, not on (x^T g)^T, a transposed view (``benchmarks/speed_helpers.py``)."""
    return np.dot(g.T, x)
