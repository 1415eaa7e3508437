"""The sweep tables (``tinygrad-edu sweep``): the course's 784-64-10 sigmoid MLP trained with
one setting changed at a time.

The base is the course's sweep setting (:data:`BASE_CONFIG`: 784-64-10 sigmoid,
N(0, 0.1^2) weights, softmax cross-entropy, plain SGD, lr 0.5, batch 200, 10 epochs), or
another one (:func:`base_config`: any of :class:`~.runs.RunConfig`'s settings); each table in
:data:`TABLES` varies one thing: the learning rate, the hidden units, the batch size x epochs,
the optimiser. :func:`run_curves` trains the seed-003 curve-monitoring runs
(:data:`CURVE_RUNS`) and draws each one's loss and accuracy per epoch.
Each run gives a :class:`~.runs.RunResult`: accuracy on the full training set after training,
accuracy on the test set, and the wall-clock seconds of training alone (no evaluation). A
:class:`SweepTable` prints them as Markdown (accuracies in %) and as CSV (fractions).

Everything is seeded (weights, batch order), so the accuracies repeat exactly; times do not.
``run_sweep(..., callbacks=...)`` gives each run its own training callbacks, by the row's name
(:func:`row_name`): ``tinygrad-edu sweep --tensorboard DIR`` writes one TensorBoard run per row.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..data import Dataset
from ..engine.errors import InputError, check_integer
from ..engine.parallel import usable_cores
from ..training import Callback
from ..training.history import plural
from .runs import Log, RunConfig, RunResult, check_datasets, percent, run_config, usual_count

__all__ = [
    "BASE_CONFIG",
    "COLUMNS",
    "CURVE_RUNS",
    "OPTIMIZER_LR",
    "QUICK_EPOCHS",
    "QUICK_TEST",
    "QUICK_TRAIN",
    "TABLES",
    "SweepTable",
    "base_config",
    "curve_configs",
    "optimizer_name",
    "quick_subsets",
    "row_name",
    "run_curves",
    "run_sweep",
    "table_configs",
]

#: Training callbacks for one row, from the row's name (:func:`row_name`).
RowCallbacks = Callable[[str], Sequence[Callback]]

#: The sweep tables, in the order ``--table all`` runs them.
TABLES = ("lr", "hidden", "batch", "optimizer")
#: The setting every sweep table varies: plain SGD, lr 0.5, batch 200, 10 epochs.
BASE_CONFIG = RunConfig()

LR_VALUES = (0.005, 0.05, 0.5, 2.0)
HIDDEN_VALUES = (50, 20, 5)
BATCH_EPOCHS = ((200, 10), (20000, 10), (20000, 100))
#: The optimiser table's rows (the handouts' three) and their learning rates (momentum's and
#: Adam's are the CLI's).
OPTIMIZER_LR = {"sgd": 0.5, "momentum": 0.5, "adam": 0.003}
#: The base's learning rate per optimiser (``--optimizer``).
BASE_LR = {**OPTIMIZER_LR, "nesterov": 0.5}
#: Handout 003's curve-monitoring runs: (batch size, epochs).
CURVE_RUNS = ((500, 20), (30000, 20), (200, 250))

#: ``--quick``: the first images of each split, and epochs per run.
QUICK_TRAIN, QUICK_TEST, QUICK_EPOCHS = 1000, 500, 2

TITLES = {
    "lr": "Learning rate",
    "hidden": "Hidden units",
    "batch": "Batch size x epochs",
    "optimizer": "Optimiser",
    "curves": "Curve monitoring (batch size x epochs)",
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
    ("threads", "threads"),
)


def base_config(optimizer: str | None = None, **settings: Any) -> RunConfig:
    """:data:`BASE_CONFIG` with the settings given, by :class:`~.runs.RunConfig`'s names (None:
    the base's); an optimiser brings its :data:`BASE_LR` unless ``lr`` is given too:
    ``base_config("adam", hidden=20, lr=0.001)``."""
    changes = {key: value for key, value in settings.items() if value is not None}
    if optimizer is not None:
        if optimizer not in BASE_LR:
            raise InputError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(BASE_LR)}")
        changes = {"optimizer": optimizer, "lr": BASE_LR[optimizer], **changes}
    unknown = sorted(set(changes) - {f.name for f in fields(RunConfig)})
    if unknown:
        raise TypeError(f"base_config: RunConfig has no setting {', '.join(unknown)}")
    return replace(BASE_CONFIG, **changes)


def table_configs(
    table: str, epochs: int | None = None, base: RunConfig = BASE_CONFIG
) -> list[RunConfig]:
    """The runs of one sweep table (see :data:`TABLES`), each from ``base`` (default
    :data:`BASE_CONFIG`).

    ``epochs`` replaces the base's epochs; in the ``batch`` table, whose rows differ in
    epochs, the rows get ``epochs`` and ``10 * epochs`` (the 10:100 ratio is kept).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)} or all")
    if epochs is not None:
        check_integer("table_configs", "epochs", epochs, 1)
    scale = 1.0 if epochs is None else epochs / base.epochs
    base = base if epochs is None else replace(base, epochs=epochs)
    if table == "lr":
        return [replace(base, lr=lr) for lr in LR_VALUES]
    if table == "hidden":
        return [replace(base, hidden=h) for h in HIDDEN_VALUES]
    if table == "optimizer":
        return [replace(base, optimizer=o, lr=OPTIMIZER_LR[o]) for o in OPTIMIZER_LR]
    return [replace(base, batch_size=b, epochs=max(1, round(e * scale))) for b, e in BATCH_EPOCHS]


def curve_configs(epochs: int | None = None, base: RunConfig = BASE_CONFIG) -> list[RunConfig]:
    """The runs of :data:`CURVE_RUNS` from ``base``; ``epochs`` replaces the first two runs' 20
    epochs (and the third run's 250 in proportion)."""
    scale = 1.0 if epochs is None else epochs / CURVE_RUNS[0][1]
    return [replace(base, batch_size=b, epochs=max(1, round(e * scale))) for b, e in CURVE_RUNS]


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
    repeat: int = 1

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
            "curves": "the batch size and the epochs, and measures the test set every epoch",
            "optimizer": f"the optimiser (momentum {c.momentum:g}; Adam betas 0.9, 0.999)",
        }.get(self.name, "one setting")
        extras = "".join(f", {words}" for words in c.extras())
        text = (
            f"The course's MLP 784-H-10 ({c.activation}, N(0, 0.1^2) weights, softmax "
            f"cross-entropy); base: H = {c.hidden}, {optimizer_name(c)} lr "
            f"{c.lr:g}, batch {c.batch_size}, {c.epochs} epochs{extras}; this table changes "
            f"{varied}. "
            "Trained on "
            f"{self.train_name} ({self.n_train:,} images), seed {self.seed}. "
            f"**Train acc**: accuracy on the full training set ({self.n_train:,} images) after "
            f"training. **Test acc**: on {self.test_name} ({self.n_test:,} images). "
            "**Time**: wall-clock seconds of training only (batches, forward, backward, "
            f"updates; no evaluation), {self._runs_text()}. **Threads**: the threads its "
            f"steps ran on ({self._threads_text()}). **Updates**: epochs x ceil(N / batch)."
        )
        text += self._busy_text()
        big = [r.config.batch_size for r in self.results if r.config.batch_size >= self.n_train]
        partial = [
            r.config.batch_size
            for r in self.results
            if r.config.batch_size < self.n_train and self.n_train % r.config.batch_size
        ]
        if big:
            text += f" A batch of {max(big):,} >= N is the whole training set (full batch)."
        if self.name in ("batch", "curves") and partial:
            b = max(partial)
            k = self.n_train // b
            text += (
                f" With N = {self.n_train:,}, an epoch of batch {b:,} is "
                f"{'one batch' if k == 1 else f'{k:,} batches'} of {b:,} and one of "
                f"{self.n_train % b:,}."
            )
        return text

    def _runs_text(self) -> str:
        if self.repeat == 1:
            return "one run"
        return f"the median of {self.repeat} runs (the same seed: the accuracies repeat exactly)"

    def _threads_text(self) -> str:
        given = self.base.threads
        return f"{plural(given, 'thread')}, given" if given else "chosen by timing the steps"

    def _busy_text(self) -> str:
        """A warning when the machine was busy while the runs trained: a 1-minute load average
        above the cores this process may use means other work competed for them."""
        loads = [r.load for r in self.results if not math.isnan(r.load)]
        cores = usable_cores()
        if not loads or max(loads) <= cores:
            return ""
        return (
            f" **The machine was busy** while these ran (load average up to {max(loads):.1f} "
            f"on {plural(cores, 'core')}): the times are slower and noisier than on a quiet "
            "machine; compare them only with runs made beside them."
        )

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
        """One row of formatted cells per run, in the order of :data:`COLUMNS` (the Markdown's
        optimiser with its momentum)."""
        rows = [(r.row(), r.config) for r in self.results]
        markdown = fmt is _format_markdown
        return [
            [optimizer_name(c) if markdown and key == "optimizer" else fmt(key, row[key])
             for key, _ in COLUMNS]
            for row, c in rows
        ]  # fmt: skip

    def write(self, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``<name>.md`` and ``<name>.csv`` into ``out_dir`` (created); return the paths."""
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        md, cs = folder / f"{self.name}.md", folder / f"{self.name}.csv"
        md.write_text(self.to_markdown(), encoding="utf-8")
        cs.write_text(self.to_csv(), encoding="utf-8")
        return md, cs


def optimizer_name(config: RunConfig) -> str:
    """The optimiser as the tables name it: ``SGD``, ``momentum 0.9``, ``Nesterov 0.9``,
    ``Adam``."""
    if config.optimizer in ("momentum", "nesterov"):
        return f"{config.optimizer.replace('nesterov', 'Nesterov')} {config.momentum:g}"
    return {"sgd": "SGD", "adam": "Adam"}[config.optimizer]


def _format_markdown(key: str, value: float | int | str) -> str:
    if key == "threads":
        return str(value)
    if key in ("train_acc", "test_acc"):
        return percent(value)
    if key == "train_seconds":
        return f"{value:.2f}"
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


def row_name(table: str, config: RunConfig) -> str:
    """The row's name, ``<table>/<its value>``: ``lr/0.005``, ``hidden/50``, ``batch/200x10``,
    ``optimizer/adam`` (the folder of its TensorBoard run)."""
    if table not in (*TABLES, "curves"):
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}, curves")
    value = {
        "lr": f"{config.lr:g}",
        "hidden": str(config.hidden),
        "batch": f"{config.batch_size}x{config.epochs}",
        "curves": f"{config.batch_size}x{config.epochs}",
        "optimizer": config.optimizer,
    }[table]
    return f"{table}/{value}"


def run_sweep(
    table: str,
    train: Dataset,
    test: Dataset,
    seed: int = 0,
    epochs: int | None = None,
    log: Log = None,
    callbacks: RowCallbacks | None = None,
    base: RunConfig = BASE_CONFIG,
    repeat: int = 1,
) -> SweepTable:
    """Run every configuration of ``table`` (:func:`table_configs` from ``base``) and collect
    the results.

    ``callbacks(row_name)`` gives each run's training callbacks (e.g. a TensorBoard per row;
    see :func:`~.runs.run_config`). ``repeat``: each row is trained that many times (the same
    seed, so the same accuracies) and its time is the median of theirs.
    """
    check_integer("run_sweep", "repeat", repeat, 1)
    configs = table_configs(table, epochs, base)
    check_datasets("run_sweep", train=train, test=test)
    results = [
        _repeated(repeat, lambda c=c: run_config(
            c, train, test, seed, log, callbacks(row_name(table, c)) if callbacks else ()
        ))
        for c in configs
    ]  # fmt: skip
    return replace(_table(table, results, train, test, seed, base, epochs), repeat=repeat)


def _repeated(times: int, run: Callable[[], RunResult]) -> RunResult:
    """``run()`` ``times`` times: the first result, with the median of their seconds, the
    thread count most of them used and the highest load average seen."""
    results = [run() for _ in range(times)]
    return replace(
        results[0],
        train_seconds=float(statistics.median(r.train_seconds for r in results)),
        threads=usual_count([r.threads for r in results]),
        load=max((r.load for r in results if not math.isnan(r.load)), default=math.nan),
    )


def _table(
    name: str,
    results: list[RunResult],
    train: Dataset,
    test: Dataset,
    seed: int,
    base: RunConfig,
    epochs: int | None,
) -> SweepTable:
    return SweepTable(
        name,
        results,
        train_name=train.name,
        test_name=test.name,
        n_train=len(train),
        n_test=len(test),
        seed=seed,
        base=base if epochs is None else replace(base, epochs=epochs),
    )


def run_curves(
    train: Dataset,
    test: Dataset,
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    epochs: int | None = None,
    log: Log = None,
    base: RunConfig = BASE_CONFIG,
    log_loss: bool = False,
) -> tuple[SweepTable, list[Path]]:
    """Handout 003's curve monitoring: train each of :func:`curve_configs` with the test set
    measured every epoch, and draw its loss and accuracy curves as
    ``out_dir/curves_<batch>x<epochs>.png``. A batch larger than the training set is the whole
    set (full batch: one update per epoch), and ``log`` says so."""
    check_datasets("run_curves", train=train, test=test)
    from ..viz import plots  # matplotlib: loaded only to draw

    results, paths = [], []
    for c in curve_configs(epochs, base):
        if log is not None and c.batch_size >= len(train):
            log(
                f"batch {c.batch_size:,} >= the {len(train):,} training images: full batch "
                "(one update per epoch)"
            )
        result = run_config(c, train, test, seed, log, monitor=True)
        name = row_name("curves", c).replace("/", "_")
        title = (
            f"784-{c.hidden}-10 {c.activation}, {optimizer_name(c)} lr {c.lr:g}, "
            f"batch {min(c.batch_size, len(train)):,}"
            + (" (full batch)" if c.batch_size >= len(train) else "")
            + "".join(f", {words}" for words in c.extras())
            + f", {c.epochs} epochs on {train.name}"
        )
        paths.append(
            plots.plot_history(result.history, Path(out_dir) / f"{name}.png", title, log_loss)
        )
        results.append(result)
    return _table("curves", results, train, test, seed, base, None), paths
