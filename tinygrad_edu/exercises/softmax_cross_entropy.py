"""Exercise ``softmax-cross-entropy``: softmax and the mean cross-entropy, both stable, and the
gradient dL/dz, checked against ``nn.cross_entropy``."""

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


#: Each part's hints, from a nudge to the result nearly spelled out.
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "softmax": (
        "Each row is normalised on its own: exponentiate, then divide by the row's sum. In "
        "float64, e^z overflows to inf once z passes about 709.",
        "softmax does not change when one number m is subtracted from every logit of a row: "
        "e^-m comes out of the numerator and the denominator alike. Choose m so that no "
        "exponent is positive.",
        "Subtract each row's maximum (z.max(axis=1, keepdims=True)), exponentiate, and divide "
        "by the row sums, also taken with keepdims=True so that the shapes broadcast.",
    ),
    "cross_entropy": (
        "Only the probability of each row's own label counts: pick one entry per row "
        "(z[np.arange(N), y] picks the logits), take minus its log, then average over rows.",
        "Never take the log of a softmax: a small probability rounds to 0 and its log is "
        "-inf. Work with logs throughout: log softmax(z)_c = z_c - log sum_k e^z_k, with the "
        "row max subtracted inside the exponentials and added back outside the log.",
        "With m_n the row max: log h[n, c] = (z[n, c] - m_n) - log sum_k e^(z[n, k] - m_n). "
        "Return minus the mean over n of log h[n, y_n], as a float.",
    ),
    "gradient": (
        "Differentiate the loss of one row first; the mean over the batch comes last.",
        "One row's loss is L_n = -z[n, y_n] + log sum_k e^z[n, k]. Differentiate both terms by "
        "z[n, c]: the first only matters when c is the label, the second gives a softmax. "
        "No other row depends on z[n, :].",
        "Row n of the gradient is softmax(z[n]) minus the one-hot row of y_n (np.eye(C)[y] "
        "makes them all), and the mean over the batch adds one factor 1/N; shape (N, C), with "
        "the stable softmax.",
    ),
}

EXERCISE = Exercise(
    name="softmax-cross-entropy",
    title="Softmax cross-entropy, stable, and its gradient",
    module="softmax_cross_entropy",
    summary="Write softmax and the mean cross-entropy of a batch of logits so that neither "
    "overflows for large logits, then derive the gradient dL/dz of the loss by hand.",
    parts=(
        Part(
            "softmax",
            ("softmax",),
            "h = softmax(z) per row, (N, C) -> (N, C), finite for large z",
            grade_softmax,
            hint_levels=HINT_LEVELS["softmax"],
        ),
        Part(
            "cross_entropy",
            ("cross_entropy",),
            "the mean loss over the batch, a number, finite for large z",
            grade_cross_entropy,
            hint_levels=HINT_LEVELS["cross_entropy"],
        ),
        Part(
            "gradient",
            ("cross_entropy_grad",),
            "dL/dz of the mean loss, (N, C)",
            grade_gradient,
            hint_levels=HINT_LEVELS["gradient"],
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
