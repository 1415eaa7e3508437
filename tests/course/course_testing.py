"""What the course's tests share: toy 28x28 "digits" and a reader for Markdown tables."""

from __future__ import annotations

import numpy as np

from tinygrad_edu.data import Dataset


def blobs(n: int, seed: int = 0, classes: int = 10) -> Dataset:
    """Toy 28x28 "digits": class k lights up a horizontal band at row 2k + 3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 230
    return Dataset(images, labels, "blobs", [str(c) for c in range(classes)])


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's rows (header first, the --- line skipped)."""
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows if not set("".join(r)) <= set("-: ")]
