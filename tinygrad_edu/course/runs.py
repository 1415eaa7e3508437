"""One training run of the seeds' network: its settings, what it measured, and the checks and
formats the course's experiments share.

The network is 784-``hidden``-10 with sigmoid hidden units, N(0, 0.1^2) weights, zero biases
and softmax cross-entropy. :class:`RunConfig` holds what an experiment varies (hidden units,
optimiser, learning rate, batch size, epochs); :func:`run_config` trains one configuration and
measures it (:class:`RunResult`). The sweeps (:mod:`.sweeps`) and the overfitting study
(:mod:`.overfitting`) are built from these runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..data import Dataset
from ..training import Callback, History, evaluate, fit
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

    ``optimizer`` is a name in ``optim.OPTIMIZERS`` (momentum: SGD with momentum 0.9). The
    defaults are the seeds' setting: plain SGD, lr 0.5, batch 200, 10 epochs.
    """

    hidden: int = 64
    optimizer: str = "sgd"
    lr: float = 0.5
    batch_size: int = 200
    epochs: int = 10
    activation: str = "sigmoid"
    model: str = "mlp"

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
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"RunConfig: model must be mlp or cnn, got {self.model!r}")
        if self.activation not in nn.ACTIVATIONS:
            raise ValueError(
                f"RunConfig: unknown activation {self.activation!r}; choose one of "
                f"{', '.join(nn.ACTIVATIONS)}"
            )
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"RunConfig: lr must be a number > 0, got {self.lr!r}")

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
            model: nn.Module = nn.build_cnn(seed=seed)
        else:
            model = nn.MLP(self.sizes, activation=self.activation, seed=seed)
        return model, optim.make_optimizer(self.optimizer, model.parameters(), self.lr)


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
    history: History | None = None

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
    history = fit(
        model,
        train,
        test if callbacks or monitor else None,
        nn.cross_entropy,
        optimizer,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        callbacks=callbacks,
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
    )
    if log is not None:
        log(
            f"hidden {config.hidden}, {config.optimizer} lr {config.lr:g}, batch "
            f"{config.batch_size}, {plural(config.epochs, 'epoch')}: train "
            f"{100 * train_acc:.2f}% test {100 * test_acc:.2f}% ({result.train_seconds:.2f} s)"
        )
    return result
