"""Every op's tangent rule and second derivatives, against its backward and finite differences.

* The dot-product test: for random u and w, <w, J u> from forward mode (``jvp``) equals
  <J^T w, u> from reverse mode (``vjp``): the tangent rule is the transpose of the backward.
* Second derivatives match central differences of first derivatives (``gradgradcheck``):
  the backward, run on Tensors under create_graph, is itself differentiated correctly.

One table of cases covers the primitives, the fused ops and convolution/pooling (whose tangents
and higher orders go through their composition of primitives).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu import Tensor, nn
from tinygrad_edu.autograd import functional as AF
from tinygrad_edu.engine.ops import Scatter
from tinygrad_edu.gradcheck import gradgradcheck

Case = tuple[Callable[..., Tensor], list[np.ndarray]]


@st.composite
def binary(
    draw: Any, op: Callable, strat_a: Callable = S.arrays, strat_b: Callable = S.arrays
) -> Case:
    shape_a, shape_b = draw(S.broadcastable_pairs(max_dims=3))
    return op, [draw(strat_a(shape_a)), draw(strat_b(shape_b))]


@st.composite
def unary(draw: Any, op: Callable, strat: Callable = S.arrays) -> Case:
    return op, [draw(strat(S.shapes(max_dims=3)))]


@st.composite
def reduction(draw: Any, method: str, strat: Callable = S.arrays) -> Case:
    shape = draw(S.shapes(max_dims=3))
    axis, keepdims = draw(S.axes(len(shape))), draw(st.booleans())
    return (lambda a: getattr(a, method)(axis=axis, keepdims=keepdims)), [draw(strat(shape))]


@st.composite
def shape_op(draw: Any, kind: str) -> Case:
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    x = draw(S.arrays(shape))
    if kind == "reshape":
        return (lambda a: a.reshape(shape[::-1])), [x]
    perm = draw(S.permutations_of(len(shape)))
    return (lambda a: a.transpose(perm)), [x]


@st.composite
def index(draw: Any, scatter: bool = False) -> Case:
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    rows = np.array(draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6)))
    if scatter:  # the adjoint of indexing: values added into zeros, repeats adding up
        values = draw(S.arrays((len(rows), *shape[1:])))
        return (lambda v: Scatter.apply(v, shape=shape, index=rows)), [values]
    return (lambda a: a[rows]), [draw(S.arrays(shape))]


@st.composite
def matmul(draw: Any) -> Case:
    a_shape, b_shape = draw(S.matmul_pairs())
    return (lambda a, b: a @ b), [draw(S.arrays(a_shape)), draw(S.arrays(b_shape))]


@st.composite
def cross_entropy(draw: Any, rows: bool) -> Case:
    logits, labels = draw(S.logits_and_labels())
    if rows:  # target probabilities
        p = draw(S.positive(logits.shape, 0.1, 1.0))
        labels = p / p.sum(axis=1, keepdims=True)
    return (lambda z: nn.cross_entropy(z, labels)), [logits]


@st.composite
def linear(draw: Any) -> Case:
    n, i, o = (draw(st.integers(1, 4)) for _ in range(3))
    x, w, b = draw(S.arrays((n, i))), draw(S.arrays((o, i))), draw(S.arrays((o,)))
    return nn.functional.linear, [x, w, b]


@st.composite
def binary_loss(draw: Any, logits: bool) -> Case:
    shape = draw(S.shapes(min_dims=1, max_dims=2))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    t = draw(S.arrays(shape, 0.0, 1.0))
    if logits:
        loss = nn.binary_cross_entropy_with_logits
        return (lambda z: loss(z, t, reduction)), [draw(S.away_from_zero(shape, 0.1, 3.0))]
    p = draw(S.arrays(shape, 0.05, 0.95))
    return (lambda q: nn.binary_cross_entropy(q, t, reduction)), [p]


@st.composite
def conv2d(draw: Any) -> Case:
    n, c, o, k = (draw(st.integers(1, 2)) for _ in range(4))
    k += 1
    h, w = draw(st.integers(k, 5)), draw(st.integers(k, 5))
    stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    x, wt, b = draw(S.arrays((n, c, h, w))), draw(S.arrays((o, c, k, k))), draw(S.arrays((o,)))
    return (lambda x, wt, b: nn.conv2d(x, wt, b, stride=stride, padding=padding)), [x, wt, b]


@st.composite
def max_pool2d(draw: Any) -> Case:
    shape = (1, draw(st.integers(1, 2)), draw(st.integers(2, 5)), draw(st.integers(2, 5)))
    kernel, stride = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return (lambda x: nn.max_pool2d(x, kernel, stride)), [draw(S.distinct(shape))]


CASES: dict[str, Any] = {
    "add": binary(lambda a, b: a + b),
    "mul": binary(lambda a, b: a * b),
    "pow": binary(lambda a, b: a**b, S.positive, lambda s: S.arrays(s, -2.0, 2.0)),
    "pow_constant": unary(lambda a: a**3.0),
    "div": binary(lambda a, b: a / b, S.arrays, lambda s: S.away_from_zero(s, lo=0.5)),
    "neg": unary(lambda a: -a),
    "exp": unary(lambda a: a.exp()),
    "log": unary(lambda a: a.log(), S.positive),
    "sqrt": unary(lambda a: a.sqrt(), S.positive),
    "sigmoid": unary(lambda a: a.sigmoid()),
    "relu": unary(lambda a: a.relu(), S.away_from_zero),
    "tanh": unary(lambda a: a.tanh()),
    "sum": reduction("sum"),
    "mean": reduction("mean"),
    "max": reduction("max", S.distinct),
    "reshape": shape_op("reshape"),
    "transpose": shape_op("transpose"),
    "index": index(),
    "scatter": index(scatter=True),
    "matmul": matmul(),
    "softmax": unary(lambda a: a.softmax(axis=-1), lambda s: S.arrays(s.filter(len))),
    "log_softmax_fused": unary(lambda a: nn.log_softmax(a, -1), lambda s: S.arrays(s.filter(len))),
    "cross_entropy_labels": cross_entropy(rows=False),
    "cross_entropy_rows": cross_entropy(rows=True),
    "linear": linear(),
    "bce": binary_loss(logits=False),
    "bce_with_logits": binary_loss(logits=True),
    "conv2d": conv2d(),
    "max_pool2d": max_pool2d(),
}
SLOW = {"conv2d", "max_pool2d", "matmul"}


def like(rng: np.random.Generator, arrays: Any) -> tuple[np.ndarray, ...]:
    return tuple(rng.standard_normal(np.shape(a)) for a in arrays)


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_tangent_rule_is_the_transpose_of_backward(name: str, data: st.DataObject) -> None:
    """<w, J u> (forward mode) == <J^T w, u> (reverse mode) for random u and w."""
    f, inputs = data.draw(CASES[name], label="case")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    xs = tuple(Tensor(x) for x in inputs)
    u = like(rng, inputs)
    out, ju = AF.jvp(f, xs, u)
    (w,) = like(rng, [out.data])
    _, jtw = AF.vjp(f, xs, w)
    lhs = float(np.sum(w * ju.data))
    rhs = sum(float(np.sum(g.data * ui)) for g, ui in zip(jtw, u, strict=True))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=8)
@given(data=st.data())
def test_second_derivatives_match_finite_differences(name: str, data: st.DataObject) -> None:
    f, inputs = data.draw(CASES[name], label="case")
    assert gradgradcheck(f, inputs, atol=1e-4 if name in SLOW else 1e-5)
