"""The handouts' figures (course/plots.py) write a non-empty PNG of the expected size and text,
open no pyplot figure, and reject inputs of the wrong shape with a ValueError naming the
argument."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from figure_checks import assert_inline_figure, png_size

from tinygrad_edu.course import plots

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (60, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 60)


@pytest.fixture(autouse=True)
def no_pyplot_figures_left() -> object:
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


# ----------------------------------------------------------------------------- overfitting


def test_plot_overfitting(tmp_path: Path) -> None:
    train = [0.80, 0.90, 0.95, 0.98, 0.99, 1.0]
    val = [0.78, 0.85, 0.87, 0.87, 0.86, 0.86]
    w, h = png_size(plots.plot_overfitting(train, val, tmp_path / "o.png", title="2,000 images"))
    assert 500 <= w <= 800 and 300 <= h <= 600
    percent = [100 * a for a in train], [100 * a for a in val]
    png_size(plots.plot_overfitting(*percent, tmp_path / "p.png", ylim=(70, 100)))
    png_size(plots.plot_overfitting([0.5], [0.4], tmp_path / "one.png"))


@pytest.mark.parametrize(
    ("train", "val", "match"),
    [
        ([0.5, 0.6], [0.5], "one value per epoch"),
        ([], [], "one value per epoch"),
        ([0.5, 150.0], [0.5, 0.6], r"\[0, 1\]"),
        ([[0.5]], [[0.5]], "1-D"),
    ],
)
def test_plot_overfitting_rejects(tmp_path: Path, train: list, val: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_overfitting(train, val, tmp_path / "o.png")


# ----------------------------------------------------------------------------- own digit


def test_plot_preprocessing(tmp_path: Path) -> None:
    from tinygrad_edu.course.preprocess import preprocess_steps

    photo = np.full((120, 90), 210, np.uint8)
    photo[30:90, 40:52] = 30  # a dark "1" on light paper
    w, h = png_size(plots.plot_preprocessing(photo, tmp_path / "steps.png"))
    assert 900 <= w <= 1200 and 250 <= h <= 400
    probs = np.full(10, 0.02)
    probs[1] = 0.82
    steps = preprocess_steps(photo)
    w5, _ = png_size(plots.plot_preprocessing(steps, tmp_path / "p.png", probs=probs))
    assert w5 > w


def test_plot_preprocessing_rejects(tmp_path: Path) -> None:
    from tinygrad_edu.course.preprocess import ImageError

    photo = np.full((120, 90), 210, np.uint8)
    photo[30:90, 40:52] = 30
    with pytest.raises(ValueError, match="probs: expected class probabilities summing to 1"):
        plots.plot_preprocessing(photo, tmp_path / "p.png", probs=[0.5, 0.2])
    with pytest.raises(ImageError, match="no digit found"):
        plots.plot_preprocessing(np.full((50, 50), 200, np.uint8), tmp_path / "blank.png")


def test_plot_overfitting_runs_with_losses(tmp_path: Path, drawn: dict) -> None:
    """A second row of loss curves, the epoch of the lowest validation loss marked: after it
    the validation loss rises while the training loss falls (overfitting)."""
    runs = [("2,000 images", [0.5, 0.9, 1.0], [0.5, 0.8, 0.85]), ("all", [0.6, 0.9], [0.6, 0.88])]
    losses = [([1.2, 0.4, 0.1], [1.3, 0.6, 0.7]), ([1.0, 0.3], [1.1, 0.4])]
    path = plots.plot_overfitting_runs(runs, tmp_path / "o.png", "MLP", losses=losses)
    w, h = png_size(path)
    figure = drawn[path]
    assert (w, h) == (1040, 760) and figure.overlaps == []
    for text in (
        "MLP",
        "accuracy (%)",
        "cross-entropy loss",
        "lowest validation loss: epoch 2",
        "gap (last epoch: +15.0 pts)",
        "epoch",
    ):
        assert text in figure.text
    assert len(figure.text.split("lowest validation loss")) == 3  # one mark per run
    with pytest.raises(ValueError, match="losses: 1 pairs given for 2 runs"):
        plots.plot_overfitting_runs(runs, tmp_path / "x.png", losses=losses[:1])
    with pytest.raises(ValueError, match="all: train_loss and val_loss need one value per epoch"):
        plots.plot_overfitting_runs(runs, tmp_path / "x.png", losses=[losses[0], ([1.0], [1.0])])


def test_plot_overfitting_runs(tmp_path: Path) -> None:
    runs = [("2,000 images", [0.5, 0.9, 1.0], [0.5, 0.8, 0.85]), ("all", [0.6, 0.9], [0.6, 0.88])]
    w, _ = png_size(plots.plot_overfitting_runs(runs, tmp_path / "o.png", "MLP"))
    assert w > 900
    with pytest.raises(ValueError, match="all: train_acc and val_acc need one value per epoch"):
        plots.plot_overfitting_runs([("all", [0.5], [])], tmp_path / "x.png")


def test_plot_overfitting_runs_ticks_whole_epochs() -> None:
    losses = [([1.0, 0.6, 0.5], [1.1, 0.8, 0.9])]
    fig = plots.plot_overfitting_runs(
        [("3 epochs", [0.5, 0.8, 0.9], [0.5, 0.7, 0.8])], losses=losses
    )
    fig.canvas.draw()
    for ax in fig.axes:  # the accuracy row and the loss row
        assert [t for t in ax.get_xticks() if 1 <= t <= 3] == [1, 2, 3]


# ----------------------------------------------------------------------------- single neuron


def test_plot_single_neuron(tmp_path: Path, drawn: dict) -> None:
    """The mean 0, the mean of the rest and the weights, side by side, titled so that no
    template reads as a digit; uint8 or float images, a (1, 784) or (28, 28) weight."""
    is_zero = LABELS == 0
    weight = RNG.normal(0, 0.1, (1, 784))
    path = plots.plot_single_neuron(weight, -1.5, IMAGES, is_zero, tmp_path / "n.png")
    w, h = png_size(path)
    figure = drawn[path]
    assert (w, h) == (figure.width, figure.height) and 2.5 < figure.aspect < 3.2
    for text in (
        "One sigmoid neuron: 0 or not 0",
        "mean image of the 0s",
        "mean image of the other digits",
        "weights w (bias b = -1.50)",
        "w: red votes '0', blue 'not 0'",
        "mean pixel value (0 = blank, 1 = ink)",
    ):
        assert text in figure.text
    assert "unit 0" not in figure.text and figure.overlaps == []
    floats = IMAGES.reshape(60, 784) / 255.0
    titled = plots.plot_single_neuron(
        weight.reshape(28, 28), 0.2, floats, is_zero, tmp_path / "t.png", "7", title="Seven"
    )
    assert "Seven" in drawn[titled].text and "mean image of the 7s" in drawn[titled].text


@pytest.mark.parametrize(
    ("weight", "is_digit", "match"),
    [
        (np.zeros((2, 784)), LABELS == 0, "expected 784 weights"),
        (np.full(784, np.nan), LABELS == 0, "NaN"),
        (np.zeros(784), LABELS[:5] == 0, "expected 60 flags"),
        (np.zeros(784), np.ones(60, bool), "needs images of 0 and of other digits"),
    ],
)
def test_plot_single_neuron_rejects(
    tmp_path: Path, weight: np.ndarray, is_digit: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_single_neuron(weight, 0.0, IMAGES, is_digit, tmp_path / "n.png")


def test_plot_network_inputs(tmp_path: Path, drawn: dict) -> None:
    """predict --figure: each 28x28 input beside its probabilities, one row per image; long
    file names are shortened, and 99.996 % reads 99.99%, as the terminal prints it."""
    inputs = IMAGES[:3] / 255.0
    probs = np.full((3, 10), 0.1)
    probs[0] = [0.99996] + [0.04 / 900] * 9
    names = ["seven.jpg", "a_photo_with_a_very_long_file_name.jpg", "two.png"]
    path = plots.plot_network_inputs(inputs, probs, tmp_path / "p.png", names, title="model")
    w, h = png_size(path)
    figure = drawn[path]
    assert (w, h) == (640, 3 * 250 + 40) and figure.overlaps == []
    for text in (
        "model",
        "seven.jpg",
        "a_photo_w...e_name.jpg",
        "the 28x28 input",
        "probability (%)",
    ):
        assert text in figure.text
    assert "prediction: 0 (99.99%)" in figure.text and "100.0" not in figure.text
    assert "prediction: 0 (10.00%)" in figure.text  # a tie: the first class
    one = plots.plot_network_inputs(inputs[:1].reshape(1, 784), probs[:1, :], tmp_path / "1.png")
    assert drawn[one].height == 250 and "input 0" in drawn[one].text


@pytest.mark.parametrize(
    ("probs", "names", "match"),
    [
        (np.full((2, 10), 0.1), None, r"probs: expected one row per input, \(3, K\)"),
        (np.full((3, 10), 0.2), None, "probs: expected class probabilities summing to 1"),
        (np.full((3, 10), 0.1), ["a"], "names: 1 names given for 3 inputs"),
    ],
)
def test_plot_network_inputs_rejects(
    tmp_path: Path, probs: np.ndarray, names: list | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_network_inputs(IMAGES[:3] / 255.0, probs, tmp_path / "p.png", names)


def test_plot_single_neuron_shows_the_class_means_and_the_weights(tmp_path: Path) -> None:
    """The panels hold the mean image of the digit, that of the rest (uint8 pixels / 255) and
    the weights themselves on the symmetric scale [-max|w|, +max|w|]."""
    labels = np.array([0, 1, 0, 2])
    images = np.zeros((4, 28, 28), np.uint8)
    images[labels == 0, 5:10, 5:10] = 255  # the 0s: ink top left; the others: ink bottom right
    images[labels != 0, 20:25, 20:25] = 255
    weight = np.zeros((28, 28))
    weight[5:10, 5:10], weight[20:25, 20:25] = 2.0, -1.0
    fig = plots.plot_single_neuron(weight, 0.5, images, labels == 0)
    mean_digit, mean_rest, w = (ax.get_images()[0].get_array() for ax in fig.axes[:3])
    assert mean_digit[7, 7] == 1 and mean_digit[22, 22] == 0
    assert mean_rest[22, 22] == 1 and mean_rest[7, 7] == 0
    np.testing.assert_array_equal(w, weight)
    assert fig.axes[2].get_images()[0].get_clim() == (-2.0, 2.0)
    assert "b = +0.50" in fig.axes[2].get_title()


# ----------------------------------------------------------------------------- inline figures


def inline_calls() -> list[tuple[str, object]]:
    """(name, a call of each of the handouts' plot functions with no path)."""
    photo = np.full((120, 90), 210, np.uint8)
    photo[30:90, 40:52] = 30
    weight = RNG.normal(size=(28, 28))
    probs = np.full((2, 10), 0.1)
    return [
        ("overfitting", lambda: plots.plot_overfitting([0.5, 0.9], [0.5, 0.8])),
        ("runs", lambda: plots.plot_overfitting_runs([("a", [0.5, 0.9], [0.5, 0.8])])),
        ("own digit", lambda: plots.plot_preprocessing(photo)),
        ("network inputs", lambda: plots.plot_network_inputs(IMAGES[:2] / 255, probs)),
        ("single neuron", lambda: plots.plot_single_neuron(weight, -1.5, IMAGES, LABELS == 3)),
    ]


@pytest.mark.parametrize(("name", "call"), inline_calls(), ids=[n for n, _ in inline_calls()])
def test_without_a_path_a_plot_returns_its_figure_for_a_notebook(name: str, call) -> None:
    """No path: the Figure itself (Jupyter shows it inline), drawn, saveable, not in pyplot."""
    assert_inline_figure(name, call())
