"""Seconds per epoch of the course's MLP (784-64-10 sigmoid, batch 256, float32, plain SGD):
tinygrad_edu against a hand-written numpy forward/backward of the same network (and PyTorch).

All rows start from the same initial weights (N(0, 0.1^2), zero biases) and see the same
minibatches in the same order (one seeded DataLoader each). Every row does the same work per
step: forward, mean softmax cross-entropy, backward (no gradient for the input batch), the SGD
update, and it records the minibatch loss and accuracy, as ``train.fit`` does. The rows are
timed interleaved, one epoch each per round, in a rotating order, so a busy machine slows them
alike; the table gives the median seconds per epoch and the ratio to hand numpy within each
round (median and min..max over the rounds).

    python benchmarks/epoch_time.py [--data-dir DIR] [--rounds 7] [--profile]

Rows: ``numpy`` (by hand), ``fit`` (``tinygrad_edu.training.fit``, the full training loop with its
History; its threads chosen by timing its steps, at most the BLAS threads of the other rows, the
choice made anew at each call), ``loop`` (a bare tinygrad_edu loop: model, loss, backward,
optimizer.step), ``torch`` (if importable; ``torch.set_num_threads(2)``, or ``--threads``).
Targets (issue 27): fit / numpy <= 1.10, fit / torch <= 0.6.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _blas import threads_from_argv

threads_from_argv(sys.argv[1:])  # exports --threads N; argparse still sees and records it

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinygrad_edu import Tensor, nn, optim  # noqa: E402
from tinygrad_edu.data import DataLoader, Dataset, DatasetError, load_dataset  # noqa: E402
from tinygrad_edu.engine.memory import keep_freed_memory  # noqa: E402
from tinygrad_edu.nn.init import aligned_copy  # noqa: E402
from tinygrad_edu.training import fit  # noqa: E402

LR = 0.1
BATCH = 256
SIZES = [784, 64, 10]
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-24k"


def load_train(data_dir: Path | None) -> Dataset:
    """MNIST's training images in ``data_dir`` if given; else Fashion-MNIST's 60k (Debian's
    package), else the 24k real MNIST beside the repository (saying so)."""
    if data_dir is not None:
        return load_dataset("mnist", data_dir=data_dir, download=False)[0]
    try:
        train, _ = load_dataset("fashion-mnist", download=False)
        return train
    except DatasetError as e:
        print(f"(Fashion-MNIST not found: {e}; using mnist-24k instead)")
    train, _ = load_dataset("mnist", data_dir=DEFAULT_MNIST, download=False)
    return train


class HandNumpy:
    """The step written by hand with W of shape (out, in), as a student would after deriving
    the gradients: y = x W^T + b, dW = dz^T x, db = sum dz, dx = dz W."""

    def __init__(self, params: list[np.ndarray]) -> None:
        self.W1, self.b1, self.W2, self.b2 = (aligned_copy(p) for p in params)
        self.losses: list[float] = []
        self.accs: list[float] = []

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        n = x.shape[0]
        rows = np.arange(n)
        h = 1 / (1 + np.exp(-(np.dot(x, self.W1.T) + self.b1)))
        z = np.dot(h, self.W2.T) + self.b2
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        self.losses.append(float(-np.log(p[rows, y]).mean()))
        self.accs.append(float(np.mean(p.argmax(axis=1) == y)))
        dz2 = p
        dz2[rows, y] -= 1
        dz2 /= n
        dW2 = np.dot(dz2.T, h)
        db2 = dz2.sum(axis=0)
        dz1 = np.dot(dz2, self.W2) * h * (1 - h)
        dW1 = np.dot(dz1.T, x)
        db1 = dz1.sum(axis=0)
        self.W1 -= LR * dW1
        self.b1 -= LR * db1
        self.W2 -= LR * dW2
        self.b2 -= LR * db2

    def epoch(self, loader: DataLoader) -> float:
        start = time.perf_counter()
        for x, y in loader:
            self.step(x, y)
        return time.perf_counter() - start

    def params(self) -> list[np.ndarray]:
        return [self.W1, self.b1, self.W2, self.b2]


class Framework:
    """tinygrad_edu: ``fit`` for one epoch (``use_fit``; ``threads`` as fit takes them) or a
    bare loop of :meth:`step`."""

    def __init__(self, use_fit: bool, threads: int | None = None) -> None:
        self.model = nn.MLP(SIZES, activation="sigmoid", seed=0)
        self.opt = optim.SGD(self.model.parameters(), lr=LR)
        self.use_fit, self.threads = use_fit, threads
        self.losses: list[float] = []
        self.accs: list[float] = []

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """The plain loop's step; records the loss and accuracy, as every row does."""
        logits = self.model(Tensor(x))
        loss = nn.cross_entropy(logits, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.losses.append(float(loss.data))
        self.accs.append(float(np.mean(logits.data.argmax(axis=1) == y)))
        return self.losses[-1]

    def epoch(self, loader: DataLoader) -> float:
        if self.use_fit:
            history = fit(
                self.model, loader, None, nn.cross_entropy, self.opt, 1, threads=self.threads
            )
            return history.epoch_times[0]
        start = time.perf_counter()
        for x, y in loader:
            self.step(x, y)
        return time.perf_counter() - start

    def params(self) -> list[np.ndarray]:
        return [p.data for p in self.model.parameters()]


class Torch:
    """The same network in PyTorch (2 threads), same init and batches."""

    def __init__(self, params: list[np.ndarray], threads: int = 2) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        self.l1, self.l2 = torch.nn.Linear(784, 64), torch.nn.Linear(64, 10)
        with torch.no_grad():
            for t, p in zip(
                [self.l1.weight, self.l1.bias, self.l2.weight, self.l2.bias], params, strict=True
            ):
                t.copy_(torch.from_numpy(p))
        self.net = torch.nn.Sequential(self.l1, torch.nn.Sigmoid(), self.l2)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=LR)

    def epoch(self, loader: DataLoader) -> float:
        torch, net, opt = self.torch, self.net, self.opt
        losses, accs = [], []
        start = time.perf_counter()
        for x, y in loader:
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            out = net(xt)
            loss = torch.nn.functional.cross_entropy(out, yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            accs.append((out.argmax(1) == yt).float().mean().item())
        return time.perf_counter() - start

    def params(self) -> list[np.ndarray]:
        return [t.detach().numpy() for t in self.net.parameters()]


def check_same_work(train: Dataset) -> None:
    """From the same init, one epoch of hand numpy and of tinygrad_edu end at the same weights."""
    subset = train.subset(4096)
    ours = Framework(use_fit=True)
    hand = HandNumpy(ours.params())
    hand.epoch(DataLoader(subset, BATCH, shuffle=True, seed=1))
    ours.epoch(DataLoader(subset, BATCH, shuffle=True, seed=1))
    for a, b in zip(hand.params(), ours.params(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def profile_epoch(train: Dataset) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("(pyinstrument is not installed: no profile)")
        return
    runner = Framework(use_fit=True)
    loader = DataLoader(train, BATCH, shuffle=True, seed=0)
    runner.epoch(loader)  # warm-up: the float copy of the images
    profiler = Profiler(interval=0.0002)
    profiler.start()
    runner.epoch(loader)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="a folder of MNIST IDX files (default: Fashion-MNIST if installed, else mnist-24k)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--profile", action="store_true", help="pyinstrument one fit epoch")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as fit and the command line do (tinygrad_edu.engine.memory)

    train = load_train(args.data_dir)
    check_same_work(train)
    init = Framework(use_fit=False).params()
    runners: dict[str, Callable[[DataLoader], float]] = {
        "numpy": HandNumpy(init).epoch,
        "fit": Framework(use_fit=True).epoch,
        "loop": Framework(use_fit=False).epoch,
    }
    if not args.no_torch:
        try:
            runners["torch"] = Torch(init, args.threads or 2).epoch
        except ImportError:
            print("(torch is not installed: no PyTorch row)")
    loaders = {name: DataLoader(train, BATCH, shuffle=True, seed=0) for name in runners}
    for name, run in runners.items():  # warm-up round (float copies, caches, thread pools)
        run(loaders[name])
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            times[name].append(runners[name](loaders[name]))

    print(
        f"# epoch time: {train.name} ({len(train)} images), 784-64-10 sigmoid, batch {BATCH}, "
        f"float32, SGD lr {LR}; {args.rounds} interleaved rounds; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print("| row | s/epoch (median) | min..max | ratio to numpy (median) | ratio min..max |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        ratios = [t / n for t, n in zip(times[name], times["numpy"], strict=True)]
        print(
            f"| {name} | {statistics.median(times[name]):.3f} | {min(times[name]):.3f}.."
            f"{max(times[name]):.3f} | {statistics.median(ratios):.2f} | "
            f"{min(ratios):.2f}..{max(ratios):.2f} |"
        )
    if args.profile:
        profile_epoch(train)
    return 0


if __name__ == "__main__":
    sys.exit(main())
