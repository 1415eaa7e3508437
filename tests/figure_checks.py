"""Checks of the figures the tests draw: a saved PNG's size, and every text a figure shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of the PNG at ``path``, which must hold a drawing (> 5 kB)."""
    assert path.is_file() and path.stat().st_size > 5_000
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def shown_tick_labels(ax: Any) -> list[Any]:
    """The tick labels of ``ax`` that are drawn: those inside the axes' limits."""
    shown = []
    for labels, (lo, hi), coord in (
        (ax.get_xticklabels(), sorted(ax.get_xlim()), 0),
        (ax.get_yticklabels(), sorted(ax.get_ylim()), 1),
    ):
        shown += [t for t in labels if lo <= t.get_position()[coord] <= hi and t.get_text()]
    return shown


def figure_text(fig: Any) -> str:
    """Every text ``fig`` shows, one per line: titles, axis labels, tick labels (as drawn),
    legends, texts placed on the axes, colour bar labels."""
    fig.canvas.draw()  # tick labels are made when the figure is drawn
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        if ax.axison:  # an Axes drawn without axes (a grid of images) shows no ticks
            texts += [ax.get_xlabel(), ax.get_ylabel()]
            texts += [t.get_text() for t in shown_tick_labels(ax)]
        texts += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(t for t in texts if t)


def overlapping_texts(fig: Any) -> list[str]:
    """The texts of ``fig`` that run into an Axes not their own (a title over a colour bar) or
    out of the figure, as ``"text -> where"``."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    inside = fig.bbox.padded(1)
    found = []
    owned = [(None, t) for t in fig.texts]
    for ax in fig.axes:
        owned.append((ax, ax.title))
        if ax.axison:
            labels = (ax.xaxis.label, ax.yaxis.label, *shown_tick_labels(ax))
            owned += [(ax, t) for t in labels]
        owned += [(ax, t) for t in ax.texts]
    for owner, text in owned:
        if not text.get_text() or not text.get_visible():
            continue
        box = text.get_window_extent(renderer)
        if not (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)):
            found.append(f"{text.get_text()} -> out of the figure")
        for ax in fig.axes:
            if ax is not owner and box.overlaps(ax.get_window_extent(renderer)):
                found.append(f"{text.get_text()} -> {ax.get_label() or 'another Axes'}")
    return found


@dataclass
class Drawn:
    """A figure as it was saved: its size in pixels, its text (:func:`figure_text`) and the
    texts that run into other Axes or out of the figure (:func:`overlapping_texts`)."""

    width: int
    height: int
    text: str
    overlaps: list[str]

    @property
    def aspect(self) -> float:
        """Width / height."""
        return self.width / self.height


def assert_inline_figure(name: str, fig: Any) -> None:
    """What a plot called without a path returns for a notebook: a matplotlib Figure with an
    image or a line in its first Axes, that draws to a canvas of a real size."""
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure) and fig.axes, name
    assert fig.axes[0].get_images() or fig.axes[0].get_lines(), name
    fig.canvas.draw()
    assert fig.canvas.buffer_rgba().nbytes > 100_000, name
