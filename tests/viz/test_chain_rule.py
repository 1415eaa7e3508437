"""viz.chain_rule: every op's step written with names and numbers, and those numbers are the
engine's (each template is evaluated and compared with the gradient backward sent)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from tinygrad_edu import Tensor, conv, fused
from tinygrad_edu.engine import ops
from tinygrad_edu.engine.function import Function
from tinygrad_edu.viz import trace
from tinygrad_edu.viz.chain_rule import RULES, fill, plain_rule
from tinygrad_edu.viz.trace import step_details


def functions(module: object) -> list[type]:
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, Function) and c is not Function and c.__module__ == module.__name__
    ]


def test_every_primitive_op_has_a_rule():
    assert {c.op_name for c in functions(ops)} <= set(RULES)
    assert {"Linear", "CrossEntropy", "LogSoftmax"} <= set(RULES)


#: y = op(a, b) for the elementwise ops, with a = 0.7 and b = 1.3.
ELEMENTWISE = {
    "Add": lambda a, b: a + b,
    "Mul": lambda a, b: a * b,
    "Pow": lambda a, b: a**b,
    "Neg": lambda a, b: -a,
    "Exp": lambda a, b: a.exp(),
    "Log": lambda a, b: a.log(),
    "Sqrt": lambda a, b: a.sqrt(),
    "Sigmoid": lambda a, b: a.sigmoid(),
    "ReLU": lambda a, b: a.relu(),
    "Tanh": lambda a, b: a.tanh(),
}


def evaluate(numbers: str) -> float:
    """A formula as the trace prints it with numbers (``3 · 0.6682 · (1 - 0.6682)``), in Python."""
    py = numbers.replace("·", "*").replace("^", "**")
    py = re.sub(r"ln (\(-?[\d.e+-]+\)|[\d.e+-]+)", r"log(\1)", py)
    py = re.sub(r"\[([^\]]*)\]", r"(\1)", py)  # the indicator [a > 0]
    names = {"log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "max": max, "e": np.e}
    names["sigmoid"] = lambda v: 1 / (1 + np.exp(-v))
    return float(eval(py, {"__builtins__": {}}, names))


@pytest.mark.parametrize("op", list(ELEMENTWISE))
def test_the_numbers_written_for_an_elementwise_op_are_the_engines(op):
    assert RULES[op].elementwise
    a = Tensor(0.7, requires_grad=True, name="a", dtype=np.float64)
    b = Tensor(1.3, requires_grad=True, name="b", dtype=np.float64)
    y = ELEMENTWISE[op](a, b)
    y.name = "y"
    with trace() as t:
        (y * 3.0).backward()  # g = dL/dy = 3
    step = next(s for s in t.steps if s.node is y)
    assert step.op == op
    lines = step_details(step).splitlines()
    forward = lines[1].removeprefix("forward   ").split(" = ")
    assert forward[0] == "y" and np.isclose(evaluate(forward[2]), y.item(), rtol=2e-3)
    sends = [line[10:] for line in lines[2:]]
    assert len(sends) == len(step.sent) >= 1
    for line, sent in zip(sends, step.sent, strict=True):
        lhs, names, *numbers, result = line.split(" = ")
        assert lhs == f"dL/d{sent.name}" and "dL/dy" in names
        assert float(result) == pytest.approx(float(sent.grad), rel=1e-3)
        if numbers:  # left out where they read exactly as the result (dL/da = dL/dy = 3)
            assert evaluate(numbers[0]) == pytest.approx(float(sent.grad), rel=2e-3), line


def test_matrix_rules_compute_the_engines_gradients():
    rng = np.random.default_rng(0)
    a = Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="a")
    b = Tensor(rng.normal(size=(3, 4)), requires_grad=True, name="b")
    c = Tensor(rng.normal(size=(2,)), requires_grad=True, name="c")
    w = Tensor(rng.normal(size=(2, 4)))
    outputs = [a @ b, fused.Linear.apply(b.T, a, c), a.T]
    with trace() as t:
        sum((o * (w if o.shape == (2, 4) else 1.0)).sum() for o in outputs).backward()
    checked = set()
    for step in t.steps:
        rule = RULES.get(step.op or "")
        if rule is None or step.op not in ("MatMul", "Linear", "Transpose"):
            continue
        values = {s: p.data for s, p in zip("abc", step.node._ctx.parents, strict=False)}
        values |= {"g": step.upstream, "out": step.node.data}
        for sent in step.sent:
            template = rule.grads[sent.arg]
            if "summed over the rows" in template:
                expected = step.upstream.sum(axis=0)
            else:
                py = fill(template, {k: k for k in values}).replace("^T", ".T")
                expected = eval(py, {"__builtins__": {}}, values)
            np.testing.assert_allclose(sent.grad, expected, err_msg=f"{step.op} {template}")
            checked.add((step.op, sent.arg))
    assert checked >= {("MatMul", 0), ("MatMul", 1), ("Linear", 1), ("Linear", 2)}
    assert ("Transpose", 0) in checked


def test_fill_writes_names_and_numbers_so_they_cannot_be_misread():
    assert fill("{g} · {b}", {"g": "dL/dL", "b": "a"}) == "dL/dL · a"
    assert fill("{g} · {b}", {"g": "1", "b": "-3"}) == "1 · (-3)"
    assert fill("{a} + {b}", {"a": "-6", "b": "10"}) == "-6 + 10"
    assert fill("{g}", {"g": "-2"}) == "-2"
    assert fill("{g} @ {b}^T", {"g": "dL/dt9", "b": "W2^T"}) == "dL/dt9 @ (W2^T)^T"
    assert fill("{g} @ {b}^T", {"g": "(1, 2)", "b": "(3, 2)"}) == "(1, 2) @ (3, 2)^T"
    assert fill("{a}^{b}", {"a": "-2", "b": "3"}) == "(-2)^3"


@pytest.mark.parametrize(
    "op_class", functions(ops) + functions(fused) + functions(conv), ids=lambda c: c.__name__
)
def test_docstring_rules_are_plain_text_for_backward(op_class):
    text = plain_rule(op_class)
    assert text and "tangent" not in text
    assert "``" not in text and ":class:" not in text and "`" not in text
    assert all(len(line) <= 88 for line in text.splitlines())
