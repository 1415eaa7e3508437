"""The engine's speed helpers: numpy calls chosen for measured speed, each with its reason.

Every helper computes exactly what its one-line formula says; only the numpy route differs
from the obvious one. Figures: float32 on the 2-core machine the benchmarks run on (numpy 2.4,
OpenBLAS), timed with ``timeit`` (best of 5). A Tensor argument (``create_graph``) takes the
plain formula, recorded as ops.
"""

from __future__ import annotations

import ctypes
import functools
import math
import sys
from typing import Any

import numpy as np

Array = np.ndarray

#: Broadcast gradients up to this many elements are written out (see :func:`expand`).
SMALL = 4096


def matmul(a: Any, b: Any) -> Any:
    """a @ b, through np.dot for <= 2-D: numpy's ``@`` skips BLAS when an inner dimension is 1
    (dL/dW = x^T g at batch 1, (784, 1) (1, 64) float32: 67 us with ``@``, 9 us with np.dot)."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return a @ b
    return np.dot(a, b) if a.ndim <= 2 and b.ndim <= 2 else np.matmul(a, b)


def sigmoid(a: Array) -> Array:
    """1 / (1 + e^-a) in one array, each step in place: 30 us vs 36 us with a temporary per
    step, (256, 64) float32; 4.5 ms vs 8.5 ms on (128, 32, 24, 24). (Overflow: ops.Sigmoid.)"""
    out = np.negative(a, out=np.empty_like(a))  # an array also for a 0-d a
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.divide(1, out, out=out)
    return out


def sigmoid_grad(s: Any, g: Any) -> Any:
    """(1 - s) s g with one temporary, multiplied in place: 6.4 us vs 8.4 us for the same
    product with temporaries, (256, 64) float32."""
    if type(s) is not np.ndarray or type(g) is not np.ndarray:
        return (1 - s) * s * g
    out = 1 - s
    out *= s
    out *= g
    return out


def expand(g: Any, shape: tuple[int, ...]) -> Any:
    """g broadcast to ``shape``. Up to :data:`SMALL` elements it is written into a new array:
    ``np.broadcast_to`` costs 3.2-7 us in Python-level checks, the copy 0.6 us (the gradient of
    a mean over 1 to 256 elements). Larger, the read-only broadcast view is cheaper than a copy.
    (For a Tensor, g + zeros(shape).)"""
    if type(g) is not np.ndarray:
        return g + np.zeros(shape, g.dtype)
    if math.prod(shape) > SMALL:
        return np.broadcast_to(g, shape)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


def sum_rows(g: Any) -> Any:
    """g summed over its first axis (the adjoint of adding a row to every row): for a 2-D g,
    as the product ones(N) g on BLAS, 1.7 us vs 7.5 us for ``g.sum(axis=0)`` on (256, 64)."""
    if type(g) is not np.ndarray or g.ndim != 2 or g.dtype.kind != "f":
        return g.sum(axis=0)
    return np.dot(ones(g.shape[0], g.dtype), g)


def max_along(a: Any, axis: int) -> Any:
    """max of a along ``axis``, kept as a size-1 axis. For the rows of a 2-D float array,
    reduced down the columns of a transposed contiguous copy: numpy reduces a short last axis
    (C = 10) element by element. 3.1 us vs 12.5 us for ``z.max(axis=1, keepdims=True)`` on
    (256, 10) float32."""
    if not _rows_of_2d(a, axis):
        return a.max(axis=axis, keepdims=True)
    return np.ascontiguousarray(a.T).max(axis=0)[:, None]


def sum_along(a: Any, axis: int) -> Any:
    """sum of a along ``axis``, kept as a size-1 axis. For the rows of a 2-D float array, as the
    product a ones(C) on BLAS: 2.7 us vs 8.1 us for ``a.sum(axis=1, keepdims=True)`` on
    (256, 10) float32."""
    if not _rows_of_2d(a, axis):
        return a.sum(axis=axis, keepdims=True)
    return np.dot(a, ones(a.shape[1], a.dtype)[:, None])


def _rows_of_2d(a: Any, axis: int) -> bool:
    """True for a 2-D float array (not a Tensor) reduced along its rows (axis 1 or -1)."""
    return type(a) is np.ndarray and a.ndim == 2 and axis in (1, -1) and a.dtype.kind == "f"


@functools.lru_cache(maxsize=64)
def ones(n: int, dtype: np.dtype) -> Array:
    """A read-only vector of n ones, kept for the next call: 0.13 us instead of 1.1 us for
    ``np.ones(256, np.float32)`` (the row and column sums above take one each, every step)."""
    out = np.ones(n, dtype)
    out.flags.writeable = False
    return out


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_FREED = 256 * 2**20  # freed memory glibc keeps for reuse instead of returning it at once
HEAP_UP_TO = 64 * 2**20  # arrays up to this size come from the reusable heap, not fresh mmaps


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for the next allocation (mallopt), as PyTorch's allocator
    does; True if it could (Linux with glibc), else nothing changes.

    Why: every training step frees and allocates the same multi-megabyte arrays, and by default
    glibc maps fresh memory for each (any block above 128 KB to 32 MB, adapting) and returns it
    at free: touching it again costs a page fault per 4 KB. The course's CNN took 1,831 minor
    page faults per step (3-6 ms of system time, at 1 thread) and 67-73 ms per step; kept, 0
    faults and 61-63 ms. Freed memory is kept up to ``KEEP_FREED`` (256 MB) at the top of the heap.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEEP_FREED)
    )
