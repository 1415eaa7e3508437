"""Figures for the course: curves, confusion matrix, digits and weight templates.

Each function validates its inputs (``ValueError`` naming the argument and its shape), draws one
figure with matplotlib's Agg canvas, saves it as a PNG to ``path`` (parent folders are created)
and returns the path; with no ``path`` it returns the ``Figure``, which a notebook shows inline.
No pyplot figure is opened, so nothing needs closing and no backend is switched: the functions
work the same in scripts, tests, servers and notebooks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator

from .preprocess import DigitSteps, preprocess_steps

__all__ = [
    "plot_confusion_matrix",
    "plot_conv_filters",
    "plot_histories",
    "plot_history",
    "plot_misclassified",
    "plot_overfitting",
    "plot_overfitting_runs",
    "plot_predictions",
    "plot_preprocessing",
    "plot_samples",
    "plot_single_neuron",
    "plot_weight_templates",
]

PathLike = str | os.PathLike[str]
DPI = 100
IMAGE_SIDE = 28
TRAIN_COLOUR, TEST_COLOUR = "tab:blue", "tab:orange"


# ----------------------------------------------------------------------------- helpers


def _figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike | None) -> Path | Figure:
    """Save ``fig`` as a PNG at ``path`` and return the path; with ``path`` None return the
    figure itself, which a notebook shows inline (its canvas is Agg, so it also saves later)."""
    if path is None:
        return fig
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=DPI)
    fig.clear()  # free the artists now; the figure was never registered with pyplot
    return out


def _array(x: Any, name: str) -> np.ndarray:
    """``x`` as a numpy array (Tensors and Parameters convert through ``__array__``)."""
    data = getattr(x, "data", None)
    arr = np.asarray(data if isinstance(data, np.ndarray) else x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    return arr


def _images(images: Any, name: str = "images") -> np.ndarray:
    """``(N, 28, 28)`` or ``(N, 784)`` images as ``(N, 28, 28)``."""
    arr = _array(images, name)
    if arr.ndim == 2 and arr.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        arr = arr.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if arr.ndim != 3 or arr.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"{name}: expected shape (N, 28, 28) or (N, 784), got {arr.shape}")
    return arr


def _labels(labels: Any, n: int, name: str) -> np.ndarray:
    arr = _array(labels, name)
    if arr.shape != (n,) or arr.dtype.kind not in "biu":
        raise ValueError(
            f"{name}: expected {n} integer labels of shape ({n},), got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.int64)


def _names(class_names: Sequence[str] | None, n: int, name: str = "class_names") -> list[str]:
    if class_names is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in class_names]
    if len(names) < n:
        raise ValueError(f"{name}: {len(names)} names given for {n} classes")
    return names


def _curve(values: Any, name: str) -> np.ndarray:
    arr = _array(values, name).astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    cols = min(max_cols, max(1, math.ceil(math.sqrt(n))))
    return max(1, math.ceil(n / cols)), cols


GRID_GAP = 0.1  # inches between two images of a grid, and around the grid
GRID_TOP = 0.4  # inches above a grid for the figure's title
GRID_BAR = 1.6  # inches right of a grid for its colour bar
TITLE_SIZE = 12  # points: the figure's title (matplotlib's "large")


def _digit_grid(
    images: np.ndarray,
    titles: Sequence[str],
    cols: int,
    cell: float,
    title: str,
    *,
    cmap: str = "gray_r",
    limits: tuple[float, float] | None = None,
    colours: Sequence[str] | None = None,
    lines: int = 1,
    fontsize: float = 9,
    min_width: float = 0.0,
    min_height: float = 0.0,
    bar: bool = False,
    bar_label: str | None = None,
) -> tuple[Figure, Any]:
    """A figure of ``images`` (N, h, w) in rows of ``cols``, each ``cell`` inches wide under its
    title of ``lines`` lines, below the figure's ``title``, drawn as one mosaic image in one Axes:
    64 weight templates in 0.25 s, against 2.3 s with one Axes per image and constrained layout
    (matplotlib's cost is per Axes). ``limits`` (vmin, vmax) is shared by all; None scales each
    image to its own min..max, as ``imshow`` does in an Axes of its own. The figure is at least
    ``min_width`` x ``min_height`` inches and as wide as its title; ``bar`` adds the templates'
    colour bar (:func:`_grid_colorbar`). Returns the figure and the Axes (its data coordinates
    are the mosaic's pixels)."""
    h, w = images.shape[1:]
    inch = cell / w  # inches per pixel
    band = math.ceil((lines * fontsize * 1.25 / 72 + 0.06) / inch)
    overhang = max(0.0, _widest(titles, fontsize) + 0.05 - cell)  # a title wider than its image
    gap = math.ceil(max(GRID_GAP, overhang) / inch)
    if limits is None:
        images, limits = _each_to_unit(images), (0.0, 1.0)
    mosaic = _mosaic(images, cols, gap, band)
    width, height = mosaic.shape[1] * inch, mosaic.shape[0] * inch
    side = GRID_GAP + overhang / 2
    right = GRID_BAR if bar else side
    min_width = max(min_width, _widest([title], TITLE_SIZE) + 2 * GRID_GAP)
    fig_w = max(min_width, side + width + right)
    fig_h = max(min_height, height + GRID_TOP + GRID_GAP)
    fig = _figure(fig_w, fig_h, None)
    fig.suptitle(title, y=1 - 0.08 / fig_h, va="top", fontsize=TITLE_SIZE)
    left = (fig_w - width - right + side) / 2
    bottom = (fig_h - GRID_TOP - height + GRID_GAP) / 2  # centred below the title
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    ax.set_axis_off()
    image = ax.imshow(
        mosaic, cmap=colormaps[cmap].with_extremes(bad="none"), vmin=limits[0], vmax=limits[1]
    )
    for i, caption in enumerate(titles):
        row, col = divmod(i, cols)
        x, y = col * (w + gap) + (w - 1) / 2, row * (band + h) + band - 0.5 - 0.04 / inch
        colour = colours[i] if colours is not None else "black"
        ax.text(x, y, caption, ha="center", va="bottom", fontsize=fontsize, color=colour)
    if bar:
        _grid_colorbar(fig, ax, image, bar_label)
    return fig, ax


def _widest(titles: Sequence[str], fontsize: float) -> float:
    """The width in inches of the widest line of ``titles`` at ``fontsize`` (a long class name
    widens the gaps between images, not the images)."""
    font = FontProperties(size=fontsize)
    lines = {line for title in titles for line in title.splitlines()}
    points = [text_to_path.get_text_width_height_descent(t, font, ismath=False)[0] for t in lines]
    return max(points, default=0.0) / 72


def _mosaic(images: np.ndarray, cols: int, gap: int, band: int) -> np.ma.MaskedArray:
    """``images`` (N, h, w) in rows of ``cols``, ``gap`` pixels apart, each below a band of
    ``band`` pixels for its title; the pixels between them masked (not drawn)."""
    n, h, w = images.shape
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (band + h), cols * w + (cols - 1) * gap), np.nan)
    for i, image in enumerate(images):
        row, col = divmod(i, cols)
        top, left = row * (band + h) + band, col * (w + gap)
        out[top : top + h, left : left + w] = image
    return np.ma.masked_invalid(out)


def _each_to_unit(images: np.ndarray) -> np.ndarray:
    """Each image scaled to [0, 1] by its own min..max (a constant image becomes 0)."""
    images = images.astype(np.float64)
    lo = images.min(axis=(1, 2), keepdims=True)
    hi = images.max(axis=(1, 2), keepdims=True)
    return (images - lo) / np.where(hi > lo, hi - lo, 1.0)


def _each_to_symmetric(images: np.ndarray) -> np.ndarray:
    """Each image divided by its own largest |value|, into [-1, 1] (an all-zero image stays 0)."""
    top = np.abs(images).max(axis=(1, 2), keepdims=True)
    return images / np.where(top > 0, top, 1.0)


def _grid_colorbar(fig: Figure, ax: Any, image: Any, label: str | None) -> None:
    """A colour bar right of the grid, ticked -max|w|, 0, +max|w| (each image scaled by its own
    largest |w| to [-1, 1]): 0.9 of the grid's height, within 2.2 to 3.6 inches as the figure
    allows (its label needs about 2), centred on the grid."""
    box = ax.get_position()
    fig_w, fig_h = fig.get_size_inches()
    room = fig_h - GRID_TOP - GRID_GAP
    bar_h = min(max(0.9 * box.height * fig_h, 2.2), 3.6, room) / fig_h
    bottom = box.y0 + (box.height - bar_h) / 2
    bottom = min(max(bottom, GRID_GAP / fig_h), (fig_h - GRID_TOP) / fig_h - bar_h)
    cax = fig.add_axes((box.x1 + 0.3 / fig_w, bottom, 0.2 / fig_w, bar_h))
    bar = fig.colorbar(image, cax=cax, ticks=[-1, 0, 1])
    bar.ax.set_yticklabels(["-max|w|", "0", "+max|w|"])
    if label:
        bar.set_label(label)


def _as_percent(acc: np.ndarray, name: str) -> np.ndarray:
    """Accuracies given as fractions in [0, 1] (or as percentages) -> percent."""
    if acc.size and (acc.min() < 0 or acc.max() > 100):
        raise ValueError(
            f"{name}: accuracies must lie in [0, 1] (or 0..100 %), got {acc.min():g}..{acc.max():g}"
        )
    return acc * 100 if acc.size == 0 or acc.max() <= 1 else acc


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average: point i averages y[i - h .. i + h], h = window // 2, narrowed
    near the ends so that it stays centred (the first and last points are kept as they are).
    Unlike a trailing average it does not lag behind a falling or rising curve."""
    if window <= 1 or y.size == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(y.size)
    h = np.minimum(window // 2, np.minimum(idx, y.size - 1 - idx))
    return (c[idx + h + 1] - c[idx - h]) / (2 * h + 1)


# ----------------------------------------------------------------------------- history


class _Curves(NamedTuple):
    """A history's curves as float arrays; accuracies in percent."""

    iterations: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    test_iterations: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    epoch_ends: np.ndarray


def _field(history: Any, key: str) -> Any:
    value = history.get(key) if isinstance(history, Mapping) else getattr(history, key, None)
    return [] if value is None else value


def _history_curves(history: Any) -> _Curves:
    """Read and check the fields of ``history`` (see :func:`plot_history`)."""
    its, tr_loss, tr_acc, te_its, te_loss, te_acc, epochs = (
        _curve(_field(history, key), f"history.{key}")
        for key in (
            "iterations",
            "train_loss",
            "train_acc",
            "test_iterations",
            "test_loss",
            "test_acc",
            "epoch_end_iterations",
        )
    )
    for name, arr in (("train_loss", tr_loss), ("train_acc", tr_acc)):
        if arr.size and arr.size != its.size:
            raise ValueError(f"history.{name} has {arr.size} values but iterations has {its.size}")
    for name, arr in (("test_loss", te_loss), ("test_acc", te_acc)):
        if arr.size and arr.size != te_its.size:
            raise ValueError(
                f"history.{name} has {arr.size} values but test_iterations has {te_its.size}"
            )
    if its.size == 0 and te_its.size == 0:
        raise ValueError("history: nothing to plot (no iterations and no test evaluations)")
    tr_acc, te_acc = _as_percent(tr_acc, "history.train_acc"), _as_percent(te_acc, "test_acc")
    return _Curves(its, tr_loss, tr_acc, te_its, te_loss, te_acc, epochs)


#: From this many epochs on, the curves' x-axis counts epochs (not minibatches) and the ends of
#: epochs are no longer drawn as lines.
EPOCH_AXIS_FROM = 5


def _epoch_axis(c: _Curves) -> tuple[Any, str]:
    """How iterations map onto the x-axis: to epochs (fractional, by interpolating between the
    ends of epochs) when there are :data:`EPOCH_AXIS_FROM` or more, else to themselves."""
    ends = c.epoch_ends
    if ends.size < EPOCH_AXIS_FROM:
        return (lambda it: it), "iteration (minibatch)"
    knots = np.concatenate([[0.0], ends])

    def to_epochs(it: np.ndarray) -> np.ndarray:
        return np.interp(it, knots, np.arange(knots.size, dtype=np.float64))

    return to_epochs, "epoch"


def _history_panel(
    ax: Any, c: _Curves, train: np.ndarray, test: np.ndarray, ylabel: str, legend_loc: str
) -> None:
    """One panel: the minibatch curve (faint, and its centred moving average), the test points,
    and, over few epochs, a dotted line at the end of every epoch."""
    x, xlabel = _epoch_axis(c)
    window = max(1, round(c.iterations.size / 20))
    if train.size:
        ax.plot(x(c.iterations), train, color=TRAIN_COLOUR, alpha=0.25, linewidth=0.8)
        label = (
            "train (minibatch)" if window == 1 else f"train (minibatch, centred mean of {window})"
        )
        ax.plot(
            x(c.iterations), _smooth(train, window), color=TRAIN_COLOUR, linewidth=1.6, label=label
        )
    if test.size:
        many = test.size > 60
        ax.plot(
            x(c.test_iterations),
            test,
            "-" if many else "o-",
            color=TEST_COLOUR,
            markersize=4,
            linewidth=1.6,
            label="test",
        )
    if xlabel != "epoch":
        for i, end in enumerate(c.epoch_ends):
            label = "end of epoch" if i == 0 else None
            ax.axvline(end, color="grey", linestyle=":", linewidth=0.8, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc)


def plot_history(
    history: Any,
    path: PathLike | None = None,
    title: str = "Training history",
    log_loss: bool = False,
) -> Path | Figure:
    """Loss (left) and accuracy (right): the training minibatches' (faint, with a centred moving
    average) and the test set's. Over :data:`EPOCH_AXIS_FROM` or more epochs the x-axis counts
    epochs; over fewer it counts minibatches and dotted lines mark the ends of epochs.
    ``log_loss``: the loss on a log scale.

    ``history`` is a ``training.History`` or a mapping with its fields: ``iterations``,
    ``train_loss``, ``train_acc`` (one per logged minibatch), ``test_iterations``,
    ``test_loss``, ``test_acc`` (one per evaluation) and optionally ``epoch_end_iterations``.
    Accuracies are fractions in [0, 1] (or percentages).
    """
    c = _history_curves(history)
    fig = _figure(11, 4.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    _history_panel(ax_loss, c, c.train_loss, c.test_loss, "cross-entropy loss", "upper right")
    _history_panel(ax_acc, c, c.train_acc, c.test_acc, "accuracy (%)", "lower right")
    ax_loss.set_title("loss" + (" (log scale)" if log_loss else ""))
    if log_loss and (np.concatenate([c.train_loss, c.test_loss]) > 0).all():
        ax_loss.set_yscale("log")
    else:
        ax_loss.set_ylim(bottom=0)
    final = f" (final test: {c.test_acc[-1]:.2f}%)" if c.test_acc.size else ""
    ax_acc.set_title("accuracy" + final)
    if c.train_acc.size or c.test_acc.size:
        low = min(
            np.percentile(c.train_acc, 5) if c.train_acc.size else 100,
            c.test_acc.min(initial=100),
        )
        ax_acc.set_ylim(max(0.0, low - 5), 100.5)
    fig.suptitle(title)
    return _save(fig, path)


def plot_histories(
    histories: Mapping[str, Any],
    path: PathLike | None = None,
    title: str = "Test curves",
    log_loss: bool = False,
) -> Path | Figure:
    """Several runs side by side: each run's test loss (left) and test accuracy (right) against
    the update (iteration), one line per run, labelled by its key in ``histories`` with its
    final accuracy.

    Each value is a ``training.History`` (or a mapping with its fields) whose test set was
    measured as it trained (``fit`` with a test set, and ``EvalEvery(k)`` for a point every k
    updates). The accuracy axis starts just below the last three quarters of every curve, so
    that the runs' differences near the top show; the first points may lie below it.
    ``log_loss``: the loss on a log scale.
    """
    if not histories:
        raise ValueError("histories: nothing to plot")
    curves = {str(name): _history_curves(h) for name, h in histories.items()}
    for name, c in curves.items():
        if c.test_iterations.size == 0:
            raise ValueError(f"histories[{name!r}]: no test evaluations to plot")
    fig = _figure(11, 4.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, c in curves.items():
        style = "-" if c.test_iterations.size > 60 else "o-"
        ax_loss.plot(c.test_iterations, c.test_loss, style, markersize=3, label=name)
        final = f"{name} ({c.test_acc[-1]:.2f}%)"
        ax_acc.plot(c.test_iterations, c.test_acc, style, markersize=3, label=final)
    for ax, ylabel, loc in (
        (ax_loss, "test cross-entropy loss", "upper right"),
        (ax_acc, "test accuracy (%)", "lower right"),
    ):
        ax.set_xlabel("iteration (update)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(loc=loc)
    losses = np.concatenate([c.test_loss for c in curves.values()])
    if log_loss and (losses > 0).all():
        ax_loss.set_yscale("log")
    else:
        ax_loss.set_ylim(bottom=0)
    low = min(float(c.test_acc[c.test_acc.size // 4 :].min()) for c in curves.values())
    ax_acc.set_ylim(max(0.0, low - 2), 100.5)
    fig.suptitle(title)
    return _save(fig, path)


# ----------------------------------------------------------------------------- confusion matrix


def plot_confusion_matrix(
    cm: Any,
    path: PathLike | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
) -> Path | Figure:
    """The ``(K, K)`` confusion matrix ``cm[true, predicted]`` with the count in every cell.

    Colours use a power scale (gamma 0.35) so that the few mistakes off the diagonal stand out
    next to the large counts on it.
    """
    counts = _array(cm, "cm")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"cm: expected a square (K, K) matrix of counts, got shape {counts.shape}")
    if counts.min() < 0 or not np.array_equal(counts, np.round(counts)):
        raise ValueError("cm: expected non-negative integer counts")
    counts = counts.astype(np.int64)
    k = counts.shape[0]
    names = _names(class_names, k)[:k]
    total = int(counts.sum())

    fig = _figure(max(5.5, 0.55 * k + 2.5), max(4.8, 0.5 * k + 1.8))
    ax = fig.subplots()
    norm = PowerNorm(gamma=0.35, vmin=0, vmax=max(1, int(counts.max())))
    im = ax.imshow(counts, cmap="Blues", norm=norm)
    bar = fig.colorbar(im, ax=ax, shrink=0.85)
    bar.set_label("count (power scale)")
    size = 9 if k <= 10 else 7
    for (i, j), c in np.ndenumerate(counts):
        if c == 0:
            continue
        colour = "white" if norm(c) > 0.6 else "black"
        ax.text(
            j,
            i,
            str(c),
            ha="center",
            va="center",
            fontsize=size,
            color=colour,
            fontweight="bold" if i == j else "normal",
        )
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = f": accuracy {100 * np.trace(counts) / total:.2f}% of {total:,}" if total else ""
    ax.set_title(title + acc)
    return _save(fig, path)


# ----------------------------------------------------------------------------- digits


def plot_misclassified(
    images: Any,
    y_true: Any,
    y_pred: Any,
    path: PathLike | None = None,
    max_images: int = 25,
    class_names: Sequence[str] | None = None,
) -> Path | Figure:
    """A grid of the first ``max_images`` images with ``y_true != y_pred``, each titled with its
    true and predicted label. ``images`` are ``(N, 28, 28)`` or ``(N, 784)``."""
    imgs = _images(images)
    n = len(imgs)
    t, p = _labels(y_true, n, "y_true"), _labels(y_pred, n, "y_pred")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    k = int(max(t.max(initial=0), p.max(initial=0))) + 1
    names = _names(class_names, k)
    wrong = np.flatnonzero(t != p)
    shown = wrong[:max_images]
    count = max(1, len(shown))
    cols = count if count <= 8 else _grid(count, 8)[1]
    titles = [f"true {names[t[i]]}\npred {names[p[i]]}" for i in shown]
    shown_images = imgs[shown] if len(shown) else np.full((1, IMAGE_SIDE, IMAGE_SIDE), np.nan)
    title = f"Misclassified: {len(shown)} shown of {len(wrong):,} wrong out of {n:,}"
    colours = ["firebrick"] * len(titles)
    fig, ax = _digit_grid(
        shown_images, titles, cols, 1.1, title, colours=colours, lines=2, min_width=5.0
    )
    if not len(shown):
        ax.text(IMAGE_SIDE / 2, IMAGE_SIDE, "no misclassified images", ha="center", va="center")
    return _save(fig, path)


def plot_predictions(
    images: Any,
    y_true: Any,
    y_pred: Any,
    confidence: Any,
    path: PathLike | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Predictions",
) -> Path | Figure:
    """A grid of the images, each titled with its true label, the predicted one and the
    probability the network gave it (wrong predictions in red)."""
    imgs = _images(images)
    n = len(imgs)
    if n == 0:
        raise ValueError("images: no images to show")
    t, p = _labels(y_true, n, "y_true"), _labels(y_pred, n, "y_pred")
    conf = _curve(confidence, "confidence")
    names = _names(class_names, int(max(t.max(), p.max())) + 1)
    titles = [f"true {names[t[i]]}\npred {names[p[i]]} {100 * conf[i]:.1f}%" for i in range(n)]
    colours = ["black" if t[i] == p[i] else "firebrick" for i in range(n)]
    fig, _ = _digit_grid(
        imgs, titles, min(n, 10), 1.1, title, colours=colours, lines=2, min_width=5.0
    )
    return _save(fig, path)


def plot_samples(
    images: Any,
    labels: Any,
    path: PathLike | None = None,
    class_names: Sequence[str] | None = None,
    max_images: int = 40,
    title: str = "Samples",
) -> Path | Figure:
    """A grid of the first ``max_images`` images, each titled with its label."""
    imgs = _images(images)
    labs = _labels(labels, len(imgs), "labels")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    if len(imgs) == 0:
        raise ValueError("images: no images to show")
    names = _names(class_names, int(labs.max()) + 1)
    n = min(len(imgs), max_images)
    titles = [names[lab] for lab in labs[:n]]
    fig, _ = _digit_grid(imgs[:n], titles, min(n, 10), 0.9, title, min_width=3.0)
    return _save(fig, path)


def plot_weight_templates(
    weight: Any,
    path: PathLike | None = None,
    class_names: Sequence[str] | None = None,
    max_units: int = 64,
    title: str | None = None,
) -> Path | Figure:
    """The first layer's weights, one 28x28 template per output unit (row of ``weight``).

    ``weight`` is ``(H, 784)`` (``Linear.weight``, out x in) or ``(H, 28, 28)``. Each template
    has its own symmetric colour scale ``[-max|w|, +max|w|]`` on a diverging colormap: red pushes
    the unit up when the pixel is ink, blue pushes it down, white is 0. With 10 units (a single
    layer) the templates are titled by class.
    """
    w = _array(weight, "weight").astype(np.float64)
    if w.ndim == 2 and w.shape[0] == IMAGE_SIDE * IMAGE_SIDE and w.shape[1] != w.shape[0]:
        raise ValueError(
            f"weight: expected (units, 784) (out x in, like Linear.weight), got {w.shape}; "
            "pass weight.T if it is stored in x out"
        )
    if w.ndim == 2 and w.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        w = w.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if w.ndim != 3 or w.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or len(w) == 0:
        raise ValueError(f"weight: expected shape (units, 784) or (units, 28, 28), got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight: contains NaN or infinity")
    if max_units < 1:
        raise ValueError(f"max_units must be at least 1, got {max_units}")
    per_class = len(w) == 10 or class_names is not None
    names = _names(class_names, len(w)) if per_class else None
    n = min(len(w), max_units)
    cols = 5 if n == 10 else min(8, n)
    titles = [f"class {names[i]}" if names else f"unit {i}" for i in range(n)]
    shown = "" if n == len(w) else f" (first {n} of {len(w)})"
    default = (
        "Weights per class"
        if per_class
        else "The output unit's weights"
        if len(w) == 1
        else "First-layer weights per hidden unit"
    )
    fig, _ = _digit_grid(
        _each_to_symmetric(w[:n]),
        titles,
        cols,
        1.0,
        f"{title or default}{shown}",
        cmap="RdBu_r",
        limits=(-1, 1),
        min_width=4.0,
        min_height=2.6,
        bar=True,
        bar_label="w / max|w| (per template)",
    )
    return _save(fig, path)


def plot_conv_filters(
    weight: Any, path: PathLike | None = None, title: str | None = None
) -> Path | Figure:
    """A convolution's filters, one small image per output channel: ``weight`` is
    ``(out_channels, 1, kh, kw)`` (``Conv2d.weight`` of a greyscale input). Each filter has its
    own symmetric colour scale ``[-max|w|, +max|w|]``: red responds to ink, blue to background."""
    w = _array(weight, "weight").astype(np.float64)
    if w.ndim != 4 or w.shape[1] != 1 or len(w) == 0:
        raise ValueError(f"weight: expected (out_channels, 1, kh, kw), got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight: contains NaN or infinity")
    n = len(w)
    titles = [str(i) for i in range(n)]
    kh, kw = w.shape[2:]
    fig, _ = _digit_grid(
        _each_to_symmetric(w[:, 0]),
        titles,
        min(8, n),
        0.7,
        title or f"First convolution's {n} filters ({kh}x{kw})",
        cmap="RdBu_r",
        limits=(-1, 1),
        fontsize=8,
        min_width=4.0,
        bar=True,
    )
    return _save(fig, path)


def plot_single_neuron(
    result: Any, images: Any, labels: Any, path: PathLike | None = None
) -> Path | Figure:
    """The single neuron p(x) = sigmoid(w . x + b) of ``course.single_neuron`` beside the data:
    the mean image of its digit, the mean image of the other digits (grey, 0 = blank, 1 = ink)
    and its weights w as a 28x28 image on a diverging colormap (red: ink there raises p, blue:
    lowers it).

    ``result`` is a ``SingleNeuronResult`` (``digit``, ``weight`` (28, 28), ``bias``,
    ``test_acc``, ``baseline_acc``); ``images`` (N, 28, 28) uint8 (or in [0, 1]) and ``labels``
    (N,) are the training digits with their digit labels (0-9).
    """
    imgs = _images(images).astype(np.float64)
    imgs = imgs / 255 if imgs.max(initial=0) > 1 else imgs
    labs = _labels(labels, len(imgs), "labels")
    weight = _array(result.weight, "result.weight").astype(np.float64).reshape(-1)
    if weight.size != IMAGE_SIDE * IMAGE_SIDE or not np.isfinite(weight).all():
        raise ValueError(f"result.weight: expected 784 finite weights, got {weight.size}")
    d = int(result.digit)
    is_digit = labs == d
    if not is_digit.any() or is_digit.all():
        raise ValueError(f"labels: need images of {d} and of other digits")
    fig = _figure(9.6, 3.4)
    axes = fig.subplots(1, 3)
    for ax, mean, label in (
        (axes[0], imgs[is_digit].mean(axis=0), f"mean image of the {d}s"),
        (axes[1], imgs[~is_digit].mean(axis=0), "mean image of the other digits"),
    ):
        image = ax.imshow(mean, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(label, fontsize=10)
    bar = fig.colorbar(image, ax=axes[:2], shrink=0.8, aspect=20)
    bar.set_label("mean pixel value (0 = blank, 1 = ink)", fontsize=9)
    limit = float(np.abs(weight).max()) or 1.0
    w = weight.reshape(IMAGE_SIDE, IMAGE_SIDE)
    image = axes[2].imshow(w, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[2].set_title(f"weights w (bias b = {float(result.bias):+.2f})", fontsize=10)
    bar = fig.colorbar(image, ax=axes[2], shrink=0.8, aspect=20)
    bar.set_label(f"w_ij: red votes '{d}', blue 'not {d}'", fontsize=9)
    for ax in axes:
        ax.set_xticks([0, 14, 27])
        ax.set_yticks([0, 14, 27])
        ax.tick_params(labelsize=8)
        ax.set_xlabel("pixel column", fontsize=9)
    axes[0].set_ylabel("pixel row", fontsize=9)
    fig.suptitle(
        f"One sigmoid neuron, {d} vs rest: test accuracy {100 * result.test_acc:.2f}% "
        f"(always 'not {d}': {100 * result.baseline_acc:.2f}%)",
        fontsize=11,
    )
    return _save(fig, path)


# ----------------------------------------------------------------------------- overfitting


def plot_overfitting(
    train_acc: Sequence[float],
    val_acc: Sequence[float],
    path: PathLike | None = None,
    title: str = "Overfitting",
    ylim: tuple[float, float] | None = None,
) -> Path | Figure:
    """Train and validation accuracy per epoch for one run, the gap between them shaded.

    Call it once per run of the overfitting study (e.g. 2,000 training images, then all of
    them), with the same ``ylim`` (in %) so that the figures compare. Accuracies are fractions
    in [0, 1] (or percentages).
    """
    tr = _as_percent(_curve(train_acc, "train_acc"), "train_acc")
    va = _as_percent(_curve(val_acc, "val_acc"), "val_acc")
    if tr.size == 0 or tr.size != va.size:
        raise ValueError(
            f"train_acc and val_acc need one value per epoch each, got {tr.size} and {va.size}"
        )
    epochs = np.arange(1, tr.size + 1)
    fig = _figure(6.4, 4.2)
    ax = fig.subplots()
    _train_and_validation(ax, epochs, tr, va, "generalisation gap", markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlim(0.5, tr.size + 0.5)
    if tr.size <= 20:
        ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    ax.set_title(title)
    return _save(fig, path)


def _train_and_validation(
    ax: Any, epochs: np.ndarray, tr: np.ndarray, va: np.ndarray, gap: str, markersize: float
) -> None:
    """Train and validation accuracy (%) per epoch on ``ax``, the gap between them shaded and
    named ``gap`` in the legend with its last value; markersize 0 draws no markers."""
    ax.plot(
        epochs,
        tr,
        "o-" if markersize else "-",
        color=TRAIN_COLOUR,
        label="train",
        markersize=markersize,
    )
    ax.plot(
        epochs,
        va,
        "s-" if markersize else "-",
        color=TEST_COLOUR,
        label="validation",
        markersize=markersize,
    )
    ax.fill_between(
        epochs,
        va,
        tr,
        where=tr >= va,
        color="tab:red",
        alpha=0.12,
        interpolate=True,
        label=f"{gap} (last epoch: {tr[-1] - va[-1]:+.1f} pts)",
    )


def plot_overfitting_runs(
    runs: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    path: PathLike | None = None,
    title: str = "Overfitting",
) -> Path | Figure:
    """Several runs of the overfitting study side by side on one figure, one panel each with
    its train and validation accuracy per epoch, on one y-scale. ``runs``: (panel title,
    train_acc, val_acc) per run; accuracies are fractions in [0, 1] (or percentages)."""
    if not runs:
        raise ValueError("runs: nothing to plot")
    curves = [
        (
            name,
            _as_percent(_curve(tr, "train_acc"), "train_acc"),
            _as_percent(_curve(va, "val_acc"), "val_acc"),
        )
        for name, tr, va in runs
    ]
    for name, tr, va in curves:
        if tr.size == 0 or tr.size != va.size:
            raise ValueError(f"{name}: train_acc and val_acc need one value per epoch each")
    low = min(min(tr.min(), va.min()) for _, tr, va in curves)
    fig = _figure(5.2 * len(curves), 4.2)
    axes = fig.subplots(1, len(curves), squeeze=False, sharey=True)[0]
    for ax, (name, tr, va) in zip(axes, curves, strict=True):
        epochs = np.arange(1, tr.size + 1)
        _train_and_validation(ax, epochs, tr, va, "gap", markersize=3 if tr.size <= 40 else 0)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25 on a short run
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    axes[0].set_ylabel("accuracy (%)")
    axes[0].set_ylim(max(0.0, math.floor(low) - 2), 100.5)
    fig.suptitle(title)
    return _save(fig, path)


# ----------------------------------------------------------------------------- own digit


def _probabilities(probs: Sequence[float]) -> np.ndarray:
    p = _curve(probs, "probs")
    if p.size == 0 or p.min() < 0 or abs(p.sum() - 1) > 1e-3:
        raise ValueError(
            f"probs: expected class probabilities summing to 1, got {p.size} "
            f"values summing to {p.sum():.4g}"
        )
    return p


def _outline(ax: Any, left: float, top: float, width: float, height: float, **style: Any) -> None:
    """An unfilled rectangle around the pixels from (left, top), ``width`` x ``height`` of them."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, **style))


def _step_panel(ax: Any, image: np.ndarray, label: str, vmax: float = 1.0) -> None:
    """``image`` in grey from 0 (black) to ``vmax`` (white), titled, without ticks."""
    ax.imshow(image, cmap="gray", vmin=0, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(label, fontsize=10)


def _network_input_panel(ax: Any, out: np.ndarray) -> None:
    """The 28x28 input with its centre of mass (+) and the bounding box of its ink (dashed)."""
    ax.imshow(out, cmap="gray", vmin=0, vmax=1)
    mass = out.sum()
    rows, cols = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE]
    centre = ((out * cols).sum() / mass, (out * rows).sum() / mass)
    ax.plot(*centre, "+", color="tab:red", markersize=12, markeredgewidth=1.5)
    ink_rows, ink_cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    box = (ink_cols[0], ink_rows[0], len(ink_cols), len(ink_rows))
    _outline(ax, *box, edgecolor="tab:blue", linestyle="--", linewidth=0.9)
    ax.set_xticks([0, 14, 27])
    ax.set_yticks([0, 14, 27])
    ax.tick_params(labelsize=8)
    ax.set_title("4. input 28x28: box 20 px,\n+ centre of mass at (14, 14)", fontsize=10)


def _prediction_panel(ax: Any, p: np.ndarray, class_names: Sequence[str] | None) -> None:
    """Horizontal bars of the class probabilities in %, the most probable class in green."""
    names = _names(class_names, p.size)[: p.size]
    best = int(np.argmax(p))
    colours = ["tab:green" if i == best else "tab:grey" for i in range(p.size)]
    ax.barh(range(p.size), 100 * p, color=colours)
    ax.set_yticks(range(p.size), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (%)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"5. prediction: {names[best]} ({100 * p[best]:.1f}%)", fontsize=10)


def plot_preprocessing(
    image: Any,
    path: PathLike | None = None,
    probs: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path | Figure:
    """The steps of :func:`tinygrad_edu.course.preprocess.preprocess_digit` on one image: the
    greyscale photo with the crop box, the background-subtracted ink (inverted if needed) with
    the ink mask's outline, the crop scaled to [0, 1], and the 28x28 network input with its
    centre of mass; with ``probs`` (one per class) a bar chart of the network's answer.

    ``image`` is anything ``preprocess_digit`` takes, or a ``preprocess.DigitSteps``.
    """
    steps = image if isinstance(image, DigitSteps) else preprocess_steps(image)
    p = None if probs is None else _probabilities(probs)
    panels = 4 + (p is not None)
    fig = _figure(2.6 * panels, 3.0)
    axes = fig.subplots(1, panels, width_ratios=[1] * 4 + [1.3] * (p is not None))

    top, bottom, left, right = steps.box
    _step_panel(axes[0], steps.grey, "1. greyscale + crop box")
    _outline(axes[0], left, top, right - left, bottom - top, edgecolor="tab:red", linewidth=1.2)
    inverted = " (inverted)" if steps.inverted else ""
    _step_panel(axes[1], steps.ink, f"2. ink{inverted} + mask", max(float(steps.ink.max()), 1e-6))
    axes[1].contour(steps.mask, levels=[0.5], colors="tab:red", linewidths=0.6)
    thickened = ", thickened" if steps.thickened else ""
    _step_panel(axes[2], steps.crop, f"3. crop in [0, 1]{thickened}")
    _network_input_panel(axes[3], steps.output)
    if p is not None:
        _prediction_panel(axes[4], p, class_names)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
