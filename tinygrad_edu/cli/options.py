"""Pieces of argparse the commands share: the program's name, argument types (each turns a string
into a value or says why not), the ``--dataset``/``--data-dir``/``--offline`` arguments, and the
examples' arguments and list of ``graph`` and ``trace``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from ..data import DATASETS
from ..engine.errors import in_interval, integer_text, number_text
from ..training import CHECKPOINT_FILE, MODEL_FILE, TensorBoard, TensorBoardNotInstalled
from ..training.files import why_not_writable
from ..viz.examples import EXAMPLES, MAX_BATCH
from .errors import one_line

__all__ = [
    "MODEL_HELP",
    "PROG",
    "RANKDIRS",
    "add_data_arguments",
    "add_example_arguments",
    "examples_epilog",
    "int_between",
    "model_file",
    "nonnegative_int",
    "number_between",
    "output_file",
    "positive_int",
    "tensorboard_folder",
]

PROG = "tinygrad-edu"
#: The ``--rankdir`` choices: auto picks LR or TB to fit a projector (see viz.choose_rankdir).
RANKDIRS = ("auto", "LR", "TB")
#: The help of a command's model argument (see :func:`model_file`).
MODEL_HELP = f"a model.npz saved by `{PROG} train`, or the run folder it is in (train --out)"


def int_between(lowest: int, highest: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer ``lowest .. highest`` (None: no upper bound)."""
    expected = integer_text(lowest, highest)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < lowest or (highest is not None and value > highest):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


#: An integer > 0, and an integer >= 0.
positive_int, nonnegative_int = int_between(1), int_between(0)


def model_file(text: str) -> Path:
    """A model file; a run folder (``train --out DIR``) stands for the model file in it."""
    path = Path(text)
    if not path.is_dir():
        return path  # a missing or broken file is reported by whoever loads it
    if (path / MODEL_FILE).is_file():
        return path / MODEL_FILE
    if (path / CHECKPOINT_FILE).is_file():
        raise argparse.ArgumentTypeError(
            f"{text} has no {MODEL_FILE} yet: its run is still training or was stopped "
            f"(continue it with `{PROG} train --resume {text}`)"
        )
    raise argparse.ArgumentTypeError(
        f"{text} is a folder without {MODEL_FILE}: expected a model file saved by "
        f"`{PROG} train`, or the folder it saved it in (--out)"
    )


def number_between(
    low: float, high: float, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: a number in the interval from ``low`` to ``high`` (``*_open``: the end
    itself excluded; ``high`` may be ``inf``)."""
    expected = number_text(low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not in_interval(value, low, high, low_open, high_open):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


def tensorboard_folder(text: str) -> Path:
    """``--tensorboard DIR``: the folder, once the TensorBoard extra is known to be installed and
    DIR is (or can be made) a folder to write in: checked here, before anything is created."""
    try:
        TensorBoard.check_installed()
    except TensorBoardNotInstalled as e:
        raise argparse.ArgumentTypeError(one_line(e)) from None
    why = why_not_writable(text)
    if why is not None:
        raise argparse.ArgumentTypeError(f"{text}: {why}")
    return Path(text)


def output_file(text: str) -> Path:
    """A file the command will write (a report, a JSON outcome): not a folder, and in a folder
    that is (or can be made) writable, checked before any work is done."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: expected a file name")
    why = why_not_writable(path.parent)
    if why is not None:
        raise argparse.ArgumentTypeError(f"{text}: {why}")
    return path


def add_data_arguments(
    parser: argparse.ArgumentParser,
    default: str | None = None,
    default_text: str = "the one the model was trained on, else mnist",
) -> None:
    """Add ``--dataset`` (one of :data:`tinygrad_edu.data.DATASETS`), ``--data-dir`` and
    ``--offline``; ``default_text`` says in the help what a missing ``--dataset`` means."""
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=default,
        help=f"the dataset (default: {default or default_text}); mnist uses --data-dir, else "
        "the cache, else a download; mnist-sample is real MNIST bundled in the package",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the four IDX files (mnist, fashion-mnist) or train/ and test/ (png)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never download (with no --dataset, train and sweep use mnist-sample instead)",
    )


def add_example_arguments(parser: argparse.ArgumentParser, default: str, rankdir: str) -> None:
    """What ``graph`` and ``trace`` share: ``--example`` (default ``default``), ``--seed``,
    ``--batch`` (the mlp example's) and ``--rankdir`` (``rankdir``: what it lays out)."""
    parser.add_argument(
        "--example", choices=list(EXAMPLES), default=default, help=f"default: {default}"
    )
    parser.add_argument(
        "--seed", type=nonnegative_int, default=0, help="random seed of the MLPs' weights and data"
    )
    parser.add_argument(
        "--batch",
        type=int_between(1, MAX_BATCH),
        default=256,
        help=f"minibatch size of the mlp example (1..{MAX_BATCH}; default 256)",
    )
    parser.add_argument(
        "--rankdir",
        choices=RANKDIRS,
        default="auto",
        help=f"layout direction of {rankdir}: LR (left to right), TB (top to bottom, each op "
        "beside its result), or auto (default): the one that fits a 1280x720 projector, "
        "between 1:2 and 2:1",
    )


def examples_epilog(*usage: str) -> str:
    """The help's closing list of ``--example`` choices (:data:`viz.examples.EXAMPLES`), then
    the command lines ``usage``."""
    lines = ["examples:", *(f"  {name:<11} {what}" for name, (what, _) in EXAMPLES.items())]
    if usage:
        lines += ["", *(f"  {line}" for line in usage)]
    return "\n".join(lines)
