"""Every op's rules, against each other and against finite differences.

* First derivatives match central differences (``gradcheck``).
* The dot-product test: for random u and w, <w, J u> from forward mode (``jvp``) equals
  <J^T w, u> from reverse mode (``vjp``): the tangent rule is the transpose of the backward.
* Second derivatives match central differences of first derivatives (``gradgradcheck``):
  the backward, run on Tensors under create_graph, is itself differentiated correctly.

One table of cases covers the primitives, the fused ops and convolution/pooling (whose tangents
and higher orders go through their composition of primitives); each case names the ops it runs,
and every ``Function`` subclass in the package must be named by some case.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu
from tinygrad_edu import Function, Tensor, conv, fused, nn
from tinygrad_edu.autograd import functional as AF
from tinygrad_edu.engine import ops
from tinygrad_edu.engine.backprop import topological_sort
from tinygrad_edu.engine.ops import Scatter
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck

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


#: name -> (the case, the ops it runs: checked by test_each_case_runs_the_ops_it_names)
CASES: dict[str, tuple[Any, set[type[Function]]]] = {
    "add": (binary(lambda a, b: a + b), {ops.Add}),
    "mul": (binary(lambda a, b: a * b), {ops.Mul}),
    "pow": (binary(lambda a, b: a**b, S.positive, lambda s: S.arrays(s, -2.0, 2.0)), {ops.Pow}),
    "pow_constant": (unary(lambda a: a**3.0), {ops.Pow}),
    "div": (
        binary(lambda a, b: a / b, S.arrays, lambda s: S.away_from_zero(s, lo=0.5)),
        {ops.Mul, ops.Pow},
    ),
    "neg": (unary(lambda a: -a), {ops.Neg}),
    "exp": (unary(lambda a: a.exp()), {ops.Exp}),
    "log": (unary(lambda a: a.log(), S.positive), {ops.Log}),
    "sqrt": (unary(lambda a: a.sqrt(), S.positive), {ops.Sqrt}),
    "sigmoid": (unary(lambda a: a.sigmoid()), {ops.Sigmoid}),
    "relu": (unary(lambda a: a.relu(), S.away_from_zero), {ops.ReLU}),
    "tanh": (unary(lambda a: a.tanh()), {ops.Tanh}),
    "sum": (reduction("sum"), {ops.Sum}),
    "mean": (reduction("mean"), {ops.Mean}),
    "max": (reduction("max", S.distinct), {ops.Max}),
    "reshape": (shape_op("reshape"), {ops.Reshape}),
    "transpose": (shape_op("transpose"), {ops.Transpose}),
    "index": (index(), {ops.Index}),
    "scatter": (index(scatter=True), {ops.Scatter}),
    "matmul": (matmul(), {ops.MatMul}),
    "softmax": (
        unary(lambda a: a.softmax(axis=-1), lambda s: S.arrays(s.filter(len))),
        {ops.Add, ops.Neg, ops.Exp, ops.Sum, ops.Log},
    ),
    "log_softmax_fused": (
        unary(lambda a: nn.log_softmax(a, -1), lambda s: S.arrays(s.filter(len))),
        {fused.LogSoftmax},
    ),
    "cross_entropy_labels": (cross_entropy(rows=False), {fused.CrossEntropy}),
    "cross_entropy_rows": (cross_entropy(rows=True), {fused.CrossEntropy}),
    "linear": (linear(), {fused.Linear}),
    "bce": (binary_loss(logits=False), {fused.BinaryCrossEntropy}),
    "bce_with_logits": (binary_loss(logits=True), {fused.BinaryCrossEntropyWithLogits}),
    "conv2d": (conv2d(), {conv.Conv2d}),
    "max_pool2d": (max_pool2d(), {conv.MaxPool2d}),
}
#: Function subclasses with no rules of their own to check, and why.
WITHOUT_RULES = {
    "tinygrad_edu.exercises.derivative_table.SumAll": "an exercise's op: the student writes its "
    "backward, and the exercise's grader checks it",
}
SLOW = {"conv2d", "max_pool2d", "matmul"}


def like(rng: np.random.Generator, arrays: Any) -> tuple[np.ndarray, ...]:
    return tuple(rng.standard_normal(np.shape(a)) for a in arrays)


@pytest.mark.parametrize("name", list(CASES))
@given(data=st.data())
def test_tangent_rule_is_the_transpose_of_backward(name: str, data: st.DataObject) -> None:
    """<w, J u> (forward mode) == <J^T w, u> (reverse mode) for random u and w."""
    f, inputs = data.draw(CASES[name][0], label="case")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    xs = tuple(Tensor(x) for x in inputs)
    u = like(rng, inputs)
    out, ju = AF.jvp(f, xs, u)
    (w,) = like(rng, [out.data])
    _, jtw = AF.vjp(f, xs, w)
    lhs = float(np.sum(w * ju.data))
    rhs = sum(float(np.sum(g.data * ui)) for g, ui in zip(jtw, u, strict=True))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("check", [gradcheck, gradgradcheck], ids=["first", "second"])
@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=8)
@given(data=st.data())
def test_derivatives_match_finite_differences(
    name: str, check: Callable[..., bool], data: st.DataObject
) -> None:
    """First derivatives (gradcheck) and second ones (gradgradcheck: the backward run on Tensors
    under create_graph, differentiated again) against central differences."""
    f, inputs = data.draw(CASES[name][0], label="case")
    assert check(f, inputs, atol=1e-4 if name in SLOW else 1e-5)


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=3)
@given(data=st.data())
def test_each_case_runs_the_ops_it_names(name: str, data: st.DataObject) -> None:
    f, inputs = data.draw(CASES[name][0], label="case")
    out = f(*[Tensor(x, requires_grad=True) for x in inputs])
    ran = {type(t._ctx) for t in topological_sort([out]) if t._ctx is not None}
    assert CASES[name][1] <= ran


def package_functions() -> set[type[Function]]:
    """Every Function subclass defined in the package (by a class statement in a module)."""
    for module in pkgutil.walk_packages(tinygrad_edu.__path__, "tinygrad_edu."):
        if module.name != "tinygrad_edu.__main__":
            importlib.import_module(module.name)
    found, todo = set(), [Function]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            defined_in = sys.modules.get(cls.__module__)
            if cls.__module__.startswith("tinygrad_edu.") and (
                getattr(defined_in, cls.__qualname__, None) is cls
            ):
                found.add(cls)
    return found


def without_cases(functions: set[type[Function]]) -> list[str]:
    """The ops named by no case (nor in WITHOUT_RULES), by their full names."""
    named = set().union(*(covered for _, covered in CASES.values()))
    full = {cls: f"{cls.__module__}.{cls.__qualname__}" for cls in functions - named}
    return sorted(name for name in full.values() if name not in WITHOUT_RULES)


def test_every_op_of_the_package_has_rule_cases() -> None:
    """A new op needs a case above: gradcheck, the tangent rule and gradgradcheck run on it."""
    functions = package_functions()
    assert len(functions) >= 26  # the primitives, the fused ops, conv and pooling
    assert without_cases(functions) == []


def test_a_new_op_without_cases_is_named() -> None:
    class Softsign(Function):  # out = a / (1 + |a|), and no case in CASES
        def forward(ctx, a: np.ndarray) -> np.ndarray:
            ctx.save_for_backward(a)
            return a / (1 + np.abs(a))

    missing = without_cases({*package_functions(), Softsign})
    assert missing == [f"{__name__}.{Softsign.__qualname__}"]


def test_the_ops_without_rules_are_templates_for_students() -> None:
    """WITHOUT_RULES holds only ops that define no backward of their own."""
    functions = {f"{c.__module__}.{c.__qualname__}": c for c in package_functions()}
    for name in WITHOUT_RULES:
        assert functions[name].backward is Function.backward, name
