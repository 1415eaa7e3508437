"""Losses: values and gradients against closed forms, finite differences and PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinygrad_edu import InputError, ShapeError, Tensor, nn
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.nn import functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
RNG = np.random.default_rng(0)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- cross-entropy
def test_cross_entropy_value_and_gradient_from_labels_and_one_hot() -> None:
    z = RNG.standard_normal((6, 4)).astype(np.float32)
    y = np.array([0, 3, 1, 1, 2, 0])
    onehot = F.one_hot(y, 4)
    expected = -np.log(softmax(z)[np.arange(6), y]).mean()
    for targets in (y, list(y), onehot, Tensor(y)):
        logits = Tensor(z, requires_grad=True)
        loss = nn.cross_entropy(logits, targets)
        assert loss.shape == () and loss.dtype == np.float32
        assert loss.item() == pytest.approx(expected, rel=1e-5)
        loss.backward()
        np.testing.assert_allclose(logits.grad, (softmax(z) - onehot) / 6, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    z = Tensor(np.array([[1000.0, -1000.0], [-1e4, 1e4]], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = nn.cross_entropy(z, [0, 0])
        loss.backward()
    assert loss.item() == pytest.approx(1e4, rel=1e-6)
    assert np.isfinite(z.grad).all()


def test_cross_entropy_reductions_and_errors() -> None:
    z = RNG.standard_normal((5, 3))
    y = np.array([0, 1, 2, 1, 0])
    per_sample = nn.cross_entropy(z, y, reduction="none")
    assert per_sample.shape == (5,)
    np.testing.assert_allclose(per_sample.data, -np.log(softmax(z)[np.arange(5), y]), rtol=1e-10)
    assert nn.cross_entropy(z, y, reduction="sum").item() == pytest.approx(per_sample.data.sum())
    assert gradcheck(lambda z: nn.cross_entropy(z, y, reduction="none"), [z])
    assert gradcheck(lambda z: nn.cross_entropy(z, y, reduction="sum"), [z])
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.cross_entropy(z, y, reduction="max")
    with pytest.raises(ShapeError, match="cross_entropy"):
        nn.cross_entropy(z, y[:4])


def test_cross_entropy_of_soft_targets_not_summing_to_1_has_the_right_gradient() -> None:
    """The issue's case: the gradient was (p - t) / N, 0.23 off finite differences; d/dz of
    -sum_c t_c log softmax(z)_c is softmax(z) sum_c t_c - t, row by row."""
    z = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    t = np.array([[0.9, 0.4, 0.1], [0.2, 0.0, 0.1]])  # rows sum to 1.4 and 0.3
    for reduction in ("mean", "sum", "none"):
        assert gradcheck(lambda z, r=reduction: nn.cross_entropy(z, t, reduction=r), [z])
    x = Tensor(z, requires_grad=True)
    nn.cross_entropy(x, t).backward()
    expected = (softmax(z) * t.sum(axis=1, keepdims=True) - t) / 2
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_boolean_labels(reduction: str) -> None:
    """Booleans are the classes 0 and 1, as in one_hot (before: numpy's raw error)."""
    z = RNG.standard_normal((4, 2))
    labels = np.array([True, False, False, True])
    got = nn.cross_entropy(z, labels, reduction=reduction).data
    np.testing.assert_allclose(
        got, nn.cross_entropy(z, labels.astype(int), reduction=reduction).data
    )


LOSSES = {
    "cross_entropy": (np.zeros((0, 3)), np.zeros(0, int)),
    "nll_loss": (np.zeros((0, 3)), np.zeros(0, int)),
    "mse_loss": (np.zeros((0, 3)), np.zeros((0, 3))),
    "binary_cross_entropy": (np.zeros((0, 1)), np.zeros(0)),
    "binary_cross_entropy_with_logits": (np.zeros((0, 1)), np.zeros(0)),
}


@pytest.mark.parametrize("loss", LOSSES)
def test_an_empty_batch_has_no_mean_loss_in_every_loss(loss: str) -> None:
    """Before: NaN for cross_entropy, 0 for the binary losses, a ValueError naming only `mean`
    for the others. Now each names itself; the sum is 0 and "none" is empty."""
    x, t = LOSSES[loss]
    with pytest.raises(InputError, match=rf"{loss}: an empty batch \(shape \(0,"):
        getattr(F, loss)(Tensor(x, requires_grad=True), t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = getattr(F, loss)(Tensor(x, requires_grad=True), t, reduction="sum")
    assert total.item() == 0.0
    assert getattr(F, loss)(x, t, reduction="none").size == 0


def test_binary_losses_refuse_targets_outside_0_1() -> None:
    p = np.array([0.2, 0.5, 0.9])
    for loss in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(
            InputError, match=r"targets must lie in \[0, 1\] .*, got range \[-1.0, 2.0\]"
        ):
            loss(p, np.array([-1.0, 2.0, 1.0]))
        assert np.isfinite(loss(p, np.array([True, False, True])).item())


def test_nll_loss_after_log_softmax_equals_cross_entropy() -> None:
    z = RNG.standard_normal((5, 3))
    y = np.array([2, 1, 0, 1, 2])
    assert nn.nll_loss(nn.log_softmax(z), y).item() == pytest.approx(
        nn.cross_entropy(z, y).item(), rel=1e-12
    )
    assert gradcheck(lambda z: nn.nll_loss(z.log_softmax(axis=1), y), [z])
    assert nn.NLLLoss(reduction="sum")(Tensor(z), y).item() == pytest.approx(
        -z[np.arange(5), y].sum()
    )
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\)"):
        nn.nll_loss(z, [0, 1, 2, 3, 0])
    with pytest.raises(ShapeError, match="5 integer labels"):
        nn.nll_loss(z, np.zeros(5))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("labels", [[0, 1, 3], [0, -1, 2]])
def test_labels_out_of_range_are_an_input_error(loss: str, reduction: str, labels: list) -> None:
    """One error type for a label outside [0, C), from both losses and every reduction."""
    with pytest.raises(InputError, match=rf"{loss}: labels must lie in \[0, 3\)"):
        getattr(nn, loss)(np.zeros((3, 3)), np.array(labels), reduction=reduction)


def test_functional_forms_take_tensors_as_they_are_and_wrap_the_rest() -> None:
    from tinygrad_edu.engine.tensor import as_tensor

    assert F.as_tensor is as_tensor  # one helper, from tensor.py
    t = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    assert as_tensor(t) is t
    wrapped = as_tensor([1.0, 2.0])
    assert isinstance(wrapped, Tensor) and not wrapped.requires_grad
    assert wrapped.dtype == np.float32
    assert F.relu(t)._ctx.parents == (t,)
    assert F.relu([-1.0, 2.0]).data.tolist() == [0.0, 2.0]


# --------------------------------------------------------------------------- MSE
def test_mse_loss() -> None:
    x, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    assert nn.mse_loss(x, t).item() == pytest.approx(((x - t) ** 2).mean())
    assert nn.MSELoss(reduction="sum")(x, t).item() == pytest.approx(((x - t) ** 2).sum())
    assert gradcheck(lambda x: nn.mse_loss(x, t), [x])
    assert gradcheck(lambda x, t: nn.mse_loss(x, t), [x, t])
    with pytest.raises(ShapeError, match=r"input of shape \(4, 3\) and target of shape \(4,\)"):
        nn.mse_loss(x, t[:, 0])


# --------------------------------------------------------------------------- binary
def test_binary_cross_entropy_value_gradient_and_clamping() -> None:
    p = RNG.uniform(0.05, 0.95, (6, 1))
    t = (RNG.random(6) > 0.5).astype(np.int64)  # (N,) labels for an (N, 1) output
    tt = t.reshape(6, 1)
    expected = -(tt * np.log(p) + (1 - tt) * np.log(1 - p)).mean()
    assert nn.binary_cross_entropy(p, t).item() == pytest.approx(expected)
    assert gradcheck(lambda p: nn.binary_cross_entropy(p, t), [p])
    assert gradcheck(lambda p: nn.binary_cross_entropy(p, t, reduction="none"), [p])
    assert nn.BCELoss(reduction="sum")(p, t).item() == pytest.approx(expected * 6)
    edge = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    loss = nn.binary_cross_entropy(edge, [0, 1, 1, 0], reduction="none")
    np.testing.assert_array_equal(loss.data, [0, 0, 100, 100])  # logs clamped at -100
    loss.sum().backward()
    assert np.isfinite(edge.grad).all()
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        nn.binary_cross_entropy(np.array([1.5]), [1])
    with pytest.raises(ShapeError, match=r"targets of shape \(5,\) for input of shape \(6, 1\)"):
        nn.binary_cross_entropy(p, t[:5])


def test_bce_with_logits_is_stable_and_matches_sigmoid_then_bce() -> None:
    z = RNG.standard_normal(8) * 3
    t = RNG.random(8)
    s = 1 / (1 + np.exp(-z))
    expected = -(t * np.log(s) + (1 - t) * np.log(1 - s)).mean()
    assert nn.binary_cross_entropy_with_logits(z, t).item() == pytest.approx(expected, rel=1e-10)
    assert gradcheck(lambda z: nn.binary_cross_entropy_with_logits(z, t), [z])
    zt = Tensor(z, requires_grad=True)
    nn.BCEWithLogitsLoss()(zt, t).backward()
    np.testing.assert_allclose(zt.grad, (s - t) / 8, rtol=1e-10)
    huge = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = nn.binary_cross_entropy_with_logits(huge, [1, 0, 0, 1], reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0, 0, 1000, 1000])
    np.testing.assert_allclose(huge.grad, [0, 0, 1, -1])


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction: str) -> None:
    z = RNG.standard_normal((7, 5))
    y = RNG.integers(0, 5, 7)
    p = RNG.uniform(0.01, 0.99, (7, 5))
    t = RNG.random((7, 5))
    cases = [
        (F.cross_entropy, TF.cross_entropy, z, y),
        (F.cross_entropy, TF.cross_entropy, z, softmax(t)),
        (F.nll_loss, TF.nll_loss, z, y),
        (F.mse_loss, TF.mse_loss, z, t),
        (F.binary_cross_entropy, TF.binary_cross_entropy, p, t),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, z * 10, t),
    ]
    for ours, theirs, x, target in cases:
        xt = Tensor(x, requires_grad=True)
        loss = ours(xt, target, reduction=reduction)
        loss.backward(np.ones(loss.shape))
        tx = torch.tensor(x, requires_grad=True)
        tl = theirs(tx, torch.tensor(target), reduction=reduction)
        tl.backward(torch.ones(tl.shape, dtype=tl.dtype))
        np.testing.assert_allclose(
            loss.data, tl.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=ours.__name__
        )
        np.testing.assert_allclose(
            xt.grad, tx.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=ours.__name__
        )


def test_loss_modules_wrap_the_functions() -> None:
    z = RNG.standard_normal((4, 3))
    y = np.array([0, 1, 2, 0])
    assert nn.CrossEntropyLoss()(z, y).item() == nn.cross_entropy(z, y).item()
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    with pytest.raises(ValueError, match="BCELoss: reduction must be one of"):
        nn.BCELoss(reduction="avg")


def test_one_hot() -> None:
    np.testing.assert_array_equal(F.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\)"):
        F.one_hot([3], 3)
    with pytest.raises(ShapeError, match="integers of shape"):
        F.one_hot(np.array([0.5]), 3)


def test_one_hot_of_boolean_labels_uses_them_as_classes_0_and_1() -> None:
    from tinygrad_edu.nn import one_hot

    np.testing.assert_array_equal(one_hot(np.array([True, False]), 2), [[0, 1], [1, 0]])
