"""Every primitive op (and the composites built from them in tensor.py): (a) its forward equals
numpy's, (b) its backward equals finite differences. The fused ops: test_fused.py.

Gradients are checked in float64 with ``gradcheck`` (full Jacobians: backward with one-hot
upstream gradients against central differences) over random shapes, broadcast pairs and
matmul shapes from ``strategies.py``. Values are kept away from kinks, poles and overflow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Tensor
from tinygrad_edu.engine.backprop import topological_sort
from tinygrad_edu.gradcheck import gradcheck, jacobian, numerical_jacobian

TIGHT = {"rtol": 1e-12, "atol": 1e-12}  # float64 forward against numpy


def assert_forward(out: Tensor, expected: np.ndarray, **tol: float) -> None:
    assert isinstance(out, Tensor)
    expected = np.asarray(expected)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, **(tol or TIGHT))


def assert_grads(f: Callable[..., Tensor], *inputs: np.ndarray) -> None:
    """Backward's Jacobians equal central differences, for every input (float64)."""
    assert all(np.asarray(x).dtype == np.float64 for x in inputs)
    assert gradcheck(f, list(inputs)) is True


# --------------------------------------------------------------------------- binary, broadcasting
BINARY = {
    # name: (tensor op, numpy op, strategy for a, strategy for b)
    "add": (lambda a, b: a + b, np.add, S.arrays, S.arrays),
    "sub": (lambda a, b: a - b, np.subtract, S.arrays, S.arrays),
    "mul": (lambda a, b: a * b, np.multiply, S.arrays, S.arrays),
    "div": (lambda a, b: a / b, np.divide, S.arrays, lambda s: S.away_from_zero(s, lo=0.5)),
    "pow": (lambda a, b: a**b, np.power, S.positive, lambda s: S.arrays(s, -2.0, 2.0)),
}


@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_op_broadcasting(name: str, data: st.DataObject) -> None:
    op, np_op, strat_a, strat_b = BINARY[name]
    shape_a, shape_b = data.draw(S.broadcastable_pairs(), label="shapes")
    a = data.draw(strat_a(shape_a), label="a")
    b = data.draw(strat_b(shape_b), label="b")
    assert_forward(op(Tensor(a), Tensor(b)), np_op(a, b))
    assert_grads(op, a, b)


@pytest.mark.parametrize("name", ["mul", "div", "pow"])
@given(data=st.data())
def test_binary_op_one_side_constant(name: str, data: st.DataObject) -> None:
    """The paths where only one operand requires grad (the other's gradient is skipped)."""
    op, _, strat_a, strat_b = BINARY[name]
    shape_a, shape_b = data.draw(S.broadcastable_pairs(), label="shapes")
    a = data.draw(strat_a(shape_a), label="a")
    b = data.draw(strat_b(shape_b), label="b")
    assert_grads(lambda x: op(x, Tensor(b)), a)
    assert_grads(lambda y: op(Tensor(a), y), b)


# --------------------------------------------------------------------------- numbers and arrays
REFLECTED = {
    # name: (tensor fn, numpy fn, value strategy of the tensor operand)
    "t + 2": (lambda t: t + 2, lambda x: x + 2, S.arrays),
    "2 + t": (lambda t: 2 + t, lambda x: 2 + x, S.arrays),
    "t - 1.5": (lambda t: t - 1.5, lambda x: x - 1.5, S.arrays),
    "2 - t": (lambda t: 2 - t, lambda x: 2 - x, S.arrays),
    "3 * t": (lambda t: 3 * t, lambda x: 3 * x, S.arrays),
    "t / 4": (lambda t: t / 4, lambda x: x / 4, S.arrays),
    "3 / t": (lambda t: 3 / t, lambda x: 3 / x, lambda s: S.away_from_zero(s, lo=0.5)),
    "t ** 2": (lambda t: t**2, lambda x: x**2, S.arrays),
    "t ** 3": (lambda t: t**3, lambda x: x**3, S.arrays),
    "t ** 0.5": (lambda t: t**0.5, np.sqrt, S.positive),
    "t ** -1": (lambda t: t**-1, lambda x: x**-1.0, lambda s: S.away_from_zero(s, lo=0.5)),
    "2 ** t": (lambda t: 2**t, lambda x: 2**x, S.arrays),
    "-t": (lambda t: -t, np.negative, S.arrays),
}


@pytest.mark.parametrize("name", list(REFLECTED))
@given(data=st.data())
def test_python_number_operands(name: str, data: st.DataObject) -> None:
    op, np_op, strat = REFLECTED[name]
    x = data.draw(strat(S.shapes()), label="x")
    assert_forward(op(Tensor(x)), np_op(x))
    assert_grads(op, x)


ARRAY_LEFT = {
    "ndarray + t": (lambda c, t: c + t, np.add, S.arrays, S.arrays),
    "ndarray - t": (lambda c, t: c - t, np.subtract, S.arrays, S.arrays),
    "ndarray * t": (lambda c, t: c * t, np.multiply, S.arrays, S.arrays),
    "ndarray / t": (
        lambda c, t: c / t,
        np.divide,
        S.arrays,
        lambda s: S.away_from_zero(s, lo=0.5),
    ),
    "ndarray ** t": (lambda c, t: c**t, np.power, S.positive, lambda s: S.arrays(s, -2, 2)),
}


@pytest.mark.parametrize("name", list(ARRAY_LEFT))
@given(data=st.data())
def test_ndarray_left_operand(name: str, data: st.DataObject) -> None:
    """``ndarray <op> Tensor`` goes to the Tensor's reflected operator and broadcasts."""
    op, np_op, strat_c, strat_t = ARRAY_LEFT[name]
    shape_c, shape_t = data.draw(S.broadcastable_pairs(), label="shapes")
    c = data.draw(strat_c(shape_c), label="c")
    x = data.draw(strat_t(shape_t), label="x")
    assert_forward(op(c, Tensor(x)), np_op(c, x))
    assert_grads(lambda t: op(c, t), x)


def test_div_by_python_zero_matches_numpy() -> None:
    x = np.array([1.0, -2.0, 0.5])
    with np.errstate(divide="ignore"):
        expected = x / 0.0
        out = Tensor(x) / 0.0
    assert_forward(out, expected)


# --------------------------------------------------------------------------- unary
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


UNARY = {
    # name: (tensor fn, numpy reference, value strategy)
    "exp": (Tensor.exp, np.exp, S.arrays),
    "log": (Tensor.log, np.log, S.positive),
    "sqrt": (Tensor.sqrt, np.sqrt, S.positive),
    "sigmoid": (Tensor.sigmoid, _sigmoid, lambda s: S.arrays(s, -6.0, 6.0)),
    "relu": (Tensor.relu, lambda x: np.maximum(x, 0), S.away_from_zero),
    "tanh": (Tensor.tanh, np.tanh, S.arrays),
    "neg": (Tensor.__neg__, np.negative, S.arrays),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_op(name: str, data: st.DataObject) -> None:
    op, ref, strat = UNARY[name]
    x = data.draw(strat(S.shapes()), label="x")
    assert_forward(op(Tensor(x)), ref(x))
    assert_grads(op, x)


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_on_a_zero_dim_tensor(name: str) -> None:
    """Scalars (0-d tensors, e.g. a loss) go through every unary op, forward and backward."""
    op, ref, _ = UNARY[name]
    x = Tensor(np.array(0.7), requires_grad=True)
    out = op(x)
    assert out.shape == ()
    np.testing.assert_allclose(out.data, ref(np.array(0.7)), rtol=1e-12)
    out.backward()
    assert x.grad.shape == ()
    assert_grads(op, np.array(0.7))


def test_relu_gradient_is_a_step() -> None:
    x = Tensor(np.array([-2.0, -0.1, 0.1, 3.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0, 1.0])


# --------------------------------------------------------------------------- reductions
@given(shape_axis=S.shape_and_axes(), keepdims=st.booleans(), data=st.data())
def test_sum(shape_axis: tuple, keepdims: bool, data: st.DataObject) -> None:
    shape, axis = shape_axis
    x = data.draw(S.arrays(shape), label="x")
    assert_forward(Tensor(x).sum(axis=axis, keepdims=keepdims), np.sum(x, axis, keepdims=keepdims))
    assert_grads(lambda t: t.sum(axis=axis, keepdims=keepdims), x)


@given(shape_axis=S.shape_and_axes(), keepdims=st.booleans(), data=st.data())
def test_mean(shape_axis: tuple, keepdims: bool, data: st.DataObject) -> None:
    shape, axis = shape_axis
    x = data.draw(S.arrays(shape), label="x")
    expected = np.mean(x, axis, keepdims=keepdims)
    assert_forward(Tensor(x).mean(axis=axis, keepdims=keepdims), expected)
    assert_grads(lambda t: t.mean(axis=axis, keepdims=keepdims), x)


@given(shape_axis=S.shape_and_axes(), keepdims=st.booleans(), data=st.data())
def test_max_without_ties(shape_axis: tuple, keepdims: bool, data: st.DataObject) -> None:
    shape, axis = shape_axis
    x = data.draw(S.distinct(shape), label="x")
    assert_forward(Tensor(x).max(axis=axis, keepdims=keepdims), np.max(x, axis, keepdims=keepdims))
    assert_grads(lambda t: t.max(axis=axis, keepdims=keepdims), x)


def test_max_ties_split_the_gradient_evenly() -> None:
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.5, 0.5])

    y = Tensor(np.array([[3.0, 1.0], [3.0, 3.0]]), requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad, [[1 / 3, 0.0], [1 / 3, 1 / 3]])

    z = Tensor(np.array([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]]), requires_grad=True)
    (z.max(axis=1) * Tensor(np.array([10.0, 4.0]))).sum().backward()
    np.testing.assert_allclose(z.grad, [[5.0, 5.0, 0.0], [0.0, 2.0, 2.0]])


@given(shape_axis=S.shape_and_axes(), data=st.data())
def test_max_ties_property(shape_axis: tuple, data: st.DataObject) -> None:
    """Each reduced slice passes its whole upstream gradient on, in equal shares to its maxima."""
    shape, axis = shape_axis
    x = data.draw(S.with_ties(shape), label="x")
    t = Tensor(x, requires_grad=True)
    out = t.max(axis=axis, keepdims=True)
    upstream = np.arange(1.0, out.size + 1).reshape(out.shape)
    out.backward(upstream)
    grad = t.grad
    is_max = x == np.max(x, axis=axis, keepdims=True)
    assert np.all(grad[~is_max] == 0)
    np.testing.assert_allclose(np.sum(grad, axis=axis, keepdims=True), upstream, rtol=1e-12)
    # all maxima of one slice get the same share
    share = np.where(is_max, grad, np.inf).min(axis=axis, keepdims=True)
    np.testing.assert_allclose(np.where(is_max, grad, share), np.broadcast_to(share, x.shape))


@pytest.mark.parametrize("method", ["sum", "mean", "max"])
def test_reductions_accept_numpy_integer_axes(method: str) -> None:
    """Axes often come from numpy (np.argmax, np.arange, shapes); numpy accepts np.int64."""
    x = np.array([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]])
    for axis in (np.int64(1), np.int64(-2), (np.int64(0), np.int64(1))):
        out = getattr(Tensor(x), method)(axis=axis)
        assert_forward(out, getattr(np, method)(x, axis=axis))


# --------------------------------------------------------------------------- shapes
@st.composite
def reshape_target(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Another shape with the same number of elements, with one side possibly written -1."""
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(["flat", "reversed", "split", "same"]))
    target = {
        "flat": [size],
        "reversed": list(shape[::-1]),
        "split": [1, size, 1],
        "same": list(shape),
    }[kind]
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


@given(data=st.data(), as_tuple=st.booleans())
def test_reshape(data: st.DataObject, as_tuple: bool) -> None:
    shape = data.draw(S.shapes(), label="shape")
    target = data.draw(reshape_target(shape), label="target")
    x = data.draw(S.arrays(shape), label="x")

    def op(t: Tensor) -> Tensor:
        return t.reshape(target) if as_tuple else t.reshape(*target)

    assert_forward(op(Tensor(x)), x.reshape(target))
    assert_grads(op, x)


def test_reshape_with_minus_one() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    assert Tensor(x).reshape(-1, 4).shape == (6, 4)
    assert Tensor(x).reshape(4, -1).shape == (4, 6)
    assert Tensor(x).reshape((2, -1)).shape == (2, 12)
    assert Tensor(x).reshape(-1).shape == (24,)


@given(data=st.data())
def test_flatten(data: st.DataObject) -> None:
    x = data.draw(S.arrays(S.shapes()), label="x")
    assert_forward(Tensor(x).flatten(), x.flatten())
    assert_grads(Tensor.flatten, x)


@given(data=st.data(), as_tuple=st.booleans())
def test_transpose_with_explicit_axes(data: st.DataObject, as_tuple: bool) -> None:
    shape = data.draw(S.shapes(min_dims=1), label="shape")
    perm = data.draw(S.permutations_of(len(shape)), label="axes")
    x = data.draw(S.arrays(shape), label="x")

    def op(t: Tensor) -> Tensor:
        return t.transpose(perm) if as_tuple else t.transpose(*perm)

    assert_forward(op(Tensor(x)), np.transpose(x, perm))
    assert_grads(op, x)


def test_transpose_with_negative_axes_gradient() -> None:
    """The smallest case of the property above: axes (-1, 0) of a 2 x 3 matrix."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = np.arange(6.0).reshape(3, 2) + 1
    (x.transpose(-1, 0) * Tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad, w.T)


@given(data=st.data())
def test_transpose_default_and_T(data: st.DataObject) -> None:
    x = data.draw(S.arrays(S.shapes()), label="x")
    assert_forward(Tensor(x).transpose(), x.T)
    assert_forward(Tensor(x).T, x.T)
    assert_grads(lambda t: t.T, x)


# --------------------------------------------------------------------------- indexing
@st.composite
def index_case(draw: st.DrawFn) -> tuple[tuple[int, ...], object]:
    """A shape and an integer-array index into it: t[idx] or t[rows, cols], with repeats."""
    kind = draw(st.sampled_from(["rows", "rows_cols", "nested"]))
    shape = draw(S.shapes(min_dims=1 if kind == "rows" else 2, max_dims=3))
    n = draw(st.integers(1, 7))

    def ints(side: int) -> np.ndarray:
        return np.array(draw(st.lists(st.integers(-side, side - 1), min_size=n, max_size=n)))

    if kind == "rows":
        return shape, ints(shape[0])
    if kind == "rows_cols":
        return shape, (ints(shape[0]), ints(shape[1]))
    return shape, ints(shape[0]).reshape(-1, 1)  # a 2-D index array


@given(case=index_case(), data=st.data())
def test_integer_array_indexing(case: tuple, data: st.DataObject) -> None:
    shape, index = case
    x = data.draw(S.arrays(shape), label="x")
    assert_forward(Tensor(x)[index], x[index])
    assert_grads(lambda t: t[index], x)


def test_indexing_scatter_adds_repeated_indices() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0, 0.0])

    y = Tensor(np.zeros((2, 3)), requires_grad=True)
    picked = y[np.array([0, 1, 1, 1]), np.array([2, 0, 0, -1])]
    (picked * Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(y.grad, [[0.0, 0.0, 1.0], [5.0, 0.0, 4.0]])


def test_indexing_with_integer_tensors() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows, cols = Tensor(np.array([1, 1])), Tensor(np.array([0, 2]))
    out = x[rows, cols]
    assert_forward(out, np.array([3.0, 5.0]))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 0, 1]])


# --------------------------------------------------------------------------- matmul
@given(pair=S.matmul_pairs(), data=st.data())
def test_matmul(pair: tuple, data: st.DataObject) -> None:
    shape_a, shape_b = pair
    a = data.draw(S.arrays(shape_a), label="a")
    b = data.draw(S.arrays(shape_b), label="b")
    assert_forward(Tensor(a) @ Tensor(b), np.matmul(a, b))
    assert_forward(Tensor(a).matmul(Tensor(b)), np.matmul(a, b))
    assert_grads(lambda x, y: x @ y, a, b)


@given(pair=S.matmul_pairs(), data=st.data())
def test_matmul_one_side_constant(pair: tuple, data: st.DataObject) -> None:
    shape_a, shape_b = pair
    a = data.draw(S.arrays(shape_a), label="a")
    b = data.draw(S.arrays(shape_b), label="b")
    assert_grads(lambda x: x @ Tensor(b), a)
    assert_grads(lambda y: Tensor(a) @ y, b)
    assert_forward(a @ Tensor(b), np.matmul(a, b))  # ndarray @ Tensor
    assert_grads(lambda y: a @ y, b)


@pytest.mark.parametrize("kind", S.MATMUL_KINDS)
def test_matmul_every_kind_against_closed_form(kind: str) -> None:
    """One fixed example per kind, with the Jacobian also compared to numerical_jacobian."""
    rng = np.random.default_rng(len(kind) + S.MATMUL_KINDS.index(kind))
    shapes = {
        "2d@2d": ((2, 3), (3, 4)),
        "1d@2d": ((3,), (3, 4)),
        "2d@1d": ((2, 3), (3,)),
        "1d@1d": ((3,), (3,)),
        "nd@nd": ((2, 1, 2, 3), (3, 3, 4)),
        "nd@2d": ((2, 2, 3), (3, 4)),
        "2d@nd": ((2, 3), (2, 3, 4)),
        "nd@1d": ((2, 2, 3), (3,)),
        "1d@nd": ((3,), (2, 3, 4)),
    }[kind]
    a, b = (rng.standard_normal(s) for s in shapes)
    assert_forward(Tensor(a) @ Tensor(b), np.matmul(a, b))
    analytic = jacobian(lambda x, y: x @ y, [a, b])
    numeric = numerical_jacobian(lambda x, y: x @ y, [a, b])
    for ja, jn in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(ja, jn, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- softmax family
def _naive_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@given(data=st.data())
def test_log_softmax(data: st.DataObject) -> None:
    shape = data.draw(S.shapes(min_dims=1), label="shape")
    axis = data.draw(S.axis(len(shape), allow_none=False), label="axis")
    x = data.draw(S.arrays(shape), label="x")
    assert_forward(Tensor(x).log_softmax(axis=axis), np.log(_naive_softmax(x, axis)))
    assert_grads(lambda t: t.log_softmax(axis=axis), x)


@given(data=st.data())
def test_softmax(data: st.DataObject) -> None:
    shape = data.draw(S.shapes(min_dims=1), label="shape")
    axis = data.draw(S.axis(len(shape), allow_none=False), label="axis")
    x = data.draw(S.arrays(shape), label="x")
    assert_forward(Tensor(x).softmax(axis=axis), _naive_softmax(x, axis))
    assert_grads(lambda t: t.softmax(axis=axis), x)


def test_log_softmax_is_composed_of_primitives_with_the_max_as_a_constant() -> None:
    """Tensor.log_softmax is (x - m) - log(sum(exp(x - m))), m = max x as a constant: no fused
    op and no Max in the graph (so it can be differentiated again), and the gradient is exact."""
    x = Tensor(np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -2.0]]), requires_grad=True)
    out = x.log_softmax(axis=1)
    ops_used = {t.op for t in topological_sort([out]) if t.op}
    assert ops_used <= {"Add", "Neg", "Exp", "Sum", "Log"}, ops_used
    g = np.arange(6.0).reshape(2, 3)
    out.backward(g)
    p = _naive_softmax(x.data, 1)
    np.testing.assert_allclose(x.grad, g - p * g.sum(axis=1, keepdims=True), **TIGHT)


@given(data=st.data())
def test_softmax_default_axis_is_last(data: st.DataObject) -> None:
    x = data.draw(S.arrays(S.shapes(min_dims=1)), label="x")
    assert_forward(Tensor(x).softmax(), _naive_softmax(x, -1))
    assert_forward(Tensor(x).log_softmax(), np.log(_naive_softmax(x, -1)))


# --------------------------------------------------------------------------- numerical stability
@pytest.fixture
def no_fp_warnings():
    """numpy overflow / invalid / divide-by-zero raise, and every warning is an error.

    Underflow is allowed: exp(-2000) rounding to 0 is the exact answer a stable softmax wants.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


DTYPES = [np.float32, np.float64]


def _all_finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_extremes(dtype: type, no_fp_warnings: None) -> None:
    x = Tensor(np.array([-1e4, -1000.0, -50.0, 0.0, 50.0, 1000.0, 1e4], dtype=dtype), True)
    s = x.sigmoid()
    s.sum().backward()
    assert s.dtype == dtype
    assert _all_finite(s.data, x.grad)
    assert s.data[0] == 0.0 and s.data[-1] == 1.0  # sigmoid(-1e4) = 0, sigmoid(1e4) = 1
    assert s.data[1] == 0.0 and s.data[-2] == 1.0
    assert s.data[3] == 0.5
    np.testing.assert_allclose(x.grad[[0, 1, 5, 6]], 0.0, atol=0)
    assert x.grad[3] == 0.25


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_and_softmax_extremes(dtype: type, no_fp_warnings: None) -> None:
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], dtype=dtype)
    x = Tensor(z, requires_grad=True)
    lsm = x.log_softmax()
    lsm.sum().backward()
    assert _all_finite(lsm.data, x.grad)
    np.testing.assert_allclose(lsm.data[0], [0.0, -2000.0, -1000.0])
    np.testing.assert_allclose(lsm.data[1], np.log(np.full(3, 1 / 3)), rtol=1e-6)

    y = Tensor(z, requires_grad=True)
    sm = y.softmax()
    (sm * Tensor(np.array([1.0, 2.0, 3.0], dtype=dtype))).sum().backward()
    assert _all_finite(sm.data, y.grad)
    np.testing.assert_allclose(sm.data, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
