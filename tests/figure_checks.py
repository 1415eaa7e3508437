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


def figure_text(fig: Any) -> str:
    """Every text ``fig`` shows, one per line: titles, axis labels, tick labels (as drawn),
    legends, texts placed on the axes, colour bar labels."""
    fig.canvas.draw()  # tick labels are made when the figure is drawn
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(loc) for loc in ("left", "center", "right")]
        texts += [ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels())]
        texts += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return "\n".join(t for t in texts if t)


@dataclass
class Drawn:
    """A figure as it was saved: its size in pixels and its text (:func:`figure_text`)."""

    width: int
    height: int
    text: str

    @property
    def aspect(self) -> float:
        """Width / height."""
        return self.width / self.height
