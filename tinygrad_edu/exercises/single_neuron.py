"""Exercise ``single-neuron``: one sigmoid neuron, 0 against the rest, dL/dw by hand; once
the gradient is right it is trained on the bundled MNIST sample."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..check import Diagnosis, check_gradients
from ..check.student import call
from ..data import DatasetError, load_dataset
from ..engine.tensor import Tensor
from .exercise import Exercise, Grade, Part
from .grader import compare, named, named_diagnosis, need

N, D = 8, 5
#: The test accuracy the trained neuron must reach (always answering "not 0": 90 %).
TARGET_ACCURACY = 0.97
#: The training images it is trained on (the first of the bundled sample).
TRAIN_IMAGES = 5000


def reference_loss(w: Tensor, b: Tensor, X: Tensor, t: Tensor) -> Tensor:
    """-(1/N) sum [t log h + (1 - t) log(1 - h)], h = s(X w + b)."""
    h = (X @ w + b).sigmoid()
    return -(t * h.log() + (1 - t) * (1 - h).log()).mean()


def _batch(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    w, b = rng.normal(0, 0.5, D), np.array(rng.normal(0, 0.5))
    X = rng.uniform(0, 1, (N, D))
    t = (np.arange(N) % 3 == 0).astype(np.float64)
    return w, b, X, t


def grade_predict(module: ModuleType) -> Grade:
    w, b, X, _ = _batch(1)
    expected = (Tensor(X) @ Tensor(w) + Tensor(b)).sigmoid().data
    return compare(call(need(module, "predict"), w, float(b), X), expected, sizes=(N,)), ""


def grade_loss(module: ModuleType) -> Grade:
    w, b, X, t = _batch(2)
    expected = reference_loss(*(Tensor(a) for a in (w, b, X, t))).data
    return compare(call(need(module, "loss"), w, float(b), X, t), expected, sizes=(N,)), ""


def grade_gradient(module: ModuleType) -> Grade:
    fn = need(module, "gradient")
    _, _, X, t = _batch(3)
    by_hand = named(lambda w, b, X, t: fn(w, float(b), X, t), "gradient", tuple)
    inputs = {"w": (D,), "b": (), "X": X, "t": t}
    report = check_gradients(by_hand, reference_loss, inputs, wrt=["w", "b"])
    return named_diagnosis(report), ""


def grade_training(module: ModuleType) -> Grade:
    """Train on the bundled sample's 0-vs-rest labels with the student's gradient."""
    fn = need(module, "gradient")
    try:
        train, test = load_dataset("mnist-sample")
    except DatasetError as e:
        return Diagnosis("not_run", f"the bundled MNIST sample cannot be read: {e}"), ""
    train = train.subset(TRAIN_IMAGES)
    X, t = train.images.reshape(len(train), -1) / 255.0, (train.labels == 0).astype(float)
    w, b, rng = np.zeros(X.shape[1]), 0.0, np.random.default_rng(0)
    for _ in range(3):
        for batch in np.array_split(rng.permutation(len(X)), len(X) // 50):
            dw, db = call(fn, w, b, X[batch], t[batch])
            w, b = w - 0.5 * np.asarray(dw), b - 0.5 * float(np.asarray(db))
    Xt = test.images.reshape(len(test), -1) / 255.0
    accuracy = float(np.mean(((Xt @ w + b) > 0) == (test.labels == 0)))
    note = f"test accuracy {accuracy:.1%} on the bundled sample"
    if not np.isfinite(accuracy) or accuracy < TARGET_ACCURACY:
        return Diagnosis("not_trained", f"needs {TARGET_ACCURACY:.0%}"), note
    return None, note


#: Each part's hints, from a nudge to the result nearly spelled out.
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "predict": (
        "X w is one number per image: the product of the (N, D) matrix and the (D,) vector.",
        "Add b to each of those numbers and apply the sigmoid 1 / (1 + np.exp(-z)) to each.",
    ),
    "loss": (
        "Each image gives one term, with t_n choosing which of the two logs counts; numpy "
        "computes all N terms at once.",
        "With h = predict(w, b, X): the mean of t log h + (1 - t) log(1 - h) over the batch, "
        "with a minus sign in front, returned as a float.",
    ),
    "gradient": (
        "Start with one image: L_n depends on w only through z_n = x_n . w + b, and on z_n "
        "only through h_n.",
        "Chain rule: dL_n/dw = dL_n/dh_n times dh_n/dz_n times dz_n/dw. Take dL_n/dh_n from "
        "the loss, write the sigmoid's derivative with h_n, note dz_n/dw = x_n and dz_n/db = "
        "1; multiply and simplify: a factor cancels. Then average over the images.",
        "For one image the product simplifies to the error (h_n - t_n) times x_n (times 1 for "
        "b). Averaged: X transposed times the vector of errors, divided by N, and the mean "
        "error for b; one matrix product does every image at once.",
    ),
    "train": (
        "Nothing new to write: once gradient passes, the check trains the neuron with it, "
        "0 against the rest, on real digits.",
        "gradient passes but this does not? Look for what holds only for the check's small "
        "batch of 8 images of 5 pixels: a hard-coded size, or a dL/db that is not a single "
        "number. It trains on batches of 50 images of 784 pixels.",
    ),
}

EXERCISE = Exercise(
    name="single-neuron",
    title="One sigmoid neuron: 0 against the rest, dL/dw by hand",
    module="single_neuron",
    summary="A single sigmoid neuron h = s(X w + b) with the binary cross-entropy: write its "
    "prediction and loss, derive dL/dw and dL/db by hand; the check then trains it to tell "
    "0 from the other digits.",
    parts=(
        Part(
            "predict",
            ("predict",),
            "h = s(X w + b), (N,)",
            grade_predict,
            hint_levels=HINT_LEVELS["predict"],
        ),
        Part(
            "loss",
            ("loss",),
            "the mean binary cross-entropy, a number",
            grade_loss,
            hint_levels=HINT_LEVELS["loss"],
        ),
        Part(
            "gradient",
            ("gradient",),
            "(dL/dw, dL/db) of the mean loss, shapes (D,) and ()",
            grade_gradient,
            hint_levels=HINT_LEVELS["gradient"],
            hints={
                "scaled": "the loss is a mean over the N images: dL/dw and dL/db each carry "
                "exactly one factor 1/N",
                "scaled:too_large": "the loss is a mean: divide the sums over the batch by N",
                "scaled:too_small": "divided by N once too often: the mean brings a single 1/N",
            },
        ),
        Part(
            "train",
            ("gradient",),
            f"train to {TARGET_ACCURACY:.0%}",
            grade_training,
            30.0,
            needs=("gradient",),
            hint_levels=HINT_LEVELS["train"],
        ),
    ),
)
