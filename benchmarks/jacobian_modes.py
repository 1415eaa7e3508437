"""Forward against reverse mode: the time to build the full Jacobian of f: R^n -> R^m with n JVPs
(forward mode, one column per sweep) against m VJPs (reverse mode, one row per backward pass).

Two functions, both through ``tinygrad_edu.autograd.functional.jacobian``:

* the course's loss: the mean cross-entropy of the 784-64-10 sigmoid MLP on a minibatch of real
  MNIST digits, as a function of its parameters: n = 50,890 inputs, m = 1 output;
* a wide map: a small decoder z -> sigmoid(W2 tanh(W1 z)), R^10 -> R^784: n = 10, m = 784.

The two strategies are timed interleaved, round after round, and the two Jacobians are checked
to agree. The table gives the median seconds of each and their ratio.

    python benchmarks/jacobian_modes.py [--data-dir ../shared/data/mnist-24k] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinygrad_edu import Tensor, nn  # noqa: E402
from tinygrad_edu.autograd import functional as AF  # noqa: E402
from tinygrad_edu.data import load_dataset  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
STRATEGIES = ("reverse-mode", "forward-mode")


def seeds_loss(data_dir: Path, batch: int) -> tuple[Callable[..., Tensor], tuple[Tensor, ...]]:
    """The course's loss on ``batch`` real digits, as a function of (W1, b1, W2, b2)."""
    train, _ = load_dataset("mnist", data_dir=data_dir, download=False, fallback=False)
    x = Tensor(train.images[:batch].reshape(batch, 784).astype(np.float32) / 255)
    y = train.labels[:batch]

    def loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
        h = nn.functional.linear(x, w1, b1).sigmoid()
        return nn.cross_entropy(nn.functional.linear(h, w2, b2), y)

    model = nn.MLP([784, 64, 10], activation="sigmoid", seed=0)
    return loss, tuple(Tensor(p.data) for p in model.parameters())


def wide_map() -> tuple[Callable[..., Tensor], tuple[Tensor, ...]]:
    """z -> sigmoid(W2 tanh(W1 z)): R^10 -> R^784, a tiny decoder with fixed weights."""
    rng = np.random.default_rng(0)
    w1 = Tensor(rng.standard_normal((64, 10)).astype(np.float32) * 0.3)
    w2 = Tensor(rng.standard_normal((784, 64)).astype(np.float32) * 0.1)

    def decoder(z: Tensor) -> Tensor:
        return (w2 @ (w1 @ z).tanh()).sigmoid()

    return decoder, (Tensor(rng.standard_normal(10).astype(np.float32)),)


def time_jacobian(f: Callable[..., Tensor], inputs: tuple[Tensor, ...], strategy: str) -> tuple:
    start = time.perf_counter()
    jac = AF.jacobian(f, inputs, strategy=strategy)
    return time.perf_counter() - start, jac


def compare(name: str, f: Callable[..., Tensor], inputs: tuple[Tensor, ...], rounds: int) -> str:
    """A table row: n, m, median seconds of each strategy, their ratio."""
    times: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    results = {}
    for r in range(rounds):
        for strategy in STRATEGIES if r % 2 == 0 else STRATEGIES[::-1]:
            seconds, results[strategy] = time_jacobian(f, inputs, strategy)
            times[strategy].append(seconds)
    flat = {s: np.concatenate([np.ravel(j.data) for j in _blocks(results[s])]) for s in STRATEGIES}
    np.testing.assert_allclose(flat["forward-mode"], flat["reverse-mode"], rtol=1e-4, atol=1e-6)
    n = sum(x.size for x in inputs)
    m = f(*inputs).size
    rev, fwd = (statistics.median(times[s]) for s in STRATEGIES)
    vjps, jvps = f"{m:,} VJP{'s' * (m > 1)}", f"{n:,} JVP{'s' * (n > 1)}"
    return (
        f"| {name} | {n:,} | {m:,} | {vjps}: {rev:.4f} s | {jvps}: {fwd:.4f} s | {fwd / rev:.3g} |"
    )


def _blocks(jac: object) -> list[Tensor]:
    return list(jac) if isinstance(jac, tuple) else [jac]  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="digits in the course's loss")
    args = parser.parse_args(argv)
    if not (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        print(
            f"jacobian_modes: no MNIST IDX files in {args.data_dir} (use --data-dir)",
            file=sys.stderr,
        )
        return 2
    print(f"# full Jacobians, forward (n JVPs) against reverse (m VJPs) mode; {args.rounds} rounds")
    print("| f | n (inputs) | m (outputs) | reverse mode | forward mode | forward / reverse |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        compare(
            f"the course's loss, batch {args.batch}",
            *seeds_loss(args.data_dir, args.batch),
            args.rounds,
        )
    )
    print(compare("a wide map R^10 -> R^784", *wide_map(), args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
