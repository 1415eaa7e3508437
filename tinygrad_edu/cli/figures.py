"""The figures of a training run, as ``train --plots`` and ``plot`` save them: the curves always;
with the model, its first-layer weights; with the model and the test set, the confusion matrix
and misclassified digits; with the training set, sample digits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..data import Dataset
from ..training import History, confusion_matrix, predict
from ..training.history import plural
from ..viz.text import percent_text
from .errors import CLIError, one_line
from .network import network_name
from .settings import data_text, training_text

__all__ = ["FIGURES", "X_AXES", "add_x_axis_argument", "run_title", "save_figures"]

#: The figures' file names.
FIGURES = {
    "curves": "curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "weights": "weights.png",
    "samples": "samples.png",
}


#: The curves' x-axes (``viz.plots.X_AXES``; written out here so that building the parser
#: loads no matplotlib).
X_AXES = ("iterations", "epochs")


def add_x_axis_argument(p: Any) -> None:
    """``--x iterations|epochs``, the curves' x-axis (``plot``, and ``train`` for ``--plots``)."""
    p.add_argument(
        "--x",
        dest="x_axis",
        choices=X_AXES,
        help="the x-axis of the curves (train: of --plots): iterations (updates; with the run's "
        "--eval-every k, train and test every k) or epochs (default: epochs from 5 epochs on, "
        "else iterations)",
    )


def save_figures(
    folder: Path,
    history: History,
    settings: Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
    train: Dataset | None = None,
    test: Dataset | None = None,
    log_loss: bool = False,
    x_axis: str | None = None,
) -> list[Path]:
    """Save the figures there is material for in ``folder`` and print each one's path
    (``log_loss``: the curves' loss on a log scale; ``x_axis``: iterations, epochs or None for
    the default; with iterations, the run's ``eval_every`` k draws the training curve every k)."""
    from ..viz import plots  # matplotlib: loaded only to draw

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the figure folder {folder} ({e.strerror})") from None
    title = run_title(history, settings)
    try:
        every = (settings or {}).get("eval_every") or 0
        every = every if x_axis == "iterations" else 0
        curves = folder / FIGURES["curves"]
        paths = [plots.plot_history(history, curves, title, log_loss, x_axis, every)]
        if model is not None and test is not None:
            paths += _test_figures(plots, folder, model, test)
        if model is not None:
            paths += _weight_figure(plots, folder, model, test, train, history)
        if train is not None:
            paths.append(
                plots.plot_samples(
                    train.images,
                    train.labels,
                    folder / FIGURES["samples"],
                    class_names=list(train.classes),
                    title=f"Training samples: {train.name}",
                )
            )
    except ValueError as e:  # e.g. a diverged run whose losses are not finite
        raise CLIError(f"cannot draw the figures: {one_line(e)}") from None
    for path in paths:
        print(f"saved {path}")
    return paths


def run_title(history: History, settings: Mapping[str, Any] | None) -> str:
    """E.g. ``784-64-10 sigmoid on mnist: 20/20 epochs`` and, on a second line, every other
    setting that changes the result (:func:`~.settings.training_text`): ``momentum lr 0.5
    (momentum 0.9), batch 256, seed 0, init normal (std 0.1)``."""
    s = settings or {}
    parts = []
    if s.get("arch") or s.get("model") == "cnn":
        parts.append(network_name(s))
    if s.get("dataset"):
        parts.append(f"on {data_text(s)}" if parts else data_text(s))
    total = s.get("epochs") or history.config.get("epochs")
    done = plural(history.epochs, "epoch")
    if total:
        done = f"{history.epochs}/{plural(total, 'epoch')}"
    # every setting that changes the curves (not the threads: every count trains the same)
    how = f"\n{training_text(s, leave_out=('epochs', 'threads'))}" if s.get("optimizer") else ""
    return f"{' '.join(parts)}: {done}{how}" if parts else f"Training history: {done}"


def _test_figures(plots: Any, folder: Path, model: nn.Module, test: Dataset) -> list[Path]:
    """The confusion matrix and the misclassified test digits."""
    classes = list(test.classes)
    _, predicted = predict(model, test.images)
    cm = confusion_matrix(test.labels, predicted, num_classes=len(classes))
    return [
        plots.plot_confusion_matrix(cm, folder / FIGURES["confusion_matrix"], class_names=classes),
        plots.plot_misclassified(
            test.images,
            test.labels,
            predicted,
            folder / FIGURES["misclassified"],
            class_names=classes,
        ),
    ]


def _weight_figure(
    plots: Any,
    folder: Path,
    model: nn.Module,
    test: Dataset | None,
    train: Dataset | None = None,
    history: History | None = None,
) -> list[Path]:
    """The first layer's weights: a convolution's filters, a single neuron's weights beside the
    mean images of its two classes, or a Linear layer's rows as 28x28 templates (none if it does
    not take 784 inputs)."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)), None)
    if isinstance(first, nn.Conv2d):
        if first.in_channels != 1:
            return []
        return [plots.plot_conv_filters(first.weight, folder / FIGURES["weights"])]
    weight = next((m.weight for m in model.modules() if isinstance(m, nn.Linear)), None)
    if weight is None or weight.shape[1] != 784:
        return []
    if weight.shape[0] == 1 and train is not None and len(train.classes) == 2:
        return [_single_neuron_figure(folder, model, train, test, history)]
    names = (
        list(test.classes) if test is not None and weight.shape[0] == len(test.classes) else None
    )
    return [plots.plot_weight_templates(weight, folder / FIGURES["weights"], names)]


def _single_neuron_figure(
    folder: Path, model: nn.Module, train: Dataset, test: Dataset | None, history: History | None
) -> Path:
    """A one-vs-rest Linear(784, 1) (``--digit K --arch 784,1``): its weights beside the mean
    training images of K and of the rest, titled with the test accuracy against always
    answering "not K"."""
    from ..course.plots import plot_single_neuron  # matplotlib: loaded only to draw

    layer = next(m for m in model.modules() if isinstance(m, nn.Linear))
    bias = float(layer.bias.data[0]) if layer.bias is not None else 0.0
    digit = str(train.classes[1])
    title = f"One sigmoid neuron: {digit} or not {digit}"
    if history is not None and history.test_acc and test is not None and len(test):
        baseline = float(np.mean(test.labels == 0))
        title += (
            f"; test accuracy {percent_text(history.final_test_acc)}% "
            f"(always 'not {digit}': {percent_text(baseline)}%)"
        )
    return plot_single_neuron(
        layer.weight,
        bias,
        train.images,
        train.labels == 1,
        folder / FIGURES["weights"],
        digit,
        title,
    )
