"""One training run of the course's 784-64-10 sigmoid MLP: its settings, what it measured, and
the checks and formats the course's experiments share.

The network is 784-``hidden``-10 with sigmoid hidden units, N(0, 0.1^2) weights, zero biases
and softmax cross-entropy. :class:`RunConfig` holds what an experiment varies (hidden units,
optimiser, learning rate, batch size, epochs) and the rest of ``train``'s settings (momentum,
learning-rate decay, weight decay, initialisation, dropout, augmentation);
:func:`run_config` trains one configuration and measures it (:class:`RunResult`). The sweeps
(:mod:`.sweeps`) and the overfitting study (:mod:`.overfitting`) are built from these runs.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import nn, optim
from ..data import AugmentedLoader, Dataset
from ..engine.errors import InputError, check_integer, check_number
from ..nn.init import INITS
from ..training import Callback, History, LRDecay, evaluate, fit
from ..training.history import plural

__all__ = [
    "N_CLASSES",
    "N_INPUTS",
    "Log",
    "RunConfig",
    "RunResult",
    "check_datasets",
    "percent",
    "run_config",
]

N_INPUTS, N_CLASSES = 784, 10

#: Where an experiment reports progress, one line per call (None: silent).
Log = Callable[[str], None] | None


@dataclass(frozen=True)
class RunConfig:
    """One training run of a 784-``hidden``-10 MLP (``activation``, default sigmoid), or with
    ``model="cnn"`` of the course's small CNN (``nn.build_cnn``; ``hidden`` and ``activation``
    then unused), with softmax cross-entropy.

    ``optimizer`` is a name in ``optim.OPTIMIZERS``; ``momentum`` is that of ``momentum`` and
    ``nesterov``. ``lr_decay`` multiplies the learning rate after every epoch, ``weight_decay``
    adds ``weight_decay * w`` to each gradient, ``init`` and ``init_std`` draw the MLP's weights
    (``nn.init``), ``dropout`` drops hidden units while training, ``augment`` shifts and turns
    the training images anew every epoch. ``threads``: ``fit``'s (None: chosen by timing the
    steps; every count trains to the same numbers). The defaults are the course's sweep setting:
    plain SGD, lr 0.5, batch 200, 10 epochs, none of the rest.
    """

    hidden: int = 64
    optimizer: str = "sgd"
    lr: float = 0.5
    batch_size: int = 200
    epochs: int = 10
    activation: str = "sigmoid"
    model: str = "mlp"
    momentum: float = optim.MOMENTUM
    lr_decay: float = 1.0
    weight_decay: float = 0.0
    init: str = "normal"
    init_std: float = 0.1
    dropout: float = 0.0
    augment: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        for name in ("hidden", "batch_size", "epochs"):
            check_integer("RunConfig", name, getattr(self, name), 1)
        for name, choices in (
            ("optimizer", optim.OPTIMIZERS),
            ("model", ("mlp", "cnn")),
            ("activation", nn.ACTIVATIONS),
            ("init", INITS),
        ):
            if getattr(self, name) not in choices:
                raise InputError(
                    f"RunConfig: unknown {name} {getattr(self, name)!r}; choose one of "
                    f"{', '.join(choices)}"
                )
        check_number("RunConfig", "lr", self.lr, 0, low_open=True)
        check_number("RunConfig", "momentum", self.momentum, 0, 1, high_open=True)
        check_number("RunConfig", "lr_decay", self.lr_decay, 0, 1, low_open=True)
        check_number("RunConfig", "weight_decay", self.weight_decay, 0)
        check_number("RunConfig", "init_std", self.init_std, 0, low_open=True)
        check_number("RunConfig", "dropout", self.dropout, 0, 1, high_open=True)
        if not isinstance(self.augment, bool):
            raise InputError(f"RunConfig: augment must be True or False, got {self.augment!r}")

    @property
    def sizes(self) -> list[int]:
        """Layer widths ``[784, hidden, 10]``."""
        return [N_INPUTS, self.hidden, N_CLASSES]

    @property
    def network(self) -> str:
        """E.g. ``784-64-10 sigmoid`` or ``the small CNN``."""
        if self.model == "cnn":
            return "the small CNN"
        return f"{'-'.join(map(str, self.sizes))} {self.activation}"

    def build(self, seed: int) -> tuple[nn.Module, optim.Optimizer]:
        """The untrained network (weights drawn from ``seed``) and its optimiser."""
        if self.model == "cnn":
            model: nn.Module = nn.build_cnn(dropout=self.dropout, seed=seed)
        else:
            model = nn.MLP(
                self.sizes,
                activation=self.activation,
                init=self.init,
                std=self.init_std,
                dropout=self.dropout,
                seed=seed,
            )
        optimizer = optim.make_optimizer(
            self.optimizer, model.parameters(), self.lr, self.momentum, self.weight_decay
        )
        return model, optimizer

    def training(
        self, train: Dataset, seed: int
    ) -> tuple[Dataset | AugmentedLoader, list[Callback]]:
        """What ``fit`` trains on (``train``, or with ``augment`` a loader that shifts and turns
        its images, from ``seed``) and the callbacks the settings need (a learning-rate decay)."""
        batches: Dataset | AugmentedLoader = train
        if self.augment:
            batches = AugmentedLoader(train, self.batch_size, seed, flatten=self.model == "mlp")
        return batches, [LRDecay(self.lr_decay)] if self.lr_decay != 1 else []

    def extras(self) -> list[str]:
        """The settings beyond the optimiser, batch and epochs that differ from none, in words:
        ``momentum 0.8``, ``lr x0.7/epoch``, ``weight decay 0.0001``, ``he init``, ``dropout
        0.2``, ``augmented``."""
        words = []
        if self.optimizer in ("momentum", "nesterov") and self.momentum != optim.MOMENTUM:
            words.append(f"momentum {self.momentum:g}")
        if self.lr_decay != 1:
            words.append(f"lr x{self.lr_decay:g}/epoch")
        if self.weight_decay:
            words.append(f"weight decay {self.weight_decay:g}")
        if self.model == "mlp" and (self.init, self.init_std) != ("normal", 0.1):
            words.append(
                f"N(0, {self.init_std:g}^2) init" if self.init == "normal" else f"{self.init} init"
            )
        if self.dropout:
            words.append(f"dropout {self.dropout:g}")
        return [*words, *(["augmented"] if self.augment else [])]


@dataclass
class RunResult:
    """What one run measured. Accuracies are fractions in [0, 1]; ``train_acc`` is on the whole
    training set after training; ``train_seconds`` is training alone (``sum(epoch_times)``);
    ``threads`` the count most of its epochs ran on; ``load`` the machine's 1-minute load
    average when it ended (nan where the system does not tell)."""

    config: RunConfig
    train_acc: float
    test_acc: float
    train_seconds: float
    updates: int
    train_loss: float = math.nan
    test_loss: float = math.nan
    history: History | None = None
    threads: int = 1
    load: float = math.nan

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
            "threads": self.threads,
        }


def usual_count(counts: Sequence[int]) -> int:
    """The thread count most epochs ran on (the smaller one on a tie; 1 for none)."""
    tally = Counter(counts)
    return min(tally, key=lambda n: (-tally[n], n)) if tally else 1


def load_average() -> float:
    """The machine's 1-minute load average: processes running or waiting for a core (nan where
    the system does not tell, e.g. on Windows)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return math.nan


def check_datasets(who: str, **datasets: Dataset) -> None:
    """Raise unless every named argument is a non-empty :class:`~tinygrad_edu.data.Dataset`
    (``who`` and the argument's name go into the message)."""
    for name, data in datasets.items():
        if not isinstance(data, Dataset):
            raise TypeError(f"{who}: {name} must be a Dataset, got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError(f"{who}: the {name} set {data.name!r} is empty")


def percent(fraction: float) -> str:
    """A fraction in [0, 1] as a percentage with two decimals; ``-`` when it is nan."""
    return "-" if math.isnan(fraction) else f"{100 * fraction:.2f}"


def run_config(
    config: RunConfig,
    train: Dataset,
    test: Dataset,
    seed: int = 0,
    log: Log = None,
    callbacks: Sequence[Callback] = (),
    monitor: bool = False,
) -> RunResult:
    """Train ``config`` on ``train`` from ``seed`` (weights and batch order); measure the
    accuracy and mean cross-entropy on all of ``train`` and ``test`` afterwards.

    Without ``callbacks`` nothing is evaluated while training. With them (e.g. a TensorBoard),
    the test set is also measured as it trains (before the first update and at every epoch end)
    so that they see test curves; evaluation never enters the measured time, and the accuracies
    are the same either way. ``monitor`` measures the test set so without callbacks (for
    curves); the result keeps the run's ``history``."""
    check_datasets("run_config", train=train, test=test)
    model, optimizer = config.build(seed)
    batches, needed = config.training(train, seed)
    history = fit(
        model,
        batches,
        test if callbacks or monitor else None,
        nn.cross_entropy,
        optimizer,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        callbacks=[*needed, *callbacks],
        threads=config.threads,
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
        history=history,
        threads=usual_count(history.epoch_threads),
        load=load_average(),
    )
    if log is not None:
        log(
            f"hidden {config.hidden}, {config.optimizer} lr {config.lr:g}, batch "
            f"{config.batch_size}, {plural(config.epochs, 'epoch')}: train "
            f"{100 * train_acc:.2f}% test {100 * test_acc:.2f}% ({result.train_seconds:.2f} s)"
        )
    return result
