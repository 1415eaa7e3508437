"""The training loop: ``fit`` trains a model by minibatch gradient descent and returns its
:class:`~tinygrad_edu.training.history.History`; callbacks do everything else (progress bar,
log lines, extra evaluations, stopping, the run folder)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import nn
from ..engine.errors import check_integer
from ..engine.memory import keep_freed_memory
from ..engine.tensor import Tensor
from ..optim import Optimizer
from .callbacks import Callback, TrainingState
from .evaluation import (
    Data,
    LossFn,
    as_batches,
    data_name,
    eval_batch_size,
    resolve_loss,
    takes_probabilities,
)
from .history import History
from .metrics import predicted_labels
from .threads import ThreadChoice

__all__ = ["fit"]


def fit(
    model: nn.Module,
    train: Data,
    test: Data | None,
    loss: LossFn | str,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 256,
    seed: int | None = None,
    callbacks: Sequence[Callback] = (),
    threads: int | None = None,
) -> History:
    """Train ``model`` on ``train`` for ``epochs`` epochs; return the :class:`History`, whose
    ``stop_reason`` says why training stopped early ("" if it ran every epoch) and ``failed``
    whether the run failed (diverged).

    Each step: ``out = model(x)``, ``l = loss(out, y)``, ``optimizer.zero_grad()``,
    ``l.backward()``, ``optimizer.step()``. ``loss`` is a callable such as ``nn.cross_entropy``
    or ``nn.CrossEntropyLoss()``, or a name in ``evaluation.LOSSES``.

    * ``train``/``test``: a Dataset (batched with ``batch_size``, the training set reshuffled
      every epoch from ``seed``), a DataLoader (used as it is) or a pair (x, y) of arrays;
      ``test`` may be None. The test set is measured before the first update and at every epoch
      end, in batches of ``evaluation.eval_batch_size(model)`` (128 with a convolution, else
      4096).
    * ``seed`` fixes the batch order and the Dropout masks: with the same seed (and the same
      initial parameters) two runs give the same numbers bit for bit.
    * ``callbacks`` are told of every event, in order (:mod:`~tinygrad_edu.training.callbacks`):
      e.g. ``ProgressBar()``, ``EpochLog()``, ``EvalEvery(100)``, ``StopOnNonFinite()``,
      ``RunFolder("runs/a")`` (the metrics log, checkpoints and resuming).
    * ``threads``: how many threads a step uses. None: chosen by timing a few steps on one
      thread, on the engine's pool of two (BLAS on one; the big products and passes split) and
      on OpenBLAS's two threads, and again now and then (:mod:`~tinygrad_edu.training.threads`).
      N: the pool's N threads throughout, which give the one-thread results bit for bit
      (OpenBLAS's own threads change the last bits). The History records the setting
      (``config["threads"]``) and each epoch's count (``epoch_threads``).
    """
    keep_freed_memory()  # each step reuses the last one's big arrays (engine/memory.py)
    choice = ThreadChoice(threads, workload=(repr(model), batch_size))
    state = _training_state(
        model, train, test, loss, optimizer, epochs, batch_size, seed, callbacks
    )
    state.history.config["threads"] = threads  # None: chosen by timing
    with choice:
        try:
            state.notify("on_train_begin")
            state.evaluate_test()
            while state.epoch < epochs and not state.stop:
                _train_epoch(state, choice)
        finally:
            state.history.stop_reason, state.history.failed = state.stop_reason, state.failed
            state.notify("on_train_end")
    return state.history


def _train_epoch(state: TrainingState, choice: ThreadChoice) -> None:
    """One pass over the training batches, then the epoch's test evaluation and record."""
    state.epoch += 1
    state.eval_seconds = 0.0
    state.model.train()
    state.notify("on_epoch_begin")
    start = time.perf_counter()
    for x, y in state.batches:
        choice.step_begins()
        _step(state, x, y)
        choice.step_ended()
        state.notify("on_batch_end")
        if state.stop:
            break
    train_seconds = time.perf_counter() - start - state.eval_seconds
    state.evaluate_test()
    h = state.history
    h.epoch_times.append(train_seconds)
    h.epoch_eval_times.append(state.eval_seconds)
    h.epoch_end_iterations.append(state.iteration)
    h.epoch_threads.append(choice.epoch_count())
    state.notify("on_epoch_end")


def _step(state: TrainingState, x: np.ndarray, y: np.ndarray) -> None:
    """One update on the minibatch (x, y), recording its loss and accuracy before the update."""
    out = state.model(Tensor(x))
    loss = state.loss_fn(out, y)
    state.optimizer.zero_grad()
    loss.backward()
    state.optimizer.step()
    hits = predicted_labels(out.data, state.probabilities) == y
    state.loss, state.accuracy = float(loss.data), int(np.count_nonzero(hits)) / hits.size
    h = state.history
    h.iterations.append(state.iteration)
    h.train_loss.append(state.loss)
    h.train_acc.append(state.accuracy)
    state.iteration += 1


def _training_state(
    model: nn.Module,
    train: Data,
    test: Data | None,
    loss: LossFn | str,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int,
    seed: int | None,
    callbacks: Sequence[Callback],
) -> TrainingState:
    """Check fit's arguments and set up the loop: batches, history config, Dropout seeds."""
    _check_arguments(model, optimizer, epochs, callbacks)
    loss_fn = resolve_loss(loss, "fit")
    batches = as_batches(train, batch_size, model, "fit", shuffle=True, seed=seed)
    test_batches = None if test is None else as_batches(test, eval_batch_size(model), model, "fit")
    if seed is not None:
        _reseed_dropout(model, seed)
    config = {
        "model": repr(model),
        "optimizer": repr(optimizer),
        "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__),
        "epochs": epochs,
        "batch_size": batches.batch_size,
        "eval_every": None,
        "seed": seed,
        "train": data_name(train),
        "test": data_name(test),
    }
    for callback in callbacks:
        config.update(callback.config())
    history = History(config=config)
    return TrainingState(
        model,
        optimizer,
        loss_fn,
        batches,
        test_batches,
        history,
        list(callbacks),
        probabilities=takes_probabilities(loss),
    )


def _check_arguments(model: Any, optimizer: Any, epochs: Any, callbacks: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"fit: optimizer must be a tinygrad_edu.optim optimiser, got {type(optimizer).__name__}"
        )
    check_integer("fit", "epochs", epochs, 0)
    for c in callbacks:
        if not isinstance(c, Callback):
            raise TypeError(f"fit: callbacks must be Callback objects, got {type(c).__name__}")


def _reseed_dropout(model: nn.Module, seed: int) -> None:
    """Give every Dropout layer its own generator derived from ``seed``."""
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    children = np.random.SeedSequence(seed).spawn(len(dropouts))
    for m, child in zip(dropouts, children, strict=True):
        m.rng = np.random.default_rng(child)
