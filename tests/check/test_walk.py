"""The reference walk: ``replace`` sends a given gradient on from a tensor, while reporting the
total that arrived there (the walk from a student's own upstream gradients)."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.check.walk import reference_grads


def test_replace_reports_the_arriving_total_and_sends_the_given_gradient_on() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    loss = (h * h).sum()  # dL/dh = 2 h = [6, 12]; dL/dx = 3 dL/dh
    right = reference_grads(loss, [h, x], np.ones(()))
    assert np.allclose(right[0], [6, 12]) and np.allclose(right[1], [18, 36])
    mine = reference_grads(loss, [h, x], np.ones(()), replace=[(h, np.array([1.0, -1.0]))])
    assert np.allclose(mine[0], [6, 12])  # what arrived at h
    assert np.allclose(mine[1], [3, -3])  # the rule of h = 3x applied to the given gradient
    assert h.grad is None and x.grad is None  # the graph is left as it was
