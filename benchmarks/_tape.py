"""A bare tape: the least an eager Python autodiff can do, as a floor for the engine's overhead.

Each op computes its value with the same numpy calls tinygrad_edu makes for it, makes one
:class:`Node`, and appends it with a closure that turns dL/d(out) into dL/d(inputs);
:func:`run_backward` calls the closures newest first. There are no Tensors, checks,
broadcasting rules, hooks, grad mode or optimiser. ``overhead_split.py`` and ``op_overhead.py``
time their steps on it beside the engine: the difference is what the engine's own bookkeeping
costs, beyond what recording a graph in Python costs at all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_edu.engine import speed

Back = Callable[[np.ndarray], None]


class Node:
    """A value on the tape: its array, its gradient, and how it sends the gradient back."""

    __slots__ = ("back", "data", "grad")

    def __init__(self, data: np.ndarray, back: Back | None = None) -> None:
        self.data, self.back, self.grad = data, back, None

    def receive(self, g: np.ndarray) -> None:
        self.grad = g if self.grad is None else self.grad + g


def record(tape: list[Node], data: np.ndarray, back: Back) -> Node:
    tape.append(node := Node(data, back))
    return node


def run_backward(tape: list[Node], loss: Node) -> None:
    """dL/dL = 1, then each recorded op, newest first, sends its gradient to its inputs."""
    loss.grad = np.ones((), loss.data.dtype)
    for node in reversed(tape):
        if node.grad is not None and node.back is not None:
            node.back(node.grad)


def sgd(params: list[Node], lr: float) -> None:
    """w <- w - lr dL/dw in place, and the gradients forgotten."""
    for p in params:
        p.data -= lr * p.grad
        p.grad = None


# --------------------------------------------------------------------------- fused ops
def linear(tape: list[Node], x: Node, w: Node, b: Node, need_x: bool) -> Node:
    """x W^T + b, as fused.Linear."""
    out = np.dot(x.data, w.data.T)
    out += b.data

    def back(g: np.ndarray) -> None:
        if need_x:
            x.receive(np.dot(g, w.data))
        w.receive(np.dot(g.T, x.data))
        b.receive(speed.sum_rows(g))

    return record(tape, out, back)


def cross_entropy(tape: list[Node], z: Node, y: np.ndarray) -> Node:
    """Mean softmax cross-entropy of logits z and labels y, as fused.CrossEntropy."""
    n = z.data.shape[0]
    logp = _log_softmax_rows(z.data)
    loss = np.asarray(-logp[np.arange(n), y].sum() / n, dtype=z.data.dtype)

    def back(g: np.ndarray) -> None:
        grad = np.exp(logp)
        grad[np.arange(n), y] -= 1
        grad *= g / n
        z.receive(grad)

    return record(tape, loss, back)


def _log_softmax_rows(a: np.ndarray) -> np.ndarray:
    """(a - m) - log sum e^(a - m) along the rows, m the row max, with the engine's helpers."""
    shifted = a - speed.max_along(a, 1)
    return shifted - np.log(speed.sum_along(np.exp(shifted), 1))


# --------------------------------------------------------------------------- primitive ops
def sigmoid(tape: list[Node], a: Node) -> Node:
    s = speed.sigmoid(a.data)
    return record(tape, s, lambda g: a.receive(speed.sigmoid_grad(s, g)))


def matmul(tape: list[Node], a: Node, b: Node, need_a: bool) -> Node:
    def back(g: np.ndarray) -> None:
        if need_a:
            a.receive(speed.matmul(g, b.data.T))
        b.receive(speed.matmul(a.data.T, g))

    return record(tape, speed.matmul(a.data, b.data), back)


def add_row(tape: list[Node], a: Node, b: Node) -> Node:
    """a + b with b a row added to every row of a (its gradient summed over the rows)."""

    def back(g: np.ndarray) -> None:
        a.receive(g)
        b.receive(speed.sum_rows(g))

    return record(tape, a.data + b.data, back)


def log_softmax(tape: list[Node], a: Node) -> Node:
    """Along the rows, as fused.LogSoftmax."""
    out = _log_softmax_rows(a.data)
    return record(tape, out, lambda g: a.receive(g - np.exp(out) * speed.sum_along(g, 1)))


def pick(tape: list[Node], a: Node, y: np.ndarray) -> Node:
    """a[n, y_n] for each row n, as ops.Index."""
    index = (np.arange(len(y)), y)

    def back(g: np.ndarray) -> None:
        scattered = np.zeros(a.data.shape, g.dtype)
        np.add.at(scattered, index, g)
        a.receive(scattered)

    return record(tape, a.data[index], back)


def mean(tape: list[Node], a: Node) -> Node:
    scale = 1.0 / a.data.size
    out = a.data.sum(keepdims=True).squeeze() * scale
    return record(tape, out, lambda g: a.receive(speed.expand(g * scale, a.data.shape)))


def neg(tape: list[Node], a: Node) -> Node:
    return record(tape, -a.data, lambda g: a.receive(-g))
