"""Forward mode: dual levels, tangents carried through every op in one sweep, no backward."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import ShapeError, Tensor, nn
from tinygrad_edu.autograd import forward_ad as fwd
from tinygrad_edu.engine import function


def test_a_sweep_gives_the_directional_derivative() -> None:
    x0 = Tensor(np.array([0.5, -1.0, 2.0]))
    v = np.array([1.0, 0.0, -2.0])
    with fwd.dual_level():
        x = fwd.make_dual(x0, v)
        y = (x.sigmoid() * x).sum()
        primal, tangent = fwd.unpack_dual(y)
    s = 1 / (1 + np.exp(-x0.data))
    assert primal.item() == pytest.approx(float((s * x0.data).sum()))
    assert tangent == pytest.approx(float(((s * (1 - s) * x0.data + s) * v).sum()))


def test_no_backward_pass_runs_and_no_graph_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backward(*args: object) -> None:
        raise AssertionError("forward mode ran a backward pass")

    monkeypatch.setattr("tinygrad_edu.engine.backprop.backprop", no_backward)
    model = nn.MLP([3, 4, 2], seed=0, dtype=np.float64)
    with fwd.dual_level():
        x = fwd.make_dual(Tensor(np.ones((2, 3))), np.ones((2, 3)))
        _, tangent = fwd.unpack_dual(model(x))
    assert tangent.shape == (2, 2)


def test_broadcasting_tangents_take_the_output_shape() -> None:
    """b (3,) broadcast against a (2, 3): b's tangent reaches every row of the output."""
    with fwd.dual_level():
        b = fwd.make_dual(Tensor(np.zeros(3)), np.array([1.0, 2.0, 3.0]))
        _, t = fwd.unpack_dual(Tensor(np.ones((2, 3))) + b)
    np.testing.assert_array_equal(t, [[1.0, 2.0, 3.0]] * 2)


def test_tensors_without_a_tangent_and_integer_results_have_none() -> None:
    with fwd.dual_level():
        x = fwd.make_dual(Tensor(np.array([1.0, 2.0])), np.ones(2))
        assert fwd.unpack_dual(Tensor(np.array([3.0])) * 2.0).tangent is None
        assert fwd.unpack_dual(Tensor(np.array([0, 1]))[np.array([1])]).tangent is None
        assert fwd.unpack_dual(x * 2.0).tangent is not None
    assert fwd.unpack_dual(x).tangent is None  # the level is closed: tangents are gone


def test_the_hook_costs_nothing_outside_a_level_and_is_restored_after_errors() -> None:
    assert function._forward_hook is None
    with pytest.raises(ValueError, match="boom"), fwd.dual_level():
        assert function._forward_hook is not None
        raise ValueError("boom")
    assert function._forward_hook is None


def test_errors() -> None:
    x = Tensor(np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="only inside"):
        fwd.make_dual(x, np.ones(2))
    with fwd.dual_level():
        with pytest.raises(
            ShapeError, match=r"a tangent of shape \(3,\) for a tensor of shape \(2,\)"
        ):
            fwd.make_dual(x, np.ones(3))
        with pytest.raises(TypeError, match="only floating-point tensors"):
            fwd.make_dual(Tensor(np.array([1, 2])), np.ones(2))


def test_an_op_without_a_tangent_rule_says_so() -> None:
    from tinygrad_edu import Function

    class Square(Function):
        def forward(ctx, a: np.ndarray) -> np.ndarray:
            return a * a

    with fwd.dual_level():
        x = fwd.make_dual(Tensor(np.array([1.0])), np.ones(1))
        with pytest.raises(NotImplementedError, match="Square has no tangent rule"):
            Square.apply(x)


def test_nested_levels_are_refused_and_the_outer_level_keeps_its_tangents() -> None:
    from tinygrad_edu.autograd import functional

    x0 = Tensor(np.array([1.0, 2.0]))
    with fwd.dual_level():
        x = fwd.make_dual(x0, np.array([1.0, 0.0]))
        with pytest.raises(RuntimeError, match=r"dual_level: .*nested"), fwd.dual_level():
            pass
        with pytest.raises(RuntimeError, match=r"dual_level: .*nested"):
            functional.jvp(lambda a: a * 3.0, x0, np.ones(2))  # opens a level of its own
        _, dy = fwd.unpack_dual(x * x)
        np.testing.assert_allclose(dy, [2.0, 0.0])  # the outer tangents are still there
    with fwd.dual_level():  # and a new level opens once the outer one is closed
        assert fwd.unpack_dual(fwd.make_dual(x0, np.ones(2)) * 2.0).tangent is not None
