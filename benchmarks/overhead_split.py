"""Where the MLP step's time goes: numpy work against the engine's own (Python) overhead.

Four rows train the course's 784-64-10 sigmoid MLP (batch 256 unless ``--batch-size``, plain SGD,
real MNIST) from the same weights on the same batches, each recording the minibatch loss and
accuracy:

- ``hand``: the step written by hand in numpy (``epoch_time.HandNumpy``);
- ``engine calls``: exactly the numpy calls tinygrad_edu makes for that step (fused Linear,
  Sigmoid and CrossEntropy ops, the SGD update), written out with no Tensor, graph or backward;
- ``bare tape``: the same numpy calls recorded by a bare-bones eager autodiff (``_tape.py``: a
  tape of backward closures, run in reverse): what recording a graph in Python costs at the least;
- ``loop``: the public API, ``loss = F.cross_entropy(model(x), y); opt.zero_grad();
  loss.backward(); opt.step()``.

``loop - engine calls`` is what the engine's bookkeeping costs per step (making ops and tensors,
the backward walk, the optimiser's loop), and ``bare tape - engine calls`` the part of it that
any eager Python autodiff pays; ``engine calls - hand`` is what its choice of numpy
calls costs (negative: cheaper than by hand). Rounds are interleaved in a rotating order; the
table gives the minimum and the median microseconds per step over the rounds.

    python benchmarks/overhead_split.py [--data-dir ../shared/data/mnist-24k] [--rounds 15]
        [--batch-size 256] [--images 12000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _tape as tape
import numpy as np
from epoch_time import DEFAULT_MNIST, LR, Framework, HandNumpy

from tinygrad_edu.cli.options import positive_int
from tinygrad_edu.data import DataLoader, DatasetError, load_dataset
from tinygrad_edu.engine import speed
from tinygrad_edu.engine.memory import keep_freed_memory

Step = Callable[[np.ndarray, np.ndarray], float]


class EngineCalls(HandNumpy):
    """The numpy calls of tinygrad_edu's fused-path step, in order, without the engine."""

    def step(self, x: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        w1, b1, w2, b2 = self.W1, self.b1, self.W2, self.b2
        z1 = np.dot(x, w1.T)  # Linear: x W^T, then + b in place
        z1 += b1
        h = speed.sigmoid(z1)
        z = np.dot(h, w2.T)
        z += b2
        n = z.shape[0]  # CrossEntropy: log-softmax rows, the pick of the labels
        shifted = z - speed.max_along(z, 1)
        logp = shifted - np.log(speed.sum_along(np.exp(shifted), 1))
        loss = np.asarray(-logp[np.arange(n), y].sum() / n, dtype=z.dtype)
        self.accs.append(float(np.mean(z.argmax(axis=1) == y)))
        grad = np.exp(logp)  # backward: (p - y) / N, then the two Linears and the Sigmoid
        grad[np.arange(n), y] -= 1
        grad *= np.ones((), z.dtype) / n
        dh, dw2, db2 = np.dot(grad, w2), np.dot(grad.T, h), speed.sum_rows(grad)
        dz1 = speed.sigmoid_grad(h, dh)
        dw1, db1 = np.dot(dz1.T, x), speed.sum_rows(dz1)
        for w, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
            w -= LR * g  # SGD, as optim.SGD does it
        return float(loss)


class BareTape(HandNumpy):
    """The same numpy calls recorded on a bare tape (``_tape.py``): one Node and one backward
    closure per op, run in reverse. No Tensor, checks, hooks, broadcasting rules, grad mode or
    optimiser: a floor for the engine."""

    def __init__(self, params: list[np.ndarray]) -> None:
        super().__init__(params)
        self.nodes = [tape.Node(w) for w in (self.W1, self.b1, self.W2, self.b2)]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:  # type: ignore[override]
        ops: list[tape.Node] = []
        w1, b1, w2, b2 = self.nodes
        h = tape.sigmoid(ops, tape.linear(ops, tape.Node(x), w1, b1, need_x=False))
        z = tape.linear(ops, h, w2, b2, need_x=True)
        self.accs.append(float(np.mean(z.data.argmax(axis=1) == y)))
        loss = tape.cross_entropy(ops, z, y)
        tape.run_backward(ops, loss)
        tape.sgd(self.nodes, LR)
        return float(loss.data)


def seconds(step: Step, batches: list[tuple[np.ndarray, np.ndarray]]) -> float:
    start = time.perf_counter()
    for x, y in batches:
        step(x, y)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--rounds", type=positive_int, default=15)
    parser.add_argument("--images", type=positive_int, default=12000)
    parser.add_argument("--batch-size", type=positive_int, default=256)
    args = parser.parse_args(argv)
    keep_freed_memory()  # as fit and the command line do (tinygrad_edu.engine.memory)
    try:
        train, _ = load_dataset("mnist", data_dir=args.data_dir, download=False)
    except DatasetError as e:
        print(f"overhead_split: {e} (use --data-dir)", file=sys.stderr)
        return 2
    batches = list(DataLoader(train.subset(args.images), args.batch_size, shuffle=True, seed=0))
    loop = Framework(use_fit=False)  # its step() is the public-API loop
    rows: dict[str, HandNumpy | Framework] = {
        "hand": HandNumpy(loop.params()),
        "engine calls": EngineCalls(loop.params()),
        "bare tape": BareTape(loop.params()),
        "loop": loop,
    }
    x, y = batches[0]  # the same work: from the same weights, the same first loss
    fresh, hand = Framework(use_fit=False), HandNumpy(loop.params())
    hand.step(x, y)
    kinds = (EngineCalls, BareTape)
    first = [kind(fresh.params()).step(x, y) for kind in kinds] + [fresh.step(x, y)]
    np.testing.assert_allclose(first, hand.losses[-1], rtol=1e-5)

    names = list(rows)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            times[name].append(seconds(rows[name].step, batches) / len(batches) * 1e6)
    print(
        f"# one SGD step of the 784-64-10 sigmoid MLP, batch {args.batch_size}, "
        f"{len(batches)} steps a round, {args.rounds} rounds"
    )
    print("| row | us/step (min) | us/step (median) |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {min(times[name]):.0f} | {statistics.median(times[name]):.0f} |")
    low = {name: min(t) for name, t in times.items()}
    print(
        f"\nengine bookkeeping (loop - engine calls): {low['loop'] - low['engine calls']:+.0f} us, "
        f"of which a bare tape's (bare tape - engine calls) "
        f"{low['bare tape'] - low['engine calls']:+.0f} us; "
        f"numpy choices (engine calls - hand): {low['engine calls'] - low['hand']:+.0f} us"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
