"""``tinygrad-edu eval MODEL``: a saved model's loss, accuracy and confusion matrix on a test
set (by default the one the model was trained on)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..training import confusion_matrix, evaluate, predict
from .errors import CLIError
from .options import PROG, add_data_arguments
from .rundata import check_fits, check_model_fits, dataset_to_load, load_data, load_model

__all__ = ["add_eval_command", "format_confusion_matrix", "run_eval"]


def add_eval_command(subparsers: Any) -> None:
    """Add ``eval``."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a saved model: accuracy and confusion matrix",
        description="Evaluate a model saved by `train` on a test set; print the loss, the "
        "accuracy and the confusion matrix (rows: true class, columns: predicted).",
    )
    p.add_argument("model", type=Path, help=f"a model.npz written by `{PROG} train`")
    add_data_arguments(p)
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``eval``: load the model and its test set, print the measures."""
    model, meta = load_model(args.model)
    dataset = dataset_to_load(args.dataset, meta.get("dataset"))
    _, test = load_data(dataset, args.data_dir, args.offline)
    if len(test) == 0:
        raise CLIError(f"{test.name} has no images to evaluate on")
    check_fits(meta.get("sizes"), test)
    check_model_fits(model, test)
    loss, acc = evaluate(model, test)
    _, predicted = predict(model, test.images)
    cm = confusion_matrix(test.labels, predicted, num_classes=len(test.classes))
    print(
        f"{args.model} on {test.name} ({len(test)} images): loss {loss:.4f}, "
        f"accuracy {100 * acc:.2f}%"
    )
    print(format_confusion_matrix(cm, test.classes))
    return 0


def format_confusion_matrix(cm: np.ndarray, classes: Sequence[str] | None = None) -> str:
    """A text table: one row per true class, one column per predicted class, and recall."""
    c = cm.shape[0]
    width = max(len(str(int(cm.max()))) if cm.size else 1, 3)
    lines = ["true \\ predicted " + " ".join(f"{i:>{width}}" for i in range(c)) + "  recall"]
    for i in range(c):
        total = cm[i].sum()
        recall = f"{100 * cm[i, i] / total:6.2f}%" if total else "     -"
        label = f"{i} {classes[i]}" if classes is not None and classes[i] != str(i) else f"{i}"
        lines.append(
            f"{label[:16]:>16} " + " ".join(f"{v:>{width}}" for v in cm[i]) + f"  {recall}"
        )
    return "\n".join(lines)
