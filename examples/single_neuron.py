"""One sigmoid neuron that tells a 0 from the other digits.

    python examples/single_neuron.py [--data-dir ../shared/data/mnist-24k] [--out DIR]
                                     [--epochs 10] [--lr 0.5] [--digit 0] [--quick]

p(x) = sigmoid(w . x + b) with 784 weights, trained with binary cross-entropy by plain SGD on the
training set (label 1 = the digit, 0 = any other digit). Prints its accuracy on the test set
next to the trivial baseline that always answers "not 0" (90.2% on MNIST's test set, which
holds 980 zeros in 10,000), and the precision and recall of the 0 class. Saves the weights as a
28x28 image (``DIR/single_neuron_weights.png``) beside the mean images of the two classes, and
the table (``DIR/single_neuron.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygrad_edu.course.single_neuron import SingleNeuronResult, train_single_neuron
from tinygrad_edu.data import Dataset, load_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-24k"


def plot_single_neuron(result: SingleNeuronResult, train: Dataset, path: str | Path) -> Path:
    """Three 28x28 panels: the mean image of the digit, the mean of the other digits, and the
    neuron's weights w on a diverging colormap (red: ink there raises p, blue: lowers it)."""
    d = result.digit
    images = train.images.astype(np.float64) / 255
    is_digit = train.labels == d
    fig = Figure(figsize=(9.6, 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, mean, label in (
        (axes[0], images[is_digit].mean(axis=0), f"mean image of the {d}s"),
        (axes[1], images[~is_digit].mean(axis=0), "mean image of the other digits"),
    ):
        im = ax.imshow(mean, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(label, fontsize=10)
    bar = fig.colorbar(im, ax=axes[:2], shrink=0.8, aspect=20)
    bar.set_label("mean pixel value (0 = blank, 1 = ink)", fontsize=9)
    limit = float(np.abs(result.weight).max()) or 1.0
    im = axes[2].imshow(result.weight, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[2].set_title(f"weights w (bias b = {result.bias:+.2f})", fontsize=10)
    bar = fig.colorbar(im, ax=axes[2], shrink=0.8, aspect=20)
    bar.set_label(f"w_ij: red votes '{d}', blue 'not {d}'", fontsize=9)
    for ax in axes:
        ax.set_xticks([0, 14, 27])
        ax.set_yticks([0, 14, 27])
        ax.tick_params(labelsize=8)
        ax.set_xlabel("pixel column", fontsize=9)
    axes[0].set_ylabel("pixel row", fontsize=9)
    fig.suptitle(
        f"One sigmoid neuron, {d} vs rest: test accuracy {100 * result.test_acc:.2f}% "
        f"(always 'not {d}': {100 * result.baseline_acc:.2f}%)",
        fontsize=11,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's four IDX files")
    parser.add_argument("--out", type=Path, default=Path("runs/single_neuron"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--digit", type=int, default=0, choices=range(10), metavar="0..9")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2,000 training images, 2 epochs")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if not args.lr > 0:
        parser.error("--lr must be > 0")
    data_dir = args.data_dir or (DEFAULT_MNIST if DEFAULT_MNIST.is_dir() else None)
    if data_dir is not None and not Path(data_dir).is_dir():
        parser.error(f"--data-dir {data_dir} is not a folder")
    train, test = load_dataset("mnist", data_dir=data_dir)
    epochs = args.epochs
    if args.quick:
        train, epochs = train.subset(min(2000, len(train))), 2

    result = train_single_neuron(
        train, test, epochs, args.lr, args.batch_size, digit=args.digit, seed=args.seed
    )
    header = (
        f"One sigmoid neuron, {args.digit} vs rest: {train.name} ({len(train):,} images), "
        f"{epochs} epochs of SGD lr {args.lr:g}, batch {args.batch_size}, zero init, "
        f"{result.train_seconds:.2f} s training; tested on {test.name} ({len(test):,} images)."
    )
    table = f"{header}\n\n{result.to_markdown()}"
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "single_neuron.md").write_text(table, encoding="utf-8")
    figure = plot_single_neuron(result, train, args.out / "single_neuron_weights.png")
    print(f"wrote {args.out / 'single_neuron.md'} and {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
