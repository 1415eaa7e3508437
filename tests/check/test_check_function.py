"""check_function: a user-defined op's backward against finite differences, the number,
shapes and dtypes of its gradients, broadcasting, and its tangent rule."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import Function
from tinygrad_edu.check import check_function


def s(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class Sigmoid(Function):
    def forward(ctx, z: np.ndarray) -> np.ndarray:
        out = s(z)
        ctx.save_for_backward(out)
        return out

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * a * (1 - a)

    def jvp(ctx, t: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return t * a * (1 - a)


class SigmoidAtOutput(Sigmoid):
    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * s(a) * (1 - s(a))


class SigmoidFloat32(Sigmoid):
    def backward(ctx, g: np.ndarray) -> np.ndarray:
        return super().backward(g).astype(np.float32)


class SigmoidWrongTangent(Sigmoid):
    def jvp(ctx, t: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return t * a


class ScaledAdd(Function):
    """out = a + 2 b, broadcasting; backward returns the broadcast shape (the engine sums)."""

    def forward(ctx, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + 2 * b

    def backward(ctx, g: np.ndarray) -> tuple:
        return g, 2 * g


class ScaledAddOneGradient(ScaledAdd):
    def backward(ctx, g: np.ndarray) -> np.ndarray:  # type: ignore[override]
        return g


class ScaledAddBadShape(ScaledAdd):
    def backward(ctx, g: np.ndarray) -> tuple:
        return g, 2 * g.T


class Power(Function):
    """out = a ** k for a constant k given as a keyword."""

    def forward(ctx, a: np.ndarray, k: float = 2.0) -> np.ndarray:
        ctx.save_for_backward(a)
        ctx.k = k
        return a**k

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * ctx.k * a ** (ctx.k - 1)

    def jvp(ctx, t: np.ndarray, k: float = 2.0) -> np.ndarray:
        (a,) = ctx.saved
        return t * k * a ** (k - 1)


def test_a_right_op_with_a_tangent_rule_passes() -> None:
    report = check_function(Sigmoid, {"z": (3, 4)})
    assert report.passed, str(report)
    assert set(report.results) == {"z", "jvp"}


def test_the_derivative_taken_at_the_output_is_named() -> None:
    assert check_function(SigmoidAtOutput, {"z": (3, 4)}).diagnosis.kind == "derivative_at_output"


def test_a_gradient_of_another_dtype_is_named() -> None:
    assert check_function(SigmoidFloat32, {"z": (2, 3)}).diagnosis.kind == "wrong_dtype"


def test_a_wrong_tangent_rule_is_found() -> None:
    report = check_function(SigmoidWrongTangent, {"z": (2, 3)})
    assert not report.passed and report.first_wrong.name == "jvp"


def test_broadcast_inputs_are_checked_and_the_broadcast_shape_is_accepted() -> None:
    report = check_function(ScaledAdd, {"a": (3, 4), "b": (3, 4)})
    assert report.passed, str(report)
    assert "b (broadcast b: (4,))" in report.results


def test_the_number_and_shapes_of_the_gradients_are_checked() -> None:
    count = check_function(ScaledAddOneGradient, {"a": (3, 4), "b": (3, 4)})
    assert count.diagnosis.kind == "wrong_count"
    shape = check_function(ScaledAddBadShape, {"a": (3, 4), "b": (3, 4)})
    assert shape.diagnosis.kind in {"wrong_shape", "transposed"}
    assert shape.first_wrong.name == "b"


def test_keyword_arguments_reach_forward_and_the_tangent_rule() -> None:
    assert check_function(Power, {"a": (2, 3)}, kwargs={"k": 3.0}).passed


class NotFinite(Function):
    def forward(ctx, z: np.ndarray) -> np.ndarray:
        return z * np.nan

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        return g


def test_a_forward_that_is_never_finite_is_a_diagnosis() -> None:
    report = check_function(NotFinite, {"z": (2, 2)})
    assert report.diagnosis.kind == "not_finite" and "NotFinite" in report.diagnosis.message
