"""Exercise ``softmax-cross-entropy``: softmax and the mean cross-entropy, both stable, and the
gradient (h - t) / N, checked against ``nn.cross_entropy``."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .. import nn
from ..check import Diagnosis, Tolerance, check_gradients
from ..check.student import call
from ..engine.tensor import Tensor
from .exercise import Exercise, Grade, Part
from .grader import compare, named, named_diagnosis, need

N, C = 6, 4


def _logits(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (N, C)), rng.permutation(np.arange(N) % C)


def _stable(fn: object, z: np.ndarray, *args: object, expected: np.ndarray) -> Grade:
    """Right at z, and still right (finite) at z + 1000."""
    found = compare(call(fn, z.copy(), *args), expected, sizes=(N,))
    if found is None:
        big = np.asarray(call(fn, z + 1000.0, *args), dtype=np.float64)
        if not np.all(np.isfinite(big)):
            return Diagnosis("unstable", "NaN or inf for logits z + 1000"), ""
        found = compare(big, expected, Tolerance(1e-6, 1e-8), sizes=(N,))
    return found, ""


def grade_softmax(module: ModuleType) -> Grade:
    z, _ = _logits(1)
    expected = Tensor(z).softmax(axis=1).data
    return _stable(need(module, "softmax"), z, expected=expected)


def grade_cross_entropy(module: ModuleType) -> Grade:
    z, y = _logits(2)
    expected = nn.cross_entropy(Tensor(z), y).data
    return _stable(need(module, "cross_entropy"), z, y, expected=expected)


def grade_gradient(module: ModuleType) -> Grade:
    fn = need(module, "cross_entropy_grad")
    _, y = _logits(3)
    by_hand = named(fn, "cross_entropy_grad", lambda dz: {"z": dz})
    report = check_gradients(by_hand, nn.cross_entropy, {"z": (N, C), "y": y}, trials=3)
    if not report.passed:
        return named_diagnosis(report), ""
    z, y = _logits(4)
    zt = Tensor(z, requires_grad=True)
    nn.cross_entropy(zt, y).backward()  # the engine's gradient, to check stability with
    return _stable(fn, z, y, expected=zt.grad)


EXERCISE = Exercise(
    name="softmax-cross-entropy",
    title="Softmax cross-entropy, stable, and its gradient h - t",
    module="softmax_cross_entropy",
    summary="Write softmax and the mean cross-entropy of a batch of logits so that neither "
    "overflows (subtract the row max), then derive the gradient dL/dz = (h - t) / N.",
    parts=(
        Part("softmax", ("softmax",), "h = softmax(z) per row, stable", grade_softmax),
        Part("cross_entropy", ("cross_entropy",), "the mean loss, stable", grade_cross_entropy),
        Part(
            "gradient",
            ("cross_entropy_grad",),
            "dL/dz = (h - t) / N",
            grade_gradient,
            hints={
                "scaled": "the loss is a mean over the batch: its gradient carries exactly one "
                "factor 1/N",
                "scaled:too_large": "the loss is a mean over the batch: divide h - t by N",
                "scaled:too_small": "divided by N once too often: the mean over the batch "
                "brings a single 1/N",
            },
        ),
    ),
)
