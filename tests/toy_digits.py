"""Toy 28x28 "digits" for the tests: learnable in a few steps, made in microseconds."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu.data as data_module
from tinygrad_edu.data import Dataset, DatasetError


def blobs(n: int, seed: int = 0, name: str = "blobs", classes: int = 10) -> Dataset:
    """``n`` noisy images whose class k (of ``classes``) lights up a horizontal band at row
    2k + 3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 230
    return Dataset(images, labels, name, [str(c) for c in range(classes)])


def patch_load_dataset(
    monkeypatch: pytest.MonkeyPatch, n_train: int = 300, n_test: int = 100
) -> list[tuple]:
    """``load_dataset`` returns toy digits (``n_train`` and ``n_test`` of them; "png" without a
    folder is an error, as the real one says); returns the list of calls it receives."""
    calls: list[tuple] = []

    def fake_load(name, data_dir=None, download=True, quiet=False, fallback=True):
        calls.append((name, data_dir, download))
        if name == "png" and data_dir is None:
            raise DatasetError("png: data_dir is required")
        return blobs(n_train), blobs(n_test, seed=1)

    monkeypatch.setattr(data_module, "load_dataset", fake_load)
    return calls
