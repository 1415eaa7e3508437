"""Callbacks: the training loop announces what happens, and callbacks act on it (Keras-style).

``fit(..., callbacks=[...])`` calls each callback, in the order given, with the
:class:`TrainingState` at these events::

    on_train_begin
    per epoch:  on_epoch_begin,  on_batch_end (after every update),  on_epoch_end
    on_test_end (after every evaluation of the test set: before training, at every epoch end,
                 and whenever a callback calls state.evaluate_test())
    on_train_end (always, also when training stops with an error: close files here)

Ready-made: :class:`ProgressBar`, :class:`EpochLog`, :class:`EvalEvery`,
:class:`StopOnNonFinite`, :class:`LRDecay`, :class:`LambdaCallback`; the run folder (metrics log,
checkpoints, resume) is :class:`~tinygrad_edu.training.runfolder.RunFolder`. Write your own by
subclassing :class:`Callback` and overriding the events you need.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..data import DataLoader
from ..optim import Optimizer
from .evaluation import LossFn, evaluate_batches
from .history import History, loss_text

__all__ = [
    "EVENTS",
    "Callback",
    "EpochLog",
    "EvalEvery",
    "LRDecay",
    "LambdaCallback",
    "ProgressBar",
    "StopOnNonFinite",
    "TrainingState",
]

EVENTS = (
    "on_train_begin",
    "on_epoch_begin",
    "on_batch_end",
    "on_test_end",
    "on_epoch_end",
    "on_train_end",
)


class Callback:
    """Base class: every event does nothing; override the ones you need.

    ``config()`` returns settings to record in ``History.config`` (e.g. ``{"eval_every": 100}``),
    which a resumed run must repeat.
    """

    def config(self) -> dict[str, Any]:
        return {}

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState) -> None: ...

    def on_test_end(self, state: TrainingState) -> None: ...

    def on_epoch_end(self, state: TrainingState) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...


class TrainingState:
    """What the loop shares with its callbacks. Read anything; set ``stop = True`` (and
    ``stop_reason``) to end training after the current update, and also ``failed = True`` when
    the run failed (it diverged: the run folder then keeps its last good checkpoint); call
    :meth:`evaluate_test` to measure the test set now.

    ``epoch``: the epoch in progress, or the last one finished (0 before training);
    ``iteration``: updates done; ``loss``, ``accuracy``: of the last minibatch, before its
    update; ``batches``: the training DataLoader (its ``rng`` is the batch order);
    ``eval_seconds``: time spent evaluating during the current epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: Optimizer,
        loss_fn: LossFn,
        batches: DataLoader,
        test_batches: DataLoader | None,
        history: History,
        callbacks: list[Callback],
        probabilities: bool = False,
    ) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.batches, self.test_batches = batches, test_batches
        self.history, self.callbacks, self.probabilities = history, callbacks, probabilities
        self.epochs: int = history.config.get("epochs", 0)
        self.epoch = self.iteration = 0
        self.loss = self.accuracy = math.nan
        self.stop, self.stop_reason, self.failed = False, "", False
        self.eval_seconds = 0.0

    def notify(self, event: str) -> None:
        """Call ``event`` (one of :data:`EVENTS`) on every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, event)(self)

    def evaluate_test(self) -> None:
        """Measure the test set with the current parameters and append the result to the history,
        then tell the callbacks (``on_test_end``). Nothing happens without a test set, or if it
        was already measured at this iteration. The time counts as evaluation, not training."""
        h = self.history
        if self.test_batches is None or (
            h.test_iterations and h.test_iterations[-1] == self.iteration
        ):
            return
        start = time.perf_counter()
        loss, acc = evaluate_batches(
            self.model, self.test_batches, self.loss_fn, self.probabilities
        )
        h.test_iterations.append(self.iteration)
        h.test_loss.append(loss)
        h.test_acc.append(acc)
        self.eval_seconds += time.perf_counter() - start
        self.notify("on_test_end")


class EvalEvery(Callback):
    """Also measure the test set every ``k`` updates (besides before training and at epoch ends),
    for curves finer than one point per epoch."""

    def __init__(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
            raise ValueError(f"EvalEvery: k must be a positive integer, got {k!r}")
        self.k = int(k)

    def config(self) -> dict[str, Any]:
        return {"eval_every": self.k}

    def on_batch_end(self, state: TrainingState) -> None:
        if state.iteration % self.k == 0:
            state.evaluate_test()


class LRDecay(Callback):
    """Multiply the optimiser's learning rate by ``factor`` after every epoch:
    lr_e = lr_0 factor^e for epoch e + 1. Put it before a RunFolder, so that the checkpoint
    (which holds the optimiser's lr) resumes with the decayed rate."""

    def __init__(self, factor: float) -> None:
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 1:
            raise ValueError(f"LRDecay: factor must lie in (0, 1], got {factor!r}")
        self.factor = float(factor)

    def config(self) -> dict[str, Any]:
        return {"lr_decay": self.factor}

    def on_epoch_end(self, state: TrainingState) -> None:
        state.optimizer.lr = state.optimizer.lr * self.factor


class StopOnNonFinite(Callback):
    """Stop training when a minibatch loss or a test loss is NaN or infinite (a diverged run: the
    learning rate is too high), saying where in ``state.stop_reason``; the run has ``failed``, so
    a run folder keeps the checkpoint of the last epoch that ended well."""

    def on_batch_end(self, state: TrainingState) -> None:
        if not math.isfinite(state.loss):
            self._stop(state, f"the minibatch loss is {state.loss} at update {state.iteration}")

    def on_test_end(self, state: TrainingState) -> None:
        loss = state.history.test_loss[-1]
        if not math.isfinite(loss) and not state.failed:
            self._stop(state, f"the test loss is {loss} after update {state.iteration}")

    @staticmethod
    def _stop(state: TrainingState, what: str) -> None:
        state.stop = state.failed = True
        state.stop_reason = (
            f"{what} (epoch {state.epoch}): training diverged; try a smaller learning rate"
        )


class EpochLog(Callback):
    """One line per epoch through ``write`` (default ``print``): the epoch's mean minibatch loss
    and accuracy, the last test loss and accuracy, and the epoch's training seconds."""

    def __init__(self, write: Callable[[str], Any] = print) -> None:
        self.write = write

    def on_epoch_end(self, state: TrainingState) -> None:
        self.write(epoch_line(state.history, state.epoch, state.epochs))


def epoch_line(history: History, epoch: int, epochs: int) -> str:
    """E.g. ``epoch  3/20  train loss 0.3121 acc  91.02%  test loss 0.2950 acc  91.65%  0.21 s``."""
    width = len(str(epochs))
    loss = loss_text(history.epoch_train_loss()[-1])
    line = f"epoch {epoch:>{width}}/{epochs}  train loss {loss}"
    start = history.epoch_end_iterations[-2] if len(history.epoch_end_iterations) > 1 else 0
    accs = history.train_acc[start:]
    if accs:
        line += f" acc {100 * float(np.mean(accs)):6.2f}%"
    if history.test_acc:
        test_loss = loss_text(history.final_test_loss)
        line += f"  test loss {test_loss} acc {100 * history.final_test_acc:6.2f}%"
    return line + f"  {history.epoch_times[-1]:.2f} s"


class ProgressBar(Callback):
    """A tqdm progress bar per epoch, with the running minibatch loss (nothing if tqdm is
    missing: training never needs it)."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_epoch_begin(self, state: TrainingState) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            return
        desc = f"epoch {state.epoch}/{state.epochs}"
        self.bar = tqdm(
            total=len(state.batches), desc=desc, leave=False, unit="it", dynamic_ncols=True
        )

    def on_batch_end(self, state: TrainingState) -> None:
        if self.bar is not None:
            self.bar.update()
            if state.iteration % 20 == 0:
                self.bar.set_postfix(loss=f"{state.loss:.4f}", refresh=False)

    def on_epoch_end(self, state: TrainingState) -> None:
        self.on_train_end(state)

    def on_train_end(self, state: TrainingState) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda state: ...)``; each
    keyword is an event name of :data:`EVENTS`."""

    def __init__(self, **events: Callable[[TrainingState], Any]) -> None:
        unknown = sorted(set(events) - set(EVENTS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown events {unknown}; choose from {EVENTS}")
        for name, fn in events.items():
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be callable, got {fn!r}")
            setattr(self, name, fn)
