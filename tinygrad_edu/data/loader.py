"""Mini-batches of a :class:`~tinygrad_edu.data.datasets.Dataset` as numpy arrays."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .datasets import Dataset

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate ``(x, y)`` batches: ``x = images / 255`` (float32 in ``[0, 1]``), shape
    ``(B, H*W)`` if ``flatten`` else ``(B, 1, H, W)``; ``y`` int64 ``(B,)``.

    The float32 copy of the whole dataset is made once, on first use; each epoch then indexes it
    with one permutation (``shuffle=True``) or in order. With ``shuffle``, every ``iter()`` draws
    a new permutation from a generator seeded by ``seed``, so equal seeds give bit-identical
    epochs. The last short batch is dropped when ``drop_last``.
    """

    def __init__(
        self,
        dataset: Dataset,
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
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.flatten = flatten
        self._rng = np.random.default_rng(seed)
        self._x: np.ndarray | None = None

    def __len__(self) -> int:
        """Batches per epoch: ``floor(N / B)`` if ``drop_last`` else ``ceil(N / B)``."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _features(self) -> np.ndarray:
        """All images as float32 in ``[0, 1]``, shaped for batching (cached)."""
        if self._x is None:
            images = self.dataset.images
            n, h, w = images.shape
            x = images.astype(np.float32)
            x /= np.float32(255)
            self._x = x.reshape(n, h * w) if self.flatten else x.reshape(n, 1, h, w)
        return self._x

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y = self._features(), self.dataset.labels
        n, b = len(y), self.batch_size
        order = self._rng.permutation(n) if self.shuffle else None
        stop = (n // b) * b if self.drop_last else n
        for start in range(0, stop, b):
            if order is None:
                yield x[start : start + b].copy(), y[start : start + b].copy()
            else:
                index = order[start : start + b]
                yield x[index], y[index]
