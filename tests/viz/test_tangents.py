"""The trace of a forward-mode sweep: steps in forward order, frames with the tangents so far."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.autograd import forward_ad as fwd
from tinygrad_edu.viz import trace_tangents


def sweep() -> tuple:
    x0 = Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    w = Tensor(np.array([2.0, 3.0]), requires_grad=True, name="w")
    with fwd.dual_level(), trace_tangents() as t:
        x = fwd.make_dual(x0, np.array([1.0, 0.0]))
        y = (x * w).sigmoid().sum()
        dy = fwd.unpack_dual(y).tangent
    return t, dy, w


def test_steps_follow_the_ops_forward_with_their_tangents() -> None:
    t, dy, _ = sweep()
    assert [s.op for s in t] == ["Mul", "Sigmoid", "Sum"]
    np.testing.assert_allclose(t.steps[0].tangent, [2.0, 0.0])  # dx * w
    assert t.steps[0].input_tangents[1] is None  # w carries no tangent
    s = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(t.steps[1].tangent, [2 * s * (1 - s), 0.0])
    assert t.steps[-1].tangent == pytest.approx(dy)
    assert t.steps[1].rule() == "tangent: (1 - s) s t."
    table = str(t)
    assert "t2 = Mul(x, w): its tangent from those of x" in table and "3 steps" in table


def test_frames_show_the_tangents_known_so_far() -> None:
    t, _, _ = sweep()
    frames = t.frames()
    assert len(frames) == 3
    first, last = frames[0].source, frames[-1].source
    assert "tangent [1, 0]" in first and "tangent [2, 0]" in first  # x's, and Mul's output
    assert first.count("\\ltangent ") == 2  # a line of a node's label
    assert last.count("\\ltangent ") == 4 and "step 2 of 2" in last


def test_html_page(tmp_path: Path) -> None:
    t, _, _ = sweep()
    page = t.to_html(tmp_path / "sweep.html").read_text()
    assert page.count("<section") == 3 and "tangent: (1 - s) s t." in page
    if shutil.which("dot"):
        assert "<svg" in page


def test_it_needs_a_dual_level_and_a_recorded_graph() -> None:
    with pytest.raises(RuntimeError, match=r"open `forward_ad.dual_level\(\)` first"):
        trace_tangents().__enter__()
    with fwd.dual_level(), trace_tangents() as t:
        x = fwd.make_dual(Tensor(np.array([1.0])), np.ones(1))  # no graph is recorded
        (x * 2.0).exp()
    assert len(t) == 2
    with pytest.raises(ValueError, match="give make_dual a tensor that requires grad"):
        t.frames()
