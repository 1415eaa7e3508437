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

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..engine.backprop import BackwardHook, set_backward_hook
from ..engine.tensor import Tensor
from .chain_rule import (
    Operand,
    Rule,
    arguments_legend,
    fill,
    has_numbers,
    plain_rule,
    rule_for,
    symbols_of,
)
from .graph import (
    FrameStyle,
    Graph,
    GraphIndex,
    choose_rankdir,
    display_names,
    draw_frame,
    walk,
)
from .html import PageStep, write_page
from .text import MAX_VALUES, shape_text, values_text

__all__ = ["PAGE_VALUES", "Arrival", "SentGrad", "Trace", "TraceStep", "step_details", "trace"]

PAGE_VALUES = 12  # step_details (and so the HTML page) shows tensors up to this size in full

Hook = BackwardHook


@dataclass(frozen=True, eq=False)
class SentGrad:
    """The gradient dL/d(input) that one step sends to argument ``arg`` of its op: the
    ``path``-th of the ``paths`` gradients its input receives (one per use of the input)."""

    arg: int
    tensor: Tensor
    name: str
    grad: np.ndarray
    path: int = 1
    paths: int = 1

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grad.shape


@dataclass(frozen=True, eq=False)
class Arrival:
    """One path's gradient into a tensor: sent at step ``step`` by ``via``, the tensor whose op
    took this one as argument ``arg``. A tensor used k times receives k of them, and its
    gradient is their sum (the multivariate chain rule)."""

    step: int
    via: str
    arg: int
    grad: np.ndarray


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
    arrivals: tuple[Arrival, ...] = ()  # the gradients summed into upstream (none: the root)
    values: tuple[float | None, ...] = ()  # node's and each argument's number, if it has one

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.node.shape

    def describe(self) -> str:
        """One line: ``z1 = Add(t3, b1): dL/dz1 arrives, sends dL/dt3, dL/db1``; where several
        paths meet: ``a is a leaf: dL/da, the sum of its 2 paths, is added to a.grad``."""
        arrives = f"dL/d{self.name}"
        if len(self.arrivals) > 1:
            arrives += f", the sum of its {len(self.arrivals)} paths,"
        if self.op is None:
            return f"{self.name} is a leaf: {arrives} is added to {self.name}.grad"
        sends = ", ".join(f"dL/d{s.name}" for s in self.sent) or "nothing (no input needs it)"
        return (
            f"{self.name} = {self.op}({', '.join(self.inputs)}): {arrives} arrives, sends {sends}"
        )

    def local_derivative(self) -> str:
        """The op's derivative rule from its docstring (in ``ops.py``, ``fused.py``, ``conv.py``)
        as plain text, backward only: the first paragraph and any later one that states a
        derivative (``dL/..`` or ``d out``). Empty for a leaf."""
        ctx = self.node._ctx
        return "" if ctx is None else plain_rule(type(ctx))

    def operands(self) -> tuple[Operand, tuple[Operand, ...]]:
        """The step's output and its op's arguments as they appear in formulas: name, shape and,
        for one-element tensors, the number they held when the step ran."""
        parents = () if self.node._ctx is None else self.node._ctx.parents
        values = self.values or (None,) * (1 + len(parents))
        out = Operand(self.name, self.shape, values[0])
        args = tuple(
            Operand(n, p.shape, v)
            for n, p, v in zip(self.inputs, parents, values[1:], strict=False)
        )
        return out, args


@dataclass
class _Pass:
    """One backward() call: the graph walked from its root, the tensors' names, its steps."""

    index: GraphIndex
    names: list[str]
    steps: list[TraceStep]
    arrived: dict[int, list[Arrival]] = field(default_factory=dict)  # by id, not yet processed

    def uses(self, i: int) -> int:
        """How many gradients tensor i receives: one per argument slot of an op that needs one."""
        return sum(self.index.tensors[j].requires_grad for j, _ in self.index.consumers[i])

    def frame_styles(self, last: int, titles: bool) -> Iterator[FrameStyle]:
        """What the frame of each step shows: the step's node as current, the inputs it sent a
        gradient to as received, and every gradient known after the step, partial while its
        tensor still awaits gradients from other uses. ``last`` is the trace's last step."""
        position = self.index.index
        total = Counter(position(g.tensor) for s in self.steps for g in s.sent)  # to come
        count: Counter[int] = Counter()  # arrived so far
        known: dict[int, np.ndarray] = {}
        done: set[int] = set()
        made_at = {s.index: position(s.node) for s in self.steps}
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
                arrived={(made_at[a.step], a.arg) for a in s.arrivals if a.step in made_at},
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
        names, position = current.names, current.index.index
        parents = () if node._ctx is None else node._ctx.parents
        step_index, name = len(self.steps), names[position(node)]
        sent_grads = []
        for arg, parent, grad in sent:
            grad = np.array(grad, copy=True)
            arrived = current.arrived.setdefault(id(parent), [])
            arrived.append(Arrival(step_index, name, arg, grad))
            k = position(parent)
            sent_grads.append(SentGrad(arg, parent, names[k], grad, len(arrived), current.uses(k)))
            self._pending.add(id(parent))
        step = TraceStep(
            index=step_index,
            node=node,
            name=name,
            op=None if node._ctx is None else node._ctx.op_name,
            upstream=np.array(upstream, copy=True),
            sent=tuple(sent_grads),
            backward_pass=len(self._passes) - 1,
            inputs=tuple(names[position(p)] for p in parents),
            arrivals=tuple(current.arrived.pop(id(node), ())),
            values=tuple(_number_of(t) for t in (node, *parents)),
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
            terms = _sum_terms(s.arrivals) if len(s.arrivals) > 1 else None
            up = up if terms is None else f"{terms} = {up}"  # where several paths meet
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
        rankdir: str = "auto",
        max_values: int = MAX_VALUES,
        max_nodes: int | None = None,
        titles: bool = True,
    ) -> list[graphviz.Digraph]:
        """One graph per step: the current node in red, the inputs that just received a
        gradient in orange, and every gradient known so far in the nodes (``grad so far`` while
        a tensor still awaits contributions from other uses). ``rankdir="auto"`` chooses one
        direction per backward pass, from its last frame (see :func:`.graph.choose_rankdir`)."""
        frames = []
        for p in self._passes:
            styles = list(p.frame_styles(len(self.steps) - 1, titles))

            def frame(style: FrameStyle, direction: str, index: GraphIndex = p.index) -> Graph:
                return draw_frame(
                    index,
                    style,
                    model=self.model,
                    names=self.names,
                    show_data=show_data,
                    rankdir=direction,
                    max_nodes=max_nodes,
                    max_values=max_values,
                )

            direction = rankdir
            if rankdir == "auto" and styles:
                direction = choose_rankdir(lambda d, last=styles[-1]: frame(last, d))
            frames += [frame(style, direction) for style in styles]
        return frames

    def draw(
        self,
        show_data: bool = False,
        rankdir: str = "auto",
        collapse: str | None = None,
        max_values: int = MAX_VALUES,
        title: str | None = None,
    ) -> Graph:
        """The graph of the last backward pass with every gradient it computed, also those of
        intermediate tensors, which do not keep a ``.grad`` (the arguments of :func:`.draw`)."""
        if not self._passes:
            raise ValueError("draw: the trace recorded no steps (was backward() run inside it?)")
        p = self._passes[-1]
        grads = {p.index.index(s.node): (s.upstream, False) for s in p.steps}
        return draw_frame(
            p.index,
            FrameStyle(grads=grads),
            model=self.model,
            names=self.names,
            show_data=show_data,
            rankdir=rankdir,
            collapse=collapse,
            max_values=max_values,
            title=title,
        )

    def to_html(
        self,
        path: str | os.PathLike[str],
        title: str | None = None,
        show_data: bool = True,
        rankdir: str = "auto",
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
    """The text panel of a step, the chain rule with the graph's names and numbers::

        arrives   dL/da = (via L) + (via e) = 4 + (-6) = -2
        forward   L = d · a = 4 · 2 = 8
        sends     dL/dd = dL/dL · a = 1 · 2 = 2

    Shapes are written for tensors that are not scalars; arrays of at most ``max_values``
    elements value by value, larger ones as statistics (see :func:`.text.values_text`). An op
    without a rule in :data:`.chain_rule.RULES` shows its docstring instead.
    """
    lines = _field("arrives", _arrival_lines(step, max_values))
    if step.is_leaf:
        return "\n".join([*lines, f"leaf      {step.name}.grad += dL/d{step.name}"])
    out, args = step.operands()
    rule = rule_for(step.op, len(step.shape))
    if rule is None:
        legend = arguments_legend(type(step.node._ctx), step.inputs, step.name)
        lines += _field("rule", [*step.local_derivative().split("\n"), f"({legend})"])
        sends = [_fallback_sent_lines(g, max_values) for g in step.sent]
    else:
        lines += _field("forward", [_forward_text(step, rule, out, args)])
        g_in = Operand(f"dL/d{step.name}", step.shape, _item(step.upstream))
        sends = [_sent_lines(step, rule, g, g_in, out, args, max_values) for g in step.sent]
    if not step.sent:
        sends = [["(no input needs a gradient)"]]
    for k, block in enumerate(sends):
        lines += _field("sends" if k == 0 else "", block)
    return "\n".join(lines)


def _field(label: str, texts: list[str]) -> list[str]:
    """``label`` in a 10-wide column before the first line; the other lines indented under it."""
    return [f"{label if k == 0 else '':<10}{t}".rstrip() for k, t in enumerate(texts)]


def _shape(shape: tuple[int, ...]) -> str:
    """`` (2, 3)`` after a name, nothing for a scalar."""
    return f" {shape_text(shape)}" if shape else ""


def _item(a: np.ndarray) -> float | None:
    return float(a.reshape(-1)[0]) if a.size == 1 and a.dtype.kind in "fiub" else None


def _number_of(t: Tensor) -> float | None:
    """The number a one-element tensor holds (else None), copied when the step runs."""
    return _item(np.asarray(t.data))


def _equals(
    lhs: str, exprs: list[str], value: np.ndarray, max_values: int, below: bool = False
) -> list[str]:
    """``lhs = expr = ... = value``: the expressions on the line of ``lhs``, the value on that
    line too if it is one number, else (or if ``below``) on the next line under the first
    ``=``, a matrix's rows aligned."""
    text = values_text(value, max_values)
    number = _item(value)
    if number is not None and "\n" not in text and not below:
        result = _format(number)
        return [" = ".join([lhs, *(e for e in exprs if e != result), result])]
    if number is not None:
        text = _format(number)
    head, *rest = text.split("\n")
    if not exprs:
        pad = " " * (len(lhs) + 3 + (1 if head.startswith("[[") else 0))
        return [f"{lhs} = {head}", *(pad + r for r in rest)]
    pad = " " * (len(lhs) + 1)
    inner = " " * (len(pad) + 2 + (1 if head.startswith("[[") else 0))
    return [" = ".join([lhs, *exprs]), f"{pad}= {head}", *(inner + r for r in rest)]


def _format(v: float) -> str:
    return "0" if v == 0 else f"{v:.4g}"


def _arrival_lines(step: TraceStep, max_values: int) -> list[str]:
    """What arrives: dL/d(node), and where several paths meet, their sum term by term."""
    lhs = f"dL/d{step.name}{_shape(step.shape)}"
    parts = step.arrivals
    if len(parts) < 2:
        return _equals(lhs, [], step.upstream, max_values)
    repeated = len({p.via for p in parts}) < len(parts)  # a + a: one tensor, two arguments
    paths = " + ".join(f"(via {p.via}{f', argument {p.arg}' if repeated else ''})" for p in parts)
    terms = _sum_terms(parts)
    if terms is not None:
        return _equals(lhs, [paths, terms], step.upstream, max_values)
    lines = _equals(lhs, [paths], step.upstream, max_values)
    if all(p.grad.size <= max_values for p in parts):
        pad = " " * (len(lhs) + 1)
        terms = " + ".join(values_text(p.grad, max_values, oneline=True) for p in parts)
        lines.insert(1, f"{pad}= {terms}")
    return lines


def _sum_terms(parts: tuple[Arrival, ...]) -> str | None:
    """``4 + (-6)``: the paths' gradients as numbers, if each is one number; else None."""
    numbers = [_item(p.grad) for p in parts]
    if any(v is None for v in numbers):
        return None
    terms = [_format(v) for v in numbers if v is not None]
    return " + ".join(terms[:1] + [f"({t})" if t.startswith("-") else t for t in terms[1:]])


def _forward_text(step: TraceStep, rule: Rule, out: Operand, args: tuple[Operand, ...]) -> str:
    """``L = d · a = 4 · 2 = 8``, or ``t9 (1, 2) = h @ W2^T   [(1, 3) @ (3, 2)]`` for matrices."""
    g = Operand(f"dL/d{step.name}", step.shape)
    n = _count(step.op, out, args)
    formula = fill(rule.forward, symbols_of(g, out, args, n, "name"))
    text = f"{step.name}{_shape(step.shape)}" + ("" if formula == step.name else f" = {formula}")
    numbers = all(a.value is not None for a in args)
    if rule.elementwise and numbers and out.value is not None:
        with_numbers = fill(rule.forward, symbols_of(g, out, args, n, "value"))
        result = _format(out.value)
        return " = ".join([text, *([with_numbers] if with_numbers != result else []), result])
    if rule.shapes:
        return f"{text}   [{fill(rule.forward, symbols_of(g, out, args, n, 'shape'))}]"
    return text + (", elementwise" if rule.elementwise and out.shape else "")


def _sent_lines(
    step: TraceStep,
    rule: Rule,
    sent: SentGrad,
    g: Operand,
    out: Operand,
    args: tuple[Operand, ...],
    max_values: int,
) -> list[str]:
    """``dL/dd = dL/dL · a = 1 · 2 = 2``; for tensors that are not scalars the formula, its
    shapes or how it is taken, then the values."""
    template = rule.grads[sent.arg] if sent.arg < len(rule.grads) else "?"
    n = _count(step.op, out, args)
    lhs = f"dL/d{sent.name}{_shape(sent.shape)}"
    formula = fill(template, symbols_of(g, out, args, n, "name"))
    exprs = [formula]
    if has_numbers(rule, template, g, out, args):
        exprs.append(fill(template, symbols_of(g, out, args, n, "value")))
    elif rule.shapes and _algebra(template):
        exprs[0] += f"   [{fill(template, symbols_of(g, out, args, n, 'shape'))}]"
    elif rule.elementwise and sent.shape != out.shape:
        exprs[0] += f" {shape_text(out.shape)}, summed to {shape_text(sent.shape)}: "
        exprs[0] += f"{sent.name} was broadcast"
    elif rule.elementwise:
        exprs[0] += ", elementwise"
    prose = not (rule.elementwise or _algebra(template))
    lines = _equals(lhs, exprs, sent.grad, max_values, below=prose)
    lines[0] += _path_note(sent)
    return lines


def _algebra(template: str) -> bool:
    """Is the template matrix algebra (``{g} @ {b}^T``), which reads as an equation of shapes?"""
    return "@" in template or "^T" in template


def _fallback_sent_lines(sent: SentGrad, max_values: int) -> list[str]:
    """``dL/dz2 (1, 2) = [[0.43, -0.43]]   (argument 0)``: the value an op without a rule sent."""
    lines = _equals(f"dL/d{sent.name}{_shape(sent.shape)}", [], sent.grad, max_values)
    lines[0] += f"   (argument {sent.arg}){_path_note(sent)}"
    return lines


def _path_note(sent: SentGrad) -> str:
    """``   (path 1 of 2 into a)`` for a tensor that receives several gradients."""
    return f"   (path {sent.path} of {sent.paths} into {sent.name})" if sent.paths > 1 else ""


def _count(op: str | None, out: Operand, args: tuple[Operand, ...]) -> int:
    """The n of a rule: the batch size N of cross-entropy, the elements per mean otherwise."""
    if not args:
        return 1
    if op == "CrossEntropy":
        return args[0].shape[0] if args[0].shape else 1
    return args[0].size // max(out.size, 1)


def trace(model: Any = None, names: Mapping[Any, Any] | None = None) -> Trace:
    """Record every step of the backward passes run inside ``with trace() as t:``.

    ``model`` (an ``nn.Module``) names parameters by their dotted names; ``names`` adds names
    (``{"h": h}``). The previous hook is restored on exit, also after an exception; nested
    traces both record.
    """
    return Trace(model=model, names=names)
