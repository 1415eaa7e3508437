"""``tinygrad-edu predict MODEL IMAGE...``: classify photos or scans of handwritten digits.

Each image goes through :func:`tinygrad_edu.course.preprocess.preprocess_digit` (MNIST's own
preprocessing), then the model; the top classes are printed with their probabilities::

    $ tinygrad-edu predict model.npz my_seven.jpg --save-input inputs/
    my_seven.jpg: 7
       7  96.81%
       1   1.92%
       2   0.54%
      (network input saved to inputs/my_seven_28x28.png)

Problems are one line on stderr (``tinygrad-edu predict: error: ...``, as in the rest of the
command line) and the exit status is 2: a model that cannot be loaded stops the command; an image
that cannot be read or holds no digit is skipped, the other images are still classified, and
the skipped ones are reported at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, training
from ..course.preprocess import CANVAS_SIZE, ImageError, preprocess_digit
from ..viz.text import percent_text
from .errors import CLIError, one_line
from .options import MODEL_HELP, model_file, positive_int
from .rundata import load_model

__all__ = ["add_predict_command", "input_path", "run_predict", "top_k"]


def add_predict_command(subparsers: Any) -> None:
    """Add ``predict``."""
    parser = subparsers.add_parser(
        "predict",
        help="classify photos or scans of handwritten digits",
        description=(
            "Classify photos or scans of single handwritten digits (PNG, JPEG, ...). Each image "
            "is converted like MNIST: greyscale, inverted if the paper is light, cropped to the "
            "digit, thin pen strokes thickened, scaled so its longer side is 20 px and "
            "centred by its centre of mass in 28x28. Prints the most probable classes."
        ),
    )
    parser.add_argument("model", type=model_file, metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument(
        "--top",
        type=positive_int,
        default=3,
        metavar="K",
        help="how many classes to print per image (default: 3)",
    )
    parser.add_argument(
        "--save-input",
        type=Path,
        default=None,
        metavar="DIR",
        help="save the 28x28 image fed to the network as DIR/<name>_28x28.png",
    )
    parser.add_argument(
        "--no-thicken",
        dest="thicken",
        action="store_false",
        help="do not thicken pen strokes thinner than MNIST's (about 1/8 of the digit's height)",
    )
    parser.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Handler of ``predict``: load the model, then preprocess and classify every image; the
    images that cannot be classified are reported together at the end (one line each)."""
    model = _load_model(args.model)
    problems: list[str] = []
    names: list[str] | None = None
    taken: set[Path] = set()
    for image in args.images:
        try:
            x = preprocess_digit(image, thicken=args.thicken)
        except ImageError as err:
            problems.append(one_line(err))
            continue
        probs, labels = training.predict(model, x.reshape(1, CANVAS_SIZE, CANVAS_SIZE))
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.size == 1:  # one sigmoid output (one-vs-rest): P(not K), P(K)
            p = np.array([1 - p[0], p[0]])
        names = names or _class_names(args.model, p.size)
        _print_top(image, names, int(labels[0]), p, args.top)
        if args.save_input is not None:
            path = input_path(args.save_input, image, taken)
            try:
                _save_input(x, path)
            except OSError as err:
                problems.append(f"cannot save the network input to {path}: {one_line(err)}")
                continue
            print(f"  (network input saved to {path})")
    sys.stdout.flush()
    if problems:
        raise CLIError(*problems)
    return 0


def _load_model(path: Path) -> nn.Module:
    """The model in ``path``; it must take 28x28 images and have finite weights."""
    try:
        model, _ = load_model(path)
    except (OSError, ValueError, TypeError, KeyError) as err:  # FileNotFoundError, ModelFileError
        raise CLIError(f"cannot load model {path}: {one_line(err)}") from None
    try:
        training.predict(model, np.zeros((1, CANVAS_SIZE, CANVAS_SIZE), np.float32))
    except ValueError as err:  # ShapeError, InputError: e.g. an MLP over 100 inputs
        raise CLIError(f"model {path} does not take a 28x28 image ({one_line(err)})") from None
    return model


def _print_top(image: Path, names: list[str], best: int, probs: np.ndarray, k: int) -> None:
    """``image: <best class>``, then the ``k`` most probable classes with their probabilities."""
    print(f"{image}: {names[best]}")
    width = max(max(len(n) for n in names), 2)
    for c, prob in top_k(probs, min(k, probs.size)):
        print(f"  {names[c]:>{width}} {percent_text(prob):>7}%")


def top_k(probs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` most probable classes as ``(class, probability)``, most probable first (ties:
    the lower class first)."""
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return [(int(c), float(probs[c])) for c in order]


def input_path(directory: Path, image: Path, taken: set[Path]) -> Path:
    """``directory/<stem>_28x28.png``, with ``-2``, ``-3``, ... added if already ``taken``."""
    path = directory / f"{image.stem}_28x28.png"
    n = 2
    while path in taken:
        path = directory / f"{image.stem}_28x28-{n}.png"
        n += 1
    taken.add(path)
    return path


def _save_input(x: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(x * 255).astype(np.uint8), mode="L").save(path)


def _class_names(model_path: Path, n: int) -> list[str]:
    """Class names saved with the model (metadata ``classes``), else ``0 .. n-1``."""
    try:
        names = training.read_metadata(model_path).get("classes")
    except (OSError, ValueError):  # names are a nicety; load() has already read the file
        names = None
    if isinstance(names, list) and len(names) == n:
        return [str(c) for c in names]
    return [str(i) for i in range(n)]
