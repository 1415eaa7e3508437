"""A network described layer by layer, like Keras's ``model.summary()``: ``summarize(model,
input_shape)`` (also ``Module.summary``) runs one zero input through the model and lists every
layer in the order it is called: its name, type, settings (sizes, kernel, stride, padding, the
activation's type), output shape and parameter count; then the total. Enough to rebuild it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..function import no_grad
from ..tensor import Tensor
from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .module import Module

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


#: The activation layers' formulas.
_ACTIVATIONS: dict[type, str] = {
    Sigmoid: "1 / (1 + e^-x)",
    ReLU: "max(x, 0)",
    Tanh: "tanh x",
}


def _pair(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}"


def _settings(m: Module) -> str:
    """A layer's settings in words: what it takes to build it again."""
    if isinstance(m, Linear):
        return f"{m.in_features} -> {m.out_features}" + ("" if m.bias is not None else ", no bias")
    if isinstance(m, Conv2d):
        return (
            f"{m.in_channels} -> {m.out_channels} channels, kernel {_pair(m.kernel_size)}, "
            f"stride {_pair(m.stride)}, padding {_pair(m.padding)}"
            + ("" if m.bias is not None else ", no bias")
        )
    if isinstance(m, MaxPool2d):
        return f"kernel {_pair(m.kernel_size)}, stride {_pair(m.stride)}, padding 0x0"
    if isinstance(m, Dropout):
        return f"p {m.p:g}"
    if type(m) in _ACTIVATIONS:
        return f"activation {_ACTIVATIONS[type(m)]}"
    if isinstance(m, Flatten):
        return f"from axis {m.start_dim}"
    if isinstance(m, LogSoftmax | Softmax):
        return f"axis {m.axis}"
    return m.extra_repr()


def _leaves(model: Module) -> list[tuple[str, Module]]:
    """(name, module) of the modules without sub-modules (the model itself if it has none)."""
    found = []
    for name, m in model.named_modules():
        if not any(isinstance(v, Module) for _, v in m._children()):
            found.append((name or type(m).__name__, m))
    return found


def _recorder(module: Module, name: str, rows: list[LayerRow]) -> Callable[..., Any]:
    """``module``'s forward, adding a row with the output's shape at each call."""
    forward = type(module).forward

    def record(*args: Any, **kwargs: Any) -> Any:
        out = forward(module, *args, **kwargs)
        count = sum(p.data.size for p in module.parameters())
        shape = tuple(np.shape(out.data if isinstance(out, Tensor) else out))
        rows.append(LayerRow(name, type(module).__name__, _settings(module), shape, count))
        return out

    return record


def layer_rows(model: Module, input_shape: Sequence[int]) -> list[LayerRow]:
    """One row per layer call, for one input of ``input_shape`` (no batch axis, e.g. (784,) or
    (1, 28, 28)); layers never called come last, without an output shape."""
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
        LayerRow(n, type(m).__name__, _settings(m), None, sum(p.data.size for p in m.parameters()))
        for n, m in leaves
        if n not in called
    ]
    return rows


def summarize(model: Module, input_shape: Sequence[int]) -> str:
    """The table of :func:`layer_rows` (output shapes with the batch axis as N) and the total
    number of parameters (a layer called twice is counted once)."""
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
