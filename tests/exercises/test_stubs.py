"""Stubs give the task and the shapes, never the result: no stub, part description, title,
summary or README (as ``--hints none`` and ``some`` write it) states a derivative a part
grades."""

from __future__ import annotations

import re

import pytest

from tinygrad_edu.exercises import EXERCISES
from tinygrad_edu.exercises.hints import HintState
from tinygrad_edu.exercises.workspace import readme, template

#: Each part's graded result as the reference solution (or the stubs before they were rewritten)
#: wrote it, compared with all white space removed; [] for a part that grades no derivative.
RESULTS: dict[str, dict[str, list[str]]] = {
    "derivative-table": {
        "mul": ["d out/da = b", "d out/db = a", "g * b, g * a"],
        "sigmoid": ["s(z) (1 - s(z))", "g * s * (1 - s)"],
        "relu": ["where z > 0, else 0", "g * (z > 0)"],
        "tanh": ["1 - tanh(z)^2", "1 - np.tanh(z) ** 2"],
        "sum": ["g copied back", "np.expand_dims(g, axis)"],
        "matmul": ["g b^T", "a^T g", "g @ b.T", "a.T @ g"],
        "log_softmax": ["g - softmax(z) * sum(g)", "delta_ij - p_j", "g - p * (sum of g"],
        "train": [],
    },
    "softmax-cross-entropy": {
        "softmax": [],
        "cross_entropy": [],
        "gradient": ["(h - t) / N", "gradient h - t", "-t[n, c] + h[n, c]", "(softmax(z) - t)"],
    },
    "single-neuron": {
        "predict": [],
        "loss": [],
        "gradient": ["X^T (h - t) / N", "mean(h - t)", "h_n (1 - h_n)", "X.T @ delta"],
        "train": [],
    },
    "mlp-by-hand": {
        "forward": [],
        "update_grad": ["dz2 = a2 - t", "dL/dz2 = a2 - t", "W2^T dz2", "a1 (1 - a1)",
                        "s(z)(1 - s(z))", "dz2 a1^T", "dz1 x^T", "np.outer(dz2, a1)"],
        "update_params": ["W <- W - lr * W_grad / batch_size", "W <- W - lr W_grad",
                          "lr / batch_size"],
        "train": [],
    },
    "mlp-backward": {
        "forward": [],
        "backward": ["dz2 /= n", "dh = dz2 @ W2", 'dh * v["h"] * (1 - v["h"])', "dz2.T @ v[",
                     "dz1.T @ X", "(p - t) / N"],
        "train": [],
    },
    "jacobians": {
        "da2_db2": ["a2_i (delta_ij - a2_j)", "diag(a2) - a2 a2^T", "np.outer(a2, a2)"],
        "da2_dW2": ["delta_ij a1_k", "(I kron a1^T)", "np.kron(da2_db2"],
        "da2_da1": ["d z2 / d a1 = W2", "(softmax Jacobian) W2", "b2) @ W2"],
        "da1_dz1": ["s(z1) (1 - s(z1))", "diag(a1 (1 - a1))", "a1 * (1 - a1)"],
        "dz1_dW1": ["delta_ij x_k", "I kron x^T", "np.kron(np.eye"],
    },
}  # fmt: skip


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def what_the_student_reads(name: str) -> str:
    """The stub file, each part's description, the title and summary, and the README as
    --hints none and --hints some write it."""
    exercise = EXERCISES[name]
    readmes = [readme(exercise, HintState.start(exercise, c)) for c in ("none", "some")]
    whats = [p.what for p in exercise.parts]
    return "\n".join(
        [template(exercise).read_text(), exercise.title, exercise.summary, *whats, *readmes]
    )


@pytest.mark.parametrize("name", list(EXERCISES))
def test_no_stub_states_the_derivative_it_grades(name: str) -> None:
    text = squeeze(what_the_student_reads(name))
    stated = [
        (part, result)
        for part, results in RESULTS[name].items()
        for result in results
        if squeeze(result) in text
    ]
    assert stated == []


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_table_holds_the_solutions_results_for_every_part(name: str) -> None:
    """RESULTS names every part, and each graded derivative as the solution writes it: a
    stale table would make the test above pass for nothing."""
    exercise = EXERCISES[name]
    assert list(RESULTS[name]) == [p.name for p in exercise.parts]
    solution = squeeze(template(exercise, solution=True).read_text())
    for part, results in RESULTS[name].items():
        assert not results or any(squeeze(r) in solution for r in results), part


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_stubs_still_give_the_shapes(name: str) -> None:
    stub = template(EXERCISES[name]).read_text()
    assert re.search(r"\([A-Za-z_0-9]+, [A-Za-z_0-9*]+\)", stub), "a 2-D shape such as (N, C)"
