"""Seconds and memory to evaluate MNIST's test images, by evaluation batch size.

For the course's CNN (``nn.models.build_cnn``) and the course's 784-64-10 sigmoid MLP:
``training.evaluate(model, test, batch_size=B)`` for each B of ``--batch-sizes``, timed in
interleaved rounds (the order rotates each round) after one warm-up pass each; the table gives
the median seconds and their spread. Every batch size must give the same loss and accuracy (to
float32 rounding), or the run fails. With ``--memory``, each (model, B) evaluates again in a
fresh subprocess, which reports how much its resident set grew while evaluating (Linux's VmHWM,
reset after loading). The row marked ``default`` is ``evaluation.eval_batch_size(model)``.

    python benchmarks/eval_batch.py [--data-dir ../shared/data/mnist-24k] [--rounds 3]
        [--batch-sizes 128,256,1024,4096] [--images 10000] [--memory]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _proc import reset_peak, status_mib
from op_overhead import batch_sizes

from tinygrad_edu import nn
from tinygrad_edu.cli.options import positive_int
from tinygrad_edu.data import Dataset, load_dataset
from tinygrad_edu.engine.memory import keep_freed_memory
from tinygrad_edu.nn.models import build_cnn
from tinygrad_edu.training import evaluate
from tinygrad_edu.training.evaluation import eval_batch_size

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
MODELS: dict[str, Callable[[], nn.Module]] = {
    "cnn": lambda: build_cnn(seed=0),
    "mlp": lambda: nn.MLP([784, 64, 10], activation="sigmoid", seed=0),
}


def time_rounds(
    model: nn.Module, test: Dataset, sizes: list[int], rounds: int
) -> dict[int, list[float]]:
    """{batch size: seconds of each round}; fails unless every size gives the same results."""
    results = {b: evaluate(model, test, batch_size=b) for b in sizes}  # also the warm-up
    first = results[sizes[0]]
    for b, (loss, acc) in results.items():
        if not (np.isclose(loss, first[0], rtol=1e-5) and acc == first[1]):
            raise SystemExit(f"batch {b} gives {(loss, acc)}, batch {sizes[0]} gives {first}")
    times: dict[int, list[float]] = {b: [] for b in sizes}
    for r in range(rounds):
        for b in sizes[r % len(sizes) :] + sizes[: r % len(sizes)]:
            start = time.perf_counter()
            evaluate(model, test, batch_size=b)
            times[b].append(time.perf_counter() - start)
    return times


def grown_mib(args: argparse.Namespace, name: str, size: int) -> float:
    """MiB the resident set of a fresh process grows by while evaluating ``name`` in batches of
    ``size`` (loading the data and the model is not counted)."""
    cmd = [sys.executable, __file__, "--data-dir", str(args.data_dir), "--images"]
    cmd += [str(args.images), "--memory-child", f"{name}:{size}"]
    return float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[-1])


def memory_child(spec: str, test: Dataset) -> float:
    """In this process: evaluate once; the peak resident set's growth, MiB."""
    name, size = spec.split(":")
    model = MODELS[name]()
    before = status_mib("VmRSS")
    reset_peak()
    evaluate(model, test, batch_size=int(size))
    return status_mib("VmHWM") - before


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--batch-sizes", type=batch_sizes, default=[128, 256, 1024, 4096])
    parser.add_argument("--images", type=positive_int, default=10000, help="test images")
    parser.add_argument("--models", default="cnn,mlp", help="of: " + ", ".join(MODELS))
    parser.add_argument("--memory", action="store_true", help="also the RSS growth")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        parser.error(f"--models: unknown {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()  # as fit and the command line do (tinygrad_edu.engine.memory)
    if not (args.data_dir / "t10k-images-idx3-ubyte.gz").exists():
        print(f"eval_batch: no MNIST at {args.data_dir} (give --data-dir)", file=sys.stderr)
        return 2
    _, test = load_dataset("mnist", data_dir=args.data_dir, download=False)
    test = test.subset(min(args.images, len(test)))
    if args.memory_child:
        print(f"{memory_child(args.memory_child, test):.1f}")
        return 0
    print(f"# evaluating {len(test):,} MNIST test images, {args.rounds} interleaved rounds")
    print("| model | batch | s (median) | min..max | RSS grown, MiB |")
    print("|---|---:|---:|---:|---:|")
    for name in args.models.split(","):
        model = MODELS[name]()
        default = eval_batch_size(model)
        for b, ts in time_rounds(model, test, args.batch_sizes, args.rounds).items():
            mib = f"{grown_mib(args, name, b):.0f}" if args.memory else ""
            mark = " (default)" if b == default else ""
            print(
                f"| {name} | {b}{mark} | {statistics.median(ts):.3f} | "
                f"{min(ts):.3f}..{max(ts):.3f} | {mib} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
