"""Run ``tinygrad-edu sweep`` (all tables by default) and report its total runtime.

    python benchmarks/sweep_tables.py [--threads 1] [sweep options ...]
    python benchmarks/sweep_tables.py --threads 1 --data-dir ../shared/data/mnist-24k --out DIR

The sweep options are those of ``tinygrad-edu sweep`` (``--table``, ``--data-dir``,
``--out``, ``--seed``, ``--epochs``, ``--quick``, ...); the default ``--data-dir`` is
``../shared/data/mnist-24k`` beside the repo root when it exists. ``--threads N`` sets the
OpenBLAS/OpenMP threads before numpy is imported.

On a busy 2-core machine one thread gives steadier times than two. Measured 2026-11-29 on a
2-core machine that other jobs kept busy (load average 4.5 to 8), numpy with OpenBLAS 0.3.31,
alternating the two settings, with the total wall time this script prints::

    for round in 1 2 3 4 5; do for t in 1 2; do
        python benchmarks/sweep_tables.py --threads $t --quick; done; done   # also --table lr

    --quick (5 rounds)         1 thread:  0.4 to 0.7 s    2 threads:  2.5 to 7.7 s
    --table lr (5 rounds)      1 thread:  4.2 to 9.9 s    2 threads: 32.8 to 98.7 s
    all tables (3 rounds)      1 thread: 20.0 to 28.4 s   2 threads: 14.7, 14.9 and 121.0 s

Two threads were faster only in the last two rounds of the full sweep, when a core happened
to be free; in the other 11 rounds they were 3.6 to 12.8 times slower than one thread in the
same round (OpenBLAS waits for the busy core: see ``_blas.py``). No quiet machine was measured.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from _blas import threads_from_argv

ARGV = threads_from_argv(sys.argv[1:])
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-24k"

from tinygrad_edu.cli.app import ArgumentParser  # noqa: E402

from tinygrad_edu.cli.sweep import add_sweep_command  # noqa: E402


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="tinygrad-edu")
    add_sweep_command(parser.add_subparsers(dest="command"))
    if "--data-dir" not in argv and "--dataset" not in argv and DEFAULT_MNIST.is_dir():
        argv = [*argv, "--data-dir", str(DEFAULT_MNIST)]
    args = parser.parse_args(["sweep", *argv])
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    start = time.perf_counter()
    status = args.func(args)
    print(
        f"sweep_tables: {time.perf_counter() - start:.1f} s wall in all "
        f"(OpenBLAS threads: {threads})",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main(ARGV))
