"""The reference gradients, and the gradients of the common mistakes, from one graph.

:func:`reference_grads` walks the graph of a reference computation backward, like the engine's
``backprop``, but lets a check ask "what would a student who made mistake M have got?":

* ``override`` replaces an op's backward (the sigmoid's derivative taken at its output, a
  factor of it left out: :data:`ACTIVATION_MISTAKES`, each with the message naming it);
* ``keep_only = (tensor, k)`` keeps only the k-th gradient contribution arriving at a tensor
  used several times (``=`` where ``+=`` was needed);
* ``replace = [(tensor, g), ...]`` sends g on from a tensor in place of the total that arrived
  there: the walk from a student's own upstream gradients (``check_backprop``).

The walk leaves the graph as it found it (nothing is freed, no ``.grad`` is written), so one
graph serves every variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import ops
from ..engine.backprop import topological_sort, unbroadcast
from ..engine.function import Function
from ..engine.tensor import Tensor

Backward = Callable[[Function, np.ndarray], Any]


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
    for node in reversed(topological_sort([out])):
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
    for node in topological_sort([out]):
        if node._ctx is not None:
            for p in node._ctx.parents:
                if p.requires_grad:
                    users.setdefault(id(p), []).append(node)
    return users


def reused(out: Tensor) -> list[tuple[Tensor, int]]:
    """The tensors below ``out`` used more than once, with their number of uses."""
    by_id = {id(t): t for t in topological_sort([out])}
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
    """(1 - tanh(tanh(z))^2) g: tanh' evaluated at the output."""
    t = np.tanh(np.tanh(ctx.parents[0].data))
    return g * (1 - t * t)


def _tanh_formula_at_input(ctx: Function, g: np.ndarray) -> np.ndarray:
    """(1 - z^2) g: the output form 1 - a^2 applied to the input z."""
    z = ctx.parents[0].data
    return g * (1 - z * z)


def _times(factor: Callable[[np.ndarray], np.ndarray], activation: Callable) -> Backward:
    """The backward g * factor(a), a = activation(z): a local derivative with a factor left out."""
    return lambda ctx, g: g * factor(activation(ctx.parents[0].data))


@dataclass(frozen=True)
class Mistake:
    """A mistake in an activation's backward: its diagnosis ``kind``, the op, the backward a
    student making it writes, and the message naming it for this activation."""

    kind: str
    op: type
    backward: Backward
    message: str


def _derivative_at_output(name: str, formula: str, output_form: str) -> str:
    return (
        f"the {name}'s derivative was evaluated at its output a instead of its input z: "
        f"its derivative is {formula} at z, or {output_form} in terms of the output a"
    )


def _output_formula_at_input(name: str, formula: str, output_form: str) -> str:
    return (
        f"the {name}'s derivative in terms of its output, {output_form}, was applied to the "
        f"input z: use the output a, or {formula} with z"
    )


#: activation -> (its derivative at the input z, the same in terms of its output a)
_FORMULAS = {"sigmoid": ("s(z) (1 - s(z))", "a (1 - a)"), "tanh": ("1 - tanh^2(z)", "1 - a^2")}


def activation_message(kind: str, activation: str) -> str:
    """The message of ``derivative_at_output`` or ``output_formula_at_input`` for the
    activation ``"sigmoid"`` or ``"tanh"``."""
    make = _derivative_at_output if kind == "derivative_at_output" else _output_formula_at_input
    return make(activation, *_FORMULAS[activation])


_S_PASSED = "the sigmoid's local derivative s (1 - s) is missing: g was passed through as it is"
_T_PASSED = "the (1 - a^2) factor is missing (the tanh's local derivative): g was passed through"
#: The mistakes made in an activation's backward, each with the op whose backward it replaces.
ACTIVATION_MISTAKES: tuple[Mistake, ...] = (
    *(
        Mistake(kind, op, backward, activation_message(kind, name))
        for kind, op, backward, name in (
            ("derivative_at_output", ops.Sigmoid, _sigmoid_at_output, "sigmoid"),
            ("derivative_at_output", ops.Tanh, _tanh_at_output, "tanh"),
            ("output_formula_at_input", ops.Sigmoid, _sigmoid_formula_at_input, "sigmoid"),
            ("output_formula_at_input", ops.Tanh, _tanh_formula_at_input, "tanh"),
        )
    ),
    Mistake(
        "missing_factor",
        ops.Sigmoid,
        _times(lambda s: s, _sigmoid),
        "the (1 - s) factor is missing: the sigmoid's derivative is s (1 - s), s = s(z)",
    ),
    Mistake(
        "missing_factor",
        ops.Sigmoid,
        _times(lambda s: 1 - s, _sigmoid),
        "the s factor is missing: the sigmoid's derivative is s (1 - s), s = s(z)",
    ),
    Mistake("missing_factor", ops.Sigmoid, _times(np.ones_like, _sigmoid), _S_PASSED),
    Mistake("missing_factor", ops.Tanh, _times(np.ones_like, np.tanh), _T_PASSED),
    Mistake(
        "missing_factor",
        ops.Tanh,
        _times(lambda a: 1 - a, np.tanh),
        "the square in 1 - a^2 is missing (1 - a, so the (1 + a) factor is missing): "
        "the tanh's derivative is 1 - a^2, a = tanh(z)",
    ),
)


def op_types(out: Tensor) -> set[type]:
    """The types of the ops below ``out``."""
    return {type(t._ctx) for t in topological_sort([out]) if t._ctx is not None}
