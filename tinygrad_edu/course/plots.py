"""The handouts' own figures: the overfitting study (accuracy and loss per epoch), the single
neuron (its weights beside the mean images), one's own digit (the preprocessing steps, and what
the network sees with its answer).

Each function validates its inputs (``ValueError`` naming the argument and its shape), draws one
figure and saves it as a PNG to ``path`` (parent folders are created), returning the path; with
no ``path`` it returns the ``Figure``, which a notebook shows inline
(:func:`~tinygrad_edu.viz.canvas.save_figure`). General figures (curves, confusion matrix, grids
of digits and templates) are in ``viz/plots.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..viz import canvas
from ..viz.canvas import (
    IMAGE_SIDE,
    TEST_COLOUR,
    TRAIN_COLOUR,
    PathLike,
    as_curve,
    as_images,
    as_numbers,
    as_percent,
    name_classes,
    new_figure,
)
from ..viz.text import percent_text
from .preprocess import DigitSteps, preprocess_steps

__all__ = [
    "plot_network_inputs",
    "plot_overfitting",
    "plot_overfitting_runs",
    "plot_preprocessing",
    "plot_single_neuron",
]


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
    tr = as_percent(as_curve(train_acc, "train_acc"), "train_acc")
    va = as_percent(as_curve(val_acc, "val_acc"), "val_acc")
    if tr.size == 0 or tr.size != va.size:
        raise ValueError(
            f"train_acc and val_acc need one value per epoch each, got {tr.size} and {va.size}"
        )
    epochs = np.arange(1, tr.size + 1)
    fig = new_figure(6.4, 4.2)
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
    return canvas.save_figure(fig, path)


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
    losses: Sequence[tuple[Sequence[float], Sequence[float]]] | None = None,
) -> Path | Figure:
    """Several runs of the overfitting study side by side on one figure, one panel each with
    its train and validation accuracy per epoch, on one y-scale. ``runs``: (panel title,
    train_acc, val_acc) per run; accuracies are fractions in [0, 1] (or percentages).
    ``losses``: (train_loss, val_loss) per run, drawn in a second row on one y-scale, the epoch
    of the lowest validation loss marked (after it, the validation loss rises: overfitting)."""
    if not runs:
        raise ValueError("runs: nothing to plot")
    curves = [
        (
            name,
            as_percent(as_curve(tr, "train_acc"), "train_acc"),
            as_percent(as_curve(va, "val_acc"), "val_acc"),
        )
        for name, tr, va in runs
    ]
    for name, tr, va in curves:
        if tr.size == 0 or tr.size != va.size:
            raise ValueError(f"{name}: train_acc and val_acc need one value per epoch each")
    loss_curves = _loss_curves(losses, curves)
    low = min(min(tr.min(), va.min()) for _, tr, va in curves)
    rows = 1 if loss_curves is None else 2
    fig = new_figure(5.2 * len(curves), 4.2 if rows == 1 else 7.6)
    grid = fig.subplots(rows, len(curves), squeeze=False, sharex="col", sharey="row")
    for ax, (name, tr, va) in zip(grid[0], curves, strict=True):
        epochs = np.arange(1, tr.size + 1)
        _train_and_validation(ax, epochs, tr, va, "gap", markersize=3 if tr.size <= 40 else 0)
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    grid[0, 0].set_ylabel("accuracy (%)")
    grid[0, 0].set_ylim(max(0.0, math.floor(low) - 2), 100.5)
    if loss_curves is not None:
        for ax, (train_loss, val_loss) in zip(grid[1], loss_curves, strict=True):
            _loss_panel(ax, train_loss, val_loss)
        grid[1, 0].set_ylabel("cross-entropy loss")
    for ax in grid[-1]:
        ax.set_xlabel("epoch")
    for ax in grid.flat:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25 on a short run
    fig.suptitle(title)
    return canvas.save_figure(fig, path)


def _loss_curves(
    losses: Sequence[tuple[Sequence[float], Sequence[float]]] | None,
    curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The (train_loss, val_loss) of each run, checked: one pair per run, one value per epoch."""
    if losses is None:
        return None
    if len(losses) != len(curves):
        raise ValueError(f"losses: {len(losses)} pairs given for {len(curves)} runs")
    checked = []
    for (name, tr, _), (train_loss, val_loss) in zip(curves, losses, strict=True):
        pair = (as_curve(train_loss, "train_loss"), as_curve(val_loss, "val_loss"))
        if any(c.size != tr.size for c in pair):
            raise ValueError(f"{name}: train_loss and val_loss need one value per epoch each")
        checked.append(pair)
    return checked


def _loss_panel(ax: Any, train_loss: np.ndarray, val_loss: np.ndarray) -> None:
    """Train and validation loss per epoch from 0 up, the lowest validation loss marked."""
    epochs = np.arange(1, train_loss.size + 1)
    markersize = 3 if train_loss.size <= 40 else 0
    style = "-" if markersize == 0 else "o-"
    ax.plot(epochs, train_loss, style, color=TRAIN_COLOUR, label="train", markersize=markersize)
    ax.plot(epochs, val_loss, style, color=TEST_COLOUR, label="validation", markersize=markersize)
    best = int(np.argmin(val_loss)) + 1
    ax.axvline(best, color="grey", linestyle=":", label=f"lowest validation loss: epoch {best}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)


# ----------------------------------------------------------------------------- single neuron


def _unit_images(images: Any) -> np.ndarray:
    """Images as floats in [0, 1]: integer pixels (0..255) are divided by 255."""
    arr = as_images(images)
    return arr / 255.0 if arr.dtype.kind in "biu" else arr.astype(np.float64)


def _pixel_axes(ax: Any, label: str) -> None:
    """Ticks at pixels 0, 14 and 27, the column labelled, and ``label`` above."""
    ax.set_xticks([0, 14, 27])
    ax.set_yticks([0, 14, 27])
    ax.tick_params(labelsize=8)
    ax.set_xlabel("pixel column", fontsize=9)
    ax.set_title(label, fontsize=10)


def plot_single_neuron(
    weight: Any,
    bias: float,
    images: Any,
    is_digit: Any,
    path: PathLike | None = None,
    digit: str = "0",
    title: str | None = None,
) -> Path | Figure:
    """One sigmoid neuron p(x) = sigmoid(w . x + b) that tells ``digit`` from the rest, in three
    28x28 panels: the mean of the training images of ``digit`` (``is_digit`` true), the mean of
    the others, and the weights w on a diverging scale [-max|w|, +max|w|] (red: ink there raises
    p, blue: lowers it), so that the template reads against what it separates.

    ``weight`` is ``(784,)``, ``(1, 784)`` or ``(28, 28)`` (``Linear(784, 1).weight``);
    ``images`` ``(N, 28, 28)`` or ``(N, 784)`` (integer pixels are divided by 255).
    """
    w = as_numbers(weight, "weight").astype(np.float64)
    if w.size != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"weight: expected 784 weights (one neuron), got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weight: contains NaN or infinity")
    imgs = _unit_images(images)
    mask = as_numbers(is_digit, "is_digit")
    if mask.shape != (len(imgs),):
        raise ValueError(f"is_digit: expected {len(imgs)} flags, one per image, got {mask.shape}")
    mask = mask.astype(bool)
    if mask.all() or not mask.any():
        raise ValueError(f"is_digit: needs images of {digit} and of other digits")
    fig = new_figure(9.6, 3.4)
    axes = fig.subplots(1, 3)
    for ax, mean, label in (
        (axes[0], imgs[mask].mean(axis=0), f"mean image of the {digit}s"),
        (axes[1], imgs[~mask].mean(axis=0), "mean image of the other digits"),
    ):
        image = ax.imshow(mean, cmap="gray_r", vmin=0, vmax=1)
        _pixel_axes(ax, label)
    bar = fig.colorbar(image, ax=axes[:2], shrink=0.8, aspect=20)
    bar.set_label("mean pixel value (0 = blank, 1 = ink)", fontsize=9)
    limit = float(np.abs(w).max()) or 1.0
    image = axes[2].imshow(
        w.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="RdBu_r", vmin=-limit, vmax=limit
    )
    _pixel_axes(axes[2], f"weights w (bias b = {float(bias):+.2f})")
    bar = fig.colorbar(image, ax=axes[2], shrink=0.8, aspect=20)
    bar.set_label(f"w: red votes '{digit}', blue 'not {digit}'", fontsize=9)
    axes[0].set_ylabel("pixel row", fontsize=9)
    fig.suptitle(title or f"One sigmoid neuron: {digit} or not {digit}", fontsize=11)
    return canvas.save_figure(fig, path)


# ----------------------------------------------------------------------------- own digit


def _probabilities(probs: Sequence[float]) -> np.ndarray:
    p = as_curve(probs, "probs")
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


def _prediction_panel(
    ax: Any, p: np.ndarray, class_names: Sequence[str] | None, step: str = "5. "
) -> None:
    """Horizontal bars of the class probabilities in %, the most probable class in green."""
    names = name_classes(class_names, p.size)[: p.size]
    best = int(np.argmax(p))
    colours = ["tab:green" if i == best else "tab:grey" for i in range(p.size)]
    ax.barh(range(p.size), 100 * p, color=colours)
    ax.set_yticks(range(p.size), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (%)", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"{step}prediction: {names[best]} ({percent_text(p[best])}%)", fontsize=10)


def plot_network_inputs(
    inputs: Any,
    probs: Any,
    path: PathLike | None = None,
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Path | Figure:
    """What the network saw and what it answered, one row per image: the 28x28 input as the
    network takes it (0 black .. 1 white, pixel ticks) beside the bars of its class
    probabilities, the most probable class in green (``predict --figure``).

    ``inputs`` ``(N, 28, 28)`` or ``(N, 784)`` in [0, 1]; ``probs`` ``(N, K)``, each row summing
    to 1; ``names`` one per image (e.g. the file names) above its input.
    """
    x = as_images(inputs, "inputs").astype(np.float64)
    p = as_numbers(probs, "probs").astype(np.float64)
    if p.ndim != 2 or len(p) != len(x) or len(x) == 0:
        raise ValueError(f"probs: expected one row per input, ({len(x)}, K), got {p.shape}")
    rows = [_probabilities(row) for row in p]
    labels = [f"input {i}" for i in range(len(x))] if names is None else [str(n) for n in names]
    if len(labels) != len(x):
        raise ValueError(f"names: {len(labels)} names given for {len(x)} inputs")
    top = 0.4 if title else 0.0
    fig = new_figure(6.4, 2.5 * len(x) + top)
    axes = fig.subplots(len(x), 2, squeeze=False, width_ratios=[1, 1.4])
    for (ax_in, ax_p), image, row, label in zip(axes, x, rows, labels, strict=True):
        ax_in.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax_in.set_xticks([0, 14, 27])
        ax_in.set_yticks([0, 14, 27])
        ax_in.tick_params(labelsize=8)
        ax_in.set_title(_shortened(label), fontsize=10)
        ax_in.set_xlabel("the 28x28 input", fontsize=9)
        _prediction_panel(ax_p, row, class_names, step="")
    if title:
        fig.suptitle(_shortened(title, 64))
    return canvas.save_figure(fig, path)


def _shortened(text: str, limit: int = 22) -> str:
    """``text``, its middle replaced by ``...`` when longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-(limit - 3 - half) :]}"


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
    fig = new_figure(2.6 * panels, 3.0)
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
    return canvas.save_figure(fig, path)
