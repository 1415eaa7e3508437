"""Augmentation (``shift_and_rotate``, ``AugmentedLoader``), ``shared_images`` and
``Dataset.one_vs_rest``."""

from __future__ import annotations

import numpy as np
import pytest
from toy_digits import blobs

from tinygrad_edu.data import AugmentedLoader, DatasetError, shared_images, shift_and_rotate
from tinygrad_edu.data.augment import _bilinear


def test_no_shift_no_turn_is_the_identity() -> None:
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    out = shift_and_rotate(x, np.random.default_rng(1), max_shift=0, max_degrees=0)
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_a_shift_moves_the_pixels() -> None:
    """With no rotation, each image moves by whole pixels: it equals the original rolled by
    some (dy, dx) with |dy|, |dx| <= 2 (the digit stays clear of the border)."""
    x = np.zeros((20, 28, 28), dtype=np.float32)
    x[:, 10:18, 9:20] = np.random.default_rng(0).random((20, 8, 11))
    out = shift_and_rotate(x, np.random.default_rng(3), max_shift=2, max_degrees=0)
    moves = set()
    for a, b in zip(x, out, strict=True):
        fits = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.allclose(np.roll(a, (dy, dx), axis=(0, 1)), b, atol=1e-5)
        ]
        assert len(fits) == 1
        moves.add(fits[0])
    assert len(moves) > 3  # each image its own shift


def test_a_turn_keeps_the_ink_and_moves_it() -> None:
    x = blobs(10).images.astype(np.float32) / 255
    x[:, :4], x[:, -4:], x[:, :, :4], x[:, :, -4:] = 0, 0, 0, 0  # clear of the corners
    out = shift_and_rotate(x, np.random.default_rng(0), max_shift=0, max_degrees=10)
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_allclose(out.sum(axis=(1, 2)), x.sum(axis=(1, 2)), rtol=0.03)
    assert np.abs(out - x).max() > 0.2


def bilinear_by_the_definition(image: np.ndarray, y: float, x: float) -> float:
    """One point, by the formula: the four pixels around (y, x), weighted by closeness; a pixel
    outside the image is 0; (y, x) is first clipped to within one pixel of the image."""
    h, w = image.shape
    y, x = min(max(y, -1.0), h - 1e-6), min(max(x, -1.0), w - 1e-6)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    fy, fx = y - y0, x - x0

    def pixel(i: int, j: int) -> float:
        return float(image[i, j]) if 0 <= i < h and 0 <= j < w else 0.0

    top = pixel(y0, x0) * (1 - fx) + pixel(y0, x0 + 1) * fx
    bottom = pixel(y0 + 1, x0) * (1 - fx) + pixel(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


@pytest.mark.parametrize("shape", [(3, 28, 28), (2, 5, 9)])
def test_bilinear_sampling_is_the_formula_inside_on_the_border_and_outside(shape) -> None:
    rng = np.random.default_rng(5)
    images = rng.random(shape)
    b, h, w = shape
    y = rng.uniform(-3, h + 2, (b, h, w))  # points inside, on the border and outside
    x = rng.uniform(-3, w + 2, (b, h, w))
    y[0, 0, :3], x[0, 0, :3] = [0, h - 1, h - 1], [0, w - 1, 0]  # exactly on pixels
    out = _bilinear(images, y, x)
    want = [
        [[bilinear_by_the_definition(images[n], y[n, i, j], x[n, i, j]) for j in range(w)]
         for i in range(h)]
        for n in range(b)
    ]  # fmt: skip
    np.testing.assert_allclose(out, want, rtol=1e-9, atol=1e-12)
    assert out[0, 0, 0] == images[0, 0, 0] and out[0, 0, 1] == images[0, h - 1, w - 1]


def test_augmented_loader_repeats_from_its_rng_state() -> None:
    data = blobs(50)
    loader = AugmentedLoader(data, 16, seed=4)
    first = [x.copy() for x, _ in loader]
    state = loader.rng.bit_generator.state
    second = [x for x, _ in loader]
    loader.rng.bit_generator.state = state
    again = [x for x, _ in loader]
    assert all(np.array_equal(a, b) for a, b in zip(second, again, strict=True))
    assert not np.array_equal(first[0], second[0])
    assert first[0].shape == (16, 784)
    assert AugmentedLoader(data, 16, seed=4, flatten=False).__iter__().__next__()[0].shape == (
        16, 1, 28, 28,
    )  # fmt: skip


def test_shared_images() -> None:
    train, test = blobs(40).images, blobs(10, seed=1).images.copy()
    test[[2, 7]] = train[[5, 30]]
    np.testing.assert_array_equal(shared_images(train, test), [2, 7])
    assert shared_images(train, test[:, :20]).size == 0  # other shapes share nothing
    assert shared_images(train[:0], test).size == 0


def test_one_vs_rest() -> None:
    data = blobs(30)
    threes = data.one_vs_rest(3)
    assert threes.classes == ["not 3", "3"] and threes.name == "blobs (3 vs rest)"
    np.testing.assert_array_equal(threes.labels, data.labels == 3)
    with pytest.raises(DatasetError, match=r"class 10 is not one of its classes 0\.\.9"):
        data.one_vs_rest(10)
