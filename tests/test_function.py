"""The op protocol's contract: what a backward may use, so that create_graph never differentiates
a value computed in forward as if it were a constant.

The case that found it: a softplus saving sigmoid(a). Its first derivative is right, and its
second derivative used to come out silently wrong (the saved s a constant: 2 everywhere for
softplus(x).sum() + (x x).sum(), where s (1 - s) + 2 is right)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Function, Tensor, rule_math
from tinygrad_edu.autograd import grad
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck

X = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])


def s(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


class SoftplusSavingSigmoid(Function):
    """out = log(1 + e^a), saving s(a), a value computed in forward: refused under create_graph."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(s(a))
        return np.logaddexp(0, a)

    def backward(ctx, g: Any) -> Any:
        (sa,) = ctx.saved
        return g * sa


class SoftplusKeepingSigmoid(SoftplusSavingSigmoid):
    """The same, with s(a) kept as an attribute of ctx instead of saved."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.s = s(a)
        return np.logaddexp(0, a)

    def backward(ctx, g: Any) -> Any:
        return g * ctx.s


class Softplus(Function):
    """The contract kept: the input saved, s(a) computed in backward with rule_math."""

    def forward(ctx, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.logaddexp(0, a)

    def backward(ctx, g: Any) -> Any:
        (a,) = ctx.saved
        return g * rule_math.sigmoid(a)


def second_derivative(op: type[Function], x: np.ndarray) -> np.ndarray:
    """d/dx of the gradient of softplus(x).sum() + (x x).sum(): s (1 - s) + 2 elementwise."""
    t = Tensor(x, requires_grad=True)
    (first,) = grad(op.apply(t).sum() + (t * t).sum(), t, create_graph=True)
    (second,) = grad(first.sum(), t)
    return second.data


@pytest.mark.parametrize("op", [SoftplusSavingSigmoid, SoftplusKeepingSigmoid, Softplus])
def test_every_softplus_has_the_right_first_derivative(op: type[Function]) -> None:
    assert gradcheck(lambda t: op.apply(t), [X])


def test_the_softplus_computing_its_sigmoid_in_backward_has_the_right_second_derivative() -> None:
    np.testing.assert_allclose(second_derivative(Softplus, X), s(X) * (1 - s(X)) + 2, rtol=1e-12)
    assert gradgradcheck(lambda t: Softplus.apply(t), [X])


@pytest.mark.parametrize(
    ("op", "says"),
    [
        (SoftplusSavingSigmoid, "saved a float array of shape (5,) computed in forward"),
        (SoftplusKeepingSigmoid, "keeps a float array of shape (5,) in ctx.s"),
    ],
)
def test_a_value_computed_in_forward_is_refused_naming_the_op_and_the_fix(
    op: type[Function], says: str
) -> None:
    with pytest.raises(RuntimeError) as error:
        second_derivative(op, X)
    message = str(error.value)
    assert f"{op.__name__} {says}" in message
    assert "ctx.save_for_backward(a, out)" in message and "rule_math" in message


def test_masks_and_indices_stay_constants_under_create_graph() -> None:
    """ReLU saves a > 0 and Max a == max: booleans, constants with no derivative."""
    x = Tensor(np.array([[1.0, -2.0], [3.0, 0.5]]), requires_grad=True)
    (first,) = grad((x * x.relu()).sum() + x.max(axis=1).sum(), x, create_graph=True)
    (second,) = grad(first.sum(), x)
    np.testing.assert_array_equal(second.data, 2.0 * (x.data > 0))


def test_an_input_used_twice_stands_as_itself_each_time() -> None:
    """Mul(x, x) saved x's array twice: each stands as x (d^2 (x x) / dx^2 = 2)."""
    x = Tensor(np.array([1.5, -2.0]), requires_grad=True)
    (first,) = grad((x * x).sum(), x, create_graph=True)
    (second,) = grad(first.sum(), x)
    np.testing.assert_array_equal(second.data, [2.0, 2.0])
