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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .predict_cmd import add_predict_command
from .sweep_cmd import add_sweep_command
from .viz.commands import add_graph_command, add_trace_command

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


# ------------------------------------------------------------------------ argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the learning rate must be a number > 0, got {text}")
    return value


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
    from .data import load_dataset

    if args.data_dir is not None and not args.data_dir.is_dir():
        raise CLIError(f"--data-dir {args.data_dir} does not exist or is not a folder")
    return load_dataset(dataset, data_dir=args.data_dir, download=not args.offline)


# ------------------------------------------------------------------------ train
def add_train_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train an MLP and save the model and its history",
        description="Train an MLP with softmax cross-entropy; print one line per epoch and the "
        "final test accuracy; save model.npz and history.json to --out.",
    )
    _add_data_arguments(p, "mnist")
    p.add_argument("--arch", default=DEFAULT_ARCH, help=f"layer widths (default {DEFAULT_ARCH})")
    p.add_argument(
        "--activation",
        choices=("sigmoid", "relu", "tanh"),
        default="sigmoid",
        help="hidden-layer activation (default sigmoid)",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="momentum",
        help=f"sgd, momentum (SGD with momentum {MOMENTUM}) or adam (default momentum)",
    )
    p.add_argument(
        "--lr",
        type=_learning_rate,
        default=None,
        help="learning rate (default per optimiser: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items())
        + ")",
    )
    p.add_argument("--batch-size", type=_positive_int, default=256, help="default 256")
    p.add_argument(
        "--epochs", type=_positive_int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}"
    )
    p.add_argument(
        "--init",
        choices=("normal", "xavier", "he"),
        default="normal",
        help="weight init (default normal: N(0, 0.1^2), the seeds' choice)",
    )
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="default 0")
    p.add_argument(
        "--eval-every",
        type=_nonnegative_int,
        default=0,
        help="also evaluate on the test set every k updates (default: at epoch ends only)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder for model.npz and history.json (default runs/<date-time>)",
    )
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from . import nn, optim
    from .train import fit, save

    sizes = parse_arch(args.arch)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    out_dir = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if out_dir.exists() and not out_dir.is_dir():
        raise CLIError(f"--out {out_dir} exists and is not a folder")
    train, test = _load_data(args, args.dataset)
    try:  # fail before training, not after it
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CLIError(f"--out {out_dir}: cannot create the folder ({e.strerror})") from None
    _check_fits(sizes[0], sizes[-1], train)
    used = train.name.split("/")[0]  # mnist may have fallen back to mnist-sample
    if used not in DATASETS:
        used = args.dataset

    model = nn.MLP(sizes, args.activation, init=args.init, seed=args.seed)
    params = model.parameters()
    if args.optimizer == "adam":
        optimizer: optim.Optimizer = optim.Adam(params, lr=lr)
    else:
        optimizer = optim.SGD(
            params, lr=lr, momentum=MOMENTUM if args.optimizer == "momentum" else 0.0
        )
    print(
        f"training {'-'.join(map(str, sizes))} {args.activation} on {train.name} "
        f"({len(train)} train, {len(test)} test), {args.optimizer} lr {lr:g}, "
        f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}",
        flush=True,
    )
    history = fit(
        model,
        train,
        test,
        nn.cross_entropy,
        optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        eval_every=args.eval_every or None,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        log=lambda line: print(line, flush=True),
    )
    history.config.update(
        dataset=used,
        arch=sizes,
        activation=args.activation,
        optimizer_name=args.optimizer,
        lr=lr,
        init=args.init,
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
    from .train import confusion_matrix, evaluate, load, predict, read_metadata

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


# ------------------------------------------------------------------------ main
#: Functions that each add one subcommand: ``fn(subparsers) -> None``.
COMMANDS: list[Callable[[Any], None]] = [
    add_train_command,
    add_eval_command,
    add_predict_command,
    add_graph_command,
    add_trace_command,
    add_sweep_command,
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
    from .data import DatasetError, DownloadError
    from .train import ModelFileError

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
