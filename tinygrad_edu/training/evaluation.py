"""Running a trained network: ``evaluate`` (mean loss and accuracy over a dataset) and
``predict`` (class probabilities and labels), and the pieces ``fit`` shares with them: the data
as minibatches and the loss by name.

Data may be a :class:`~tinygrad_edu.data.Dataset` (batched here by a
:class:`~tinygrad_edu.data.DataLoader`), a ``DataLoader`` (used as it is: its own batch size,
order and seed), or a pair ``(x, y)`` of arrays: x float (N, 784) or (N, 28, 28) (uint8 images
are scaled by 1/255), y (N,) integer labels.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import nn
from ..data import DataLoader, Dataset, as_features
from ..engine.errors import check_integer
from ..engine.function import ShapeError, no_grad
from ..engine.tensor import Tensor
from ..nn import functional as F
from .metrics import predicted_labels

__all__ = [
    "CONV_EVAL_BATCH_SIZE",
    "EVAL_BATCH_SIZE",
    "LOSSES",
    "as_batches",
    "eval_batch_size",
    "evaluate",
    "predict",
    "resolve_loss",
]

#: Samples per batch when evaluating or predicting, unless told otherwise (see eval_batch_size).
EVAL_BATCH_SIZE = 4096
CONV_EVAL_BATCH_SIZE = 128  # for a model with a convolution

LossFn = Callable[[Tensor, np.ndarray], Tensor]
Data = Any  # Dataset | DataLoader | tuple[np.ndarray, np.ndarray]

#: Loss names accepted wherever a loss is asked for, and their functions.
LOSSES: dict[str, LossFn] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
    "mse": lambda out, y: F.mse_loss(out, F.one_hot(y, out.shape[-1], out.dtype)),
    "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def resolve_loss(loss: LossFn | str | None, who: str) -> LossFn:
    """The loss function for a name in :data:`LOSSES` or a callable ``(out, y) -> Tensor``;
    None gives cross-entropy for (N, C>1) outputs and binary cross-entropy from logits for one
    output per sample."""
    if loss is None:
        return _default_loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"{who}: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(
            f"{who}: loss must be a callable (out, y) -> Tensor or a name, got "
            f"{type(loss).__name__}"
        )
    return loss


def _default_loss(out: Tensor, y: np.ndarray) -> Tensor:
    if out.ndim == 2 and out.shape[1] > 1:
        return F.cross_entropy(out, y)
    return F.binary_cross_entropy_with_logits(out, y)


def takes_probabilities(loss: Any) -> bool:
    """True if ``loss`` reads probabilities (binary cross-entropy), not logits: one output per
    sample then predicts class 1 above 1/2 instead of above 0."""
    return loss is F.binary_cross_entropy or isinstance(loss, nn.BCELoss) or loss == "bce"


def as_batches(data: Data, batch_size: int, model: nn.Module, who: str, **kw: Any) -> DataLoader:
    """``data`` as a :class:`DataLoader` of ``batch_size`` (a DataLoader is kept as it is):
    flat (B, d) rows, or (B, 1, H, W) images when the model starts with a convolution.
    ``kw`` goes to the DataLoader (``shuffle``, ``seed``)."""
    _check_batch_size(who, batch_size)
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple) and len(data) == 2 and len(data[0]) != len(data[1]):
        raise ShapeError(f"{who}: {len(data[0])} inputs but {len(data[1])} labels")
    if isinstance(data, Dataset | tuple):
        loader = DataLoader(data, batch_size, flatten=not _wants_images(model), **kw)
        if len(loader.labels) == 0:
            raise ValueError(f"{who}: no samples in {getattr(data, 'name', 'the data')}")
        return loader
    raise TypeError(
        f"{who}: expected a Dataset, a DataLoader or a pair (x, y) of arrays, got "
        f"{type(data).__name__}"
    )


def _check_batch_size(who: str, batch_size: Any) -> None:
    check_integer(who, "batch_size", batch_size, 1)


def eval_batch_size(model: nn.Module) -> int:
    """How many samples to evaluate at a time: :data:`CONV_EVAL_BATCH_SIZE` (128) for a model
    with a convolution layer (an ``nn.Conv2d`` anywhere in it), else :data:`EVAL_BATCH_SIZE`
    (4096).

    Why: a convolution's activations and im2col matrix grow with the batch (the course's CNN at
    4096 images: a 302 MB first activation and an 840 MB im2col matrix, fresh memory each
    batch). Evaluating its 10,000 MNIST test images took 3.0 s and 1,002 MiB of memory in
    batches of 4096, 1.22 s and 77 MiB in batches of 128 (``benchmarks/eval_batch.py --memory``,
    2 cores). The course's 784-64-10 sigmoid MLP takes 0.02 s at any of these sizes."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return CONV_EVAL_BATCH_SIZE if has_conv else EVAL_BATCH_SIZE


def evaluate(
    model: nn.Module,
    dataset: Data,
    loss: LossFn | str | None = None,
    batch_size: int | None = None,
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` over ``dataset``, in eval mode under ``no_grad``, in
    batches of ``batch_size`` (default: :func:`eval_batch_size`).

    ``loss`` (a mean over its batch) defaults to cross-entropy for (N, C>1) outputs and to
    binary cross-entropy from logits for one output per sample. The mean is over samples.
    """
    size = eval_batch_size(model) if batch_size is None else batch_size
    batches = as_batches(dataset, size, model, "evaluate")
    return evaluate_batches(
        model, batches, resolve_loss(loss, "evaluate"), takes_probabilities(loss)
    )


def evaluate_batches(
    model: nn.Module, batches: DataLoader, loss_fn: LossFn, probabilities: bool = False
) -> tuple[float, float]:
    """(mean loss, accuracy) over ``batches``: sum of loss x batch size / N, and hits / N."""
    total = correct = 0.0
    n = 0
    with _eval_mode(model), no_grad():
        for x, y in batches:
            out = model(Tensor(x))
            total += float(loss_fn(out, y).data) * len(y)
            correct += float(np.sum(predicted_labels(out.data, probabilities) == y))
            n += len(y)
    if n == 0:
        raise ValueError("evaluate: no samples")
    return total / n, correct / n


def predict(
    model: nn.Module, x: Any, batch_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) for inputs x, in eval mode under ``no_grad``, in batches of
    ``batch_size`` (default: :func:`eval_batch_size`).

    x: float (N, 784), (N, 28, 28) or (N, 1, 28, 28), reshaped to what the model's first layer
    reads; uint8 images are scaled by 1/255; one image (784,) or (28, 28) is a batch of one; a
    Dataset gives its images. For (N, C>1) logits the probabilities are softmax (N, C) and the
    labels their argmax; for one logit per sample, sigmoid (the output's shape) and labels 1
    where it is > 1/2.
    """
    size = eval_batch_size(model) if batch_size is None else batch_size
    _check_batch_size("predict", size)
    if isinstance(x, Dataset):
        x = x.images
    x = shape_input(model, as_features(x.data if isinstance(x, Tensor) else x))
    if len(x) == 0:
        raise ValueError("predict: no inputs")
    outs = []
    with _eval_mode(model), no_grad():
        for s in range(0, len(x), size):
            z = model(Tensor(x[s : s + size]))
            outs.append(F.softmax(z, axis=1) if z.ndim == 2 and z.shape[1] > 1 else z.sigmoid())
    p = np.concatenate([o.data for o in outs])
    if p.ndim == 2 and p.shape[1] > 1:
        return p, p.argmax(axis=1)
    return p, (p.reshape(len(p)) > 0.5).astype(np.int64)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``with _eval_mode(model):`` the model in eval mode (Dropout off), its mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _first_layer(model: nn.Module) -> nn.Module | None:
    """The first module that reads the input: a Linear (``in_features``) or a convolution
    (``in_channels``)."""
    for m in model.modules():
        if hasattr(m, "in_features") or hasattr(m, "in_channels"):
            return m
    return None


def _wants_images(model: nn.Module) -> bool:
    """True if the model starts with a convolution, so takes (N, C, H, W) images."""
    first = _first_layer(model)
    return first is not None and hasattr(first, "in_channels")


def shape_input(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """x reshaped to what the model's first layer reads: (N, d) for a Linear, (N, C, H, W) for a
    convolution; one sample without a batch axis becomes a batch of one."""
    first = _first_layer(model)
    if first is None:
        return x
    if hasattr(first, "in_channels"):
        return _image_batch(x, first.in_channels)
    d = first.in_features
    if x.ndim == 1 or (x.ndim >= 2 and x.size == d and math.prod(x.shape[1:]) != d):
        return x.reshape(1, -1)  # one sample, e.g. (784,) or (28, 28)
    if x.ndim > 2 and math.prod(x.shape[1:]) == d:
        return x.reshape(len(x), d)
    return x


def _image_batch(x: np.ndarray, c: int) -> np.ndarray:
    """x as (N, c, H, W) images: from (N, H, W), one (c, H, W), (N, c*H*W) rows of square
    images, or one (H, W) image."""
    if x.ndim == 3:  # (N, H, W) greyscale images, or one (C, H, W) image
        return x[None] if c > 1 and x.shape[0] == c else x.reshape(len(x), c, *x.shape[1:])
    if x.ndim <= 2:
        flat = x.reshape(1, -1) if x.ndim == 1 else x
        side = math.isqrt(flat.shape[1] // c) if flat.shape[1] % c == 0 else 0
        if side and c * side * side == flat.shape[1]:  # (N, C*H*W) rows of square images
            return flat.reshape(len(flat), c, side, side)
        return x.reshape(1, c, *x.shape) if x.ndim == 2 and c == 1 else x  # one (H, W)
    return x


def data_size(data: Data | None) -> int | None:
    """Number of samples in ``data`` (None if unknown)."""
    if isinstance(data, DataLoader):
        return len(data.labels)
    if isinstance(data, Dataset):
        return len(data)
    if isinstance(data, tuple) and len(data) == 2:
        return len(data[1])
    return None


def data_name(data: Data | None) -> str | None:
    """The dataset's name (None for arrays)."""
    if isinstance(data, DataLoader):
        data = data.dataset
    return getattr(data, "name", None)
