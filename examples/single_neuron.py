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

from tinygrad_edu.course.plots import plot_single_neuron
from tinygrad_edu.course.single_neuron import train_single_neuron
from tinygrad_edu.data import load_dataset
from tinygrad_edu.viz.text import percent_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-24k"


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
    d = args.digit
    figure = plot_single_neuron(
        result.weight,
        result.bias,
        train.images,
        train.labels == d,
        args.out / "single_neuron_weights.png",
        str(d),
        title=f"One sigmoid neuron, {d} vs rest: test accuracy {percent_text(result.test_acc)}% "
        f"(always 'not {d}': {percent_text(result.baseline_acc)}%)",
    )
    print(f"wrote {args.out / 'single_neuron.md'} and {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
