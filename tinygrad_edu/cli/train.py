"""``tinygrad-edu train``: train an MLP and save its run folder; ``--resume`` continues one.

:func:`run_train` reads top-down: the run's settings (fresh from the arguments, or from the
checkpoint being resumed) -> the data -> the model and optimiser -> the callbacks and ``fit`` ->
the model and history saved -> the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..data import Dataset
from ..nn.init import INITS
from ..training import (
    CHECKPOINT_FILE,
    Callback,
    Checkpoint,
    CheckpointError,
    EpochLog,
    EvalEvery,
    FolderLock,
    History,
    LambdaCallback,
    ProgressBar,
    RunFolder,
    RunFolderError,
    StopOnNonFinite,
    TensorBoard,
    TensorBoardNotInstalled,
    TrainingState,
    existing_run,
    fit,
    load_checkpoint,
    save,
)
from .errors import CLIError, RunFailed, one_line
from .figures import save_figures
from .options import (
    PROG,
    add_data_arguments,
    learning_rate,
    nonnegative_int,
    positive_int,
    tensorboard_folder,
)
from .rundata import check_fits, check_settings, load_run_data

__all__ = ["DEFAULT_LR", "add_train_command", "parse_arch", "run_train"]

#: Default learning rate per optimiser (for the seeds' 784-64-10 sigmoid network, batch 256).
DEFAULT_LR = {"sgd": 2.0, "momentum": 0.5, "adam": 0.003}
DEFAULT_ARCH = "784,64,10"
DEFAULT_EPOCHS = 20
#: The other settings' defaults (``lr`` depends on the optimiser; sizes None: all images).
DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "activation": "sigmoid",
    "optimizer": "momentum",
    "batch_size": 256,
    "init": "normal",
    "seed": 0,
    "eval_every": 0,
}
#: Settings of a run that ``--resume`` keeps (``--epochs`` may be raised), with the option that
#: sets each one.
RUN_SETTINGS = {
    "dataset": "--dataset",
    "arch": "--arch",
    "activation": "--activation",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "init": "--init",
    "seed": "--seed",
    "eval_every": "--eval-every",
    "train_size": "--train-size",
    "test_size": "--test-size",
}


# ----------------------------------------------------------------------------- arguments
def add_train_command(subparsers: Any) -> None:
    """Add ``train``; every setting defaults to None, so that ``--resume`` can tell it was not
    given (the defaults are filled in by :func:`_fresh_run`)."""
    p = subparsers.add_parser(
        "train",
        help="train an MLP and save the model and its history",
        description="Train an MLP with softmax cross-entropy; print one line per epoch and the "
        "final test accuracy. --out DIR gets metrics.jsonl (written as training goes), "
        "checkpoint.npz (after every epoch), and model.npz and history.json at the end; "
        "--resume DIR continues a killed run from its checkpoint; --out DIR refuses a folder that "
        "holds a run unless --overwrite, and one folder takes one run at a time. A run that "
        "diverges (a minibatch loss becomes NaN or infinite) stops at once, keeps the "
        "checkpoint of its last good epoch, saves its history (no model.npz), says why in one "
        "line and exits with status 1.",
    )
    add_data_arguments(p, default_text="mnist")
    _add_network_arguments(p)
    _add_schedule_arguments(p)
    _add_folder_arguments(p)
    p.set_defaults(func=run_train)


def _add_network_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", help=f"layer widths (default {DEFAULT_ARCH})")
    p.add_argument(
        "--activation", choices=nn.ACTIVATIONS, help="hidden-layer activation (default sigmoid)"
    )
    p.add_argument(
        "--init", choices=INITS, help="weight init (default normal: N(0, 0.1^2), the seeds' choice)"
    )
    p.add_argument("--seed", type=nonnegative_int, help="weights and batch order (default 0)")


def _add_schedule_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--optimizer",
        choices=optim.OPTIMIZERS,
        help=f"sgd, momentum (SGD with momentum {optim.MOMENTUM}) or adam (default momentum)",
    )
    lrs = ", ".join(f"{name} {lr}" for name, lr in DEFAULT_LR.items())
    p.add_argument("--lr", type=learning_rate, help=f"learning rate (default per optimiser: {lrs})")
    p.add_argument("--batch-size", type=positive_int, help="default 256")
    p.add_argument(
        "--epochs",
        type=positive_int,
        help=f"default {DEFAULT_EPOCHS} (with --resume: the run's, and it may be raised)",
    )
    p.add_argument(
        "--eval-every",
        type=nonnegative_int,
        help="also evaluate on the test set every k updates (default: at epoch ends only)",
    )
    for split, images in (("train", "training"), ("test", "test")):
        p.add_argument(
            f"--{split}-size",
            type=positive_int,
            metavar="N",
            help=f"{split} on the first N {images} images only (default: all)",
        )


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
        help="also write TensorBoard event files to DIR/<run folder name> (a resumed run goes "
        "on writing there); view with `tensorboard --logdir DIR`. Needs pip install "
        '"tinygrad_edu[tensorboard]"',
    )


# ----------------------------------------------------------------------------- the command
@dataclass
class TrainRun:
    """What ``train`` was asked for: the settings (JSON-ready, kept in the run folder), the run
    folder, and the checkpoint being resumed (None for a fresh run)."""

    settings: dict[str, Any]
    folder: Path
    checkpoint: Checkpoint | None = None
    data_crc: dict[str, str] = field(default_factory=dict)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``train``: settings -> data -> model and optimiser -> fit -> save -> figures."""
    run = _resumed_run(args) if args.resume is not None else _fresh_run(args)
    if args.tensorboard is not None:  # kept in the settings: --resume goes on writing there
        run.settings["tensorboard"] = str(args.tensorboard.resolve())
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise CLIError(f"--plots {args.plots} exists and is not a folder")
    train, test = _load_data(run, args.offline)
    model, optimizer = _build(run.settings)
    try:
        with FolderLock(run.folder):  # held until model.npz and history.json are saved
            _announce(run, train, test)
            history, stop_reason = _fit(run, model, optimizer, train, test, args.overwrite)
            _save(run, model, history, train, diverged=bool(stop_reason))
    except RunFolderError as e:
        option = "--out" if run.checkpoint is None else "--resume"
        raise CLIError(f"{option} {run.folder}: {one_line(e)}") from None
    if stop_reason:  # diverged: the history is saved and the last good checkpoint kept
        raise RunFailed(
            f"{stop_reason}; {_kept(run, history)}"
            + (" (no figures drawn)" if args.plots is not None else "")
        )
    if args.plots is not None:
        save_figures(args.plots, history, run.settings, model, train, test)
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
    settings = {key: _given(args, key) for key in RUN_SETTINGS}
    settings.update({k: v for k, v in DEFAULTS.items() if settings[k] is None})
    settings["arch"] = settings["arch"] or parse_arch(DEFAULT_ARCH)
    if settings["lr"] is None:
        settings["lr"] = DEFAULT_LR[settings["optimizer"]]
    settings["epochs"] = args.epochs or DEFAULT_EPOCHS
    settings["data_dir"] = str(args.data_dir.resolve()) if args.data_dir is not None else None
    return TrainRun(settings, folder)


def _given(args: argparse.Namespace, key: str) -> Any:
    """The setting ``key`` as given on the command line (None if not given)."""
    value = getattr(args, key)
    if value is None:
        return None
    if key == "arch":
        return parse_arch(value)
    return INITS[value] if key == "init" else value


def parse_arch(text: str, n_in: int = 784, n_out: int = 10) -> list[int]:
    """``"784,64,10"`` -> [784, 64, 10]; it must start at ``n_in`` and end at ``n_out``."""
    parts = [p.strip() for p in text.replace("-", ",").split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise CLIError(
            f"--arch: expected comma-separated layer widths such as {DEFAULT_ARCH}, got {text!r}"
        ) from None
    if len(sizes) < 2 or any(n <= 0 for n in sizes):
        raise CLIError(f"--arch: need at least two positive widths such as 784,10, got {text!r}")
    if sizes[0] != n_in:
        raise CLIError(f"--arch must start at {n_in} (28x28 input pixels), got {text!r}")
    if sizes[-1] != n_out:
        raise CLIError(f"--arch must end at {n_out} (one logit per class), got {text!r}")
    return sizes


def _resumed_run(args: argparse.Namespace) -> TrainRun:
    """The settings kept in ``--resume``'s checkpoint, checked against the arguments given."""
    folder: Path = args.resume
    if args.overwrite:
        raise CLIError("--overwrite starts a new run: it cannot go with --resume")
    checkpoint = _train_checkpoint(folder, args.out)
    settings = dict(checkpoint.info["settings"])
    check_settings(settings, f"--resume {folder}: its checkpoint")
    for key in RUN_SETTINGS:
        value = _given(args, key)
        if value is not None and value != settings.get(key):
            raise CLIError(
                f"{RUN_SETTINGS[key]} {_show(key, value)} conflicts with the run's "
                f"{_show(key, settings.get(key))} (a resumed run keeps its settings; only "
                "--epochs may change)"
            )
    if args.epochs is not None:
        if args.epochs < checkpoint.epoch:
            raise CLIError(
                f"--epochs {args.epochs}: the run in {folder} has already trained "
                f"{checkpoint.epoch} epochs"
            )
        settings["epochs"] = args.epochs
    if args.data_dir is not None:  # the data may have moved
        settings["data_dir"] = str(args.data_dir.resolve())
    return TrainRun(settings, folder, checkpoint)


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
    if checkpoint.info.get("command") != "train" or not isinstance(
        checkpoint.info.get("settings"), dict
    ):
        raise CLIError(
            f"--resume {folder}: its checkpoint was not written by `{PROG} train` "
            "(resume it with fit(..., callbacks=[RunFolder(folder, resume=True)]))"
        )
    return checkpoint


def _show(key: str, value: Any) -> str:
    """A run setting as the user would type it."""
    if value is None:
        return "all images" if key.endswith("_size") else "none"
    if key == "arch":
        return "-".join(map(str, value))
    return f"{value:g}" if key == "lr" else str(value)


# ----------------------------------------------------------------------------- data, model
def _load_data(run: TrainRun, offline: bool) -> tuple[Dataset, Dataset]:
    """The run's data (a resumed run's must be the images it was trained on); then the run
    folder is created, so that a bad one fails before training rather than after it."""
    train, test, used = load_run_data(run.settings, offline)
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


def _build(settings: dict[str, Any]) -> tuple[nn.MLP, optim.Optimizer]:
    """The MLP (initialised from the seed) and its optimiser."""
    model = nn.MLP(
        settings["arch"], settings["activation"], init=settings["init"], seed=settings["seed"]
    )
    return model, optim.make_optimizer(settings["optimizer"], model.parameters(), settings["lr"])


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
        f"training {'-'.join(map(str, s['arch']))} {s['activation']} on {train.name} "
        f"({len(train)} train, {len(test)} test), {s['optimizer']} lr {s['lr']:g}, "
        f"batch {s['batch_size']}, {s['epochs']} epochs, seed {s['seed']}",
        flush=True,
    )


# ----------------------------------------------------------------------------- fit, save
def _fit(
    run: TrainRun,
    model: nn.MLP,
    optimizer: optim.Optimizer,
    train: Dataset,
    test: Dataset,
    overwrite: bool = False,
) -> tuple[History, str]:
    """Train; return the history and why training stopped early ("" if it did not)."""
    ended: list[TrainingState] = []
    s = run.settings
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # StopOnNonFinite says it in words
            history = fit(
                model,
                train,
                test,
                nn.cross_entropy,
                optimizer,
                epochs=s["epochs"],
                batch_size=s["batch_size"],
                seed=s["seed"],
                callbacks=_callbacks(run, ended.append, overwrite),
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
    return history, ended[-1].stop_reason


def _callbacks(
    run: TrainRun, on_end: Callable[[TrainingState], Any], overwrite: bool = False
) -> list[Callback]:
    """Progress bar (on a terminal), a line per epoch, extra evaluations, the stop on a
    non-finite loss, ``on_end`` told the final state, TensorBoard event files in
    ``<--tensorboard DIR>/<run folder name>``, and the run folder (last; its lock is held by
    :func:`run_train`)."""
    eval_every = run.settings["eval_every"]
    board = run.settings.get("tensorboard")
    try:
        boards = [TensorBoard(Path(board) / run.folder.resolve().name)] if board else []
    except TensorBoardNotInstalled as e:  # a resumed run that had --tensorboard
        raise CLIError(one_line(e)) from None
    return [
        *([ProgressBar()] if sys.stderr.isatty() else []),
        EpochLog(lambda line: print(line, flush=True)),
        *([EvalEvery(eval_every)] if eval_every else []),
        StopOnNonFinite(),
        LambdaCallback(on_train_end=on_end),
        *boards,
        RunFolder(
            run.folder,
            resume=run.checkpoint is not None,
            info={"command": "train", "settings": run.settings, "data": run.data_crc},
            overwrite=overwrite,
            lock=False,
        ),
    ]


def _save(
    run: TrainRun, model: nn.MLP, history: History, train: Dataset, diverged: bool = False
) -> None:
    """Print the final accuracy; save ``model.npz`` (not for a run that ``diverged``: its
    weights are not finite) and ``history.json`` in the run folder."""
    s = run.settings
    history.config.update(
        dataset=s["dataset"],
        arch=s["arch"],
        activation=s["activation"],
        optimizer_name=s["optimizer"],
        lr=s["lr"],
        init=s["init"],
        data_dir=s.get("data_dir"),
        train_size=s.get("train_size"),
        test_size=s.get("test_size"),
    )
    if diverged:
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
    model_path = save(model, run.folder / "model.npz", metadata=metadata)
    history.save(run.folder / "history.json")
    print(f"saved {model_path} and {run.folder / 'history.json'}")


def _kept(run: TrainRun, history: History) -> str:
    """What a diverged run leaves to resume from: the checkpoint of its last good epoch."""
    good = history.epochs - 1  # the last epoch ended early, at the non-finite loss
    if good < 1 or not (run.folder / CHECKPOINT_FILE).exists():
        return "no epoch finished before, so there is no checkpoint to resume from"
    return f"the checkpoint of epoch {good} is kept in {run.folder / CHECKPOINT_FILE}"
