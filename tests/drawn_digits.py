"""Digits the tests draw themselves: a font's glyph "photographed" on uneven, noisy paper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
needs_font = pytest.mark.skipif(not FONT.exists(), reason=f"font {FONT} not installed")


def ink_mask(
    digit: int,
    size: tuple[int, int] = (300, 400),
    centre: tuple[float, float] = (0.35, 0.6),
    font_px: int = 200,
) -> np.ndarray:
    """Coverage in [0, 1] of ``digit`` drawn with DejaVu Sans Bold, centred at ``centre``
    (fractions of width, height) of a ``size = (width, height)`` canvas."""
    canvas = Image.new("L", size, 0)
    font = ImageFont.truetype(str(FONT), font_px)
    position = (centre[0] * size[0], centre[1] * size[1])
    ImageDraw.Draw(canvas).text(position, str(digit), fill=255, font=font, anchor="mm")
    return np.asarray(canvas, dtype=np.float64) / 255


def photograph(digit: int, seed: int = 0, **kwargs: object) -> np.ndarray:
    """A "photo" of ``digit``: dark ink on slightly yellow paper lit unevenly (a gradient from
    215 to 150 across the sheet), with Gaussian noise; RGB uint8 of shape (400, 300, 3)."""
    rng = np.random.default_rng(seed)
    mask = ink_mask(digit, **kwargs)  # type: ignore[arg-type]
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 215 - 65 * (0.6 * xx / w + 0.4 * yy / h)
    grey = paper * (1 - mask) + 40 * mask + rng.normal(0, 8, (h, w))
    rgb = np.stack([grey, grey * 0.97, grey * 0.9], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def pen_drawing(
    strokes: list[list[tuple[float, float]]], pen_px: int = 12, size: tuple[int, int] = (480, 640)
) -> np.ndarray:
    """Strokes (points in [0, 1]^2 of the sheet) drawn ``pen_px`` wide in dark ink on light
    paper: greyscale uint8 of shape (height, width)."""
    w, h = size
    canvas = Image.new("L", size, 225)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        draw.line([(x * w, y * h) for x, y in stroke], fill=30, width=pen_px, joint="curve")
    return np.asarray(canvas)


#: A seven: the top bar, then the long diagonal.
SEVEN = [[(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]]
