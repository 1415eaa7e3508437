"""``tinygrad-edu sweep``: the seeds' hyperparameter tables as Markdown and CSV.

::

    $ tinygrad-edu sweep --table lr --data-dir ../shared/data/mnist-24k --out sweeps/
    $ tinygrad-edu sweep --table all --quick          # 1,000 images, 2 epochs: seconds

Each table (learning rate, hidden units, batch size x epochs, optimiser; see
:mod:`tinygrad_edu.experiments`) is printed to stdout as Markdown, and with ``--out DIR``
written to ``DIR/<table>.md`` and ``DIR/<table>.csv``. One progress line per run goes to
stderr. A user's error is one line ``tinygrad-edu sweep: error: ...`` on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..course import experiments as ex
from .options import nonnegative_int, positive_int

__all__ = ["add_sweep_command", "run_sweep_command"]

PROG = "tinygrad-edu sweep"
DATASETS = ("mnist", "fashion-mnist", "mnist-sample", "png")
EXIT_USER_ERROR = 2


class SweepError(ValueError):
    """A user's error in the sweep's arguments or data (one line, exit status 2)."""


def add_sweep_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``subparsers``; its handler is ``args.func(args) -> int``."""
    base = ex.BASE_CONFIG
    p = subparsers.add_parser(
        "sweep",
        help="hyperparameter tables (learning rate, hidden units, batch size, optimiser)",
        description="Train the seeds' 784-64-10 sigmoid network with one setting changed at a "
        "time and print each table as Markdown: train accuracy (the full training set, after "
        "training), test accuracy and training time. Base: "
        f"{base.optimizer.upper()} lr {base.lr:g}, batch {base.batch_size}, {base.epochs} epochs.",
    )
    p.add_argument(
        "--table",
        choices=(*ex.TABLES, "all"),
        default="all",
        help="lr (0.005 ... 2), hidden (50, 20, 5 units), batch (200 x 10, 20000 x 10, "
        "20000 x 100 epochs), optimizer (SGD, momentum, Adam) or all (default)",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default="mnist",
        help="the dataset (default mnist: --data-dir, else the cache, else a download)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four IDX files (mnist, fashion-mnist) or train/ and test/ (png)",
    )
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/<table>.md and DIR/<table>.csv (created if missing)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="weights and batch order")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help=f"epochs per run instead of {base.epochs} (the batch table: N and 10 N)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"first {ex.QUICK_TRAIN:,} train and {ex.QUICK_TEST} test images, "
        f"{ex.QUICK_EPOCHS} epochs (unless --epochs): a smoke test in seconds",
    )
    p.set_defaults(func=run_sweep_command)
    return p


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from .. import data

    if args.data_dir is not None and not args.data_dir.is_dir():
        raise SweepError(f"--data-dir {args.data_dir} does not exist or is not a folder")
    if args.dataset == "mnist-sample" and args.data_dir is not None:
        raise SweepError("--data-dir is not used with --dataset mnist-sample")
    train, test = data.load_dataset(args.dataset, data_dir=args.data_dir, download=not args.offline)
    for split in (train, test):
        if split.shape != (28, 28) or len(split.classes) != ex.N_CLASSES:
            raise SweepError(
                f"{split.name}: the sweep's network takes 28x28 images in 10 classes, got "
                f"{split.shape[0]}x{split.shape[1]} in {len(split.classes)}"
            )
        if len(split) == 0:
            raise SweepError(f"{split.name} holds no images")
    return train, test


def run_sweep_command(args: argparse.Namespace) -> int:
    """Run the tables named by ``args.table``; print them; write them to ``args.out``."""
    from ..data import DatasetError, DownloadError

    try:
        return _run(args)
    except (SweepError, DatasetError, DownloadError) as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USER_ERROR


def _run(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    if out is not None:
        if out.exists() and not out.is_dir():
            raise SweepError(f"--out {out} exists and is not a folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SweepError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    train, test = _load(args)
    epochs = args.epochs
    if args.quick:
        train, test = ex.quick_subsets(train, test)
        epochs = epochs or ex.QUICK_EPOCHS
    tables = list(ex.TABLES) if args.table == "all" else [args.table]

    def log(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    runs = 0
    for name in tables:
        print(f"sweep {name}: {train.name} ({len(train):,} train images)", file=sys.stderr)
        table = ex.run_sweep(name, train, test, seed=args.seed, epochs=epochs, log=log)
        runs += len(table.results)
        print(table.to_markdown(), flush=True)
        if out is not None:
            md, cs = table.write(out)
            print(f"  wrote {md} and {cs}", file=sys.stderr)
    print(
        f"sweep: {runs} runs in {time.perf_counter() - start:.1f} s (training and evaluation)",
        file=sys.stderr,
    )
    return 0
