"""Optimisers: hand-computed updates, PyTorch parity, in-place updates, checkpoints, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu.engine.errors import InputError
from tinygrad_edu.nn.init import is_aligned

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def param(values: list[float]) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float64))


def run(opt: optim.Optimizer, p: nn.Parameter, grads: list[list[float]]) -> list[np.ndarray]:
    """Apply the given gradients one step at a time; the parameter after each step."""
    out = []
    for g in grads:
        p.grad = np.array(g, dtype=p.dtype)
        opt.step()
        out.append(p.data.copy())
    return out


# --------------------------------------------------------------------------- by hand
def test_sgd_by_hand() -> None:
    p = param([1.0, -2.0])
    steps = run(optim.SGD([p], lr=0.1), p, [[1.0, 2.0], [0.5, -1.0], [0.0, 4.0]])
    np.testing.assert_allclose(steps, [[0.9, -2.2], [0.85, -2.1], [0.85, -2.5]])


def test_sgd_momentum_by_hand() -> None:
    # b1 = g1; b2 = 0.9 b1 + g2; b3 = 0.9 b2 + g3;  w <- w - lr b
    p = param([1.0])
    steps = run(optim.SGD([p], lr=0.1, momentum=0.9), p, [[1.0], [2.0], [-1.0]])
    b1, b2 = 1.0, 0.9 * 1.0 + 2.0
    b3 = 0.9 * b2 - 1.0
    np.testing.assert_allclose(
        np.ravel(steps), [1 - 0.1 * b1, 1 - 0.1 * (b1 + b2), 1 - 0.1 * (b1 + b2 + b3)]
    )


def test_sgd_nesterov_weight_decay_and_dampening_by_hand() -> None:
    # nesterov: d = g + m b (b as above), with g <- g + wd w first
    p = param([2.0])
    opt = optim.SGD([p], lr=0.5, momentum=0.5, weight_decay=0.1, nesterov=True)
    (w1,), (w2,) = run(opt, p, [[1.0], [1.0]])
    g1 = 1.0 + 0.1 * 2.0
    b1 = g1
    w1_expected = 2.0 - 0.5 * (g1 + 0.5 * b1)
    g2 = 1.0 + 0.1 * w1_expected
    b2 = 0.5 * b1 + g2
    assert w1 == pytest.approx(w1_expected)
    assert w2 == pytest.approx(w1_expected - 0.5 * (g2 + 0.5 * b2))
    p = param([0.0])
    (w1,), (w2,) = run(optim.SGD([p], lr=1.0, momentum=0.5, dampening=0.5), p, [[1.0], [1.0]])
    assert (w1, w2) == pytest.approx((-1.0, -1.0 - (0.5 * 1.0 + 0.5 * 1.0)))


def test_adam_by_hand() -> None:
    p = param([1.0, 1.0])
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    steps = run(opt, p, [[1.0, -0.5], [2.0, -0.5], [0.0, -0.5]])
    w = np.array([1.0, 1.0])
    m = v = np.zeros(2)
    for t, g in enumerate([[1.0, -0.5], [2.0, -0.5], [0.0, -0.5]], start=1):
        g = np.array(g)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(steps[t - 1], w, rtol=1e-12)
    # first step of Adam moves each weight by about lr against the sign of its gradient
    np.testing.assert_allclose(steps[0], [0.9, 1.1], rtol=1e-6)
    assert opt.state[0]["step"] == 3


# --------------------------------------------------------------------------- torch parity
SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
    {"lr": 0.2, "weight_decay": 0.5},
]
ADAM_CASES = [
    {"lr": 0.01},
    {"lr": 0.003, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1},
]


@needs_torch
@pytest.mark.parametrize(
    ("name", "kwargs"), [("SGD", k) for k in SGD_CASES] + [("Adam", k) for k in ADAM_CASES]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_optim_on_the_same_gradients(name: str, kwargs: dict, dtype: type) -> None:
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5,)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [nn.Parameter(w) for w in start]
    theirs = [torch.tensor(w, requires_grad=True) for w in start]
    opt = getattr(optim, name)(ours, **kwargs)
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(4):
        for p, q in zip(ours, theirs, strict=True):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad, q.grad = g, torch.tensor(g)
        opt.step()
        topt.step()
    tol = 1e-12 if dtype == np.float64 else 1e-6
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=tol, atol=tol)


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1),
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        lambda ps: optim.Adam(ps, weight_decay=0.1),
    ],
)
def test_updates_in_place_skip_missing_grads_and_align_state(make) -> None:
    model = nn.MLP([6, 5, 3], seed=0)
    opt = make(model.parameters())
    arrays = [p.data for p in model.parameters()]
    before = [a.copy() for a in arrays]
    out = model(np.ones((2, 6), np.float32))
    nn.cross_entropy(out, [0, 2]).backward()
    model.layers[2].bias.grad = None  # skipped
    grads = [None if p.grad is None else p.grad.copy() for p in model.parameters()]
    for _ in range(2):
        opt.step()
    for p, a, b, g in zip(model.parameters(), arrays, before, grads, strict=True):
        assert p.data is a and is_aligned(p.data) and p.data.dtype == np.float32
        if g is None:
            np.testing.assert_array_equal(p.data, b)
        else:
            assert not np.array_equal(p.data, b)
            np.testing.assert_array_equal(p.grad, g)  # the gradient itself is not modified
    for state in opt.state:
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert is_aligned(value)
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_accepts_a_module_and_lr_can_change() -> None:
    model = nn.MLP([3, 2], seed=0)
    opt = optim.SGD(model, lr=0.1)
    assert len(opt.params) == 2
    opt.lr = 0.01
    assert opt.lr == 0.01
    with pytest.raises(InputError, match="lr must be a number >= 0, got -1"):
        opt.lr = -1
    assert "SGD(2 tensors, lr=0.01" in repr(opt)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda ps: optim.SGD(ps, lr=-0.1), InputError, "SGD: lr must be a number >= 0, got -0.1"),
        (lambda ps: optim.SGD(ps, lr=math.nan), InputError, "lr must be a number >= 0, got nan"),
        (lambda ps: optim.SGD(ps, lr="0.1"), InputError, "lr must be a number >= 0, got '0.1'"),
        (
            lambda ps: optim.SGD(ps, lr=0.1, momentum=-1),
            InputError,
            "momentum must be a number >= 0",
        ),
        (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), InputError, "weight_decay"),
        (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov needs momentum"),
        (lambda ps: optim.Adam(ps, lr=-1), InputError, "Adam: lr must be a number >= 0"),
        (
            lambda ps: optim.Adam(ps, betas=(0.9, 1.0)),
            InputError,
            r"betas\[1\] must be a number in \[0, 1\)",
        ),
        (lambda ps: optim.Adam(ps, betas=(0.9,)), ValueError, "betas must be a pair"),
        (lambda ps: optim.Adam(ps, eps=-1e-8), InputError, "eps must be a number >= 0"),
        (lambda ps: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda ps: optim.SGD(ps[0], lr=0.1), TypeError, "got a single Tensor"),
        (lambda ps: optim.SGD([np.zeros(3)], lr=0.1), TypeError, r"params\[0\] is a ndarray"),
        (lambda ps: optim.SGD([Tensor([1.0])], lr=0.1), ValueError, "does not require grad"),
        (lambda ps: optim.SGD([ps[0], ps[0]], lr=0.1), ValueError, "appears twice"),
    ],
)
def test_validation_errors(make, error: type, message: str) -> None:
    params = nn.MLP([3, 2], seed=0).parameters()
    with pytest.raises(error, match=message):
        make(params)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_state_dict_round_trip_resumes_identically(name: str) -> None:
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(4)]

    def fresh() -> tuple[nn.Parameter, optim.Optimizer]:
        p = nn.Parameter(np.ones(4))
        return p, getattr(optim, name)([p], **kwargs)

    p, opt = fresh()
    run(opt, p, [list(g) for g in grads[:2]])
    checkpoint, weights = opt.state_dict(), p.data.copy()
    expected = run(opt, p, [list(g) for g in grads[2:]])

    q, opt2 = fresh()
    q.data[:] = weights
    opt2.load_state_dict(checkpoint)
    assert opt2.steps == 2
    np.testing.assert_array_equal(run(opt2, q, [list(g) for g in grads[2:]]), expected)
    bad = opt.state_dict()
    bad["state"][0] = {
        k: (np.zeros(3) if isinstance(v, np.ndarray) else v) for k, v in bad["state"][0].items()
    }
    with pytest.raises(ValueError, match=r"has shape \(3,\)"):
        opt2.load_state_dict(bad)
    other = optim.Adam([q]) if name == "SGD" else optim.SGD([q], lr=0.1)
    with pytest.raises(ValueError, match=f"the state dict is for {name}"):
        other.load_state_dict(checkpoint)


def test_a_step_after_backward_with_create_graph_uses_the_gradients_values() -> None:
    """backward(create_graph=True) leaves Tensors in .grad: the update uses their values."""
    plain, graphed = (Tensor(np.array([1.0, -2.0]), requires_grad=True) for _ in range(2))
    for p, create_graph in ((plain, False), (graphed, True)):
        (p * p).sum().backward(create_graph=create_graph)
        optim.SGD([p], lr=0.1).step()
    assert isinstance(graphed.grad, Tensor)
    np.testing.assert_array_equal(graphed.data, plain.data)


def test_make_optimizer_by_name() -> None:
    """The command line's names: nesterov is SGD with Nesterov momentum; momentum and weight
    decay reach the optimiser."""
    params = [Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)]
    nesterov = optim.make_optimizer("nesterov", params, 0.1, momentum=0.8, weight_decay=1e-3)
    assert isinstance(nesterov, optim.SGD) and nesterov.nesterov
    assert (nesterov.momentum, nesterov.weight_decay) == (0.8, 1e-3)
    plain = optim.make_optimizer("sgd", params, 0.1, momentum=0.8)
    assert plain.momentum == 0.0 and not plain.nesterov
    adam = optim.make_optimizer("adam", params, 0.01, weight_decay=0.5)
    assert isinstance(adam, optim.Adam) and adam.weight_decay == 0.5
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        optim.make_optimizer("rmsprop", params, 0.1)
