"""A library of plausible wrong answers to the exercises, each with the diagnosis it must get.

A mutant is the reference solution with one function (or one method of ``MLP``) replaced by a
mistake students make. ``tests/exercises/test_mutants.py`` checks that every mutant fails with
its diagnosis; ``python tests/exercises/catch_rate.py`` prints the catch rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_edu.exercises import get_exercise, grade_part, load_student
from tinygrad_edu.exercises.exercise import Outcome
from tinygrad_edu.exercises.workspace import template


@dataclass(frozen=True)
class Mutant:
    exercise: str
    part: str
    kind: str  # the diagnosis it must get
    what: str
    replace: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def module(self) -> ModuleType:
        """The reference solution with this mutant's replacements."""
        module = load_student(template(get_exercise(self.exercise), solution=True))
        for name, fn in self.replace.items():
            if "." in name:
                cls_name, method = name.split(".")
                base = getattr(module, cls_name)
                setattr(module, cls_name, type(cls_name, (base,), {method: fn}))
            else:
                setattr(module, name, fn)
        return module

    def grade(self) -> Outcome:
        exercise = get_exercise(self.exercise)
        return grade_part(exercise.part(self.part), self.module())


def s(z: Any) -> Any:
    return 1 / (1 + np.exp(-z))


def softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_vec(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


# --------------------------------------------------------------------------- softmax-cross-entropy
def _unshifted_softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def _columns_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _summed_ce(z: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(softmax_rows(z)[np.arange(len(y)), y]).sum())


def _naive_ce(z: np.ndarray, y: np.ndarray) -> float:
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(-np.log(p[np.arange(len(y)), y]).mean())


def _onehot(y: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c)[y]


SOFTMAX = [
    Mutant(
        "softmax-cross-entropy",
        "softmax",
        "unstable",
        "no max subtracted",
        {"softmax": _unshifted_softmax},
    ),
    Mutant(
        "softmax-cross-entropy",
        "softmax",
        "wrong_value",
        "normalised over the batch axis",
        {"softmax": _columns_softmax},
    ),
    Mutant(
        "softmax-cross-entropy",
        "cross_entropy",
        "scaled",
        "summed over the batch",
        {"cross_entropy": _summed_ce},
    ),
    Mutant(
        "softmax-cross-entropy",
        "cross_entropy",
        "unstable",
        "log of an unshifted softmax",
        {"cross_entropy": _naive_ce},
    ),
    Mutant(
        "softmax-cross-entropy",
        "gradient",
        "scaled",
        "h - t without the 1/N",
        {"cross_entropy_grad": lambda z, y: softmax_rows(z) - _onehot(y, z.shape[1])},
    ),
    Mutant(
        "softmax-cross-entropy",
        "gradient",
        "scaled",
        "(h - t) / N divided by N again",
        {
            "cross_entropy_grad": lambda z, y: (
                (softmax_rows(z) - _onehot(y, z.shape[1])) / len(y) / len(y)
            )
        },
    ),
    Mutant(
        "softmax-cross-entropy",
        "gradient",
        "sign_flipped",
        "t - h",
        {"cross_entropy_grad": lambda z, y: (_onehot(y, z.shape[1]) - softmax_rows(z)) / len(y)},
    ),
    Mutant(
        "softmax-cross-entropy",
        "gradient",
        "wrong_derivative",
        "h without the t",
        {"cross_entropy_grad": lambda z, y: softmax_rows(z) / len(y)},
    ),
    Mutant(
        "softmax-cross-entropy",
        "gradient",
        "transposed",
        "(h - t)^T",
        {
            "cross_entropy_grad": lambda z, y: (
                ((softmax_rows(z) - _onehot(y, z.shape[1])) / len(y)).T
            )
        },
    ),
]


# --------------------------------------------------------------------------- single-neuron
def _neuron_grad(scale_w: float = 1, sign: float = 1, mean_b: bool = True) -> Callable:
    def gradient(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
        d = sign * (s(X @ w + b) - t)
        return scale_w * X.T @ d / len(t), (d.mean() if mean_b else d.sum())

    return gradient


def _mse_style(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
    h = s(X @ w + b)
    d = (h - t) * h * (1 - h)
    return X.T @ d / len(t), d.mean()


def _per_sample(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
    d = s(X @ w + b) - t
    return X * d[:, None] / len(t), d.mean()


NEURON = [
    Mutant(
        "single-neuron",
        "gradient",
        "scaled",
        "X^T (h - t) summed, no 1/N",
        {"gradient": _neuron_grad(scale_w=8)},
    ),
    Mutant(
        "single-neuron", "gradient", "sign_flipped", "t - h", {"gradient": _neuron_grad(sign=-1)}
    ),
    Mutant(
        "single-neuron",
        "gradient",
        "scaled",
        "X^T (h - t) / N divided by N again",
        {"gradient": _neuron_grad(scale_w=1 / 8)},
    ),
    Mutant(
        "single-neuron",
        "gradient",
        "wrong_derivative",
        "the squared error's h (1 - h) kept",
        {"gradient": _mse_style},
    ),
    Mutant(
        "single-neuron",
        "gradient",
        "scaled",
        "db summed over the batch",
        {"gradient": _neuron_grad(mean_b=False)},
    ),
    Mutant(
        "single-neuron",
        "gradient",
        "not_summed",
        "dw per image, not summed over the batch",
        {"gradient": _per_sample},
    ),
    Mutant(
        "single-neuron",
        "gradient",
        "wrong_count",
        "only dw returned",
        {"gradient": lambda w, b, X, t: X.T @ (s(X @ w + b) - t) / len(t)},
    ),
    Mutant(
        "single-neuron",
        "predict",
        "wrong_value",
        "the bias forgotten",
        {"predict": lambda w, b, X: s(X @ w)},
    ),
    Mutant(
        "single-neuron",
        "loss",
        "wrong_value",
        "the (1 - t) log(1 - h) term forgotten",
        {"loss": lambda w, b, X, t: float(-np.mean(t * np.log(s(X @ w + b))))},
    ),
]


# --------------------------------------------------------------------------- mlp-by-hand
def _update_grad(variant: str) -> Callable:
    def update_grad(self: Any, x: np.ndarray, y: int) -> None:
        z1 = self.W1 @ x + self.b1
        a1 = s(z1)
        a2 = softmax_vec(self.W2 @ a1 + self.b2)
        dz2 = a2 - np.eye(len(a2))[y]
        if variant == "sign":
            dz2 = -dz2
        da1 = self.W2.T @ dz2
        dz1 = {
            "at_output": da1 * s(a1) * (1 - s(a1)),
            "formula_at_input": da1 * z1 * (1 - z1),
            "no_one_minus": da1 * a1,
        }.get(variant, da1 * a1 * (1 - a1))
        dW2 = np.outer(a1, dz2) if variant == "transposed" else np.outer(dz2, a1)
        grads = {"W1": np.outer(dz1, x), "b1": dz1, "W2": dW2, "b2": dz2}
        for k, g in grads.items():
            if variant == "overwrite":
                setattr(self, f"{k}_grad", g)
            else:
                setattr(self, f"{k}_grad", getattr(self, f"{k}_grad") + g)

    return update_grad


def _update_params(variant: str) -> Callable:
    def update_params(self: Any, lr: float, batch_size: int) -> None:
        for k in ("W1", "b1", "W2", "b2"):
            g = getattr(self, f"{k}_grad")
            step = {
                "no_mean": lr * g,
                "ascent": -lr * g / batch_size,
                "mean_twice": lr * g / batch_size / batch_size,
            }.get(variant, lr * g / batch_size)
            setattr(self, k, getattr(self, k) - step)
        if variant != "keeps_grads":
            self.zero_grad()

    return update_params


def _forward_sigmoid_out(self: Any, x: np.ndarray) -> tuple:
    z1 = self.W1 @ x + self.b1
    a1 = s(z1)
    z2 = self.W2 @ a1 + self.b2
    return z1, a1, z2, s(z2)


MLP = [
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "overwritten",
        "= instead of += over the batch",
        {"MLP.update_grad": _update_grad("overwrite")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "derivative_at_output",
        "s'(a1) for s'(z1)",
        {"MLP.update_grad": _update_grad("at_output")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "output_formula_at_input",
        "z1 (1 - z1)",
        {"MLP.update_grad": _update_grad("formula_at_input")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "missing_factor",
        "dz1 = da1 a1, the (1 - a1) forgotten",
        {"MLP.update_grad": _update_grad("no_one_minus")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "raised",
        "dW2 = a1 dz2^T (numpy cannot add it)",
        {"MLP.update_grad": _update_grad("transposed")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_grad",
        "sign_flipped",
        "dz2 = t - a2",
        {"MLP.update_grad": _update_grad("sign")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_params",
        "scaled",
        "the summed gradient, no / batch_size",
        {"MLP.update_params": _update_params("no_mean")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_params",
        "scaled",
        "divided by batch_size twice",
        {"MLP.update_params": _update_params("mean_twice")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_params",
        "sign_flipped",
        "W += lr grad",
        {"MLP.update_params": _update_params("ascent")},
    ),
    Mutant(
        "mlp-by-hand",
        "update_params",
        "wrong_value",
        "the gradients never reset",
        {"MLP.update_params": _update_params("keeps_grads")},
    ),
    Mutant(
        "mlp-by-hand",
        "forward",
        "wrong_value",
        "a sigmoid for the softmax",
        {"MLP.forward": _forward_sigmoid_out},
    ),
]


# --------------------------------------------------------------------------- derivative-table
def _log_softmax_elementwise(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    return g - softmax_rows(z) * g


def _mul_into_g(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    da = g * b
    g *= a  # changes the engine's g, which other ops may hold too
    return da, g


def _relu_mask_in_place(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    z[z <= 0] = 0  # turns the input itself into the mask
    z[z > 0] = 1
    return g * z


TABLE = [
    Mutant(
        "derivative-table",
        "sigmoid",
        "derivative_at_output",
        "s'(s(z))",
        {"sigmoid_backward": lambda g, z: g * s(s(z)) * (1 - s(s(z)))},
    ),
    Mutant(
        "derivative-table",
        "sigmoid",
        "output_formula_at_input",
        "z (1 - z)",
        {"sigmoid_backward": lambda g, z: g * z * (1 - z)},
    ),
    Mutant(
        "derivative-table",
        "sigmoid",
        "missing_factor",
        "g s(z), the (1 - s) forgotten",
        {"sigmoid_backward": lambda g, z: g * s(z)},
    ),
    Mutant(
        "derivative-table",
        "tanh",
        "missing_factor",
        "g (1 - tanh(z)), the square forgotten",
        {"tanh_backward": lambda g, z: g * (1 - np.tanh(z))},
    ),
    Mutant(
        "derivative-table",
        "tanh",
        "output_formula_at_input",
        "1 - z^2",
        {"tanh_backward": lambda g, z: g * (1 - z * z)},
    ),
    Mutant(
        "derivative-table",
        "tanh",
        "ignores_upstream",
        "1 - tanh^2 without g",
        {"tanh_backward": lambda g, z: 1 - np.tanh(z) ** 2},
    ),
    Mutant(
        "derivative-table",
        "tanh",
        "derivative_at_output",
        "1 - tanh(tanh(z))^2",
        {"tanh_backward": lambda g, z: g * (1 - np.tanh(np.tanh(z)) ** 2)},
    ),
    Mutant(
        "derivative-table",
        "relu",
        "wrong_derivative",
        "the mask inverted",
        {"relu_backward": lambda g, z: g * (z < 0)},
    ),
    Mutant(
        "derivative-table",
        "mul",
        "swapped",
        "da = g a, db = g b",
        {"mul_backward": lambda g, a, b: (g * a, g * b)},
    ),
    Mutant(
        "derivative-table",
        "mul",
        "writes_upstream",
        "db computed in g itself (g *= a)",
        {"mul_backward": _mul_into_g},
    ),
    Mutant(
        "derivative-table",
        "relu",
        "writes_input",
        "the mask written into z",
        {"relu_backward": _relu_mask_in_place},
    ),
    Mutant(
        "derivative-table",
        "matmul",
        "transposed",
        "db = g^T a",
        {"matmul_backward": lambda g, a, b: (g @ b.T, g.T @ a)},
    ),
    Mutant(
        "derivative-table",
        "matmul",
        "wrong_count",
        "only da returned",
        {"matmul_backward": lambda g, a, b: g @ b.T},
    ),
    Mutant(
        "derivative-table",
        "sum",
        "wrong_shape",
        "g returned as it is",
        {"sum_backward": lambda g, a, axis: g},
    ),
    Mutant(
        "derivative-table",
        "sum",
        "ignores_upstream",
        "ones, whatever g",
        {"sum_backward": lambda g, a, axis: np.ones_like(a)},
    ),
    Mutant(
        "derivative-table",
        "log_softmax",
        "wrong_derivative",
        "p g instead of p sum(g)",
        {"log_softmax_backward": _log_softmax_elementwise},
    ),
]


# --------------------------------------------------------------------------- jacobians
def _hidden(x: Any, W1: Any, b1: Any) -> Any:
    return s(W1 @ x + b1)


def _softmax_jac(x: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> np.ndarray:
    a2 = softmax_vec(W2 @ _hidden(x, W1, b1) + b2)
    return np.diag(a2) - np.outer(a2, a2)


JACOBIANS = [
    Mutant(
        "jacobians",
        "da1_dz1",
        "derivative_at_output",
        "diag(s'(a1))",
        {
            "da1_dz1": lambda x, W1, b1, W2, b2: np.diag(
                s(_hidden(x, W1, b1)) * (1 - s(_hidden(x, W1, b1)))
            )
        },
    ),
    Mutant(
        "jacobians",
        "da2_da1",
        "transposed",
        "W2^T S",
        {"da2_da1": lambda x, W1, b1, W2, b2: W2.T @ _softmax_jac(x, W1, b1, W2, b2)},
    ),
    Mutant(
        "jacobians",
        "da2_db2",
        "wrong_derivative",
        "diag(a2 (1 - a2)) only",
        {"da2_db2": lambda x, W1, b1, W2, b2: np.diag(np.diag(_softmax_jac(x, W1, b1, W2, b2)))},
    ),
    Mutant(
        "jacobians",
        "dz1_dW1",
        "wrong_derivative",
        "columns in the wrong order",
        {"dz1_dW1": lambda x, W1, b1, W2, b2: np.kron(x[None, :], np.eye(W1.shape[0]))},
    ),
    Mutant(
        "jacobians",
        "da2_dW2",
        "wrong_derivative",
        "kron in the wrong order",
        {
            "da2_dW2": lambda x, W1, b1, W2, b2: np.kron(
                _hidden(x, W1, b1)[None, :], _softmax_jac(x, W1, b1, W2, b2)
            )
        },
    ),
]


# --------------------------------------------------------------------------- mlp-backward
def _backward(change: str) -> Callable:
    """The right whole backward pass of mlp-backward with one mistake (``change``); the first
    wrong gradient it must be reported at is in the mutant's message check."""

    def backward(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, y: Any) -> dict:
        n = len(y)
        h = s(X @ W1.T + b1)
        dz2 = softmax_rows(h @ W2.T + b2) - _onehot(y, W2.shape[0])
        dz2 = dz2 if change == "no 1/N" else dz2 / n
        dh = dz2 @ (W2.T if change == "dh with W2^T" else W2)
        a = s(h) if change == "at output" else h
        dz1 = dh * a * (1 - a)
        grads = {
            "z2": dz2,
            "W2": dz2.T @ h,
            "b2": dz2.sum(axis=0, keepdims=change == "keepdims"),
            "h": dh,
            "z1": dz1,
            "W1": X.T @ dz1 if change == "W1 transposed" else dz1.T @ X,
            "b1": dz1.sum(axis=0),
        }
        if change == "b1 left out":
            del grads["b1"]
        return grads

    return backward


MLP_BACKWARD = [
    Mutant(
        "mlp-backward",
        "backward",
        "scaled",
        "dL/dz2 without 1/N",
        {"backward": _backward("no 1/N")},
    ),
    Mutant(
        "mlp-backward",
        "backward",
        "wrong_shape",
        "dL/db2 with keepdims",
        {"backward": _backward("keepdims")},
    ),
    Mutant(
        "mlp-backward",
        "backward",
        "derivative_at_output",
        "the sigmoid's derivative at its output",
        {"backward": _backward("at output")},
    ),
    Mutant(
        "mlp-backward",
        "backward",
        "transposed",
        "dL/dW1 transposed",
        {"backward": _backward("W1 transposed")},
    ),
    Mutant(
        "mlp-backward",
        "backward",
        "missing",
        "dL/db1 left out",
        {"backward": _backward("b1 left out")},
    ),
    Mutant(
        "mlp-backward",
        "backward",
        "raised",
        "W2^T where W2 belongs",
        {"backward": _backward("dh with W2^T")},
    ),
]

MUTANTS: list[Mutant] = SOFTMAX + NEURON + MLP + MLP_BACKWARD + TABLE + JACOBIANS


def catch_rate(mutants: list[Mutant] = MUTANTS) -> tuple[int, int, int, list[str]]:
    """(caught, right diagnoses, total, a line per mutant that was missed or misdiagnosed)."""
    caught = right = 0
    problems = []
    for m in mutants:
        outcome = m.grade()
        kind = outcome.diagnosis.kind if outcome.diagnosis else None
        caught += not outcome.passed
        right += kind == m.kind
        if kind != m.kind:
            problems.append(f"{m.exercise}/{m.part} ({m.what}): expected {m.kind}, got {kind}")
    return caught, right, len(mutants), problems
