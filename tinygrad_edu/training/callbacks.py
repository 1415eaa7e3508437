"""Callbacks: the training loop announces what happens, and callbacks act on it (Keras-style).

``fit(..., callbacks=[...])`` calls each callback, in the order given, with the
:class:`TrainingState` at these events::

    on_train_begin
    per epoch:  on_epoch_begin,  on_batch_end (after every update),  on_epoch_end
    on_test_end (after every evaluation of the test set: before training, at every epoch end,
                 and whenever a callback calls state.evaluate_test())
    on_train_end (always, also when training stops with an error: close files here)

Ready-made: :class:`ProgressBar`, :class:`EpochLog`, :class:`EvalEvery`,
:class:`StopOnNonFinite`, :class:`LRDecay`, :class:`EarlyStopping`, :class:`LambdaCallback`; the
run folder (metrics log, checkpoints, resume) is
:class:`~tinygrad_edu.training.runfolder.RunFolder`. Write your own by subclassing
:class:`Callback` and overriding the events you need.

The contract with a run folder: ``config()`` is what a resumed run must repeat (it is checked),
and ``state_dict()`` / ``load_state_dict()`` are what the callback has counted so far (a decay's
step, the best loss yet): saved in every checkpoint and given back on resume, so that a resumed
run is bit for bit the uninterrupted one. The state is taken at the run folder's
``on_epoch_end``; a callback that changes it in its own ``on_epoch_end`` must come before the
run folder, or catch up at the next ``on_epoch_begin`` (as :class:`LRDecay` does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import nn
from ..data import DataLoader
from ..engine.errors import InputError, check_integer, check_number, is_integer, is_real
from ..optim import Optimizer
from .evaluation import LossFn, evaluate_batches
from .history import History, loss_text

__all__ = [
    "EVENTS",
    "Callback",
    "EarlyStopping",
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
    which a resumed run must repeat. ``state_dict()`` returns what the callback has counted so
    far, JSON-ready (numbers, strings, lists, dicts; {} for none), which a run folder keeps in
    its checkpoints and gives back through ``load_state_dict(state)`` on resume.
    """

    def config(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (the base class has nothing to take)."""

    def on_train_begin(self, state: TrainingState) -> None: ...

    def on_epoch_begin(self, state: TrainingState) -> None: ...

    def on_batch_end(self, state: TrainingState) -> None: ...

    def on_test_end(self, state: TrainingState) -> None: ...

    def on_epoch_end(self, state: TrainingState) -> None: ...

    def on_train_end(self, state: TrainingState) -> None: ...


def has_state(callback: Callback) -> bool:
    """Whether ``callback`` keeps a state (its class defines ``state_dict``)."""
    return type(callback).state_dict is not Callback.state_dict


def state_names(callbacks: list[Callback]) -> dict[str, Callback]:
    """The callbacks that keep a state, by name: the class's, then ``#2``, ``#3``, ... for
    repeats (``LRDecay``, ``EarlyStopping``, ``EarlyStopping#2``)."""
    named: dict[str, Callback] = {}
    for callback in filter(has_state, callbacks):
        name, n = type(callback).__name__, 1
        while (name if n == 1 else f"{name}#{n}") in named:
            n += 1
        named[name if n == 1 else f"{name}#{n}"] = callback
    return named


def callback_states(callbacks: list[Callback]) -> dict[str, dict[str, Any]]:
    """Every stateful callback's ``state_dict()``, by its name (:func:`state_names`)."""
    return {name: c.state_dict() for name, c in state_names(callbacks).items()}


def load_callback_states(callbacks: list[Callback], states: dict[str, Any]) -> None:
    """Give each stateful callback its state from ``states`` (from :func:`callback_states`);
    a ValueError when the two do not name the same callbacks."""
    named = state_names(callbacks)
    if set(named) != set(states):
        kept, here = ", ".join(sorted(states)) or "none", ", ".join(sorted(named)) or "none"
        raise ValueError(f"it keeps the state of the callbacks {kept}; this call has {here}")
    for name, callback in named.items():
        if not isinstance(states[name], dict):
            raise ValueError(f"the state of {name} must be an object, got {states[name]!r}")
        callback.load_state_dict(states[name])


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
        self.k = check_integer("EvalEvery", "k", k, 1)

    def config(self) -> dict[str, Any]:
        return {"eval_every": self.k}

    def on_batch_end(self, state: TrainingState) -> None:
        if state.iteration % self.k == 0:
            state.evaluate_test()


class LRDecay(Callback):
    """Multiply the optimiser's learning rate by ``factor`` after every epoch:
    lr_e = lr_0 factor^e for epoch e + 1.

    Its state is the number of decays done. A run folder put before it checkpoints an epoch
    before its decay; resumed, it makes up the decay it owes at the next epoch's start, so the
    resumed run is exact in either order (and a checkpoint from before this state, whose
    optimiser holds the decayed rate, owes none)."""

    def __init__(self, factor: float) -> None:
        self.factor = check_number("LRDecay", "factor", factor, 0, 1, low_open=True)
        self.decays: int | None = None  # None: nothing counted yet (a fresh run, an old one)

    def config(self) -> dict[str, Any]:
        return {"lr_decay": self.factor}

    def state_dict(self) -> dict[str, Any]:
        return {"decays": self.decays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        decays = state.get("decays")
        self.decays = None if decays is None else check_integer("LRDecay", "decays", decays, 0)

    def on_epoch_begin(self, state: TrainingState) -> None:
        if self.decays is None:
            self.decays = state.epoch - 1
        while self.decays < state.epoch - 1:  # owed by a checkpoint taken before the decay
            self.on_epoch_end(state)

    def on_epoch_end(self, state: TrainingState) -> None:
        state.optimizer.lr = state.optimizer.lr * self.factor
        self.decays = (self.decays or 0) + 1


class EarlyStopping(Callback):
    """Stop when the test loss has not fallen below its best by more than ``min_delta`` for
    ``patience`` evaluations in a row (epochs; every k updates with ``EvalEvery(k)``); the
    reason names the best loss and when it was measured. Its state, the best loss so far, when
    it was measured and the evaluations since, goes into a run folder's checkpoints. Needs a
    test set."""

    def __init__(self, patience: int = 3, min_delta: float = 0.0) -> None:
        self.patience = check_integer("EarlyStopping", "patience", patience, 1)
        self.min_delta = check_number("EarlyStopping", "min_delta", min_delta, 0)
        self.best, self.best_iteration, self.waited = math.inf, 0, 0

    def config(self) -> dict[str, Any]:
        return {"early_stopping": {"patience": self.patience, "min_delta": self.min_delta}}

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_iteration": self.best_iteration, "waited": self.waited}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best, at, waited = state["best"], state["best_iteration"], state["waited"]
        if not (is_real(best) and is_integer(at) and is_integer(waited)):
            raise InputError(f"EarlyStopping: a state of best, best_iteration, waited, got {state}")
        self.best, self.best_iteration, self.waited = float(best), int(at), int(waited)

    def on_train_begin(self, state: TrainingState) -> None:
        if state.test_batches is None:
            raise ValueError("EarlyStopping: it watches the test loss; give fit a test set")

    def on_test_end(self, state: TrainingState) -> None:
        loss = state.history.test_loss[-1]
        if loss < self.best - self.min_delta:
            self.best, self.best_iteration, self.waited = loss, state.iteration, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            state.stop = True
            state.stop_reason = (
                f"early stop: the test loss has not improved on {self.best:.4g} (after update "
                f"{self.best_iteration}) for {self.waited} evaluations"
            )


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
