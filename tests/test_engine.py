"""The semantics of backward: accumulation, broadcasting, graph lifetime, depth, laziness,
no_grad, detach, and errors that name the op and the shapes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import ShapeError, Tensor, is_grad_enabled, no_grad
from tinygrad_edu.engine import ops, speed
from tinygrad_edu.fused import CrossEntropy


def leaf(values: Any) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- accumulation
def test_tensor_used_twice_in_add_gets_both_contributions() -> None:
    a = leaf([1.0, -2.0, 3.0])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0, 2.0])


def test_tensor_times_itself() -> None:
    a = leaf([1.0, -2.0, 3.0])
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, 2 * a.data)


def test_diamond_graph() -> None:
    """a -> b = 2a, c = 3a -> d = b * c = 6 a^2:  dd/da = 12 a."""
    a = leaf([1.0, 0.5, -2.0])
    b, c = a * 2.0, a * 3.0
    (b * c).sum().backward()
    np.testing.assert_allclose(a.grad, 12 * a.data)


def test_shared_subexpression_used_by_many_ops() -> None:
    """y = a^2 feeds four ops; L = sum(y + y*y + exp(y) - y/2): dL/da = 2a (1/2 + 2y + e^y)."""
    a = leaf([0.3, -0.7, 1.1])
    y = a * a
    (y + y * y + y.exp() - y / 2).sum().backward()
    yv = a.data**2
    np.testing.assert_allclose(a.grad, 2 * a.data * (0.5 + 2 * yv + np.exp(yv)), rtol=1e-12)


def test_same_tensor_is_both_operands_of_matmul() -> None:
    a = leaf([[1.0, 2.0], [3.0, 4.0]])
    (a @ a).sum().backward()
    ones = np.ones((2, 2))
    np.testing.assert_allclose(a.grad, ones @ a.data.T + a.data.T @ ones)


def _reference_unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum over the leading axes numpy added, then over the axes of size 1 that it stretched."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1:
            grad = grad.sum(axis=i, keepdims=True)
    return grad


BROADCAST_OPS: dict[str, tuple[Callable, Callable, Callable]] = {
    # name: (op, dL/da given a, b, upstream g in the broadcast shape, dL/db likewise)
    "add": (lambda a, b: a + b, lambda a, b, g: g, lambda a, b, g: g),
    "sub": (lambda a, b: a - b, lambda a, b, g: g, lambda a, b, g: -g),
    "mul": (lambda a, b: a * b, lambda a, b, g: g * b, lambda a, b, g: g * a),
    "div": (lambda a, b: a / b, lambda a, b, g: g / b, lambda a, b, g: -g * a / b**2),
}


@pytest.mark.parametrize("name", list(BROADCAST_OPS))
@given(pair=S.broadcastable_pairs(), data=st.data())
def test_grad_has_its_tensors_shape_for_every_broadcast_pair(
    name: str, pair: tuple, data: st.DataObject
) -> None:
    op, grad_a, grad_b = BROADCAST_OPS[name]
    shape_a, shape_b = pair
    a_val = data.draw(S.arrays(shape_a), label="a")
    b_val = data.draw(S.away_from_zero(shape_b, lo=0.5), label="b")
    a, b = leaf(a_val), leaf(b_val)
    out = op(a, b)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    upstream = data.draw(S.arrays(out.shape), label="upstream")
    out.backward(upstream)
    assert a.grad.shape == a.data.shape == shape_a
    assert b.grad.shape == b.data.shape == shape_b
    full = np.broadcast_shapes(shape_a, shape_b)
    a_full, b_full = np.broadcast_to(a_val, full), np.broadcast_to(b_val, full)
    expected_a = _reference_unbroadcast(grad_a(a_full, b_full, upstream), shape_a)
    expected_b = _reference_unbroadcast(grad_b(a_full, b_full, upstream), shape_b)
    np.testing.assert_allclose(a.grad, expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, expected_b, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- across backward calls
def test_leaf_gradients_accumulate_across_backward_calls() -> None:
    a = leaf([1.0, 2.0])
    (a * 3.0).sum().backward()
    (a * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad, [6.0, 6.0])
    a.zero_grad()
    assert a.grad is None
    (a * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_retain_graph_allows_a_second_backward_that_accumulates() -> None:
    a = leaf([1.0, 2.0])
    loss = (a * a).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(a.grad, [2.0, 4.0])
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(a.grad, [4.0, 8.0])
    loss.backward()
    np.testing.assert_array_equal(a.grad, [6.0, 12.0])


@pytest.mark.parametrize(
    "build",
    [
        lambda a: (a * a).sum(),
        lambda a: (a + 1.0).sum(),  # an op that saves nothing for backward
        lambda a: a.exp().log_softmax().sum(),
    ],
)
def test_second_backward_on_a_freed_graph_raises(build: Callable[[Tensor], Tensor]) -> None:
    a = leaf([1.0, 2.0])
    loss = build(a)
    loss.backward()
    grad_after_first = a.grad.copy()
    with pytest.raises(RuntimeError, match=r"retain_graph|freed"):
        loss.backward()
    np.testing.assert_array_equal(a.grad, grad_after_first)


def test_backward_does_not_alias_the_callers_gradient() -> None:
    """.grad belongs to the tensor: changing the array passed to backward does not change it."""
    for make in (lambda a: a, lambda a: a + 1.0, lambda a: a.reshape(2, 1)):
        a = leaf([1.0, 2.0])
        out = make(a)
        upstream = np.ones(out.shape)
        out.backward(upstream)
        upstream *= 5.0
        np.testing.assert_array_equal(a.grad, [1.0, 1.0])


def test_two_leaves_of_one_add_do_not_share_a_gradient_array() -> None:
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)


def test_retain_grad_keeps_the_gradient_of_a_non_leaf() -> None:
    a = leaf([1.0, 2.0])
    h = (a * 3.0).retain_grad()
    other = a * 2.0  # not retained: no .grad after backward
    loss = (h * h + other).sum().retain_grad()
    loss.backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    assert other.grad is None and loss.grad == 1.0
    np.testing.assert_array_equal(a.grad, 6 * h.data + 2.0)
    assert not np.shares_memory(h.grad, a.grad)


def test_stored_gradients_are_writeable_arrays_of_their_own() -> None:
    """sum's backward sends a read-only broadcast view, reshape a view of its upstream: each
    stored .grad is copied into an array of its own, which can be changed in place."""
    a, b = leaf([[1.0, 2.0]]), leaf([3.0, 4.0])
    (a.sum() + b.reshape(1, 2).sum()).backward()
    for t in (a, b):
        assert t.grad.flags.writeable and t.grad.base is None
        t.grad *= 2.0
    np.testing.assert_array_equal(a.grad, [[2.0, 2.0]])


# --------------------------------------------------------------------------- depth
def test_chain_of_100k_ops_backpropagates_without_recursion() -> None:
    limit = sys.getrecursionlimit()
    x = leaf(1.5)
    y = x
    start = time.perf_counter()
    for i in range(50_000):
        y = y * 1.0001 if i % 2 else y + 0.5
    y = y * 1.0
    for _ in range(49_999):
        y = -y
    y.backward()
    assert time.perf_counter() - start < 10.0
    # 25,000 multiplications by 1.0001 and an odd number of negations
    np.testing.assert_allclose(x.grad, -(1.0001**25_000), rtol=1e-9)
    assert sys.getrecursionlimit() == limit < 100_000  # not done by raising the limit
    del y  # freeing the deep graph must not recurse either


# --------------------------------------------------------------------------- only what is needed
def test_tensors_that_do_not_require_grad_get_no_grad() -> None:
    x = Tensor(np.array([[1.0, 2.0]]))
    w = leaf([[3.0], [4.0]])
    c = Tensor(np.array(2.0))
    (x @ w * c).sum().backward()
    assert x.grad is None and c.grad is None
    np.testing.assert_array_equal(w.grad, [[2.0], [4.0]])


class _CountingNumpy:
    """Stands in for ``np`` in tinygrad_edu.engine.speed (where MatMul multiplies) and records
    every matrix product.

    (An op that switched to the ``@`` operator would show zero products here, and the tests
    below would fail loudly rather than pass: they require exactly one.)"""

    PRODUCTS = ("dot", "matmul", "einsum", "tensordot", "inner", "outer", "vdot")

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(np, name)
        if name not in self.PRODUCTS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            self.calls.append((name, np.shape(out)))
            return out

        return counted


@pytest.mark.parametrize(
    ("x_shape", "w_shape"),
    [((5, 3), (3, 4)), ((3,), (3, 4)), ((2, 5, 3), (3, 4)), ((5, 3), (3,)), ((2, 5, 3), (2, 3, 4))],
)
def test_backward_skips_the_input_gradient_of_matmul(
    monkeypatch: pytest.MonkeyPatch, x_shape: tuple, w_shape: tuple
) -> None:
    """x @ W with x a data batch (no grad): backward does one matrix product, the one for W."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(x_shape))
    w = Tensor(rng.standard_normal(w_shape), requires_grad=True)
    out = x @ w
    counter = _CountingNumpy()
    monkeypatch.setattr(speed, "np", counter)
    out.backward(np.ones(out.shape))
    monkeypatch.undo()
    assert len(counter.calls) == 1, counter.calls
    assert x.grad is None and w.grad.shape == w_shape
    if len(x_shape) == len(w_shape) == 2:
        assert counter.calls[0][1] == w_shape  # the product computed is dL/dW = x^T g
    # the skipped path gives the same dL/dW as the full one
    x_full, w_full = Tensor(x.data, requires_grad=True), Tensor(w.data, requires_grad=True)
    (x_full @ w_full).backward(np.ones(out.shape))
    np.testing.assert_allclose(w.grad, w_full.grad, rtol=1e-12)


def test_backward_skips_the_weight_gradient_of_matmul(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 4)))
    out = x @ w
    counter = _CountingNumpy()
    monkeypatch.setattr(speed, "np", counter)
    out.backward(np.ones((5, 4)))
    monkeypatch.undo()
    assert len(counter.calls) == 1, counter.calls
    assert counter.calls[0][1] == (5, 3)  # the product computed is dL/dx = g W^T
    assert w.grad is None


def test_backward_does_not_visit_constant_subgraphs(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = ops.Exp.backward

    def spy(ctx: Any, g: np.ndarray) -> Any:
        calls.append(g.shape)
        return original(ctx, g)

    monkeypatch.setattr(ops.Exp, "backward", staticmethod(spy))
    constant = Tensor(np.array([1.0, 2.0])).exp()  # no input requires grad
    x = leaf([3.0, 4.0])
    (x * constant).sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]))
    (x.exp() * constant).sum().backward()
    assert calls == [(2,)]


def test_pow_with_constant_exponent_does_not_take_log_of_the_base() -> None:
    """d(a^b)/db = a^b ln a is only needed when b requires grad; ln of a negative base warns."""
    a = leaf([-2.0, 0.0, 3.0])
    with np.errstate(all="raise"):
        (a**2).sum().backward()
        (a**3.0).sum().backward()
    np.testing.assert_allclose(a.grad, 2 * a.data + 3 * a.data**2)


# --------------------------------------------------------------------------- no_grad, detach
def test_no_grad_records_no_graph() -> None:
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
        z = x @ x
    assert is_grad_enabled()
    for t in (y, z):
        assert t.requires_grad is False
        assert t._ctx is None
    with pytest.raises(RuntimeError):
        y.backward()
    w = x * 2.0  # recording again after the block
    assert w.requires_grad and w._ctx is not None


def test_no_grad_restores_state_after_an_exception() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(ShapeError), no_grad():
        _ = x + Tensor(np.ones(3))
    assert is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_nests_and_works_as_a_decorator() -> None:
    x = leaf([1.0, 2.0])
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
        assert not (x * 2.0).requires_grad
    assert is_grad_enabled()

    @no_grad()
    def infer(t: Tensor) -> Tensor:
        return t * 2.0

    assert not infer(x).requires_grad
    assert is_grad_enabled()


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="int"):
        Tensor(np.array([1, 2, 3]), requires_grad=True)
    with pytest.raises(TypeError):
        Tensor(np.array([1, 2], dtype=np.int32), requires_grad=True)


def test_detach_cuts_the_graph() -> None:
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.requires_grad is False and d._ctx is None
    np.testing.assert_array_equal(d.data, y.data)
    (d * x).sum().backward()  # d is a constant: dL/dx = d
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])
    with pytest.raises(RuntimeError):
        (d * 2.0).sum().backward()


# --------------------------------------------------------------------------- errors
def _assert_engine_error(excinfo: pytest.ExceptionInfo, *needles: str) -> None:
    """The message names everything in ``needles``, and it is not numpy's bare ValueError."""
    message = str(excinfo.value)
    for needle in needles:
        assert needle in message, (needle, message)
    assert type(excinfo.value) is not ValueError
    assert "operands could not be broadcast" not in message


def test_misaligned_matmul_names_op_and_shapes() -> None:
    a, b = Tensor(np.ones((256, 784))), Tensor(np.ones((785, 64)))
    with pytest.raises(ShapeError) as excinfo:
        _ = a @ b
    _assert_engine_error(excinfo, "matmul", str((256, 784)), str((785, 64)))
    for left, right in [((3,), (4,)), ((2, 3), (2,)), ((2, 2, 3), (2, 4, 5))]:
        with pytest.raises(ShapeError) as excinfo:
            _ = Tensor(np.ones(left)) @ Tensor(np.ones(right))
        _assert_engine_error(excinfo, "matmul", str(left), str(right))


def test_matmul_with_unbroadcastable_batch_dims() -> None:
    with pytest.raises(ShapeError) as excinfo:
        _ = Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2)))
    _assert_engine_error(excinfo, "matmul", str((2, 3, 4)), str((5, 4, 2)))


@pytest.mark.parametrize(
    ("op", "name"),
    [(lambda a, b: a + b, "add"), (lambda a, b: a * b, "mul"), (lambda a, b: b + a, "add")],
)
def test_non_broadcastable_operands_name_op_and_shapes(op: Callable, name: str) -> None:
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    with pytest.raises(ShapeError) as excinfo:
        op(a, b)
    _assert_engine_error(excinfo, name, str((2, 3)), str((4,)))


def test_non_broadcastable_numpy_operand() -> None:
    with pytest.raises(ShapeError) as excinfo:
        _ = Tensor(np.ones((2, 3))) + np.ones((2, 2))
    _assert_engine_error(excinfo, "add", str((2, 3)), str((2, 2)))


def test_other_shape_errors_name_the_op() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ShapeError) as excinfo:
        x.reshape(4, 2)
    _assert_engine_error(excinfo, "reshape", str((2, 3)))
    with pytest.raises(ShapeError) as excinfo:
        x.transpose(0, 0)
    _assert_engine_error(excinfo, "transpose", str((2, 3)))
    with pytest.raises(ShapeError) as excinfo:
        CrossEntropy.apply(x, targets=np.array([0, 1, 2]))
    _assert_engine_error(excinfo, "cross_entropy")


def test_backward_through_a_tensor_that_does_not_require_grad() -> None:
    y = Tensor(np.array([1.0, 2.0])).sum()
    with pytest.raises(RuntimeError, match="require"):
        y.backward()


def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    y = leaf([[1.0, 2.0]]) * 2.0
    with pytest.raises(RuntimeError) as excinfo:
        y.backward()
    assert "scalar" in str(excinfo.value)
    assert str((1, 2)) in str(excinfo.value)


def test_backward_with_a_wrongly_shaped_gradient() -> None:
    y = leaf([[1.0, 2.0]]) * 2.0
    with pytest.raises(ValueError) as excinfo:
        y.backward(np.ones((2,)))  # broadcastable, but not the output's shape
    _assert_engine_error(excinfo, "backward", str((2,)), str((1, 2)))


@pytest.mark.parametrize(
    "data",
    ["abc", None, {"a": 1}, [1.0, "x"], object(), [[1.0], [2.0, 3.0]], np.array([], dtype=object)],
)
def test_non_numeric_data_is_a_type_error(data: Any) -> None:
    with pytest.raises(TypeError, match="Tensor"):
        Tensor(data)


def test_package_exports() -> None:
    assert tinygrad_edu.Tensor is Tensor and tinygrad_edu.no_grad is no_grad


# --------------------------------------------------------------------------- the backward hook
def test_an_untraced_backward_does_not_build_the_hooks_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no hook set, backward never builds ``sent``; with one, once per non-leaf node."""
    from tinygrad_edu.engine import backprop as engine

    built = []
    original = engine._grads_to_inputs
    monkeypatch.setattr(engine, "_grads_to_inputs", lambda *a: built.append(a) or original(*a))
    x = leaf([1.0, 2.0])
    (x * 3.0 + x).sum().backward()
    assert built == []
    seen: list[tuple] = []
    previous = engine.set_backward_hook(lambda node, upstream, sent: seen.append(sent))
    try:
        (x * 3.0 + x).sum().backward()
    finally:
        assert engine.set_backward_hook(previous) is not None
    assert len(built) == 3  # Sum, Add, Mul; the leaf is reported with ()
    assert [len(s) for s in seen] == [1, 2, 1, 0]  # Mul's constant 3.0 is sent nothing
    assert [(arg, t is x) for arg, t, _ in seen[1]] == [(0, False), (1, True)]
