"""Layers: Linear (layout, init, gradients), activations, Dropout, Flatten, Sequential, MLP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_edu import InputError, ShapeError, Tensor, nn
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.nn.init import init_weight, is_aligned

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- Linear
def test_linear_layout_and_value() -> None:
    lin = nn.Linear(5, 3, seed=0)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32 and not lin.bias.data.any()
    assert is_aligned(lin.weight.data) and is_aligned(lin.bias.data)
    lin.bias.data[:] = [1, 2, 3]
    x = RNG.random((4, 5), dtype=np.float32)
    out = lin(x)
    assert out.dtype == np.float32 and out.op == "Linear"
    np.testing.assert_allclose(out.data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-6)
    no_bias = nn.Linear(5, 3, bias=False, seed=0)
    assert no_bias.bias is None and len(no_bias.parameters()) == 1
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data.T, rtol=1e-6)


def test_linear_gradients_match_finite_differences() -> None:
    lin = nn.Linear(4, 3, seed=0, dtype=np.float64)
    b = RNG.standard_normal(3)
    x = RNG.standard_normal((5, 4))
    w = lin.weight.data.copy()
    assert gradcheck(lambda x, w, b: nn.linear(x, w, b), [x, w, b])
    assert gradcheck(lambda x, w: nn.linear(x, w), [x, w])
    x3 = RNG.standard_normal((2, 3, 4))  # leading batch axes
    assert gradcheck(lambda x, w, b: nn.linear(x, w, b), [x3, w, b])


def test_linear_backward_skips_the_input_gradient() -> None:
    lin = nn.Linear(4, 3, seed=0)
    x = Tensor(RNG.random((5, 4), dtype=np.float32))
    lin(x).sum().backward()
    assert x.grad is None
    assert lin.weight.grad.shape == (3, 4) and lin.weight.grad.flags.c_contiguous
    np.testing.assert_allclose(lin.weight.grad, np.ones((5, 3)).T @ x.data, rtol=1e-6)
    np.testing.assert_allclose(lin.bias.grad, np.full(3, 5.0))


def test_linear_shape_errors() -> None:
    lin = nn.Linear(4, 3, seed=0)
    with pytest.raises(ShapeError, match=r"linear: input of shape \(5, 7\) .* \(3, 4\)"):
        lin(np.ones((5, 7), np.float32))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="in_features must be a positive integer"):
            nn.Linear(bad, 3)
        with pytest.raises(InputError, match="out_channels must be a positive integer"):
            nn.Conv2d(1, bad, 3)  # the same validator (nn.module.positive_int)


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [
        ("normal", 0.1),
        ("xavier", math.sqrt(2 / (400 + 300))),  # U(-a, a) has std a / sqrt(3)
        ("glorot", math.sqrt(2 / (400 + 300))),
        ("he", math.sqrt(2 / 400)),
        ("kaiming", math.sqrt(2 / 400)),
    ],
)
def test_init_schemes_have_the_documented_spread(init: str, expected_std: float) -> None:
    w = nn.Linear(400, 300, init=init, seed=0).weight.data
    assert abs(w.mean()) < 0.01 * expected_std * 10
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    if init in ("xavier", "glorot"):
        assert np.abs(w).max() <= math.sqrt(6 / 700)


def test_init_std_seed_and_errors() -> None:
    a = nn.Linear(50, 40, std=0.01, seed=3).weight.data
    assert a.std() == pytest.approx(0.01, rel=0.1)
    np.testing.assert_array_equal(a, nn.Linear(50, 40, std=0.01, rng=3).weight.data)
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(a, nn.Linear(50, 40, std=0.01, rng=gen).weight.data)
    assert not np.array_equal(a, nn.Linear(50, 40, std=0.01, seed=4).weight.data)
    with pytest.raises(ValueError, match="unknown scheme 'uniform'"):
        nn.Linear(3, 2, init="uniform")
    with pytest.raises(ValueError, match="either rng or seed"):
        nn.Linear(3, 2, rng=1, seed=1)
    with pytest.raises(TypeError, match="Generator or an int seed"):
        nn.Linear(3, 2, rng="abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="std must be"):
        init_weight(2, 2, std=-1.0)


# --------------------------------------------------------------------------- activations etc.
def test_activation_modules() -> None:
    x = np.array([[-2.0, 0.5, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.Identity()(x).data, x)
    sm = nn.Softmax()(x).data
    np.testing.assert_allclose(sm.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(nn.LogSoftmax()(x).data, np.log(sm), rtol=1e-5)


def test_dropout_is_inverted_and_identity_in_eval() -> None:
    x = np.ones((200, 100), dtype=np.float32)
    drop = nn.Dropout(0.25, seed=0)
    y = drop(x).data
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)  # E[y] = x
    assert y.dtype == np.float32
    np.testing.assert_array_equal(nn.Dropout(0.25, seed=0)(x).data, y)  # reproducible
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x)
    t = Tensor(x, requires_grad=True)
    nn.Dropout(0.5, seed=1)(t).sum().backward()
    assert set(np.unique(t.grad)) <= {0.0, 2.0}
    for p in (-0.1, 1.0, 2):
        with pytest.raises(InputError, match=r"Dropout: p must be a number in \[0, 1\)"):
            nn.Dropout(p)
    np.testing.assert_array_equal(nn.dropout(x, 1.0).data, 0)


def test_flatten_and_sequential() -> None:
    x = RNG.random((2, 1, 28, 28), dtype=np.float32)
    assert nn.Flatten()(x).shape == (2, 784)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(784, 5, seed=0), nn.ReLU())
    assert seq(x).shape == (2, 5) and len(seq) == 3 and isinstance(seq[1], nn.Linear)
    assert [type(m) for m in nn.Sequential([nn.ReLU(), nn.Tanh()])] == [nn.ReLU, nn.Tanh]
    seq.append(nn.Linear(5, 2, seed=0))
    assert seq(x).shape == (2, 2)
    assert [n for n, _ in seq.named_parameters()][-1] == "layers.3.bias"
    with pytest.raises(TypeError, match="item 1 is a int"):
        nn.Sequential(nn.ReLU(), 3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- MLP
def test_mlp_structure_and_forward() -> None:
    m = nn.MLP([784, 64, 10], seed=0)
    assert [type(l).__name__ for l in m.layers] == ["Linear", "Sigmoid", "Linear"]
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert m.sizes == [784, 64, 10] and m.activation == "sigmoid"
    assert m.layers[0].weight.data.std() == pytest.approx(0.1, rel=0.02)  # the course's init
    x = RNG.random((3, 784), dtype=np.float32)
    expected = 1 / (1 + np.exp(-(x @ m.layers[0].weight.data.T)))
    expected = expected @ m.layers[2].weight.data.T
    np.testing.assert_allclose(m(x).data, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m(x.reshape(3, 1, 28, 28)).data, m(x).data)  # images flattened
    assert len(nn.MLP([784, 10]).layers) == 1  # softmax regression
    relu = nn.MLP([4, 8, 8, 2], activation="ReLU", dropout=0.1, seed=0)
    assert [type(l).__name__ for l in relu.layers] == [
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    same = nn.MLP([4, 8, 8, 2], activation="relu", dropout=0.1, seed=0)
    for p, q in zip(relu.parameters(), same.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": [784]}, "at least an input and an output"),
        ({"sizes": []}, "at least an input and an output"),
        ({"sizes": [784, 0, 10]}, r"sizes\[1\] = 0"),
        ({"sizes": [784, 6.5, 10]}, r"sizes\[1\] = 6.5"),
        ({"sizes": "784,10"}, "list of layer widths"),
        ({"sizes": 784}, "list of layer widths"),
        ({"sizes": [784, 10], "activation": "softplus"}, "unknown activation 'softplus'"),
        ({"sizes": [784, 10], "init": "zeros"}, "unknown init 'zeros'"),
        ({"sizes": [784, 10], "dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
    ],
)
def test_mlp_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        nn.MLP(**kwargs)
