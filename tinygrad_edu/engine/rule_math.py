"""Math for writing a derivative rule once: each function takes numpy arrays or Tensors.

A backward runs on arrays for a first derivative and, under ``create_graph``, on Tensors, so
that the gradient is a graph that can be differentiated again. Arithmetic (``+ - * / **``,
``@``, ``.sum``, ``.reshape``, ``.T``) is spelled alike for both; the functions below are the
ones numpy spells ``np.f(x)`` and a Tensor ``x.f()``::

    from tinygrad_edu import Function, rule_math as rm

    class Softplus(Function):  # out = log(1 + e^a);  d out/da = s(a), the sigmoid
        def forward(ctx, a):
            ctx.save_for_backward(a)  # the input itself, not sigmoid(a): see Function
            return np.logaddexp(0, a)

        def backward(ctx, g):
            (a,) = ctx.saved
            return g * rm.sigmoid(a)  # an array, or a Tensor under create_graph
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import speed


def is_tensor(x: Any) -> bool:
    """True for a Tensor (a backward running under create_graph), False for arrays and numbers."""
    return not isinstance(x, np.ndarray | np.generic | int | float)


def values(x: Any) -> Any:
    """The numbers of x, a constant: a Tensor's ``.data``, an array itself (for masks and
    conditions, which have no derivative)."""
    return x.data if is_tensor(x) else x


def exp(x: Any) -> Any:
    """e^x."""
    return x.exp() if is_tensor(x) else np.exp(x)


def log(x: Any) -> Any:
    """ln x."""
    return x.log() if is_tensor(x) else np.log(x)


def sqrt(x: Any) -> Any:
    """sqrt(x)."""
    return x.sqrt() if is_tensor(x) else np.sqrt(x)


def tanh(x: Any) -> Any:
    """tanh(x)."""
    return x.tanh() if is_tensor(x) else np.tanh(x)


def sigmoid(x: Any) -> Any:
    """s(x) = 1 / (1 + e^-x), without overflow for any x."""
    if is_tensor(x):
        return x.sigmoid()
    return speed.sigmoid(np.asarray(x, np.result_type(x, np.float32)))


def sign(x: Any) -> np.ndarray:
    """The sign of x (-1, 0 or 1), an array: a constant, its derivative being 0 (but at 0)."""
    return np.sign(values(x))
