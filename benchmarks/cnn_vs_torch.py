"""Seconds per epoch of the course's CNN, tinygrad_edu against PyTorch CPU, side by side.

    conv 5x5x32 - relu - pool 2 - conv 5x5x64 - relu - pool 2 - fc 128 - relu - fc 10,
    mean softmax cross-entropy, Adam (lr 2e-3), batch 128, float32, real MNIST images.

Both networks start from the same weights (tinygrad_edu's seeded init, copied into torch) and see
the same batches in the same order (drawn once, before timing, from a seeded DataLoader: data
loading is timed for neither). A step is forward, loss, zero_grad, backward, Adam step and
``loss.item()``. The rows are timed interleaved, one epoch each per round, the order rotating,
so a busy machine slows them alike; the table gives the median seconds per epoch and the
ratio ours / torch within each round (median and min..max over the rounds). The load average is
printed too: PyTorch's 2 threads slow down many-fold when another process holds a core.

Before timing, one epoch of each from the same init (losses and final weights) is compared with
the same epoch of ours in float64: both must do the same computation, to float32 rounding.

``--memory`` adds peak memory: each framework trains ``--memory-epochs`` epochs in its own
subprocess (ours never imports torch). Reported: the resident set size (RSS) just before
training; the peak RSS while training (Linux's VmHWM, reset by /proc/self/clear_refs after the
data is loaded); and ``resource.getrusage`` ``ru_maxrss``, the whole process's peak including
loading the data set. These count everything resident (interpreter, libraries, data), not only
numpy's or torch's allocations.

    python benchmarks/cnn_vs_torch.py [--threads 1 | 2 | 1,2] [--rounds 7] [--images 4096]
        [--memory] [--data-dir ../shared/data/mnist-24k]

With ``--threads 1,2`` the four rows (ours and torch, on 1 and on 2 threads) are timed in the
same interleaved rounds, and the table adds each framework's 2-thread / 1-thread ratio. Ours on
N threads is the engine's pool of N threads splitting the big products and passes, BLAS on one
thread (through threadpoolctl), as ``fit(..., threads=N)`` runs them (``fit``'s default times
this against OpenBLAS's own threads and keeps the faster); torch's is
``torch.set_num_threads(N)``.

Targets (issues 13 and 27): ours / torch <= 1.0 at 1 and at 2 threads; ours@2 / ours@1 <= 0.6.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _proc import reset_peak, status_mib
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinygrad_edu import Tensor, nn  # noqa: E402
from tinygrad_edu.data import DataLoader, load_dataset  # noqa: E402
from tinygrad_edu.engine import parallel  # noqa: E402
from tinygrad_edu.engine.memory import keep_freed_memory  # noqa: E402
from tinygrad_edu.nn.conv import Conv2d, MaxPool2d  # noqa: E402
from tinygrad_edu.optim import Adam  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
BATCH, LR, SEED = 128, 2e-3, 0
Batches = list[tuple[np.ndarray, np.ndarray]]


def build_ours() -> nn.Sequential:
    """The course's CNN (as examples/cnn_mnist.py builds it), seeded."""
    rng = np.random.default_rng(SEED)
    return nn.Sequential(
        Conv2d(1, 32, 5, rng=rng),
        nn.ReLU(),
        MaxPool2d(2),
        Conv2d(32, 64, 5, rng=rng),
        nn.ReLU(),
        MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1024, 128, init="he", rng=rng),
        nn.ReLU(),
        nn.Linear(128, 10, init="xavier", rng=rng),
    )


class Ours:
    """tinygrad_edu: the CNN, Adam, a bare training loop."""

    def __init__(self, dtype: type = np.float32) -> None:
        self.model = build_ours()
        for p in self.model.parameters():
            p.data = p.data.astype(dtype, copy=False)  # float32: the aligned array itself
        self.opt = Adam(self.model.parameters(), lr=LR)

    def epoch(self, batches: Batches) -> list[float]:
        model, opt, losses = self.model, self.opt, []
        for x, y in batches:
            loss = nn.cross_entropy(model(Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    def params(self) -> list[np.ndarray]:
        return [p.data for p in self.model.parameters()]


class Torch:
    """The same network, init and optimiser in PyTorch (``torch.set_num_threads(threads)``)."""

    def __init__(self, init: list[np.ndarray], threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.torch = torch
        tnn = torch.nn
        self.model = tnn.Sequential(
            tnn.Conv2d(1, 32, 5),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Conv2d(32, 64, 5),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Flatten(),
            tnn.Linear(1024, 128),
            tnn.ReLU(),
            tnn.Linear(128, 10),
        )
        with torch.no_grad():
            for t, p in zip(self.model.parameters(), init, strict=True):
                t.copy_(torch.from_numpy(p))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)

    def epoch(self, batches: Batches) -> list[float]:
        torch, model, opt, losses = self.torch, self.model, self.opt, []
        for x, y in batches:
            loss = torch.nn.functional.cross_entropy(
                model(torch.from_numpy(x)), torch.from_numpy(y)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    def params(self) -> list[np.ndarray]:
        return [t.detach().numpy() for t in self.model.parameters()]


def load_batches(data_dir: Path, images: int) -> Batches:
    """The first ``images`` training images as seeded, shuffled (128, 1, 28, 28) batches."""
    train, _ = load_dataset("mnist", data_dir=data_dir, download=False, fallback=False)
    loader = DataLoader(train.subset(images), BATCH, shuffle=True, seed=SEED, flatten=False)
    return [(np.ascontiguousarray(x, np.float32), y.astype(np.int64)) for x, y in loader]


def check_same_work(batches: Batches, threads: int) -> None:
    """One epoch from the same init, ours and torch in float32 and ours in float64 (the
    reference): the float32 losses and final weights agree with it to float32 rounding."""
    ours, ours64 = Ours(), Ours(np.float64)
    theirs = Torch([p.copy() for p in ours.params()], threads)
    batches64 = [(x.astype(np.float64), y) for x, y in batches]
    reference = ours64.epoch(batches64), ours64.params()
    print(f"same work: {len(batches)} steps from one init; float32 against float64 (ours):")
    for name, runner in (("ours", ours), ("torch", theirs)):
        loss_diff, w_diff = _differences((runner.epoch(batches), runner.params()), reference)
        print(
            f"- {name}: max |loss diff| {loss_diff:.2e}, "
            f"max weight diff / max |weight| {w_diff:.2e}"
        )
        if loss_diff > 1e-3 or w_diff > 1e-3:
            raise SystemExit(f"{name} does not compute the same thing")


def _differences(
    run: tuple[list[float], list[np.ndarray]], reference: tuple[list[float], list[np.ndarray]]
) -> tuple[float, float]:
    """The largest loss difference and the largest weight difference relative to the largest
    weight of its tensor, between two runs (losses, final weights)."""
    loss_diff = max(abs(u - v) for u, v in zip(run[0], reference[0], strict=True))
    w_diff = max(
        float(np.max(np.abs(p - q)) / (np.max(np.abs(q)) + 1e-12))
        for p, q in zip(run[1], reference[1], strict=True)
    )
    return loss_diff, w_diff


def time_rounds(
    batches: Batches, counts: list[int], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU (all threads) seconds per epoch of ours and torch at each thread
    count (rows ``ours@1``, ``torch@1``, ...), ``rounds`` interleaved rounds (the order
    rotating) after one warm-up epoch each."""
    runners: dict[str, Callable[[Batches], Any]] = {}
    for threads in counts:
        ours = Ours()
        theirs = Torch(ours.params(), threads)
        runners[f"ours@{threads}"] = functools.partial(_ours_epoch, ours, threads)
        runners[f"torch@{threads}"] = functools.partial(_torch_epoch, theirs, threads)
    for run in runners.values():
        run(batches)
    times: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start, start_cpu = time.perf_counter(), time.process_time()
            runners[name](batches)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return times, cpu


def _ours_epoch(ours: Ours, threads: int, batches: Batches) -> list[float]:
    with on_threads(threads):
        return ours.epoch(batches)


def _torch_epoch(theirs: Torch, threads: int, batches: Batches) -> list[float]:
    theirs.torch.set_num_threads(threads)
    return theirs.epoch(batches)


def peak_rss_child(which: str, data_dir: Path, images: int, epochs: int, threads: int) -> str:
    """In this (sub)process: train ``which`` for ``epochs`` epochs; a line with the RSS before
    training, the peak RSS while training and the peak of the whole process, MiB."""
    batches = load_batches(data_dir, images)
    runner: Any = Ours() if which == "ours" else Torch(Ours().params(), threads)
    before = status_mib("VmRSS")
    reset_peak()  # loading the data is not counted
    for _ in range(epochs):
        runner.epoch(batches)
    whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return f"{which} {before:.1f} {status_mib('VmHWM'):.1f} {whole:.1f}"


def peak_rss(args: argparse.Namespace) -> dict[str, tuple[float, ...]]:
    """{name: (RSS before training, peak while training, whole process's peak)}, MiB, each
    from a fresh subprocess."""
    out = {}
    for which in ("ours", "torch"):
        cmd = [sys.executable, __file__, "--threads", str(args.threads), "--memory-child", which]
        cmd += ["--data-dir", str(args.data_dir), "--images", str(args.images)]
        cmd += ["--memory-epochs", str(args.memory_epochs)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
        out[which] = tuple(float(v) for v in line[-3:])
    return out


def report(
    args: argparse.Namespace, times: dict[str, list[float]], cpu: dict[str, list[float]], steps: int
) -> None:
    """The Markdown table (wall-clock and CPU seconds per epoch), then the ratios, each taken
    within a round: ours / torch at each count, and each framework's 2 threads / 1 thread."""
    print(
        f"\n# CNN epoch vs PyTorch {_torch_version()}: {args.images} MNIST images ({steps} steps "
        f"of {BATCH}), thread counts {args.threads}, {args.rounds} interleaved rounds; load "
        f"average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    print("| row | s/epoch (median) | min..max | CPU s/epoch (median) |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        print(
            f"| {name} | {statistics.median(ts):.3f} | {min(ts):.3f}..{max(ts):.3f} | "
            f"{statistics.median(cpu[name]):.3f} |"
        )
    print("\n| ratio, round by round | median | min..max | target |")
    print("|---|---:|---:|---|")
    counts = [int(t) for t in args.threads.split(",")]
    for t in counts:
        print(f"| ours@{t} / torch@{t} | {_ratios(times, f'ours@{t}', f'torch@{t}')} <= 1.0 |")
        print(f"| ours@{t} / torch@{t}, CPU time | {_ratios(cpu, f'ours@{t}', f'torch@{t}')} |")
    if 1 in counts and 2 in counts:
        for name in ("ours", "torch"):
            target = "<= 0.6" if name == "ours" else ""
            print(f"| {name}@2 / {name}@1 | {_ratios(times, f'{name}@2', f'{name}@1')} {target} |")


def _ratios(times: dict[str, list[float]], top: str, bottom: str) -> str:
    """'median | min..max |' of top / bottom, round by round."""
    ratios = [a / b for a, b in zip(times[top], times[bottom], strict=True)]
    return f"{statistics.median(ratios):.2f} | {min(ratios):.2f}..{max(ratios):.2f} |"


def _torch_version() -> str:
    import torch

    return torch.__version__


@contextlib.contextmanager
def on_threads(threads: int) -> Iterator[None]:
    """Ours on ``threads`` threads, as ``fit(..., threads=N)`` runs them: BLAS on one thread
    (through threadpoolctl) and the engine's pool of N threads splitting the big products and
    passes (torch: ``torch.set_num_threads``)."""
    with threadpool_limits(1, "blas"), parallel.splitting(threads):
        yield


def thread_counts(text: str) -> str:
    """--threads: positive integers separated by commas (kept as the text)."""
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected counts such as 1 or 1,2, got {text!r}")
    return ",".join(map(str, counts))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--threads",
        type=thread_counts,
        default="2",
        help="thread counts of ours (BLAS and splits) and torch, e.g. 1 or 1,2 (default 2)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=4096, help="training images per epoch")
    parser.add_argument("--memory", action="store_true", help="also peak RSS, in subprocesses")
    parser.add_argument("--memory-epochs", type=int, default=2)
    parser.add_argument("--memory-child", choices=("ours", "torch"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_freed_memory()  # as fit and the command line do (tinygrad_edu.engine.memory)
    if not (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        print(f"skipped: no MNIST at {args.data_dir} (give --data-dir)")
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("skipped: torch is not installed")
        return 0
    if args.memory_child:
        threads = int(args.threads.split(",")[0])
        with on_threads(threads):
            line = peak_rss_child(
                args.memory_child, args.data_dir, args.images, args.memory_epochs, threads
            )
        print(line)
        return 0
    batches = load_batches(args.data_dir, args.images)
    counts = [int(t) for t in args.threads.split(",")]
    with on_threads(counts[0]):
        check_same_work(batches, counts[0])
    times, cpu = time_rounds(batches, counts, args.rounds)
    report(args, times, cpu, len(batches))
    if args.memory:
        print(f"\nmemory over {args.memory_epochs} epochs, each in a fresh process, MiB:")
        print("| row | RSS before training | peak RSS while training | grown | process peak |")
        print("|---|---:|---:|---:|---:|")
        for name, (before, peak, whole) in peak_rss(args).items():
            print(f"| {name} | {before:.0f} | {peak:.0f} | {peak - before:.0f} | {whole:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
