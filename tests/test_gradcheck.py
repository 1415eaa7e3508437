"""gradcheck itself: it passes correct ops, fails wrong ones with a useful message, its Jacobians
have the documented layout and match closed forms, and it leaves the caller's tensors alone."""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Function, Tensor
from tinygrad_edu.fused import CrossEntropy
from tinygrad_edu.gradcheck import (
    GradcheckError,
    gradcheck,
    gradgradcheck,
    jacobian,
    numerical_jacobian,
)


class WrongSin(Function):
    """out = sin(a), with a deliberately wrong derivative: sin(a) instead of cos(a)."""

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * np.sin(a)


class SlightlyWrongSquare(Function):
    """out = a^2 with derivative 2a (1 + 1e-4): wrong by a relative 1e-4."""

    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * 2 * a * (1 + 1e-4)


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def numbers_in(message: str) -> list[float]:
    return [float(m) for m in NUMBER.findall(message)]


def mentions_close(message: str, value: float, rtol: float) -> bool:
    return any(np.isclose(n, value, rtol=rtol, atol=0) for n in numbers_in(message))


def mentions_index(message: str, index: int | tuple[int, ...]) -> bool:
    """The message shows the element as a flat index ``[7]`` / ``(7,)`` or a multi-index."""
    parts = (index,) if isinstance(index, int) else index
    inner = r"\s*,\s*".join(str(p) for p in parts)
    return re.search(rf"[\[(]\s*{inner}\s*,?\s*[\])]", message) is not None


# --------------------------------------------------------------------------- passes correct ops
@pytest.mark.parametrize(
    "f",
    [
        lambda x: x.sigmoid(),
        lambda x: (x * x).sum(),
        lambda x: x.tanh() @ x.T,
        lambda x: x.log_softmax(axis=0),
        lambda x: CrossEntropy.apply(x, targets=np.array([1, 0, 2])),
    ],
)
def test_gradcheck_passes_correct_ops(f: Any) -> None:
    x = np.random.default_rng(0).standard_normal((3, 3))
    assert gradcheck(f, [x]) is True


def test_gradcheck_passes_with_several_inputs_and_accepts_tensors() -> None:
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((2, 3)))
    b = Tensor(rng.standard_normal((3,)), requires_grad=True)
    assert gradcheck(lambda x, y: (x * y).exp() @ y, [a, b]) is True


# --------------------------------------------------------------------------- fails wrong ones
def test_gradcheck_fails_a_wrong_derivative_and_says_where() -> None:
    x = np.array([0.3, 1.2, -0.4, 2.5, 0.9, -1.3])
    y = np.array([1.0, -2.0, 0.5, 1.5, -1.0, 2.0])

    # input 0 is fine (d/dx of x * sin y), input 1 goes through the wrong derivative
    with pytest.raises(GradcheckError) as excinfo:
        gradcheck(lambda a, b: a * WrongSin.apply(b), [x, y])
    message = str(excinfo.value)

    analytic = x * np.sin(y)  # the diagonal of the (wrong) Jacobian w.r.t. y
    numeric = x * np.cos(y)
    excess = np.abs(analytic - numeric) - (1e-5 + 1e-3 * np.abs(numeric))
    worst = int(np.argmax(excess))
    assert re.search(r"input\D{0,3}1\b", message), message
    assert not re.search(r"input\D{0,3}0\b", message), message
    assert mentions_index(message, worst), message
    assert mentions_close(message, analytic[worst], rtol=1e-6), message
    assert mentions_close(message, numeric[worst], rtol=1e-5), message
    relative = abs(analytic[worst] - numeric[worst]) / abs(numeric[worst])
    assert "relative" in message.lower()
    assert mentions_close(message, relative, rtol=1e-2), message


def test_gradcheck_names_the_element_of_a_matrix_input() -> None:
    x = np.array([[0.1, 0.2, 0.3], [0.4, 2.0, 0.6]])  # worst at (1, 1): flat index 4
    with pytest.raises(GradcheckError) as excinfo:
        gradcheck(lambda a: WrongSin.apply(a).sum(), [x])
    message = str(excinfo.value)
    assert re.search(r"input\D{0,3}0\b", message), message
    assert mentions_index(message, 4) or mentions_index(message, (1, 1)), message
    assert mentions_close(message, np.sin(2.0), rtol=1e-6), message
    assert mentions_close(message, np.cos(2.0), rtol=1e-5), message


def test_gradcheck_tolerances_are_used() -> None:
    x = np.array([0.5, 1.0, -2.0])
    assert gradcheck(lambda a: SlightlyWrongSquare.apply(a), [x]) is True  # 1e-4 < rtol=1e-3
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: SlightlyWrongSquare.apply(a), [x], atol=0.0, rtol=1e-5)


def test_gradcheck_fails_when_finite_differences_are_not_finite() -> None:
    """At x = 1e-7 the central difference steps to x - 1e-6 < 0, where log is NaN: the
    backward value 1e7 is then unverified, and gradcheck must not report agreement."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(GradcheckError):
            gradcheck(lambda a: a.log(), [np.array([1.0, 1e-7])])


def test_gradcheck_fails_when_backward_is_not_finite() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(GradcheckError):
            gradcheck(lambda a: a.sqrt(), [np.array([1.0, 0.0])])


# --------------------------------------------------------------------------- Jacobian layout
def add_then_sum_first_axis(a: Tensor, b: Tensor) -> Tensor:
    total = a + b
    return total.sum(axis=0) if total.ndim else total


FUNCTIONS = {
    "mul": lambda a, b: a * b,
    "add then sum axis 0": add_then_sum_first_axis,
    "exp(a) * b summed": lambda a, b: (a.exp() * b).sum(),
    "only a": lambda a, b: a * 2.0,
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@given(pair=S.broadcastable_pairs(max_dims=3), data=st.data())
def test_jacobian_shapes_and_agreement(name: str, pair: tuple, data: st.DataObject) -> None:
    f = FUNCTIONS[name]
    a = data.draw(S.arrays(pair[0]), label="a")
    b = data.draw(S.arrays(pair[1]), label="b")
    out_size = f(Tensor(a), Tensor(b)).data.size
    analytic = jacobian(f, [a, b])
    numeric = numerical_jacobian(f, [a, b])
    for jacs in (analytic, numeric):
        assert isinstance(jacs, list | tuple) and len(jacs) == 2
        assert [j.shape for j in jacs] == [(out_size, a.size), (out_size, b.size)]
        assert all(j.ndim == 2 for j in jacs)
    for ja, jn in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(ja, jn, rtol=1e-6, atol=1e-7)
    if name == "only a":
        assert not np.any(analytic[1]) and not np.any(numeric[1])


def _both(f: Any, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    return [jacobian(f, inputs), numerical_jacobian(f, inputs)]


def test_jacobians_of_a_matmul_are_kronecker_products() -> None:
    """out = x W, x (m, k), W (k, n), all flattened in C order:
    d out / d x = kron(I_m, W^T) (mn x mk),  d out / d W = kron(x, I_n) (mn x kn)."""
    rng = np.random.default_rng(2)
    m, k, n = 3, 4, 2
    x, w = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    for jx, jw in _both(lambda a, b: a @ b, [x, w]):
        np.testing.assert_allclose(jx, np.kron(np.eye(m), w.T), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(jw, np.kron(x, np.eye(n)), rtol=1e-7, atol=1e-9)


def test_jacobians_of_simple_maps() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    for jx, jy in _both(lambda a, b: a * b, [x, y]):  # elementwise: diagonal
        np.testing.assert_allclose(jx, np.diag(y.ravel()), atol=1e-9)
        np.testing.assert_allclose(jy, np.diag(x.ravel()), atol=1e-9)
    for (js,) in _both(lambda a: a.sum(), [x]):  # a row of ones
        np.testing.assert_allclose(js, np.ones((1, 6)), atol=1e-9)
    col, row = rng.standard_normal((3, 1)), rng.standard_normal(4)
    for jc, jr in _both(lambda a, b: a + b, [col, row]):  # (3, 1) + (4,) -> (3, 4)
        np.testing.assert_allclose(jc, np.kron(np.eye(3), np.ones((4, 1))), atol=1e-9)
        np.testing.assert_allclose(jr, np.kron(np.ones((3, 1)), np.eye(4)), atol=1e-9)
    for (jt,) in _both(lambda a: a.T, [x]):  # a permutation matrix
        np.testing.assert_allclose(jt, np.eye(6)[np.arange(6).reshape(2, 3).T.ravel()], atol=1e-9)


def test_numerical_jacobian_uses_eps_and_central_differences() -> None:
    """For x^3 the central difference is exactly 3 x^2 + eps^2 (the forward one: 3x^2 + 3x eps)."""
    x = np.array([1.0, 2.0])
    (jac,) = numerical_jacobian(lambda a: a**3, [x], eps=0.1)
    np.testing.assert_allclose(jac, np.diag(3 * x**2 + 0.01), rtol=1e-9)
    (jac,) = numerical_jacobian(lambda a: a**3, [x])
    np.testing.assert_allclose(jac, np.diag(3 * x**2), rtol=1e-7)


def test_numerical_jacobian_is_float64_for_float32_inputs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (jac,) = numerical_jacobian(lambda a: a * 2.0, [np.ones(3, dtype=np.float32)], eps=1e-2)
    assert jac.dtype == np.float64
    np.testing.assert_allclose(jac, 2 * np.eye(3), rtol=1e-4)


@pytest.mark.parametrize(
    "layout",
    [
        lambda x: x.T,  # Fortran-ordered view: what W.T or a transposed batch looks like
        np.asfortranarray,
        lambda x: x[:, ::2],  # strided slice
        lambda x: np.broadcast_to(x[:1], x.shape),  # read-only
    ],
    ids=["transposed", "fortran", "strided", "read-only"],
)
def test_inputs_that_are_not_c_contiguous(layout: Any) -> None:
    """Finite differences must perturb the input f sees, whatever the memory layout."""
    x = layout(np.arange(1.0, 13.0).reshape(3, 4))
    (jac,) = numerical_jacobian(lambda a: a * a, [x])
    np.testing.assert_allclose(jac, np.diag(2 * x.ravel()), rtol=1e-7, atol=1e-9)
    assert gradcheck(lambda a: a * a, [x]) is True
    assert gradcheck(lambda a: a * a, [Tensor(x)]) is True


def test_scalar_input_and_output() -> None:
    for (j,) in _both(lambda a: a * a, [np.array(3.0)]):
        assert j.shape == (1, 1)
        np.testing.assert_allclose(j, [[6.0]], rtol=1e-7)


# --------------------------------------------------------------------------- warnings, inputs
@pytest.mark.parametrize(
    "inputs",
    [
        [np.ones(3, dtype=np.float32)],
        [Tensor([1.0, 2.0])],  # Python floats: float32
        [np.ones(2), np.ones(2, dtype=np.float32)],
    ],
)
def test_gradcheck_warns_for_inputs_that_are_not_float64(inputs: list) -> None:
    with pytest.warns(UserWarning, match="float"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # the point here is the warning; float32 differences may well be off
        with contextlib.suppress(GradcheckError):
            gradcheck(lambda *xs: sum((x * x).sum() for x in xs), inputs, atol=1e-2, rtol=1e-1)


def test_gradcheck_does_not_warn_for_float64() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda a: (a * a).sum(), [np.ones(3)]) is True


@pytest.mark.parametrize("check", [gradcheck, jacobian, numerical_jacobian])
def test_callers_tensors_are_not_modified(check: Any) -> None:
    rng = np.random.default_rng(4)
    a = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(3))
    raw = rng.standard_normal(3)
    sentinel = np.full((2, 3), 7.0)
    a.grad = sentinel
    before = [a.data.copy(), b.data.copy(), raw.copy()]
    data_objects = [a.data, b.data]

    check(lambda x, y, z: (x * y + z).tanh(), [a, b, raw])

    for now, then in zip([a.data, b.data, raw], before, strict=True):
        np.testing.assert_array_equal(now, then)
    assert a.data is data_objects[0] and b.data is data_objects[1]
    assert a.grad is sentinel and np.all(sentinel == 7.0)
    assert b.grad is None
    assert a.requires_grad is True and b.requires_grad is False
    assert a._ctx is None and b._ctx is None


# --------------------------------------------------------------------------- gradgradcheck
def test_gradgradcheck_passes_correct_second_derivatives() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert gradgradcheck(lambda x, y: ((x * y).sigmoid() * x).sum(axis=1), [a, b]) is True
    assert gradgradcheck(lambda x: x.tanh() @ x.T, [a], grad_outputs=np.ones((3, 3))) is True


def test_gradgradcheck_names_a_wrong_second_derivative() -> None:
    """A backward that is right to first order but treats a saved input as a constant."""

    class Cube(Function):
        def forward(ctx, a: np.ndarray) -> np.ndarray:
            ctx.save_for_backward(a)
            return a**3

        def backward(ctx, g: Any) -> Any:
            (a,) = ctx.saved
            return g * 3 * np.asarray(a.data if isinstance(a, Tensor) else a) ** 2

    x = np.array([0.5, -1.0, 2.0])
    assert gradcheck(lambda t: Cube.apply(t), [x])  # first order: right
    with pytest.raises(GradcheckError, match=r"gradgradcheck: input 0 .* d g0\[2\] / d x\[2\]"):
        gradgradcheck(lambda t: Cube.apply(t), [x])


def test_gradgradcheck_warns_about_float32() -> None:
    with pytest.warns(UserWarning, match="gradgradcheck: input 0 is float32"):
        gradgradcheck(lambda t: t * t, [np.ones(2, np.float32)], atol=1e-1, rtol=1e-1)
