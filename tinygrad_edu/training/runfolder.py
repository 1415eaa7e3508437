"""``fit``'s side of a run folder (``fit(..., run_dir=...)``): the metrics log and checkpoints
written as training goes, and resuming a run from its checkpoint.

The files' formats (``metrics.jsonl``, ``checkpoint.npz``) live in :mod:`tinygrad_edu.runlog`;
the training loop that drives this recorder lives in :mod:`tinygrad_edu.train`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import nn
from ..optim import Optimizer
from . import runlog
from .modelfile import describe

if TYPE_CHECKING:  # for annotations only: train.py imports this module
    from .loop import History

#: History.config entries that must match when a run is resumed.
_RESUME_MUST_MATCH = ("model", "loss", "batch_size", "eval_every", "seed", "train", "test")


class RunRecorder:
    """``fit``'s side of a run folder: the metrics log, checkpoints, and resuming from one."""

    def __init__(
        self,
        run_dir: Path,
        model: nn.Module,
        optimizer: Optimizer,
        batches: Any,
        info: dict[str, Any] | None,
    ) -> None:
        if run_dir.exists() and not run_dir.is_dir():
            raise NotADirectoryError(f"fit: run_dir {run_dir} exists and is not a folder")
        self.run_dir = run_dir
        self.model, self.optimizer, self.batches = model, optimizer, batches
        self.info = dict(info or {})
        self.writer: runlog.MetricsWriter | None = None
        self.iteration = 0
        self.sizes: dict[str, int | None] = {}

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / runlog.CHECKPOINT_FILE

    def start(self, history: History, epochs: int, n_train: int | None, n_test: int | None) -> None:
        """A new run: an empty log with its config record; any older checkpoint is removed."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path.unlink(missing_ok=True)  # it belongs to an earlier run
        self.sizes = {"train_size": n_train, "test_size": n_test}
        self.writer = runlog.MetricsWriter(self.run_dir / runlog.METRICS_FILE)
        self.writer.write(
            {
                "event": "config",
                "time": time.time(),
                "epochs": epochs,
                **self.sizes,
                "batches_per_epoch": _batches_per_epoch(self.batches),
                "config": history.config,
                "info": self.info,
            }
        )

    def resume(
        self, fresh: History, epochs: int, n_train: int | None, n_test: int | None
    ) -> History:
        """Load the checkpoint into the model, optimiser, batch order and Dropout layers;
        return the history so far (its config from the checkpoint, ``epochs`` updated)."""
        ckpt = runlog.load_checkpoint(self.checkpoint_path)
        where = f"fit: resume from {self.checkpoint_path}"
        try:
            history = type(fresh).from_dict(ckpt.history)  # History, without importing train
        except ValueError as e:
            raise runlog.CheckpointError(f"{where}: corrupt history ({e})") from None
        for key in _RESUME_MUST_MATCH:
            old, new = history.config.get(key), fresh.config.get(key)
            if old != new:
                raise runlog.CheckpointError(
                    f"{where}: it was trained with {key} {_brief(old)}, this call has {_brief(new)}"
                )
        self.sizes = {"train_size": n_train, "test_size": n_test}
        for key, now in self.sizes.items():
            then = ckpt.extra.get(key)
            if then is not None and now is not None and then != now:
                raise runlog.CheckpointError(
                    f"{where}: it was trained with {then} {key.split('_')[0]} samples, this call "
                    f"has {now}"
                )
        if epochs < ckpt.epoch:
            raise ValueError(
                f"{where}: it has already trained {ckpt.epoch} epochs, more than epochs={epochs}"
            )
        if history.epochs != ckpt.epoch or ckpt.iteration != (
            history.epoch_end_iterations[-1] if history.epoch_end_iterations else 0
        ):
            raise runlog.CheckpointError(f"{where}: its history does not match its epoch count")
        try:
            self.model.load_state_dict(ckpt.model_state)
            self.optimizer.load_state_dict(ckpt.optimizer_state)
        except (ValueError, KeyError, TypeError) as e:
            raise runlog.CheckpointError(f"{where}: {_one_line_error(e)}") from None
        rng = getattr(self.batches, "_rng", None)
        dropouts = _dropout_layers(self.model)
        if len(ckpt.dropout_rngs) != len(dropouts):
            raise runlog.CheckpointError(
                f"{where}: it has {len(ckpt.dropout_rngs)} Dropout layers, the model "
                f"{len(dropouts)}"
            )
        try:
            if ckpt.loader_rng is not None and isinstance(rng, np.random.Generator):
                rng.bit_generator.state = ckpt.loader_rng
            for layer, state in zip(dropouts, ckpt.dropout_rngs, strict=True):
                layer.rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
                layer.rng.bit_generator.state = state
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise runlog.CheckpointError(f"{where}: bad RNG state ({_one_line_error(e)})") from None
        self.info = {**ckpt.info, **self.info}
        self.iteration = ckpt.iteration
        history.config["epochs"] = epochs
        log = self.run_dir / runlog.METRICS_FILE
        offset = ckpt.metrics_offset
        if offset is None:  # not recorded: keep the whole log
            offset = log.stat().st_size if log.exists() else 0
        self.writer = runlog.MetricsWriter(log, truncate_at=offset)
        self.writer.write(
            {
                "event": "resume",
                "time": time.time(),
                "epoch": ckpt.epoch,
                "iteration": ckpt.iteration,
                "epochs": epochs,
                "info": self.info,
            }
        )
        return history

    def log_eval(self, history: History, epoch: int, since: int) -> None:
        """One ``eval`` record: the test metrics just measured, and the mean minibatch loss and
        accuracy since the previous evaluation (null before the first update)."""
        assert self.writer is not None
        losses, accs = history.train_loss[since:], history.train_acc[since:]
        self.writer.write(
            {
                "event": "eval",
                "iteration": history.test_iterations[-1],
                "epoch": epoch,
                "train_loss": float(np.mean(losses)) if losses else None,
                "train_acc": float(np.mean(accs)) if accs else None,
                "test_loss": history.test_loss[-1],
                "test_acc": history.test_acc[-1],
                "time": time.time(),
            }
        )

    def log_epoch(self, history: History) -> None:
        """One ``epoch`` record with the epoch's minibatch values; then fsync the log."""
        assert self.writer is not None
        end = history.epoch_end_iterations[-1]
        start = history.epoch_end_iterations[-2] if history.epochs > 1 else 0
        lo = len(history.iterations) - (end - start)
        losses, accs = history.train_loss[lo:], history.train_acc[lo:]
        record: dict[str, Any] = {
            "event": "epoch",
            "epoch": history.epochs,
            "iteration": end,
            "seconds": history.epoch_times[-1],
            "eval_seconds": history.epoch_eval_times[-1],
            "train_loss": float(np.mean(losses)) if losses else None,
            "train_acc": float(np.mean(accs)) if accs else None,
        }
        if history.test_acc:
            record["test_loss"] = history.test_loss[-1]
            record["test_acc"] = history.test_acc[-1]
        record.update(time=time.time(), batch_loss=losses, batch_acc=accs)
        self.writer.write(record)
        self.writer.sync()

    def checkpoint(self, history: History, epochs: int) -> None:
        """Replace ``checkpoint.npz`` atomically with the state after this epoch."""
        assert self.writer is not None
        rng = getattr(self.batches, "_rng", None)
        loader_rng = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
        try:
            description: dict[str, Any] | None = describe(self.model)
        except TypeError:
            description = None
        runlog.save_checkpoint(
            self.checkpoint_path,
            runlog.Checkpoint(
                epoch=history.epochs,
                iteration=history.epoch_end_iterations[-1],
                epochs=epochs,
                model_state=self.model.state_dict(),
                optimizer_state=self.optimizer.state_dict(),
                history=history.to_dict(),
                loader_rng=loader_rng,
                dropout_rngs=[m.rng.bit_generator.state for m in _dropout_layers(self.model)],
                metrics_offset=self.writer.offset,
                info=self.info,
                extra={**self.sizes, "model": description},
            ),
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _batches_per_epoch(batches: Any) -> int | None:
    try:
        return len(batches)
    except TypeError:
        return None


def _dropout_layers(model: nn.Module) -> list[nn.Dropout]:
    return [m for m in model.modules() if isinstance(m, nn.Dropout)]


def _brief(value: Any) -> str:
    """A config value on one line, shortened."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line_error(e: BaseException) -> str:
    return " ".join(str(e).strip("'\"").split())
