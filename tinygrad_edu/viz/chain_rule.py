"""One step of backward written with the tensors' own names and numbers.

At ``out = Op(a, b)`` backward sends dL/da, a product of the arriving ``g`` = dL/d(out) and the
op's local derivative. :data:`RULES` writes that product for each op as a template over the op's
arguments by position (``{a}``, ``{b}``, ``{c}``), its output ``{out}`` and ``{g}``, and
:func:`fill` writes it with the names of the graph (``dL/dL · a``) or, where every tensor in it
has one element, with their numbers (``1 · 2``). The templates are how the trace *writes* a step;
the numbers it prints after ``=`` are the engine's own (a test evaluates every template and
compares). An op without a template (convolution, binary cross-entropy, a Function of your own)
is described by its docstring as plain text: :func:`plain_rule`.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .text import shape_text

__all__ = ["RULES", "Operand", "Rule", "arguments_legend", "fill", "plain_rule", "rule_for"]

SYMBOLS = ("a", "b", "c")  # the templates' names for an op's arguments, by position


@dataclass(frozen=True)
class Rule:
    """How one op's step is written.

    ``forward`` is the op's value (``{a} · {b}``) and ``grads[k]`` the gradient sent to argument
    k (``{g} · {b}``). ``elementwise`` ops have the gradient's shape, numbers can stand in for
    size-1 tensors and a broadcast input gets its gradient summed back; otherwise ``shapes``
    says that the template reads as an equation of shapes (``(1, 2) @ (3, 2)^T``).
    """

    forward: str
    grads: tuple[str, ...]
    elementwise: bool = True
    shapes: bool = False


#: The step of each op by its ``op_name``: what it computes and what it sends to each argument.
RULES: dict[str, Rule] = {
    "Add": Rule("{a} + {b}", ("{g}", "{g}")),
    "Mul": Rule("{a} · {b}", ("{g} · {b}", "{g} · {a}")),
    "Pow": Rule("{a}^{b}", ("{g} · {b} · {a}^({b} - 1)", "{g} · {out} · ln {a}")),
    "Neg": Rule("-{a}", ("-{g}",)),
    "Exp": Rule("e^{a}", ("{g} · {out}",)),
    "Log": Rule("ln {a}", ("{g} / {a}",)),
    "Sqrt": Rule("sqrt({a})", ("{g} / (2 · {out})",)),
    "Sigmoid": Rule("sigmoid({a})", ("{g} · {out} · (1 - {out})",)),
    "ReLU": Rule("max({a}, 0)", ("{g} · [{a} > 0]",)),
    "Tanh": Rule("tanh({a})", ("{g} · (1 - {out}^2)",)),
    "Sum": Rule("sum of {a}", ("{g}, copied to each element of {a}",), False),
    "Mean": Rule("mean of {a}", ("{g} / {n}, copied to each element of {a}",), False),
    "Max": Rule("max of {a}", ("{g} at the maxima of {a} (shared by ties), 0 elsewhere",), False),
    "Reshape": Rule("{a} reshaped", ("{g} reshaped back to the shape of {a}",), False),
    "Transpose": Rule("{a}^T", ("{g}^T",), False, shapes=True),
    "Index": Rule("{a}[index]", ("{g} put back where {a} was read, 0 elsewhere",), False),
    "Scatter": Rule("zeros with {a} added at index", ("{g}[index]",), False),
    "MatMul": Rule("{a} @ {b}", ("{g} @ {b}^T", "{a}^T @ {g}"), False, shapes=True),
    "Linear": Rule(
        "{a} @ {b}^T + {c}",
        ("{g} @ {b}", "{g}^T @ {a}", "{g} summed over the rows"),
        False,
        shapes=True,
    ),
    "LogSoftmax": Rule("log_softmax({a})", ("{g} - softmax({a}) · (row sums of {g})",), False),
    "CrossEntropy": Rule(
        "cross_entropy({a}, y)", ("{g} · (softmax({a}) - y) / {n}, y one-hot",), False
    ),
}

#: Transposing more than two axes: the gradient is permuted back.
_PERMUTE = Rule("{a} with its axes permuted", ("{g} with the axes permuted back",), False)


@dataclass(frozen=True)
class Operand:
    """A tensor in a formula: its ``name``, ``shape`` and, if it has one element, its ``value``."""

    name: str
    shape: tuple[int, ...]
    value: float | None = None

    @property
    def size(self) -> int:
        n = 1
        for k in self.shape:
            n *= k
        return n


def rule_for(op: str | None, ndim: int = 2) -> Rule | None:
    """The :class:`Rule` of ``op`` (None: write its docstring instead); ``ndim`` is the output's,
    which tells a matrix transpose (``^T``) from a permutation of more axes."""
    if op == "Transpose" and ndim > 2:
        return _PERMUTE
    return RULES.get(op or "")


def fill(template: str, symbols: Mapping[str, str]) -> str:
    """``template`` with each ``{key}`` replaced by ``symbols[key]``, in parentheses where the text
    would otherwise be misread: a compound name or a negative number before ``^``, and a
    negative number anywhere but alone (``1 · (-3)``)."""

    def one(m: re.Match[str]) -> str:
        text = symbols[m.group(1)]
        before_power = template[m.end() : m.end() + 1] == "^"
        negative = text.startswith("-") and m.start() > 0
        compound = not re.fullmatch(r"[\w.]+|\(.*\)", text)
        return f"({text})" if negative or (before_power and compound) else text

    return re.sub(r"\{(\w+)\}", one, template)


def symbols_of(
    g: Operand, out: Operand, args: Sequence[Operand], n: int, use: str
) -> dict[str, str]:
    """What each template key stands for: ``use`` is ``"name"``, ``"value"`` or ``"shape"``."""

    def text(o: Operand) -> str:
        if use == "name":
            return o.name
        if use == "shape":
            return shape_text(o.shape)
        return _number(o.value)

    found = {"g": text(g), "out": text(out), "n": str(n)}
    found.update({s: text(o) for s, o in zip(SYMBOLS, args, strict=False)})
    return found


def has_numbers(
    rule: Rule, template: str, g: Operand, out: Operand, args: Sequence[Operand]
) -> bool:
    """Can the numbers stand in for the names: an elementwise rule whose tensors each hold one
    number?"""
    used = symbols_of(g, out, args, 0, "name")
    keys = set(re.findall(r"\{(\w+)\}", template)) - {"n"}
    pool = {"g": g, "out": out, **dict(zip(SYMBOLS, args, strict=False))}
    return rule.elementwise and all(k in used and pool[k].value is not None for k in keys)


def _number(v: float | None) -> str:
    """A number as the trace writes it: 4 significant digits, integers without a point."""
    if v is None:
        return "?"
    return "0" if v == 0 else f"{v:.4g}"


def plain_rule(op_class: type, width: int = 88) -> str:
    """The op's derivative from its docstring, as plain text for backward: the first paragraph
    and any later one that states a derivative (``dL/..`` or ``d out``), without the forward-mode
    (``tangent:``) sentences and without reStructuredText markup."""
    paragraphs = inspect.cleandoc(op_class.__doc__ or "").split("\n\n")
    kept = [p for k, p in enumerate(paragraphs) if k == 0 or "dL/" in p or "d out" in p]
    return "\n\n".join(textwrap.fill(_plain(p), width) for p in kept if _plain(p))


def _plain(paragraph: str) -> str:
    """One paragraph on one line, its tangent sentences and reST roles and literals removed."""
    text = " ".join(paragraph.split())
    text = re.sub(r":\w+:`~?(?:[\w.]*\.)?([^`]+)`", r"\1", text)  # :class:`x.Y` -> Y
    text = re.sub(r"``([^`]*)``", r"\1", text)  # ``axis`` -> axis
    text = re.sub(r"[;,]?\s*tangent:[^.]*\.?", ".", text)  # "...; tangent: ta + tb." -> "..."
    text = re.sub(r"\s*\.(\s*\.)+", ".", text).replace(" .", ".")
    return text.strip()


def arguments_legend(op_class: type, args: Sequence[str], out: str) -> str:
    """Which tensor each letter of the op's own docstring is: its ``forward``'s argument names
    (``x = layer1.a, w = conv2.weight``), and ``g`` = dL/d(out)."""
    try:
        params = list(inspect.signature(op_class.forward).parameters)[1:]  # after ctx
    except (TypeError, ValueError):
        params = []
    letters = [f"{p} = {n}" for p, n in zip(params, args, strict=False)]
    return ", ".join([*letters, f"g = dL/d{out}"])
