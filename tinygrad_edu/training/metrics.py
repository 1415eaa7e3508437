"""Scores of predictions: the predicted labels of a network's outputs, accuracy, and the
confusion matrix."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.errors import check_integer
from ..engine.function import ShapeError
from ..engine.tensor import Tensor

__all__ = ["accuracy", "confusion_matrix", "predicted_labels"]


def predicted_labels(out: np.ndarray, probabilities: bool = False) -> np.ndarray:
    """Predicted labels: argmax over classes for (N, C>1); for one output per sample, class 1
    where the logit is > 0 (the probability > 1/2 if ``probabilities``)."""
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    flat = out.reshape(out.shape[0]) if out.ndim else out.reshape(1)
    return (flat > (0.5 if probabilities else 0.0)).astype(np.int64)


def accuracy(outputs: Any, labels: Any, probabilities: bool = False) -> float:
    """Fraction of samples whose predicted label (argmax of (N, C) outputs, or a threshold for one
    output per sample: logit > 0, or probability > 1/2) equals the label."""
    out = np.asarray(outputs.data if isinstance(outputs, Tensor) else outputs)
    y = np.asarray(labels)
    if len(out) != len(y):
        raise ShapeError(f"accuracy: {len(out)} outputs but {len(y)} labels")
    if len(y) == 0:
        return math.nan
    return float(np.mean(predicted_labels(out, probabilities) == y.reshape(len(y))))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = 10) -> np.ndarray:
    """M (C, C) int64 with M[i, j] = number of samples of true class i predicted as class j.

    Computed in one ``np.bincount`` of ``i * C + j``. Labels must be integers in [0, C).
    """
    t = np.asarray(y_true).reshape(-1) if np.ndim(y_true) else np.asarray([y_true])
    p = np.asarray(y_pred).reshape(-1) if np.ndim(y_pred) else np.asarray([y_pred])
    if t.shape != p.shape:
        raise ShapeError(f"confusion_matrix: {t.size} true labels but {p.size} predictions")
    check_integer("confusion_matrix", "num_classes", num_classes, 1)
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and a.dtype.kind not in "iub":
            raise TypeError(f"confusion_matrix: {name} must be integer labels, got {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix: {name} spans {a.min()}..{a.max()}, outside 0..{num_classes - 1}"
            )
    c = num_classes
    flat = t.astype(np.int64) * c + p.astype(np.int64)
    return np.bincount(flat, minlength=c * c).reshape(c, c)
