"""The course's experiments: hyperparameter sweeps, the overfitting study and the single neuron.

* **Sweeps** (``tinygrad-edu sweep``): the seeds' network, 784-64-10 sigmoid with N(0, 0.1^2)
  weights and softmax cross-entropy, trained with one setting changed at a time
  (:data:`TABLES`: learning rate, hidden units, batch size x epochs, optimiser). Each run
  gives a :class:`RunResult`: accuracy on the full training set after training, accuracy on the
  test set, and the wall-clock seconds of training alone (no evaluation).
* **Overfitting** (:func:`overfitting_study`): the same network trained on the first 2,000
  images and on the whole training set; accuracy on both and on a validation set after every
  epoch.
* **The single neuron** (:func:`train_single_neuron`): p = sigmoid(w . x + b), one digit
  against the rest, trained with binary cross-entropy; its accuracy, precision and recall, and
  its 784 weights as a 28x28 image.

Everything is seeded (weights, batch order), so the accuracies repeat exactly; times do not.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..data import Dataset
from ..training import (
    History,
    LambdaCallback,
    TrainingState,
    confusion_matrix,
    evaluate,
    fit,
    predict,
)

__all__ = [
    "BASE_CONFIG",
    "OVERFITTING_CONFIG",
    "TABLES",
    "OverfittingRun",
    "RunConfig",
    "RunResult",
    "SingleNeuronResult",
    "SweepTable",
    "binary_metrics",
    "overfitting_run",
    "overfitting_study",
    "overfitting_table",
    "quick_subsets",
    "run_config",
    "run_sweep",
    "shared_ylim",
    "table_configs",
    "train_single_neuron",
]

#: The sweep tables, in the order ``--table all`` runs them.
TABLES = ("lr", "hidden", "batch", "optimizer")
N_INPUTS, N_CLASSES = 784, 10

LR_VALUES = (0.005, 0.05, 0.5, 2.0)
HIDDEN_VALUES = (50, 20, 5)
BATCH_EPOCHS = ((200, 10), (20000, 10), (20000, 100))
#: Learning rate per optimiser in the optimiser table (momentum's and Adam's are the CLI's).
OPTIMIZER_LR = {"sgd": 0.5, "momentum": 0.5, "adam": 0.003}

#: ``--quick``: the first images of each split, and epochs per run.
QUICK_TRAIN, QUICK_TEST, QUICK_EPOCHS = 1000, 500, 2

TITLES = {
    "lr": "Learning rate",
    "hidden": "Hidden units",
    "batch": "Batch size x epochs",
    "optimizer": "Optimiser",
}
#: Column names: (CSV, Markdown).
COLUMNS = (
    ("hidden", "hidden units"),
    ("optimizer", "optimiser"),
    ("lr", "learning rate"),
    ("batch_size", "batch size"),
    ("epochs", "epochs"),
    ("updates", "updates"),
    ("train_acc", "train acc (%)"),
    ("test_acc", "test acc (%)"),
    ("train_seconds", "time (s)"),
)

Log = Callable[[str], None] | None


# =============================================================================== one run
@dataclass(frozen=True)
class RunConfig:
    """One training run of a 784-``hidden``-10 sigmoid MLP with softmax cross-entropy.

    ``optimizer`` is a name in ``optim.OPTIMIZERS`` (momentum: SGD with momentum 0.9). The
    defaults are the seeds' setting: plain SGD, lr 0.5, batch 200, 10 epochs.
    """

    hidden: int = 64
    optimizer: str = "sgd"
    lr: float = 0.5
    batch_size: int = 200
    epochs: int = 10

    def __post_init__(self) -> None:
        for name in ("hidden", "batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise ValueError(f"RunConfig: {name} must be a positive integer, got {value!r}")
        if self.optimizer not in optim.OPTIMIZERS:
            raise ValueError(
                f"RunConfig: unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(optim.OPTIMIZERS)}"
            )
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"RunConfig: lr must be a number > 0, got {self.lr!r}")

    @property
    def sizes(self) -> list[int]:
        """Layer widths ``[784, hidden, 10]``."""
        return [N_INPUTS, self.hidden, N_CLASSES]

    def build(self, seed: int) -> tuple[nn.MLP, optim.Optimizer]:
        """The untrained network (weights drawn from ``seed``) and its optimiser."""
        model = nn.MLP(self.sizes, activation="sigmoid", seed=seed)
        return model, optim.make_optimizer(self.optimizer, model.parameters(), self.lr)


#: The seeds' setting that every sweep table varies: plain SGD, lr 0.5, batch 200, 10 epochs.
BASE_CONFIG = RunConfig()
#: The overfitting study: SGD with momentum 0.9, lr 0.5, batch 100, 30 epochs.
OVERFITTING_CONFIG = RunConfig(optimizer="momentum", lr=0.5, batch_size=100, epochs=30)


@dataclass
class RunResult:
    """What one run measured. Accuracies are fractions in [0, 1]; ``train_acc`` is on the whole
    training set after training; ``train_seconds`` is training alone (``sum(epoch_times)``)."""

    config: RunConfig
    train_acc: float
    test_acc: float
    train_seconds: float
    updates: int
    train_loss: float = math.nan
    test_loss: float = math.nan

    def row(self) -> dict[str, float | int | str]:
        """The CSV row: the settings, then the measurements (full precision)."""
        c = self.config
        return {
            "hidden": c.hidden,
            "optimizer": c.optimizer,
            "lr": c.lr,
            "batch_size": c.batch_size,
            "epochs": c.epochs,
            "updates": self.updates,
            "train_acc": self.train_acc,
            "test_acc": self.test_acc,
            "train_seconds": self.train_seconds,
        }


def _check_datasets(who: str, **datasets: Dataset) -> None:
    """Raise unless every named argument is a non-empty :class:`~tinygrad_edu.data.Dataset`
    (``who`` and the argument's name go into the message)."""
    for name, data in datasets.items():
        if not isinstance(data, Dataset):
            raise TypeError(f"{who}: {name} must be a Dataset, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError(f"{who}: the {name} set {data.name!r} is empty")


def _percent(fraction: float) -> str:
    """A fraction in [0, 1] as a percentage with two decimals; ``-`` when it is nan."""
    return "-" if math.isnan(fraction) else f"{100 * fraction:.2f}"


def run_config(
    config: RunConfig, train: Dataset, test: Dataset, seed: int = 0, log: Log = None
) -> RunResult:
    """Train ``config`` on ``train`` from ``seed`` (weights and batch order); measure the
    accuracy and mean cross-entropy on all of ``train`` and ``test`` afterwards."""
    _check_datasets("run_config", train=train, test=test)
    model, optimizer = config.build(seed)
    history = fit(
        model,
        train,
        None,  # no evaluation during training: the time is training alone
        nn.cross_entropy,
        optimizer,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
    )
    train_loss, train_acc = evaluate(model, train)
    test_loss, test_acc = evaluate(model, test)
    result = RunResult(
        config=config,
        train_acc=train_acc,
        test_acc=test_acc,
        train_seconds=float(sum(history.epoch_times)),
        updates=history.epoch_end_iterations[-1],
        train_loss=train_loss,
        test_loss=test_loss,
    )
    if log is not None:
        log(
            f"hidden {config.hidden}, {config.optimizer} lr {config.lr:g}, batch "
            f"{config.batch_size}, {config.epochs} epochs: train {100 * train_acc:.2f}% test "
            f"{100 * test_acc:.2f}% ({result.train_seconds:.2f} s)"
        )
    return result


# =============================================================================== sweeps
def table_configs(table: str, epochs: int | None = None) -> list[RunConfig]:
    """The runs of one sweep table (see :data:`TABLES`), each from :data:`BASE_CONFIG`.

    ``epochs`` replaces the base's 10 epochs; in the ``batch`` table, whose rows differ in
    epochs, the rows get ``epochs`` and ``10 * epochs`` (the 10:100 ratio is kept).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)} or all")
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0
    ):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    base = BASE_CONFIG if epochs is None else replace(BASE_CONFIG, epochs=epochs)
    if table == "lr":
        return [replace(base, lr=lr) for lr in LR_VALUES]
    if table == "hidden":
        return [replace(base, hidden=h) for h in HIDDEN_VALUES]
    if table == "optimizer":
        return [replace(base, optimizer=o, lr=OPTIMIZER_LR[o]) for o in optim.OPTIMIZERS]
    scale = 1.0 if epochs is None else epochs / BASE_CONFIG.epochs
    return [replace(base, batch_size=b, epochs=max(1, round(e * scale))) for b, e in BATCH_EPOCHS]


@dataclass
class SweepTable:
    """One sweep table: its runs and how they were made; ``to_markdown()`` / ``to_csv()``."""

    name: str
    results: list[RunResult]
    train_name: str = "train"
    test_name: str = "test"
    n_train: int = 0
    n_test: int = 0
    seed: int = 0
    base: RunConfig = BASE_CONFIG

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def caption(self) -> str:
        """What the columns mean and how the runs were made."""
        c = self.base
        varied = {
            "lr": "the learning rate",
            "hidden": "the hidden units",
            "batch": "the batch size and the epochs",
            "optimizer": "the optimiser (momentum 0.9; Adam betas 0.9, 0.999)",
        }.get(self.name, "one setting")
        text = (
            f"The seeds' network 784-H-10 (sigmoid, N(0, 0.1^2) weights, softmax "
            f"cross-entropy); base: H = {c.hidden}, {c.optimizer.upper()} lr {c.lr:g}, batch "
            f"{c.batch_size}, {c.epochs} epochs; this table changes {varied}. Trained on "
            f"{self.train_name} ({self.n_train:,} images), seed {self.seed}. "
            f"**Train acc**: accuracy on the full training set ({self.n_train:,} images) after "
            f"training. **Test acc**: on {self.test_name} ({self.n_test:,} images). "
            "**Time**: wall-clock seconds of training only (batches, forward, backward, "
            "updates; no evaluation), one run. **Updates**: epochs x ceil(N / batch)."
        )
        big = [r.config.batch_size for r in self.results if r.config.batch_size >= self.n_train]
        partial = [
            r.config.batch_size
            for r in self.results
            if r.config.batch_size < self.n_train and self.n_train % r.config.batch_size
        ]
        if big:
            text += f" A batch of {max(big):,} >= N is the whole training set (full batch)."
        if self.name == "batch" and partial:
            b = max(partial)
            k = self.n_train // b
            text += (
                f" With N = {self.n_train:,}, an epoch of batch {b:,} is "
                f"{'one batch' if k == 1 else f'{k:,} batches'} of {b:,} and one of "
                f"{self.n_train % b:,}."
            )
        return text

    def to_markdown(self) -> str:
        """A heading, the table (accuracies in %, two decimals) and the caption."""
        header = [md for _, md in COLUMNS]
        lines = [
            f"### {self.title}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + " ---: |" * len(header),
        ]
        lines += ["| " + " | ".join(cells) + " |" for cells in self._cells(_format_markdown)]
        return "\n".join([*lines, "", self.caption(), ""])

    def to_csv(self) -> str:
        """One header line (:data:`COLUMNS`' CSV names), one line per run; accuracies as
        fractions with 5 decimals, seconds with 3."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([name for name, _ in COLUMNS])
        writer.writerows(self._cells(_format_csv))
        return out.getvalue()

    def _cells(self, fmt: Callable[[str, float | int | str], str]) -> list[list[str]]:
        """One row of formatted cells per run, in the order of :data:`COLUMNS`."""
        rows = [r.row() for r in self.results]
        return [[fmt(key, row[key]) for key, _ in COLUMNS] for row in rows]

    def write(self, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``<name>.md`` and ``<name>.csv`` into ``out_dir`` (created); return the paths."""
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        md, cs = folder / f"{self.name}.md", folder / f"{self.name}.csv"
        md.write_text(self.to_markdown(), encoding="utf-8")
        cs.write_text(self.to_csv(), encoding="utf-8")
        return md, cs


def _format_markdown(key: str, value: float | int | str) -> str:
    if key in ("train_acc", "test_acc"):
        return _percent(value)
    if key == "train_seconds":
        return f"{value:.2f}"
    if key == "optimizer":
        return {"sgd": "SGD", "momentum": "momentum 0.9", "adam": "Adam"}.get(value, value)
    if key == "lr":
        return f"{value:g}"
    return f"{value:,}" if isinstance(value, int) and key != "hidden" else str(value)


def _format_csv(key: str, value: float | int | str) -> str:
    if key in ("train_acc", "test_acc"):
        return "nan" if math.isnan(value) else f"{value:.5f}"
    if key == "train_seconds":
        return f"{value:.3f}"
    if key == "lr":
        return f"{value:g}"
    return str(value)


def quick_subsets(
    train: Dataset, test: Dataset, n_train: int = QUICK_TRAIN, n_test: int = QUICK_TEST
) -> tuple[Dataset, Dataset]:
    """The first ``n_train`` / ``n_test`` images (all of them if there are fewer)."""
    return train.subset(min(n_train, len(train))), test.subset(min(n_test, len(test)))


def run_sweep(
    table: str,
    train: Dataset,
    test: Dataset,
    seed: int = 0,
    epochs: int | None = None,
    log: Log = None,
) -> SweepTable:
    """Run every configuration of ``table`` (:func:`table_configs`) and collect the results."""
    configs = table_configs(table, epochs)
    _check_datasets("run_sweep", train=train, test=test)
    results = [run_config(c, train, test, seed=seed, log=log) for c in configs]
    return SweepTable(
        table,
        results,
        train_name=train.name,
        test_name=test.name,
        n_train=len(train),
        n_test=len(test),
        seed=seed,
        base=BASE_CONFIG if epochs is None else replace(BASE_CONFIG, epochs=epochs),
    )


# =============================================================================== overfitting
@dataclass
class OverfittingRun:
    """One run of the overfitting study: per-epoch accuracy and loss (index e = after epoch
    e + 1) on the ``n_train`` training images (all of them, eval mode) and the validation set."""

    n_train: int
    config: RunConfig
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    updates: int = 0
    train_seconds: float = 0.0

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
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= len(train):
        raise ValueError(f"overfitting_run: n_train must be in 1..{len(train)}, got {n_train!r}")
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
    _check_datasets("overfitting_run", train=train, validation=validation)
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

    history = fit(
        model,
        subset,
        None,
        nn.cross_entropy,
        optimizer,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        callbacks=[LambdaCallback(on_epoch_end=after_epoch)],
    )
    run.updates = history.epoch_end_iterations[-1] if history.epoch_end_iterations else 0
    run.train_seconds = float(sum(history.epoch_times))
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
            f"| {r.n_train:,} | {r.epochs} | {r.updates:,} | {_percent(r.train_acc[-1])} | "
            f"{_percent(r.val_acc[-1])} | {_percent(r.gap)} | {_percent(r.val_acc[best - 1])} "
            f"({best}) | {r.train_seconds:.2f} |"
        )
    return "\n".join(lines) + "\n"


# =============================================================================== single neuron
@dataclass
class SingleNeuronResult:
    """The trained neuron p(x) = sigmoid(w . x + b) for "is ``digit``", and its test scores.

    ``confusion[i, j]``: test images of true class i predicted as j, with 0 = not ``digit``,
    1 = ``digit``. ``baseline_acc``: the accuracy of always answering "not ``digit``".
    """

    digit: int
    weight: np.ndarray  # (28, 28)
    bias: float
    train_acc: float
    test_acc: float
    baseline_acc: float
    precision: float
    recall: float
    confusion: np.ndarray
    train_seconds: float
    history: History

    def to_markdown(self) -> str:
        """A small table: the neuron's test accuracy, precision and recall against the baseline."""
        d = self.digit
        (tn, fp), (fn, tp) = self.confusion.tolist()
        return (
            f"| classifier | test accuracy (%) | precision for {d} (%) | recall for {d} (%) |\n"
            "| --- | ---: | ---: | ---: |\n"
            f"| one sigmoid neuron | {_percent(self.test_acc)} | {_percent(self.precision)} | "
            f"{_percent(self.recall)} |\n"
            f'| always "not {d}" | {_percent(self.baseline_acc)} | - | 0.00 |\n\n'
            f"Test set: {tp + fn:,} images of {d} and {tn + fp:,} others; the neuron finds "
            f"{tp:,} of the {d}s, misses {fn:,} and flags {fp:,} others as {d}. Train accuracy "
            f"{_percent(self.train_acc)}%.\n"
        )


def _precision_recall(confusion: np.ndarray) -> tuple[float, float]:
    """(TP / (TP + FP), TP / (TP + FN)) from a 2x2 confusion matrix; nan for 0 / 0."""
    (_, fp), (fn, tp) = confusion.tolist()
    predicted, actual = tp + fp, tp + fn
    return (tp / predicted if predicted else math.nan, tp / actual if actual else math.nan)


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of the positive class 1: TP / (TP + FP), TP / (TP + FN); nan when
    the denominator is 0. Any nonzero label counts as positive."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return _precision_recall(confusion_matrix(t, p, num_classes=2))


def _one_vs_rest(data: Dataset, digit: int) -> Dataset:
    """``data`` relabelled: 1 for images of ``digit``, 0 for every other image."""
    labels = (data.labels == digit).astype(np.int64)
    name = f"{data.name} ({digit} vs rest)"
    return Dataset(data.images, labels, name, [f"not {digit}", str(digit)])


def train_single_neuron(
    train: Dataset,
    test: Dataset,
    epochs: int = 10,
    lr: float = 0.5,
    batch_size: int = 100,
    digit: int = 0,
    seed: int = 0,
    init_std: float = 0.0,
) -> SingleNeuronResult:
    """Train one sigmoid neuron z = w . x + b, p = sigmoid(z), to tell ``digit`` from the other
    digits: binary cross-entropy (from the logit z), plain SGD, minibatches of ``batch_size``.

    Weights start at N(0, ``init_std``^2) (default 0: all zero, so pixels that are blank in every
    image keep w = 0 and the weight image shows only what was learned). Predicts ``digit`` where
    p > 1/2.
    """
    _check_datasets("train_single_neuron", train=train, test=test)
    if not 0 <= digit < len(train.classes):
        raise ValueError(f"train_single_neuron: digit must be in 0..{len(train.classes) - 1}")
    h, w = train.shape
    pos_train, pos_test = _one_vs_rest(train, digit), _one_vs_rest(test, digit)
    neuron = nn.Linear(h * w, 1, std=init_std, seed=seed)
    history = fit(
        neuron,
        pos_train,
        None,
        nn.binary_cross_entropy_with_logits,
        optim.make_optimizer("sgd", neuron.parameters(), lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    return _score(neuron, digit, pos_train, pos_test, history)


def _score(
    neuron: nn.Linear, digit: int, train: Dataset, test: Dataset, history: History
) -> SingleNeuronResult:
    """The trained ``neuron``'s weights and its scores on the one-vs-rest ``train``, ``test``."""
    _, predicted = predict(neuron, test.images)
    y = test.labels
    confusion = confusion_matrix(y, predicted, num_classes=2)
    precision, recall = _precision_recall(confusion)
    return SingleNeuronResult(
        digit=digit,
        weight=neuron.weight.data.reshape(train.shape).astype(np.float64),
        bias=float(neuron.bias.data[0]),
        train_acc=evaluate(neuron, train)[1],
        test_acc=float(np.mean(predicted == y)),
        baseline_acc=float(np.mean(y == 0)),
        precision=precision,
        recall=recall,
        confusion=confusion,
        train_seconds=float(sum(history.epoch_times)),
        history=history,
    )
