"""``grad``: reverse mode that returns the gradients instead of adding them into ``.grad``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.backprop import Grad, backprop
from ..engine.function import ShapeError
from ..engine.tensor import Tensor

__all__ = ["as_tuple", "grad"]


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor, ...]:
    """sum_k v_k^T d outputs_k / d inputs_i for each input i, as a tuple of Tensors.

    ``grad_outputs`` gives each output's v (default 1, for one-element outputs). Nothing is added
    into any ``.grad``. With ``create_graph=True`` the gradients are Tensors with their own graph
    (differentiate them again for second derivatives); otherwise they are constants. The graph is
    freed unless ``retain_graph`` (default: ``create_graph``). An input the outputs do not depend
    on is an error, unless ``allow_unused`` (then its gradient is None).
    """
    outs, xs = as_tuple(outputs, "outputs"), as_tuple(inputs, "inputs")
    vs = _grad_outputs(grad_outputs, outs)
    for i, x in enumerate(xs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {x.shape}) does not require grad")
    seeds: dict[Tensor, Grad] = {}
    for k, (out, v) in enumerate(zip(outs, vs, strict=True)):
        v = _seed(out, v, k, create_graph)
        seeds[out] = v if out not in seeds else seeds[out] + v
    wanted: dict[Tensor, Grad] = dict.fromkeys(xs)
    retain = create_graph if retain_graph is None else retain_graph
    backprop(seeds, retain, create_graph, collect=wanted)
    return tuple(_result(wanted[x], i, allow_unused) for i, x in enumerate(xs))


def as_tuple(x: Any, what: str) -> tuple[Tensor, ...]:
    """A Tensor or a sequence of Tensors as a tuple; anything else is an error saying what."""
    items = (x,) if isinstance(x, Tensor) else tuple(x) if isinstance(x, list | tuple) else (x,)
    for i, t in enumerate(items):
        if isinstance(t, np.ndarray | np.generic):
            raise TypeError(
                f"{what}[{i}] is a numpy {np.asarray(t).dtype} value, not a Tensor: argmax and "
                "comparisons give plain arrays, which have no gradient"
            )
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] is a {type(t).__name__}, not a Tensor")
    return items


def _grad_outputs(grad_outputs: Any, outs: tuple[Tensor, ...]) -> tuple[Any, ...]:
    if grad_outputs is None:
        return (None,) * len(outs)
    vs = (
        (grad_outputs,)
        if len(outs) == 1 and not isinstance(grad_outputs, tuple | list)
        else tuple(grad_outputs)
    )
    if len(vs) != len(outs):
        raise ValueError(f"grad: {len(vs)} grad_outputs for {len(outs)} outputs")
    return vs


def _seed(out: Tensor, v: Any, k: int, create_graph: bool) -> Grad:
    """dL/d(out) for output k: v (as out's dtype and shape), or 1 for a one-element output."""
    if out.dtype.kind != "f":
        raise RuntimeError(
            f"grad: outputs[{k}] has dtype {out.dtype}: integer results (indices, labels, "
            "counts) have no gradient"
        )
    if not out.requires_grad:
        made = f" (the output of {out.op})" if out.op else ""
        raise RuntimeError(
            f"grad: outputs[{k}]{made} does not require grad: it does not depend on any input "
            "that requires grad, or was computed under no_grad()"
        )
    if v is None:
        if out.size != 1:
            raise RuntimeError(
                f"grad: outputs[{k}] has shape {out.shape}: pass grad_outputs (one-element "
                "outputs default to 1)"
            )
        v = np.ones(out.shape, out.dtype)
    if create_graph and isinstance(v, Tensor):
        seed: Grad = v
    else:
        seed = np.array(v.data if isinstance(v, Tensor) else v, dtype=out.dtype)
    if seed.shape != out.shape:
        raise ShapeError(
            f"grad: grad_outputs[{k}] has shape {seed.shape}, outputs[{k}] {out.shape}"
        )
    return Tensor(seed) if create_graph and not isinstance(seed, Tensor) else seed


def _result(g: Grad, i: int, allow_unused: bool) -> Tensor | None:
    if g is None:
        if allow_unused:
            return None
        raise RuntimeError(
            f"grad: the outputs do not depend on inputs[{i}] (pass allow_unused=True to get None)"
        )
    return g if isinstance(g, Tensor) else Tensor(np.array(g, copy=True))
