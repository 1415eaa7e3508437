"""engine/speed.py: each helper computes what its plain numpy formula computes (only the route
differs), on every shape and dtype an op can hand it, and on Tensors under create_graph."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import arrays, shapes

from tinygrad_edu import Tensor
from tinygrad_edu.engine import speed

DTYPES = [np.float32, np.float64]


@settings(max_examples=40, deadline=None)
@given(a=arrays(shapes(0, 4, 0, 5), lo=-200.0, hi=200.0), dtype=st.sampled_from(DTYPES))
def test_sigmoid_is_the_formula_and_never_warns(a: np.ndarray, dtype: type) -> None:
    a = a.astype(dtype)
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-a))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        got = speed.sigmoid(a)
    assert type(got) is np.ndarray and got.dtype == dtype and got.shape == a.shape
    np.testing.assert_array_equal(got, expected)


def test_sigmoid_of_a_transposed_view_and_of_a_0d_array() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4).T - 5
    np.testing.assert_array_equal(speed.sigmoid(a), 1 / (1 + np.exp(-a)))
    assert speed.sigmoid(np.array(0.0)).shape == () and speed.sigmoid(np.array(0.0)) == 0.5


@settings(max_examples=40, deadline=None)
@given(s=arrays(shapes(0, 3, 0, 4), lo=0.0, hi=1.0), data=st.data())
def test_sigmoid_grad_is_the_formula(s: np.ndarray, data: st.DataObject) -> None:
    g = data.draw(arrays(s.shape))
    np.testing.assert_allclose(speed.sigmoid_grad(s, g), (1 - s) * s * g, rtol=1e-12)


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4), (0, 3), (70, 70), (5000,)])
def test_expand_gives_broadcast_values_of_the_shape(shape: tuple[int, ...]) -> None:
    """Up to speed.COPY_BROADCASTS_UP_TO elements a fresh writable array, above it the view."""
    for g in (np.array(2.5, np.float32).reshape((1,) * len(shape)), np.full(shape[-1:], 1.5)):
        if g.ndim > len(shape):
            continue
        out = speed.expand(g, shape)
        np.testing.assert_array_equal(out, np.broadcast_to(g, shape))
        assert out.dtype == g.dtype
        assert out.flags.writeable == (int(np.prod(shape)) <= speed.COPY_BROADCASTS_UP_TO)


def test_expand_of_a_tensor_records_ops() -> None:
    g = Tensor(np.array([[2.0]]), requires_grad=True)
    out = speed.expand(g, (2, 3))
    assert isinstance(out, Tensor) and out.shape == (2, 3)
    out.sum().backward()
    assert g.grad.item() == 6.0


@settings(max_examples=40, deadline=None)
@given(shape=shapes(1, 3, 0, 6), dtype=st.sampled_from(DTYPES), data=st.data())
def test_sum_rows_is_the_sum_over_the_first_axis(shape: tuple, dtype: type, data: st.DataObject):
    g = data.draw(arrays(shape)).astype(dtype)
    got = speed.sum_rows(g)
    assert got.dtype == dtype and got.shape == shape[1:]
    np.testing.assert_allclose(got, g.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_sum_rows_of_ints_and_of_a_transposed_view() -> None:
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(speed.sum_rows(ints), ints.sum(axis=0))
    view = np.arange(12.0).reshape(3, 4).T
    np.testing.assert_array_equal(speed.sum_rows(view), view.sum(axis=0))


@settings(max_examples=40, deadline=None)
@given(shape=shapes(2, 2, 0, 12), dtype=st.sampled_from(DTYPES), data=st.data())
def test_max_along_and_sum_along_rows_are_the_row_reductions(shape: tuple, dtype: type, data):
    a = data.draw(arrays(shape)).astype(dtype)
    for axis in (1, -1):
        got = speed.sum_along(a, axis)
        np.testing.assert_allclose(got, a.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-5)
        assert got.dtype == dtype
        if shape[1]:
            np.testing.assert_array_equal(speed.max_along(a, axis), a.max(axis=1, keepdims=True))


@settings(max_examples=40, deadline=None)
@given(shape=shapes(1, 3, 1, 4), data=st.data())
def test_max_along_and_sum_along_other_axes_are_numpys(shape: tuple, data) -> None:
    a = data.draw(arrays(shape))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    assume(not (len(shape) == 2 and axis in (1, -1)))  # the rows of 2-D: BLAS, the test above
    np.testing.assert_array_equal(speed.max_along(a, axis), a.max(axis=axis, keepdims=True))
    np.testing.assert_array_equal(speed.sum_along(a, axis), a.sum(axis=axis, keepdims=True))
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(speed.sum_along(ints, 1), ints.sum(axis=1, keepdims=True))


def test_matmul_goes_through_dot_for_a_batch_of_one_and_matmul_for_stacks() -> None:
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((784, 1)), rng.standard_normal((1, 64))
    np.testing.assert_allclose(speed.matmul(x, g), x @ g, rtol=1e-12)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(speed.matmul(a, b), a @ b, rtol=1e-12)


def test_cached_ones_is_a_read_only_vector_kept_for_the_next_call() -> None:
    a = speed.cached_ones(5, np.dtype(np.float32))
    np.testing.assert_array_equal(a, np.ones(5, np.float32))
    assert a.dtype == np.float32 and not a.flags.writeable
    assert speed.cached_ones(5, np.dtype(np.float32)) is a
    assert speed.cached_ones(5, np.dtype(np.float64)).dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(a=arrays(shapes(0, 4, 0, 5), lo=-3.0, hi=3.0), dtype=st.sampled_from([*DTYPES, np.int64]))
def test_relu_and_masked_are_the_formulas(a: np.ndarray, dtype: type) -> None:
    a = a.astype(dtype)
    out, positive = speed.relu(a)
    assert out.dtype == dtype and positive.dtype == bool
    np.testing.assert_array_equal(out, np.maximum(a, 0))
    np.testing.assert_array_equal(positive, a > 0)
    g = np.sin(a).astype(dtype)
    np.testing.assert_array_equal(speed.masked(g, positive), g * positive)


def test_relu_of_a_large_array_keeps_its_memory_layout() -> None:
    a = np.random.default_rng(0).standard_normal((300, 8, 9, 10)).astype(np.float32)
    for x in (a, a.transpose(1, 2, 3, 0), np.ascontiguousarray(a.transpose(1, 2, 3, 0))):
        out, positive = speed.relu(x)
        assert out.strides == np.empty_like(x).strides
        np.testing.assert_array_equal(out, np.maximum(x, 0))
        np.testing.assert_array_equal(speed.masked(x, positive), x * (x > 0))


def test_masked_of_a_tensor_records_ops() -> None:
    g = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = speed.masked(g, np.array([True, False, True]))
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(g.grad, [1.0, 0.0, 1.0])
