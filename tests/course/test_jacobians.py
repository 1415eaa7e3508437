"""The hand-derived Jacobians equal the engine's (gradcheck.jacobian), in float64."""

from __future__ import annotations

import numpy as np
import pytest
import strategies as S
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import ShapeError, Tensor
from tinygrad_edu.course import jacobians as J
from tinygrad_edu.fused import CrossEntropy
from tinygrad_edu.gradcheck import jacobian

TOL = {"rtol": 1e-10, "atol": 1e-12}

seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 5)
shapes = S.shapes(min_dims=1, max_dims=3, max_side=4)


def rand(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return rng.normal(0.0, scale, size=shape)


@given(seed=seeds, n=dims, n_in=dims, out=dims, batched=st.booleans(), bias=st.booleans())
def test_linear_jacobians_match_autograd(seed, n, n_in, out, batched, bias):
    rng = np.random.default_rng(seed)
    x = rand(rng, n, n_in) if batched else rand(rng, n_in)
    W, b = rand(rng, out, n_in), rand(rng, out)
    if bias:
        expected = jacobian(lambda x, W, b: x @ W.T + b, [x, W, b])
        got = J.linear_jacobians(x, W, b)
    else:
        expected = [*jacobian(lambda x, W: x @ W.T, [x, W]), None]
        got = J.linear_jacobians(x, W)
    for name, e, g in zip("xWb", expected, got, strict=True):
        if e is None:
            assert g is None
            continue
        assert g.shape == e.shape, name
        np.testing.assert_allclose(g, e, **TOL, err_msg=f"dz/d{name}")
        np.testing.assert_array_equal(got[name], g)
        np.testing.assert_array_equal(got["dz/d" + name], g)


def test_linear_jacobians_closed_forms_and_errors():
    rng = np.random.default_rng(0)
    x, W, b = rand(rng, 2, 3), rand(rng, 4, 3), rand(rng, 4)
    Jx, JW, Jb = J.linear_jacobians(x, W, b)
    np.testing.assert_array_equal(Jx, np.kron(np.eye(2), W))
    np.testing.assert_array_equal(Jb, np.vstack([np.eye(4), np.eye(4)]))
    assert JW.shape == (8, 12)
    with pytest.raises(ValueError, match=r"x \(2, 3\) and W \(3, 4\)"):
        J.linear_jacobians(x, W.T, b)
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        J.linear_jacobians(x, W, b[:2])
    with pytest.raises(KeyError, match="no Jacobian named 'q'"):
        J.linear_jacobians(x, W, b)["q"]


@given(z=S.arrays(shapes, -6.0, 6.0))
def test_sigmoid_jacobian_matches_autograd(z):
    (expected,) = jacobian(lambda z: z.sigmoid(), [z])
    np.testing.assert_allclose(J.sigmoid_jacobian(z), expected, **TOL)


@given(z=S.away_from_zero(shapes, lo=1e-3))
def test_relu_jacobian_matches_autograd(z):
    (expected,) = jacobian(lambda z: z.relu(), [z])
    np.testing.assert_allclose(J.relu_jacobian(z), expected, **TOL)


def test_relu_jacobian_is_zero_at_the_kink():
    np.testing.assert_array_equal(J.relu_jacobian(np.array([-1.0, 0.0, 2.0])), np.diag([0, 0, 1]))


@given(z=S.arrays(shapes, -5.0, 5.0))
def test_softmax_jacobian_matches_autograd(z):
    (expected,) = jacobian(lambda z: z.softmax(axis=-1), [z])
    np.testing.assert_allclose(J.softmax_jacobian(z), expected, **TOL)


def test_softmax_jacobian_closed_form():
    z = np.array([1.0, 2.0, 0.5])
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(J.softmax_jacobian(z), np.diag(p) - np.outer(p, p), **TOL)
    # each column sums to zero: the probabilities always sum to one
    np.testing.assert_allclose(J.softmax_jacobian(z).sum(axis=0), 0, atol=1e-15)
    with pytest.raises(ValueError, match="scalar"):
        J.softmax_jacobian(np.float64(1.0))


@given(z=S.arrays(shapes, -5.0, 5.0))
def test_log_softmax_jacobian_matches_autograd(z):
    (expected,) = jacobian(lambda z: z.log_softmax(axis=-1), [z])
    np.testing.assert_allclose(J.log_softmax_jacobian(z), expected, **TOL)


@given(seed=seeds, n=dims, c=st.integers(2, 6), one_hot=st.booleans())
def test_cross_entropy_grad_matches_autograd(seed, n, c, one_hot):
    rng = np.random.default_rng(seed)
    z = rand(rng, n, c, scale=2.0)
    labels = rng.integers(0, c, size=n)
    y = J.one_hot(labels, c) if one_hot else labels
    (expected,) = jacobian(lambda z: CrossEntropy.apply(z, targets=y), [z])
    np.testing.assert_allclose(J.cross_entropy_grad(z, y), expected.reshape(n, c), **TOL)
    loss = CrossEntropy.apply(Tensor(z), targets=y).item()
    assert J.cross_entropy(z, y) == pytest.approx(loss, rel=1e-12)


def test_cross_entropy_grad_single_sample_is_p_minus_y():
    z = np.array([0.5, -1.0, 2.0])
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(J.cross_entropy_grad(z, 2), p - [0, 0, 1], **TOL)
    assert J.cross_entropy(z, 2) == pytest.approx(-np.log(p[2]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        J.cross_entropy_grad(z[None], np.array([3]))


def autograd_mlp(x, y, W1, b1, W2, b2):
    params = {k: Tensor(v, requires_grad=True) for k, v in dict(W1=W1, b1=b1, W2=W2, b2=b2).items()}
    h = (Tensor(x) @ params["W1"].T + params["b1"]).sigmoid()
    z2 = h @ params["W2"].T + params["b2"]
    loss = CrossEntropy.apply(z2 if z2.ndim == 2 else z2.reshape(1, -1), targets=y)
    loss.backward()
    return loss.item(), {k: p.grad for k, p in params.items()}


@given(
    seed=seeds,
    n=st.integers(1, 8),
    n_in=st.integers(1, 12),
    hidden=st.integers(1, 7),
    classes=st.integers(2, 5),
)
def test_mlp_forward_backward_matches_autograd(seed, n, n_in, hidden, classes):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    y = rng.integers(0, classes, size=n)
    W1, b1 = rand(rng, hidden, n_in), rand(rng, hidden, scale=0.1)
    W2, b2 = rand(rng, classes, hidden), rand(rng, classes, scale=0.1)
    loss, grads = J.mlp_forward_backward(x, y, W1, b1, W2, b2)
    expected_loss, expected = autograd_mlp(x, y, W1, b1, W2, b2)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    for k, g in grads.items():
        assert g.shape == expected[k].shape and g.dtype == np.float64
        np.testing.assert_allclose(g, expected[k], **TOL, err_msg=k)


def test_mlp_forward_backward_seed_sizes_and_single_sample():
    rng = np.random.default_rng(1)
    x = rng.random((32, 784))
    y = rng.integers(0, 10, size=32)
    W1, b1 = rand(rng, 64, 784, scale=0.05), np.zeros(64)
    W2, b2 = rand(rng, 10, 64, scale=0.1), np.zeros(10)
    loss, grads = J.mlp_forward_backward(x, y, W1, b1, W2, b2)
    expected_loss, expected = autograd_mlp(x, y, W1, b1, W2, b2)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], expected[k], **TOL, err_msg=k)

    # one sample: x (n_in,), an integer label; same as a batch of one
    loss1, grads1 = J.mlp_forward_backward(x[3], int(y[3]), W1, b1, W2, b2)
    loss_b, grads_b = J.mlp_forward_backward(x[3:4], y[3:4], W1, b1, W2, b2)
    assert loss1 == pytest.approx(loss_b, rel=1e-14)
    for k in grads1:
        np.testing.assert_allclose(grads1[k], grads_b[k], **TOL)


def test_mlp_forward_backward_keeps_float32_and_checks_shapes():
    rng = np.random.default_rng(2)
    x = rng.random((4, 5)).astype(np.float32)
    W1, b1 = rand(rng, 3, 5).astype(np.float32), np.zeros(3, np.float32)
    W2, b2 = rand(rng, 2, 3).astype(np.float32), np.zeros(2, np.float32)
    _, grads = J.mlp_forward_backward(x, np.array([0, 1, 1, 0]), W1, b1, W2, b2)
    assert all(g.dtype == np.float32 for g in grads.values())
    with pytest.raises(ValueError, match=r"x \(4, 5\), W1 \(5, 3\)"):
        J.mlp_forward_backward(x, np.array([0, 1, 1, 0]), W1.T, b1, W2, b2)
    with pytest.raises(ValueError, match=r"need b1 \(3,\)"):
        J.mlp_forward_backward(x, np.array([0, 1, 1, 0]), W1, b1[:2], W2, b2)


def test_wrong_shapes_raise_the_engines_shape_error():
    x, W, y = np.ones((2, 3)), np.ones((4, 3)), np.array([0, 1])
    with pytest.raises(ShapeError, match="linear_jacobians"):
        J.linear_jacobians(x, W.T)
    with pytest.raises(ShapeError, match="softmax: needs at least one axis"):
        J.softmax_jacobian(np.float64(1.0))
    with pytest.raises(ShapeError, match="cross_entropy: logits must have shape"):
        J.cross_entropy(np.ones((2, 3, 4)), y)
    with pytest.raises(ShapeError, match="cross_entropy: 2 labels for logits of shape"):
        J.cross_entropy_grad(np.ones((3, 4)), y)
    with pytest.raises(ShapeError, match="mlp_forward_backward"):
        J.mlp_forward_backward(x, y, W, np.ones(4), np.ones((2, 3)), np.ones(2))
