"""Every general figure (viz/plots.py) writes a non-empty PNG of the expected size, opens no
pyplot figure, and rejects inputs of the wrong shape with a ValueError naming the argument."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from figure_checks import assert_inline_figure, png_size
from PIL import Image

from tinygrad_edu.viz import plots

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


def test_plot_predictions_never_round_up_to_100(tmp_path: Path, drawn: dict) -> None:
    """eval --first's figure: 99.996 % reads 99.99%, as the terminal prints it, not 100.0%."""
    confidence = np.array([0.99996, 0.5, 1.0, 0.123456])
    path = plots.plot_predictions(
        IMAGES[:4], LABELS[:4], LABELS[:4], confidence, tmp_path / "p.png"
    )
    w, h = png_size(path)
    assert (w, h) == (drawn[path].width, drawn[path].height) and 1.5 < w / h < 3.5
    text = drawn[path].text
    assert "Predictions" in text and "100.0%" not in text
    for p in ("99.99%", "50.00%", "100.00%", "12.35%"):
        assert p in text


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


def test_one_unit_is_not_captioned_unit_0(tmp_path: Path, drawn: dict) -> None:
    """A single unit's template: the title names it; a caption "unit 0" read as the digit 0."""
    path = plots.plot_weight_templates(RNG.normal(size=(1, 784)), tmp_path / "one.png")
    assert "The output unit's weights" in drawn[path].text
    assert "unit 0" not in drawn[path].text and drawn[path].overlaps == []


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


# ----------------------------------------------------------------------------- curves


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
    to_x, label, lines = plots._x_axis(curves, None, 0)
    assert label == "epoch" and to_x(np.array([0.0, 10.0, 2500.0])).tolist() == [0, 1, 250]
    assert not lines
    short = plots._x_axis(plots._history_curves(history()), None, 0)
    assert short.label == "iteration (minibatch)" and short.epoch_lines
    png_size(plots.plot_history(fields, tmp_path / "long.png", log_loss=True))


def test_the_x_axis_is_chosen_iterations_or_epochs(tmp_path: Path, drawn: dict) -> None:
    """plot --x: 250 epochs against iterations (no 250 dotted lines), 2 epochs against epochs;
    with every = k the training curve is the mean of each k minibatches, as the test points
    are every k updates (a handout's curves every k iterations)."""
    n, epochs = 2500, 250
    long = history(n, evals=epochs)
    long["epoch_end_iterations"] = np.linspace(n / epochs, n, epochs).tolist()
    path = plots.plot_history(long, tmp_path / "its.png", x_axis="iterations", every=100)
    figure = drawn[path]
    assert (figure.width, figure.height) == (1100, 420) and figure.overlaps == []
    assert "iteration (minibatch); train and test every 100" in figure.text
    assert "train (mean of each 100 minibatches)" in figure.text
    assert "end of epoch" not in figure.text and "epoch\n" not in figure.text + "\n"
    short = plots.plot_history(history(), tmp_path / "epochs.png", x_axis="epochs")
    labels = drawn[short].text.splitlines()
    assert "epoch" in labels and "iteration (minibatch)" not in labels
    default = plots.plot_history(history(), tmp_path / "default.png")
    assert "iteration (minibatch)" in drawn[default].text.splitlines()
    assert "end of epoch" in drawn[default].text


def test_every_k_minibatches_is_a_mean_at_their_middle() -> None:
    """A straight line is its own block mean: no lag (the last block is partial)."""
    its = np.arange(7.0)  # minibatches before updates 1..7
    middles, means = plots._every_k(its, 2 * its + 1, 3)
    assert middles.tolist() == [1, 4, 6] and means.tolist() == [3, 9, 13]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"x_axis": "minibatches"}, "x_axis: expected one of iterations, epochs"),
        ({"every": -1}, "every: expected an integer >= 0"),
        ({"every": 2.5}, "every: expected an integer >= 0"),
    ],
)
def test_plot_history_rejects_bad_axes(tmp_path: Path, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_history(history(), tmp_path / "h.png", **options)
    fields = {**history(), "epoch_end_iterations": []}
    with pytest.raises(ValueError, match="no epoch has ended yet"):
        plots.plot_history(fields, tmp_path / "h.png", x_axis="epochs")


def test_plot_conv_filters(tmp_path: Path) -> None:
    weight = RNG.normal(size=(12, 1, 5, 5))
    png_size(plots.plot_conv_filters(weight, tmp_path / "filters.png"))
    with pytest.raises(ValueError, match=r"expected \(out_channels, 1, kh, kw\), got \(12, 3, 5\)"):
        plots.plot_conv_filters(RNG.normal(size=(12, 3, 5)), tmp_path / "x.png")


# ----------------------------------------------------------------------------- several runs


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


def test_plot_histories_never_rounds_a_final_accuracy_up_to_100() -> None:
    run = history()
    run["test_acc"][-1] = 0.99996
    fig = plots.plot_histories({"run": run})
    assert fig.axes[1].get_lines()[0].get_label() == "run (99.99%)"


# ----------------------------------------------------------------------------- inline figures


def inline_calls() -> list[tuple[str, object]]:
    """(name, a call of each general plot function with no path)."""
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
    ]


@pytest.mark.parametrize(("name", "call"), inline_calls(), ids=[n for n, _ in inline_calls()])
def test_without_a_path_a_plot_returns_its_figure_for_a_notebook(name: str, call) -> None:
    """No path: the Figure itself (Jupyter shows it inline), drawn, saveable, not in pyplot."""
    assert_inline_figure(name, call())
