"""Seconds of ``tinygrad-edu train`` by default (threads chosen by timing) against 1 and 2
threads, on a quiet machine and beside a busy process, side by side.

Each run is a fresh process training the default network (the course's MLP, momentum, batch 256)
on ``--data-dir`` (the 24k MNIST folder; the bundled mnist-sample where it is absent) for
``--epochs``; the time is its training seconds as ``train`` records them (the sum of
``history.json``'s ``epoch_times``: no evaluation, no start-up). Rows: ``default`` (chosen by
timing, ``fit(threads=None)``), ``1 thread``, ``2 threads, OpenBLAS`` (OpenBLAS's own two
threads) and ``2 threads, pool`` (``fit(threads=2)``: the engine's pool, BLAS on one thread).
"busy" runs beside a process this benchmark starts, a Python loop spinning on one core, as a
student's browser or another job would. The rounds interleave the rows and the two states,
the order rotating each round; the table gives the median, the spread and, per state, the
default's ratio to the best fixed row (target: at most 1.3 both ways).

    python benchmarks/busy_machine.py [--data-dir ../shared/data/mnist-24k] [--rounds 3]
        [--epochs 20] [--train-size N] [--states quiet,busy]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinygrad_edu.cli.options import positive_int

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist-24k"
ROWS = {"default": None, "1 thread": "1", "2 threads, OpenBLAS": "blas2", "2 threads, pool": "2"}
STATES = ("quiet", "busy")
#: A child that runs ``train`` on OpenBLAS's own N threads (argv[1] is blasN, the rest train's
#: arguments): a plan ``fit`` never chooses (it changes the last bits), timed for comparison.
OPENBLAS_THREADS = """
import sys
import tinygrad_edu.training.threads as threads
from tinygrad_edu.cli import main
threads.candidate_plans = lambda most: [threads.Plan(int(sys.argv[1][4:]), 1)]
sys.exit(main(["train", *sys.argv[2:]]))
"""
SPIN = "while True: pass"


def train_seconds(threads: str | None, args: list[str], folder: Path) -> tuple[float, list[int]]:
    """Training seconds of one ``train ARGS --out folder`` in a fresh process, and the thread
    count of each epoch (its ``history.json``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tinygrad_edu", "train", *args]
    if threads is not None and threads.startswith("blas"):
        command = [sys.executable, "-c", OPENBLAS_THREADS, threads, *args]
    elif threads is not None:  # the engine's pool of N, BLAS on one
        command += ["--threads", threads]
    command += ["--out", str(folder), "--overwrite"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"busy_machine: train failed:\n{done.stdout}{done.stderr}")
    history = json.loads((folder / "history.json").read_text())
    return sum(history["epoch_times"]), history.get("epoch_threads", [])


class BusyProcess:
    """A Python loop spinning on one core while the block runs (it is killed at the end)."""

    def __enter__(self) -> BusyProcess:
        self.proc = subprocess.Popen([sys.executable, "-c", SPIN])
        time.sleep(0.2)  # let it start
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def time_rounds(
    args: list[str], rounds: int, states: list[str], folder: Path
) -> dict[tuple[str, str], list[tuple[float, list[int]]]]:
    """{(state, row): [(seconds, epoch thread counts) per round]}, interleaved."""
    names = list(ROWS)
    times: dict[tuple[str, str], list[tuple[float, list[int]]]] = {
        (s, n): [] for s in states for n in names
    }
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for state in states if r % 2 == 0 else states[::-1]:
            with BusyProcess() if state == "busy" else contextlib.nullcontext():
                for name in order:
                    times[state, name].append(train_seconds(ROWS[name], args, folder))
    return times


def report(
    times: dict[tuple[str, str], list[tuple[float, list[int]]]], header: str, states: list[str]
) -> None:
    """The Markdown table, then the default's ratio to the better fixed count per state."""
    print(header)
    print("| state | row | training s (median) | min..max | threads per epoch (last round) |")
    print("|---|---|---:|---:|---|")
    for (state, name), runs in times.items():
        seconds = [s for s, _ in runs]
        counts = runs[-1][1]
        shown = " ".join(map(str, counts)) if len(set(counts)) > 1 else str(counts[0])
        print(
            f"| {state} | {name} | {statistics.median(seconds):.3f} | "
            f"{min(seconds):.3f}..{max(seconds):.3f} | {shown} |"
        )
    for state in states:
        median = {n: statistics.median(s for s, _ in times[state, n]) for n in ROWS}
        best = min(m for n, m in median.items() if n != "default")
        print(
            f"- {state}: default / the best fixed row = {median['default'] / best:.2f} "
            "(target <= 1.3)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--epochs", type=positive_int, default=20, help="train's default: 20")
    parser.add_argument("--train-size", type=positive_int, help="default: all images")
    parser.add_argument("--states", default="quiet,busy", help="quiet, busy or both")
    args = parser.parse_args(argv)
    args.states = args.states.split(",")
    if not args.states or any(s not in STATES for s in args.states):
        parser.error(f"--states: choose from {', '.join(STATES)}, got {','.join(args.states)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if (args.data_dir / "train-images-idx3-ubyte.gz").exists():
        data = ["--data-dir", str(args.data_dir.resolve())]
    else:
        print(f"(no MNIST at {args.data_dir}: the bundled mnist-sample instead)")
        data = ["--dataset", "mnist-sample"]
    train = [*data, "--epochs", str(args.epochs)]
    train += ["--train-size", str(args.train_size)] if args.train_size else []
    with tempfile.TemporaryDirectory() as tmp:
        times = time_rounds(train, args.rounds, args.states, Path(tmp) / "run")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    report(
        times,
        f"# `tinygrad-edu train {' '.join(train)}`, {args.rounds} interleaved rounds, "
        f"{os.cpu_count()} CPUs, load average after: {load}",
        args.states,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
