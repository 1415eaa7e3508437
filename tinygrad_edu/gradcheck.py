"""Check gradients: finite differences, exact Jacobians through backward, and gradcheck.

For f: R^n -> R^m the Jacobian J has J[i, j] = d f_i / d x_j, one row per output element and one
column per input element (both flattened in C order).

* :func:`numerical_jacobian` estimates column j by central differences,
  ``(f(x + eps e_j) - f(x - eps e_j)) / (2 eps)``, with error O(eps^2)
  (:func:`central_differences`, the one loop of finite differences, for any f of arrays).
* :func:`jacobian` gets row i exactly from one backward pass with the one-hot upstream
  gradient e_i: backward computes the vector-Jacobian product ``e_i^T J``.
* :func:`gradcheck` compares the two; run it in float64, where eps = 1e-6 is meaningful.
* :func:`gradgradcheck` does the same for second derivatives: the Jacobian of a first derivative
  computed with ``create_graph`` against central differences of that first derivative.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine.backprop import backprop
from .engine.function import no_grad
from .engine.tensor import Tensor


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


def central_differences(
    f: Callable[[list[np.ndarray]], Any], arrays: Sequence[np.ndarray], k: int, eps: float = 1e-6
) -> np.ndarray:
    """d f / d x_k: column j is ``(f(x + eps e_j) - f(x - eps e_j)) / (2 eps)``, e_j the j-th
    element of ``x_k = arrays[k]`` (C order): a float64 (f's size, x_k's size) array.

    ``f`` takes the list of arrays (copies of ``arrays``, x_k perturbed in place) and returns
    an array or a number."""
    xs = [np.array(a, copy=True, order="C") for a in arrays]
    flat = xs[k].reshape(-1)  # a view: perturbing it perturbs x_k
    columns = []
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = np.array(f(xs), dtype=np.float64).reshape(-1)
        flat[j] = orig - eps
        minus = np.array(f(xs), dtype=np.float64).reshape(-1)
        flat[j] = orig
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((np.size(f(xs)), 0))


def numerical_jacobian(
    f: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference Jacobians of f at ``inputs``: one (out.size, x.size) array per input."""
    arrays = [x.data for x in _leaves(inputs, requires_grad=False)]

    def value(xs: list[np.ndarray]) -> np.ndarray:  # f may still take gradients inside
        return _output(f, [Tensor(x, dtype=x.dtype) for x in xs]).data

    return [central_differences(value, arrays, k, eps) for k in range(len(arrays))]


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
    _warn_unless_float64(inputs, eps, "gradcheck")
    analytic = jacobian(f, inputs)
    numeric = numerical_jacobian(f, inputs, eps=eps)
    _compare(analytic, numeric, inputs, atol, rtol, "gradcheck", "d out[{row}] / d x[{col}]")
    return True


def gradgradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """True if f's second derivatives match central differences of its first derivatives.

    With v = ``grad_outputs`` (default: a fixed random array of f's output shape), the first
    derivative g_i(x) = d <f(x), v> / d x_i is computed with ``create_graph``; its Jacobian by
    backward through that graph (second derivatives) is compared with central differences of
    g_i. Raises GradcheckError naming g_i, the input and the worst element."""
    _warn_unless_float64(inputs, eps, "gradgradcheck")
    with no_grad():
        out = _output(f, _leaves(inputs, requires_grad=False))
    if grad_outputs is None:
        grad_outputs = np.random.default_rng(0).standard_normal(out.shape)
    v = np.asarray(
        grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs, out.dtype
    )
    for i in range(len(inputs)):
        first = _first_derivative(f, v, i)
        analytic, numeric = jacobian(first, inputs), numerical_jacobian(first, inputs, eps)
        where = f"d g{i}[{{row}}] / d x[{{col}}] (g{i} = d<f, v>/d x{i})"
        _compare(analytic, numeric, inputs, atol, rtol, "gradgradcheck", where)
    return True


def _first_derivative(f: Callable[..., Tensor], v: np.ndarray, i: int) -> Callable[..., Tensor]:
    """x -> d <f(x), v> / d x_i as a Tensor with its graph (create_graph), leaving .grad alone."""

    def first(*xs: Tensor) -> Tensor:
        if not all(x.requires_grad for x in xs):  # finite differences: fresh leaves
            xs = tuple(Tensor(x.data, requires_grad=True) for x in xs)
        out = f(*xs)
        wanted: dict[Tensor, Any] = dict.fromkeys(xs)
        if out.requires_grad:
            seed = Tensor(np.array(v, dtype=out.dtype))
            backprop({out: seed}, True, True, collect=wanted)
        g = wanted[xs[i]]
        return Tensor(np.zeros(xs[i].shape, xs[i].dtype)) if g is None else g

    return first


def _warn_unless_float64(inputs: Sequence[Any], eps: float, who: str) -> None:
    for i, x in enumerate(inputs):
        dtype = np.asarray(x.data if isinstance(x, Tensor) else x).dtype
        if dtype != np.float64:
            warnings.warn(
                f"{who}: input {i} is {dtype}, not float64; finite differences with "
                f"eps={eps} are unreliable in low precision",
                stacklevel=3,
            )


def _compare(
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    inputs: Sequence[Any],
    atol: float,
    rtol: float,
    who: str,
    what: str,
) -> None:
    """Raise GradcheckError at the worst element unless |a - n| <= atol + rtol |n| throughout."""
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
                f"{who}: input {i} (shape {shape}): {what.format(row=row, col=col)} is {av:.8g} "
                f"by backward but {nv:.8g} by finite differences ({error}; atol={atol}, "
                f"rtol={rtol})"
            )
