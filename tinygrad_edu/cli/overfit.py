"""``tinygrad-edu overfit``: the overfitting study, the same network trained on the first 2,000
training images and on all of them, with the second handout's settings (sections 2.5 and 3.3)::

    $ tinygrad-edu overfit --data-dir ../shared/data/mnist-24k                # the MLP
    $ tinygrad-edu overfit --data-dir ../shared/data/mnist-24k --model cnn    # the small CNN

Plain SGD with batch 256 (the learning rate ``train`` takes for plain SGD: 2.0 for the MLP,
0.1 for the CNN), 30 epochs for the MLP and 15 for the CNN. After every epoch each run measures
its accuracy and loss on the images it trains on and on a validation set: the test split,
never trained on (fair here: the study compares curves and chooses nothing). Prints the table
of final numbers (:func:`~tinygrad_edu.course.overfitting.overfitting_table`), one progress
line per epoch on stderr, and writes ``DIR/overfitting.md`` and ``DIR/overfitting_<model>.png``
(accuracy and loss per epoch, the two runs side by side). ``--optimizer``, ``--lr``,
``--momentum``, ``--batch-size``, ``--epochs`` and ``--seed`` are rows of ``train``'s settings
table (:data:`~tinygrad_edu.cli.settings.SETTINGS`): the same types, checks and help, with the
handout's defaults.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import optim
from ..course.overfitting import OverfittingRun, overfitting_study, overfitting_table
from ..course.runs import N_CLASSES, RunConfig
from ..data import Dataset
from .errors import CLIError
from .network import MODEL_LR, MODELS
from .options import add_data_arguments, positive_int
from .rundata import load_data
from .settings import USES_MOMENTUM, add_setting_arguments, refuse_unneeded, training_text

__all__ = ["HANDOUT_EPOCHS", "add_overfit_command", "run_overfit"]

#: Epochs per model (the CNN's epoch costs about 15 times the MLP's).
HANDOUT_EPOCHS = {"mlp": 30, "cnn": 15}
HANDOUT_OPTIMIZER, HANDOUT_BATCH, SMALL = "sgd", 256, 2000
#: ``--quick``: training images, validation images, images of the small run, epochs.
QUICK = (1000, 1000, 200, 3)
#: The options overfit takes from ``train``'s settings table (:data:`.settings.SETTINGS`).
SETTING_KEYS = ("optimizer", "lr", "momentum", "batch_size", "epochs", "seed", "threads")


def add_overfit_command(subparsers: Any) -> None:
    """Add ``overfit``."""
    p = subparsers.add_parser(
        "overfit",
        help="the overfitting study: 2,000 training images against all of them",
        description="Train the same network on the first --small training images and on all "
        "of them, with the same settings, epochs and seed; after every epoch measure accuracy "
        "and loss on the images trained on and on the test split (the validation set, never "
        "trained on). Prints the final numbers as Markdown and draws the curves.",
    )
    p.add_argument("--model", choices=MODELS, default="mlp", help="default mlp")
    add_data_arguments(p, default_text="mnist, else the bundled mnist-sample")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write DIR/overfitting.md and DIR/overfitting_<model>.png "
        "(default runs/overfit-<model>)",
    )
    p.add_argument(
        "--small",
        type=positive_int,
        metavar="N",
        help=f"training images of the small run (default {SMALL:,})",
    )
    epochs = ", ".join(f"{m} {e}" for m, e in HANDOUT_EPOCHS.items())
    defaults = {
        "optimizer": HANDOUT_OPTIMIZER,
        "batch_size": str(HANDOUT_BATCH),
        "epochs": f"{epochs}; {QUICK[3]} with --quick",
    }
    add_setting_arguments(p, SETTING_KEYS, defaults)  # train's rows, overfit's defaults
    train, val, small, quick_epochs = QUICK
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"first {train:,} training and {val:,} validation images, {small} in the small run "
        f"(unless --small), {quick_epochs} epochs (unless --epochs): a smoke test",
    )
    p.set_defaults(func=run_overfit)


def run_overfit(args: argparse.Namespace) -> int:
    """Handler of ``overfit``: the data, the two runs, the table and the figure."""
    out = args.out or Path("runs") / f"overfit-{args.model}"
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} exists and is not a folder")
    try:  # before training, so that a bad folder fails at once
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    train, validation = _load(args)
    small, epochs = args.small or SMALL, args.epochs
    if args.quick:
        n_train, n_val, quick_small, quick_epochs = QUICK
        train = train.subset(min(n_train, len(train)))
        validation = validation.subset(min(n_val, len(validation)))
        small, epochs = args.small or quick_small, epochs or quick_epochs
    if small >= len(train):
        raise CLIError(f"--small {small:,} must be below the {len(train):,} training images")
    config, settings = _config(args, epochs)
    setting = f"{config.network}, {training_text(settings)}"
    print(
        f"overfit: {setting}; validation: {validation.name} ({len(validation):,} images)",
        file=sys.stderr,
    )
    runs = overfitting_study(train, validation, (small, None), config, settings["seed"], _log)
    _write(out, args.model, runs, setting, train, validation)
    return 0


def _config(args: argparse.Namespace, epochs: int | None) -> tuple[RunConfig, dict[str, Any]]:
    """The runs' settings (the rows :data:`SETTING_KEYS` of ``train``'s table): the options
    given, else the handout's; and the RunConfig they make."""
    optimizer = args.optimizer or HANDOUT_OPTIMIZER
    refuse_unneeded("momentum", args.momentum, optimizer)
    momentum = optim.MOMENTUM if args.momentum is None else args.momentum
    settings = {
        "optimizer": optimizer,
        "lr": args.lr or MODEL_LR[args.model][optimizer],
        "momentum": momentum if optimizer in USES_MOMENTUM else None,
        "batch_size": args.batch_size or HANDOUT_BATCH,
        "epochs": epochs or HANDOUT_EPOCHS[args.model],
        "seed": 0 if args.seed is None else args.seed,
        "threads": args.threads,
    }
    config = RunConfig(
        model=args.model,
        optimizer=optimizer,
        lr=settings["lr"],
        momentum=momentum,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        threads=args.threads,
    )
    return config, settings


def _log(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> tuple[Dataset, Dataset]:
    """The training and test splits, which must be 28x28 images in 10 classes."""
    fallback = args.dataset is None and args.data_dir is None  # as train: the sample offline
    train, test = load_data(args.dataset or "mnist", args.data_dir, args.offline, fallback)
    for split in (train, test):
        if split.shape != (28, 28) or len(split.classes) != N_CLASSES or len(split) == 0:
            raise CLIError(
                f"{split.name}: the study's networks take 28x28 images in 10 classes, got "
                f"{len(split):,} images of {split.shape[0]}x{split.shape[1]} in "
                f"{len(split.classes)} classes"
            )
    return train, test


def _write(
    out: Path,
    model: str,
    runs: list[OverfittingRun],
    setting: str,
    train: Dataset,
    validation: Dataset,
) -> None:
    """Print the table; write it and the figure into ``out``."""
    from ..course.plots import plot_overfitting_runs  # matplotlib: loaded only to draw

    table = (
        f"{setting}. Train: the images trained on; validation: {validation.name} "
        f"({len(validation):,} images, never trained on); gap = train - validation.\n\n"
        + overfitting_table(runs, "validation")
    )
    print(table, flush=True)
    (out / "overfitting.md").write_text(table, encoding="utf-8")
    panels = [(_panel_title(r, train), r.train_acc, r.val_acc) for r in runs]
    figure = plot_overfitting_runs(
        panels,
        out / f"overfitting_{model}.png",
        f"{setting}\nvalidation: the {len(validation):,}-image test split",
        losses=[(r.train_loss, r.val_loss) for r in runs],
    )
    print(f"overfit: wrote {out / 'overfitting.md'} and {figure}", file=sys.stderr)


def _panel_title(run: OverfittingRun, train: Dataset) -> str:
    """E.g. ``the first 2,000 training images (240 updates)``."""
    which = "all" if run.n_train == len(train) else "the first"
    updates = f"{run.updates:,} update" + ("" if run.updates == 1 else "s")
    return f"{which} {run.n_train:,} training images ({updates})"
