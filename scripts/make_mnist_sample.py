"""Build the MNIST sample that ships inside the package (``load_dataset("mnist-sample")``).

    python scripts/make_mnist_sample.py --source ../shared/data/mnist-24k

The choice is reproducible and needs no random numbers: the first ``--train-per-class`` images
of each digit in the official training set's order, and ``--test-per-class`` images of each
digit spread evenly over the official test set (its two halves come from different NIST sets;
a test part of the first 200 of each digit gave the course's MLP 92.9 % where the whole test set
gave 95.3 %); each split is kept in file order. ``--source`` is a
folder with MNIST's four IDX files whose training images are the official training set's first
ones (the 24,000 of ``mnist-24k``, or all 60,000). The four files are written as gzipped IDX into
``--out``, byte for byte the same on every run; the script prints their SHA-256 sums, which
``tinygrad_edu/data/datasets.py`` checks (``MNIST_SAMPLE_SHA256``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from tinygrad_edu.data import load_mnist, write_idx

OUT = Path(__file__).resolve().parents[1] / "tinygrad_edu" / "data" / "mnist_sample"


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices, in file order, of the first ``per_class`` images of each class."""
    rank = np.zeros(len(labels), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        rank[i] = seen.get(label, 0)
        seen[label] = rank[i] + 1
    short = {c: n for c, n in seen.items() if n < per_class}
    if short:
        raise SystemExit(f"too few images of classes {short} for {per_class} per class")
    return np.flatnonzero(rank < per_class)


def evenly_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices, in file order, of ``per_class`` images of each class spread evenly over the file:
    of a class's ``n`` images (in file order), those at ranks ``round(k (n - 1) / (m - 1))``."""
    chosen = []
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise SystemExit(f"too few images of class {c} for {per_class} per class")
        ranks = np.round(np.linspace(0, len(where) - 1, per_class)).astype(np.int64)
        chosen.append(where[ranks])
    return np.sort(np.concatenate(chosen))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, required=True, help="folder with the four MNIST files")
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT})")
    p.add_argument("--train-per-class", type=int, default=2000)
    p.add_argument("--test-per-class", type=int, default=300)
    args = p.parse_args(argv)
    train, test = load_mnist(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    splits = {
        "train": first_per_class(train.labels, args.train_per_class),
        "t10k": evenly_per_class(test.labels, args.test_per_class),
    }
    for name, index in splits.items():
        split = train if name == "train" else test
        write_idx(args.out / f"{name}-images-idx3-ubyte.gz", split.images[index])
        write_idx(args.out / f"{name}-labels-idx1-ubyte.gz", split.labels[index].astype(np.uint8))
        print(f"{name}: {len(index)} images, the last from index {index[-1]} of {split.name}")
    for path in sorted(args.out.glob("*.gz")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f'    "{path.name}": "{digest}",  # {path.stat().st_size:,} bytes')
    return 0


if __name__ == "__main__":
    sys.exit(main())
