"""Forward mode: every op carries a tangent along with its value, in one sweep, no backward.

A tangent of x is a direction dx; an op's ``jvp`` rule turns its inputs' tangents into its
output's (the Jacobian-vector product J dx), beside its ``backward`` in ``ops.py``. PyTorch's
names::

    with forward_ad.dual_level():
        x = forward_ad.make_dual(x0, v)       # x0 with the tangent v
        y = f(x)                              # each op also computes its output's tangent
        y0, dy = forward_ad.unpack_dual(y)    # dy = J_f(x0) v

One sweep gives the derivative of every output along one input direction: n sweeps build the
Jacobian of f: R^n -> R^m column by column, where reverse mode needs m backward passes, row by
row. A fused op without a ``jvp`` rule of its own (convolution, pooling) computes its tangent
through its composition of primitives. Tangents live while the ``dual_level`` is open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from ..engine.function import Function, ShapeError, no_grad, set_forward_hook
from ..engine.tensor import Tensor

__all__ = ["UnpackedDualTensor", "dual_level", "make_dual", "unpack_dual"]

_levels: list[dict[Tensor, np.ndarray]] = []  # the open dual level's tangents (at most one)


class UnpackedDualTensor(NamedTuple):
    primal: Tensor
    tangent: np.ndarray | None


@contextlib.contextmanager
def dual_level() -> Iterator[None]:
    """Inside it, ops compute tangents (forward mode); outside, they cost one ``is None`` test.

    One level at a time, as in PyTorch: an inner level would hide the outer one's tangents (the
    tangent of a tangent needs hyper-dual numbers), so opening a second one is refused."""
    if _levels:
        raise RuntimeError(
            "dual_level: a dual level is already open, and nested levels are not supported "
            "(close the outer one first; autograd.functional.jvp and jacobian(strategy="
            "'forward-mode') open a level of their own)"
        )
    _levels.append({})
    previous = set_forward_hook(_propagate)
    try:
        yield
    finally:
        set_forward_hook(previous)
        _levels.pop()


def make_dual(tensor: Tensor, tangent: Any) -> Tensor:
    """A new leaf sharing ``tensor``'s data, with the tangent ``tangent`` (same shape)."""
    if not _levels:
        raise RuntimeError("make_dual: only inside `with forward_ad.dual_level():`")
    if tensor.dtype.kind != "f":
        raise TypeError(f"make_dual: only floating-point tensors have tangents, got {tensor.dtype}")
    t = np.array(tangent.data if isinstance(tangent, Tensor) else tangent, dtype=tensor.dtype)
    if t.shape != tensor.shape:
        raise ShapeError(
            f"make_dual: a tangent of shape {t.shape} for a tensor of shape {tensor.shape}: a "
            "tangent has its tensor's shape"
        )
    dual = Tensor(tensor.data, requires_grad=tensor.requires_grad, name=tensor.name)
    _levels[-1][dual] = t
    return dual


def unpack_dual(tensor: Tensor) -> UnpackedDualTensor:
    """(the tensor, its tangent): None for a tensor that does not depend on a dual one."""
    tangent = _levels[-1].get(tensor) if _levels else None
    return UnpackedDualTensor(tensor, tangent)


def _propagate(ctx: Function, out: Tensor, kwargs: dict[str, Any]) -> None:
    """The forward hook: out's tangent from its inputs' (None if no input has one)."""
    tangents = _levels[-1]
    ts = [tangents.get(p) for p in ctx.parents]
    if out.dtype.kind != "f" or all(t is None for t in ts):
        return
    rule = getattr(type(ctx), "jvp", None)
    if rule is not None:
        t_out = rule(ctx, *ts, **kwargs)
    elif hasattr(ctx, "composite"):  # a fused op without a rule: through its primitives
        with no_grad():
            t_out = tangents.get(ctx.composite())
    else:
        raise NotImplementedError(
            f"forward mode: {ctx.op_name} has no tangent rule; give it jvp(ctx, *tangents)"
        )
    t_out = np.asarray(t_out, dtype=out.dtype)
    tangents[out] = t_out if t_out.shape == out.shape else np.broadcast_to(t_out, out.shape).copy()
