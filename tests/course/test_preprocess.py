"""preprocess_digit on digits the tests draw themselves: photographed-style, inverse, edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from drawn_digits import SEVEN, ink_mask, needs_font, pen_drawing, photograph
from PIL import Image

from tinygrad_edu.course.preprocess import (
    BOX_SIZE,
    THIN_STROKE,
    ImageError,
    load_greyscale,
    otsu_threshold,
    preprocess_digit,
    preprocess_steps,
    stroke_width,
)


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    rows, cols = np.mgrid[0 : x.shape[0], 0 : x.shape[1]]
    return float((x * rows).sum() / x.sum()), float((x * cols).sum() / x.sum())


def bounding_box(x: np.ndarray, level: float = 0.0) -> tuple[int, int]:
    """Height and width of the box holding the pixels above ``level``."""
    rows, cols = np.flatnonzero((x > level).any(axis=1)), np.flatnonzero((x > level).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def aligned_corr(a: np.ndarray, b: np.ndarray) -> float:
    """The best correlation of ``a`` with ``b`` shifted by up to one pixel (centring rounds the
    centre of mass to a whole pixel, so near-ties may land one pixel apart)."""
    return max(
        float(np.corrcoef(a.ravel(), np.roll(b, (dy, dx), axis=(0, 1)).ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def assert_mnist_like(x: np.ndarray) -> None:
    """28x28 float32 in [0, 1], white ink on black, box within 20x20, centre of mass ~(14, 14)."""
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    # white ink on black: the corners are black and ink covers a minority of the pixels
    assert x[:4, :4].max() == x[:4, -4:].max() == x[-4:, :4].max() == x[-4:, -4:].max() == 0
    assert np.median(x) == 0 and (x > 0.5).mean() < 0.35
    h, w = bounding_box(x)
    assert max(h, w) <= BOX_SIZE and max(h, w) >= BOX_SIZE - 1
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0, (cy, cx)


# ----------------------------------------------------------------------------- photos


@needs_font
@pytest.mark.parametrize("digit", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_photographed_jpeg_becomes_mnist_like(digit: int, tmp_path: Path) -> None:
    path = tmp_path / f"digit{digit}.jpg"
    Image.fromarray(photograph(digit, seed=digit)).save(path, quality=85)
    x = preprocess_digit(path)
    assert_mnist_like(x)
    # the ink became white: the digit's strokes (not the paper) carry the mass
    ideal = preprocess_digit((255 * (1 - ink_mask(digit))).astype(np.uint8))
    assert aligned_corr(x, ideal) > 0.95


@needs_font
def test_inputs_path_str_pil_and_array_agree(tmp_path: Path) -> None:
    rgb = photograph(3)
    path = tmp_path / "three.png"
    Image.fromarray(rgb).save(path)
    from_array = preprocess_digit(rgb)
    for other in (
        preprocess_digit(path),
        preprocess_digit(str(path)),
        preprocess_digit(Image.fromarray(rgb)),
    ):
        np.testing.assert_allclose(other, from_array, atol=1e-6)


@needs_font
def test_light_ink_on_dark_background_is_not_inverted() -> None:
    """Chalk on a blackboard: already white on black, so it must come out the same way round."""
    x = preprocess_digit(255 - photograph(5, seed=1))
    assert_mnist_like(x)
    dark_on_light = preprocess_digit(photograph(5, seed=1))
    assert aligned_corr(x, dark_on_light) > 0.95


@needs_font
def test_off_centre_and_small_digit_is_centred() -> None:
    for centre in [(0.15, 0.15), (0.85, 0.85), (0.8, 0.2)]:
        x = preprocess_digit(photograph(2, centre=centre, font_px=90))
        assert_mnist_like(x)


@needs_font
def test_rgba_transparent_background_is_white_paper(tmp_path: Path) -> None:
    mask = ink_mask(7, size=(200, 240), centre=(0.5, 0.5), font_px=150)
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)  # black colour everywhere...
    rgba[..., 3] = (255 * mask).astype(np.uint8)  # ...opaque only where the ink is
    path = tmp_path / "seven.png"
    Image.fromarray(rgba).save(path)
    for image in (rgba, path):
        x = preprocess_digit(image)
        assert_mnist_like(x)
    assert load_greyscale(rgba)[0, 0] == 1.0  # transparent -> white


@needs_font
def test_sixteen_bit_greyscale(tmp_path: Path) -> None:
    grey16 = (photograph(4)[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    path = tmp_path / "four16.png"
    Image.fromarray(grey16).save(path)
    assert Image.open(path).mode.startswith("I")
    grey8 = preprocess_digit(photograph(4)[..., 0])
    for image in (grey16, path):
        x = preprocess_digit(image)
        assert_mnist_like(x)
        assert aligned_corr(x, grey8) > 0.99


@needs_font
def test_specks_are_ignored() -> None:
    clean = photograph(1, seed=2)
    dusty = clean.copy()
    dusty[10:15, 270:275] = 30  # a dark speck in the corner, far from the digit
    dusty[380:383, 20:23] = 20
    np.testing.assert_allclose(preprocess_digit(dusty), preprocess_digit(clean), atol=1e-3)


@needs_font
def test_large_photo_is_fast_and_same() -> None:
    import time

    small = photograph(8)
    big = np.asarray(Image.fromarray(small).resize((1500, 2000), Image.Resampling.BILINEAR))
    start = time.perf_counter()
    x = preprocess_digit(big)
    assert time.perf_counter() - start < 5.0  # ~0.3 s on an idle machine
    assert_mnist_like(x)
    assert aligned_corr(x, preprocess_digit(small)) > 0.95


def test_float_and_bool_arrays() -> None:
    x = np.zeros((40, 40))
    x[8:32, 18:23] = 1.0  # a white bar ("1") on black
    out = preprocess_digit(x)
    assert out.shape == (28, 28)
    assert bounding_box(out, 0.05)[0] == BOX_SIZE
    np.testing.assert_allclose(preprocess_digit(x > 0.5), out, atol=1e-6)


def test_mnist_digit_is_nearly_a_fixed_point(mnist_dir: Path) -> None:
    """A real MNIST digit is already preprocessed: doing it again changes little."""
    from tinygrad_edu.data import load_mnist

    _, test = load_mnist(mnist_dir)
    corr = [
        np.corrcoef(test.images[i].ravel() / 255, preprocess_digit(test.images[i]).ravel())[0, 1]
        for i in range(50)
    ]
    assert np.median(corr) > 0.95


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "image",
    [
        np.full((300, 400), 200, np.uint8),  # blank paper
        np.zeros((28, 28), np.uint8),  # black
        np.tile(np.linspace(60, 230, 400), (300, 1)).astype(np.uint8),  # only a lighting gradient
        np.clip(np.random.default_rng(0).normal(180, 10, (300, 400)), 0, 255).astype(np.uint8),
    ],
    ids=["paper", "black", "gradient", "noise"],
)
def test_blank_image_raises(image: np.ndarray) -> None:
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_digit(image)


def test_non_image_file_raises(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is not a PNG\n")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        preprocess_digit(text)


def test_missing_file_and_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        preprocess_digit(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="directory"):
        preprocess_digit(tmp_path)


def test_truncated_file_raises(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    full = tmp_path / "full.jpg"
    Image.fromarray(rng.integers(0, 255, (200, 200), dtype=np.uint8)).save(full)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[:500])
    with pytest.raises(ImageError, match=r"cut\.jpg"):
        preprocess_digit(cut)


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((0, 10), np.uint8), "empty"),
        (np.zeros(10, np.uint8), "shape"),
        (np.zeros((10, 10, 5), np.uint8), "shape"),
        (np.full((10, 10), 2.0), r"\[0, 1\]"),
        (np.full((10, 10), np.nan), "NaN"),
        (np.full((10, 10), -3, np.int64), "0..255"),
        (np.zeros((5, 5), np.uint8), "too small"),
    ],
)
def test_bad_arrays_raise(image: np.ndarray, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        preprocess_digit(image)


def test_wrong_type_raises_type_error() -> None:
    with pytest.raises(TypeError, match="path, a PIL image or a numpy array"):
        preprocess_digit([[0, 1], [1, 0]])  # type: ignore[arg-type]


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)


def test_otsu_threshold_separates_two_modes() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.1, 0.02, 900), rng.normal(0.8, 0.05, 100)])
    t = otsu_threshold(values)
    assert values[:900].max() < t < values[900:].min()
    assert otsu_threshold(np.full(10, 0.3)) == 0.3


# ----------------------------------------------------------------------------- pen width


def test_thin_pen_strokes_are_thickened_to_mnist_width() -> None:
    """A 6 px ballpoint line on a 640 px photo is ~1/70 of the digit; MNIST's are ~1/8."""
    photo = pen_drawing(SEVEN, pen_px=6)
    steps = preprocess_steps(photo)
    assert steps.thickened and steps.stroke < THIN_STROKE
    mask = steps.output > 0.5
    assert stroke_width(mask) / BOX_SIZE > 0.09  # ~2 px or more in the 20 px box
    assert_mnist_like(steps.output)
    thin = preprocess_digit(photo, thicken=False)
    assert (thin > 0.5).sum() < mask.sum() / 2
    assert_mnist_like(preprocess_digit(pen_drawing(SEVEN, pen_px=6, size=(3000, 4000))))


def test_thick_strokes_are_left_alone() -> None:
    photo = pen_drawing(SEVEN, pen_px=40)
    steps = preprocess_steps(photo)
    assert not steps.thickened and steps.stroke > THIN_STROKE
    np.testing.assert_array_equal(steps.output, preprocess_digit(photo, thicken=False))


def test_stroke_width_of_a_bar() -> None:
    bar = np.zeros((100, 100), dtype=bool)
    bar[10:90, 40:48] = True  # 8 px wide, 80 long
    assert 7 <= stroke_width(bar) <= 9
    assert stroke_width(np.zeros((5, 5), dtype=bool)) == 0.0


def test_components_match_scipy_8_connectivity() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    from tinygrad_edu.course.preprocess import _components

    rng = np.random.default_rng(0)
    for density in (0.1, 0.4, 0.6):
        mask = rng.random((40, 50)) < density
        labels, sizes = _components(mask)
        expected, count = ndimage.label(mask, structure=np.ones((3, 3)))
        assert len(sizes) == count
        assert sorted(sizes) == sorted(np.bincount(expected.ravel())[1:])
        # the same partition: each of our components is exactly one of scipy's
        pairs = set(zip(labels[mask], expected[mask], strict=True))
        assert len(pairs) == count
    assert _components(np.zeros((4, 4), dtype=bool))[1].size == 0
