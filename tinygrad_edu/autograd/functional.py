"""Derivatives of a function, with the names, signatures and return conventions of
``torch.autograd.functional``.

``inputs`` is a Tensor or a tuple of Tensors, and a tuple gives a tuple of results; ``func``
returns a Tensor or a tuple of Tensors. For f: R^n -> R^m with Jacobian J (m x n):

* ``vjp(func, inputs, v)``   -> (outputs, v^T J)        one reverse pass
* ``jvp(func, inputs, v)``   -> (outputs, J v)          one forward-mode sweep (no backward)
* ``hvp(func, inputs, v)``   -> (output, H v)           reverse over reverse, f scalar
* ``jacobian(func, inputs)`` -> J, shape output.shape + input.shape: m VJPs ("reverse-mode",
  row by row) or n JVPs ("forward-mode", column by column)
* ``hessian(func, inputs)``  -> H, shape input.shape + input.shape: the Jacobian of the gradient

``strict=True`` makes an input that the outputs do not depend on an error (else its result is
zeros). ``vectorize`` is accepted for compatibility: rows and columns are computed one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.function import ShapeError
from ..engine.ops import Scatter
from ..engine.tensor import Tensor
from . import forward_ad
from .reverse import as_tuple, grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vjp"]

Func = Callable[..., Any]
STRATEGIES = ("reverse-mode", "forward-mode")


def vjp(
    func: Func, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), v^T J): the vector-Jacobian product, by one reverse pass."""
    in_tuple, xs = _leaves(inputs, "vjp", create_graph)
    out_tuple, outs = _call(func, xs, "vjp")
    vs = _vectors(v, outs, "vjp", "outputs")
    grads = _grads(outs, xs, vs, create_graph, strict, "vjp")
    return _pack(_results(outs, create_graph), out_tuple), _pack(grads, in_tuple)


def jvp(
    func: Func, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), J v): the Jacobian-vector product, by one forward-mode sweep."""
    if create_graph:
        raise NotImplementedError(
            "jvp: forward mode keeps no graph of its tangents; for second derivatives use hvp, "
            "hessian or grad(..., create_graph=True)"
        )
    _, xs = _leaves(inputs, "jvp")
    (out_tuple, outs), tangents = _forward_sweep(func, xs, _vectors(v, xs, "jvp", "inputs"))
    results = [
        _zeros_unless_strict(t, o, strict, "jvp") for o, t in zip(outs, tangents, strict=True)
    ]
    return _pack(_results(outs, False), out_tuple), _pack(results, out_tuple)


def hvp(
    func: Func, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
) -> tuple[Any, Any]:
    """(func(inputs), H v) for a function with one-element output: the gradient of
    <grad f, v>, by reverse mode over reverse mode."""
    in_tuple, xs = _leaves(inputs, "hvp", create_graph)
    out = _scalar_output(func, xs, "hvp")
    vs = _vectors(v, xs, "hvp", "inputs")
    first = _grads((out,), xs, (None,), True, strict, "hvp")  # grad f, with its graph
    hv = _grads(tuple(first), xs, tuple(vs), create_graph, strict, "hvp")  # d <grad f, v> / dx
    return _pack(_results((out,), create_graph), False), _pack(hv, in_tuple)


def jacobian(
    func: Func,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """d func(inputs) / d inputs, each block of shape output.shape + input.shape.

    "reverse-mode": one VJP per output element (row by row); "forward-mode": one JVP per input
    element (column by column). A tuple of outputs and a tuple of inputs give J[i][j].
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"jacobian: strategy must be one of {STRATEGIES}, got {strategy!r}")
    if strategy == "forward-mode" and create_graph:
        raise NotImplementedError("jacobian: forward mode keeps no graph; use reverse-mode")
    in_tuple, xs = _leaves(inputs, "jacobian", create_graph)
    if strategy == "forward-mode":
        out_tuple, blocks = _jacobian_by_columns(func, xs, strict)
    else:
        out_tuple, blocks = _jacobian_by_rows(func, xs, create_graph, strict)
    rows = [_pack(row, in_tuple) for row in blocks]
    return _pack(rows, out_tuple)


def hessian(
    func: Func,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """d^2 func(inputs) / d inputs^2 for a function with one-element output, of shape
    input.shape + input.shape (H[i][j] for a tuple): the Jacobian of the gradient, computed in
    ``outer_jacobian_strategy`` over reverse mode."""
    in_tuple, xs = _leaves(inputs, "hessian", create_graph)
    _scalar_output(func, xs, "hessian")

    def gradient(*ys: Tensor) -> tuple[Tensor, ...]:
        out = _scalar_output(func, ys, "hessian")
        return tuple(_grads((out,), ys, (None,), True, strict, "hessian"))

    h = jacobian(gradient, xs, create_graph, strict, vectorize, outer_jacobian_strategy)
    return h if in_tuple else h[0][0]


# --------------------------------------------------------------------------- rows and columns
def _jacobian_by_rows(
    func: Func, xs: tuple[Tensor, ...], create_graph: bool, strict: bool
) -> tuple[bool, list[list[Any]]]:
    """J[i][j] from one VJP per element of each output i (a one-hot v)."""
    out_tuple, outs = _call(func, xs, "jacobian")
    blocks = []
    for out in outs:
        rows: list[list[Any]] = [[] for _ in xs]
        for k in range(out.size):
            e_k = np.zeros(out.size, out.dtype)
            e_k[k] = 1
            row = _grads(
                (out,), xs, (e_k.reshape(out.shape),), create_graph, strict, "jacobian", True
            )
            for j, r in enumerate(row):
                rows[j].append(r)
        blocks.append([_stack(r, out.shape, x.shape) for r, x in zip(rows, xs, strict=True)])
    return out_tuple, blocks


def _jacobian_by_columns(
    func: Func, xs: tuple[Tensor, ...], strict: bool
) -> tuple[bool, list[list[Any]]]:
    """J[i][j] from one JVP per element of each input j (a one-hot tangent on x_j alone)."""
    out_tuple, outs = False, ()
    columns: list[list[list[np.ndarray]]] = []  # columns[j][k][i]: d out_i / d (x_j)_k
    for j, x in enumerate(xs):
        columns.append([])
        for k in range(x.size):
            vs: list[np.ndarray | None] = [None] * len(xs)
            vs[j] = np.zeros(x.shape, x.dtype)
            vs[j].reshape(-1)[k] = 1
            (out_tuple, outs), tangents = _forward_sweep(func, xs, vs)
            column = [
                _zeros_unless_strict(t, o, strict, "jacobian", j)
                for o, t in zip(outs, tangents, strict=True)
            ]
            columns[j].append([c.data for c in column])
    blocks = [
        [_columns_to_block([c[i] for c in columns[j]], o.shape, x.shape) for j, x in enumerate(xs)]
        for i, o in enumerate(outs)
    ]
    return out_tuple, blocks


def _columns_to_block(cols: list[np.ndarray], out_shape: tuple, x_shape: tuple) -> Tensor:
    """Columns d out / d x_k (each of out's shape) as one block of shape out.shape + x.shape."""
    stacked = np.stack(cols, axis=-1) if cols else np.zeros((*out_shape, 0))
    return Tensor(stacked.reshape(out_shape + x_shape))


def _stack(rows: list[Any], out_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> Tensor:
    """Rows d out_k / d x into one Tensor of shape out.shape + x.shape (with their graphs: each
    row scattered into its place)."""
    shape = (len(rows), *x_shape)
    if all(not r.requires_grad for r in rows):
        return Tensor(np.stack([r.data for r in rows]).reshape(out_shape + x_shape))
    total = sum(Scatter.apply(r, shape=shape, index=k) for k, r in enumerate(rows))
    return total.reshape(out_shape + x_shape)


# --------------------------------------------------------------------------- helpers
def _leaves(inputs: Any, who: str, create_graph: bool = False) -> tuple[bool, tuple[Tensor, ...]]:
    """(was it a tuple, the inputs as tensors requiring grad): fresh leaves sharing their data, or,
    with ``create_graph``, the caller's own tensors that require grad (so that the results stay
    connected to them)."""
    is_tuple = isinstance(inputs, tuple | list)
    items = tuple(inputs) if is_tuple else (inputs,)
    xs = []
    for i, x in enumerate(items):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype.kind != "f":
            raise TypeError(
                f"{who}: inputs[{i}] has dtype {data.dtype}; inputs must be floating point"
            )
        keep = create_graph and isinstance(x, Tensor) and x.requires_grad
        xs.append(x if keep else Tensor(data, requires_grad=True))
    return is_tuple, tuple(xs)


def _call(func: Func, xs: tuple[Tensor, ...], who: str) -> tuple[bool, tuple[Tensor, ...]]:
    out = func(*xs)
    return isinstance(out, tuple | list), as_tuple(out, f"{who}: func's outputs")


def _scalar_output(func: Func, xs: tuple[Tensor, ...], who: str) -> Tensor:
    is_tuple, outs = _call(func, xs, who)
    if is_tuple or outs[0].size != 1:
        shapes = [o.shape for o in outs]
        raise ShapeError(f"{who}: func must return one Tensor with a single element, got {shapes}")
    return outs[0]


def _vectors(v: Any, like: tuple[Tensor, ...], who: str, what: str) -> list[np.ndarray]:
    """v as one array per tensor of ``like`` (its shape); None only for one-element tensors."""
    if v is None:
        if any(t.size != 1 for t in like):
            raise ValueError(f"{who}: v may be omitted only when the {what} have one element")
        return [np.ones(t.shape, t.dtype) for t in like]
    vs = tuple(v) if isinstance(v, tuple | list) else (v,)
    if len(vs) != len(like):
        raise ValueError(f"{who}: {len(vs)} vectors v for {len(like)} {what}")
    arrays = [
        np.array(x.data if isinstance(x, Tensor) else x, dtype=t.dtype)
        for x, t in zip(vs, like, strict=True)
    ]
    for i, (a, t) in enumerate(zip(arrays, like, strict=True)):
        if a.shape != t.shape:
            raise ShapeError(f"{who}: v[{i}] has shape {a.shape}, the {what}[{i}] {t.shape}")
    return arrays


def _grads(outs, xs, vs, create_graph, strict, who, retain=False) -> list[Any]:
    """d <outs, vs> / d xs as Tensors (zeros for an input the outputs do not depend on)."""
    live = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
    found = (
        grad(
            [o for o, _ in live],
            xs,
            [v for _, v in live],
            create_graph,
            retain or create_graph,
            allow_unused=True,
        )
        if live
        else (None,) * len(xs)
    )
    return [
        _zeros_unless_strict(g, x, strict, who, i)
        for i, (g, x) in enumerate(zip(found, xs, strict=True))
    ]


def _zeros_unless_strict(g: Any, like: Tensor, strict: bool, who: str, i: int = 0) -> Tensor:
    """g as a Tensor; where there is none (no dependence), zeros like ``like`` or, if
    ``strict``, an error."""
    if g is not None:
        return g if isinstance(g, Tensor) else Tensor(g)
    if strict:
        raise RuntimeError(f"{who}: an output does not depend on inputs[{i}] (strict=True)")
    return Tensor(np.zeros(like.shape, like.dtype))


def _forward_sweep(
    func: Func, xs: tuple[Tensor, ...], vs: list[np.ndarray | None]
) -> tuple[tuple[bool, tuple[Tensor, ...]], list[np.ndarray | None]]:
    """((was the output a tuple, the outputs), their tangents) for the input tangents vs (None:
    an input without one): one forward-mode sweep."""
    with forward_ad.dual_level():
        duals = [
            x if t is None else forward_ad.make_dual(x, t) for x, t in zip(xs, vs, strict=True)
        ]
        out_tuple, outs = _call(func, tuple(duals), "jvp")
        tangents = [forward_ad.unpack_dual(o).tangent for o in outs]
    return (out_tuple, outs), tangents


def _results(outs: tuple[Tensor, ...], create_graph: bool) -> list[Tensor]:
    return list(outs) if create_graph else [o.detach() for o in outs]


def _pack(items: list[Any], as_tuple_: bool) -> Any:
    return tuple(items) if as_tuple_ else items[0]
