"""The primitive ops: a table of derivatives.

Each op's docstring gives its forward value and its local derivative. ``backward(ctx, g)``
receives ``g = dL/dout`` and returns ``dL/dinput`` for each input (the vector-Jacobian product
``g^T J``), or ``None`` where ``ctx.needs_input_grad`` says the input needs none. Gradients may be
returned in the broadcast shape: the engine sums them back to each input's shape in one place.

Composite ops (sub, div, mean, softmax) are built from these in ``tensor.py``; a few are fused
here (Sigmoid, LogSoftmax, CrossEntropy) because the fused form is stable or faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Function
from .tensor import ShapeError

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
                raise ValueError(
                    f"cross_entropy: labels must lie in [0, {c}), got range [{t.min()}, {t.max()}]"
                )
        elif t.shape != z.shape:
            raise ShapeError(
                f"cross_entropy: targets must be {n} integer labels or one-hot rows of shape "
                f"{z.shape}, got shape {t.shape} and dtype {t.dtype}"
            )
        shifted = z - z.max(axis=1, keepdims=True)
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
