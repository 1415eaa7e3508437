"""autograd.functional: torch.autograd.functional's names, shapes and conventions, and values."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, nn
from tinygrad_edu.autograd import functional as AF

STRATEGIES = ["reverse-mode", "forward-mode"]
RNG = np.random.default_rng(0)


B = RNG.standard_normal((6, 4))


def wide(x: Tensor) -> Tensor:
    """R^4 -> (2, 3): an output with more elements than the input."""
    return (Tensor(B) @ x).reshape(2, 3).tanh() * x.sum()


X, Y = RNG.standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])


def loss_of(w: Tensor, b: Tensor) -> Tensor:
    """A tiny network's loss as a function of its parameters."""
    return nn.cross_entropy(nn.functional.linear(Tensor(X), w, b).sigmoid() * 3.0, Y)


W0, B0 = RNG.standard_normal((2, 3)), RNG.standard_normal(2)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jacobian_shapes_follow_torch(strategy: str) -> None:
    x = Tensor(RNG.standard_normal(4))
    assert AF.jacobian(wide, x, strategy=strategy).shape == (2, 3, 4)
    jw, jb = AF.jacobian(loss_of, (Tensor(W0), Tensor(B0)), strategy=strategy)
    assert jw.shape == (2, 3) and jb.shape == (2,)
    pair = AF.jacobian(lambda a: (a * 2.0, a.sum()), x, strategy=strategy)
    assert isinstance(pair, tuple) and pair[0].shape == (4, 4) and pair[1].shape == (4,)
    grid = AF.jacobian(lambda a, b: (a * b, a - b), (x, x), strategy=strategy)
    assert [[j.shape for j in row] for row in grid] == [[(4, 4)] * 2] * 2


def test_forward_and_reverse_jacobians_agree() -> None:
    x = Tensor(RNG.standard_normal(4))
    rev, fwd = (AF.jacobian(wide, x, strategy=s).data for s in STRATEGIES)
    np.testing.assert_allclose(rev, fwd, rtol=1e-12, atol=1e-12)


def test_hessian_is_symmetric_and_matches_finite_differences() -> None:
    (hww, hwb), (hbw, hbb) = AF.hessian(loss_of, (Tensor(W0), Tensor(B0)))
    assert hww.shape == (2, 3, 2, 3) and hwb.shape == (2, 3, 2) and hbb.shape == (2, 2)
    np.testing.assert_allclose(hwb.data, hbw.data.transpose(1, 2, 0), atol=1e-12)
    eps, numeric = 1e-6, np.zeros((6, 6))
    for j in range(6):
        e = np.zeros(6)
        e[j] = eps
        plus = AF.vjp(lambda w: loss_of(w, Tensor(B0)), Tensor(W0 + e.reshape(2, 3)))[1]
        minus = AF.vjp(lambda w: loss_of(w, Tensor(B0)), Tensor(W0 - e.reshape(2, 3)))[1]
        numeric[:, j] = (plus.data - minus.data).reshape(-1) / (2 * eps)
    np.testing.assert_allclose(hww.data.reshape(6, 6), numeric, atol=1e-7)
    forward = AF.hessian(loss_of, (Tensor(W0), Tensor(B0)), outer_jacobian_strategy="forward-mode")
    np.testing.assert_allclose(forward[0][0].data, hww.data, atol=1e-12)


def test_vjp_jvp_hvp_return_outputs_and_products() -> None:
    x = Tensor(RNG.standard_normal(4))
    u, w = RNG.standard_normal(4), RNG.standard_normal((2, 3))
    out, ju = AF.jvp(wide, x, u)
    out2, jtw = AF.vjp(wide, x, w)
    j = AF.jacobian(wide, x).data
    np.testing.assert_allclose(out.data, out2.data)
    np.testing.assert_allclose(ju.data, np.tensordot(j, u, axes=1), atol=1e-12)
    np.testing.assert_allclose(jtw.data, np.tensordot(w, j, axes=2), atol=1e-12)
    value, hv = AF.hvp(lambda a: (a.exp() * a).sum(), x, u)
    h = np.diag((2 + x.data) * np.exp(x.data))
    assert value.item() == pytest.approx(float((np.exp(x.data) * x.data).sum()))
    np.testing.assert_allclose(hv.data, h @ u, atol=1e-12)


def test_results_match_torch_autograd_functional() -> None:
    torch = pytest.importorskip("torch")
    taf = torch.autograd.functional
    x0, u = RNG.standard_normal(4), RNG.standard_normal(4)

    def f_ours(x: Tensor) -> Tensor:
        return (x.sigmoid() * x.sum()).tanh()

    def f_torch(x):
        return torch.tanh(torch.sigmoid(x) * x.sum())

    tx, tu = torch.tensor(x0), torch.tensor(u)
    np.testing.assert_allclose(
        AF.jacobian(f_ours, Tensor(x0)).data, taf.jacobian(f_torch, tx).numpy()
    )
    np.testing.assert_allclose(
        AF.hessian(lambda x: f_ours(x).sum(), Tensor(x0)).data,
        taf.hessian(lambda x: f_torch(x).sum(), tx).numpy(),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        AF.jvp(f_ours, Tensor(x0), u)[1].data, taf.jvp(f_torch, tx, tu)[1].numpy()
    )
    np.testing.assert_allclose(
        AF.vjp(f_ours, Tensor(x0), u)[1].data, taf.vjp(f_torch, tx, tu)[1].numpy()
    )
    np.testing.assert_allclose(
        AF.hvp(lambda x: f_ours(x).sum(), Tensor(x0), u)[1].data,
        taf.hvp(lambda x: f_torch(x).sum(), tx, tu)[1].numpy(),
        atol=1e-12,
    )


def test_create_graph_keeps_the_results_differentiable() -> None:
    x = Tensor(RNG.standard_normal(3), requires_grad=True)
    jac = AF.jacobian(lambda a: a * a * a, x, create_graph=True)
    assert jac.requires_grad
    _, third = AF.vjp(
        lambda a: AF.jacobian(lambda b: b * b * b, a, create_graph=True), x, np.eye(3)
    )
    np.testing.assert_allclose(third.data, 6 * x.data)  # d/dx_k sum_i d(x_i^3)/dx_i


def test_independent_inputs_give_zeros_or_an_error_when_strict() -> None:
    x, y = Tensor(np.ones(2)), Tensor(np.ones(3))
    _, jy = AF.jacobian(lambda a, b: a * 2.0, (x, y))
    np.testing.assert_array_equal(jy.data, np.zeros((2, 3)))
    for strategy in STRATEGIES:
        with pytest.raises(RuntimeError, match="does not depend on inputs"):
            AF.jacobian(lambda a, b: a * 2.0, (x, y), strict=True, strategy=strategy)


def test_argument_errors() -> None:
    x = Tensor(np.ones(3))
    with pytest.raises(ValueError, match="strategy must be one of"):
        AF.jacobian(wide, x, strategy="sideways")
    with pytest.raises(ValueError, match="v may be omitted only"):
        AF.jvp(lambda a: a * 2.0, x)
    with pytest.raises(ShapeError, match=r"v\[0\] has shape \(2,\), the inputs\[0\] \(3,\)"):
        AF.jvp(lambda a: a * 2.0, x, np.ones(2))
    with pytest.raises(ShapeError, match="func must return one Tensor with a single element"):
        AF.hessian(lambda a: a * 2.0, x)
    with pytest.raises(NotImplementedError, match="forward mode keeps no graph"):
        AF.jvp(lambda a: a * 2.0, x, np.ones(3), create_graph=True)
    with pytest.raises(TypeError, match="must be floating point"):
        AF.jacobian(wide, Tensor(np.array([1, 2])))
