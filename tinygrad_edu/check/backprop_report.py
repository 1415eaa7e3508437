"""What :func:`~tinygrad_edu.check.check_backprop` found: one :class:`NodeResult` per gradient,
in backward order, gathered in a :class:`BackpropReport` that prints one line per node, marks
the first wrong one, renders as a table in Jupyter and plots one node."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .diagnose import Diagnosis, Worst, worst_element
from .report import comparison_figure

#: Every status of a node, with what it means.
STATUSES: dict[str, str] = {
    "right": "the gradient is right",
    "wrong": "the node's own backward rule is wrong (diagnosed against that rule applied to "
    "your own upstream gradients)",
    "inherited": "the rule is right: applied to your own (wrong) upstream gradients it gives "
    "exactly your value; the error comes from earlier nodes (inherits_from)",
    "missing": "no gradient for this name (absent from the dict, or None)",
    "wrong_shape": "the gradient's shape differs from the value's, even where broadcasting "
    "would make the numbers agree",
}
FAILING = ("wrong", "wrong_shape", "missing")
_COLOURS = {
    "right": "#1a7f37",
    "inherited": "#9a6700",
    "wrong": "#cf222e",
    "wrong_shape": "#cf222e",
    "missing": "#8250df",
}


@dataclass
class NodeResult:
    """The check of dL/d(name): ``status`` (a key of :data:`STATUSES`), ``expected`` (the right
    gradient), ``got`` (the student's, as returned; None when missing), ``local_expected`` (the
    right rule applied to the student's own upstream gradients), ``diagnosis`` (for wrong,
    wrong_shape and missing nodes) and ``inherits_from`` (the truly wrong nodes an inherited
    error comes from, in backward order)."""

    name: str
    status: str
    shape: tuple[int, ...]
    expected: np.ndarray
    got: Any
    local_expected: np.ndarray
    diagnosis: Diagnosis | None = None
    inherits_from: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "right"

    @property
    def worst(self) -> Worst | None:
        """The worst element against what the node's rule should have given."""
        try:
            got = np.asarray(self.got, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return None if self.got is None else worst_element(got, self.local_expected)

    def detail(self) -> str:
        if self.status == "inherited":
            return f"from {', '.join(self.inherits_from)}: its own rule is right"
        return "" if self.diagnosis is None else str(self.diagnosis)

    def line(self, width: int = 0, shape_width: int = 0) -> str:
        shape = str(self.shape)
        text = f"{self.name:<{width}}  {shape:<{shape_width}}  {self.status:<11}  {self.detail()}"
        return text.rstrip()


@dataclass
class BackpropReport:
    """The result of :func:`~tinygrad_edu.check.check_backprop`: ``passed``; ``first`` (the
    name of the first wrong gradient in backward order, None when passed); ``nodes`` (one
    :class:`NodeResult` per checked name, in backward order, of the first failing trial or the
    last one); ``seed`` (replays the check); ``error`` (a failure of the student's function
    before any gradient could be compared: an exception, no dict, unknown names)."""

    title: str
    seed: int
    trials: int
    nodes: list[NodeResult] = field(default_factory=list)
    failed_trial: int | None = None
    error: Diagnosis | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(n.passed for n in self.nodes)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def first_wrong(self) -> NodeResult | None:
        return next((n for n in self.nodes if n.status in FAILING), None)

    @property
    def first(self) -> str | None:
        node = self.first_wrong
        return None if node is None else node.name

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The error, else the first wrong node's diagnosis (None when passed)."""
        if self.error is not None:
            return self.error
        node = self.first_wrong
        return None if node is None else node.diagnosis

    @property
    def results(self) -> dict[str, NodeResult]:
        return {n.name: n for n in self.nodes}

    def __getitem__(self, name: str) -> NodeResult:
        return self.results[name]

    def __str__(self) -> str:
        if self.passed:
            head = f"{self.title}: passed ({self.trials} random trials, seed={self.seed})"
            return "\n".join([head, *self._lines()])
        when = "" if self.failed_trial is None else f" in trial {self.failed_trial + 1}"
        lines = [f"{self.title}: FAILED{when} of {self.trials} (seed={self.seed})"]
        if self.error is not None:
            lines.append(f"  {self.error}")
        lines += self._lines() + self._summary()
        lines.append(f"  replay this check with seed={self.seed}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def node_lines(self) -> list[str]:
        """One line per gradient in backward order (the first wrong one marked), then which
        nodes only inherit its error: the report without its title and replay line."""
        return self._lines() + ([] if self.passed else self._summary())

    def _lines(self) -> list[str]:
        width = max((len(n.name) for n in self.nodes), default=0)
        shape_width = max((len(str(n.shape)) for n in self.nodes), default=0)
        first = self.first_wrong
        return [
            f"  {n.line(width, shape_width)}" + ("   <- first wrong" if n is first else "")
            for n in self.nodes
        ]

    def _summary(self) -> list[str]:
        first = self.first_wrong
        if first is None:
            return []
        heirs = [n.name for n in self.nodes if first.name in n.inherits_from]
        text = f"  {first.name} is the first wrong gradient: fix it first"
        text += f"; {', '.join(heirs)} only inherit its error." if heirs else "."
        others = [n.name for n in self.nodes if n.status in FAILING and n is not first]
        more = [f"  Wrong on their own as well: {', '.join(others)}."] if others else []
        return [text, *more]

    def _repr_html_(self) -> str:
        colour = _COLOURS["right" if self.passed else "wrong"]
        head = f'<b style="color:{colour}">{html.escape(str(self).splitlines()[0])}</b>'
        error = f"<p>{html.escape(str(self.error))}</p>" if self.error else ""
        rows = "".join(_html_row(n, n is self.first_wrong) for n in self.nodes)
        table = (
            "<table><tr><th>gradient</th><th>shape</th><th>status</th><th>details</th></tr>"
            f"{rows}</table>"
        )
        return f"<div>{head}{error}{table}</div>"

    def plot(self, name: str | None = None) -> Any:
        """Expected, got and got - expected for one 1-D or 2-D node (default: the first wrong
        one), on the colour scales of :func:`~tinygrad_edu.check.report.comparison_figure`.
        A wrong node is compared with its rule applied to your own upstream gradients."""
        if not self.nodes:
            raise ValueError("plot: the report holds no gradient")
        node = self.results[name] if name else (self.first_wrong or self.nodes[0])
        got = None if node.got is None else np.asarray(node.got, dtype=np.float64)
        expected, caption = node.expected, f"{node.name}: {node.status} {node.detail()}"
        if node.status == "wrong":
            expected = node.local_expected
            caption += " (expected: the right rule applied to your upstream gradients)"
        return comparison_figure(node.name, expected, got, caption)


def _html_row(node: NodeResult, first: bool) -> str:
    bold = ' style="font-weight:bold"' if first else ""
    mark = " &larr; first wrong" if first else ""
    return (
        f"<tr{bold}><td><code>{html.escape(node.name)}</code></td><td>{node.shape}</td>"
        f'<td style="color:{_COLOURS[node.status]}">{node.status}{mark}</td>'
        f"<td>{html.escape(node.detail())}</td></tr>"
    )
