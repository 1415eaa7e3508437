"""The ``tinygrad-edu`` command line (also ``python -m tinygrad_edu``).

Subcommands are registered from :data:`COMMANDS`: each entry is a small function that adds one
subparser and sets its handler, ``parser.set_defaults(func=handler)`` with
``handler(args) -> exit code``. To add a command from another module, write
``add_<name>_command(subparsers)`` there and append it to ``COMMANDS`` below.

Errors a user can cause (bad arguments, missing data or model files) print one line
``tinygrad-edu <command>: error: ...`` on stderr and exit with status 2, like argparse; handlers
signal them by raising :class:`CLIError` (or a data/model error, caught in :func:`main`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .options import learning_rate, nonnegative_int, positive_int
from .predict import add_predict_command
from .sweep import add_sweep_command
from .viz_commands import add_graph_command, add_trace_command

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]

PROG = "tinygrad-edu"
DATASETS = ("mnist", "fashion-mnist", "mnist-sample", "png")
OPTIMIZERS = ("sgd", "momentum", "adam")
#: Default learning rate per optimiser (for the seeds' 784-64-10 sigmoid network, batch 256).
DEFAULT_LR = {"sgd": 2.0, "momentum": 0.5, "adam": 0.003}
DEFAULT_ARCH = "784,64,10"
DEFAULT_EPOCHS = 20
MOMENTUM = 0.9


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line (``prog: error: message``), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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


def _add_data_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=default,
        help=f"the dataset (default: {default or 'the one the model was trained on, else mnist'})"
        "; mnist uses --data-dir, else the cache, else a download, else the offline mnist-sample",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four IDX files (mnist, fashion-mnist) or train/ and test/ (png)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="never download (mnist falls back to mnist-sample)"
    )


def _load_data(args: argparse.Namespace, dataset: str) -> tuple[Any, Any]:
    from ..data import load_dataset

    if args.data_dir is not None and not args.data_dir.is_dir():
        raise CLIError(f"--data-dir {args.data_dir} does not exist or is not a folder")
    return load_dataset(dataset, data_dir=args.data_dir, download=not args.offline)


# ------------------------------------------------------------------------ train
#: Settings of a training run that ``--resume`` keeps (``--epochs`` may be raised), with the
#: option that sets each one.
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


def add_train_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an MLP and save the model and its history",
        description="Train an MLP with softmax cross-entropy; print one line per epoch and the "
        "final test accuracy. --out DIR gets metrics.jsonl (written as training goes), "
        "checkpoint.npz (after every epoch), and model.npz and history.json at the end; "
        "--resume DIR continues a killed run from its checkpoint.",
    )
    _add_data_arguments(p, "mnist")
    p.set_defaults(dataset=None)  # None: not given (so --resume can tell)
    p.add_argument("--arch", default=None, help=f"layer widths (default {DEFAULT_ARCH})")
    p.add_argument(
        "--activation",
        choices=("sigmoid", "relu", "tanh"),
        default=None,
        help="hidden-layer activation (default sigmoid)",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help=f"sgd, momentum (SGD with momentum {MOMENTUM}) or adam (default momentum)",
    )
    p.add_argument(
        "--lr",
        type=learning_rate,
        default=None,
        help="learning rate (default per optimiser: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items())
        + ")",
    )
    p.add_argument("--batch-size", type=positive_int, default=None, help="default 256")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help=f"default {DEFAULT_EPOCHS} (with --resume: the run's, and it may be raised)",
    )
    p.add_argument(
        "--init",
        choices=("normal", "xavier", "he"),
        default=None,
        help="weight init (default normal: N(0, 0.1^2), the seeds' choice)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=None, help="default 0")
    p.add_argument(
        "--eval-every",
        type=nonnegative_int,
        default=None,
        help="also evaluate on the test set every k updates (default: at epoch ends only)",
    )
    p.add_argument(
        "--train-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="train on the first N training images only (default: all)",
    )
    p.add_argument(
        "--test-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="test on the first N test images only (default: all)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the run folder: metrics.jsonl, checkpoint.npz, model.npz, history.json "
        "(default runs/<date-time>)",
    )
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint, with its settings "
        "(--epochs may be raised; --data-dir may point to the data's new place)",
    )
    p.add_argument(
        "--plots",
        type=Path,
        default=None,
        metavar="DIR",
        help="at the end, save PNG figures to DIR: curves, confusion matrix, misclassified "
        "digits, first-layer weights, sample digits",
    )
    p.set_defaults(func=run_train)


def _fresh_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings from the arguments, defaults filled in."""
    optimizer = args.optimizer or "momentum"
    return {
        "dataset": args.dataset or "mnist",
        "arch": parse_arch(args.arch or DEFAULT_ARCH),
        "activation": args.activation or "sigmoid",
        "optimizer": optimizer,
        "lr": args.lr if args.lr is not None else DEFAULT_LR[optimizer],
        "batch_size": args.batch_size or 256,
        "epochs": args.epochs or DEFAULT_EPOCHS,
        "init": args.init or "normal",
        "seed": args.seed if args.seed is not None else 0,
        "eval_every": args.eval_every or 0,
        "train_size": args.train_size,
        "test_size": args.test_size,
        "data_dir": str(args.data_dir.resolve()) if args.data_dir is not None else None,
    }


def _resume_settings(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The settings stored in ``--resume``'s checkpoint, checked against the arguments given;
    also the checkpoint."""
    from ..training import CHECKPOINT_FILE, CheckpointError, load_checkpoint

    run_dir: Path = args.resume
    if not run_dir.exists():
        raise CLIError(f"--resume {run_dir}: no such folder")
    if not run_dir.is_dir():
        raise CLIError(f"--resume {run_dir} is not a folder (give the run folder)")
    if args.out is not None and args.out.resolve() != run_dir.resolve():
        raise CLIError(
            f"--out {args.out} conflicts with --resume {run_dir}: a resumed run continues in "
            "its own folder"
        )
    if not (run_dir / CHECKPOINT_FILE).exists():
        raise CLIError(
            f"--resume {run_dir}: no {CHECKPOINT_FILE} in it (a run writes one after each "
            "epoch; did this one finish an epoch?)"
        )
    try:
        ckpt = load_checkpoint(run_dir)
    except CheckpointError as e:
        raise CLIError(f"--resume {run_dir}: corrupt checkpoint: {_one_line(e)}") from None
    stored = ckpt.info.get("settings")
    if ckpt.info.get("command") != "train" or not isinstance(stored, dict):
        raise CLIError(
            f"--resume {run_dir}: its checkpoint was not written by `{PROG} train` "
            "(resume it with fit(..., run_dir=..., resume=True))"
        )
    settings = dict(stored)
    given = {
        "dataset": args.dataset,
        "arch": parse_arch(args.arch) if args.arch is not None else None,
        "activation": args.activation,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "init": args.init,
        "seed": args.seed,
        "eval_every": args.eval_every,
        "train_size": args.train_size,
        "test_size": args.test_size,
    }
    for key, value in given.items():
        if value is not None and value != settings.get(key):
            raise CLIError(
                f"{RUN_SETTINGS[key]} {_show(key, value)} conflicts with the run's "
                f"{_show(key, settings.get(key))} (a resumed run keeps its settings; only "
                "--epochs may change)"
            )
    if args.epochs is not None:
        if args.epochs < ckpt.epoch:
            raise CLIError(
                f"--epochs {args.epochs}: the run in {run_dir} has already trained "
                f"{ckpt.epoch} epochs"
            )
        settings["epochs"] = args.epochs
    if args.data_dir is not None:  # the data may have moved
        settings["data_dir"] = str(args.data_dir.resolve())
    return settings, ckpt


def _show(key: str, value: Any) -> str:
    """A run setting as the user would type it."""
    if value is None:
        return "all images" if key.endswith("_size") else "none"
    return (
        "-".join(map(str, value)) if key == "arch" else f"{value:g}" if key == "lr" else str(value)
    )


def _data_fingerprint(dataset: Any) -> str:
    """CRC-32 of the images and labels, to tell that a resumed run sees the same data."""
    crc = zlib.crc32(np.ascontiguousarray(dataset.images).tobytes())
    return f"{zlib.crc32(np.ascontiguousarray(dataset.labels).tobytes(), crc):08x}"


def _load_run_data(args: argparse.Namespace, settings: dict[str, Any]) -> tuple[Any, Any, str]:
    """(train, test, name of the dataset used) for a run's settings, subsets taken."""
    where = argparse.Namespace(
        data_dir=Path(settings["data_dir"]) if settings.get("data_dir") else None,
        offline=args.offline,
    )
    train, test = _load_data(where, settings["dataset"])
    for key, name, data in (("train_size", "training", train), ("test_size", "test", test)):
        n = settings.get(key)
        if n is not None and n > len(data):
            raise CLIError(
                f"{RUN_SETTINGS[key]} {n}: {data.name} has only {len(data)} {name} images"
            )
    if settings.get("train_size"):
        train = train.subset(settings["train_size"])
    if settings.get("test_size"):
        test = test.subset(settings["test_size"])
    used = train.name.split("/")[0]  # mnist may have fallen back to mnist-sample
    if used not in DATASETS:
        used = settings["dataset"]
    return train, test, used


def run_train(args: argparse.Namespace) -> int:
    from .. import nn, optim
    from ..training import (
        CHECKPOINT_FILE,
        CheckpointError,
        EpochLog,
        EvalEvery,
        ProgressBar,
        RunFolder,
        fit,
        save,
    )

    ckpt = None
    if args.resume is not None:
        settings, ckpt = _resume_settings(args)
        out_dir: Path = args.resume
    else:
        settings = _fresh_settings(args)
        out_dir = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
        if out_dir.exists() and not out_dir.is_dir():
            raise CLIError(f"--out {out_dir} exists and is not a folder")
    if args.plots is not None and args.plots.exists() and not args.plots.is_dir():
        raise CLIError(f"--plots {args.plots} exists and is not a folder")
    sizes = settings["arch"]
    train, test, used = _load_run_data(args, settings)
    settings["dataset"] = used
    fingerprints = {"train": _data_fingerprint(train), "test": _data_fingerprint(test)}
    if ckpt is not None:
        for part in ("train", "test"):
            if ckpt.info.get("data", {}).get(part) not in (None, fingerprints[part]):
                source = settings.get("data_dir") or used
                raise CLIError(
                    f"--resume {out_dir}: the {part} images from {source} differ from the "
                    "ones the run was trained with"
                )
    try:  # fail before training, not after it
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {out_dir}: cannot create the folder ({e.strerror})") from None
    _check_fits(sizes[0], sizes[-1], train)

    model = nn.MLP(sizes, settings["activation"], init=settings["init"], seed=settings["seed"])
    params = model.parameters()
    lr = settings["lr"]
    if settings["optimizer"] == "adam":
        optimizer: optim.Optimizer = optim.Adam(params, lr=lr)
    else:
        momentum = MOMENTUM if settings["optimizer"] == "momentum" else 0.0
        optimizer = optim.SGD(params, lr=lr, momentum=momentum)
    if ckpt is not None:
        print(
            f"resuming {out_dir} after epoch {ckpt.epoch} (iteration {ckpt.iteration}), "
            f"up to epoch {settings['epochs']}"
            + (
                " (nothing left to train; raise --epochs)"
                if ckpt.epoch >= settings["epochs"]
                else ""
            ),
            flush=True,
        )
    print(
        f"training {'-'.join(map(str, sizes))} {settings['activation']} on {train.name} "
        f"({len(train)} train, {len(test)} test), {settings['optimizer']} lr {lr:g}, "
        f"batch {settings['batch_size']}, {settings['epochs']} epochs, seed {settings['seed']}",
        flush=True,
    )
    try:
        history = fit(
            model,
            train,
            test,
            nn.cross_entropy,
            optimizer,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            seed=settings["seed"],
            callbacks=[
                *([ProgressBar()] if sys.stderr.isatty() else []),
                EpochLog(lambda line: print(line, flush=True)),
                *([EvalEvery(settings["eval_every"])] if settings["eval_every"] else []),
                RunFolder(
                    out_dir,
                    resume=ckpt is not None,
                    info={"command": "train", "settings": settings, "data": fingerprints},
                ),
            ],
        )
    except CheckpointError as e:
        raise CLIError(f"--resume {out_dir}: {_one_line(e)}") from None
    except KeyboardInterrupt:
        if (out_dir / CHECKPOINT_FILE).exists():
            print(
                f"{PROG} train: continue from the last checkpoint with "
                f"`{PROG} train --resume {out_dir}`",
                file=sys.stderr,
            )
        raise
    history.config.update(
        dataset=used,
        arch=sizes,
        activation=settings["activation"],
        optimizer_name=settings["optimizer"],
        lr=lr,
        init=settings["init"],
        data_dir=settings.get("data_dir"),
        train_size=settings.get("train_size"),
        test_size=settings.get("test_size"),
    )
    print(
        f"final test accuracy: {100 * history.final_test_acc:.2f}% "
        f"({sum(history.epoch_times):.1f} s training)"
    )
    model_path = save(
        model,
        out_dir / "model.npz",
        metadata={
            "dataset": used,
            "classes": list(train.classes),
            "test_accuracy": history.final_test_acc,
            "config": history.config,
        },
    )
    history.save(out_dir / "history.json")
    print(f"saved {model_path} and {out_dir / 'history.json'}")
    if args.plots is not None:
        for path in _write_figures(args.plots, history, settings, model, train, test):
            print(f"saved {path}")
    return 0


def _check_fits(n_in: int, n_out: int, dataset: Any) -> None:
    h, w = dataset.images.shape[1:]
    if n_in != h * w:
        raise CLIError(f"the model takes {n_in} inputs but {dataset.name} images are {h}x{w}")
    if n_out != len(dataset.classes):
        raise CLIError(
            f"the model has {n_out} outputs but {dataset.name} has {len(dataset.classes)} classes"
        )


# ------------------------------------------------------------------------ eval
def add_eval_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate a saved model: accuracy and confusion matrix",
        description="Evaluate a model saved by `train` on a test set; print the loss, the "
        "accuracy and the confusion matrix (rows: true class, columns: predicted).",
    )
    p.add_argument("model", type=Path, help="a model.npz written by `tinygrad-edu train`")
    _add_data_arguments(p, None)
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from ..training import confusion_matrix, evaluate, load, predict, read_metadata

    meta = read_metadata(args.model)
    model = load(args.model)
    dataset = args.dataset or meta.get("dataset") or "mnist"
    if dataset not in DATASETS:
        dataset = "mnist"
    _, test = _load_data(args, dataset)
    sizes = meta.get("sizes")
    if sizes:
        _check_fits(sizes[0], sizes[-1], test)
    loss, acc = evaluate(model, test)
    _, predicted = predict(model, test.images)
    cm = confusion_matrix(test.labels, predicted, num_classes=len(test.classes))
    print(
        f"{args.model} on {test.name} ({len(test)} images): loss {loss:.4f}, "
        f"accuracy {100 * acc:.2f}%"
    )
    print(format_confusion_matrix(cm, test.classes))
    return 0


def format_confusion_matrix(cm: np.ndarray, classes: Sequence[str] | None = None) -> str:
    """A text table: one row per true class, one column per predicted class, and recall."""
    c = cm.shape[0]
    names = [str(i) for i in range(c)]
    width = max(len(str(int(cm.max()))) if cm.size else 1, 3)
    lines = ["true \\ predicted " + " ".join(f"{n:>{width}}" for n in names) + "  recall"]
    for i in range(c):
        total = cm[i].sum()
        recall = f"{100 * cm[i, i] / total:6.2f}%" if total else "     -"
        label = f"{i} {classes[i]}" if classes is not None and classes[i] != str(i) else f"{i}"
        lines.append(
            f"{label[:16]:>16} " + " ".join(f"{v:>{width}}" for v in cm[i]) + f"  {recall}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------ plot
FIGURES = {
    "curves": "curves.png",
    "confusion_matrix": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "weights": "weights.png",
    "samples": "samples.png",
}


def _run_title(history: Any, settings: dict[str, Any] | None) -> str:
    """E.g. ``784-64-10 sigmoid, momentum lr 0.5, mnist: 20/20 epochs``."""
    s = settings or {}
    parts = []
    if s.get("arch"):
        parts.append(f"{'-'.join(map(str, s['arch']))} {s.get('activation') or ''}".strip())
    if s.get("optimizer") and s.get("lr"):
        parts.append(f"{s['optimizer']} lr {s['lr']:g}")
    if s.get("dataset"):
        parts.append(str(s["dataset"]))
    total = s.get("epochs") or history.config.get("epochs")
    done = f"{history.epochs}/{total} epochs" if total else f"{history.epochs} epochs"
    return f"{', '.join(parts)}: {done}" if parts else f"Training history: {done}"


def _write_figures(
    out_dir: Path,
    history: Any,
    settings: dict[str, Any] | None = None,
    model: Any = None,
    train: Any = None,
    test: Any = None,
) -> list[Path]:
    """Save the figures to ``out_dir`` (curves always; weights with a model; confusion matrix
    and misclassified digits with a model and test data; samples with training data)."""
    from ..course import plots
    from ..training import confusion_matrix, predict

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create the figure folder {out_dir} ({e.strerror})") from None
    paths = []
    try:
        paths.append(
            plots.plot_history(history, out_dir / FIGURES["curves"], _run_title(history, settings))
        )
        if model is not None and test is not None:
            classes = list(test.classes)
            _, predicted = predict(model, test.images)
            cm = confusion_matrix(test.labels, predicted, num_classes=len(classes))
            paths.append(
                plots.plot_confusion_matrix(
                    cm, out_dir / FIGURES["confusion_matrix"], class_names=classes
                )
            )
            paths.append(
                plots.plot_misclassified(
                    test.images,
                    test.labels,
                    predicted,
                    out_dir / FIGURES["misclassified"],
                    class_names=classes,
                )
            )
        if model is not None:
            weight = next((m.weight for m in model.modules() if hasattr(m, "in_features")), None)
            if weight is not None and weight.shape[1] == 784:
                names = None
                if test is not None and weight.shape[0] == len(test.classes):
                    names = list(test.classes)
                paths.append(
                    plots.plot_weight_templates(weight, out_dir / FIGURES["weights"], names)
                )
        if train is not None:
            paths.append(
                plots.plot_samples(
                    train.images,
                    train.labels,
                    out_dir / FIGURES["samples"],
                    class_names=list(train.classes),
                    title=f"Training samples: {train.name}",
                )
            )
    except ValueError as e:  # e.g. a diverged run whose losses are not finite
        raise CLIError(f"cannot draw the figures: {_one_line(e)}") from None
    return paths


def add_plot_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw a run's curves (also while it trains) and, once saved, its model's figures",
        description="Read RUN_DIR/metrics.jsonl (of a finished, running or killed run) and save "
        f"the loss and accuracy curves as {FIGURES['curves']}; if RUN_DIR holds model.npz, also "
        "the confusion matrix, misclassified test digits, first-layer weights and sample "
        "digits (this loads the run's data).",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a folder written by `train`")
    p.add_argument(
        "--out", type=Path, default=None, help="folder for the PNG files (default RUN_DIR/plots)"
    )
    p.add_argument(
        "--curves-only", action="store_true", help="only the curves (no model, no data needed)"
    )
    _add_data_arguments(p, None)
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from ..data import DatasetError, DownloadError
    from ..training import METRICS_FILE, History, MetricsLogError, load, read_metadata, read_metrics

    run_dir: Path = args.run_dir
    if not run_dir.exists():
        raise CLIError(f"{run_dir}: no such run folder")
    log_path = run_dir / METRICS_FILE if run_dir.is_dir() else run_dir
    if not log_path.exists():
        raise CLIError(
            f"{run_dir} has no {METRICS_FILE} (a folder written by `{PROG} train --out`?)"
        )
    try:
        records = read_metrics(log_path)
        history = History.from_metrics(records)
    except MetricsLogError as e:
        raise CLIError(_one_line(e)) from None
    if not history.test_iterations and not history.iterations:
        raise CLIError(f"{log_path} has no evaluations or epochs yet: nothing to plot")
    settings: dict[str, Any] = {}
    for r in records:  # the train command's settings, as last (re)started
        info = r.get("info") if r.get("event") in ("config", "resume") else None
        if isinstance(info, dict) and isinstance(info.get("settings"), dict):
            settings = dict(info["settings"])
    model = train = test = None
    model_path = log_path.parent / "model.npz"
    if model_path.exists() and not args.curves_only:
        meta = read_metadata(model_path)
        model = load(model_path)
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        where = {
            "dataset": args.dataset or settings.get("dataset") or meta.get("dataset") or "mnist",
            "data_dir": str(args.data_dir.resolve())
            if args.data_dir
            else settings.get("data_dir", config.get("data_dir")),
            "train_size": settings.get("train_size", config.get("train_size")),
            "test_size": settings.get("test_size", config.get("test_size")),
        }
        if where["dataset"] not in DATASETS:
            where["dataset"] = "mnist"
        try:
            train, test, _ = _load_run_data(args, where)
        except (CLIError, DatasetError, DownloadError) as e:
            raise CLIError(
                f"{_one_line(e)} (to draw only the curves, pass --curves-only)"
            ) from None
        sizes = meta.get("sizes")
        if sizes:
            _check_fits(sizes[0], sizes[-1], test)
    out_dir = args.out or log_path.parent / "plots"
    for path in _write_figures(out_dir, history, settings, model, train, test):
        print(f"saved {path}")
    return 0


# ------------------------------------------------------------------------ main
#: Functions that each add one subcommand: ``fn(subparsers) -> None``.
COMMANDS: list[Callable[[Any], None]] = [
    add_train_command,
    add_eval_command,
    add_predict_command,
    add_graph_command,
    add_trace_command,
    add_sweep_command,
    add_plot_command,
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG, description="tinygrad_edu: train and inspect small networks on MNIST."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 for a user error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, message already printed)
        return e.code if isinstance(e.code, int) else 2
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    from ..data import DatasetError, DownloadError
    from ..training import ModelFileError

    prog = f"{PROG} {args.command}"
    try:
        return int(handler(args) or 0)
    except BrokenPipeError:  # e.g. `tinygrad-edu eval m.npz | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (CLIError, DatasetError, DownloadError, ModelFileError, OSError) as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    """The error's message on one line (an OSError without one: its reason and file name)."""
    text = str(e)
    if isinstance(e, OSError) and e.filename is not None and (not e.args or e.errno):
        text = f"{e.strerror or type(e).__name__}: {e.filename}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
