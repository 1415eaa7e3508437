"""Record a forward-mode sweep step by step: the tangents flowing forward with the values.

::

    with forward_ad.dual_level(), trace_tangents() as t:
        x = forward_ad.make_dual(x0, v)      # x0.requires_grad: the graph is drawn from it
        y = f(x)
    print(t)                                 # one row per op: its inputs' tangents, its own
    t.to_html("sweep.html")                  # step through it, one frame per op

Each op that computes a tangent is one step, in the order the ops run (forward, unlike
:func:`~tinygrad_edu.viz.trace.trace`, which records backward): its inputs' tangents go in, its
``jvp`` rule gives its output's tangent. The frames draw the graph of the sweep's last output
with every tangent known so far.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..autograd.forward_ad import unpack_dual
from ..engine.function import Function, set_forward_hook
from ..engine.tensor import Tensor
from .graph import FrameStyle, GraphIndex, choose_rankdir, display_names, draw_frame, walk
from .html import PageStep, write_page
from .text import MAX_VALUES, shape_text, values_text

__all__ = ["TangentStep", "TangentTrace", "trace_tangents"]


@dataclass(frozen=True, eq=False)
class TangentStep:
    """One op of the sweep: ``node`` = ``op``(``inputs``), whose tangents ``input_tangents``
    (None: no tangent) give the output's ``tangent``."""

    index: int
    node: Tensor
    op: str
    inputs: tuple[Tensor, ...]
    input_tangents: tuple[np.ndarray | None, ...]
    tangent: np.ndarray

    def rule(self) -> str:
        """The op's tangent rule, from its docstring (the sentence that says ``tangent:``)."""
        ctx = self.node._ctx
        doc = " ".join(inspect.cleandoc(type(ctx).__doc__ or "").split()) if ctx else ""
        start = doc.find("tangent:")
        return doc[start : doc.find(".", start) + 1 or None].strip() if start >= 0 else ""


class TangentTrace:
    """The steps of the forward-mode sweeps run inside it (see :func:`trace_tangents`)."""

    def __init__(self, names: Mapping[Any, Any] | None = None) -> None:
        self.names = names
        self.steps: list[TangentStep] = []
        self._seeds: dict[Tensor, np.ndarray] = {}  # inputs' tangents, as first seen
        self._prev: Any = None

    def __enter__(self) -> TangentTrace:
        self._prev = set_forward_hook(self._hook)
        if self._prev is None:
            set_forward_hook(None)
            raise RuntimeError("trace_tangents: open `forward_ad.dual_level()` first")
        return self

    def __exit__(self, *exc: object) -> None:
        set_forward_hook(self._prev)

    def _hook(self, ctx: Function, out: Tensor, kwargs: dict[str, Any]) -> None:
        self._prev(ctx, out, kwargs)  # the sweep itself computes the tangent
        tangent = unpack_dual(out).tangent
        if tangent is None:
            return
        tangents = tuple(unpack_dual(p).tangent for p in ctx.parents)
        for p, t in zip(ctx.parents, tangents, strict=True):
            if t is not None and p not in self._seeds and not any(s.node is p for s in self.steps):
                self._seeds[p] = t.copy()
        step = TangentStep(
            len(self.steps), out, ctx.op_name, ctx.parents, tuple(tangents), tangent.copy()
        )
        self.steps.append(step)

    # ----------------------------------------------------------------- reading the record
    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[TangentStep]:
        return iter(self.steps)

    def _graph(self) -> tuple[GraphIndex, list[str]]:
        """The walk from the sweep's last output and the tensors' names."""
        if not self.steps:
            raise ValueError("trace_tangents: no op computed a tangent inside the trace")
        index = walk(self.steps[-1].node)
        if any(s.node not in index for s in self.steps):
            raise ValueError(
                "trace_tangents: the sweep's graph was not recorded; give make_dual a tensor "
                "that requires grad"
            )
        return index, display_names(index, None, self.names)

    def describe(self, step: TangentStep, names: dict[Tensor, str]) -> str:
        """``t2 = Mul(x, w): its tangent from those of x``."""
        args = ", ".join(names.get(p, "?") for p in step.inputs)
        with_tangent = [
            names.get(p, "?")
            for p, t in zip(step.inputs, step.input_tangents, strict=True)
            if t is not None
        ]
        sources = ", ".join(with_tangent)
        return (
            f"{names.get(step.node, '?')} = {step.op}({args}): its tangent from those of {sources}"
        )

    def table(self, max_values: int = MAX_VALUES) -> str:
        """One line per step: the op, and the tangent it computed."""
        index, labels = self._graph()
        names = dict(zip(index.tensors, labels, strict=True))
        lines = [f"forward-mode sweep: {len(self.steps)} steps"]
        for s in self.steps:
            value = values_text(s.tangent, max_values, oneline=True)
            lines.append(
                f"{s.index:>3}  {self.describe(s, names)}  {shape_text(s.tangent.shape)} {value}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def frames(
        self, show_data: bool = False, rankdir: str = "auto", titles: bool = True
    ) -> list[graphviz.Digraph]:
        """One graph per step: the op's output in red, its inputs with a tangent in orange, and
        every tangent known so far in the nodes."""
        index, labels = self._graph()
        names = dict(zip(index.tensors, labels, strict=True))
        known = {index.index(p): (t, False) for p, t in self._seeds.items() if p in index}
        styles = []
        for s in self.steps:
            known[index.index(s.node)] = (s.tangent, False)
            style = FrameStyle(
                grads=dict(known),
                current=index.index(s.node),
                received={
                    index.index(p)
                    for p, t in zip(s.inputs, s.input_tangents, strict=True)
                    if t is not None and p in index
                },
                sent_args={i for i, t in enumerate(s.input_tangents) if t is not None},
                title=f"step {s.index} of {len(self.steps) - 1}: {self.describe(s, names)}"
                if titles
                else None,
                value_name="tangent",
            )
            styles.append(style)

        def frame(style: FrameStyle, direction: str) -> graphviz.Digraph:
            return draw_frame(
                index, style, names=self.names, show_data=show_data, rankdir=direction
            )

        if rankdir == "auto" and styles:  # one direction for the whole sweep
            rankdir = choose_rankdir(lambda d: frame(styles[-1], d))
        return [frame(style, rankdir) for style in styles]

    def to_html(
        self, path: str | os.PathLike[str], title: str | None = None, show_data: bool = True
    ) -> Path:
        """A self-contained page that steps through the sweep (as ``Trace.to_html`` does)."""
        index, labels = self._graph()
        names = dict(zip(index.tensors, labels, strict=True))
        frames = self.frames(show_data=show_data, titles=False)
        steps = [
            PageStep(
                self.describe(s, names), _details(s, names), f.source, f"t{index.index(s.node)}"
            )
            for s, f in zip(self.steps, frames, strict=True)
        ]
        return write_page(path, steps, title=title or "A forward-mode sweep, step by step")


def _details(step: TangentStep, names: dict[Tensor, str]) -> str:
    """The text panel of a step: the tangents that come in, the rule, the tangent that goes out."""
    lines = [
        f"in        d{names.get(p, '?')} = {values_text(t, 12, oneline=True)}"
        for p, t in zip(step.inputs, step.input_tangents, strict=True)
        if t is not None
    ]
    lines.append(f"rule      {step.rule()}")
    lines.append(
        f"out       d{names.get(step.node, '?')} = {values_text(step.tangent, 12, oneline=True)}"
    )
    return "\n".join(lines)


def trace_tangents(names: Mapping[Any, Any] | None = None) -> TangentTrace:
    """Record every op's tangent inside ``with forward_ad.dual_level(), trace_tangents() as t:``.
    ``names`` adds names (``{"h": h}``)."""
    return TangentTrace(names)
