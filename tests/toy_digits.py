"""Toy 28x28 "digits" for the tests: learnable in a few steps, made in microseconds."""

from __future__ import annotations

import numpy as np

from tinygrad_edu.data import Dataset


def blobs(n: int, seed: int = 0, name: str = "blobs", classes: int = 10) -> Dataset:
    """``n`` noisy images whose class k (of ``classes``) lights up a horizontal band at row
    2k + 3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 230
    return Dataset(images, labels, name, [str(c) for c in range(classes)])
