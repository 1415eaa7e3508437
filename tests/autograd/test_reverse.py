"""Gradients as Tensors: autograd.grad and backward(create_graph=True), to any order."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, nn
from tinygrad_edu.autograd import grad


def test_grad_returns_tensors_and_leaves_dot_grad_alone() -> None:
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    w = Tensor(np.array([0.5, 0.25, -1.0]), requires_grad=True)
    y = (x * w).sum()
    gx, gw = grad(y, (x, w))
    assert isinstance(gx, Tensor) and not gx.requires_grad
    np.testing.assert_array_equal(gx.data, w.data)
    np.testing.assert_array_equal(gw.data, x.data)
    assert x.grad is None and w.grad is None


def test_derivatives_to_any_order() -> None:
    """d^k/dx^k x^5 = 5!/(5-k)! x^(5-k) for k = 1..5, and 0 at k = 6."""
    x = Tensor(np.array(1.5), requires_grad=True)
    d = x**5
    for k in range(1, 6):
        (d,) = grad(d, x, create_graph=True)
        expected = np.prod(range(5 - k + 1, 6)) * 1.5 ** (5 - k)
        assert d.item() == pytest.approx(expected)
    (d6,) = grad(d, x, allow_unused=True)  # the 5th derivative is a constant: nothing to follow
    assert d6 is None or d6.item() == 0


def test_backward_create_graph_makes_dot_grad_a_tensor_with_a_graph() -> None:
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    y = (x.tanh() ** 2).sum()
    y.backward(create_graph=True)
    assert isinstance(x.grad, Tensor) and x.grad.requires_grad
    first = x.grad
    x.grad = None
    first.sum().backward()  # the second derivative, summed over rows of the Hessian
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, 2 * (1 - t**2) ** 2 - 4 * t**2 * (1 - t**2))


def test_a_gradient_graph_can_be_drawn_and_traced() -> None:
    """The graph of a gradient (double backward) is a graph like any other."""
    from tinygrad_edu.viz import walk

    x = Tensor(np.array(2.0), requires_grad=True, name="x")
    (g,) = grad(x.sigmoid(), x, create_graph=True)
    ops = {t.op for t in walk(g).tensors if t.op}
    assert {"Mul", "Add"} <= ops and x in walk(g)


def test_grad_sums_over_outputs_and_paths_and_takes_grad_outputs() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y1, y2 = x * 3.0, x * x
    (g,) = grad((y1, y2), x, (np.ones(2), np.array([1.0, 10.0])))
    np.testing.assert_allclose(g.data, 3 + np.array([1.0, 10.0]) * 2 * x.data)
    y = x * 2.0
    z = y * y  # an input that is not a leaf: its total gradient, and x's through it
    gy, gx = grad(z.sum(), (y, x))
    np.testing.assert_allclose(gy.data, 2 * y.data)
    np.testing.assert_allclose(gx.data, 8 * x.data)


def test_grad_errors_name_the_problem() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="argmax and comparisons give plain arrays"):
        grad(x.argmax(), x)  # type: ignore[arg-type]
    labels = Tensor(np.array([0, 1]))
    with pytest.raises(RuntimeError, match=r"outputs\[0\] has dtype int64: integer results"):
        grad(labels[np.array([1, 0])], x)
    with pytest.raises(RuntimeError, match="does not depend on any input that requires grad"):
        grad(Tensor(np.array([1.0, 2.0])).exp().sum(), x)
    with pytest.raises(RuntimeError, match="pass grad_outputs"):
        grad(x * 2.0, x)
    with pytest.raises(
        ShapeError, match=r"grad_outputs\[0\] has shape \(3,\), outputs\[0\] \(2,\)"
    ):
        grad(x * 2.0, x, np.ones(3))
    unused = Tensor(np.array(1.0), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"do not depend on inputs\[1\]"):
        grad((x * x).sum(), (x, unused))
    assert grad((x * x).sum(), (x, unused), allow_unused=True)[1] is None
    with pytest.raises(RuntimeError, match=r"inputs\[0\] .* does not require grad"):
        grad((x * x).sum(), Tensor(np.array(1.0)))


def test_a_freed_graph_is_an_error_naming_the_op() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * 2.0).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="graph through Sum was already freed"):
        grad(y, x)
    y = (x.exp() * 2.0).sum()
    grad(y, x, retain_graph=True)
    grad(y, x)  # kept the first time


def test_second_order_through_a_network_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    model = nn.MLP([4, 5, 3], activation="tanh", seed=0, dtype=np.float64)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    params = model.parameters()
    loss = nn.cross_entropy(model(Tensor(x)), y)
    grads = grad(loss, params, create_graph=True)
    gnorm = sum((g * g).sum() for g in grads)
    second = grad(gnorm, params)

    tp = [torch.tensor(p.data, requires_grad=True) for p in params]
    h = torch.tanh(torch.tensor(x) @ tp[0].T + tp[1])
    tloss = torch.nn.functional.cross_entropy(h @ tp[2].T + tp[3], torch.tensor(y))
    tg = torch.autograd.grad(tloss, tp, create_graph=True)
    tsecond = torch.autograd.grad(sum((g * g).sum() for g in tg), tp)
    for ours, theirs in zip(second, tsecond, strict=True):
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-9, atol=1e-12)
