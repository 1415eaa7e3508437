"""Every reference solution passes every part, correct solutions written differently pass
too, and the stubs fail every part as "not written"."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from mutants import Mutant, s

from tinygrad_edu.exercises import EXERCISES, grade_module, grade_part, load_student
from tinygrad_edu.exercises.workspace import template


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_reference_solution_passes_every_part(name: str) -> None:
    outcomes = grade_module(EXERCISES[name], load_student(template(EXERCISES[name], True)))
    assert [o.line() for o in outcomes if not o.passed] == []


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_stubs_fail_every_part_as_not_written(name: str) -> None:
    exercise = EXERCISES[name]
    module = load_student(template(exercise))
    lines = [o.line() for o in grade_module(exercise, module)]
    assert all("not_written" in line and f"{exercise.module}.py, line" in line for line in lines)


# --------------------------------------------------------------------------- written differently
def softmax_loops(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    for n, row in enumerate(z):
        e = np.exp(row - np.max(row))
        out[n] = e / np.sum(e)
    return out


def ce_logsumexp(z: np.ndarray, y: np.ndarray) -> float:
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def ce_grad_loops(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    g = softmax_loops(z)
    for n, label in enumerate(y):
        g[n, label] -= 1.0
    return g / z.shape[0]


def neuron_grad_loops(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
    dw, db = np.zeros_like(w), 0.0
    for x, target in zip(X, t, strict=True):
        h = 0.5 * (1 + np.tanh(0.5 * (x @ w + b)))  # s(z) = (1 + tanh(z / 2)) / 2
        dw += (h - target) * x
        db += h - target
    return dw / len(t), db / len(t)


def update_grad_einsum(self: Any, x: np.ndarray, y: int) -> None:
    a1 = s(np.einsum("ij,j->i", self.W1, x) + self.b1)
    z2 = self.W2 @ a1 + self.b2
    a2 = np.exp(z2 - np.logaddexp.reduce(z2))  # softmax through log-sum-exp
    dz2 = a2 - (np.arange(a2.size) == y)
    dz1 = np.einsum("ji,j->i", self.W2, dz2) * a1 * (1 - a1)
    self.W2_grad = self.W2_grad + np.einsum("i,j->ij", dz2, a1)
    self.b2_grad = self.b2_grad + dz2
    self.W1_grad = self.W1_grad + dz1[:, None] * x[None, :]
    self.b1_grad = self.b1_grad + dz1


def update_params_loop(self: Any, lr: float, batch_size: int) -> None:
    for name in ("W1", "b1", "W2", "b2"):
        setattr(self, name, getattr(self, name) - (lr / batch_size) * getattr(self, name + "_grad"))
        setattr(self, name + "_grad", np.zeros_like(getattr(self, name)))


def sum_backward_ones(g: np.ndarray, a: np.ndarray, axis: int | None) -> np.ndarray:
    return np.ones_like(a) * (g if axis is None else np.expand_dims(g, axis))


def log_softmax_backward_jacobian(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    for n, row in enumerate(z):
        p = softmax_loops(row[None, :])[0]
        out[n] = g[n] @ (np.eye(p.size) - p[None, :])  # row i of the Jacobian: e_i - p
    return out


def dz1_dW1_loops(x: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> np.ndarray:
    hidden, n_in = W1.shape
    J = np.zeros((hidden, hidden * n_in))
    for i in range(hidden):
        for k in range(n_in):
            J[i, i * n_in + k] = x[k]
    return J


def da1_dz1_tanh(x: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> np.ndarray:
    return np.diag(0.25 / np.cosh((W1 @ x + b1) / 2) ** 2)  # s'(z) = 1 / (4 cosh^2(z / 2))


ALTERNATIVES = [
    (
        "softmax-cross-entropy",
        {
            "softmax": softmax_loops,
            "cross_entropy": ce_logsumexp,
            "cross_entropy_grad": ce_grad_loops,
        },
    ),
    ("single-neuron", {"gradient": neuron_grad_loops}),
    (
        "mlp-by-hand",
        {"MLP.update_grad": update_grad_einsum, "MLP.update_params": update_params_loop},
    ),
    (
        "derivative-table",
        {
            "sigmoid_backward": lambda g, z: g * 0.25 / np.cosh(z / 2) ** 2,
            "relu_backward": lambda g, z: np.where(z > 0, g, 0.0),
            "tanh_backward": lambda g, z: g / np.cosh(z) ** 2,
            "sum_backward": sum_backward_ones,
            "matmul_backward": lambda g, a, b: (
                np.einsum("nm,km->nk", g, b),
                np.einsum("nk,nm->km", a, g),
            ),
            "log_softmax_backward": log_softmax_backward_jacobian,
        },
    ),
    ("jacobians", {"dz1_dW1": dz1_dW1_loops, "da1_dz1": da1_dz1_tanh}),
]


@pytest.mark.parametrize(("name", "replace"), ALTERNATIVES, ids=[a[0] for a in ALTERNATIVES])
def test_right_answers_written_differently_pass(name: str, replace: dict) -> None:
    module: ModuleType = Mutant(name, "", "", "", replace).module()
    exercise = EXERCISES[name]
    parts = [p for p in exercise.parts if set(p.functions) & set(replace)]
    outcomes = [grade_part(p, module) for p in parts]
    assert outcomes and [o.line() for o in outcomes if not o.passed] == []
