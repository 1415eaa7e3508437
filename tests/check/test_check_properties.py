"""Property tests: for random shapes, right backward rules pass and each kind of mistake is
named, whatever the shape (hypothesis draws the shapes; the checks draw the values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import shapes

from tinygrad_edu import Tensor
from tinygrad_edu.check import check_vjp


def s(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


#: op -> (reference forward, the local derivative d out/dz at z)
ELEMENTWISE: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[np.ndarray], Any]]] = {
    "sigmoid": (lambda z: z.sigmoid(), lambda z: s(z) * (1 - s(z))),
    "tanh": (lambda z: z.tanh(), lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: z.relu(), lambda z: (z > 0) * 1.0),
    "exp": (lambda z: z.exp(), np.exp),
    "square": (lambda z: z * z, lambda z: 2 * z),
}

MISTAKES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sign_flipped": lambda g, d: -g * d,
    "ignores_upstream": lambda g, d: d + 0 * g,
}


@settings(max_examples=15)
@given(st.sampled_from(sorted(ELEMENTWISE)), shapes(min_dims=0, max_dims=3))
def test_right_elementwise_rules_pass_for_any_shape(op: str, shape: tuple) -> None:
    forward, local = ELEMENTWISE[op]
    report = check_vjp(lambda g, z: g * local(z), forward, {"z": shape}, trials=2)
    assert report.passed, str(report)


@settings(max_examples=15)
@given(
    st.sampled_from(sorted(set(ELEMENTWISE) - {"relu"})),  # relu's derivative may be all 0
    st.sampled_from(sorted(MISTAKES)),
    shapes(min_dims=1, max_dims=3).filter(lambda sh: int(np.prod(sh)) >= 2),
)
def test_mistakes_are_named_for_any_shape(op: str, mistake: str, shape: tuple) -> None:
    forward, local = ELEMENTWISE[op]
    wrong = MISTAKES[mistake]
    report = check_vjp(lambda g, z: wrong(g, local(z)), forward, {"z": shape}, trials=2)
    assert report.diagnosis.kind == mistake, str(report)


@settings(max_examples=15)
@given(st.integers(2, 9), st.integers(1, 5))
def test_a_batch_sum_where_a_mean_was_needed_is_a_factor_n(n: int, k: int) -> None:
    def mean_backward(g: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.broadcast_to(g, a.shape) * 1.0  # forgot the 1/N

    report = check_vjp(mean_backward, lambda a: a.mean(axis=0), {"a": (n, k)}, trials=2)
    assert report.diagnosis.kind == "scaled"
    assert report.diagnosis.factor == pytest.approx(n)
    assert "= N, the batch size" in report.diagnosis.message
