"""The overfitting study: the same network trained on 2,000 images and on the whole training set.

    python examples/overfitting.py [--data-dir ../shared/data/mnist-24k] [--out DIR]
                                   [--model mlp|cnn] [--optimizer NAME] [--lr LR]
                                   [--batch-size B] [--epochs 30] [--small 2000] [--seed 0]
                                   [--quick]

By default the course's 784-64-10 sigmoid MLP (softmax cross-entropy, SGD with momentum 0.9,
lr 0.5, batch 100); ``--model cnn`` takes the course's small CNN instead, and ``--optimizer``,
``--lr``, ``--batch-size`` change the training (handout 002, sections 2.5 and 3.3: ``--optimizer sgd
--batch-size 256`` for each network). The network is trained for the same number of epochs on
the first ``--small`` training images and on all of them. After every epoch it is evaluated on
the images it was trained on and on a validation set: the official 10,000-image MNIST test set
(never trained on). Writes one figure per run with the same y-limits
(``DIR/overfitting_<n>.png``), both runs side by side on one figure with their accuracy and loss
(``DIR/overfitting_<model>.png``) and a table of the final numbers (``DIR/overfitting.md``),
which it also prints.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from tinygrad_edu.course.overfitting import (
    OVERFITTING_CONFIG,
    overfitting_study,
    overfitting_table,
    shared_ylim,
)
from tinygrad_edu.course.plots import plot_overfitting, plot_overfitting_runs
from tinygrad_edu.data import load_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = REPO.parent / "shared" / "data" / "mnist-24k"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's four IDX files")
    parser.add_argument("--out", type=Path, default=Path("runs/overfitting"))
    parser.add_argument("--epochs", type=int, default=OVERFITTING_CONFIG.epochs)
    parser.add_argument("--small", type=int, default=2000, help="images in the small run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "momentum", "nesterov", "adam"),
        default=OVERFITTING_CONFIG.optimizer,
    )
    parser.add_argument("--lr", type=float, default=OVERFITTING_CONFIG.lr)
    parser.add_argument("--batch-size", type=int, default=OVERFITTING_CONFIG.batch_size)
    parser.add_argument(
        "--quick", action="store_true", help="200 vs 1,000 images, 1,000 validation, 3 epochs"
    )
    args = parser.parse_args(argv)
    if min(args.epochs, args.small, args.batch_size) <= 0 or not args.lr > 0:
        parser.error("--epochs, --small, --batch-size and --lr must be positive")
    data_dir = args.data_dir or (DEFAULT_MNIST if DEFAULT_MNIST.is_dir() else None)
    if data_dir is not None and not Path(data_dir).is_dir():
        parser.error(f"--data-dir {data_dir} is not a folder")
    train, validation = load_dataset("mnist", data_dir=data_dir)
    epochs, small = args.epochs, args.small
    if args.quick:
        train, validation = train.subset(min(1000, len(train))), validation.subset(1000)
        epochs, small = 3, 200
    if small >= len(train):
        parser.error(f"--small {small} must be below the {len(train):,} training images")

    config = replace(
        OVERFITTING_CONFIG,
        epochs=epochs,
        model=args.model,
        optimizer=args.optimizer,
        lr=args.lr,
        batch_size=args.batch_size,
    )
    setting = (
        f"{config.network}, {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
        f"{epochs} epochs, seed {args.seed}"
    )
    print(
        f"{setting}; validation: {validation.name} ({len(validation):,} images, the official "
        "test set)",
        file=sys.stderr,
    )
    runs = overfitting_study(
        train,
        validation,
        sizes=(small, None),
        config=config,
        seed=args.seed,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    ylim = shared_ylim(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = []
    for run in runs:
        which = "all" if run.n_train == len(train) else "the first"
        figures.append(
            plot_overfitting(
                run.train_acc,
                run.val_acc,
                args.out / f"overfitting_{run.n_train}.png",
                title=f"Trained on {which} {run.n_train:,} training images\n"
                f"(validation: the {len(validation):,}-image test set)",
                ylim=ylim,
            )
        )
    panels = [(f"{r.n_train:,} training images", r.train_acc, r.val_acc) for r in runs]
    figures.append(
        plot_overfitting_runs(
            panels,
            args.out / f"overfitting_{args.model}.png",
            title=f"{setting}; validation: the {len(validation):,}-image test set",
            losses=[(r.train_loss, r.val_loss) for r in runs],
        )
    )
    table = (
        f"{setting}. Train acc: on the images "
        f"trained on; validation: {validation.name} ({len(validation):,} images, the official "
        "test set, never trained on); gap = train - validation.\n\n"
        + overfitting_table(runs, "validation")
    )
    print(table)
    (args.out / "overfitting.md").write_text(table, encoding="utf-8")
    print(f"wrote {args.out / 'overfitting.md'}, " + ", ".join(map(str, figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
