"""Exercise ``jacobians``: the Jacobians da2/db2, da2/dW2, da2/da1, da1/dz1 and dz1/dW1 of the
course's 784-64-10 sigmoid MLP for one image, as explicit matrices, checked against
``gradcheck.jacobian``."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from ..check import EXACT, Candidate, Clues, diagnose
from ..check.student import call
from ..check.walk import activation_message
from ..engine.tensor import Tensor
from ..gradcheck import jacobian
from .exercise import Exercise, Grade, Part
from .grader import need

SIZES = (5, 4, 3)  # n_in, n_hidden, n_out: all different, so that a transpose shows
ARGS = ("x", "W1", "b1", "W2", "b2")


def point(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_in, hidden, out = SIZES
    shapes = {"x": (n_in,), "W1": (hidden, n_in), "b1": (hidden,), "W2": (out, hidden)}
    return {**{k: rng.normal(0, 0.8, s) for k, s in shapes.items()}, "b2": rng.normal(0, 0.5, out)}


def _z1(p: dict[str, Tensor]) -> Tensor:
    return p["W1"] @ p["x"] + p["b1"]


def _a2(p: dict[str, Tensor]) -> Tensor:
    return (p["W2"] @ _z1(p).sigmoid() + p["b2"]).softmax()


#: name -> (what is differentiated, as a function of the named tensors; with respect to what)
JACOBIANS: dict[str, tuple[Callable[[dict[str, Tensor]], Tensor], str]] = {
    "da2_db2": (_a2, "b2"),
    "da2_dW2": (_a2, "W2"),
    "da2_da1": (lambda p: (p["W2"] @ p["a1"] + p["b2"]).softmax(), "a1"),
    "da1_dz1": (lambda p: p["z1"].sigmoid(), "z1"),
    "dz1_dW1": (_z1, "W1"),
}


def expected_jacobian(name: str, values: dict[str, np.ndarray]) -> np.ndarray:
    """The Jacobian ``name`` by the engine: one backward per output element."""
    of, wrt = JACOBIANS[name]
    z1 = values["W1"] @ values["x"] + values["b1"]
    allv = {**values, "z1": z1, "a1": 1 / (1 + np.exp(-z1))}

    def f(v: Tensor) -> Tensor:
        return of({**{k: Tensor(a) for k, a in allv.items()}, wrt: v})

    return jacobian(f, [allv[wrt]])[0]


def _activation_mistakes(values: dict[str, np.ndarray]) -> dict[str, list[Candidate]]:
    """The sigmoid's mistakes in da1/dz1 = diag(s (1 - s)), each with its message."""
    z1 = values["W1"] @ values["x"] + values["b1"]
    s = 1 / (1 + np.exp(-z1))
    ss = 1 / (1 + np.exp(-s))
    at_output = activation_message("derivative_at_output", "sigmoid")
    at_input = activation_message("output_formula_at_input", "sigmoid")
    factor = "factor is missing: the sigmoid's derivative is s (1 - s), s = s(z1)"
    return {
        "derivative_at_output": [Candidate(np.diag(ss * (1 - ss)), at_output)],
        "output_formula_at_input": [Candidate(np.diag(z1 * (1 - z1)), at_input)],
        "missing_factor": [
            Candidate(np.diag(s), f"the (1 - s) {factor}"),
            Candidate(np.diag(1 - s), f"the s {factor}"),
        ],
    }


def grade(name: str) -> Callable[[ModuleType], Grade]:
    def grade_jacobian(module: ModuleType) -> Grade:
        fn = need(module, name)
        for seed in (1, 2):
            values = point(seed)
            got = call(fn, *(values[k].copy() for k in ARGS))
            clues = Clues(variants=lambda values=values: _activation_mistakes(values))
            found = diagnose(got, expected_jacobian(name, values), EXACT, clues)
            if found is not None:
                return found, ""
        return None, ""

    return grade_jacobian


def _shape(name: str) -> str:
    rows = {"a2": "n_out", "a1": "n_hidden", "z1": "n_hidden"}[name[1:3]]
    cols = {
        "b2": "n_out",
        "W2": "n_out*n_hidden",
        "a1": "n_hidden",
        "z1": "n_hidden",
        "W1": "n_hidden*n_in",
    }[name.split("_d")[1]]
    return f"{name.replace('_', '/')}, ({rows}, {cols})"


#: Each part's hints, from a nudge to the result nearly spelled out.
HINT_LEVELS: dict[str, tuple[str, ...]] = {
    "da2_db2": (
        "b2 enters only through z2 = W2 a1 + b2, and d z2 / d b2 is the identity: this is the "
        "Jacobian of softmax alone.",
        "Differentiate a2_i = e^z2_i / sum_k e^z2_k by z2_j with the quotient rule, once for "
        "i == j and once for i != j; write both results with a2 only.",
        "The diagonal holds a2_i (1 - a2_i) and the rest -a2_i a2_j: the diagonal matrix of a2 "
        "minus the outer product of a2 with itself.",
    ),
    "da2_dW2": (
        "The chain rule with Jacobians is a matrix product: (d a2 / d z2) times (d z2 / d W2), "
        "(n_out, n_out) times (n_out, n_out * n_hidden).",
        "z2_i = sum_k W2[i, k] a1_k + b2_i: d z2_i / d W2[j, k] is a1_k when i == j, else 0. "
        "Row by row, W2[j, k] is column j * n_hidden + k.",
        "d z2 / d W2 is block diagonal, row i holding a1 in the columns of W2's row i: "
        "np.kron(np.eye(n_out), a1[None, :]). Multiply the softmax Jacobian (da2_db2) by it.",
    ),
    "da2_da1": (
        "The chain rule again, through z2: the softmax Jacobian, then d z2 / d a1.",
        "z2 = W2 a1 + b2 is linear in a1, and the Jacobian of a linear map is its matrix: "
        "d z2_i / d a1_k = W2[i, k].",
        "The softmax Jacobian (your da2_db2) times W2: (n_out, n_out) @ (n_out, n_hidden).",
    ),
    "da1_dz1": (
        "a1 = s(z1) elementwise: a1_i depends on z1_i alone, so all but the diagonal is 0.",
        "The diagonal holds the sigmoid's derivative at each z1_i, which can be written with "
        "a1 = s(z1) itself.",
        "np.diag of a1 times (1 - a1), with z1 = W1 x + b1 and a1 = s(z1) computed first.",
    ),
    "dz1_dW1": (
        "z1_i = sum_k W1[i, k] x_k + b1_i: which elements of W1 does z1_i depend on?",
        "d z1_i / d W1[j, k] is x_k when i == j and 0 otherwise; row by row, W1[j, k] is "
        "column j * n_in + k.",
        "Row i is zero except for x in columns i * n_in to (i + 1) * n_in - 1: "
        "np.kron(np.eye(n_hidden), x[None, :]), or two loops filling it in.",
    ),
}

EXERCISE = Exercise(
    name="jacobians",
    title="The Jacobians of the course's MLP, as matrices",
    module="jacobians",
    summary="Write out the Jacobians the handout asks for, da2/db2, da2/dW2, da2/da1, da1/dz1 "
    "and dz1/dW1, as explicit matrices for one image; each is compared with the engine's "
    "gradcheck.jacobian.",
    parts=tuple(
        Part(name, (name,), _shape(name), grade(name), hint_levels=HINT_LEVELS[name])
        for name in JACOBIANS
    ),
)
