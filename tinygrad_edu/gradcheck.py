"""Check gradients: finite differences, exact Jacobians through backward, and gradcheck.

For f: R^n -> R^m the Jacobian J has J[i, j] = d f_i / d x_j, one row per output element and one
column per input element (both flattened in C order).

* :func:`numerical_jacobian` estimates column j by central differences,
  ``(f(x + eps e_j) - f(x - eps e_j)) / (2 eps)``, with error O(eps^2).
* :func:`jacobian` gets row i exactly from one backward pass with the one-hot upstream
  gradient e_i: backward computes the vector-Jacobian product ``e_i^T J``.
* :func:`gradcheck` compares the two; run it in float64, where eps = 1e-6 is meaningful.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .function import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree; the message says where and by how much."""


def _leaves(inputs: Sequence[Any], requires_grad: bool) -> list[Tensor]:
    """Fresh leaf tensors with copies of the inputs' data (the caller's tensors are not touched)."""
    out = []
    for i, x in enumerate(inputs):
        data = np.array(x.data if isinstance(x, Tensor) else x, copy=True, order="C")
        if data.dtype.kind != "f":
            raise TypeError(
                f"gradcheck: input {i} has dtype {data.dtype}; inputs must be floating point"
            )
        out.append(Tensor(data, requires_grad=requires_grad, dtype=data.dtype))
    return out


def _output(f: Callable[..., Tensor], xs: list[Tensor]) -> Tensor:
    out = f(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    return out


def numerical_jacobian(
    f: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference Jacobians of f at ``inputs``: one (out.size, x.size) array per input."""
    xs = _leaves(inputs, requires_grad=False)
    with no_grad():
        out_size = _output(f, xs).data.size
        jacobians = []
        for x in xs:
            jac = np.zeros((out_size, x.data.size), dtype=np.float64)
            flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                plus = np.array(_output(f, xs).data, dtype=np.float64).reshape(-1)
                flat[j] = orig - eps
                minus = np.array(_output(f, xs).data, dtype=np.float64).reshape(-1)
                flat[j] = orig
                jac[:, j] = (plus - minus) / (2 * eps)
            jacobians.append(jac)
    return jacobians


def jacobian(f: Callable[..., Tensor], inputs: Sequence[Any]) -> list[np.ndarray]:
    """Exact Jacobians of f at ``inputs`` through backward: row i is the VJP with one-hot e_i."""
    xs = _leaves(inputs, requires_grad=True)
    out = _output(f, xs)
    jacobians = [np.zeros((out.data.size, x.data.size), dtype=np.float64) for x in xs]
    if not out.requires_grad:  # f does not depend on its inputs: all Jacobians are zero
        return jacobians
    for i in range(out.data.size):
        seed = np.zeros(out.data.size, dtype=out.dtype)
        seed[i] = 1
        for x in xs:
            x.zero_grad()
        out.backward(seed.reshape(out.shape), retain_graph=True)
        for jac, x in zip(jacobians, xs, strict=True):
            if x.grad is not None:
                jac[i] = x.grad.reshape(-1)
    return jacobians


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """True if backward's Jacobians match central differences: |a - n| <= atol + rtol |n|.

    Raises GradcheckError naming the input, the worst element (output index, input index),
    the analytic and numerical values and their relative error. Warns unless inputs are float64.
    """
    for i, x in enumerate(inputs):
        dtype = np.asarray(x.data if isinstance(x, Tensor) else x).dtype
        if dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {i} is {dtype}, not float64; finite differences with "
                f"eps={eps} are unreliable in low precision",
                stacklevel=2,
            )
    analytic = jacobian(f, inputs)
    numeric = numerical_jacobian(f, inputs, eps=eps)
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        finite = np.isfinite(a) & np.isfinite(n)
        if excess.size and (not finite.all() or excess.max() > 0):
            bad = np.where(finite, excess, np.inf)
            row, col = np.unravel_index(int(np.argmax(bad)), a.shape)
            av, nv = a[row, col], n[row, col]
            err = abs(av - nv)
            error = f"relative error {err / abs(nv):.3g}" if nv else f"absolute error {err:.3g}"
            shape = np.shape(inputs[i].data if isinstance(inputs[i], Tensor) else inputs[i])
            raise GradcheckError(
                f"gradcheck: input {i} (shape {shape}): "
                f"d out[{row}] / d x[{col}] is {av:.8g} by backward but {nv:.8g} by finite "
                f"differences ({error}; atol={atol}, rtol={rtol})"
            )
    return True
