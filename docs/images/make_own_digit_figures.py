"""Regenerate the figures of docs/own_digit.md (run from the repo root, ~10 s).

    python docs/images/make_own_digit_figures.py ../shared/data/mnist-24k

Trains a small MLP for one epoch on MNIST, "photographs" a digit drawn with pen strokes (blue
ink, uneven light, noise), and saves the preprocessing steps with the network's answer, plus
a grid of real MNIST digits for comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tinygrad_edu import nn
from tinygrad_edu import training as train
from tinygrad_edu.course import plots
from tinygrad_edu.course.preprocess import preprocess_steps
from tinygrad_edu.data import load_mnist
from tinygrad_edu.optim import Adam
from tinygrad_edu.viz import plots as viz_plots

OUT = Path(__file__).resolve().parent


def pen_photo(strokes: list[list[tuple[float, float]]], seed: int = 0) -> np.ndarray:
    """Strokes (points in [0, 1]^2 of the sheet) drawn with a 14 px pen on a 480x640 "photo"
    of paper: a shadow gradient, slightly blue ink, sensor noise. RGB uint8."""
    rng = np.random.default_rng(seed)
    w, h = 480, 640
    ink = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(ink)
    for stroke in strokes:
        points = [(x * w + rng.normal(0, 1.5), y * h + rng.normal(0, 1.5)) for x, y in stroke]
        draw.line(points, fill=255, width=14, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=255)
    ink = ink.rotate(-6, resample=Image.Resampling.BICUBIC)
    m = np.asarray(ink, dtype=np.float64)[..., None] / 255
    yy, xx = np.mgrid[0:h, 0:w]
    light = 225 - 80 * (0.7 * xx / w + 0.5 * yy / h) ** 1.5
    paper = np.stack([light, light * 0.98, light * 0.92], axis=-1)
    pen = np.array([40.0, 50.0, 110.0])
    rgb = paper * (1 - m) + pen * m + rng.normal(0, 6, (h, w, 1))
    return np.clip(rgb, 0, 255).astype(np.uint8)


FOUR = [[(0.55, 0.25), (0.33, 0.58), (0.68, 0.58)], [(0.58, 0.42), (0.56, 0.80)]]


def shrink_png(path: Path, colours: int = 128) -> None:
    """Re-save a figure with an adaptive palette (a third of the size, looks the same)."""
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(mnist_dir: str) -> None:
    train_set, test_set = load_mnist(mnist_dir)
    model = nn.MLP([784, 128, 10], activation="relu", seed=0)
    optimizer = Adam(model.parameters(), lr=1e-3)
    train.fit(model, train_set, None, "cross_entropy", optimizer, epochs=1, batch_size=64, seed=0)
    photo = pen_photo(FOUR)
    Image.fromarray(photo).save(OUT / "own_digit_photo.jpg", quality=80)
    steps = preprocess_steps(OUT / "own_digit_photo.jpg")
    probs, _ = train.predict(model, steps.output.reshape(1, -1))
    plots.plot_preprocessing(steps, OUT / "own_digit_steps.png", probs=probs[0])
    shrink_png(OUT / "own_digit_steps.png")
    viz_plots.plot_samples(
        test_set.images,
        test_set.labels,
        OUT / "mnist_samples.png",
        max_images=20,
        title="Real MNIST test digits: make yours look like these",
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist-24k")
