"""The overfitting study: the course's 784-64-10 sigmoid MLP trained on a few images and on many.

The same network and settings (:data:`OVERFITTING_CONFIG`: 784-64-10 sigmoid, SGD with
momentum 0.9, lr 0.5, batch 100, 30 epochs) are trained on the first 2,000 training images and
on the whole training set. After every epoch each run measures its accuracy and loss on the
images it trains on and on a validation set; the gap between the two curves,
train acc - validation acc, is the overfitting. Seeded, so the accuracies repeat exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import nn
from ..data import Dataset
from ..engine.errors import check_integer
from ..training import LambdaCallback, TrainingState, evaluate, fit
from .runs import Log, RunConfig, check_datasets, percent

__all__ = [
    "OVERFITTING_CONFIG",
    "OverfittingRun",
    "overfitting_run",
    "overfitting_study",
    "overfitting_table",
    "shared_ylim",
]

#: The overfitting study: SGD with momentum 0.9, lr 0.5, batch 100, 30 epochs.
OVERFITTING_CONFIG = RunConfig(optimizer="momentum", lr=0.5, batch_size=100, epochs=30)


@dataclass
class OverfittingRun:
    """One run of the overfitting study: per-epoch accuracy and loss (index e = after epoch
    e + 1) on the ``n_train`` training images (all of them, eval mode) and the validation set;
    ``model`` is the trained network (None until the run has trained)."""

    n_train: int
    config: RunConfig
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    updates: int = 0
    train_seconds: float = 0.0
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def epochs(self) -> int:
        return len(self.train_acc)

    @property
    def gap(self) -> float:
        """Final train accuracy minus final validation accuracy (fractions)."""
        return self.train_acc[-1] - self.val_acc[-1] if self.train_acc else math.nan

    @property
    def best_epoch(self) -> int:
        """The epoch (from 1) with the highest validation accuracy (the first, if tied)."""
        return int(np.argmax(self.val_acc)) + 1 if self.val_acc else 0

    def measure(self, model: nn.Module, train: Dataset, validation: Dataset) -> None:
        """Append one epoch's point: the accuracy and mean loss of ``model`` on ``train`` and
        on ``validation``."""
        train_loss, train_acc = evaluate(model, train)
        val_loss, val_acc = evaluate(model, validation)
        self.train_acc.append(train_acc)
        self.train_loss.append(train_loss)
        self.val_acc.append(val_acc)
        self.val_loss.append(val_loss)


def _first_images(train: Dataset, n_train: int | None) -> Dataset:
    """The first ``n_train`` images of ``train`` (all of them if None)."""
    n = len(train) if n_train is None else n_train
    check_integer("overfitting_run", "n_train", n, 1, len(train))
    return train if n == len(train) else train.subset(n)


def overfitting_run(
    train: Dataset,
    validation: Dataset,
    n_train: int | None = None,
    config: RunConfig = OVERFITTING_CONFIG,
    seed: int = 0,
    log: Log = None,
) -> OverfittingRun:
    """Train ``config`` on the first ``n_train`` images of ``train`` (all if None); after every
    epoch, measure accuracy and loss on those images and on ``validation``."""
    check_datasets("overfitting_run", train=train, validation=validation)
    subset = _first_images(train, n_train)
    model, optimizer = config.build(seed)
    run = OverfittingRun(n_train=len(subset), config=config)

    def after_epoch(state: TrainingState) -> None:
        run.measure(model, subset, validation)
        if log is not None:
            log(
                f"{run.n_train:>6} images, epoch {state.epoch:>3}: train "
                f"{100 * run.train_acc[-1]:6.2f}%  validation {100 * run.val_acc[-1]:6.2f}%"
            )

    batches, needed = config.training(subset, seed)
    history = fit(
        model,
        batches,
        None,
        nn.cross_entropy,
        optimizer,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        callbacks=[*needed, LambdaCallback(on_epoch_end=after_epoch)],
        threads=config.threads,
    )
    run.updates = history.epoch_end_iterations[-1] if history.epoch_end_iterations else 0
    run.train_seconds = float(sum(history.epoch_times))
    run.model = model
    return run


def overfitting_study(
    train: Dataset,
    validation: Dataset,
    sizes: Sequence[int | None] = (2000, None),
    config: RunConfig = OVERFITTING_CONFIG,
    seed: int = 0,
    log: Log = None,
) -> list[OverfittingRun]:
    """:func:`overfitting_run` for each training-set size (None = the whole set), with the same
    network, hyperparameters, epochs and seed."""
    return [overfitting_run(train, validation, n, config, seed, log) for n in sizes]


def shared_ylim(runs: Sequence[OverfittingRun], margin: float = 2.0) -> tuple[float, float]:
    """Y-limits in % covering every run's curves (so that their figures compare)."""
    values = [v for r in runs for v in (*r.train_acc, *r.val_acc)]
    if not values:
        return (0.0, 100.0)
    low = 100 * min(values) - margin
    return (max(0.0, math.floor(low)), 100.0 + margin / 4)


def overfitting_table(runs: Sequence[OverfittingRun], validation_name: str = "validation") -> str:
    """A Markdown table of each run's final numbers and its best validation epoch."""
    lines = [
        f"| training images | epochs | updates | train acc (%) | {validation_name} acc (%) "
        "| gap (points) | best validation acc (%) (epoch) | time (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        best = r.best_epoch
        lines.append(
            f"| {r.n_train:,} | {r.epochs} | {r.updates:,} | {percent(r.train_acc[-1])} | "
            f"{percent(r.val_acc[-1])} | {percent(r.gap)} | {percent(r.val_acc[best - 1])} "
            f"({best}) | {r.train_seconds:.2f} |"
        )
    return "\n".join(lines) + "\n"
