"""``tinygrad-edu eval MODEL``: a saved model's loss, accuracy and confusion matrix on the test
split of the data it was trained on (the dataset and folder recorded in the model file), or of
``--dataset``/``--data-dir``; refused when those test images are among the images the model
was trained on. ``--first K`` lists the first K test images' true and predicted labels."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data import Dataset, DownloadError, shared_images
from ..training import confusion_matrix, evaluate, predict
from ..training.history import loss_text
from ..training.threads import ThreadChoice
from ..viz.text import percent_text
from .errors import CLIError, one_line
from .options import MODEL_HELP, PROG, add_data_arguments, model_file, positive_int
from .rundata import check_fits, check_model_fits, dataset_to_load, load_model, load_run_data
from .settings import add_setting_arguments

__all__ = ["add_eval_command", "format_confusion_matrix", "run_eval"]


def add_eval_command(subparsers: Any) -> None:
    """Add ``eval``."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a saved model: accuracy and confusion matrix",
        description="Evaluate a model saved by `train` on the test split of the data it was "
        "trained on (the dataset and data folder recorded in the model file; --dataset and "
        "--data-dir choose others); print which data, the loss, the accuracy and the confusion "
        "matrix (rows: true class, columns: predicted). Test images that are among the "
        "model's training images are refused (--allow-overlap: evaluated, with a warning).",
    )
    p.add_argument("model", type=model_file, help=MODEL_HELP)
    add_data_arguments(p, default_text="the one recorded in the model file")
    p.add_argument(
        "--allow-overlap",
        action="store_true",
        help="evaluate even when test images are among the model's training images (warns, "
        "and also prints the accuracy on the images it was not trained on)",
    )
    p.add_argument(
        "--first",
        type=positive_int,
        metavar="K",
        help="also print the first K test images' true and predicted labels with the "
        "predicted probability",
    )
    p.add_argument(
        "--figure",
        type=Path,
        metavar="FILE",
        help="with --first K: save those K images, titled with their labels, as a PNG",
    )
    add_setting_arguments(p, ("threads",), {"threads": "BLAS's own"})
    p.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``eval``: the model and its test set (overlap checked), then the measures."""
    if args.figure is not None and args.first is None:
        raise CLIError("--figure saves the images of --first K: give --first too")
    model, meta = load_model(args.model)
    where = _data_source(args, meta)
    train, test, _ = load_run_data(where, args.offline)
    if len(test) == 0:
        raise CLIError(f"{test.name} has no images to evaluate on")
    check_fits(meta.get("sizes"), test)
    check_model_fits(model, test)
    seen = _seen_in_training(args, meta, where, train, test)
    with ThreadChoice(args.threads) if args.threads else contextlib.nullcontext():
        loss, acc = evaluate(model, test)
        probs, predicted = predict(model, test.images)
    cm = confusion_matrix(test.labels, predicted, num_classes=len(test.classes))
    print(
        f"{args.model} on {test.name}{_from(where)} ({len(test)} test images): "
        f"loss {loss_text(loss)}, accuracy {percent_text(acc)}%"
    )
    if len(seen):
        unseen = np.setdiff1d(np.arange(len(test)), seen)
        if len(unseen):
            acc_unseen = np.mean(predicted[unseen] == test.labels[unseen])
            print(f"  on the {len(unseen)} images it was not trained on: {100 * acc_unseen:.2f}%")
    print(format_confusion_matrix(cm, test.classes))
    if args.first is not None:
        _first_predictions(args, test, probs, predicted)
    return 0


# ----------------------------------------------------------------------------- which data
def _data_source(args: argparse.Namespace, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The data to evaluate on: ``--dataset``/``--data-dir``, else what the model file records
    (its dataset, data folder and one-vs-rest digit); all test images."""
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    recorded = meta.get("dataset")
    dataset = dataset_to_load(args.dataset, recorded)
    data_dir = _recorded_dir(config) if dataset == recorded else None
    if args.data_dir is not None:
        data_dir = str(args.data_dir.resolve())
    elif data_dir is not None and not Path(data_dir).is_dir():
        raise CLIError(
            f"{args.model} was trained on {recorded} from {data_dir}, which is no longer a "
            "folder: give its new place with --data-dir (or another --dataset)"
        )
    digit = config.get("digit")
    return {
        "dataset": dataset,
        "data_dir": data_dir,
        "digit": digit if type(digit) is int and 0 <= digit <= 9 else None,
    }


def _recorded_dir(config: Mapping[str, Any]) -> str | None:
    """The data folder a model file records (None if none, or if it is not a path)."""
    data_dir = config.get("data_dir")
    return data_dir if isinstance(data_dir, str) and data_dir else None


def _from(where: Mapping[str, Any]) -> str:
    return f" from {where['data_dir']}" if where.get("data_dir") else ""


def _training_source(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the model's training images came from, as its file records it (None if it does
    not say)."""
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    if meta.get("dataset") is None:
        return None
    size = config.get("train_size")
    return {
        "dataset": dataset_to_load(meta.get("dataset")),
        "data_dir": _recorded_dir(config),
        "train_size": size if isinstance(size, int) and size > 0 else None,
    }


def _official_training_images(source: Mapping[str, Any]) -> bool:
    """True when the model was trained on images of MNIST's official training set: mnist from
    the cache or a download (no folder of the user's), or the bundled sample's training part."""
    return source["dataset"] == "mnist-sample" or (
        source["dataset"] == "mnist" and source["data_dir"] is None
    )


def _seen_in_training(
    args: argparse.Namespace,
    meta: Mapping[str, Any],
    where: Mapping[str, Any],
    train: Dataset,
    test: Dataset,
) -> np.ndarray:
    """Indices of the test images that are among the model's training images (as far as the
    model file tells them); refused unless ``--allow-overlap``, which warns instead."""
    source = _training_source(meta)
    if source is None:
        print(f"{PROG} eval: note: {args.model} records no training data; overlap not checked")
        return np.zeros(0, dtype=np.intp)
    if _official_training_images(source) and test.name.startswith("mnist-sample/"):
        return np.zeros(0, dtype=np.intp)  # the sample's test digits are MNIST test digits
    same = (source["dataset"], source["data_dir"]) == (where["dataset"], where["data_dir"])
    if not same:
        try:
            train, _, _ = load_run_data(source, args.offline)
        except (CLIError, ValueError, OSError, DownloadError) as e:
            train = None
            reason = one_line(e)
        if train is None or not train.name.startswith(source["dataset"] + "/"):
            print(
                f"{PROG} eval: warning: cannot read the training images of {args.model} to "
                f"check for overlap ({reason if train is None else 'they are not at hand'})",
                file=sys.stderr,
            )
            return np.zeros(0, dtype=np.intp)
    elif source["train_size"]:
        train = train.subset(min(source["train_size"], len(train)))
    seen = shared_images(train.images, test.images)
    if len(seen):
        trained_on = (
            f"the {len(train)} images {args.model} was trained on ({train.name}{_from(source)})"
        )
        _overlap(args, seen, test, trained_on)
    return seen


def _overlap(args: argparse.Namespace, seen: np.ndarray, test: Dataset, trained_on: str) -> None:
    """Refuse (or, with ``--allow-overlap``, warn about) test images that were trained on."""
    what = f"{len(seen)} of the {len(test)} test images of {test.name} are among {trained_on}"
    if not args.allow_overlap:
        raise CLIError(
            f"{what}: an accuracy on them would overstate the model; evaluate on its own test "
            "split (leave out --dataset/--data-dir), or pass --allow-overlap"
        )
    warning = f"WARNING: {what}; the accuracy below is inflated"
    print(f"{PROG} eval: {warning}", file=sys.stderr)
    print(warning)


# ----------------------------------------------------------------------------- printing
def _first_predictions(
    args: argparse.Namespace, test: Dataset, probs: np.ndarray, predicted: np.ndarray
) -> None:
    """Print the first K test images' true and predicted labels and the predicted class's
    probability; with ``--figure``, draw them."""
    k = min(args.first, len(test))
    confidence = _confidence(probs[:k], predicted[:k])
    names = list(test.classes)
    print(f"first {k} test images:")
    w = max(9, *(len(n) for n in names))
    print(f"   #  {'true':>{w}}  {'predicted':>{w}}  probability")
    for i in range(k):
        mark = "" if predicted[i] == test.labels[i] else "  wrong"
        print(
            f"{i:>4}  {names[test.labels[i]]:>{w}}  {names[predicted[i]]:>{w}}  "
            f"{percent_text(confidence[i]):>10}%{mark}"
        )
    if args.figure is not None:
        from ..viz import plots  # matplotlib: loaded only to draw

        title = f"{args.model}: the first {k} images of {test.name}"
        path = plots.plot_predictions(
            test.images[:k], test.labels[:k], predicted[:k], confidence, args.figure, names, title
        )
        print(f"saved {path}")


def _confidence(probs: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The probability of each predicted class (one sigmoid output: p for 1, 1 - p for 0)."""
    if probs.ndim == 2 and probs.shape[1] > 1:
        return probs[np.arange(len(probs)), predicted]
    p = probs.reshape(len(probs))
    return np.where(predicted == 1, p, 1 - p)


def format_confusion_matrix(cm: np.ndarray, classes: Sequence[str] | None = None) -> str:
    """A text table: one row per true class, one column per predicted class, and recall."""
    c = cm.shape[0]
    width = max(len(str(int(cm.max()))) if cm.size else 1, 3)
    lines = ["true \\ predicted " + " ".join(f"{i:>{width}}" for i in range(c)) + "  recall"]
    for i in range(c):
        total = cm[i].sum()
        recall = f"{100 * cm[i, i] / total:6.2f}%" if total else "     -"
        label = f"{i} {classes[i]}" if classes is not None and classes[i] != str(i) else f"{i}"
        lines.append(
            f"{label[:16]:>16} " + " ".join(f"{v:>{width}}" for v in cm[i]) + f"  {recall}"
        )
    return "\n".join(lines)
