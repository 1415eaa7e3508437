"""The primitive ops: a table of derivatives.

Each op's docstring gives its forward value and its local derivative. Its ``backward(ctx, g)`` is
that derivative applied in reverse: from ``g = dL/dout`` it returns ``dL/dinput`` for each input
(the vector-Jacobian product), ``None`` where ``ctx.needs_input_grad`` says none is needed,
possibly in the broadcast shape (the engine sums it back). Its ``jvp(ctx, *tangents)`` applies
it forward: from each input's tangent (``None``: none) it returns the output's (the
Jacobian-vector product of forward mode); a linear op's tangent is the op applied to the tangents.

``backward`` uses only operations that Tensors have too (arithmetic, and ``rule_math`` where numpy
and Tensors spell a function differently), so under ``create_graph`` the engine runs the same rule
on Tensors and the gradient becomes a graph of its own; the speed helpers live in ``speed.py``.
Composites (sub, div, softmax) are built in ``tensor.py``; fused ops live in ``fused.py``,
convolution in ``conv.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import rule_math as rm
from .errors import ShapeError, float_only
from .function import Function
from .speed import expand, masked, matmul, relu, sigmoid, sigmoid_grad

Array = np.ndarray
Grads = tuple[Any, Any]  # arrays, or Tensors under create_graph; None where none is needed
Axis = int | tuple[int, ...] | None


# --------------------------------------------------------------------------- elementwise, binary
class Add(Function):
    """out = a + b (broadcasting).  d out/da = 1, d out/db = 1:  dL/da = g, dL/db = g;
    tangent: ta + tb."""

    def forward(ctx, a: Array, b: Array) -> Array:
        return a + b

    def backward(ctx, g: Array) -> Grads:
        return g, g

    def jvp(ctx, ta: Array | None, tb: Array | None) -> Array:
        return _add(ta, tb)


class Mul(Function):
    """out = a * b (broadcasting).  d out/da = b, d out/db = a:  dL/da = g b, dL/db = g a;
    tangent: ta b + a tb."""

    def forward(ctx, a: Array, b: Array) -> Array:
        ctx.save_for_backward(a, b)
        return a * b

    def backward(ctx, g: Array) -> Grads:
        a, b = ctx.saved
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)

    def jvp(ctx, ta: Array | None, tb: Array | None) -> Array:
        a, b = ctx.saved
        return _add(None if ta is None else ta * b, None if tb is None else a * tb)


class Pow(Function):
    """out = a ** b.  d out/da = b a^(b-1),  d out/db = a^b ln a  (computed only if b needs it);
    tangent: b a^(b-1) ta + a^b ln a tb.  Where b = 0, d out/da = 0 also at a = 0 (a^0 = 1)."""

    def forward(ctx, a: Array, b: Array) -> Array:
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, g: Array) -> Grads:
        a, b, out = ctx.saved
        da, db = ctx.needs_input_grad
        return (g * _pow_slope(a, b) if da else None), (g * out * rm.log(a) if db else None)

    def jvp(ctx, ta: Array | None, tb: Array | None) -> Array:
        a, b, out = ctx.saved
        return _add(
            None if ta is None else _pow_slope(a, b) * ta,
            None if tb is None else out * rm.log(a) * tb,
        )


# --------------------------------------------------------------------------- elementwise, unary
class Neg(Function):
    """out = -a.  d out/da = -1; tangent: -t."""

    def forward(ctx, a: Array) -> Array:
        return -a

    def backward(ctx, g: Array) -> Array:
        return -g

    def jvp(ctx, t: Array) -> Array:
        return -t


class Exp(Function):
    """out = e^a.  d out/da = e^a = out; tangent: out t."""

    def forward(ctx, a: Array) -> Array:
        out = np.exp(float_only("exp", a))
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g: Array) -> Array:
        (out,) = ctx.saved
        return g * out

    def jvp(ctx, t: Array) -> Array:
        return ctx.saved[0] * t


class Log(Function):
    """out = ln a.  d out/da = 1/a; tangent: t / a."""

    def forward(ctx, a: Array) -> Array:
        ctx.save_for_backward(float_only("log", a))
        return np.log(a)

    def backward(ctx, g: Array) -> Array:
        (a,) = ctx.saved
        return g / a

    def jvp(ctx, t: Array) -> Array:
        return t / ctx.saved[0]


class Sqrt(Function):
    """out = sqrt(a).  d out/da = 1 / (2 sqrt(a)) = 1 / (2 out); tangent: t / (2 out)."""

    def forward(ctx, a: Array) -> Array:
        out = np.sqrt(float_only("sqrt", a))
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g: Array) -> Array:
        (out,) = ctx.saved
        return g / (2 * out)

    def jvp(ctx, t: Array) -> Array:
        return t / (2 * ctx.saved[0])


class Sigmoid(Function):
    """out = s(a) = 1 / (1 + e^-a).  d out/da = s (1 - s):  dL/da = (1 - s) s g; tangent:
    (1 - s) s t.

    No overflow for any a: where e^-a overflows (a < -88 in float32) it is +inf and
    1 / (1 + inf) = 0, the correctly rounded value, so that IEEE overflow is silenced.
    """

    def forward(ctx, a: Array) -> Array:
        out = sigmoid(float_only("sigmoid", a))
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g: Array) -> Array:
        (s,) = ctx.saved
        return sigmoid_grad(s, g)

    def jvp(ctx, t: Array) -> Array:
        return sigmoid_grad(ctx.saved[0], t)


class ReLU(Function):
    """out = max(a, 0).  d out/da = 1 where a > 0, else 0 (also at the kink); tangent: t [a > 0]."""

    def forward(ctx, a: Array) -> Array:
        out, positive = relu(a)  # both passes split over the cores
        ctx.save_for_backward(positive)
        return out

    def backward(ctx, g: Array) -> Array:
        (positive,) = ctx.saved
        return masked(g, positive)

    def jvp(ctx, t: Array) -> Array:
        return t * ctx.saved[0]


class Tanh(Function):
    """out = tanh(a).  d out/da = 1 - tanh(a)^2 = 1 - out^2; tangent: (1 - out^2) t."""

    def forward(ctx, a: Array) -> Array:
        out = np.tanh(float_only("tanh", a))
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g: Array) -> Array:
        (out,) = ctx.saved
        return g * (1 - out * out)

    def jvp(ctx, t: Array) -> Array:
        (out,) = ctx.saved
        return (1 - out * out) * t


# --------------------------------------------------------------------------- reductions
class Sum(Function):
    """out = sum of a over ``axis``.  d out/d a_i = 1: each a_i receives the g of its sum;
    tangent: the sum of t."""

    def forward(ctx, a: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        out = a.sum(axis=axis, keepdims=True)
        ctx.in_shape, ctx.kept_shape = a.shape, out.shape
        return out if keepdims else np.squeeze(out, axis)

    def backward(ctx, g: Array) -> Array:
        return expand(g.reshape(ctx.kept_shape), ctx.in_shape)

    def jvp(ctx, t: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        return t.sum(axis=axis, keepdims=keepdims)


class Mean(Sum):
    """out = (1/n) sum of a over ``axis``, n elements each.  d out/d a_i = 1/n: each a_i
    receives g/n; tangent: the mean of t. (One op, not Sum then Mul: half the bookkeeping.)"""

    def forward(ctx, a: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        out = Sum.forward(ctx, a, axis, keepdims)
        ctx.scale = 1.0 / (a.size // out.size) if out.size else 1.0
        return out * ctx.scale

    def backward(ctx, g: Array) -> Array:
        return Sum.backward(ctx, g * ctx.scale)

    def jvp(ctx, t: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        return Sum.jvp(ctx, t, axis, keepdims) * ctx.scale


class Max(Function):
    """out = max of a over ``axis``.  d out/d a_i = 1/k if a_i is one of the k maxima, else 0;
    tangent: the mean of t over the maxima.

    Ties share the gradient evenly, so the gradient of max is the average of the
    subgradients of its maximal elements (what numerical differences see for a tie-free max).
    """

    def forward(ctx, a: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        m = a.max(axis=axis, keepdims=True)
        ctx.save_for_backward(a == m)
        ctx.axis = axis
        return m if keepdims else np.squeeze(m, axis)

    def backward(ctx, g: Array) -> Array:
        (is_max,) = ctx.saved
        k = is_max.sum(axis=ctx.axis, keepdims=True)
        return is_max * (g.reshape(k.shape) / k.astype(g.dtype))

    def jvp(ctx, t: Array, axis: Axis = None, keepdims: bool = False) -> Array:
        (is_max,) = ctx.saved
        mean = (is_max * t).sum(axis=axis, keepdims=True) / is_max.sum(axis=axis, keepdims=True)
        return mean if keepdims else np.squeeze(mean, axis)


# --------------------------------------------------------------------------- shape
class Reshape(Function):
    """out = a viewed with a new shape.  The gradient is g viewed back in a's shape; tangent:
    t reshaped."""

    def forward(ctx, a: Array, shape: tuple[int, ...] = ()) -> Array:
        ctx.in_shape = a.shape
        return a.reshape(shape)

    def backward(ctx, g: Array) -> Array:
        return g.reshape(ctx.in_shape)

    def jvp(ctx, t: Array, shape: tuple[int, ...] = ()) -> Array:
        return t.reshape(shape)


class Transpose(Function):
    """out = a with axes permuted by p.  The gradient is g permuted back by the inverse of p;
    tangent: t permuted by p."""

    def forward(ctx, a: Array, axes: tuple[int, ...] | None = None) -> Array:
        out = a.transpose(axes)
        ctx.axes = None if axes is None else [x % a.ndim for x in axes]
        return out

    def backward(ctx, g: Array) -> Array:
        return g.transpose() if ctx.axes is None else g.transpose(np.argsort(ctx.axes))

    def jvp(ctx, t: Array, axes: tuple[int, ...] | None = None) -> Array:
        return t.transpose(axes)


class Index(Function):
    """out = a[index] (numpy indexing: integers, slices, integer arrays such as a[rows, cols]).

    d out_j / d a_i = 1 where out_j was read from a_i: the gradient is scattered back, and
    added where the same element was read several times (:class:`Scatter`); tangent: t[index].
    """

    def forward(ctx, a: Array, index: Any = None) -> Array:
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    def backward(ctx, g: Array) -> Array:
        if rm.is_tensor(g):
            return Scatter.apply(g, shape=ctx.shape, index=ctx.index)
        return _scatter(g, ctx.shape, ctx.index)

    def jvp(ctx, t: Array, index: Any = None) -> Array:
        return t[index]


class Scatter(Function):
    """out = zeros(shape) with out[index] += a, adding where an element is named several times:
    the adjoint of :class:`Index`.  d out[index]_j / d a_j = 1:  dL/da = g[index]; tangent:
    the scatter of t. (Index's backward under create_graph.)"""

    def forward(ctx, a: Array, shape: tuple[int, ...] = (), index: Any = None) -> Array:
        ctx.index = index
        return _scatter(a, shape, index)

    def backward(ctx, g: Array) -> Array:
        return g[ctx.index]

    def jvp(ctx, t: Array, shape: tuple[int, ...] = (), index: Any = None) -> Array:
        return _scatter(t, shape, index)


# --------------------------------------------------------------------------- matmul
class MatMul(Function):
    """out = a @ b (numpy semantics: 2-D, 1-D vectors, batched N-D with broadcast batch axes).

    For 2-D, out_ij = sum_k a_ik b_kj, so  dL/da = g b^T  and  dL/db = a^T g;  tangent:
    ta b + a tb. A 1-D a is a row (1, k) and a 1-D b a column (k, 1), g gaining the matching
    axis; the engine sums away the row axis of dL/da and any broadcast batch axes. Only the
    gradients that are needed are computed.
    """

    def forward(ctx, a: Array, b: Array) -> Array:
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ShapeError(
                f"matmul: shapes {a.shape} and {b.shape} do not align: a @ b needs (..., k) @ (k,)"
                " or (..., k) @ (..., k, n)"
            )
        ctx.save_for_backward(a, b)
        return matmul(a, b)

    def backward(ctx, g: Array) -> Grads:
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        column = b.ndim == 1
        if column:
            b, g = b.reshape(-1, 1), g.reshape(*g.shape, 1)
        if a.ndim == 1:
            a, g = a.reshape(1, -1), g.reshape(*g.shape[:-1], 1, g.shape[-1])
        da = matmul(g, b.mT) if need_a else None
        db = matmul(a.mT, g) if need_b else None
        return da, (db.reshape(db.shape[:-1]) if column and need_b else db)

    def jvp(ctx, ta: Array | None, tb: Array | None) -> Array:
        a, b = ctx.saved
        return _add(None if ta is None else matmul(ta, b), None if tb is None else matmul(a, tb))


# --------------------------------------------------------------------------- helpers
def _add(x: Any, y: Any) -> Any:
    """x + y, where None stands for a zero (an input without a tangent)."""
    return y if x is None else x if y is None else x + y


def _pow_slope(a: Any, b: Any) -> Any:
    """b a^(b-1), the slope of a^b in a, and 0 where a = b = 0 (a^0 = 1 is constant), where the
    formula would give 0 * 0^-1 = 0 * inf = NaN: there a is raised to 0 instead of to -1."""
    at_zero = (rm.values(b) == 0) & (rm.values(a) == 0)
    return b * a ** (b - 1 + at_zero)


def _scatter(a: Array, shape: tuple[int, ...], index: Any) -> Array:
    """zeros(shape) with a added at ``index`` (np.add.at adds where an index repeats)."""
    out = np.zeros(shape, dtype=a.dtype)
    np.add.at(out, index, a)
    return out
