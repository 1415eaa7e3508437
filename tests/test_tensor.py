"""Tensor construction, dtype rules, attributes, conversion, repr and operator dispatch."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.fused import CrossEntropy


# --------------------------------------------------------------------------- construction, dtype
@pytest.mark.parametrize("data", [1.5, 2, [1.0, 2.0], [1, 2, 3], [[1.5], [2.5]], ((1, 2), (3, 4))])
def test_python_data_becomes_float32(data: Any) -> None:
    t = Tensor(data)
    assert t.dtype == np.float32
    assert isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_float_arrays_keep_their_dtype(dtype: type) -> None:
    arr = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)
    t = Tensor(arr, requires_grad=True)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, arr)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_numpy_arrays_stay_integer(dtype: type) -> None:
    t = Tensor(np.array([0, 3, 1], dtype=dtype))
    assert t.dtype == dtype
    assert not t.requires_grad


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        ([1, 2], np.float64),
        (1.5, np.float64),
        (np.array([1.0, 2.0]), np.float32),
        (np.array([1.0, 2.0], dtype=np.float32), np.float64),
        ([1, 2], np.int64),
    ],
)
def test_explicit_dtype_is_respected(data: Any, dtype: type) -> None:
    assert Tensor(data, dtype=dtype).dtype == dtype


def test_tensor_from_tensor_copies_its_values() -> None:
    src = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    t = Tensor(src)
    assert t.dtype == np.float64 and t._ctx is None
    np.testing.assert_array_equal(t.data, src.data)


# --------------------------------------------------------------------------- attributes
def test_attributes() -> None:
    arr = np.arange(6.0).reshape(2, 3)
    t = Tensor(arr, requires_grad=True)
    assert t.data is not None and np.array_equal(t.data, arr)
    assert t.grad is None
    assert t.requires_grad is True
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert t.dtype == np.float64
    assert Tensor(arr).requires_grad is False
    assert Tensor(3.0).shape == () and Tensor(3.0).ndim == 0


def test_T_reverses_the_axes() -> None:
    m = np.arange(6.0).reshape(2, 3)
    assert isinstance(Tensor(m).T, Tensor)
    np.testing.assert_array_equal(Tensor(m).T.data, m.T)
    c = np.arange(24.0).reshape(2, 3, 4)
    assert Tensor(c).T.shape == (4, 3, 2)
    np.testing.assert_array_equal(Tensor(c).T.data, c.T)
    v = np.arange(3.0)
    np.testing.assert_array_equal(Tensor(v).T.data, v)


def test_grad_after_backward_has_the_data_shape() -> None:
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    (t * 2.0).sum().backward()
    assert t.grad.shape == t.shape
    t.zero_grad()
    assert t.grad is None


@pytest.mark.parametrize("data", [3.5, [3.5], [[3.5]], np.array([[[3.5]]])])
def test_item_of_one_element(data: Any) -> None:
    value = Tensor(data).item()
    assert isinstance(value, float) and value == 3.5


@pytest.mark.parametrize("shape", [(2,), (0,), (1, 2)])
def test_item_of_several_elements_is_an_error(shape: tuple) -> None:
    with pytest.raises(ValueError, match="item"):
        Tensor(np.ones(shape)).item()


def test_numpy_returns_the_values() -> None:
    arr = np.arange(4.0)
    out = Tensor(arr).numpy()
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, arr)


ZERO_DIM_RESULTS = {
    "mul": lambda: Tensor(2.0) * 3.0,
    "exp": lambda: Tensor(2.0).exp(),
    "neg": lambda: -Tensor(np.array(2.0)),
    "index 1-d": lambda: Tensor([1.0, 2.0])[0],
    "index 2-d": lambda: Tensor(np.ones((2, 2)))[1, 0],
    "dot 1-d": lambda: Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0]),
    "sum": lambda: Tensor([1.0, 2.0]).sum(),
    "max": lambda: Tensor([1.0, 2.0]).max(),
}


@pytest.mark.parametrize("make", ZERO_DIM_RESULTS.values(), ids=ZERO_DIM_RESULTS.keys())
def test_zero_dim_results_are_arrays(make: Any) -> None:
    """A 0-d result holds a 0-d ndarray like any other tensor, not a numpy scalar."""
    out = make()
    assert out.shape == ()
    assert isinstance(out.data, np.ndarray), type(out.data)
    assert isinstance(out.numpy(), np.ndarray), type(out.numpy())


def test_zero_dim_gradients_are_arrays() -> None:
    x = Tensor(np.array(2.0), requires_grad=True)
    (x * x).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == ()
    assert x.grad == 4.0


# --------------------------------------------------------------------------- repr
def test_repr_of_a_small_tensor_shows_its_values() -> None:
    text = repr(Tensor([1.5, -2.25, 3.0]))
    assert text.startswith("Tensor(")
    for value in ("1.5", "-2.25", "3."):
        assert value in text


def test_repr_of_a_large_tensor_shows_its_shape() -> None:
    text = repr(Tensor(np.zeros((100, 30))))
    assert "(100, 30)" in text
    assert len(text) < 200


def test_repr_shows_the_name_and_grad_state() -> None:
    assert "weight" in repr(Tensor([1.0, 2.0], requires_grad=True, name="weight"))
    assert "W1" in repr(Tensor(np.zeros((50, 50)), name="W1"))
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))


def test_repr_of_a_zero_dim_result() -> None:
    assert "6" in repr(Tensor(2.0) * 3.0)


# --------------------------------------------------------------------------- operator dispatch
LEFT_OPERANDS = {
    "radd": (lambda c, t: c + t, np.add),
    "rsub": (lambda c, t: c - t, np.subtract),
    "rmul": (lambda c, t: c * t, np.multiply),
    "rdiv": (lambda c, t: c / t, np.divide),
    "rpow": (lambda c, t: c**t, np.power),
}


@pytest.mark.parametrize("name", list(LEFT_OPERANDS))
@pytest.mark.parametrize(
    "left", [2, 2.5, np.array([1.5, 2.0, 3.0]), np.array([[2.0], [0.5]]), np.float64(1.5)]
)
def test_reflected_operators(name: str, left: Any) -> None:
    op, np_op = LEFT_OPERANDS[name]
    x = np.array([0.5, 1.0, 2.0])
    out = op(left, Tensor(x, requires_grad=True))
    assert isinstance(out, Tensor), type(out)
    assert out.requires_grad
    np.testing.assert_allclose(out.data, np_op(left, x), rtol=1e-12)


def test_ndarray_matmul_tensor() -> None:
    m = np.arange(6.0).reshape(2, 3)
    v = np.array([1.0, -1.0, 2.0])
    out = m @ Tensor(v, requires_grad=True)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, m @ v)


ALL_SCALAR_OPS = {
    "t + 2": lambda t: t + 2,
    "2 + t": lambda t: 2 + t,
    "t - 0.5": lambda t: t - 0.5,
    "1 - t": lambda t: 1 - t,
    "t * 3": lambda t: t * 3,
    "0.5 * t": lambda t: 0.5 * t,
    "t / 7": lambda t: t / 7,
    "3 / t": lambda t: 3 / t,
    "t ** 2": lambda t: t**2,
    "t ** 0.5": lambda t: t**0.5,
    "2 ** t": lambda t: 2**t,
    "-t": lambda t: -t,
    "mean": lambda t: t.mean(),
    "mean axis": lambda t: t.mean(axis=1),
    "softmax": lambda t: t.softmax(),
    "log_softmax": lambda t: t.log_softmax(axis=0),
    "sigmoid": lambda t: t.sigmoid(),
    "exp/log/sqrt/tanh/relu": lambda t: t.exp().log().sqrt().tanh().relu(),
    "max": lambda t: t.max(axis=0),
    "reshape/T/flatten": lambda t: t.reshape(-1, 2).T.flatten(),
    "index": lambda t: t[np.array([0, 1, 1])],
    "matmul": lambda t: t @ t.T,
    "cross_entropy": lambda t: CrossEntropy.apply(t, targets=np.array([0, 2])),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ALL_SCALAR_OPS))
def test_dtype_is_preserved_through_ops(name: str, dtype: type) -> None:
    """float32 stays float32 (no silent upcast from Python numbers), float64 stays float64,
    in the forward values and in the gradients."""
    x = Tensor(np.array([[0.5, 1.0, 2.0], [1.5, 2.5, 0.25]], dtype=dtype), requires_grad=True)
    out = ALL_SCALAR_OPS[name](x)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype=dtype))
    assert x.grad.dtype == dtype


@given(data=st.data())
def test_float32_matches_float64_forward(data: st.DataObject) -> None:
    pair = data.draw(S.broadcastable_pairs(), label="shapes")
    a = data.draw(S.arrays(pair[0]), label="a")
    b = data.draw(S.away_from_zero(pair[1], lo=0.5), label="b")
    for op in (operator.add, operator.sub, operator.mul, operator.truediv):
        out32 = op(Tensor(a.astype(np.float32)), Tensor(b.astype(np.float32)))
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32.data, op(a, b), rtol=1e-5, atol=1e-5)
        out64 = op(Tensor(a), Tensor(b))
        assert out64.dtype == np.float64
