"""Training: the loop (``fit`` / ``evaluate`` / ``predict``), ``History``, model files and run
folders."""

from .loop import (
    MODEL_FORMAT,
    History,
    ModelFileError,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
    load,
    predict,
    read_metadata,
    save,
)

__all__ = [
    "MODEL_FORMAT",
    "History",
    "ModelFileError",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load",
    "predict",
    "read_metadata",
    "save",
]
