"""Small ready-made computations to draw and trace (used by the CLI, the docs and the notebook).

Each function builds a fresh graph and returns an :class:`Example` whose ``loss`` has not been
backpropagated yet. The tiny MLP uses the names of ``tinygrad_edu.jacobians`` and
``docs/backprop.md`` (x, W1, b1, z1, h, W2, b2, z2, loss). :data:`EXAMPLES` names them for
``tinygrad-edu graph`` and ``tinygrad-edu trace`` alike, and :func:`build` makes one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from ..fused import CrossEntropy

__all__ = [
    "EXAMPLES",
    "MAX_BATCH",
    "Example",
    "build",
    "course_mlp",
    "neuron",
    "scalar_expression",
    "tiny_mlp",
]


@dataclass
class Example:
    """A scalar ``loss``, the ``model`` that made it (or None) and a one-line description."""

    loss: Tensor
    title: str
    model: Any = None
    tensors: dict[str, Tensor] = field(default_factory=dict)


def _named(t: Tensor, name: str) -> Tensor:
    """Name ``t`` and keep its gradient after backward, so drawings can show it."""
    t.name = name
    if t.requires_grad:
        t.retain_grad()
    return t


def scalar_expression() -> Example:
    """L = (a b + c) a with a = 2, b = -3, c = 10: ``a`` is used twice, so its two gradient
    contributions add up: dL/da = (a b + c) + a b = 4 - 6 = -2."""
    a = Tensor(2.0, requires_grad=True, name="a", dtype=np.float64)
    b = Tensor(-3.0, requires_grad=True, name="b", dtype=np.float64)
    c = Tensor(10.0, requires_grad=True, name="c", dtype=np.float64)
    e = _named(a * b, "e")
    d = _named(e + c, "d")
    loss = _named(d * a, "L")
    return Example(loss, "L = (a*b + c) * a", tensors=dict(a=a, b=b, c=c, e=e, d=d, L=loss))


def neuron() -> Example:
    """One sigmoid neuron and a squared error: y = s(x W^T + b), L = sum (y - t)^2, with
    x = (0.5, -1.5), W = (0.8, 0.3) (one output), b = 0.1, t = 1."""
    x = Tensor(np.array([0.5, -1.5]), name="x")
    W = Tensor(np.array([[0.8, 0.3]]), requires_grad=True, name="W")
    b = Tensor(np.array([0.1]), requires_grad=True, name="b")
    z = _named(x @ _named(W.T, "W^T") + b, "z")
    y = _named(z.sigmoid(), "y")
    err = _named(y - 1.0, "err")
    sq = _named(err * err, "sq")
    loss = _named(sq.sum(), "L")
    return Example(
        loss,
        "one neuron: z = x W^T + b, y = sigmoid(z), L = sum (y - 1)^2",
        tensors=dict(x=x, W=W, b=b, z=z, y=y, err=err, sq=sq, L=loss),
    )


def tiny_mlp(sizes: tuple[int, int, int] = (2, 3, 2), seed: int = 0) -> Example:
    """The course's 784-64-10 sigmoid MLP in miniature, on one sample, with the names of
    ``jacobians.py``::

    z1 = x W1^T + b1,  h = sigmoid(z1),  z2 = h W2^T + b2,  loss = cross_entropy(z2, y)
    """
    n_in, hidden, classes = sizes
    rng = np.random.default_rng(seed)
    x = Tensor(rng.random((1, n_in)), name="x")
    y = np.array([classes - 1])
    W1 = Tensor(rng.normal(0, 1, (hidden, n_in)), requires_grad=True, name="W1")
    b1 = Tensor(np.zeros(hidden), requires_grad=True, name="b1")
    W2 = Tensor(rng.normal(0, 1, (classes, hidden)), requires_grad=True, name="W2")
    b2 = Tensor(np.zeros(classes), requires_grad=True, name="b2")
    W1T = _named(W1.T, "W1^T")
    z1 = _named(x @ W1T + b1, "z1")
    h = _named(z1.sigmoid(), "h")
    W2T = _named(W2.T, "W2^T")
    z2 = _named(h @ W2T + b2, "z2")
    loss = _named(CrossEntropy.apply(z2, targets=y), "loss")
    tensors = dict(x=x, W1=W1, b1=b1, z1=z1, h=h, W2=W2, b2=b2, z2=z2, loss=loss)
    return Example(
        loss,
        f"a {'-'.join(map(str, sizes))} sigmoid MLP on one sample (label {int(y[0])}): "
        "z1 = x W1^T + b1, h = sigmoid(z1), z2 = h W2^T + b2, loss = cross_entropy(z2, y)",
        tensors=tensors,
    )


def course_mlp(batch: int = 256, seed: int = 0) -> Example:
    """The course's MLP, ``nn.MLP([784, 64, 10], activation="sigmoid")``, on one minibatch of
    ``batch`` random 28x28 images with random labels (the graph depends only on the shapes)."""
    from .. import nn

    model = nn.MLP([784, 64, 10], activation="sigmoid", seed=seed)
    rng = np.random.default_rng(seed)
    x = Tensor(rng.random((batch, 784), dtype=np.float32))
    y = rng.integers(0, 10, size=batch)
    logits = model(x)  # drawn and traced with the names of their roles: layer2.z, ...
    loss = nn.cross_entropy(logits, y)
    return Example(
        loss,
        f"the course's MLP 784-64-10 (sigmoid) on a minibatch of {batch}",
        model=model,
        tensors=dict(x=x, logits=logits, loss=loss),
    )


#: The largest minibatch of the mlp example (its input is ``batch`` x 784 floats: 31 MB here).
MAX_BATCH = 10_000

#: Examples by the name ``graph --example`` and ``trace --example`` use: (what it is, builder).
EXAMPLES: dict[str, tuple[str, Callable[..., Example]]] = {
    "expression": ("the scalar expression L = (a*b + c) * a", scalar_expression),
    "neuron": ("one sigmoid neuron with a squared error", neuron),
    "tiny-mlp": ("the course's MLP shrunk to 2-3-2, on one sample, with cross-entropy", tiny_mlp),
    "mlp": ("the course's MLP 784-64-10 on one minibatch, with cross-entropy", course_mlp),
}


def build(name: str, seed: int = 0, batch: int = 256) -> Example:
    """The example called ``name`` in :data:`EXAMPLES`; ``seed`` draws the MLPs' weights and
    data, ``batch`` is the size of the mlp's minibatch."""
    if name not in EXAMPLES:
        raise ValueError(f"examples: no example {name!r}; choose one of {', '.join(EXAMPLES)}")
    if name == "mlp":
        return course_mlp(batch=batch, seed=seed)
    if name == "tiny-mlp":
        return tiny_mlp(seed=seed)
    return EXAMPLES[name][1]()
