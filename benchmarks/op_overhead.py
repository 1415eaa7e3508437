"""Time one training step of the seeds' 784-64-10 sigmoid MLP: Tensor ops vs hand-written numpy.

Both do the same work per step on the same real MNIST minibatches: forward, mean softmax
cross-entropy, backward (no gradient for the input batch), and an in-place SGD update. The two
are timed interleaved, round after round, so a busy core slows both alike; the table gives the
median time per step and the ratio Tensor / numpy (with the ratio's spread across rounds).

    python benchmarks/op_overhead.py [--data-dir ../shared/data/mnist-24k] [--rounds 7]

Targets (issue: the autodiff engine): ratio <= 1.15 at batch 256 and <= 3 at batch 1.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.fused import CrossEntropy
from tinygrad_edu.nn.init import aligned_copy

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
LR = 0.1


def load_images(data_dir: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n training images (float32 in [0, 1], shape (n, 784)) and labels."""
    with gzip.open(data_dir / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    with gzip.open(data_dir / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    x = images.reshape(-1, 784)[:n].astype(np.float32) / 255
    return x, labels[:n].astype(np.int64)


def init_params(seed: int = 0) -> list[np.ndarray]:
    """W1 (784, 64), b1 (64,), W2 (64, 10), b2 (10,): N(0, 0.1^2) weights, zero biases.

    Both variants get 64-byte-aligned copies: alignment alone can change the update's time 2x.
    """
    rng = np.random.default_rng(seed)
    params = [
        (rng.standard_normal((784, 64)) * 0.1).astype(np.float32),
        np.zeros(64, np.float32),
        (rng.standard_normal((64, 10)) * 0.1).astype(np.float32),
        np.zeros(10, np.float32),
    ]
    return [aligned_copy(p) for p in params]


class NumpyMLP:
    """The step written by hand, as a student would after deriving the gradients."""

    def __init__(self) -> None:
        self.W1, self.b1, self.W2, self.b2 = init_params()

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        n = x.shape[0]
        h = 1 / (1 + np.exp(-(np.dot(x, self.W1) + self.b1)))
        z2 = np.dot(h, self.W2) + self.b2
        z2 -= z2.max(axis=1, keepdims=True)
        p = np.exp(z2)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean()
        dz2 = p
        dz2[np.arange(n), y] -= 1
        dz2 /= n
        dW2 = np.dot(h.T, dz2)
        db2 = dz2.sum(axis=0)
        dz1 = np.dot(dz2, self.W2.T) * h * (1 - h)
        dW1 = np.dot(x.T, dz1)
        db1 = dz1.sum(axis=0)
        self.W1 -= LR * dW1
        self.b1 -= LR * db1
        self.W2 -= LR * dW2
        self.b2 -= LR * db2
        return float(loss)


class TensorMLP:
    """The same step with tinygrad_edu's Tensor ops and backward."""

    def __init__(self) -> None:
        self.params = [Tensor(p, requires_grad=True) for p in init_params()]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2 = self.params
        h = (Tensor(x) @ W1 + b1).sigmoid()
        loss = CrossEntropy.apply(h @ W2 + b2, targets=y)
        for p in self.params:
            p.grad = None
        loss.backward()
        for p in self.params:
            p.data -= LR * p.grad
        return float(loss.data)


def time_steps(model: NumpyMLP | TensorMLP, batches: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Seconds per step over the given batches."""
    start = time.perf_counter()
    for x, y in batches:
        model.step(x, y)
    return (time.perf_counter() - start) / len(batches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-sizes", default="1,16,256")
    args = parser.parse_args(argv)
    if not (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        print(
            f"op_overhead: no MNIST IDX files in {args.data_dir} (use --data-dir)", file=sys.stderr
        )
        return 2
    x_all, y_all = load_images(args.data_dir, 24000)
    models = {"numpy": NumpyMLP(), "tensor": TensorMLP()}
    # Same start, same batches: the two losses agree (a check that both do the same work).
    check = {name: type(m)() for name, m in models.items()}
    losses = {
        name: [m.step(x_all[:256], y_all[:256]) for _ in range(3)] for name, m in check.items()
    }
    np.testing.assert_allclose(losses["numpy"], losses["tensor"], rtol=1e-4)

    print(f"# op overhead: 784-64-10 sigmoid MLP, one SGD step, {args.rounds} interleaved rounds")
    print("| batch | numpy us/step | tensor us/step | ratio (median) | ratio min..max | target |")
    print("|---:|---:|---:|---:|---|---:|")
    rng = np.random.default_rng(0)
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        steps = max(20, min(400, 40000 // bs))
        idx = rng.permutation(len(x_all))
        batches = [
            (
                x_all[idx[i * bs % (len(idx) - bs) :][:bs]],
                y_all[idx[i * bs % (len(idx) - bs) :][:bs]],
            )
            for i in range(steps)
        ]
        for m in models.values():  # warm-up
            time_steps(m, batches[:5])
        times: dict[str, list[float]] = {"numpy": [], "tensor": []}
        for r in range(args.rounds):
            order = ("numpy", "tensor") if r % 2 == 0 else ("tensor", "numpy")
            for name in order:
                times[name].append(time_steps(models[name], batches))
        ratios = [t / n for t, n in zip(times["tensor"], times["numpy"], strict=True)]
        target = {1: "<= 3", 256: "<= 1.15"}.get(bs, "-")
        print(
            f"| {bs} | {statistics.median(times['numpy']) * 1e6:.0f} "
            f"| {statistics.median(times['tensor']) * 1e6:.0f} "
            f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}..{max(ratios):.2f} "
            f"| {target} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
