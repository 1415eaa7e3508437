"""``tinygrad-edu predict MODEL IMAGE...``: classify photos or scans of handwritten digits.

Each image goes through :func:`tinygrad_edu.course.preprocess.preprocess_digit` (MNIST's own
preprocessing), then the model; the top classes are printed with their probabilities::

    $ tinygrad-edu predict model.npz my_seven.jpg --save-input inputs/
    my_seven.jpg: 7
       7  96.81%
       1   1.92%
       2   0.54%
      (network input saved to inputs/my_seven_28x28.png)

``--figure FILE`` draws every image as the network sees it (28x28) beside its probabilities;
``--steps DIR`` draws each photo's preprocessing steps with the answer
(``DIR/<name>_steps.png``). Probabilities are written alike in the terminal and the figures
(two decimals, never rounded up to 100 %).

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
from ..course.preprocess import CANVAS_SIZE, DigitSteps, ImageError, preprocess_steps
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
            "centred by its centre of mass in 28x28. Prints the most probable classes; "
            "--figure and --steps draw what the network saw."
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
        "--figure",
        type=Path,
        default=None,
        metavar="FILE",
        help="save a PNG of each image as the network sees it (28x28) beside the class "
        "probabilities, one row per image",
    )
    parser.add_argument(
        "--steps",
        type=Path,
        default=None,
        metavar="DIR",
        help="save the preprocessing steps of each photo, with the probabilities, as "
        "DIR/<name>_steps.png",
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
    seen: list[tuple[Path, np.ndarray, np.ndarray]] = []  # (image, input, probabilities)
    taken: set[Path] = set()
    for image in args.images:
        try:
            steps = preprocess_steps(image, thicken=args.thicken)
        except ImageError as err:
            problems.append(one_line(err))
            continue
        x = steps.output
        probs, labels = training.predict(model, x.reshape(1, CANVAS_SIZE, CANVAS_SIZE))
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.size == 1:  # one sigmoid output (one-vs-rest): P(not K), P(K)
            p = np.array([1 - p[0], p[0]])
        names = names or _class_names(args.model, p.size)
        _print_top(image, names, int(labels[0]), p, args.top)
        seen.append((image, x, p))
        problems += _save_per_image(args, image, steps, p, names, taken)
    if seen and args.figure is not None:
        problems += _save_figure(args, seen, names or [])
    sys.stdout.flush()
    if problems:
        raise CLIError(*problems)
    return 0


def _save_per_image(
    args: argparse.Namespace,
    image: Path,
    steps: DigitSteps,
    probs: np.ndarray,
    names: list[str],
    taken: set[Path],
) -> list[str]:
    """``--save-input``'s 28x28 PNG and ``--steps``' figure of one image; the problems met."""
    problems = []
    if args.save_input is not None:
        path = input_path(args.save_input, image, taken)
        try:
            _save_input(steps.output, path)
            print(f"  (network input saved to {path})")
        except OSError as err:
            problems.append(f"cannot save the network input to {path}: {one_line(err)}")
    if args.steps is not None:
        from ..course.plots import plot_preprocessing  # matplotlib: loaded only to draw

        path = input_path(args.steps, image, taken, "steps")
        try:
            plot_preprocessing(steps, path, probs, names, title=str(image))
            print(f"  (preprocessing steps saved to {path})")
        except OSError as err:
            problems.append(f"cannot save the steps figure to {path}: {one_line(err)}")
    return problems


def _save_figure(
    args: argparse.Namespace, seen: list[tuple[Path, np.ndarray, np.ndarray]], names: list[str]
) -> list[str]:
    """``--figure``: every classified image's input beside its probabilities."""
    from ..course.plots import plot_network_inputs  # matplotlib: loaded only to draw

    images, inputs, probs = zip(*seen, strict=True)
    try:
        path = plot_network_inputs(
            np.stack(inputs),
            np.stack(probs),
            args.figure,
            [image.name for image in images],
            names,
            title=f"{args.model}: what it sees, what it answers",
        )
    except OSError as err:
        return [f"cannot save the figure to {args.figure}: {one_line(err)}"]
    print(f"saved {path}")
    return []


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


def input_path(directory: Path, image: Path, taken: set[Path], kind: str = "28x28") -> Path:
    """``directory/<stem>_<kind>.png``, with ``-2``, ``-3``, ... added if already ``taken``."""
    path = directory / f"{image.stem}_{kind}.png"
    n = 2
    while path in taken:
        path = directory / f"{image.stem}_{kind}-{n}.png"
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
