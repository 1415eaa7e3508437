"""A run folder: the callback that records a training run as it goes, and resumes it.

``fit(..., callbacks=[RunFolder(path)])`` writes ``path/metrics.jsonl`` (one JSON record per
evaluation and per epoch, flushed as written; :mod:`~tinygrad_edu.training.metricslog`) and
``path/checkpoint.npz`` after every epoch (model, optimiser, batch-order and Dropout RNG states,
history; replaced atomically; :mod:`~tinygrad_edu.training.checkpoint`).
``RunFolder(path, resume=True)`` continues that run from its checkpoint: the result is bit for
bit that of an uninterrupted run (the timings aside).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from .callbacks import Callback, TrainingState
from .checkpoint import (
    CHECKPOINT_FILE,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from .evaluation import data_size
from .files import one_line
from .history import History
from .metricslog import METRICS_FILE, MetricsWriter
from .modelfile import describe

__all__ = ["RunFolder"]

#: History.config entries that must match when a run is resumed.
RESUME_MUST_MATCH = ("model", "loss", "batch_size", "eval_every", "seed", "train", "test")


class RunFolder(Callback):
    """Record the run in ``folder``: the metrics log as it trains and a checkpoint per epoch.

    ``resume=True`` continues the run recorded there: build the model and optimiser as before
    and call ``fit`` with the same data, loss, batch size, seed and callbacks' settings; the
    checkpoint is loaded into them, the log is cut back to where the checkpoint was taken, and
    training goes on up to ``epochs``. Raises FileNotFoundError without a checkpoint and
    :class:`CheckpointError` when it is corrupt or does not fit. ``info`` (JSON-ready) is kept in
    the log and the checkpoint. Put it last in ``callbacks``, so that its checkpoint sees what
    the others change at an epoch's end (e.g. a learning-rate decay).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        resume: bool = False,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"RunFolder: {self.folder} exists and is not a folder")
        self.resume, self.info = resume, dict(info or {})
        self.writer: MetricsWriter | None = None
        self.sizes: dict[str, int | None] = {}
        self._since = (
            0  # index in history.train_loss where the minibatches since the last eval start
        )

    @property
    def checkpoint_path(self) -> Path:
        return self.folder / CHECKPOINT_FILE

    # ----------------------------------------------------------------- events
    def on_train_begin(self, state: TrainingState) -> None:
        self.sizes = {
            "train_size": data_size(state.batches),
            "test_size": data_size(state.test_batches),
        }
        if self.resume:
            self._resume(state)
        else:
            self._start(state)
        self._since = len(state.history.train_loss)

    def on_test_end(self, state: TrainingState) -> None:
        """One ``eval`` record: the test metrics just measured, and the mean minibatch loss and
        accuracy since the previous evaluation (null before the first update)."""
        h = state.history
        self._write(
            "eval",
            iteration=h.test_iterations[-1],
            epoch=state.epoch,
            **_means(h.train_loss[self._since :], h.train_acc[self._since :]),
            test_loss=h.test_loss[-1],
            test_acc=h.test_acc[-1],
        )
        self._since = len(h.train_loss)

    def on_epoch_end(self, state: TrainingState) -> None:
        """One ``epoch`` record with the epoch's minibatch values, fsync'ed; then the checkpoint."""
        self._log_epoch(state.history)
        self._save_checkpoint(state)

    def on_train_end(self, state: TrainingState) -> None:
        if self.writer is not None:
            self.writer.close()

    # ----------------------------------------------------------------- a new run
    def _start(self, state: TrainingState) -> None:
        """An empty log with its config record; any older checkpoint is removed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path.unlink(missing_ok=True)  # it belongs to an earlier run
        self.writer = MetricsWriter(self.folder / METRICS_FILE)
        self._write(
            "config",
            epochs=state.epochs,
            **self.sizes,
            batches_per_epoch=len(state.batches),
            config=state.history.config,
            info=self.info,
        )

    def _write(self, event: str, **fields: Any) -> None:
        assert self.writer is not None
        self.writer.write({"event": event, **fields, "time": time.time()})

    def _log_epoch(self, h: History) -> None:
        end = h.epoch_end_iterations[-1]
        start = h.epoch_end_iterations[-2] if h.epochs > 1 else 0
        lo = len(h.iterations) - (end - start)
        losses, accs = h.train_loss[lo:], h.train_acc[lo:]
        tests = {"test_loss": h.test_loss[-1], "test_acc": h.test_acc[-1]} if h.test_acc else {}
        self._write(
            "epoch",
            epoch=h.epochs,
            iteration=end,
            seconds=h.epoch_times[-1],
            eval_seconds=h.epoch_eval_times[-1],
            **_means(losses, accs),
            **tests,
            batch_loss=losses,
            batch_acc=accs,
        )
        assert self.writer is not None
        self.writer.sync()

    def _save_checkpoint(self, state: TrainingState) -> None:
        """Replace ``checkpoint.npz`` atomically with the state after this epoch."""
        assert self.writer is not None
        h = state.history
        try:
            description: dict[str, Any] | None = describe(state.model)
        except TypeError:  # a model class save() cannot describe: its state is still saved
            description = None
        checkpoint = Checkpoint(
            epoch=h.epochs,
            iteration=h.epoch_end_iterations[-1],
            epochs=state.epochs,
            model_state=state.model.state_dict(),
            optimizer_state=state.optimizer.state_dict(),
            history=h.to_dict(),
            loader_rng=state.batches.rng.bit_generator.state,
            dropout_rngs=[m.rng.bit_generator.state for m in _dropout_layers(state.model)],
            metrics_offset=self.writer.offset,
            info=self.info,
            extra={**self.sizes, "model": description},
        )
        save_checkpoint(self.checkpoint_path, checkpoint)

    # ----------------------------------------------------------------- resuming
    def _resume(self, state: TrainingState) -> None:
        """Load the checkpoint into the model, optimiser, batch order and Dropout layers; the
        history so far replaces ``state.history`` (its config from the checkpoint)."""
        ckpt = load_checkpoint(self.checkpoint_path)
        where = f"resume from {self.checkpoint_path}"
        history = self._checked_history(ckpt, state, where)
        try:
            state.model.load_state_dict(ckpt.model_state)
            state.optimizer.load_state_dict(ckpt.optimizer_state)
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{where}: {one_line(e)}") from None
        _restore_rngs(ckpt, state, where)
        self.info = {**ckpt.info, **self.info}
        history.config["epochs"] = state.epochs
        state.history, state.epoch, state.iteration = history, ckpt.epoch, ckpt.iteration
        log = self.folder / METRICS_FILE
        offset = ckpt.metrics_offset
        if offset is None:  # not recorded: keep the whole log
            offset = log.stat().st_size if log.exists() else 0
        self.writer = MetricsWriter(log, truncate_at=offset)
        self._write(
            "resume",
            epoch=ckpt.epoch,
            iteration=ckpt.iteration,
            epochs=state.epochs,
            info=self.info,
        )

    def _checked_history(self, ckpt: Checkpoint, state: TrainingState, where: str) -> History:
        """The checkpoint's history, after checking that this call trains the same run."""
        try:
            history = History.from_dict(ckpt.history)
        except ValueError as e:
            raise CheckpointError(f"{where}: corrupt history ({e})") from None
        for key in RESUME_MUST_MATCH:
            old, new = history.config.get(key), state.history.config.get(key)
            if old != new:
                raise CheckpointError(
                    f"{where}: it was trained with {key} {_brief(old)}, this call has {_brief(new)}"
                )
        for key, now in self.sizes.items():
            then = ckpt.extra.get(key)
            if then is not None and now is not None and then != now:
                raise CheckpointError(
                    f"{where}: it was trained with {then} {key.split('_')[0]} samples, this "
                    f"call has {now}"
                )
        if state.epochs < ckpt.epoch:
            raise ValueError(
                f"{where}: it has already trained {ckpt.epoch} epochs, more than "
                f"epochs={state.epochs}"
            )
        last = history.epoch_end_iterations[-1] if history.epoch_end_iterations else 0
        if history.epochs != ckpt.epoch or ckpt.iteration != last:
            raise CheckpointError(f"{where}: its history does not match its epoch count")
        return history


def _restore_rngs(ckpt: Checkpoint, state: TrainingState, where: str) -> None:
    """Put the batch order's and every Dropout layer's random state back as checkpointed."""
    dropouts = _dropout_layers(state.model)
    if len(ckpt.dropout_rngs) != len(dropouts):
        raise CheckpointError(
            f"{where}: it has {len(ckpt.dropout_rngs)} Dropout layers, the model {len(dropouts)}"
        )
    try:
        if ckpt.loader_rng is not None:
            state.batches.rng.bit_generator.state = ckpt.loader_rng
        for layer, rng_state in zip(dropouts, ckpt.dropout_rngs, strict=True):
            layer.rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
            layer.rng.bit_generator.state = rng_state
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{where}: bad RNG state ({one_line(e)})") from None


def _means(losses: list[float], accs: list[float]) -> dict[str, float | None]:
    """The mean minibatch loss and accuracy (None where there are none)."""
    return {
        "train_loss": float(np.mean(losses)) if losses else None,
        "train_acc": float(np.mean(accs)) if accs else None,
    }


def _dropout_layers(model: nn.Module) -> list[nn.Dropout]:
    return [m for m in model.modules() if isinstance(m, nn.Dropout)]


def _brief(value: Any) -> str:
    """A config value on one line, shortened."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."
