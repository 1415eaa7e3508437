"""``tinygrad-edu train``: train an MLP or the small CNN and save its run folder; ``--resume``
continues one.

:func:`run_train` reads top-down: the run's settings (fresh from the arguments, or from the
checkpoint being resumed; every option, its default and check are a row of
:data:`~tinygrad_edu.cli.settings.SETTINGS`) -> the data -> the model and optimiser -> the
callbacks and ``fit`` -> the model and history saved -> the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..data import AugmentedLoader, Dataset
from ..training import (
    CHECKPOINT_FILE,
    MODEL_FILE,
    Callback,
    Checkpoint,
    CheckpointError,
    EpochLog,
    EvalEvery,
    FolderLock,
    History,
    LRDecay,
    ProgressBar,
    RunFolder,
    RunFolderError,
    StopOnNonFinite,
    TensorBoard,
    TensorBoardNotInstalled,
    check_same_run,
    claim_log_folder,
    existing_run,
    fit,
    load_checkpoint,
    new_run_id,
    save,
)
from ..training.files import why_not_writable
from ..training.history import plural
from .errors import CLIError, RunFailed, one_line
from .figures import add_x_axis_argument, save_figures
from .network import build_network, build_optimizer, loss_function, network_name
from .options import PROG, tensorboard_folder
from .rundata import check_fits, load_run_data
from .settings import (
    add_arguments,
    check_resumed,
    check_settings,
    config_entries,
    fresh_settings,
    given_settings,
    training_text,
    with_old_run_defaults,
)

__all__ = ["add_train_command", "run_train"]


# ----------------------------------------------------------------------------- arguments
def add_train_command(subparsers: Any) -> None:
    """Add ``train``; every setting defaults to None, so that ``--resume`` can tell it was not
    given (the defaults are filled in by :func:`_fresh_run`)."""
    p = subparsers.add_parser(
        "train",
        help="train an MLP or the small CNN and save the model and its history",
        description="Train an MLP (or with --model cnn the course's small CNN) with softmax "
        "cross-entropy (--digit K: one-vs-rest with binary cross-entropy); print one line per "
        "epoch (training and test loss and accuracy) and the final test accuracy. --out DIR "
        "gets metrics.jsonl (written as training goes), "
        "checkpoint.npz (after every epoch), and model.npz and history.json at the end; "
        "--resume DIR continues a killed run from its checkpoint; --out DIR refuses a folder that "
        "holds a run unless --overwrite, and one folder takes one run at a time. A run that "
        "diverges (a minibatch loss becomes NaN or infinite) stops at once, keeps the "
        "checkpoint of its last good epoch, saves its history (no model.npz), says why in one "
        "line and exits with status 1.",
    )
    add_arguments(p, "train")
    _add_folder_arguments(p)
    add_x_axis_argument(p)  # --x: the --plots curves' x-axis
    p.set_defaults(func=run_train)


def _add_folder_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        help="the run folder: metrics.jsonl, checkpoint.npz, model.npz, history.json "
        "(default runs/<date-time>)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint, with its settings "
        "(--epochs may be raised; --data-dir may point to the data's new place)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in --out DIR although DIR holds one (its files are removed first)",
    )
    p.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="at the end, save PNG figures to DIR: curves, confusion matrix, misclassified "
        "digits, first-layer weights, sample digits",
    )
    p.add_argument(
        "--tensorboard",
        type=tensorboard_folder,
        metavar="DIR",
        help="also write TensorBoard event files to DIR/<run folder name>, or DIR/<name>-2, -3, "
        "... when another run has that folder (a resumed run goes on writing in its own); view "
        'with `tensorboard --logdir DIR`. Needs pip install "tinygrad_edu[tensorboard]"',
    )


# ----------------------------------------------------------------------------- the command
@dataclass
class TrainRun:
    """What ``train`` was asked for: the settings (JSON-ready, kept in the run folder), the run
    folder, the checkpoint being resumed (None for a fresh run) and the run's id."""

    settings: dict[str, Any]
    folder: Path
    checkpoint: Checkpoint | None = None
    data_crc: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=new_run_id)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``train``: settings -> data -> model and optimiser -> fit -> save -> figures."""
    run = _resumed_run(args) if args.resume is not None else _fresh_run(args)
    _log_folder_settings(run, args.tensorboard)
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise CLIError(f"--plots {args.plots} exists and is not a folder")
    # no --dataset: full MNIST where it can be had, else the bundled sample (one line says so)
    fallback = args.resume is None and args.dataset is None and args.data_dir is None
    train, test = _load_data(run, args.offline, fallback)
    model, optimizer = _build(run.settings)
    try:
        with FolderLock(run.folder):  # held until model.npz and history.json are saved
            _announce(run, train, test)
            history = _fit(run, model, optimizer, train, test, args.overwrite)
            _save(run, model, history, train)
    except RunFolderError as e:
        option = "--out" if run.checkpoint is None else "--resume"
        raise CLIError(f"{option} {run.folder}: {one_line(e)}") from None
    if history.failed:  # diverged: the history is saved and the last good checkpoint kept
        raise RunFailed(
            f"{history.stop_reason}; {_kept(run, history)}"
            + (" (no figures drawn)" if args.plots is not None else "")
        )
    if args.plots is not None:
        save_figures(args.plots, history, run.settings, model, train, test, x_axis=args.x_axis)
    return 0


# ----------------------------------------------------------------------------- settings
def _fresh_run(args: argparse.Namespace) -> TrainRun:
    """The settings from the arguments, defaults filled in, and the ``--out`` folder."""
    folder = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--out {folder} exists and is not a folder")
    old = existing_run(folder) if folder.is_dir() else []
    if old and not args.overwrite:
        raise CLIError(
            f"--out {folder} holds a run already ({', '.join(old)}): continue it with "
            f"--resume {folder}, replace it with --overwrite, or choose another folder"
        )
    return TrainRun(fresh_settings(given_settings(args)), folder)


def _log_folder_settings(run: TrainRun, given: Path | None) -> None:
    """``tensorboard`` (the --tensorboard DIR) and ``tensorboard_run`` (the run's own folder in
    it, once claimed) in the settings, so that --resume goes on writing there; a resumed run's
    remembered DIR is checked before anything is created (a given one was, by the option)."""
    s = run.settings
    moved = given is not None and str(given.resolve()) != s.get("tensorboard")
    if moved:
        s["tensorboard"] = str(given.resolve())
        s.pop("tensorboard_run", None)  # a new DIR: a new folder in it
    board = s.get("tensorboard")
    if board is None:
        return
    if not isinstance(board, str) or not isinstance(s.get("tensorboard_run", ""), str):
        raise CLIError(f"--resume {run.folder}: its checkpoint has a bad tensorboard folder")
    if given is None and (why := why_not_writable(board)) is not None:
        raise CLIError(f"--resume {run.folder}: its --tensorboard {board}: {why}")
    if run.checkpoint is not None and not moved and "tensorboard_run" not in s:
        s["tensorboard_run"] = str(Path(board) / run.folder.resolve().name)  # an older run's


def _resumed_run(args: argparse.Namespace) -> TrainRun:
    """The settings kept in ``--resume``'s checkpoint, checked against the arguments given."""
    folder: Path = args.resume
    if args.overwrite:
        raise CLIError("--overwrite starts a new run: it cannot go with --resume")
    checkpoint = _train_checkpoint(folder, args.out)
    settings = with_old_run_defaults(checkpoint.info["settings"])
    check_settings(settings, f"--resume {folder}: its checkpoint")
    if settings["model"] == "mlp" and settings["arch"] is None:
        raise CLIError(
            f"--resume {folder}: its checkpoint has an MLP without arch (was it edited?)"
        )
    check_resumed(settings, given_settings(args))
    if args.epochs is not None:
        if args.epochs < checkpoint.epoch:
            raise CLIError(
                f"--epochs {args.epochs}: the run in {folder} has already trained "
                f"{plural(checkpoint.epoch, 'epoch')}"
            )
        settings["epochs"] = args.epochs
    if args.data_dir is not None:  # the data may have moved
        settings["data_dir"] = str(args.data_dir.resolve())
    if args.threads is not None:  # every count trains to the same numbers
        settings["threads"] = args.threads
    return TrainRun(settings, folder, checkpoint, run_id=checkpoint.run_id or new_run_id())


def _train_checkpoint(folder: Path, out: Path | None) -> Checkpoint:
    """The checkpoint in ``folder``, which must be a run folder written by ``train``."""
    if not folder.exists():
        raise CLIError(f"--resume {folder}: no such folder")
    if not folder.is_dir():
        raise CLIError(f"--resume {folder} is not a folder (give the run folder)")
    if out is not None and out.resolve() != folder.resolve():
        raise CLIError(
            f"--out {out} conflicts with --resume {folder}: a resumed run continues in its own "
            "folder"
        )
    if not (folder / CHECKPOINT_FILE).exists():
        raise CLIError(
            f"--resume {folder}: no {CHECKPOINT_FILE} in it (a run writes one after each "
            "epoch; did this one finish an epoch?)"
        )
    try:
        checkpoint = load_checkpoint(folder)
    except CheckpointError as e:
        raise CLIError(f"--resume {folder}: corrupt checkpoint: {one_line(e)}") from None
    try:
        check_same_run(folder, checkpoint)
    except CheckpointError as e:
        raise CLIError(f"--resume {folder}: {one_line(e)}") from None
    if checkpoint.info.get("command") != "train" or not isinstance(
        checkpoint.info.get("settings"), dict
    ):
        raise CLIError(
            f"--resume {folder}: its checkpoint was not written by `{PROG} train` "
            "(resume it with fit(..., callbacks=[RunFolder(folder, resume=True)]))"
        )
    return checkpoint


# ----------------------------------------------------------------------------- data, model
def _load_data(run: TrainRun, offline: bool, fallback: bool) -> tuple[Dataset, Dataset]:
    """The run's data (a resumed run's must be the images it was trained on); then the run
    folder is created, so that a bad one fails before training rather than after it."""
    train, test, used = load_run_data(run.settings, offline, fallback)
    run.settings["dataset"] = used
    run.data_crc = {"train": _data_crc(train), "test": _data_crc(test)}
    if run.checkpoint is not None:
        for part in ("train", "test"):
            if run.checkpoint.info.get("data", {}).get(part) not in (None, run.data_crc[part]):
                source = run.settings.get("data_dir") or used
                raise CLIError(
                    f"--resume {run.folder}: the {part} images from {source} differ from the "
                    "ones the run was trained with"
                )
    try:
        run.folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {run.folder}: cannot create the folder ({e.strerror})") from None
    check_fits(run.settings["arch"], train)
    return train, test


def _data_crc(dataset: Dataset) -> str:
    """CRC-32 of the images and labels, to tell that a resumed run sees the same data."""
    crc = zlib.crc32(np.ascontiguousarray(dataset.images).tobytes())
    return f"{zlib.crc32(np.ascontiguousarray(dataset.labels).tobytes(), crc):08x}"


def _build(settings: dict[str, Any]) -> tuple[nn.Module, optim.Optimizer]:
    """The network (initialised from the seed) and its optimiser."""
    model = build_network(settings)
    return model, build_optimizer(settings, model)


def _announce(run: TrainRun, train: Dataset, test: Dataset) -> None:
    """Say what is resumed and what is trained."""
    s = run.settings
    if run.checkpoint is not None:
        done = run.checkpoint.epoch >= s["epochs"]
        print(
            f"resuming {run.folder} after epoch {run.checkpoint.epoch} (iteration "
            f"{run.checkpoint.iteration}), up to epoch {s['epochs']}"
            + (" (nothing left to train; raise --epochs)" if done else ""),
            flush=True,
        )
    print(
        f"training {network_name(s)} on {train.name} ({len(train)} train, {len(test)} test), "
        f"{training_text(s)}",
        flush=True,
    )


# ----------------------------------------------------------------------------- fit, save
def _fit(
    run: TrainRun,
    model: nn.Module,
    optimizer: optim.Optimizer,
    train: Dataset,
    test: Dataset,
    overwrite: bool = False,
) -> History:
    """Train; return the history (with why training stopped early, if it did)."""
    s = run.settings
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # StopOnNonFinite says it in words
            history = fit(
                model,
                _training_batches(s, train, model),
                test,
                loss_function(s),
                optimizer,
                epochs=s["epochs"],
                batch_size=s["batch_size"],
                seed=s["seed"],
                callbacks=_callbacks(run, overwrite),
                threads=s.get("threads"),
            )
    except CheckpointError as e:
        raise CLIError(f"--resume {run.folder}: {one_line(e)}") from None
    except KeyboardInterrupt:
        if (run.folder / CHECKPOINT_FILE).exists():
            print(
                f"{PROG} train: continue from the last checkpoint with "
                f"`{PROG} train --resume {run.folder}`",
                file=sys.stderr,
            )
        raise
    return history


def _training_batches(s: dict[str, Any], train: Dataset, model: nn.Module) -> Any:
    """The training set, or with ``augment`` a loader that shifts and turns its images."""
    if not s["augment"]:
        return train
    return AugmentedLoader(train, s["batch_size"], seed=s["seed"], flatten=s["model"] == "mlp")


def _callbacks(run: TrainRun, overwrite: bool = False) -> list[Callback]:
    """Progress bar (on a terminal), a line per epoch, extra evaluations, the stop on a
    non-finite loss, the learning-rate decay, TensorBoard event files in the run's own folder of
    ``--tensorboard DIR``, and the run folder (last; its lock is held by :func:`run_train`)."""
    eval_every = run.settings["eval_every"]
    boards = _tensorboard(run, overwrite)
    return [
        *([ProgressBar()] if sys.stderr.isatty() else []),
        EpochLog(lambda line: print(line, flush=True)),
        *([EvalEvery(eval_every)] if eval_every else []),
        StopOnNonFinite(),
        *([LRDecay(run.settings["lr_decay"])] if run.settings["lr_decay"] != 1.0 else []),
        *boards,
        RunFolder(
            run.folder,
            resume=run.checkpoint is not None,
            info={"command": "train", "settings": run.settings, "data": run.data_crc},
            overwrite=overwrite,
            lock=False,
            run_id=run.run_id,
        ),
    ]


def _tensorboard(run: TrainRun, overwrite: bool) -> list[Callback]:
    """A TensorBoard writing to the run's own folder of ``--tensorboard DIR``: ``DIR/<run folder
    name>``, or ``-2``, ``-3``, ... when another run owns it (:func:`claim_log_folder`); a
    resumed run's recorded folder, taken back. Its problems are one warning line each."""
    board = run.settings.get("tensorboard")
    if not board:
        return []
    try:
        TensorBoard.check_installed()  # a resumed run that had --tensorboard
        folder = claim_log_folder(
            board,
            run.folder.resolve().name,
            run.run_id,
            run.folder,
            prefer=run.settings.get("tensorboard_run"),
            replace=overwrite,
        )
    except TensorBoardNotInstalled as e:
        raise CLIError(one_line(e)) from None
    except OSError as e:
        raise CLIError(f"--tensorboard {board}: {one_line(e)}") from None
    run.settings["tensorboard_run"] = str(folder)
    return [TensorBoard(folder, say=_warn)]


def _warn(line: str) -> None:
    print(f"{PROG} train: warning: {line}", file=sys.stderr, flush=True)


def _save(run: TrainRun, model: nn.Module, history: History, train: Dataset) -> None:
    """Print the final accuracy; save ``model.npz`` (not for a run that failed: its weights are
    not finite) and ``history.json`` in the run folder, each with the run's settings."""
    s = run.settings
    history.config.update(config_entries(s))
    if history.failed:
        history.save(run.folder / "history.json")
        print(f"saved {run.folder / 'history.json'}")
        return
    print(
        f"final test accuracy: {100 * history.final_test_acc:.2f}% "
        f"({sum(history.epoch_times):.1f} s training)"
    )
    metadata = {
        "dataset": s["dataset"],
        "classes": list(train.classes),
        "test_accuracy": history.final_test_acc,
        "config": history.config,
    }
    model_path = save(model, run.folder / MODEL_FILE, metadata=metadata)
    history.save(run.folder / "history.json")
    print(f"saved {model_path} and {run.folder / 'history.json'}")


def _kept(run: TrainRun, history: History) -> str:
    """What a diverged run leaves to resume from: the checkpoint of its last good epoch."""
    good = history.epochs - 1  # the last epoch ended early, at the non-finite loss
    if good < 1 or not (run.folder / CHECKPOINT_FILE).exists():
        return "no epoch finished before, so there is no checkpoint to resume from"
    return f"the checkpoint of epoch {good} is kept in {run.folder / CHECKPOINT_FILE}"
