"""The primitive ops: a table of derivatives.

Each op's docstring gives its forward value and its local derivative. ``backward(ctx, g)``
receives ``g = dL/dout`` and returns ``dL/dinput`` for each input (the vector-Jacobian product
``g^T J``), or ``None`` where ``ctx.needs_input_grad`` says the input needs none. Gradients may be
returned in the broadcast shape: the engine sums them back to each input's shape in one place.

Sections, in order: elementwise binary and unary ops, reductions, shape ops and indexing,
matmul, fused ops (LogSoftmax, CrossEntropy, the Linear layer, binary cross-entropies), and
convolution and pooling (Conv2d, MaxPool2d via im2col/col2im). Composite ops (sub, div, mean,
softmax) are built from these in ``tensor.py``; the fused ones exist because the fused form is
numerically stable (no overflow, no log 0) or faster (fewer passes, no transposed copies).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Function
from .tensor import InputError, ShapeError

Array = np.ndarray


# --------------------------------------------------------------------------- elementwise, binary
class Add(Function):
    """out = a + b (broadcasting).  d out/da = 1, d out/db = 1:  dL/da = g, dL/db = g."""

    @staticmethod
    def forward(ctx: Any, a: Array, b: Array) -> Array:
        return a + b

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, Array | None]:
        return g, g


class Mul(Function):
    """out = a * b (broadcasting).  d out/da = b, d out/db = a:  dL/da = g b, dL/db = g a."""

    @staticmethod
    def forward(ctx: Any, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


class Pow(Function):
    """out = a ** b.  d out/da = b a^(b-1),  d out/db = a^b ln a  (computed only if b needs it)."""

    @staticmethod
    def forward(ctx: Any, a: Array, b: Array) -> Array:
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, Array | None]:
        a, b, out = ctx.saved
        da, db = ctx.needs_input_grad
        return (g * b * a ** (b - 1) if da else None), (g * out * np.log(a) if db else None)


# --------------------------------------------------------------------------- elementwise, unary
class Neg(Function):
    """out = -a.  d out/da = -1."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        return -a

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        return -g


class Exp(Function):
    """out = e^a.  d out/da = e^a = out."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (out,) = ctx.saved
        return g * out


class Log(Function):
    """out = ln a.  d out/da = 1/a."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (a,) = ctx.saved
        return g / a


class Sqrt(Function):
    """out = sqrt(a).  d out/da = 1 / (2 sqrt(a)) = 1 / (2 out)."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (out,) = ctx.saved
        return g / (2 * out)


class Sigmoid(Function):
    """out = s(a) = 1 / (1 + e^-a).  d out/da = s (1 - s).

    No overflow for any a: where e^-a overflows (a < -88 in float32) it is +inf and
    1 / (1 + inf) = 0, the correctly rounded value, so that IEEE overflow is silenced.
    """

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        out = np.empty_like(a)
        with np.errstate(over="ignore", under="ignore"):
            np.negative(a, out=out)
            np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (s,) = ctx.saved
        out = 1 - s
        out *= s
        out *= g
        return out


class ReLU(Function):
    """out = max(a, 0).  d out/da = 1 where a > 0, else 0 (0 at the kink a = 0)."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        out = np.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (out,) = ctx.saved
        return g * (out > 0)


class Tanh(Function):
    """out = tanh(a).  d out/da = 1 - tanh(a)^2 = 1 - out^2."""

    @staticmethod
    def forward(ctx: Any, a: Array) -> Array:
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (out,) = ctx.saved
        return g * (1 - out * out)


# --------------------------------------------------------------------------- reductions
def _reduced_axes(ndim: int, axis: int | tuple[int, ...] | None) -> set[int]:
    """The axes a reduction over ``axis`` removes (all of them for None)."""
    if axis is None or ndim == 0:
        return set(range(ndim))
    return {a % ndim for a in ((axis,) if isinstance(axis, int | np.integer) else axis)}


def _keepdims_shape(shape: tuple[int, ...], axis: int | tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = _reduced_axes(len(shape), axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """out = sum of a over ``axis``.  d out/d a_i = 1: each a_i receives the g of its sum."""

    @staticmethod
    def forward(ctx: Any, a: Array, axis: Any = None, keepdims: bool = False) -> Array:
        ctx.shape, ctx.axis = a.shape, axis
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        return np.broadcast_to(g.reshape(_keepdims_shape(ctx.shape, ctx.axis)), ctx.shape)


class Max(Function):
    """out = max of a over ``axis``.  d out/d a_i = 1/k if a_i is one of the k maxima, else 0.

    Ties share the gradient evenly, so the gradient of max is the average of the
    subgradients of its maximal elements (what numerical differences see for a tie-free max).
    """

    @staticmethod
    def forward(ctx: Any, a: Array, axis: Any = None, keepdims: bool = False) -> Array:
        if a.size == 0:
            raise ShapeError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        m = a.max(axis=axis, keepdims=True)
        ctx.save_for_backward(a == m)
        ctx.shape, ctx.axis = a.shape, axis
        if keepdims:
            return m
        axes = _reduced_axes(a.ndim, axis)
        return m.reshape([n for i, n in enumerate(a.shape) if i not in axes])

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (is_max,) = ctx.saved
        g = g.reshape(_keepdims_shape(ctx.shape, ctx.axis))
        return is_max * (g / is_max.sum(axis=ctx.axis, keepdims=True).astype(g.dtype))


# --------------------------------------------------------------------------- shape
class Reshape(Function):
    """out = a viewed with a new shape.  The gradient is g viewed back in a's shape."""

    @staticmethod
    def forward(ctx: Any, a: Array, shape: tuple[int, ...] = ()) -> Array:
        ctx.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape {a.shape} ({a.size} elements) into {shape}"
            ) from None

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    """out = a with axes permuted by p.  The gradient is g permuted back by the inverse of p."""

    @staticmethod
    def forward(ctx: Any, a: Array, axes: tuple[int, ...] | None = None) -> Array:
        if axes is not None:
            if sorted(x % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
                raise ShapeError(
                    f"transpose: axes {axes} do not permute the {a.ndim} axes of {a.shape}"
                )
            axes = tuple(x % a.ndim for x in axes)
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        return g.transpose(None if ctx.axes is None else np.argsort(ctx.axes))


class Index(Function):
    """out = a[index] (numpy indexing: integers, slices, integer arrays such as a[rows, cols]).

    d out_j / d a_i = 1 where out_j was read from a_i: the gradient is scattered back, and
    added (np.add.at) where the same element was read several times.
    """

    @staticmethod
    def forward(ctx: Any, a: Array, index: Any = None) -> Array:
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return a[index]
        except IndexError as e:
            raise ShapeError(f"index: {e} (tensor of shape {a.shape})") from None

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, ctx.index, g)
        return out


# --------------------------------------------------------------------------- matmul
class MatMul(Function):
    """out = a @ b (numpy semantics: 2-D, 1-D vectors, batched N-D with broadcast batch axes).

    For 2-D, out_ij = sum_k a_ik b_kj, so  dL/da = g b^T  and  dL/db = a^T g.  1-D operands are
    treated as a row (a) or a column (b) and the inserted axis removed again; batch axes that
    were broadcast are summed by the engine. Only the gradients that are needed are computed.
    """

    @staticmethod
    def forward(ctx: Any, a: Array, b: Array) -> Array:
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"matmul: both operands need at least 1 dimension, got {a.shape} and {b.shape}"
            )
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            raise ShapeError(
                f"matmul: shapes {a.shape} and {b.shape} do not align ({a.shape[-1]} != {k_b})"
            )
        ctx.save_for_backward(a, b)
        if a.ndim <= 2 and b.ndim <= 2:
            return np.dot(a, b)  # np.dot calls BLAS even when an inner dimension is 1
        try:
            return np.matmul(a, b)
        except ValueError:
            raise ShapeError(
                f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast"
            ) from None

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            return (np.dot(g, b.T) if need_a else None), (np.dot(a.T, g) if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a  # (k,) -> (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k,) -> (k, 1)
        g2 = g
        if a.ndim == 1:
            g2 = g2[..., None, :] if b.ndim > 1 else g2[..., None]
        if b.ndim == 1:
            g2 = g2[..., None]
        da = db = None
        if need_a:
            da = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                da = da[..., 0, :]
        if need_b:
            db = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                db = db[..., 0]
        return da, db


# --------------------------------------------------------------------------- fused, for stability
class LogSoftmax(Function):
    """out = a - logsumexp(a) along ``axis``; computed as (a - m) - log(sum(e^(a - m))), m = max a.

    d out_i / d a_j = delta_ij - p_j with p = softmax(a) = e^out, so  dL/da = g - p * sum(g).
    """

    @staticmethod
    def forward(ctx: Any, a: Array, axis: int = -1) -> Array:
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        (out,) = ctx.saved
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True)


class CrossEntropy(Function):
    """loss = -(1/N) sum_n sum_c y_nc log softmax(z_n)_c, from logits z of shape (N, C).

    ``targets`` are N integer labels (y is then one-hot) or an (N, C) array of target
    probabilities (rows summing to 1). With p = softmax(z):  dL/dz = (p - y) / N.
    """

    op_name = "CrossEntropy"

    @staticmethod
    def forward(ctx: Any, z: Array, targets: Array | None = None) -> Array:
        if z.ndim != 2:
            raise ShapeError(f"cross_entropy: logits must have shape (N, C), got {z.shape}")
        n, c = z.shape
        t = np.asarray(targets)
        if t.ndim == 1 and t.dtype.kind in "iub":
            if t.shape[0] != n:
                raise ShapeError(
                    f"cross_entropy: {t.shape[0]} labels for {n} rows of logits {z.shape}"
                )
            if n and (t.min() < 0 or t.max() >= c):
                raise InputError(
                    f"cross_entropy: labels must lie in [0, {c}), got range [{t.min()}, {t.max()}]"
                )
        elif t.shape != z.shape:
            raise ShapeError(
                f"cross_entropy: targets must be {n} integer labels or one-hot rows of shape "
                f"{z.shape}, got shape {t.shape} and dtype {t.dtype}"
            )
        # The row maxima, reduced down the columns of a transposed copy: numpy reduces a short
        # last axis (C = 10) element by element, and this is 3x faster for (256, 10).
        shifted = z - np.ascontiguousarray(z.T).max(axis=0)[:, None]
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if t.ndim == 1:
            loss = -logp[np.arange(n), t].sum() / n
        else:
            loss = -(t * logp).sum() / n
        ctx.save_for_backward(logp, t)
        return np.asarray(loss, dtype=z.dtype)

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        logp, t = ctx.saved
        n = logp.shape[0]
        grad = np.exp(logp)
        if t.ndim == 1:
            grad[np.arange(n), t] -= 1
        else:
            grad -= t
        grad *= g / n
        return grad


# ------------------------------------------------------------- fused: linear layer, binary losses
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


_LOG_FLOOR = -100.0  # BCE clamps log p and log(1-p) here, as PyTorch does: loss <= 100 per element


def binary_targets(who: str, x: Array, targets: Any) -> Array:
    """Targets as x's float dtype and shape: same shape, or the same number of elements (so
    (N,) labels fit an (N, 1) output)."""
    t = np.asarray(targets)
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
        t = binary_targets("binary_cross_entropy", p, targets)
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
        t = binary_targets("binary_cross_entropy_with_logits", z, targets)
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


# ---------------------------------------------------------------------- convolution and pooling
# Images are (N, C, H, W). A (kh, kw) window at stride (sh, sw) sees, for output pixel (i, j),
# x[n, c, i sh + p, j sw + q] at kernel offsets 0 <= p < kh, 0 <= q < kw; the output is Ho x Wo
# with Ho = (H - kh) // sh + 1 (after padding). im2col copies the windows into the columns of one
# matrix, so a convolution is one BLAS matmul; col2im is its adjoint: it scatters each column back
# to its window and *adds* where windows overlap (stride < kernel).
# Memory layout: the ops keep images as (C, H, W, N) in memory (N fastest) behind an (N, C, H, W)
# view, so each kernel offset of every window is a long contiguous run (ho, wo, n): im2col,
# col2im and pooling then stream memory instead of hopping along 5-element rows.
def _pair(op: str, name: str, value: Any, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of ints ``>= minimum`` (an int v means (v, v))."""
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum for v in pair
    ):
        raise ShapeError(
            f"{op}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def _out_size(
    op: str,
    shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
) -> tuple[int, int]:
    """(Ho, Wo) = ((H + 2 ph - kh) // sh + 1, (W + 2 pw - kw) // sw + 1), shape (N, C, H, W)."""
    hp, wp = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        where = f"padded input {hp}x{wp} (padding {padding})" if any(padding) else "input"
        raise ShapeError(
            f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the {where}: input shape {shape}"
        )
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def _window(x: Array, p: int, q: int, out_hw: tuple[int, int], stride: tuple[int, int]) -> Array:
    """The view x[:, :, p + i sh, q + j sw] for i < Ho, j < Wo: offset (p, q) of every window."""
    (ho, wo), (sh, sw) = out_hw, stride
    return x[:, :, p : p + sh * (ho - 1) + 1 : sh, q : q + sw * (wo - 1) + 1 : sw]


def _chwn(x: Array) -> Array:
    """x (N, C, H, W) as a C-contiguous (C, H, W, N) array (a view if already laid out so)."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def im2col(x: Array, kernel: tuple[int, int], stride: tuple[int, int]) -> Array:
    """The windows of x (N, C, H, W) as columns: X (C kh kw, Ho Wo N) with
    X[(c, p, q), (i, j, n)] = x[n, c, i sh + p, j sw + q]; one copy out of a strided view."""
    xt = _chwn(x)  # (C, H, W, N)
    c, n = xt.shape[0], xt.shape[3]
    windows = np.lib.stride_tricks.sliding_window_view(xt, kernel, axis=(1, 2))
    windows = windows[:, :: stride[0], :: stride[1]]  # (C, Ho, Wo, N, kh, kw), a view
    _, ho, wo, _, kh, kw = windows.shape
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, ho * wo * n)


def col2im(
    cols: Array, shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int]
) -> Array:
    """Adjoint of :func:`im2col`: X (C kh kw, Ho Wo N) -> x (N, C, H, W) with
    x[n, c, i sh + p, j sw + q] += X[(c, p, q), (i, j, n)]  (overlapping windows add up).

    One vectorised strided add per kernel offset (p, q), no loop over pixels. The result is an
    (N, C, H, W) view of a (C, H, W, N) array."""
    n, c, h, w = shape
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = _out_size("col2im", shape, kernel, stride)
    blocks = cols.reshape(c, kh, kw, ho, wo, n)
    xt = np.zeros((c, h, w, n), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            xt[:, p : p + sh * (ho - 1) + 1 : sh, q : q + sw * (wo - 1) + 1 : sw] += blocks[:, p, q]
    return xt.transpose(3, 0, 1, 2)


class Conv2d(Function):
    """out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] xpad[n, c, i sh + p, j sw + q]
    (cross-correlation, as in PyTorch): x (N, C, H, W), w (O, C, kh, kw), optional b (O,),
    xpad = x zero-padded by (ph, pw) on each side; out (N, O, Ho, Wo), Ho = (H + 2ph - kh)//sh + 1.

    With X = im2col(xpad) (C kh kw, Ho Wo N), W = w as (O, C kh kw), G = g as (O, Ho Wo N),
    out = W X + b, so like a matmul:  dL/dw = G X^T  (the sum over n and positions of g ⊗ patch),
    dL/db = sum of g over n, i, j,  dL/dx = col2im(W^T G) cropped by the padding (each input
    pixel collects w g from every window it is in). dL/dx is skipped when x needs none (data).
    """

    @staticmethod
    def forward(
        ctx: Any, x: Array, w: Array, b: Array | None = None, stride: Any = 1, padding: Any = 0
    ) -> Array:
        if x.ndim != 4:
            raise ShapeError(f"conv2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
        if w.ndim != 4:
            raise ShapeError(
                f"conv2d: weight must be 4-D (out_channels, in_channels, kh, kw), got {w.shape}"
            )
        if x.shape[1] != w.shape[1]:
            raise ShapeError(
                f"conv2d: input {x.shape} has {x.shape[1]} channels but weight {w.shape} "
                f"expects {w.shape[1]} (weight is (out_channels, in_channels, kh, kw))"
            )
        if b is not None and b.shape != (w.shape[0],):
            raise ShapeError(
                f"conv2d: bias must have shape ({w.shape[0]},) for weight {w.shape}, got {b.shape}"
            )
        stride = _pair("conv2d", "stride", stride, 1)
        ph, pw = padding = _pair("conv2d", "padding", padding, 0)
        kernel = w.shape[2], w.shape[3]
        ho, wo = _out_size("conv2d", x.shape, kernel, stride, padding)
        if ph or pw:  # pad the (C, H, W, N) copy, keeping the layout
            x = np.pad(_chwn(x), ((0, 0), (ph, ph), (pw, pw), (0, 0))).transpose(3, 0, 1, 2)
        n, o = x.shape[0], w.shape[0]
        cols = im2col(x, kernel, stride)  # X (C kh kw, Ho Wo N)
        out = np.dot(w.reshape(o, -1), cols)  # W X (O, Ho Wo N): one BLAS matmul
        if b is not None:
            out += b[:, None]
        need_x, need_w = ctx.needs_input_grad[:2]
        ctx.save_for_backward(cols if need_w else None, w if need_x else None)
        ctx.padded_shape, ctx.w_shape, ctx.stride, ctx.padding = x.shape, w.shape, stride, padding
        return out.reshape(o, ho, wo, n).transpose(3, 0, 1, 2)  # (N, O, Ho, Wo) view

    @staticmethod
    def backward(ctx: Any, g: Array) -> tuple[Array | None, ...]:
        cols, w = ctx.saved
        needs = ctx.needs_input_grad
        gm = _chwn(g).reshape(g.shape[1], -1)  # G (O, Ho Wo N); no copy if g is laid out so
        dx = dw = db = None
        if needs[1]:
            dw = np.dot(gm, cols.T).reshape(ctx.w_shape)
        if len(needs) == 3 and needs[2]:
            db = gm.sum(axis=1)
        if needs[0]:
            dcols = np.dot(w.reshape(w.shape[0], -1).T, gm)  # W^T G (C kh kw, Ho Wo N)
            dx = col2im(dcols, ctx.padded_shape, ctx.w_shape[2:], ctx.stride)
            ph, pw = ctx.padding
            if ph or pw:
                dx = dx[:, :, ph : dx.shape[2] - ph, pw : dx.shape[3] - pw]
        return (dx, dw) if len(needs) == 2 else (dx, dw, db)


class MaxPool2d(Function):
    """out[n, c, i, j] = max_{p < kh, q < kw} x[n, c, i sh + p, j sw + q]: x (N, C, H, W),
    out (N, C, Ho, Wo), Ho = (H - kh) // sh + 1; the stride defaults to the kernel size.

    d out[n, c, i, j] / d x[n, c, i sh + p, j sw + q] = 1/k if that element is one of the k
    maxima of its window, else 0 (ties share evenly, like :class:`Max`): dL/dx sends each
    g[n, c, i, j] to the maxima of its window, adding up where windows overlap (stride < kernel).
    Vectorised over pixels: one strided max (forward) and one strided add (backward) per offset.
    """

    @staticmethod
    def forward(ctx: Any, x: Array, kernel_size: Any = 2, stride: Any = None) -> Array:
        if x.ndim != 4:
            raise ShapeError(f"max_pool2d: input must be 4-D (N, C, H, W), got shape {x.shape}")
        kernel = _pair("max_pool2d", "kernel_size", kernel_size, 1)
        stride = kernel if stride is None else _pair("max_pool2d", "stride", stride, 1)
        out_hw = _out_size("max_pool2d", x.shape, kernel, stride)
        out = _window(x, 0, 0, out_hw, stride).copy(order="K")  # keeps x's memory layout
        for p in range(kernel[0]):
            for q in range(kernel[1]):
                if p or q:
                    np.maximum(out, _window(x, p, q, out_hw, stride), out=out)
        ctx.save_for_backward(x, out)
        ctx.kernel, ctx.stride, ctx.out_hw = kernel, stride, out_hw
        return out

    @staticmethod
    def backward(ctx: Any, g: Array) -> Array:
        x, out = ctx.saved
        if g.strides != out.strides:  # e.g. g from a flatten: one copy into out's memory
            laid_out = np.empty_like(out, dtype=g.dtype)  # layout, as elementwise ops on
            np.copyto(laid_out, g)  # arrays of different layouts run ~20x slower
            g = laid_out
        offsets = [(p, q) for p in range(ctx.kernel[0]) for q in range(ctx.kernel[1])]
        is_max = [_window(x, p, q, ctx.out_hw, ctx.stride) == out for p, q in offsets]
        count = is_max[0].astype(np.uint8 if len(offsets) < 256 else np.int64)
        for m in is_max[1:]:
            count += m  # k >= 1: the maximum is in its window
        share = g / count  # each window's g, split evenly among its k maxima
        dx = np.zeros_like(x, dtype=g.dtype)  # same memory layout as x
        disjoint = ctx.stride[0] >= ctx.kernel[0] and ctx.stride[1] >= ctx.kernel[1]
        for (p, q), m in zip(offsets, is_max, strict=True):
            window = _window(dx, p, q, ctx.out_hw, ctx.stride)  # a view into dx
            if disjoint:  # windows do not overlap: each element of dx is written once
                np.multiply(m, share, out=window)
            else:
                window += m * share
        return dx
