"""The figures of a training run, as ``train --plots`` and ``plot`` save them: the curves always;
with the model, its first-layer weights; with the model and the test set, the confusion matrix
and misclassified digits; with the training set, sample digits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import nn
from ..data import Dataset
from ..training import History, confusion_matrix, predict
from ..training.history import plural
from .errors import CLIError, one_line
from .network import network_name
from .settings import data_text, training_text

__all__ = ["FIGURES", "run_title", "save_figures"]

#: The figures' file names.
FIGURES = {
    "curves": "curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "weights": "weights.png",
    "samples": "samples.png",
}


def save_figures(
    folder: Path,
    history: History,
    settings: Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
    train: Dataset | None = None,
    test: Dataset | None = None,
    log_loss: bool = False,
) -> list[Path]:
    """Save the figures there is material for in ``folder`` and print each one's path
    (``log_loss``: the curves' loss on a log scale)."""
    from ..course import plots  # matplotlib: loaded only to draw

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the figure folder {folder} ({e.strerror})") from None
    title = run_title(history, settings)
    try:
        paths = [plots.plot_history(history, folder / FIGURES["curves"], title, log_loss)]
        if model is not None and test is not None:
            paths += _test_figures(plots, folder, model, test)
        if model is not None:
            paths += _weight_figure(plots, folder, model, test)
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
    how = f"\n{training_text(s, leave_out=('epochs',))}" if s.get("optimizer") else ""
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


def _weight_figure(plots: Any, folder: Path, model: nn.Module, test: Dataset | None) -> list[Path]:
    """The first layer's weights: a convolution's filters, or a Linear layer's rows as 28x28
    templates (none if it does not take 784 inputs)."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)), None)
    if isinstance(first, nn.Conv2d):
        if first.in_channels != 1:
            return []
        return [plots.plot_conv_filters(first.weight, folder / FIGURES["weights"])]
    weight = next((m.weight for m in model.modules() if isinstance(m, nn.Linear)), None)
    if weight is None or weight.shape[1] != 784:
        return []
    names = (
        list(test.classes) if test is not None and weight.shape[0] == len(test.classes) else None
    )
    return [plots.plot_weight_templates(weight, folder / FIGURES["weights"], names)]
