"""check_function: a user-defined op's backward against finite differences, the number,
shapes and dtypes of its gradients, broadcasting, its tangent rule and its second derivative."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Function, Tensor, rule_math
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
    assert set(report.results) == {"z", "jvp", "z (second order)"}


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


class DoubleIntoG(Function):
    """out = 2 a; its backward doubles g in place."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        return 2 * a

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        g *= 2
        return g


class SquareScalingItsInput(Function):
    """out = a^2; its backward scales the saved input in place (the user's x changes)."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return a * a

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        a *= 2
        return g * a


def test_writing_into_g_is_wrong_inside_the_engine_and_named() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (DoubleIntoG.apply(x) + DoubleIntoG.apply(x)).sum().backward()  # Add: one g, both branches
    assert not np.allclose(x.grad, 4.0)  # the engine's answer is wrong ...
    report = check_function(DoubleIntoG, {"a": (2, 3)})
    assert report.diagnosis.kind == "writes_upstream", str(report)  # ... and the check says why
    assert "test_check_function.py, line" in report.diagnosis.message


def test_scaling_a_saved_input_in_place_is_named() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    SquareScalingItsInput.apply(x).sum().backward()
    assert np.allclose(x.data, [2.0, 4.0])  # the user's x changed
    report = check_function(SquareScalingItsInput, {"a": (2, 3)})
    assert report.diagnosis.kind == "writes_input", str(report)
    assert "test_check_function.py, line" in report.diagnosis.message


class SigmoidNoTangent(Sigmoid):
    def jvp(ctx, t: np.ndarray) -> np.ndarray:  # type: ignore[override]
        (a,) = ctx.saved
        t * a * (1 - a)  # forgot the return


def test_a_tangent_rule_returning_none_is_named() -> None:
    report = check_function(SigmoidNoTangent, {"z": (2, 3)})
    assert report.first_wrong.name == "jvp"
    assert report.diagnosis.kind == "missing" and "jvp returned None" in report.diagnosis.message


@pytest.mark.parametrize("not_an_op", [Sigmoid(), s, int, "Sigmoid"])
def test_something_other_than_a_function_class_is_refused(not_an_op: object) -> None:
    with pytest.raises(TypeError, match="check_function: fn_class must be a subclass"):
        check_function(not_an_op, {"z": (2, 3)})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- second derivatives
class Softplus(Function):
    """out = log(1 + e^z), its backward written once for arrays and Tensors."""

    def forward(ctx, z: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(z)
        return np.logaddexp(0, z)

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved
        return g * rule_math.sigmoid(z)


class SoftplusSavingSigmoid(Softplus):
    """Saves s(z), a value computed in forward: right once, refused under create_graph."""

    def forward(ctx, z: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(s(z))
        return np.logaddexp(0, z)

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (sz,) = ctx.saved
        return g * sz


class SoftplusInNumpy(Softplus):
    """Its backward calls numpy on what it saved: right once, cannot run on Tensors."""

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved
        return g * s(z)


class SoftplusWithConstantSlope(Softplus):
    """Its backward takes z's values as a constant: right once, second derivative 0."""

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (z,) = ctx.saved
        return g * s(rule_math.values(z))


def test_a_backward_written_with_rule_math_has_the_right_second_derivative() -> None:
    report = check_function(Softplus, {"z": (3, 4)})
    assert report.passed, str(report)
    assert report.results["z (second order)"].passed


@pytest.mark.parametrize(
    ("op", "says"),
    [
        (SoftplusSavingSigmoid, "SoftplusSavingSigmoid saved a float array"),
        (SoftplusInNumpy, "raised TypeError"),
        (SoftplusWithConstantSlope, "second derivative (its backward run on Tensors) is wrong"),
    ],
)
def test_a_wrong_second_derivative_is_named(op: type[Function], says: str) -> None:
    report = check_function(op, {"z": (3, 4)})
    assert report.results["z"].passed  # the first derivative is right
    assert report.first_wrong.name == "z (second order)"
    assert report.diagnosis.kind == "second_derivative" and says in report.diagnosis.message
    assert "rule_math" in report.diagnosis.message


def test_second_order_false_skips_the_second_derivative() -> None:
    report = check_function(SoftplusInNumpy, {"z": (3, 4)}, second_order=False)
    assert report.passed and "z (second order)" not in report.results


def test_the_second_derivatives_of_two_inputs_are_checked_each() -> None:
    report = check_function(Power, {"a": (2, 3)}, kwargs={"k": 3.0})
    assert report.passed and report.results["a (second order)"].passed
    both = check_function(ScaledAdd, {"a": (3, 4), "b": (3, 4)})
    assert {"a (second order)", "b (second order)"} <= set(both.results) and both.passed
