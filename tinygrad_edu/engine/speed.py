"""The engine's speed helpers: numpy calls chosen for measured speed, each with its reason.

Every helper computes exactly what its one-line formula says; only the numpy route differs
from the obvious one. The figures, each helper against the obvious route on the shapes of the
course's networks, are the output of ``python benchmarks/speed_helpers.py`` (they change with
the machine, numpy and BLAS, so they are measured there, not written here). A Tensor argument
(``create_graph``) takes the plain formula, recorded as ops.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from . import parallel

Array = np.ndarray

#: Broadcast gradients up to this many elements are written out (see :func:`expand`).
COPY_BROADCASTS_UP_TO = 4096


def matmul(a: Any, b: Any) -> Any:
    """a @ b, through np.dot for <= 2-D: numpy's ``@`` skips BLAS when an inner dimension is 1
    (dL/dW = x^T g at batch 1, (784, 1) (1, 64): several times slower with ``@``)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return a @ b
    return np.dot(a, b) if a.ndim <= 2 and b.ndim <= 2 else np.matmul(a, b)


def sigmoid(a: Array) -> Array:
    """1 / (1 + e^-a) in one array, each step in place: no temporary per step, which matters
    most for large activations. (Overflow: ops.Sigmoid.)"""
    out = np.negative(a, out=np.empty_like(a))  # an array also for a 0-d a
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.divide(1, out, out=out)
    return out


def sigmoid_grad(s: Any, g: Any) -> Any:
    """(1 - s) s g with one temporary, multiplied in place, instead of a temporary per product."""
    if type(s) is not np.ndarray or type(g) is not np.ndarray:
        return (1 - s) * s * g
    out = 1 - s
    out *= s
    out *= g
    return out


def relu(a: Array) -> tuple[Array, Array]:
    """max(a, 0) and the mask a > 0 that its backward needs, both in a's memory layout. For a
    large float array, piece by piece over the cores (``parallel.run_pieces``), each piece's two
    passes back to back while it is in cache: ReLU's passes over a convolution's output are
    memory-bound, and would leave the other cores idle."""
    if type(a) is not np.ndarray or a.dtype.kind != "f" or a.size < parallel.MIN_SPLIT:
        return np.maximum(a, 0), a > 0
    out, positive = np.empty_like(a), np.empty_like(a, dtype=bool)

    def piece(at: tuple[slice, ...]) -> None:
        np.greater(a[at], 0, out=positive[at])
        np.maximum(a[at], 0, out=out[at])

    parallel.split_outer(a, piece)
    return out, positive


def masked(g: Any, mask: Array) -> Any:
    """g * mask (ReLU's backward; mask boolean, of g's shape), split over the cores
    (``parallel.elementwise``) for a large g, in the layout of the mask (the layout of ReLU's
    input)."""
    if type(g) is not np.ndarray or g.shape != mask.shape or g.size < parallel.MIN_SPLIT:
        return g * mask
    return parallel.elementwise(np.multiply, g, mask, out=np.empty_like(mask, dtype=g.dtype))


def expand(g: Any, shape: tuple[int, ...]) -> Any:
    """g broadcast to ``shape``. Up to :data:`COPY_BROADCASTS_UP_TO` elements it is written into
    a new array: ``np.broadcast_to`` spends longer in Python-level checks than the copy takes
    (the gradient of a mean over 1 to 256 elements). Larger, the read-only broadcast view is
    cheaper than a copy. (For a Tensor, g + zeros(shape).)"""
    if type(g) is not np.ndarray:
        return g + np.zeros(shape, g.dtype)
    if math.prod(shape) > COPY_BROADCASTS_UP_TO:
        return np.broadcast_to(g, shape)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


def sum_rows(g: Any) -> Any:
    """g summed over its first axis (the adjoint of adding a row to every row): for a 2-D g,
    as the product ones(N) g on BLAS, faster than numpy's ``g.sum(axis=0)`` (a bias gradient)."""
    if type(g) is not np.ndarray or g.ndim != 2 or g.dtype.kind != "f":
        return g.sum(axis=0)
    return np.dot(cached_ones(g.shape[0], g.dtype), g)


def max_along(a: Any, axis: int) -> Any:
    """max of a along ``axis``, kept as a size-1 axis. For the rows of a 2-D float array,
    reduced down the columns of a transposed contiguous copy: ``z.max(axis=1, keepdims=True)``
    reduces a short last axis (C = 10 classes) element by element, which is slow."""
    if not _rows_of_2d(a, axis):
        return a.max(axis=axis, keepdims=True)
    return np.ascontiguousarray(a.T).max(axis=0)[:, None]


def sum_along(a: Any, axis: int) -> Any:
    """sum of a along ``axis``, kept as a size-1 axis. For the rows of a 2-D float array, as the
    product a ones(C) on BLAS, faster than ``a.sum(axis=1, keepdims=True)`` for a short row."""
    if not _rows_of_2d(a, axis):
        return a.sum(axis=axis, keepdims=True)
    return np.dot(a, cached_ones(a.shape[1], a.dtype)[:, None])


def _rows_of_2d(a: Any, axis: int) -> bool:
    """True for a 2-D float array (not a Tensor) reduced along its rows (axis 1 or -1)."""
    return type(a) is np.ndarray and a.ndim == 2 and axis in (1, -1) and a.dtype.kind == "f"


@functools.lru_cache(maxsize=64)
def cached_ones(n: int, dtype: np.dtype) -> Array:
    """A read-only vector of n ones, kept for the next call instead of made again by
    ``np.ones`` (the row and column sums above take one each, every step)."""
    out = np.ones(n, dtype)
    out.flags.writeable = False
    return out
