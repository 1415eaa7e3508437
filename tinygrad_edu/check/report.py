"""What a check found: one :class:`InputResult` per gradient, gathered in a :class:`CheckReport`
that prints as a short text, renders as HTML in Jupyter and plots 2-D gradients."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .diagnose import Diagnosis, Worst, worst_element


@dataclass
class InputResult:
    """The check of one gradient: ``expected`` (right), ``got`` (the student's, as returned),
    ``diagnosis`` (None when right) and ``worst`` (the worst element, when the shapes agree)."""

    name: str
    expected: np.ndarray | None
    got: Any
    diagnosis: Diagnosis | None

    @property
    def passed(self) -> bool:
        return self.diagnosis is None

    @property
    def worst(self) -> Worst | None:
        if self.expected is None or self.got is None:
            return None
        try:
            got = np.asarray(self.got, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return worst_element(got, self.expected)

    def line(self) -> str:
        shape = "" if self.expected is None else f" {self.expected.shape}"
        if self.passed:
            return f"{self.name}{shape}: right"
        worst = self.worst
        where = (
            f"; {worst}" if worst is not None and self.diagnosis.kind != "wrong_derivative" else ""
        )
        return f"{self.name}{shape}: WRONG, {self.diagnosis}{where}"


@dataclass
class CheckReport:
    """The result of a check: ``passed``, ``diagnosis`` (the first wrong gradient's, None when
    all are right), ``results`` (name -> :class:`InputResult`, of the first failing trial, or
    of the last trial when all passed), and ``seed``, the seed of the random draws: the same
    check with ``seed=report.seed`` draws the same inputs again."""

    title: str
    results: dict[str, InputResult] = field(default_factory=dict)
    trials: int = 0
    failed_trial: int | None = None
    error: Diagnosis | None = None  # a failure before any gradient could be compared
    seed: int | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(r.passed for r in self.results.values())

    def __bool__(self) -> bool:
        return self.passed

    @property
    def first_wrong(self) -> InputResult | None:
        return next((r for r in self.results.values() if not r.passed), None)

    @property
    def diagnosis(self) -> Diagnosis | None:
        if self.error is not None:
            return self.error
        wrong = self.first_wrong
        return None if wrong is None else wrong.diagnosis

    def __str__(self) -> str:
        if self.passed:
            return f"{self.title}: passed ({self.trials} random trials)"
        when = (
            ""
            if self.failed_trial is None
            else f" in trial {self.failed_trial + 1} of {self.trials}"
        )
        replay = "" if self.seed is None else f" (replay with seed={self.seed})"
        lines = [f"{self.title}: FAILED{when}{replay}"]
        lines += [f"  {r.line()}" for r in self.results.values()]
        lines.append(f"  diagnosis: {self.diagnosis}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        head = f'<b style="color:{colour}">{html.escape(str(self).splitlines()[0])}</b>'
        rows = "".join(
            f"<tr><td><code>{html.escape(r.name)}</code></td>"
            f"<td>{'right' if r.passed else html.escape(str(r.diagnosis))}</td>"
            f"<td>{html.escape(str(r.worst or '')) if not r.passed else ''}</td></tr>"
            for r in self.results.values()
        )
        table = f"<table><tr><th>gradient</th><th>result</th><th>worst element</th></tr>{rows}"
        return f"<div>{head}{table}</table></div>"

    def plot(self, name: str | None = None) -> Any:
        """Heatmaps of expected, got and got - expected for a 2-D gradient (the first wrong
        one, or ``name``); returns the matplotlib figure (:func:`comparison_figure`)."""
        result = self.results[name] if name else (self.first_wrong or _first(self.results))
        got = np.asarray(result.got, dtype=np.float64) if result.got is not None else None
        return comparison_figure(
            result.name, result.expected, got, str(result.diagnosis or "right")
        )


#: The colour maps of :func:`comparison_figure`: values, and their difference (diverging).
VALUES_CMAP = "viridis"
DIFFERENCE_CMAP = "RdBu_r"


def comparison_figure(
    name: str, expected: np.ndarray | None, got: np.ndarray | None, caption: str
) -> Any:
    """Three heatmaps of a 1-D or 2-D gradient: expected, got, got - expected.

    Expected and got share one colour scale [min, max] over both; the difference uses a
    diverging map centred on 0 (limits -m, m with m = max |got - expected|); the ticks are
    integer indices. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if expected is None or got is None or got.shape != expected.shape or got.ndim > 2:
        raise ValueError(f"plot: {name} needs a 1-D or 2-D gradient of the value's shape")
    expected, got = np.atleast_2d(expected), np.atleast_2d(got)
    low, high = _limits(np.concatenate([expected.ravel(), got.ravel()]))
    diff = got - expected
    m = float(np.max(np.abs(diff[np.isfinite(diff)]), initial=0.0)) or 1.0
    panels = [
        ("expected", expected, VALUES_CMAP, (low, high)),
        ("got", got, VALUES_CMAP, (low, high)),
        ("got - expected", diff, DIFFERENCE_CMAP, (-m, m)),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (title, values, cmap, (vmin, vmax)) in zip(axes, panels, strict=True):
        image = ax.imshow(
            values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest"
        )
        ax.set_title(f"{name}: {title}")
        _integer_ticks(ax, values.shape)
        fig.colorbar(image, ax=ax)
    fig.suptitle(caption, fontsize=9)
    fig.tight_layout()
    return fig


def _limits(values: np.ndarray) -> tuple[float, float]:
    """[min, max] of the finite values, widened around a constant (the scale is never empty)."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high > low:
        return low, high
    pad = max(abs(low), 1.0) * 0.5
    return low - pad, high + pad


def _integer_ticks(ax: Any, shape: tuple[int, ...]) -> None:
    """At most about 8 ticks per axis, at integer indices, labelled as integers."""
    for n, set_ticks in zip(shape, (ax.set_yticks, ax.set_xticks), strict=True):
        ticks = list(range(0, n, max(1, -(-n // 8))))
        set_ticks(ticks, [str(t) for t in ticks])


def _first(results: dict[str, InputResult]) -> InputResult:
    if not results:
        raise ValueError("plot: the report holds no gradient")
    return next(iter(results.values()))
