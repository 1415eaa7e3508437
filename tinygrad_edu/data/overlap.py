"""Images two datasets share: ``shared_images(known, images)`` finds which of ``images`` are
byte for byte among ``known`` (e.g. test images that were trained on)."""

from __future__ import annotations

import numpy as np

__all__ = ["shared_images"]


def _rows(images: np.ndarray) -> list[bytes]:
    """Each image's pixels as one bytes object (images of equal shape and dtype compare equal
    exactly when their bytes do)."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return [row.tobytes() for row in flat]


def shared_images(known: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Indices ``i`` (ascending) such that ``images[i]`` equals some image of ``known`` pixel for
    pixel. Both are (N, H, W) arrays; images of another shape or dtype share nothing."""
    if known.shape[1:] != images.shape[1:] or known.dtype != images.dtype or not len(known):
        return np.zeros(0, dtype=np.intp)
    seen = set(_rows(known))
    return np.array([i for i, row in enumerate(_rows(images)) if row in seen], dtype=np.intp)
