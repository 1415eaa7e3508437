"""A network described layer by layer, like Keras's ``model.summary()``: ``summarize(model,
input_shape)`` (also ``Module.summary``) runs one zero input through the model and lists every
layer in the order it is called: its name, type, settings (each layer's ``summary_settings()``:
sizes, kernel, stride, padding, the activation), output shape and parameter count; then the
total. Enough to rebuild it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.errors import InputError, is_integer
from ..engine.function import no_grad
from ..engine.tensor import Tensor

#: An nn.Module: module.py imports this file, so this file does not import it.
Module = Any

__all__ = ["LayerRow", "layer_rows", "summarize"]


@dataclass
class LayerRow:
    """One layer: dotted ``name``, ``kind`` (its class), ``settings``, ``output_shape`` (batch
    axis first; None if the layer was not called) and ``parameters``."""

    name: str
    kind: str
    settings: str
    output_shape: tuple[int, ...] | None
    parameters: int


def _leaves(model: Module) -> list[tuple[str, Module]]:
    """(name, module) of the modules without sub-modules (the model itself if it has none)."""
    return [
        (name or type(m).__name__, m)
        for name, m in model.named_modules()
        if len(list(m.modules())) == 1
    ]


def _recorder(module: Module, name: str, rows: list[LayerRow]) -> Callable[..., Any]:
    """``module``'s forward, adding a row with the output's shape at each call."""
    forward = type(module).forward

    def record(*args: Any, **kwargs: Any) -> Any:
        out = forward(module, *args, **kwargs)
        count = sum(p.data.size for p in module.parameters())
        shape = tuple(np.shape(out.data if isinstance(out, Tensor) else out))
        rows.append(LayerRow(name, type(module).__name__, module.summary_settings(), shape, count))
        return out

    return record


def layer_rows(model: Module, input_shape: int | Sequence[int]) -> list[LayerRow]:
    """One row per layer call, for one input of ``input_shape`` (no batch axis, e.g. 784,
    (784,) or (1, 28, 28)); layers never called come last, without an output shape."""
    input_shape = _shape(input_shape)
    leaves = _leaves(model)
    rows: list[LayerRow] = []
    was_training = model.training
    try:
        for name, m in leaves:
            m.forward = _recorder(m, name, rows)  # type: ignore[method-assign]
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((1, *input_shape), dtype=np.float32)))
    finally:
        for _, m in leaves:
            vars(m).pop("forward", None)
        model.train(was_training)
    called = {r.name for r in rows}
    rows += [
        LayerRow(
            n,
            type(m).__name__,
            m.summary_settings(),
            None,
            sum(p.data.size for p in m.parameters()),
        )
        for n, m in leaves
        if n not in called
    ]
    return rows


def _shape(input_shape: int | Sequence[int]) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints (one int: a vector of that length)."""
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if not shape or any(not is_integer(n) or n <= 0 for n in shape):
        raise InputError(
            f"summary: input_shape must be positive sizes without the batch axis, such as "
            f"(784,) or (1, 28, 28), got {input_shape!r}"
        )
    return shape


def summarize(model: Module, input_shape: int | Sequence[int]) -> str:
    """The table of :func:`layer_rows` (output shapes with the batch axis as N) and the total
    number of parameters (a layer called twice is counted once)."""
    input_shape = _shape(input_shape)
    rows = layer_rows(model, input_shape)
    table = [("Layer", "Type", "Settings", "Output shape", "Parameters")]
    for r in rows:
        shape = "-" if r.output_shape is None else str(("N", *r.output_shape[1:]))
        table.append((r.name, r.kind, r.settings, shape.replace("'", ""), f"{r.parameters:,}"))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = [
        "  ".join(
            cell.rjust(w) if i == 4 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]
    rule = "-" * len(max(lines, key=len))
    total = model.num_parameters()
    shape = str(("N", *input_shape)).replace("'", "")
    return "\n".join(
        [
            f"{type(model).__name__}, input {shape}",
            rule,
            lines[0],
            rule,
            *lines[1:],
            rule,
            f"Total parameters: {total:,}",
        ]
    )
