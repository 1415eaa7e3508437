"""Every figure writes a non-empty PNG of the expected size, opens no pyplot figure, and rejects
inputs of the wrong shape with a ValueError naming the argument."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from tinygrad_edu.course import plots

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (60, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 60)


def history(n: int = 200, evals: int = 5) -> dict[str, list[float]]:
    its = np.arange(1, n + 1)
    test_its = np.linspace(n / evals, n, evals).round()
    return {
        "iterations": its.tolist(),
        "train_loss": (2.3 * np.exp(-its / 40) + 0.1 * RNG.random(n)).tolist(),
        "train_acc": np.clip(1 - np.exp(-its / 30) - 0.05 * RNG.random(n), 0, 1).tolist(),
        "test_iterations": test_its.tolist(),
        "test_loss": (2.3 * np.exp(-test_its / 40) + 0.15).tolist(),
        "test_acc": (0.95 - 0.5 * np.exp(-test_its / 30)).tolist(),
        "epoch_end_iterations": [n / 2, n],
    }


def png_size(path: Path) -> tuple[int, int]:
    assert path.is_file() and path.stat().st_size > 5_000
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


@pytest.fixture(autouse=True)
def no_pyplot_figures_left() -> object:
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


# ----------------------------------------------------------------------------- history


def test_plot_history(tmp_path: Path) -> None:
    out = plots.plot_history(history(), tmp_path / "sub" / "history.png")
    assert out == tmp_path / "sub" / "history.png"
    w, h = png_size(out)
    assert 900 <= w <= 1400 and 300 <= h <= 600


def test_plot_history_accepts_objects_and_percentages(tmp_path: Path) -> None:
    fields = history()
    fields["train_acc"] = [100 * a for a in fields["train_acc"]]
    fields["test_acc"] = [100 * a for a in fields["test_acc"]]
    fields.pop("epoch_end_iterations")
    png_size(plots.plot_history(SimpleNamespace(**fields), tmp_path / "h.png", title="run 1"))


def test_plot_history_tests_only(tmp_path: Path) -> None:
    fields = {k: v for k, v in history().items() if k.startswith("test")}
    png_size(plots.plot_history(fields, tmp_path / "h.png"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"train_loss": [1.0, 2.0]}, "train_loss has 2 values but iterations has 200"),
        ({"test_acc": [0.5]}, "test_acc has 1 values but test_iterations has 5"),
        ({"train_acc": [[0.5]] * 200}, "1-D"),
        ({"train_loss": [float("nan")] * 200}, "NaN"),
        ({"test_acc": [5.0, 200.0, 1.0, 1.0, 1.0]}, r"\[0, 1\]"),
        ({k: [] for k in history()}, "nothing to plot"),
    ],
)
def test_plot_history_rejects_bad_fields(tmp_path: Path, change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_history({**history(), **change}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


# ----------------------------------------------------------------------------- confusion matrix


def test_plot_confusion_matrix(tmp_path: Path) -> None:
    cm = RNG.integers(0, 30, (10, 10)) + np.diag(RNG.integers(800, 1100, 10))
    w, h = png_size(plots.plot_confusion_matrix(cm, tmp_path / "cm.png"))
    assert 600 <= w <= 1000 and 500 <= h <= 900
    from tinygrad_edu.data.datasets import FASHION_CLASSES

    png_size(plots.plot_confusion_matrix(cm.astype(float), tmp_path / "f.png", FASHION_CLASSES))
    png_size(plots.plot_confusion_matrix(np.zeros((3, 3), int), tmp_path / "zero.png"))


@pytest.mark.parametrize(
    ("cm", "match"),
    [
        (np.zeros((10, 9)), "square"),
        (np.zeros(10), "square"),
        (-np.ones((10, 10)), "non-negative integer"),
        (np.full((10, 10), 0.5), "non-negative integer"),
    ],
)
def test_plot_confusion_matrix_rejects(tmp_path: Path, cm: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_confusion_matrix(cm, tmp_path / "cm.png")


def test_plot_confusion_matrix_needs_enough_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="class_names: 3 names given for 10 classes"):
        plots.plot_confusion_matrix(np.eye(10, dtype=int), tmp_path / "cm.png", ["a", "b", "c"])


# ----------------------------------------------------------------------------- digits


def test_plot_misclassified(tmp_path: Path) -> None:
    y_pred = LABELS.copy()
    y_pred[::2] = (y_pred[::2] + 1) % 10  # 30 wrong
    w, h = png_size(plots.plot_misclassified(IMAGES, LABELS, y_pred, tmp_path / "m.png"))
    assert 400 <= w <= 1200 and 400 <= h <= 1200
    flat = IMAGES.reshape(60, 784) / 255.0
    png_size(plots.plot_misclassified(flat, LABELS, y_pred, tmp_path / "m4.png", max_images=4))


def test_plot_misclassified_with_none_wrong(tmp_path: Path) -> None:
    path = tmp_path / "none.png"
    assert plots.plot_misclassified(IMAGES, LABELS, LABELS, path) == path
    assert path.stat().st_size > 1_000


@pytest.mark.parametrize(
    ("images", "y_true", "y_pred", "match"),
    [
        (IMAGES[:, :20], LABELS, LABELS, r"images: expected shape \(N, 28, 28\)"),
        (IMAGES, LABELS[:10], LABELS, r"y_true: expected 60 integer labels"),
        (IMAGES, LABELS, LABELS.astype(float), "y_pred: expected 60 integer labels"),
    ],
)
def test_plot_misclassified_rejects(
    tmp_path: Path, images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_misclassified(images, y_true, y_pred, tmp_path / "m.png")


def test_plot_samples(tmp_path: Path) -> None:
    w, h = png_size(plots.plot_samples(IMAGES, LABELS, tmp_path / "s.png", max_images=20))
    assert 800 <= w <= 1200 and 250 <= h <= 500  # 2 rows of 10
    names = [f"class {i}" for i in range(10)]
    png_size(plots.plot_samples(IMAGES[:3], LABELS[:3], tmp_path / "s3.png", class_names=names))


def test_plot_samples_rejects(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="labels: expected 60 integer labels"):
        plots.plot_samples(IMAGES, LABELS[:5], tmp_path / "s.png")
    with pytest.raises(ValueError, match="images"):
        plots.plot_samples(IMAGES[0], LABELS[:1], tmp_path / "s.png")
    with pytest.raises(ValueError, match="no images"):
        plots.plot_samples(IMAGES[:0], LABELS[:0], tmp_path / "s.png")


def test_a_grid_is_one_mosaic_with_each_image_below_its_title_band() -> None:
    images = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 3, 2))  # image i is all i
    mosaic = plots._mosaic(images, cols=2, gap=1, band=2)
    assert mosaic.shape == (3 * (2 + 3), 2 * 2 + 1)
    for i in range(5):
        row, col = divmod(i, 2)
        top, left = row * 5 + 2, col * 3
        cell = mosaic[top : top + 3, left : left + 2]
        assert not cell.mask.any() and (cell == i).all()
    assert mosaic.mask.sum() == mosaic.size - 5 * 6  # bands, gaps and the empty sixth cell


def test_grid_images_are_scaled_each_by_its_own_range() -> None:
    """As imshow scales an image in an Axes of its own: each to its min..max (gray digits), or
    each by its largest |w| (templates); a constant or all-zero image stays 0."""
    images = np.stack([np.linspace(10, 20, 4).reshape(2, 2), np.full((2, 2), 5.0)])
    np.testing.assert_allclose(plots._each_to_unit(images)[0], [[0, 1 / 3], [2 / 3, 1]])
    assert (plots._each_to_unit(images)[1] == 0).all()
    w = np.stack([np.array([[-2.0, 1.0], [0.5, 0.0]]), np.zeros((2, 2))])
    np.testing.assert_allclose(
        plots._each_to_symmetric(w), [[[-1, 0.5], [0.25, 0]], np.zeros((2, 2))]
    )


def test_grid_titles_never_overlap_nor_leave_the_figure() -> None:
    """Long class names widen the gaps between the images, not overlap their neighbours."""
    names = ["T-shirt/top", "Ankle boot", "Trouser"] * 4
    titles = [f"true {n}\npred {m} 99.9%" for n, m in zip(names, reversed(names), strict=True)]
    fig, ax = plots._digit_grid(IMAGES[:12], titles, 6, 1.1, "Predictions", lines=2)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    width = fig.get_size_inches()[0] * fig.dpi
    assert all(b.x0 >= 0 and b.x1 <= width for b in boxes)
    for row in (boxes[:6], boxes[6:]):
        assert all(a.x1 < b.x0 for a, b in pairwise(row))
    short, _ = plots._digit_grid(IMAGES[:12], ["0"] * 12, 6, 1.1, "Predictions")
    assert short.get_size_inches()[0] < fig.get_size_inches()[0]


# ----------------------------------------------------------------------------- weights


def test_plot_weight_templates_hidden_units(tmp_path: Path) -> None:
    weight = RNG.normal(0, 0.1, (40, 784)).astype(np.float32)
    w, h = png_size(plots.plot_weight_templates(weight, tmp_path / "w.png"))
    assert 800 <= w <= 1300 and 500 <= h <= 900  # 5 rows of 8
    few = plots.plot_weight_templates(weight, tmp_path / "w8.png", max_units=8)
    assert png_size(few)[1] < h


def test_a_one_image_grid_still_holds_its_title_and_colour_bar() -> None:
    """One template under a long title: the figure widens to the title, and the colour bar's
    ticks and label stay inside the figure, the label along the bar."""
    w = np.full((1, 28, 28), 0.5)
    title = "The output unit's weights, after 100 epochs of plain SGD"
    fig, ax = plots._digit_grid(
        w,
        ["unit 0"],
        1,
        1.0,
        title,
        limits=(-1, 1),
        min_height=2.6,
        bar=True,
        bar_label="w / max|w| (per template)",
    )
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    inside = fig.bbox.padded(1)
    texts = [*fig.texts, *ax.texts, fig.axes[1].yaxis.label, *fig.axes[1].get_yticklabels()]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1), text
    bar, label = fig.axes[1].get_window_extent(renderer), fig.axes[1].yaxis.label
    along = label.get_window_extent(renderer)
    assert bar.y0 - 2 <= along.y0 and along.y1 <= bar.y1 + 2, "the label no longer than its bar"


def test_weight_templates_are_drawn_red_for_positive_and_blue_for_negative(
    tmp_path: Path,
) -> None:
    """Unit 0 all positive, unit 1 all negative: each a square of about 100 x 100 pixels at the
    ends of the colour map (each template scaled by its own largest |w|)."""
    weight = np.stack([np.full(784, 0.3), np.full(784, -0.01)])
    with Image.open(plots.plot_weight_templates(weight, tmp_path / "w.png")) as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    red = (np.abs(rgb - [103, 0, 31]).sum(axis=-1) < 30).sum()
    blue = (np.abs(rgb - [5, 48, 97]).sum(axis=-1) < 30).sum()
    assert 9_000 < red < 11_000 and 9_000 < blue < 11_000


def test_plot_weight_templates_per_class_and_tensor(tmp_path: Path) -> None:
    from tinygrad_edu import nn

    layer = nn.Linear(784, 10, seed=0)
    w, h = png_size(plots.plot_weight_templates(layer.weight, tmp_path / "w10.png"))
    assert w > h  # 2 rows of 5
    png_size(plots.plot_weight_templates(np.zeros((10, 28, 28)), tmp_path / "zeros.png"))


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (np.zeros((784, 64)), r"pass weight\.T"),
        (np.zeros((64, 100)), r"\(units, 784\)"),
        (np.zeros(784), r"\(units, 784\)"),
        (np.full((10, 784), np.inf), "NaN or infinity"),
    ],
)
def test_plot_weight_templates_rejects(tmp_path: Path, weight: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_weight_templates(weight, tmp_path / "w.png")


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


def test_smoothing_is_centred_so_it_does_not_lag() -> None:
    """A straight falling line is its own centred moving average (a trailing one would sit
    above it: the lag that made the train curve look worse than the test curve)."""
    line = np.linspace(2.0, 0.5, 101)
    np.testing.assert_allclose(plots._smooth(line, 20), line)
    noisy = line + 0.1 * np.where(np.arange(101) % 2, 1, -1)
    assert np.abs(plots._smooth(noisy, 21) - line)[10:-10].max() < 0.01


def test_long_runs_count_epochs_and_draw_no_line_per_epoch(tmp_path: Path) -> None:
    """250 epochs: the x-axis counts epochs (not minibatches) and no epoch-end lines are drawn;
    the loss may be on a log scale."""
    n, epochs = 2500, 250
    fields = history(n, evals=epochs)
    fields["epoch_end_iterations"] = np.linspace(n / epochs, n, epochs).tolist()
    curves = plots._history_curves(fields)
    to_x, label = plots._epoch_axis(curves)
    assert label == "epoch" and to_x(np.array([0.0, 10.0, 2500.0])).tolist() == [0, 1, 250]
    assert plots._epoch_axis(plots._history_curves(history()))[1] == "iteration (minibatch)"
    png_size(plots.plot_history(fields, tmp_path / "long.png", log_loss=True))


def test_plot_overfitting_runs(tmp_path: Path) -> None:
    runs = [("2,000 images", [0.5, 0.9, 1.0], [0.5, 0.8, 0.85]), ("all", [0.6, 0.9], [0.6, 0.88])]
    w, _ = png_size(plots.plot_overfitting_runs(runs, tmp_path / "o.png", "MLP"))
    assert w > 900
    with pytest.raises(ValueError, match="all: train_acc and val_acc need one value per epoch"):
        plots.plot_overfitting_runs([("all", [0.5], [])], tmp_path / "x.png")


def test_plot_overfitting_runs_ticks_whole_epochs() -> None:
    fig = plots.plot_overfitting_runs([("3 epochs", [0.5, 0.8, 0.9], [0.5, 0.7, 0.8])])
    fig.canvas.draw()
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks == [1, 2, 3]


def test_plot_conv_filters(tmp_path: Path) -> None:
    weight = RNG.normal(size=(12, 1, 5, 5))
    png_size(plots.plot_conv_filters(weight, tmp_path / "filters.png"))
    with pytest.raises(ValueError, match=r"expected \(out_channels, 1, kh, kw\), got \(12, 3, 5\)"):
        plots.plot_conv_filters(RNG.normal(size=(12, 3, 5)), tmp_path / "x.png")


# ----------------------------------------------------------------------------- inline figures


def inline_calls() -> list[tuple[str, object]]:
    """(name, a call of each plot function with no path)."""
    photo = np.full((120, 90), 210, np.uint8)
    photo[30:90, 40:52] = 30
    neuron = SimpleNamespace(
        digit=3, weight=RNG.normal(size=(28, 28)), bias=-1.5, test_acc=0.97, baseline_acc=0.9
    )
    return [
        ("history", lambda: plots.plot_history(history())),
        ("histories", lambda: plots.plot_histories({"a": history(), "b": history()})),
        ("confusion", lambda: plots.plot_confusion_matrix(np.eye(3, dtype=int) * 5)),
        ("misclassified", lambda: plots.plot_misclassified(IMAGES, LABELS, LABELS[::-1])),
        (
            "predictions",
            lambda: plots.plot_predictions(IMAGES[:5], LABELS[:5], LABELS[:5], [1] * 5),
        ),
        ("samples", lambda: plots.plot_samples(IMAGES, LABELS)),
        ("templates", lambda: plots.plot_weight_templates(RNG.normal(size=(10, 784)))),
        ("filters", lambda: plots.plot_conv_filters(RNG.normal(size=(4, 1, 5, 5)))),
        ("overfitting", lambda: plots.plot_overfitting([0.5, 0.9], [0.5, 0.8])),
        ("runs", lambda: plots.plot_overfitting_runs([("a", [0.5, 0.9], [0.5, 0.8])])),
        ("own digit", lambda: plots.plot_preprocessing(photo)),
        ("single neuron", lambda: plots.plot_single_neuron(neuron, IMAGES, LABELS)),
    ]


@pytest.mark.parametrize(("name", "call"), inline_calls(), ids=[n for n, _ in inline_calls()])
def test_without_a_path_a_plot_returns_its_figure_for_a_notebook(name: str, call) -> None:
    """No path: the Figure itself (Jupyter shows it inline), drawn, saveable, not in pyplot."""
    from matplotlib.figure import Figure

    fig = call()
    assert isinstance(fig, Figure) and fig.axes, name
    assert fig.axes[0].get_images() or fig.axes[0].get_lines(), name
    fig.canvas.draw()
    assert fig.canvas.buffer_rgba().nbytes > 100_000


def test_plot_histories_draws_one_line_per_run_with_its_final_accuracy(tmp_path: Path) -> None:
    runs = {"SGD": history(), "Adam": history(evals=8)}
    runs["Adam"]["test_acc"] = [0.5, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.975]
    fig = plots.plot_histories(runs, title="optimisers")
    ax_loss, ax_acc = fig.axes
    assert [line.get_label() for line in ax_loss.get_lines()] == ["SGD", "Adam"]
    sgd_final = 100 * runs["SGD"]["test_acc"][-1]
    labels = [line.get_label() for line in ax_acc.get_lines()]
    assert labels == [f"SGD ({sgd_final:.2f}%)", "Adam (97.50%)"]
    assert list(ax_acc.get_lines()[1].get_ydata()) == pytest.approx(
        [100 * a for a in runs["Adam"]["test_acc"]]
    )
    assert ax_acc.get_ylim()[0] <= 100 * 0.8 and ax_acc.get_ylim()[1] == 100.5
    assert ax_loss.get_yscale() == "linear" and ax_loss.get_ylim()[0] == 0
    log = plots.plot_histories(runs, log_loss=True)
    assert log.axes[0].get_yscale() == "log"
    png_size(plots.plot_histories(runs, tmp_path / "h.png"))
    with pytest.raises(ValueError, match=r"histories\['x'\]: no test evaluations"):
        plots.plot_histories({"x": {"iterations": [0, 1], "train_loss": [1.0, 0.5]}})
    with pytest.raises(ValueError, match="histories: nothing to plot"):
        plots.plot_histories({})


def test_plot_single_neuron_shows_the_class_means_and_the_weights(tmp_path: Path) -> None:
    labels = np.array([0, 1, 0, 2])
    images = np.zeros((4, 28, 28), np.uint8)
    images[labels == 0, 5:10, 5:10] = 255  # the 0s: ink top left; the others: ink bottom right
    images[labels != 0, 20:25, 20:25] = 255
    weight = np.zeros((28, 28))
    weight[5:10, 5:10], weight[20:25, 20:25] = 2.0, -1.0
    neuron = SimpleNamespace(digit=0, weight=weight, bias=0.5, test_acc=0.99, baseline_acc=0.9)
    fig = plots.plot_single_neuron(neuron, images, labels)
    mean_digit, mean_rest, w = (ax.get_images()[0].get_array() for ax in fig.axes[:3])
    assert mean_digit[7, 7] == 1 and mean_digit[22, 22] == 0
    assert mean_rest[22, 22] == 1 and mean_rest[7, 7] == 0
    np.testing.assert_array_equal(w, weight)
    assert fig.axes[2].get_images()[0].get_clim() == (-2.0, 2.0)
    assert "99.00%" in fig._suptitle.get_text() and "b = +0.50" in fig.axes[2].get_title()
    w_px, _ = png_size(plots.plot_single_neuron(neuron, images, labels, tmp_path / "n.png"))
    assert 800 <= w_px <= 1100
    with pytest.raises(ValueError, match="need images of 0 and of other digits"):
        plots.plot_single_neuron(neuron, images[labels == 0], labels[labels == 0])
    with pytest.raises(ValueError, match="expected 784 finite weights"):
        plots.plot_single_neuron(
            SimpleNamespace(**{**vars(neuron), "weight": weight[:5]}), images, labels
        )
