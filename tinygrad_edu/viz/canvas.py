"""What every figure shares: a matplotlib figure on the Agg canvas, saved as PNG, and the checks
of the numbers it is given.

No pyplot figure is opened, so nothing needs closing and no backend is switched: a figure drawn
here works the same in scripts, tests, servers and notebooks (given no path, a plotting function
returns its figure, which Jupyter shows inline). Each check turns its input into a
numpy array or raises ``ValueError`` naming the argument and its shape.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "IMAGE_SIDE",
    "TEST_COLOUR",
    "TRAIN_COLOUR",
    "PathLike",
    "as_curve",
    "as_images",
    "as_labels",
    "as_numbers",
    "as_percent",
    "name_classes",
    "new_figure",
    "save_figure",
]

PathLike = str | os.PathLike[str]
DPI = 100
IMAGE_SIDE = 28
TRAIN_COLOUR, TEST_COLOUR = "tab:blue", "tab:orange"


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A ``width`` x ``height`` inch figure at :data:`DPI` on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: PathLike | None) -> Path | Figure:
    """Save ``fig`` as a PNG at ``path`` (parent folders created), free its artists and return
    the path; with ``path`` None return the figure itself, which a notebook shows inline (its
    canvas is Agg, so it can still be saved later with ``fig.savefig``)."""
    if path is None:
        return fig
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    fig.clear()  # free the artists now; the figure was never registered with pyplot
    return out


def as_numbers(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy array of numbers (Tensors and Parameters convert through ``.data``)."""
    data = getattr(x, "data", None)
    arr = np.asarray(data if isinstance(data, np.ndarray) else x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    return arr


def as_images(images: Any, name: str = "images") -> np.ndarray:
    """``(N, 28, 28)`` or ``(N, 784)`` images as ``(N, 28, 28)``."""
    arr = as_numbers(images, name)
    if arr.ndim == 2 and arr.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        arr = arr.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if arr.ndim != 3 or arr.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"{name}: expected shape (N, 28, 28) or (N, 784), got {arr.shape}")
    return arr


def as_labels(labels: Any, n: int, name: str) -> np.ndarray:
    """``n`` integer labels, shape ``(n,)``, as int64."""
    arr = as_numbers(labels, name)
    if arr.shape != (n,) or arr.dtype.kind not in "biu":
        raise ValueError(
            f"{name}: expected {n} integer labels of shape ({n},), got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.int64)


def name_classes(class_names: Sequence[str] | None, n: int, name: str = "class_names") -> list[str]:
    """The names of ``n`` classes: ``class_names`` (at least ``n`` of them), else ``0 .. n-1``."""
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) < n:
        raise ValueError(f"{name}: {len(names)} names given for {n} classes")
    return names


def as_curve(values: Any, name: str) -> np.ndarray:
    """A 1-D sequence of finite numbers as float64."""
    arr = as_numbers(values, name).astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def as_percent(acc: np.ndarray, name: str) -> np.ndarray:
    """Accuracies given as fractions in [0, 1] (or as percentages) -> percent."""
    if acc.size and (acc.min() < 0 or acc.max() > 100):
        raise ValueError(
            f"{name}: accuracies must lie in [0, 1] (or 0..100 %), got {acc.min():g}..{acc.max():g}"
        )
    return acc * 100 if acc.size == 0 or acc.max() <= 1 else acc
