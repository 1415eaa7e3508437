"""The data and model a command works on: the dataset that ``--dataset``/``--data-dir``/
``--offline`` (or a run's settings) name, a run's subsets of it, a saved model (refused with
non-finite weights), and whether a model fits the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, nn
from ..data import DATASETS, Dataset
from ..training import load, predict, read_metadata
from .errors import CLIError, one_line

__all__ = [
    "check_fits",
    "check_model_fits",
    "dataset_to_load",
    "load_data",
    "load_model",
    "load_run_data",
]


def dataset_to_load(*names: str | None) -> str:
    """The first name given (e.g. ``--dataset``, then the one a model was trained on), or mnist;
    mnist also for a name that is not one of :data:`~tinygrad_edu.data.DATASETS`."""
    name = next((n for n in names if n), "mnist")
    return name if name in DATASETS else "mnist"


def load_data(
    dataset: str, data_dir: Path | None, offline: bool, fallback: bool = False
) -> tuple[Dataset, Dataset]:
    """``(train, test)`` of ``dataset`` from ``data_dir`` (else the cache, else a download unless
    ``offline``); with ``fallback`` (no dataset named), mnist that cannot be had becomes the
    bundled mnist-sample, with one line on stderr."""
    if data_dir is not None and not data_dir.is_dir():
        raise CLIError(f"--data-dir {data_dir} does not exist or is not a folder")
    return data.load_dataset(dataset, data_dir=data_dir, download=not offline, fallback=fallback)


def load_run_data(
    settings: Mapping[str, Any], offline: bool, fallback: bool = False
) -> tuple[Dataset, Dataset, str]:
    """``(train, test, name of the dataset used)`` for a run's settings (``dataset``,
    ``data_dir``, ``train_size``, ``test_size``), the subsets taken. With ``fallback`` the name
    is mnist-sample when mnist could not be had and the bundled sample was used instead."""
    data_dir = Path(settings["data_dir"]) if settings.get("data_dir") else None
    train, test = load_data(settings["dataset"], data_dir, offline, fallback)
    train = _first(train, settings.get("train_size"), "--train-size", "training")
    test = _first(test, settings.get("test_size"), "--test-size", "test")
    if settings.get("digit") is not None:  # one-vs-rest
        train, test = train.one_vs_rest(settings["digit"]), test.one_vs_rest(settings["digit"])
    used = train.name.split("/")[0]
    return train, test, used if used in DATASETS else settings["dataset"]


def _first(split: Dataset, n: int | None, option: str, what: str) -> Dataset:
    """The first ``n`` images of ``split`` (all of them for None)."""
    if not n:
        return split
    if n > len(split):
        raise CLIError(f"{option} {n}: {split.name} has only {len(split)} {what} images")
    return split.subset(n)


def check_fits(sizes: Sequence[int] | None, dataset: Dataset) -> None:
    """A model with layer widths ``sizes`` takes ``dataset``'s images and has one output per
    class (nothing is checked without sizes)."""
    if not sizes:
        return
    h, w = dataset.images.shape[1:]
    if sizes[0] != h * w:
        raise CLIError(f"the model takes {sizes[0]} inputs but {dataset.name} images are {h}x{w}")
    if not _outputs_fit(sizes[-1], len(dataset.classes)):
        raise CLIError(
            f"the model has {sizes[-1]} outputs but {dataset.name} has {len(dataset.classes)} "
            "classes"
        )


def _outputs_fit(outputs: int, classes: int) -> bool:
    """One output per class, or one (sigmoid) output for two classes."""
    return outputs == classes or (outputs == 1 and classes == 2)


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model saved at ``path`` and its metadata; refused if a weight is NaN or infinite (a
    diverged run's model predicts nothing)."""
    meta = read_metadata(path)
    model = load(path)
    for name, parameter in model.named_parameters():
        if not np.isfinite(parameter.data).all():
            raise CLIError(
                f"{path}: {name} holds NaN or infinite values (saved from a diverged run?); "
                "this model cannot predict anything: retrain it with a smaller learning rate"
            )
    return model, meta


def check_model_fits(model: nn.Module, dataset: Dataset) -> None:
    """``model`` takes ``dataset``'s images and has one output per class (tried on one image)."""
    h, w = dataset.images.shape[1:]
    try:
        probs, _ = predict(model, dataset.images[:1])
    except ValueError as e:  # ShapeError, InputError
        raise CLIError(
            f"the model does not take {dataset.name}'s {h}x{w} images ({one_line(e)})"
        ) from None
    if not _outputs_fit(np.shape(probs)[-1], len(dataset.classes)):
        raise CLIError(
            f"the model has {np.shape(probs)[-1]} outputs but {dataset.name} has "
            f"{len(dataset.classes)} classes"
        )
