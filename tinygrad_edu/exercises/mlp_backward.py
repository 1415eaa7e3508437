"""Exercise ``mlp-backward``: the course's MLP (sigmoid hidden layer, softmax cross-entropy, a mean
over the batch) written by the student, forward and every intermediate gradient, the whole
backward pass graded node by node with :func:`~tinygrad_edu.check.check_backprop`: the check
output lists the gradients from the loss back, each right, wrong (with the mistake named),
inherited from an earlier wrong one, missing or of the wrong shape. Once right, the network is
trained with the student's gradients on the bundled sample."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .. import nn
from ..check import Diagnosis, check_backprop
from ..check.inputs import resolve_seed
from ..check.student import call
from ..data import DatasetError, load_dataset
from ..engine.tensor import Tensor
from .exercise import Exercise, Grade, Part
from .grader import compare, named, need

N, D, H, C = 6, 5, 4, 3  # batch, inputs, hidden units, classes: all different (a transpose shows)
PARAMETERS = ("W1", "b1", "W2", "b2")
#: The gradients the student returns, in the order of the backward pass.
GRADIENTS = ("z2", "W2", "b2", "h", "z1", "W1", "b1")
#: The trained network's test accuracy needed (it reaches about 88 % with right gradients).
TARGET_ACCURACY = 0.85
#: Training: the first images of the bundled sample, the batch size and the learning rate.
TRAIN_IMAGES, BATCH, LR = 10_000, 100, 2.0


#: Each part's hints, a level at a time (``tinygrad-edu exercise hint DIR PART``).
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "forward": (
        "One line of numpy per formula, batch in the rows: X @ W1.T is (N, H), h @ W2.T is (N, C).",
        "For the loss, take log softmax row by row without overflow: subtract each row's "
        "largest logit before exp, then the log of the sum; pick each row's label entry with "
        "fancy indexing and average over the batch.",
    ),
    "backward": (
        "Start at the loss and go back one value at a time: z2, then W2 and b2, then h, z1, "
        "then W1 and b1. Each gradient has the shape of its value, and each uses the one just "
        "after it in the network.",
        "dL/dz2: softmax then minus the log of the label's entry, averaged over N rows (so "
        "every row of dL/dz2 carries a 1/N). A layer z = a W^T + b sends back dL/dz^T a to W, "
        "dL/dz summed over the batch to b, and dL/dz W to a. Through the sigmoid, multiply "
        "elementwise by its derivative, written with h.",
        "dz2 = (p - t) / N with t the one-hot labels (np.eye(C)[y]); dW2 = dz2.T @ h; db2 = "
        "dz2.sum(axis=0); dh = dz2 @ W2; dz1 = dh * h * (1 - h); dW1 = dz1.T @ X; db1 = "
        "dz1.sum(axis=0).",
    ),
    "train": (
        "Nothing new to write: once forward and backward pass, the check trains the network "
        "with your gradients on real digits.",
        "They pass but this does not? Look for what holds only for the check's small 6-5-4-3 "
        "batch: a hard-coded size, a loop over a fixed number of rows, or an exp that "
        "overflows for 784 pixels.",
    ),
}


def reference_forward(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, y: Any) -> dict:
    """The network with tinygrad_edu ops, its values named as the student names them."""
    z1 = X @ W1.T + b1
    h = z1.sigmoid()
    z2 = h @ W2.T + b2
    return {"z1": z1, "h": h, "z2": z2, "loss": nn.cross_entropy(z2, y)}


def _inputs(rng: np.random.Generator) -> dict[str, Any]:
    """Shapes for the parameters and X, and labels covering every class."""
    shapes = {"X": (N, D), "W1": (H, D), "b1": (H,), "W2": (C, H), "b2": (C,)}
    return {**shapes, "y": rng.permutation(np.arange(N) % C)}


def grade_forward(module: ModuleType) -> Grade:
    """z1, h, z2 and the loss at fresh random inputs, and the loss still finite for huge logits."""
    rng = np.random.default_rng(resolve_seed(None, "mlp-backward"))
    values = {k: rng.normal(0, 1.0, s) for k, s in _inputs(rng).items() if k != "y"}
    y = rng.permutation(np.arange(N) % C)
    got = call(need(module, "forward"), *values.values(), y)
    if not isinstance(got, dict):
        what = type(got).__name__
        return Diagnosis("not_an_array", f"forward returned {what}, not a dict name -> value"), ""
    expected = reference_forward(*(Tensor(v) for v in values.values()), y)
    for name in ("z1", "h", "z2", "loss"):
        if name not in got:
            return Diagnosis("missing", f"forward returned no {name!r}"), ""
        found = compare(got[name], expected[name].data, sizes=(N,))
        if found is not None:
            return Diagnosis(found.kind, f"{name}: {found.message}", found.factor), ""
    return _stable_loss(module, values, y)


def _stable_loss(module: ModuleType, values: dict[str, np.ndarray], y: np.ndarray) -> Grade:
    """The loss with b2 shifted by 1000 (the same softmax, so the same loss) must stay finite."""
    big = {**values, "b2": values["b2"] + 1000.0}
    loss = call(need(module, "forward"), *big.values(), y).get("loss")
    if not np.all(np.isfinite(np.asarray(loss, dtype=np.float64))):
        return Diagnosis("unstable", "the loss is NaN or inf when every logit is near 1000"), ""
    return None, ""


def grade_backward(module: ModuleType) -> Grade:
    """The whole backward pass with check_backprop; the details list every gradient's status."""
    backward = named(need(module, "backward"), "backward", lambda grads: grads)
    rng = np.random.default_rng(resolve_seed(None, "mlp-backward"))
    report = check_backprop(backward, reference_forward, _inputs(rng), wrt=list(GRADIENTS))
    if report.passed:
        return None, "", report.node_lines()
    d = report.diagnosis
    if report.error is None and report.first is not None:
        node = report[report.first]
        d = Diagnosis(d.kind, f"the first wrong gradient is dL/d{node.name}: {d.message}", d.factor)
    return d, "", report.node_lines()


def train(module: ModuleType, images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The course's 784-64-10 network trained by plain SGD with the student's gradients."""
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(0, 0.1, (64, 784)),
        "b1": np.zeros(64),
        "W2": rng.normal(0, 0.1, (10, 64)),
        "b2": np.zeros(10),
    }
    backward = need(module, "backward")
    for start in range(0, len(images), BATCH):
        X, y = images[start : start + BATCH], labels[start : start + BATCH]
        grads = call(backward, X, *params.values(), y)
        for name in PARAMETERS:
            params[name] = params[name] - LR * np.asarray(grads[name], dtype=np.float64)
    return params


def grade_training(module: ModuleType) -> Grade:
    try:
        train_set, test = load_dataset("mnist-sample")
    except DatasetError as e:
        return Diagnosis("not_run", f"the bundled MNIST sample cannot be read: {e}"), ""
    first = train_set.subset(TRAIN_IMAGES)
    params = train(module, first.images.reshape(len(first), -1) / 255.0, first.labels)
    X = Tensor(test.images.reshape(len(test), -1) / 255.0)
    z2 = reference_forward(X, *(Tensor(params[k]) for k in PARAMETERS), test.labels)["z2"]
    accuracy = float(np.mean(z2.data.argmax(axis=1) == test.labels))
    note = f"test accuracy {accuracy:.1%} after one epoch of {TRAIN_IMAGES:,} images"
    if not accuracy >= TARGET_ACCURACY:
        return Diagnosis("not_trained", f"needs {TARGET_ACCURACY:.0%}"), note
    return None, note


EXERCISE = Exercise(
    name="mlp-backward",
    title="The whole backward pass of the course's MLP, every gradient by hand",
    module="mlp_backward",
    summary="Write the forward pass of the 784-64-10 network (sigmoid hidden layer, softmax "
    "cross-entropy, a mean over the batch) and every intermediate gradient, from dL/dz2 back "
    "to dL/dW1. The check lists your gradients from the loss back, points at the first wrong "
    "one and says which later ones only inherit its error; then it trains the network with "
    "your gradients on real digits.",
    parts=(
        Part(
            "forward",
            ("forward",),
            "z1, h, z2 and the loss of a batch",
            grade_forward,
            hint_levels=HINT_LEVELS["forward"],
        ),
        Part(
            "backward",
            ("backward",),
            "dL/dz2, dL/dW2, dL/db2, dL/dh, dL/dz1, dL/dW1, dL/db1, each of its value's shape",
            grade_backward,
            hint_levels=HINT_LEVELS["backward"],
        ),
        Part(
            "train",
            ("backward",),
            f"train to {TARGET_ACCURACY:.0%}",
            grade_training,
            30.0,
            needs=("forward", "backward"),
            hint_levels=HINT_LEVELS["train"],
        ),
    ),
)
