"""A small CNN on MNIST, trained with tinygrad_edu itself (Conv2d, MaxPool2d, Adam).

    conv 5x5, 32 -> ReLU -> max-pool 2 -> conv 5x5, 64 -> ReLU -> max-pool 2 -> flatten (1024)
    -> linear 128 -> ReLU -> linear 10        (N, 1, 28, 28) -> logits (N, 10); 184,586 parameters

trained with Adam (learning rate 2e-3, times 0.7 after each epoch, batches of 128, each image
shifted by up to 2 pixels at random) on the 24k training images of ``../shared/data/mnist-24k``
and evaluated on the official 10k test set; prints each epoch's time and test accuracy.

    python examples/cnn_mnist.py [--data-dir DIR] [--epochs 8] [--lr 2e-3] [--shift 2]

On a busy machine OpenBLAS's two threads can wait on each other: ``OPENBLAS_NUM_THREADS=1``
is then often faster (and steadier) than the default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import Tensor, nn, no_grad
from tinygrad_edu.data import DataLoader, Dataset, load_dataset
from tinygrad_edu.nn.models import build_cnn
from tinygrad_edu.optim import Adam

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image of x (N, C, H, W) by its own random (dy, dx), |dy|, |dx| <=
    ``max_shift`` pixels, filling with 0 (background): out[n, :, i, j] = x[n, :, i - dy, j - dx].
    """
    if max_shift <= 0:
        return x
    n, _, h, w = x.shape
    s = max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
    crops = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
    dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))  # (N, C, 2s+1, 2s+1, H, W) -> pick one
    return np.ascontiguousarray(crops[np.arange(n), :, dy, dx])


def train_epoch(
    model: nn.Module,
    opt: Adam,
    loader: DataLoader,
    max_shift: int = 0,
    rng: np.random.Generator | None = None,
) -> float:
    """One pass over ``loader``: forward, mean cross-entropy, backward, Adam step per batch,
    each image randomly shifted by up to ``max_shift`` pixels. Returns the mean training loss."""
    model.train()
    rng = np.random.default_rng(0) if rng is None else rng
    total, count = 0.0, 0
    for x, y in loader:
        loss = nn.cross_entropy(model(Tensor(random_shift(x, max_shift, rng))), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / max(count, 1)


@no_grad()
def accuracy(model: nn.Module, dataset: Dataset, batch_size: int = 500) -> float:
    """Fraction of ``dataset`` whose arg-max logit is the label."""
    model.eval()
    correct = 0
    for x, y in DataLoader(dataset, batch_size, flatten=False):
        correct += int((model(Tensor(x)).argmax(axis=1) == y).sum())
    return correct / len(dataset)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's initial learning rate")
    parser.add_argument(
        "--lr-decay", type=float, default=0.7, help="learning rate factor after each epoch"
    )
    parser.add_argument("--channels", type=int, nargs=2, default=(32, 64), metavar=("C1", "C2"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument(
        "--shift", type=int, default=2, help="augment: random translations of up to N pixels"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-limit", type=int, default=None, help="use only the first N training images"
    )
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--quiet", action="store_true", help="print the final line only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and evaluate; returns the test accuracy, each epoch's wall-clock and CPU seconds
    (all threads) and mean training loss, and the total time."""
    args = parse_args(argv)
    start = time.perf_counter()
    train, test = load_dataset("mnist", data_dir=args.data_dir, download=False, fallback=False)
    if args.train_limit:
        train = train.subset(args.train_limit)
    if args.test_limit:
        test = test.subset(args.test_limit)
    model = build_cnn(tuple(args.channels), args.hidden, seed=args.seed)
    opt = Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(train, args.batch_size, shuffle=True, seed=args.seed, flatten=False)
    shift_rng = np.random.default_rng(args.seed + 1)
    say = (lambda *a: None) if args.quiet else print
    say(
        f"CNN {args.channels[0]}-{args.channels[1]}-{args.hidden}: "
        f"{model.num_parameters():,} parameters; {len(train):,} training and {len(test):,} "
        f"test images; Adam lr {args.lr:g} x{args.lr_decay:g}/epoch, batch {args.batch_size}, "
        f"random shifts <= {args.shift} px"
    )
    epoch_times, cpu_times, losses, acc = [], [], [], float("nan")
    for epoch in range(1, args.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        losses.append(train_epoch(model, opt, loader, args.shift, shift_rng))
        epoch_times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        acc = accuracy(model, test)
        eval_time = time.perf_counter() - t0 - epoch_times[-1]
        say(
            f"epoch {epoch}: loss {losses[-1]:.4f}  test accuracy {acc:.2%}  "
            f"train {epoch_times[-1]:.1f} s (CPU {cpu_times[-1]:.1f} s)  eval {eval_time:.1f} s"
        )
        opt.lr *= args.lr_decay
    total = time.perf_counter() - start
    median = float(np.median(epoch_times)) if epoch_times else float("nan")
    print(
        f"final test accuracy {acc:.2%} after {args.epochs} epochs; "
        f"{median:.1f} s/epoch (median), total {total:.1f} s"
    )
    return {
        "accuracy": acc,
        "epoch_times": epoch_times,
        "cpu_times": cpu_times,
        "losses": losses,
        "epochs": args.epochs,
        "total_time": total,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
