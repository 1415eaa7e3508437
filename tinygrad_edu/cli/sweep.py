"""``tinygrad-edu sweep``: the course's hyperparameter tables as Markdown and CSV.

::

    $ tinygrad-edu sweep --table lr --data-dir ../shared/data/mnist-24k --out sweeps/
    $ tinygrad-edu sweep --table all --quick          # 1,000 images, 2 epochs: seconds

Each table (learning rate, hidden units, batch size x epochs, optimiser; see
:mod:`tinygrad_edu.course.sweeps`) is printed to stdout as Markdown, and with ``--out DIR``
written to ``DIR/<table>.md`` and ``DIR/<table>.csv``. One progress line per run goes to
stderr. ``--tensorboard DIR`` writes each row's run to ``DIR/<table>/<value>`` (``lr/0.005``,
...), so that ``tensorboard --logdir DIR`` shows the rows side by side. ``--hidden`` and every
base setting ``train`` takes (the rows of :data:`~tinygrad_edu.cli.settings.SETTINGS` that
``sweep`` takes: ``--lr``, ``--optimizer``, ``--momentum``, ``--batch-size``, ``--epochs``,
``--dropout``, ``--augment``, ...) change the base every table starts from, wherever the table
itself does not vary that setting (handout 003: ``--table batch --optimizer adam
--hidden 20``; the hidden units at the best learning rate: ``--table hidden --lr 2``).
``--table curves`` draws handout 003's curve-monitoring figures into ``--out DIR``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..course import sweeps
from ..course.runs import N_CLASSES, RunConfig
from ..data import Dataset
from ..training import Callback, TensorBoard
from ..training.history import plural
from .errors import CLIError
from .options import PROG, positive_int, tensorboard_folder
from .rundata import load_run_data
from .settings import SETTINGS, add_arguments, given_settings, refuse_unneeded

__all__ = ["add_sweep_command", "run_sweep"]


def add_sweep_command(subparsers: Any) -> None:
    """Add ``sweep``."""
    base = sweeps.BASE_CONFIG
    p = subparsers.add_parser(
        "sweep",
        help="hyperparameter tables (learning rate, hidden units, batch size, optimiser)",
        description="Train the course's 784-64-10 sigmoid MLP with one setting changed at a "
        "time and print each table as Markdown: train accuracy (the full training set, after "
        "training), test accuracy and training time. Base: "
        f"{base.optimizer.upper()} lr {base.lr:g}, batch {base.batch_size}, "
        f"{plural(base.epochs, 'epoch')}; the options below change it, in every table that does "
        "not vary that setting.",
    )
    p.add_argument(
        "--table",
        choices=(*sweeps.TABLES, "all", "curves"),
        default="all",
        help="lr (0.005 ... 2), hidden (50, 20, 5 units), batch (200 x 10, 20000 x 10, "
        "20000 x 100 epochs), optimizer (SGD, momentum, Adam), all (default: these four), or "
        "curves (handout 003's loss and accuracy per epoch for batch x epochs 500 x 20, "
        "30000 x 20 and 200 x 250, drawn into --out DIR; a batch over the training set's size "
        "is the full batch)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/<table>.md and DIR/<table>.csv (created if missing)",
    )
    p.add_argument(
        "--hidden", type=positive_int, metavar="H", help=f"hidden units (default {base.hidden})"
    )
    add_arguments(p, "sweep", _base_defaults(), "mnist, else the bundled mnist-sample")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"first {sweeps.QUICK_TRAIN:,} train and {sweeps.QUICK_TEST} test images, "
        f"{sweeps.QUICK_EPOCHS} epochs (unless --epochs): a smoke test in seconds",
    )
    p.add_argument(
        "--tensorboard",
        type=tensorboard_folder,
        metavar="DIR",
        help="also write each row's TensorBoard run to DIR/<table>/<value> (e.g. DIR/lr/0.005); "
        'view them with `tensorboard --logdir DIR`. Needs pip install "tinygrad_edu[tensorboard]"',
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        metavar="R",
        help="train each row R times (the same seed: the same accuracies); its time is the "
        "median of the R (default 1)",
    )
    p.add_argument("--log-loss", action="store_true", help="curves: the loss on a log scale")
    p.set_defaults(func=run_sweep)


def _base_defaults() -> dict[str, str]:
    """What the help says of each base option's default: the base's own value."""
    base = sweeps.BASE_CONFIG
    shown = {f.name: f"{getattr(base, f.name):g}" for f in fields(base) if f.type == "float"}
    lrs = ", ".join(f"{name} {lr:g}" for name, lr in sweeps.BASE_LR.items())
    return {
        **shown,
        "lr": f"the optimiser's: {lrs}",
        "epochs": f"{base.epochs}; the batch table: N and 10 N",
        "batch_size": f"{base.batch_size}; larger than the training set: the full batch",
        "seed": "0",
        "activation": base.activation,
        "optimizer": base.optimizer,
        "init": base.init,
        "train_size": f"all; {sweeps.QUICK_TRAIN:,} with --quick",
        "test_size": f"all; {sweeps.QUICK_TEST:,} with --quick",
    }


#: The base settings a RunConfig holds (the data, seed and epochs go to the sweep itself: the
#: batch table scales its epochs).
BASE_KEYS = tuple(
    row.key
    for row in SETTINGS
    if row.sweep and row.key in {f.name for f in fields(RunConfig)} and row.key != "epochs"
)


def _base(args: argparse.Namespace) -> RunConfig:
    """The base every table starts from: the sweep's, with the options given."""
    given = given_settings(args)
    values = {key: given[key] for key in BASE_KEYS if given[key] is not None}
    rows = {row.key: row for row in SETTINGS}
    values = {key: rows[key].value(value, values) for key, value in values.items()}
    base = sweeps.base_config(**values, hidden=args.hidden)
    refuse_unneeded("init_std", given["init_std"], base.init)
    if args.table not in ("optimizer", "all"):  # the optimiser table has a momentum row
        refuse_unneeded("momentum", given["momentum"], base.optimizer)
    return base


def run_sweep(args: argparse.Namespace) -> int:
    """Handler of ``sweep``: run the tables named by ``args.table``; print them; write them to
    ``args.out``."""
    _make_folder(args.out)
    base = _base(args)
    args.seed = 0 if args.seed is None else args.seed
    train, test = _load(args)
    epochs = args.epochs
    if args.quick:
        train, test = sweeps.quick_subsets(train, test)
        epochs = epochs or sweeps.QUICK_EPOCHS
    if args.table == "curves":
        return _run_curves(args, train, test, base, epochs)
    if base.batch_size >= len(train):
        print(
            f"sweep: --batch-size {base.batch_size:,} >= the {len(train):,} training images: "
            "the full batch (one update per epoch)",
            file=sys.stderr,
        )
    tables = list(sweeps.TABLES) if args.table == "all" else [args.table]

    start = time.perf_counter()
    runs = 0
    for name in tables:
        print(f"sweep {name}: {train.name} ({len(train):,} train images)", file=sys.stderr)
        board = _row_callbacks(args.tensorboard)
        table = sweeps.run_sweep(
            name, train, test, args.seed, epochs, _log, board, base, args.repeat
        )
        runs += len(table.results)
        print(table.to_markdown(), flush=True)
        if args.out is not None:
            md, cs = table.write(args.out)
            print(f"  wrote {md} and {cs}", file=sys.stderr)
    print(
        f"sweep: {runs} runs in {time.perf_counter() - start:.1f} s (training and evaluation)",
        file=sys.stderr,
    )
    return 0


def _log(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _run_curves(
    args: argparse.Namespace,
    train: Dataset,
    test: Dataset,
    base: RunConfig,
    epochs: int | None,
) -> int:
    """``--table curves``: the runs, their figures in ``--out``, and their table."""
    if args.out is None:
        raise CLIError("--table curves draws figures: give the folder with --out DIR")
    print(f"sweep curves: {train.name} ({len(train):,} train images)", file=sys.stderr)
    table, paths = sweeps.run_curves(
        train, test, args.out, args.seed, epochs, _log, base, args.log_loss
    )
    print(table.to_markdown(), flush=True)
    md, cs = table.write(args.out)
    for path in (*paths, md, cs):
        print(f"  wrote {path}", file=sys.stderr)
    return 0


def _row_callbacks(board: Path | None) -> sweeps.RowCallbacks | None:
    """With ``--tensorboard DIR``: a TensorBoard in ``DIR/<row name>`` for each row (what goes
    wrong with its file, e.g. a full disk, is a warning line; the sweep goes on)."""
    if board is None:
        return None

    def warn(line: str) -> None:
        print(f"{PROG} sweep: warning: {line}", file=sys.stderr, flush=True)

    def callbacks(row: str) -> list[Callback]:
        return [TensorBoard(board / row, say=warn)]

    return callbacks


def _make_folder(out: Path | None) -> None:
    """Create the ``--out`` folder (before any training)."""
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {out}: cannot create the folder ({e.strerror})") from None


def _load(args: argparse.Namespace) -> tuple[Dataset, Dataset]:
    """The dataset, which must be 28x28 images in 10 classes."""
    fallback = args.dataset is None and args.data_dir is None  # as train: the sample offline
    where = given_settings(args)
    where["dataset"] = args.dataset or "mnist"
    train, test, _ = load_run_data(where, args.offline, fallback)
    for split in (train, test):
        if split.shape != (28, 28) or len(split.classes) != N_CLASSES:
            raise CLIError(
                f"{split.name}: the sweep's network takes 28x28 images in 10 classes, got "
                f"{split.shape[0]}x{split.shape[1]} in {len(split.classes)}"
            )
        if len(split) == 0:
            raise CLIError(f"{split.name} holds no images")
    return train, test
