"""A run folder: the callback that records a training run as it goes, and resumes it.

``fit(..., callbacks=[RunFolder(path)])`` writes ``path/metrics.jsonl`` (one JSON record per
evaluation and per epoch, flushed as written; :mod:`~tinygrad_edu.training.metricslog`) and
``path/checkpoint.npz`` after every epoch (model, optimiser, batch-order and Dropout RNG states,
history; replaced atomically; :mod:`~tinygrad_edu.training.checkpoint`).
``RunFolder(path, resume=True)`` continues that run from its checkpoint: the result is bit for
bit that of an uninterrupted run (the timings aside).

A folder holds one run: a new run refuses a folder that holds one unless told to ``overwrite``
it, and a :class:`FolderLock` (``path/.lock``) stops two runs from writing to one folder at
once. A run that fails (a non-finite loss or parameters) keeps its last good checkpoint. Each
run gets a run id, written in its log's ``config`` record and in every checkpoint, so that a
checkpoint copied in from another run folder is refused on resume (:func:`check_same_run`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from .callbacks import Callback, TrainingState, callback_states, load_callback_states
from .checkpoint import (
    CHECKPOINT_FILE,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from .evaluation import data_size
from .files import brief, one_line, parse_json
from .history import History, plural
from .metricslog import METRICS_FILE, MetricsLogError, MetricsWriter
from .modelfile import describe

try:  # the lock: flock where there is fcntl (Linux, macOS), msvcrt's locking on Windows
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]
    import msvcrt

__all__ = [
    "LOCK_FILE",
    "RUN_FILES",
    "FolderLock",
    "RunFolder",
    "RunFolderError",
    "check_same_run",
    "existing_run",
    "new_run_id",
]

#: History.config entries a resumed run may change: the epochs (raised), and the optimiser's
#: description (its learning rate moves with a decay; a different optimiser is refused when
#: its state is loaded). Every other entry must match: the model, loss, batch size, seed, data,
#: and every callback's ``config()``.
RESUME_MAY_CHANGE = ("epochs", "optimizer", "threads")  # threads: every count, the same bits
#: The lock file of a run folder.
LOCK_FILE = ".lock"
#: The model file ``train`` saves in a run folder when the run ends.
MODEL_FILE = "model.npz"
#: The files of a run: its log and checkpoint (RunFolder), its model and history (``train``).
RUN_FILES = (METRICS_FILE, CHECKPOINT_FILE, MODEL_FILE, "history.json")


class RunFolderError(Exception):
    """A run folder is in use by another run, or holds a run that a new one would replace."""


class FolderLock:
    """An exclusive lock on a run folder while a run writes there: ``FOLDER/.lock`` locked with
    ``flock`` (``msvcrt.locking`` on Windows), holding the owner's process id, and removed on
    release. The operating system releases the lock when its process ends, however it ends: a
    killed run leaves the file but not the lock, and the next run takes it over. Raises
    :class:`RunFolderError` when another process (or another lock in this one) holds it. A
    context manager."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                _lock(fd)
            except OSError:
                owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunFolderError(
                    f"{self.folder} is in use by another run (process {owner}); wait for it "
                    "to end or choose another folder"
                ) from None
            if not _same_file(fd, self.path):  # its holder removed it as we opened it: again
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(fd)  # closing releases the lock

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _lock(fd: int) -> None:
    """Lock ``fd`` exclusively without waiting (an OSError if another holds it)."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:  # pragma: no cover (Windows)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)


def existing_run(folder: str | os.PathLike[str]) -> list[str]:
    """The names of the run files (:data:`RUN_FILES`) that ``folder`` holds."""
    return [name for name in RUN_FILES if (Path(folder) / name).exists()]


def new_run_id() -> str:
    """A fresh run id: 16 random hex digits."""
    return secrets.token_hex(8)


def check_same_run(folder: str | os.PathLike[str], checkpoint: Checkpoint) -> None:
    """Refuse (:class:`CheckpointError`) a checkpoint that is not of the run whose metrics log is
    in ``folder`` (one copied in from another run folder): another run id, or another model
    than the log's ``config`` record says (``repr`` of the model, e.g. its layer sizes).
    Resuming it would train that other model and cut this log at the other run's offset. What
    either side does not record (a run from before run ids, a log without its config record)
    is not compared."""
    record = _config_record(Path(folder) / METRICS_FILE)
    where = f"{Path(folder) / CHECKPOINT_FILE}"
    logged_id, saved_id = record.get("run_id"), checkpoint.run_id
    if isinstance(logged_id, str) and saved_id is not None and logged_id != saved_id:
        raise CheckpointError(
            f"{where} is of another run (run id {saved_id}) than the log {METRICS_FILE} beside "
            f"it (run id {logged_id}): was it copied from another run folder?"
        )
    config, history_config = record.get("config"), checkpoint.history.get("config")
    logged = config.get("model") if isinstance(config, dict) else None
    saved = history_config.get("model") if isinstance(history_config, dict) else None
    if isinstance(logged, str) and isinstance(saved, str) and logged != saved:
        here, there = _first_difference(saved, logged)
        raise CheckpointError(
            f"{where} holds another model than the log {METRICS_FILE} beside it records "
            f"({here} where the log has {there}): was it copied from another run folder?"
        )


def _first_difference(a: str, b: str) -> tuple[str, str]:
    """The first line where two models' reprs differ, from each, stripped and shortened."""
    lines = itertools.zip_longest(a.splitlines(), b.splitlines(), fillvalue="(nothing)")
    x, y = next((x, y) for x, y in lines if x != y)
    return brief(x.strip(), 80), brief(y.strip(), 80)


def _config_record(log: Path) -> dict[str, Any]:
    """The first record of a metrics log if it is its ``config`` record, else {} (no log, or an
    unreadable first line: nothing to compare)."""
    try:
        with open(log, "rb") as f:
            line = f.readline(1 << 20)
        record = parse_json(line, MetricsLogError, f"{log}: line 1")
    except (OSError, MetricsLogError):
        return {}
    return record if isinstance(record, dict) and record.get("event") == "config" else {}


class RunFolder(Callback):
    """Record the run in ``folder``: the metrics log as it trains and a checkpoint per epoch.

    A new run refuses a folder that holds one (:data:`RUN_FILES`) unless ``overwrite=True``,
    which removes its files first; while training, the folder is locked (:class:`FolderLock`;
    ``lock=False`` when the caller holds the lock). Both raise :class:`RunFolderError`. At an
    epoch end where the run has ``failed`` or a parameter is not finite, no checkpoint is
    written (the last good one stays) and a ``stop`` record says why.

    Each checkpoint also holds every stateful callback's ``state_dict()`` (a decay's step, the
    best loss of an early stop), taken at this callback's ``on_epoch_end``: put it last in
    ``callbacks``, so that it sees what the others change at an epoch's end.

    ``resume=True`` continues the run recorded there: build the model, optimiser and callbacks
    as before and call ``fit`` with the same data, loss, batch size and seed; the checkpoint is
    loaded into them (the callbacks' states too), the log is cut back to where the checkpoint
    was taken, and training goes on up to ``epochs``. Every entry of the run's
    ``History.config`` but the epochs and the optimiser's description must be the same, every
    callback's ``config()`` among them. Raises FileNotFoundError without a checkpoint and
    :class:`CheckpointError` when it is corrupt, does not fit, or is of another run than the
    log beside it (:func:`check_same_run`). ``info`` (JSON-ready) is kept in the log and the
    checkpoint. ``run_id``: the run's id (default: a new one for a new run; a resumed run keeps
    its checkpoint's, and one given must equal it).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        resume: bool = False,
        info: dict[str, Any] | None = None,
        overwrite: bool = False,
        lock: bool = True,
        run_id: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"RunFolder: {self.folder} exists and is not a folder")
        if resume and overwrite:
            raise ValueError("RunFolder: resume and overwrite exclude each other")
        self.resume, self.info, self.overwrite = resume, dict(info or {}), overwrite
        self.run_id = run_id
        self.lock = FolderLock(self.folder) if lock else None
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
        if self.lock is not None:
            self.lock.acquire()
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
        if state.failed or not _finite(state.model):
            self._write(
                "stop",
                epoch=state.epoch,
                iteration=state.iteration,
                reason=state.stop_reason or "a parameter is NaN or infinite",
                checkpoint_kept=self.checkpoint_path.exists(),
            )
            assert self.writer is not None
            self.writer.sync()
            return
        self._save_checkpoint(state)

    def on_train_end(self, state: TrainingState) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            if self.lock is not None:
                self.lock.release()

    # ----------------------------------------------------------------- a new run
    def _start(self, state: TrainingState) -> None:
        """An empty log with its config record; an earlier run's files are removed if
        ``overwrite``, else refused."""
        self.folder.mkdir(parents=True, exist_ok=True)
        old = existing_run(self.folder)
        if old and not self.overwrite:
            raise RunFolderError(
                f"{self.folder} holds a run already ({', '.join(old)}): resume it, overwrite "
                "it, or choose another folder"
            )
        for name in old:
            (self.folder / name).unlink()
        self.writer = MetricsWriter(self.folder / METRICS_FILE)
        self.run_id = self.run_id or new_run_id()
        self._write(
            "config",
            run_id=self.run_id,
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
            threads=h.epoch_threads[-1] if h.epoch_threads else None,
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
        except (TypeError, ValueError):  # a model save() cannot describe: its state is saved
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
            callbacks=callback_states(state.callbacks),
            info=self.info,
            extra={**self.sizes, "model": description},
            run_id=self.run_id,
        )
        save_checkpoint(self.checkpoint_path, checkpoint)

    # ----------------------------------------------------------------- resuming
    def _resume(self, state: TrainingState) -> None:
        """Load the checkpoint into the model, optimiser, batch order and Dropout layers; the
        history so far replaces ``state.history`` (its config from the checkpoint)."""
        ckpt = load_checkpoint(self.checkpoint_path)
        where = f"resume from {self.checkpoint_path}"
        try:
            check_same_run(self.folder, ckpt)
        except CheckpointError as e:
            raise CheckpointError(f"resume: {e}") from None
        if self.run_id is not None and ckpt.run_id is not None and self.run_id != ckpt.run_id:
            raise CheckpointError(f"{where}: it is of run {ckpt.run_id}, not {self.run_id}")
        self.run_id = ckpt.run_id or self.run_id or new_run_id()  # an older run gets one now
        history = self._checked_history(ckpt, state, where)
        try:
            state.model.load_state_dict(ckpt.model_state)
            state.optimizer.load_state_dict(ckpt.optimizer_state)
            if ckpt.callbacks is not None:  # None: written before callbacks had state
                load_callback_states(state.callbacks, ckpt.callbacks)
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
            run_id=self.run_id,
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
        for key in sorted(history.config.keys() | state.history.config.keys()):
            old, new = history.config.get(key), state.history.config.get(key)
            if key in RESUME_MAY_CHANGE:
                continue
            if old != new:
                raise CheckpointError(
                    f"{where}: it was trained with {key} {brief(old, 80)}, this call has "
                    f"{brief(new, 80)}"
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
                f"{where}: it has already trained {plural(ckpt.epoch, 'epoch')}, more than "
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


def _finite(model: nn.Module) -> bool:
    """Whether every parameter of ``model`` is finite."""
    return all(np.isfinite(p.data).all() for p in model.parameters())


def _dropout_layers(model: nn.Module) -> list[nn.Dropout]:
    return [m for m in model.modules() if isinstance(m, nn.Dropout)]
