"""Record backward step by step: ``with trace() as t: loss.backward()``.

The engine calls the hook installed with ``backprop.set_backward_hook`` as
``hook(node, upstream, sent)`` once per step of backward (and tests one ``is None`` per node
otherwise, so an untraced backward pays nothing more). ``node`` is the tensor being processed,
``upstream`` is dL/d(node), the gradient that has arrived at it, and ``sent`` holds
``(arg, input, grad)`` for each argument position of the op that receives a gradient (already
summed back to the input's shape); a leaf is reported with ``sent = ()`` after its ``.grad``
was updated. :class:`Trace` keeps a copy of all of this as :class:`TraceStep` records.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..engine.backprop import BackwardHook, set_backward_hook
from ..engine.tensor import Tensor
from .graph import FrameStyle, GraphIndex, display_names, draw_frame, walk
from .html import PageStep, write_page
from .text import MAX_VALUES, shape_text, values_text

__all__ = ["PAGE_VALUES", "SentGrad", "Trace", "TraceStep", "step_details", "trace"]

PAGE_VALUES = 12  # step_details (and so the HTML page) shows tensors up to this size in full

Hook = BackwardHook


@dataclass(frozen=True, eq=False)
class SentGrad:
    """The gradient dL/d(input) that one step sends to argument ``arg`` of its op."""

    arg: int
    tensor: Tensor
    name: str
    grad: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grad.shape


@dataclass(frozen=True, eq=False)
class TraceStep:
    """One step of backward: the gradient ``upstream`` = dL/d(node) arrives at ``node``, made by
    ``op`` (None for a leaf), which sends ``sent[k].grad`` = dL/d(input) to its inputs."""

    index: int
    node: Tensor
    name: str
    op: str | None
    upstream: np.ndarray
    sent: tuple[SentGrad, ...]
    backward_pass: int = 0  # which backward() call of the trace this step belongs to
    inputs: tuple[str, ...] = ()  # names of all the op's arguments, in order

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    def describe(self) -> str:
        """One line: ``z1 = Add(t3, b1): dL/dz1 arrives, sends dL/dt3, dL/db1``."""
        if self.op is None:
            return f"{self.name} is a leaf: dL/d{self.name} is added to {self.name}.grad"
        sends = ", ".join(f"dL/d{s.name}" for s in self.sent) or "nothing (no input needs it)"
        return (
            f"{self.name} = {self.op}({', '.join(self.inputs)}): dL/d{self.name} arrives, "
            f"sends {sends}"
        )

    def local_derivative(self) -> str:
        """The op's derivative rule, from its docstring in ``ops.py``, ``fused.py`` or ``conv.py``
        (empty for a leaf): the first paragraph, and any later one that states a derivative
        (``dL/..`` or ``d out``)."""
        ctx = self.node._ctx
        if ctx is None:
            return ""
        paragraphs = inspect.cleandoc(type(ctx).__doc__ or "").split("\n\n")
        rules = [p for p in paragraphs[1:] if "dL/" in p or "d out" in p]
        return "\n\n".join(paragraphs[:1] + rules)


@dataclass
class _Pass:
    """One backward() call: the graph walked from its root, the tensors' names, its steps."""

    index: GraphIndex
    names: list[str]
    steps: list[TraceStep]

    def frame_styles(self, last: int, titles: bool) -> Iterator[FrameStyle]:
        """What the frame of each step shows: the step's node as current, the inputs it sent a
        gradient to as received, and every gradient known after the step, partial while its
        tensor still awaits gradients from other uses. ``last`` is the trace's last step."""
        position = self.index.index
        total = Counter(position(g.tensor) for s in self.steps for g in s.sent)  # to come
        count: Counter[int] = Counter()  # arrived so far
        known: dict[int, np.ndarray] = {}
        done: set[int] = set()
        for s in self.steps:
            current = position(s.node)
            known[current] = s.upstream
            done.add(current)
            received = set()
            for g in s.sent:
                k = position(g.tensor)
                known[k] = g.grad if k not in known else known[k] + g.grad
                count[k] += 1
                received.add(k)
            yield FrameStyle(
                grads={k: (v, k not in done and count[k] < total[k]) for k, v in known.items()},
                current=current,
                received=received,
                sent_args={g.arg for g in s.sent},
                title=f"step {s.index} of {last}: {s.describe()}" if titles else None,
            )


class Trace:
    """A record of backward passes, one :class:`TraceStep` per node, in backward order.

    Use it as a context manager (see :func:`trace`); then ``t.steps``, ``print(t)`` (a table),
    ``t.frames()`` (one graph per step) and ``t.to_html(path)`` (a page to step through).
    """

    def __init__(self, model: Any = None, names: Mapping[Any, Any] | None = None) -> None:
        self.model = model
        self.names = names
        self.steps: list[TraceStep] = []
        self._passes: list[_Pass] = []
        self._pending: set[int] = set()  # tensors sent a gradient and not yet processed
        self._prev: Hook | None = None
        self._active = False
        self._entered = False
        self._installed: Hook = self._hook  # one bound method, so `is` can recognise it

    # ----------------------------------------------------------------- installing the hook
    def __enter__(self) -> Trace:
        if self._entered:
            raise RuntimeError("trace: this trace was already entered; make a new trace()")
        self._entered = self._active = True
        self._prev = set_backward_hook(self._installed)
        return self

    def __exit__(self, *exc: object) -> None:
        self._active = False
        current = set_backward_hook(self._prev)
        if current is not self._installed:  # an inner trace is still installed: keep it
            set_backward_hook(current)
        # else an inner trace is still installed (exited out of order): it will restore our
        # hook, which now only forwards to the outer one (self._active is False).

    def _hook(
        self, node: Tensor, upstream: np.ndarray, sent: tuple[tuple[int, Tensor, np.ndarray], ...]
    ) -> None:
        if self._active:
            self._record(node, upstream, sent)
        if self._prev is not None:  # nested traces: the outer one records too
            self._prev(node, upstream, sent)

    def _record(
        self, node: Tensor, upstream: np.ndarray, sent: tuple[tuple[int, Tensor, np.ndarray], ...]
    ) -> None:
        new_pass = (
            not self._passes or id(node) not in self._pending or node not in self._passes[-1].index
        )
        if new_pass:  # node is the root of a new backward() call
            index = walk(node)
            self._passes.append(_Pass(index, display_names(index, self.model, self.names), []))
            self._pending.clear()
        self._pending.discard(id(node))
        current = self._passes[-1]
        names, index = current.names, current.index
        parents = () if node._ctx is None else node._ctx.parents
        sent_grads = []
        for arg, parent, grad in sent:
            sent_grads.append(
                SentGrad(arg, parent, names[index.index(parent)], np.array(grad, copy=True))
            )
            self._pending.add(id(parent))
        step = TraceStep(
            index=len(self.steps),
            node=node,
            name=names[index.index(node)],
            op=None if node._ctx is None else node._ctx.op_name,
            upstream=np.array(upstream, copy=True),
            sent=tuple(sent_grads),
            backward_pass=len(self._passes) - 1,
            inputs=tuple(names[index.index(p)] for p in parents),
        )
        self.steps.append(step)
        current.steps.append(step)

    # ----------------------------------------------------------------- reading the record
    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps)

    def __getitem__(self, i: int) -> TraceStep:
        return self.steps[i]

    def __repr__(self) -> str:
        return f"<Trace: {len(self.steps)} steps in {len(self._passes)} backward pass(es)>"

    def __str__(self) -> str:
        return self.table()

    def name_of(self, t: Tensor) -> str:
        """The name the trace uses for ``t`` (its own, a model's, or ``t<i>``)."""
        for p in reversed(self._passes):
            if t in p.index:
                return p.names[p.index.index(t)]
        raise KeyError("trace: this tensor is not in any traced graph")

    def graph_position(self, step: TraceStep) -> int:
        """Position of ``step.node`` in its pass's walk: the node is drawn as ``t<position>``."""
        return self._passes[step.backward_pass].index.index(step.node)

    def table(self, max_values: int = MAX_VALUES) -> str:
        """The steps as a text table: step, tensor, op, dL/d(tensor), and what is sent where."""
        header = ("step", "tensor", "op", "upstream dL/d(tensor)", "sends dL/d(input)")
        rows: list[tuple[str, ...]] = []
        for s in self.steps:
            tensor = f"{s.name} {shape_text(s.shape)}"
            op = s.op or "leaf"
            up = values_text(s.upstream, max_values, oneline=True)
            if s.is_leaf:
                sends = [f"-> {s.name}.grad"]
            else:
                sends = [
                    f"{g.arg}: {g.name} {shape_text(g.shape)} "
                    f"{values_text(g.grad, max_values, oneline=True)}"
                    for g in s.sent
                ] or ["(no input needs a gradient)"]
            rows.append((str(s.index), tensor, op, up, sends[0]))
            rows.extend(("", "", "", "", extra) for extra in sends[1:])
        widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]

        def line(r: tuple[str, ...]) -> str:
            return "  ".join(
                c.rjust(w) if k == 0 else c.ljust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()

        passes = len(self._passes)
        title = f"backward trace: {len(self.steps)} steps" + (
            f" in {passes} backward passes" if passes > 1 else ""
        )
        return "\n".join(
            [title, line(header), line(tuple("-" * w for w in widths)), *map(line, rows)]
        )

    def frames(
        self,
        show_data: bool = False,
        rankdir: str = "LR",
        max_values: int = MAX_VALUES,
        max_nodes: int | None = None,
        titles: bool = True,
    ) -> list[graphviz.Digraph]:
        """One graph per step: the current node in red, the inputs that just received a
        gradient in orange, and every gradient known so far in the nodes (``grad so far`` while
        a tensor still awaits contributions from other uses)."""
        return [
            draw_frame(
                p.index,
                style,
                model=self.model,
                names=self.names,
                show_data=show_data,
                rankdir=rankdir,
                max_nodes=max_nodes,
                max_values=max_values,
            )
            for p in self._passes
            for style in p.frame_styles(len(self.steps) - 1, titles)
        ]

    def to_html(
        self,
        path: str | os.PathLike[str],
        title: str | None = None,
        show_data: bool = True,
        rankdir: str = "LR",
    ) -> Path:
        """Write a self-contained HTML page that steps through backward (buttons, arrow keys,
        ``#step=N`` in the URL opens step N); see :mod:`tinygrad_edu.viz.html`.

        Each step shows :meth:`TraceStep.describe`, :func:`step_details` and its frame (see
        :meth:`frames`) as an inline SVG made with ``dot -Tsvg`` (without graphviz the page
        shows the DOT text instead); the page loads nothing from the network.
        """
        if not self.steps:
            raise ValueError("to_html: the trace recorded no steps (was backward() run inside it?)")
        frames = self.frames(show_data=show_data, rankdir=rankdir, titles=False)
        steps = [
            PageStep(s.describe(), step_details(s), f.source, f"t{self.graph_position(s)}")
            for s, f in zip(self.steps, frames, strict=True)
        ]
        return write_page(path, steps, title=title)


def step_details(step: TraceStep, max_values: int = PAGE_VALUES) -> str:
    """The text panel of a step: what arrives, the op's rule, what is sent where.

    Arrays of at most ``max_values`` elements are written value by value, larger ones as
    statistics (see :func:`tinygrad_edu.viz.text.values_text`).
    """

    def v(prefix: str, a: object) -> str:
        """``prefix`` then the values, a matrix's rows aligned under its first row."""
        text = values_text(a, max_values)  # type: ignore[arg-type]
        pad = " " * (len(prefix) + 1) if text.startswith("[[") else " " * len(prefix)
        return prefix + text.replace("\n", "\n" + pad)

    def field(label: str, text: str) -> str:
        """``label`` in a 10-wide column, continuation lines indented under the text."""
        first, *rest = text.split("\n")
        return "\n".join([f"{label:<10}{first}", *(f"{'':10}{r}" if r else "" for r in rest)])

    lines = [field("arrives", v(f"dL/d{step.name} {shape_text(step.shape)} = ", step.upstream))]
    if step.is_leaf:
        lines.append(field("leaf", f"{step.name}.grad += dL/d{step.name}"))
    else:
        lines.append(field("rule", step.local_derivative()))
        for k, g in enumerate(step.sent):
            text = v(f"dL/d{g.name} {shape_text(g.shape)} = ", g.grad) + f"   (argument {g.arg})"
            lines.append(field("sends" if k == 0 else "", text))
    return "\n".join(lines)


def trace(model: Any = None, names: Mapping[Any, Any] | None = None) -> Trace:
    """Record every step of the backward passes run inside ``with trace() as t:``.

    ``model`` (an ``nn.Module``) names parameters by their dotted names; ``names`` adds names
    (``{"h": h}``). The previous hook is restored on exit, also after an exception; nested
    traces both record.
    """
    return Trace(model=model, names=names)
