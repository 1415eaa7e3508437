"""The reference gradients, and the gradients of the common mistakes, from one graph.

:func:`reference_grads` walks the graph of a reference computation backward, like the engine's
``backprop``, but lets a check ask "what would a student who made mistake M have got?":

* ``override`` replaces an op's backward (the sigmoid's derivative taken at its output);
* ``keep_only = (tensor, k)`` keeps only the k-th gradient contribution arriving at a tensor
  used several times (``=`` where ``+=`` was needed);
* ``replace = [(tensor, g), ...]`` sends g on from a tensor in place of the total that arrived
  there: the walk from a student's own upstream gradients (``check_backprop``).

The walk leaves the graph as it found it (nothing is freed, no ``.grad`` is written), so one
graph serves every variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.backprop import unbroadcast
from ..engine.function import Function
from ..engine.tensor import Tensor

Backward = Callable[[Function, np.ndarray], Any]


def topological_order(root: Tensor) -> list[Tensor]:
    """The tensors that require grad below ``root``, each after its parents."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            if node._ctx is not None:
                stack.extend((p, False) for p in node._ctx.parents if p.requires_grad)
    return order


def reference_grads(
    out: Tensor,
    wanted: Sequence[Tensor],
    upstream: np.ndarray,
    override: dict[type, Backward] | None = None,
    keep_only: tuple[Tensor, int] | None = None,
    replace: Sequence[tuple[Tensor, np.ndarray]] = (),
) -> list[np.ndarray]:
    """dL/dw for each w in ``wanted``, with dL/dout = ``upstream`` (float64); a wanted tensor
    that no gradient reaches gets zeros. A tensor in ``replace`` reports the total that
    arrived at it, but sends its given gradient on to its inputs."""
    arriving: dict[int, list[np.ndarray]] = {id(out): [np.asarray(upstream, dtype=np.float64)]}
    sent = {id(t): np.asarray(g, dtype=np.float64) for t, g in replace}
    totals: dict[int, np.ndarray] = {}
    for node in reversed(topological_order(out)):
        parts = arriving.pop(id(node), [])
        if not parts:
            continue
        if keep_only is not None and keep_only[0] is node:
            parts = [parts[keep_only[1]]] if keep_only[1] < len(parts) else parts
        g = totals[id(node)] = sum(parts[1:], parts[0])
        if node._ctx is None:
            continue
        g = sent.get(id(node), g)
        backward = (override or {}).get(type(node._ctx), type(node._ctx).backward)
        grads = backward(node._ctx, g)
        grads = grads if isinstance(grads, tuple) else (grads,)
        for parent, pg in zip(node._ctx.parents, grads, strict=False):
            if pg is not None and parent.requires_grad:
                arriving.setdefault(id(parent), []).append(unbroadcast(pg, parent.shape))
    result = [totals.get(id(w), np.zeros(w.shape)) for w in wanted]
    return [np.asarray(r, dtype=np.float64) for r in result]


def _contributions(out: Tensor) -> dict[int, list[Tensor]]:
    """For each tensor below ``out``: the tensors whose ops use it (once per use)."""
    users: dict[int, list[Tensor]] = {}
    for node in topological_order(out):
        if node._ctx is not None:
            for p in node._ctx.parents:
                if p.requires_grad:
                    users.setdefault(id(p), []).append(node)
    return users


def reused(out: Tensor) -> list[tuple[Tensor, int]]:
    """The tensors below ``out`` used more than once, with their number of uses."""
    by_id = {id(t): t for t in topological_order(out)}
    return [(by_id[k], len(v)) for k, v in _contributions(out).items() if len(v) > 1]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _sigmoid_at_output(ctx: Function, g: np.ndarray) -> np.ndarray:
    """s'(s(z)) g: the derivative s(u) (1 - s(u)) evaluated at u = s(z), the output."""
    s = _sigmoid(ctx.parents[0].data)
    return g * _sigmoid(s) * (1 - _sigmoid(s))


def _sigmoid_formula_at_input(ctx: Function, g: np.ndarray) -> np.ndarray:
    """z (1 - z) g: the output form a (1 - a) of the derivative applied to the input z."""
    z = ctx.parents[0].data
    return g * z * (1 - z)


def _tanh_at_output(ctx: Function, g: np.ndarray) -> np.ndarray:
    t = np.tanh(np.tanh(ctx.parents[0].data))
    return g * (1 - t * t)


def _tanh_formula_at_input(ctx: Function, g: np.ndarray) -> np.ndarray:
    z = ctx.parents[0].data
    return g * (1 - z * z)


#: The activation mistakes: diagnosis kind -> the op backwards that make it.
ACTIVATION_MISTAKES: dict[str, dict[type, Backward]] = {
    "derivative_at_output": {ops.Sigmoid: _sigmoid_at_output, ops.Tanh: _tanh_at_output},
    "output_formula_at_input": {
        ops.Sigmoid: _sigmoid_formula_at_input,
        ops.Tanh: _tanh_formula_at_input,
    },
}


def has_op(out: Tensor, op_types: Sequence[type]) -> bool:
    """True if some tensor below ``out`` was made by one of ``op_types``."""
    return any(t._ctx is not None and type(t._ctx) in op_types for t in topological_order(out))
