"""General figures: training curves (one run's, or several runs' test curves), a confusion
matrix, grids of digits and of weight templates.

Each function validates its inputs (``ValueError`` naming the argument and its shape), draws one
figure (:func:`~tinygrad_edu.viz.canvas.new_figure`), saves it as a PNG to ``path`` (parent
folders are created) and returns the path; with no ``path`` it returns the ``Figure``, which a
notebook shows inline. A history is read by its fields (``iterations``, ``train_loss``,
...), so this module needs nothing of ``training``. The handouts' own figures (the overfitting
study, the single neuron, one's own digit) are in ``course/plots.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from . import canvas
from .canvas import (
    IMAGE_SIDE,
    TEST_COLOUR,
    TRAIN_COLOUR,
    PathLike,
    as_curve,
    as_images,
    as_labels,
    as_numbers,
    as_percent,
    name_classes,
    new_figure,
)
from .text import percent_text

__all__ = [
    "EPOCH_AXIS_FROM",
    "MAX_EPOCH_LINES",
    "X_AXES",
    "plot_confusion_matrix",
    "plot_conv_filters",
    "plot_histories",
    "plot_history",
    "plot_misclassified",
    "plot_predictions",
    "plot_samples",
    "plot_weight_templates",
]


# ----------------------------------------------------------------------------- grids of images


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
    fig = new_figure(fig_w, fig_h, None)
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
        as_curve(_field(history, key), f"history.{key}")
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
    tr_acc, te_acc = as_percent(tr_acc, "history.train_acc"), as_percent(te_acc, "test_acc")
    return _Curves(its, tr_loss, tr_acc, te_its, te_loss, te_acc, epochs)


#: From this many epochs on, the curves' x-axis counts epochs (not minibatches) unless told
#: otherwise (``x_axis``), and the ends of epochs are no longer drawn as lines.
EPOCH_AXIS_FROM = 5
#: The curves' x-axes: updates (minibatches) or epochs.
X_AXES = ("iterations", "epochs")
#: At most this many epoch ends are drawn as dotted lines on an iteration axis.
MAX_EPOCH_LINES = 20


class _Axis(NamedTuple):
    """How iterations map onto the x-axis, its label, and whether epoch ends are drawn."""

    to_x: Callable[[np.ndarray], np.ndarray]
    label: str
    epoch_lines: bool


def _x_axis(c: _Curves, x_axis: str | None, every: int) -> _Axis:
    """``x_axis`` "epochs": iterations to epochs (fractional, by interpolating between the ends
    of epochs); "iterations": to themselves; None: epochs from :data:`EPOCH_AXIS_FROM` epochs
    on, else iterations."""
    ends = c.epoch_ends
    if x_axis is None:
        x_axis = "epochs" if ends.size >= EPOCH_AXIS_FROM else "iterations"
    if x_axis == "iterations":
        label = "iteration (minibatch)" + (f"; train and test every {every}" if every else "")
        return _Axis(lambda it: it, label, ends.size <= MAX_EPOCH_LINES)
    if ends.size == 0:
        raise ValueError("x_axis: no epoch has ended yet, so there are no epochs to count")
    knots = np.concatenate([[0.0], ends])

    def to_epochs(it: np.ndarray) -> np.ndarray:
        return np.interp(it, knots, np.arange(knots.size, dtype=np.float64))

    return _Axis(to_epochs, "epoch", False)


def _every_k(iterations: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each k minibatches (minibatch i falls in block ``iterations[i] // k``; the
    last block may be partial), placed at the middle of its iterations, so that it does not lag
    behind the curve as a mean placed at the block's end would."""
    blocks = iterations.astype(np.int64) // k
    _, first = np.unique(blocks, return_index=True)
    counts = np.diff(np.append(first, values.size))
    means = np.add.reduceat(values, first) / counts
    middles = np.add.reduceat(iterations.astype(np.float64), first) / counts
    return middles, means


def _history_panel(
    ax: Any,
    c: _Curves,
    curves: tuple[np.ndarray, np.ndarray],
    ylabel: str,
    legend_loc: str,
    axis: _Axis,
    every: int,
) -> None:
    """One panel: the minibatch curve (faint) with its centred moving average, or with
    ``every`` = k the mean of each k minibatches; the test points; the ends of epochs dotted
    where ``axis`` says so."""
    train, test = curves
    x = axis.to_x
    if train.size:
        ax.plot(x(c.iterations), train, color=TRAIN_COLOUR, alpha=0.25, linewidth=0.8)
        if every:
            its, means = _every_k(c.iterations, train, every)
            style, label = (
                "o-" if its.size <= 60 else "-",
                f"train (mean of each {every} minibatches)",
            )
            ax.plot(x(its), means, style, color=TRAIN_COLOUR, markersize=3, label=label)
        else:
            window = max(1, round(c.iterations.size / 20))
            mean = f", centred mean of {window}" if window > 1 else ""
            label = f"train (minibatch{mean})"
            smooth = _smooth(train, window)
            ax.plot(x(c.iterations), smooth, color=TRAIN_COLOUR, linewidth=1.6, label=label)
    if test.size:
        style = "-" if test.size > 60 else "o-"
        ax.plot(x(c.test_iterations), test, style, color=TEST_COLOUR, markersize=4, label="test")
    if axis.epoch_lines:
        for i, end in enumerate(c.epoch_ends):
            label = "end of epoch" if i == 0 else None
            ax.axvline(end, color="grey", linestyle=":", linewidth=0.8, label=label)
    ax.set_xlabel(axis.label)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc)


def plot_history(
    history: Any,
    path: PathLike | None = None,
    title: str = "Training history",
    log_loss: bool = False,
    x_axis: str | None = None,
    every: int = 0,
) -> Path | Figure:
    """Loss (left) and accuracy (right): the training minibatches' (faint, with a centred moving
    average) and the test set's. ``x_axis`` "iterations" counts updates (dotted lines mark the
    ends of up to :data:`MAX_EPOCH_LINES` epochs), "epochs" counts epochs; by default epochs
    from :data:`EPOCH_AXIS_FROM` epochs on, else iterations. ``every`` = k > 0 (the run's
    ``--eval-every``): the training curve is the mean of each k minibatches, at the same
    updates as the test points, as a handout plots both every k iterations.
    ``log_loss``: the loss on a log scale.

    ``history`` is a ``training.History`` or a mapping with its fields: ``iterations``,
    ``train_loss``, ``train_acc`` (one per logged minibatch), ``test_iterations``,
    ``test_loss``, ``test_acc`` (one per evaluation) and optionally ``epoch_end_iterations``.
    Accuracies are fractions in [0, 1] (or percentages).
    """
    if x_axis is not None and x_axis not in X_AXES:
        raise ValueError(f"x_axis: expected one of {', '.join(X_AXES)}, got {x_axis!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"every: expected an integer >= 0, got {every!r}")
    c = _history_curves(history)
    axis = _x_axis(c, x_axis, every)
    fig = new_figure(11, 4.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    losses, accs = (c.train_loss, c.test_loss), (c.train_acc, c.test_acc)
    _history_panel(ax_loss, c, losses, "cross-entropy loss", "upper right", axis, every)
    _history_panel(ax_acc, c, accs, "accuracy (%)", "lower right", axis, every)
    ax_loss.set_title("loss" + (" (log scale)" if log_loss else ""))
    if log_loss and (np.concatenate(losses) > 0).all():
        ax_loss.set_yscale("log")
    else:
        ax_loss.set_ylim(bottom=0)
    final = f" (final test: {percent_text(c.test_acc[-1] / 100)}%)" if c.test_acc.size else ""
    ax_acc.set_title("accuracy" + final)
    if c.train_acc.size or c.test_acc.size:
        low = min(
            np.percentile(c.train_acc, 5) if c.train_acc.size else 100,
            c.test_acc.min(initial=100),
        )
        ax_acc.set_ylim(max(0.0, low - 5), 100.5)
    fig.suptitle(title)
    return canvas.save_figure(fig, path)


def plot_histories(
    histories: Mapping[str, Any],
    path: PathLike | None = None,
    title: str = "Test curves",
    log_loss: bool = False,
) -> Path | Figure:
    """Several runs side by side: each run's test loss (left) and test accuracy (right) against
    the update (iteration), one line per run, labelled by its key in ``histories`` with its
    final accuracy.

    Each value is a ``training.History`` (or a mapping with its fields, see
    :func:`plot_history`) whose test set was measured as it trained (``fit`` with a test set,
    and ``EvalEvery(k)`` for a point every k updates). The accuracy axis starts just below the
    last three quarters of every curve, so that the runs' differences near the top show; the
    first points may lie below it. ``log_loss``: the loss on a log scale.
    """
    if not histories:
        raise ValueError("histories: nothing to plot")
    curves = {str(name): _history_curves(h) for name, h in histories.items()}
    for name, c in curves.items():
        if c.test_iterations.size == 0:
            raise ValueError(f"histories[{name!r}]: no test evaluations to plot")
    fig = new_figure(11, 4.2)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for name, c in curves.items():
        style = "-" if c.test_iterations.size > 60 else "o-"
        ax_loss.plot(c.test_iterations, c.test_loss, style, markersize=3, label=name)
        final = f"{name} ({percent_text(c.test_acc[-1] / 100)}%)"
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
    return canvas.save_figure(fig, path)


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
    counts = as_numbers(cm, "cm")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"cm: expected a square (K, K) matrix of counts, got shape {counts.shape}")
    if counts.min() < 0 or not np.array_equal(counts, np.round(counts)):
        raise ValueError("cm: expected non-negative integer counts")
    counts = counts.astype(np.int64)
    k = counts.shape[0]
    names = name_classes(class_names, k)[:k]
    total = int(counts.sum())

    fig = new_figure(max(5.5, 0.55 * k + 2.5), max(4.8, 0.5 * k + 1.8))
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
    return canvas.save_figure(fig, path)


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
    imgs = as_images(images)
    n = len(imgs)
    t, p = as_labels(y_true, n, "y_true"), as_labels(y_pred, n, "y_pred")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    k = int(max(t.max(initial=0), p.max(initial=0))) + 1
    names = name_classes(class_names, k)
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
    return canvas.save_figure(fig, path)


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
    imgs = as_images(images)
    n = len(imgs)
    if n == 0:
        raise ValueError("images: no images to show")
    t, p = as_labels(y_true, n, "y_true"), as_labels(y_pred, n, "y_pred")
    conf = as_curve(confidence, "confidence")
    names = name_classes(class_names, int(max(t.max(), p.max())) + 1)
    titles = [f"true {names[t[i]]}\npred {names[p[i]]} {percent_text(conf[i])}%" for i in range(n)]
    colours = ["black" if t[i] == p[i] else "firebrick" for i in range(n)]
    fig, _ = _digit_grid(
        imgs, titles, min(n, 10), 1.1, title, colours=colours, lines=2, min_width=5.0
    )
    return canvas.save_figure(fig, path)


def plot_samples(
    images: Any,
    labels: Any,
    path: PathLike | None = None,
    class_names: Sequence[str] | None = None,
    max_images: int = 40,
    title: str = "Samples",
) -> Path | Figure:
    """A grid of the first ``max_images`` images, each titled with its label."""
    imgs = as_images(images)
    labs = as_labels(labels, len(imgs), "labels")
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    if len(imgs) == 0:
        raise ValueError("images: no images to show")
    names = name_classes(class_names, int(labs.max()) + 1)
    n = min(len(imgs), max_images)
    titles = [names[lab] for lab in labs[:n]]
    fig, _ = _digit_grid(imgs[:n], titles, min(n, 10), 0.9, title, min_width=3.0)
    return canvas.save_figure(fig, path)


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
    w = as_numbers(weight, "weight").astype(np.float64)
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
    names = name_classes(class_names, len(w)) if per_class else None
    n = min(len(w), max_units)
    cols = 5 if n == 10 else min(8, n)
    titles = [f"class {names[i]}" if names else f"unit {i}" for i in range(n)]
    if len(w) == 1 and not names:
        titles = [""]  # the title names the one unit; "unit 0" would read as the digit 0
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
    return canvas.save_figure(fig, path)


def plot_conv_filters(
    weight: Any, path: PathLike | None = None, title: str | None = None
) -> Path | Figure:
    """A convolution's filters, one small image per output channel: ``weight`` is
    ``(out_channels, 1, kh, kw)`` (``Conv2d.weight`` of a greyscale input). Each filter has its
    own symmetric colour scale ``[-max|w|, +max|w|]``: red responds to ink, blue to background."""
    w = as_numbers(weight, "weight").astype(np.float64)
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
    return canvas.save_figure(fig, path)
