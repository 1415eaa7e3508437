"""Time one training step of the course's 784-64-10 sigmoid MLP: Tensor ops vs hand-written numpy.

All rows do the same work per step on the same real MNIST minibatches: forward, mean softmax
cross-entropy, backward (no gradient for the input batch), and an in-place SGD update. Rows:
``numpy`` (by hand), ``tensor`` (Tensor ops with the fused ``CrossEntropy`` op),
``primitives`` (the loss from separate ops: ``-F.log_softmax(z, axis=1)[rows, y].mean()``) and
``bare tape`` (the primitives' numpy calls on a bare tape of backward closures, ``_tape.py``:
the floor of any eager Python autodiff, with none of the engine's checks or features). They
are timed interleaved, round after round, in a rotating order, so a busy core slows all alike;
the table gives the median time per step and each ratio to numpy (median and spread across
rounds).

    python benchmarks/op_overhead.py [--data-dir ../shared/data/mnist-24k] [--rounds 7]
        [--batch-sizes 1,16,256]

Targets (issue: performance), for the step in primitive ops: at most 1.5x numpy at batch 1,
1.8x at batch 16 and 1.05x at batch 256.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import _tape as tape
import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.cli.options import positive_int
from tinygrad_edu.engine.memory import keep_freed_memory
from tinygrad_edu.fused import CrossEntropy
from tinygrad_edu.nn import functional as F
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
        loss = self.loss(h @ W2 + b2, y)
        for p in self.params:
            p.grad = None
        loss.backward()
        for p in self.params:
            p.data -= LR * p.grad
        return float(loss.data)

    def loss(self, z: Tensor, y: np.ndarray) -> Tensor:
        return CrossEntropy.apply(z, targets=y)


class PrimitivesMLP(TensorMLP):
    """The same step, the loss written with separate ops (log-softmax, an index, a mean)."""

    def loss(self, z: Tensor, y: np.ndarray) -> Tensor:
        return -F.log_softmax(z, axis=1)[np.arange(len(y)), y].mean()


class TapeMLP:
    """The primitives row's numpy calls, op for op as the engine makes them, recorded on a bare
    tape of backward closures (``_tape.py``): what any eager Python autodiff pays at the least
    for this step. A floor to read the primitives row against: it has no checks, broadcasting
    rules, hooks or grad mode."""

    def __init__(self) -> None:
        self.params = [tape.Node(p) for p in init_params()]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        ops: list[tape.Node] = []
        w1, b1, w2, b2 = self.params
        a1 = tape.matmul(ops, tape.Node(x), w1, need_a=False)
        h = tape.sigmoid(ops, tape.add_row(ops, a1, b1))
        z = tape.add_row(ops, tape.matmul(ops, h, w2, need_a=True), b2)
        loss = tape.neg(ops, tape.mean(ops, tape.pick(ops, tape.log_softmax(ops, z), y)))
        tape.run_backward(ops, loss)
        tape.sgd(self.params, LR)
        return float(loss.data)


TARGETS = {1: 1.5, 16: 1.8, 256: 1.05}


def time_steps(model: NumpyMLP | TensorMLP, batches: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Seconds per step over the given batches."""
    start = time.perf_counter()
    for x, y in batches:
        model.step(x, y)
    return (time.perf_counter() - start) / len(batches)


def time_batch(
    models: dict[str, NumpyMLP | TensorMLP],
    x_all: np.ndarray,
    y_all: np.ndarray,
    bs: int,
    rounds: int,
    rng: np.random.Generator,
) -> dict[str, list[float]]:
    """Seconds per step of each model at batch size ``bs``, one list entry per round."""
    steps = max(20, min(400, 40000 // bs))
    idx = rng.permutation(len(x_all))
    batches = [
        (x_all[idx[i * bs % (len(idx) - bs) :][:bs]], y_all[idx[i * bs % (len(idx) - bs) :][:bs]])
        for i in range(steps)
    ]
    for m in models.values():  # warm-up
        time_steps(m, batches[:5])
    names = list(models)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(time_steps(models[name], batches))
    return times


def batch_sizes(text: str) -> list[int]:
    """The batch sizes "1,16,256" as [1, 16, 256]: positive integers, comma-separated."""
    return [positive_int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=positive_int, default=7)
    parser.add_argument("--batch-sizes", type=batch_sizes, default="1,16,256")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as fit and the command line do (tinygrad_edu.engine.memory)
    if not (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        print(
            f"op_overhead: no MNIST IDX files in {args.data_dir} (use --data-dir)", file=sys.stderr
        )
        return 2
    x_all, y_all = load_images(args.data_dir, 24000)
    kinds = {"numpy": NumpyMLP, "tensor": TensorMLP, "primitives": PrimitivesMLP, "tape": TapeMLP}
    models = {name: kind() for name, kind in kinds.items()}
    # Same start, same batches: the losses agree (a check that all do the same work).
    losses = {name: kind().step(x_all[:256], y_all[:256]) for name, kind in kinds.items()}
    for name in kinds:
        np.testing.assert_allclose(losses[name], losses["numpy"], rtol=1e-4)

    print(
        f"# op overhead: 784-64-10 sigmoid MLP, one SGD step, {args.rounds} interleaved rounds; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        "| batch | numpy us/step | tensor us/step | ratio | primitives us/step | ratio "
        "| primitives ratio min..max | target | bare tape us/step | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for bs in args.batch_sizes:
        times = time_batch(models, x_all, y_all, bs, args.rounds, rng)
        med = {name: statistics.median(t) * 1e6 for name, t in times.items()}
        ratios = {
            name: [t / n for t, n in zip(times[name], times["numpy"], strict=True)]
            for name in ("tensor", "primitives", "tape")
        }
        prim = ratios["primitives"]
        print(
            f"| {bs} | {med['numpy']:.0f} | {med['tensor']:.0f} "
            f"| {statistics.median(ratios['tensor']):.2f} | {med['primitives']:.0f} "
            f"| {statistics.median(prim):.2f} | {min(prim):.2f}..{max(prim):.2f} "
            f"| {'<= ' + str(TARGETS[bs]) if bs in TARGETS else '-'} "
            f"| {med['tape']:.0f} | {statistics.median(ratios['tape']):.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
