"""Exercise ``mlp-by-hand``: the course's 784-64-10 sigmoid MLP with softmax cross-entropy,
forward, ``update_grad`` (per image, accumulating) and ``update_params`` by hand; once right it
is trained on the bundled MNIST sample (and, in the test suite, on mnist-24k to over 90 %)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ..check import Diagnosis, check_gradients
from ..check.student import call
from ..data import Dataset, DatasetError, load_dataset
from ..engine.tensor import Tensor
from .exercise import Exercise, Grade, Part
from .grader import compare, named, named_diagnosis, need

SIZES = (5, 4, 3)  # n_in, n_hidden, n_out: small, and all different (a transpose shows)
N = 3  # images per batch in the gradient check
PARAMS = ("W1", "b1", "W2", "b2")
#: The test accuracy after the check's short training on the bundled sample.
TARGET_ACCURACY = 0.85
#: The training images it is trained on (the first of the bundled sample): update_grad is
#: called once per image, each call a request to the student's sandboxed code.
TRAIN_IMAGES = 5000


def summed_loss(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, X: Tensor, y: Any) -> Tensor:
    """sum_n -log softmax(W2 s(W1 x_n + b1) + b2)[y_n], one image at a time (so that each
    parameter is used once per image, as update_grad sees it)."""
    labels, total = (y.data if isinstance(y, Tensor) else np.asarray(y)), None
    for n in range(X.shape[0]):
        a1 = (W1 @ X[n] + b1).sigmoid()
        term = -(W2 @ a1 + b2).log_softmax()[int(labels[n])]
        total = term if total is None else total + term
    return total  # type: ignore[return-value]


def _network(module: ModuleType, params: dict[str, np.ndarray]) -> Any:
    net = call(need(module, "MLP"), *SIZES)
    for name, value in params.items():
        setattr(net, name, value.copy())
    return net


def _params(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_in, hidden, out = SIZES
    shapes = {"W1": (hidden, n_in), "b1": (hidden,), "W2": (out, hidden), "b2": (out,)}
    return {k: rng.normal(0, 0.8, s) for k, s in shapes.items()}


def grade_forward(module: ModuleType) -> Grade:
    params, x = _params(1), np.random.default_rng(2).uniform(0, 1, SIZES[0])
    got = call(need(module, "MLP.forward"), _network(module, params), x)
    z1 = params["W1"] @ x + params["b1"]
    a1 = Tensor(z1).sigmoid().data
    z2 = params["W2"] @ a1 + params["b2"]
    expected = (z1, a1, z2, Tensor(z2).softmax().data)
    if not isinstance(got, tuple | list) or len(got) != 4:
        return Diagnosis("wrong_count", "forward must return the tuple (z1, a1, z2, a2)"), ""
    for name, g, e in zip(("z1", "a1", "z2", "a2"), got, expected, strict=True):
        found = compare(g, e)
        if found is not None:
            return Diagnosis(found.kind, f"{name}: {found.message}", found.factor), ""
    return None, ""


def grade_update_grad(module: ModuleType) -> Grade:
    rng = np.random.default_rng(3)
    X, y = rng.uniform(0, 1, (N, SIZES[0])), np.array([2, 0, 1])
    update = need(module, "MLP.update_grad")

    def accumulated(W1: Any, b1: Any, W2: Any, b2: Any, X: Any, y: Any) -> dict:
        net = _network(module, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
        for n in range(len(X)):
            update(net, X[n].copy(), int(y[n]))
        return {k: getattr(net, f"{k}_grad") for k in PARAMS}

    by_hand = named(accumulated, "update_grad", lambda grads: grads)
    spec = {**{k: v.shape for k, v in _params(0).items()}, "X": X, "y": y}
    report = check_gradients(by_hand, summed_loss, spec, wrt=list(PARAMS), trials=2)
    return named_diagnosis(report), ""


def grade_update_params(module: ModuleType) -> Grade:
    params, grads = _params(4), _params(5)
    net = _network(module, {**params, **{f"{k}_grad": v for k, v in grads.items()}})
    call(need(module, "MLP.update_params"), net, 0.3, 4)
    for k in PARAMS:
        step = np.asarray(getattr(net, k), dtype=np.float64) - params[k]
        found = compare(step, -0.3 * grads[k] / 4, sizes=(4,))
        if found is not None:
            return Diagnosis(found.kind, f"the step of {k}: {found.message}", found.factor), ""
    if any(np.any(getattr(net, f"{k}_grad") != 0) for k in PARAMS):
        return Diagnosis("wrong_value", "the gradients were not reset to zero"), ""
    return None, ""


def train(module: ModuleType, train_set: Dataset, epochs: int, lr: float, batch: int) -> Any:
    """The student's network trained by SGD: update_grad per image, update_params per batch."""
    net = call(need(module, "MLP"))
    update, step = need(module, "MLP.update_grad"), need(module, "MLP.update_params")
    X, labels = train_set.images.reshape(len(train_set), -1) / 255.0, train_set.labels
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            chunk = order[start : start + batch]
            for n in chunk:
                call(update, net, X[n], int(labels[n]))
            call(step, net, lr, len(chunk))
    return net


def accuracy(net: Any, test: Dataset) -> float:
    """The fraction of test images whose largest logit is their label."""
    X = test.images.reshape(len(test), -1) / 255.0
    a1 = 1 / (1 + np.exp(-(X @ np.asarray(net.W1).T + net.b1)))
    return float(np.mean((a1 @ np.asarray(net.W2).T + net.b2).argmax(axis=1) == test.labels))


def grade_training(module: ModuleType) -> Grade:
    try:
        train_set, test = load_dataset("mnist-sample")
    except DatasetError as e:
        return Diagnosis("not_run", f"the bundled MNIST sample cannot be read: {e}"), ""
    acc = accuracy(train(module, train_set.subset(TRAIN_IMAGES), epochs=1, lr=1.0, batch=10), test)
    note = (
        f"test accuracy {acc:.1%} after one epoch of {TRAIN_IMAGES:,} images of the bundled sample"
    )
    if not acc >= TARGET_ACCURACY:
        return Diagnosis("not_trained", f"needs {TARGET_ACCURACY:.0%}"), note
    return None, note


#: Each part's hints, from a nudge to the result nearly spelled out.
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "forward": (
        "One line of numpy per formula, in order: W1 @ x is (n_hidden,), W2 @ a1 is (n_out,).",
        "For a2, exponentiate z2 minus its largest element (softmax does not change, and e^z "
        "never overflows), divide by the sum, and return the tuple (z1, a1, z2, a2).",
    ),
    "update_grad": (
        "Go backwards one value at a time: z2, then W2 and b2, then a1, z1, then W1 and b1. "
        "Each gradient has the shape of its value, and each step uses the one before.",
        "dL/dz2 is softmax followed by minus the log of the label's entry: the one-row case of "
        "softmax-cross-entropy. A layer z = W a + b sends back the outer product of dL/dz with "
        "a to W, dL/dz itself to b, and W transposed times dL/dz to a. Through the sigmoid, "
        "multiply elementwise by its derivative, written with a1. Add each to its _grad (+=).",
        "dz2 is a2 with 1 subtracted at index y; W2_grad += np.outer(dz2, a1); b2_grad += "
        "dz2; dz1 is (W2.T @ dz2) times a1 times (1 - a1), elementwise; W1_grad += "
        "np.outer(dz1, x); b1_grad += dz1.",
    ),
    "update_params": (
        "The _grad arrays hold sums over the batch: the step uses their mean.",
        "For each of W1, b1, W2 and b2, subtract lr times its _grad divided by batch_size; "
        "then call self.zero_grad().",
    ),
    "train": (
        "Nothing new to write: once forward, update_grad and update_params pass, the check "
        "trains your network for one epoch of real digits.",
        "Those pass but this does not? Look for what holds only for the check's small 5-4-3 "
        "network: a hard-coded size, or a forward that overflows for 784 pixels (subtract the "
        "max before exp).",
    ),
}

EXERCISE = Exercise(
    name="mlp-by-hand",
    title="The course's MLP by hand: forward, update_grad, update_params",
    module="mlp_by_hand",
    summary="The course's 784-64-10 network with a sigmoid hidden layer and softmax "
    "cross-entropy, in numpy only: write the forward pass, derive the gradients of one image "
    "and accumulate them over a batch (update_grad), and take a gradient step "
    "(update_params). The check then trains it on real digits.",
    parts=(
        Part(
            "forward",
            ("MLP.forward",),
            "(z1, a1, z2, a2) of one image",
            grade_forward,
            hint_levels=HINT_LEVELS["forward"],
        ),
        Part(
            "update_grad",
            ("MLP.update_grad",),
            "W1_grad ... b2_grad += the gradients of one image",
            grade_update_grad,
            hint_levels=HINT_LEVELS["update_grad"],
            hints={
                "scaled": "update_grad adds the gradient of one image as it is, with no 1/N "
                "(update_params divides by the batch size)",
                "scaled:too_large": "add the gradient of each image once",
            },
        ),
        Part(
            "update_params",
            ("MLP.update_params",),
            "one gradient-descent step with the batch's mean gradient, then zero the gradients",
            grade_update_params,
            hint_levels=HINT_LEVELS["update_params"],
            hints={
                "scaled": "divide the summed gradient by batch_size, exactly once",
                "scaled:too_large": "divide the summed gradient by batch_size: "
                "W <- W - lr W_grad / batch_size",
                "scaled:too_small": "the step is divided by batch_size once too often "
                "(update_grad adds, with no 1/N)",
            },
        ),
        Part(
            "train",
            ("MLP",),
            f"train to {TARGET_ACCURACY:.0%}",
            grade_training,
            30.0,
            needs=("forward", "update_grad", "update_params"),
            hint_levels=HINT_LEVELS["train"],
        ),
    ),
)
