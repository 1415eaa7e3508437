"""A library of whole-network mistakes: hand-written backward passes of the course MLP, each with
the node ``check_backprop`` must report first and how.

The network is the course's (docs/backprop.md) at small sizes: z1 = X W1^T + b1, h = s(z1),
z2 = h W2^T + b2, loss = mean cross-entropy of softmax(z2). A mutant is the right backward pass
(:data:`RIGHT`, one step per gradient) with some steps replaced by a mistake students make; each
step reads the forward values and the gradients computed before it, so a mistake flows down the
rest of the pass as it does in a student's code. ``tests/check/test_backprop_mutants.py`` runs
them all; ``python tests/check/backprop_catch_rate.py`` prints the catch rate and the first-node
accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_edu import Tensor, nn
from tinygrad_edu.check import BackpropReport, check_backprop

#: The backward order check_backprop reports for this network.
ORDER = ["z2", "W2", "b2", "h", "z1", "W1", "b1", "X"]
LABELS = np.array([0, 2, 1, 1, 0, 2])
INPUTS: dict[str, Any] = {
    "X": (6, 5),
    "W1": (4, 5),
    "b1": (4,),
    "W2": (3, 4),
    "b2": (3,),
    "y": LABELS,
}


def forward(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, y: Any) -> dict:
    """The reference: the course MLP with tinygrad_edu ops, its intermediates named."""
    z1 = X @ W1.T + b1
    h = z1.sigmoid()
    z2 = h @ W2.T + b2
    return {"z1": z1, "h": h, "z2": z2, "loss": nn.cross_entropy(z2, y)}


def s(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


Step = Callable[[dict[str, Any]], Any]

#: The right backward pass, one step per gradient, in the order a student writes it; ``v`` holds
#: the inputs, the forward values (z1, h, z2, p, Y, N) and the gradients so far (dz2, dW2, ...).
RIGHT: dict[str, Step] = {
    "z2": lambda v: (v["p"] - v["Y"]) / v["N"],
    "W2": lambda v: v["dz2"].T @ v["h"],
    "b2": lambda v: v["dz2"].sum(axis=0),
    "h": lambda v: v["dz2"] @ v["W2"],
    "z1": lambda v: v["dh"] * v["h"] * (1 - v["h"]),
    "W1": lambda v: v["dz1"].T @ v["X"],
    "b1": lambda v: v["dz1"].sum(axis=0),
    "X": lambda v: v["dz1"] @ v["W1"],
}


def by_hand(
    replace: dict[str, Step] | None = None, drop: tuple[str, ...] = (), finish: Callable = dict
) -> Callable[..., Any]:
    """The right backward pass with the steps in ``replace`` swapped for mistakes, the names in
    ``drop`` left out of the dict, and ``finish`` applied to the dict (to mangle its form)."""
    steps = {**RIGHT, **(replace or {})}

    def mlp_backward(X, W1, b1, W2, b2, y):
        v: dict[str, Any] = {"X": X, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "y": y}
        v["z1"] = X @ W1.T + b1
        v["h"] = s(v["z1"])
        v["z2"] = v["h"] @ W2.T + b2
        v["p"], v["Y"], v["N"] = softmax(v["z2"]), np.eye(W2.shape[0])[y], len(y)
        grads = {}
        for name, step in steps.items():
            grads[name] = v["d" + name] = step(v)
        return finish({k: g for k, g in grads.items() if k not in drop})

    return mlp_backward


@dataclass(frozen=True)
class Mutant:
    """A wrong backward pass; ``first`` the node that must be reported first (None when the
    report must fail as a whole, with ``status`` "error"), its ``status`` and diagnosis
    ``kind``; ``also``: other nodes wrong on their own, name -> (status, kind); ``heirs``: the
    nodes that must be reported as merely inheriting an error."""

    what: str
    first: str | None
    status: str
    kind: str
    backward: Callable[..., Any]
    also: dict[str, tuple[str, str]] = field(default_factory=dict)
    heirs: tuple[str, ...] = ()

    def check(self, seed: int | None = None) -> BackpropReport:
        return check_backprop(self.backward, forward, INPUTS, trials=2, seed=seed)

    def problems(self, report: BackpropReport) -> list[str]:
        """What the report got wrong about this mutant ([] when all is as it must be)."""
        if report.passed:
            return ["not caught"]
        if self.first is None:
            kind = report.error.kind if report.error else None
            return [] if kind == self.kind else [f"expected an error {self.kind}, got {kind}"]
        found = []
        for name, (status, kind) in {self.first: (self.status, self.kind), **self.also}.items():
            node = report[name]
            got = (node.status, node.diagnosis.kind if node.diagnosis else None)
            if got != (status, kind):
                found.append(f"{name}: expected {status}/{kind}, got {got[0]}/{got[1]}")
        if report.first != self.first:
            found.append(f"first: expected {self.first}, got {report.first}")
        heirs = [n for n in self.heirs if report[n].status != "inherited"]
        return found + [f"{n}: expected inherited, got {report[n].status}" for n in heirs]


AFTER = {name: tuple(ORDER[i + 1 :]) for i, name in enumerate(ORDER)}
_BELOW_H = ("z1", "W1", "b1", "X")  # the nodes below h: they inherit an error of z2, W2^T or h


def _mutant(what: str, first: str, status: str, kind: str, steps: dict, **more: Any) -> Mutant:
    return Mutant(what, first, status, kind, by_hand(steps), **more)


MUTANTS: list[Mutant] = [
    # ------------------------------------------------------------------ dL/dz2
    _mutant(
        "dz2 without 1/N",
        "z2",
        "wrong",
        "scaled",
        {"z2": lambda v: v["p"] - v["Y"]},
        heirs=AFTER["z2"],
    ),
    _mutant(
        "dz2 divided by N twice",
        "z2",
        "wrong",
        "scaled",
        {"z2": lambda v: (v["p"] - v["Y"]) / v["N"] ** 2},
        heirs=AFTER["z2"],
    ),
    _mutant(
        "dz2 sign flipped: (Y - p) / N",
        "z2",
        "wrong",
        "sign_flipped",
        {"z2": lambda v: (v["Y"] - v["p"]) / v["N"]},
        heirs=AFTER["z2"],
    ),
    _mutant(
        "dz2 without the one-hot: p / N",
        "z2",
        "wrong",
        "wrong_derivative",
        {"z2": lambda v: v["p"] / v["N"]},
        heirs=AFTER["z2"],
    ),
    _mutant(
        "dz2 with the softmax over the batch axis",
        "z2",
        "wrong",
        "wrong_derivative",
        {"z2": lambda v: (softmax(v["z2"].T).T - v["Y"]) / v["N"]},
        heirs=AFTER["z2"],
    ),
    # ------------------------------------------------------------------ the second layer
    _mutant(
        "dW2 transposed: h^T dz2",
        "W2",
        "wrong_shape",
        "transposed",
        {"W2": lambda v: v["h"].T @ v["dz2"]},
    ),
    _mutant(
        "dW2 with the pre-activation z1 instead of h",
        "W2",
        "wrong",
        "wrong_derivative",
        {"W2": lambda v: v["dz2"].T @ v["z1"]},
    ),
    _mutant(
        "db2 not summed over the batch",
        "b2",
        "wrong_shape",
        "not_summed",
        {"b2": lambda v: v["dz2"]},
    ),
    _mutant(
        "db2 summed with keepdims=True: (1, C)",
        "b2",
        "wrong_shape",
        "wrong_shape",
        {"b2": lambda v: v["dz2"].sum(axis=0, keepdims=True)},
    ),
    _mutant(
        "db2 averaged instead of summed",
        "b2",
        "wrong",
        "scaled",
        {"b2": lambda v: v["dz2"].mean(axis=0)},
    ),
    _mutant(
        "db2 summed over the classes: (N,)",
        "b2",
        "wrong_shape",
        "wrong_shape",
        {"b2": lambda v: v["dz2"].sum(axis=1)},
    ),
    _mutant(
        "dh in the column convention, W2^T dz2^T: (H, N)",
        "h",
        "wrong_shape",
        "transposed",
        {"h": lambda v: v["W2"].T @ v["dz2"].T, "z1": lambda v: v["dh"].T * v["h"] * (1 - v["h"])},
    ),
    _mutant(
        "dh with an extra 1/N",
        "h",
        "wrong",
        "scaled",
        {"h": lambda v: v["dz2"] @ v["W2"] / v["N"]},
        heirs=_BELOW_H,
    ),
    # ------------------------------------------------------------------ the sigmoid
    _mutant(
        "dz1 with the sigmoid's derivative at its output: s(h) (1 - s(h))",
        "z1",
        "wrong",
        "derivative_at_output",
        {"z1": lambda v: v["dh"] * s(v["h"]) * (1 - s(v["h"]))},
        heirs=AFTER["z1"],
    ),
    _mutant(
        "dz1 with the output form applied to z1: z1 (1 - z1)",
        "z1",
        "wrong",
        "output_formula_at_input",
        {"z1": lambda v: v["dh"] * v["z1"] * (1 - v["z1"])},
        heirs=AFTER["z1"],
    ),
    _mutant(
        "dz1 missing the (1 - s) factor",
        "z1",
        "wrong",
        "missing_factor",
        {"z1": lambda v: v["dh"] * v["h"]},
        heirs=AFTER["z1"],
    ),
    _mutant(
        "dz1 ignoring the upstream dh",
        "z1",
        "wrong",
        "ignores_upstream",
        {"z1": lambda v: v["h"] * (1 - v["h"])},
        heirs=AFTER["z1"],
    ),
    # ------------------------------------------------------------------ the first layer
    _mutant(
        "dW1 transposed: X^T dz1",
        "W1",
        "wrong_shape",
        "transposed",
        {"W1": lambda v: v["X"].T @ v["dz1"]},
    ),
    _mutant(
        "dW1 with an extra 1/N (dz2 already has it)",
        "W1",
        "wrong",
        "scaled",
        {"W1": lambda v: v["dz1"].T @ v["X"] / v["N"]},
    ),
    _mutant(
        "db1 not summed over the batch",
        "b1",
        "wrong_shape",
        "not_summed",
        {"b1": lambda v: v["dz1"]},
    ),
    _mutant(
        "dX sign flipped",
        "X",
        "wrong",
        "sign_flipped",
        {"X": lambda v: -(v["dz1"] @ v["W1"])},
    ),
    # ------------------------------------------------------------------ two independent mistakes
    _mutant(
        "dz2 without 1/N, and dW1 transposed",
        "z2",
        "wrong",
        "scaled",
        {"z2": lambda v: v["p"] - v["Y"], "W1": lambda v: v["X"].T @ v["dz1"]},
        also={"W1": ("wrong_shape", "transposed")},
        heirs=("W2", "b2", "h", "z1", "b1", "X"),
    ),
    _mutant(
        "dz2 sign flipped, and dz1 with the derivative at the output",
        "z2",
        "wrong",
        "sign_flipped",
        {
            "z2": lambda v: (v["Y"] - v["p"]) / v["N"],
            "z1": lambda v: v["dh"] * s(v["h"]) * (1 - s(v["h"])),
        },
        also={"z1": ("wrong", "derivative_at_output")},
        heirs=("W2", "b2", "h", "W1", "b1", "X"),
    ),
    _mutant(
        "dh with an extra 1/N, and db1 averaged",
        "h",
        "wrong",
        "scaled",
        {"h": lambda v: v["dz2"] @ v["W2"] / v["N"], "b1": lambda v: v["dz1"].mean(axis=0)},
        also={"b1": ("wrong", "scaled")},
        heirs=("z1", "W1", "X"),
    ),
    # ------------------------------------------------------------------ missing gradients
    Mutant("dW2 left out of the dict", "W2", "missing", "missing", by_hand(drop=("W2",))),
    Mutant(
        "dh returned as None",
        "h",
        "missing",
        "missing",
        by_hand(
            {"h": lambda v: None, "z1": lambda v: (v["dz2"] @ v["W2"]) * v["h"] * (1 - v["h"])}
        ),
    ),
    # ------------------------------------------------------------------ the whole pass fails
    Mutant(
        "dh = dz2 W2^T: the shapes do not align",
        None,
        "error",
        "raised",
        by_hand({"h": lambda v: v["dz2"] @ v["W2"].T}),
    ),
    Mutant(
        "keys named dz2, dW2, ... instead of z2, W2, ...",
        None,
        "error",
        "wrong_count",
        by_hand(finish=lambda grads: {"d" + k: g for k, g in grads.items()}),
    ),
    Mutant(
        "a tuple instead of a dict",
        None,
        "error",
        "not_an_array",
        by_hand(finish=lambda grads: tuple(grads.values())),
    ),
]


def catch_rate(
    mutants: list[Mutant] = MUTANTS, seed: int | None = None
) -> tuple[int, int, int, list[str]]:
    """(caught, reported right: first node, status and kind as expected, total, a line per
    mutant reported otherwise, with the seed that replays it)."""
    caught = right = 0
    lines = []
    for m in mutants:
        report = m.check(seed)
        problems = m.problems(report)
        caught += not report.passed
        right += not problems
        lines += [f"{m.what}: {'; '.join(problems)} (seed={report.seed})"] if problems else []
    return caught, right, len(mutants), lines
