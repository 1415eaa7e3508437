"""Mini-batches of a :class:`~tinygrad_edu.data.datasets.Dataset`, or of arrays, as numpy arrays."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .datasets import Dataset

__all__ = ["DataLoader", "as_features"]


class DataLoader:
    """Iterate ``(x, y)`` batches of a Dataset or of a pair ``(x, y)`` of arrays.

    ``x`` is float: uint8 images become ``images / 255`` (float32 in ``[0, 1]``), float arrays
    are kept. With ``flatten`` each sample is a row ``(B, H*W)``; without, (N, H, W) images gain
    the channel axis ``(B, 1, H, W)``. ``y`` is the labels (Dataset: int64 ``(B,)``; arrays: as
    given, any shape with N rows).

    The float32 copy of the whole dataset is made once, on first use; each epoch then indexes it
    with one permutation (``shuffle=True``) or in order. With ``shuffle``, every ``iter()`` draws
    a new permutation from the generator ``rng`` seeded by ``seed``, so equal seeds give
    bit-identical epochs (a checkpoint saves ``rng``'s state to resume the same order). The last
    short batch is dropped when ``drop_last``.
    """

    def __init__(
        self,
        dataset: Dataset | tuple[Any, Any],
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        flatten: bool = True,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be > 0, got {batch_size}")
        self.dataset = dataset
        self.labels = _labels(dataset)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.flatten = flatten
        self.rng = np.random.default_rng(seed)
        self._x: np.ndarray | None = None

    def __len__(self) -> int:
        """Batches per epoch: ``floor(N / B)`` if ``drop_last`` else ``ceil(N / B)``."""
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _features(self) -> np.ndarray:
        """All inputs, as floats shaped for batching (cached)."""
        if self._x is None:
            images = isinstance(self.dataset, Dataset)
            x = as_features(self.dataset.images if images else self.dataset[0])
            if self.flatten and (images or x.ndim > 2):
                x = x.reshape(len(x), -1)
            elif not self.flatten and x.ndim == 3:
                x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
            self._x = x
        return self._x

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y = self._features(), self.labels
        n, b = len(y), self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        stop = (n // b) * b if self.drop_last else n
        for start in range(0, stop, b):
            if order is None:
                yield x[start : start + b].copy(), y[start : start + b].copy()
            else:
                index = order[start : start + b]
                yield x[index], y[index]


def _labels(dataset: Any) -> np.ndarray:
    """The labels (targets) of a Dataset or of a pair ``(x, y)`` with as many rows as x."""
    if isinstance(dataset, Dataset):
        return dataset.labels
    if not (isinstance(dataset, tuple) and len(dataset) == 2):
        raise TypeError(
            f"DataLoader: expected a Dataset or a pair (x, y) of arrays, got "
            f"{type(dataset).__name__}"
        )
    x, y = np.asarray(dataset[0]), np.asarray(dataset[1])
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(f"DataLoader: x of shape {x.shape} and y of shape {y.shape} differ in N")
    return y


def as_features(x: Any) -> np.ndarray:
    """Model inputs as floats: uint8 images scaled to [0, 1] float32 (x / 255), float arrays as
    given. Raises TypeError for other dtypes."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        scaled = x.astype(np.float32)
        scaled /= np.float32(255)
        return scaled
    if x.dtype.kind != "f":
        raise TypeError(f"expected float or uint8 inputs, got dtype {x.dtype}")
    return x
