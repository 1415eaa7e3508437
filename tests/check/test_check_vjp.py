"""check_vjp and check_gradients: right answers pass for any shapes, each common mistake is
named, and a student's exception or malformed answer becomes a diagnosis, never a traceback."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import broadcastable_pairs, matmul_pairs

from tinygrad_edu import Tensor, nn
from tinygrad_edu.check import DIAGNOSES, check_gradients, check_vjp
from tinygrad_edu.check.walk import reference_grads


def s(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def sigmoid_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    return g * s(z) * (1 - s(z))


def sigmoid(z: Tensor) -> Tensor:
    return z.sigmoid()


@settings(max_examples=10)
@given(broadcastable_pairs(max_dims=3))
def test_a_right_add_backward_passes_for_broadcast_shapes(shapes: Any) -> None:
    def add_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        return (_sum_to(g, a.shape), _sum_to(g, b.shape))

    report = check_vjp(add_backward, lambda a, b: a + b, {"a": shapes[0], "b": shapes[1]})
    assert report.passed, str(report)


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


@settings(max_examples=10)
@given(matmul_pairs(kinds=("2d@2d",)))
def test_a_right_matmul_backward_passes_and_a_transposed_one_fails(shapes: Any) -> None:
    def right(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        return g @ b.T, a.T @ g

    def transposed(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        return g @ b.T, (a.T @ g).T

    inputs = {"a": shapes[0], "b": shapes[1]}
    assert check_vjp(right, lambda a, b: a @ b, inputs, trials=2).passed
    wrong = check_vjp(transposed, lambda a, b: a @ b, inputs, trials=2)
    b = shapes[1]
    if b[0] != b[1] or b[0] > 1:  # a 1x1 gradient is its own transpose
        assert wrong.diagnosis.kind == "transposed", str(wrong)


def test_a_loop_written_backward_passes() -> None:
    def loops(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        da, db = np.zeros_like(a), np.zeros_like(b)
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                for k in range(a.shape[1]):
                    da[i, k] += g[i, j] * b[k, j]
                    db[k, j] += g[i, j] * a[i, k]
        return da, db

    assert check_vjp(loops, lambda a, b: a @ b, {"a": (3, 4), "b": (4, 2)}).passed


@pytest.mark.parametrize(
    ("backward", "kind"),
    [
        (sigmoid_backward, None),
        (lambda g, z: -sigmoid_backward(g, z), "sign_flipped"),
        (lambda g, z: 2 * sigmoid_backward(g, z), "scaled"),
        (lambda g, z: s(z) * (1 - s(z)), "ignores_upstream"),
        (lambda g, z: sigmoid_backward(g, s(z)), "derivative_at_output"),
        (lambda g, z: g * z * (1 - z), "output_formula_at_input"),
        (lambda g, z: g * s(z), "missing_factor"),
        (lambda g, z: g * (1 - s(z)), "missing_factor"),
        (lambda g, z: g * 1.0, "missing_factor"),
        (lambda g, z: g * s(z) * (2 - s(z)), "wrong_derivative"),
        (lambda g, z: None, "missing"),
        (lambda g, z: g / 0.0, "not_finite"),
        (lambda g, z: "dz", "not_an_array"),
        (lambda g, z: (g, g), "wrong_count"),
        (lambda g, z: sigmoid_backward(g, z)[0], "wrong_shape"),
    ],
)
def test_each_mistake_of_a_sigmoid_backward_is_named(backward: Any, kind: str | None) -> None:
    report = check_vjp(backward, sigmoid, {"z": (4, 3)})
    assert report.passed is (kind is None)
    assert (report.diagnosis and report.diagnosis.kind) == kind, str(report)
    if kind is not None:
        assert kind in DIAGNOSES


def test_a_bias_gradient_not_summed_over_the_batch_is_named() -> None:
    report = check_vjp(lambda g, a, b: (g, g), lambda a, b: a + b, {"a": (5, 3), "b": (3,)})
    assert report.diagnosis.kind == "not_summed"
    assert "(5, 3)" in report.diagnosis.message and "axis 0" in report.diagnosis.message


def test_the_factor_n_of_a_summed_batch_is_named() -> None:
    def summed(z: np.ndarray, y: np.ndarray) -> dict:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        return {"z": p}  # forgot the 1/N of the mean

    y = np.array([0, 2, 1, 2, 0, 1, 1])
    report = check_gradients(summed, nn.cross_entropy, {"z": (7, 3), "y": y})
    assert report.diagnosis.kind == "scaled" and report.diagnosis.factor == pytest.approx(7)
    assert "N, the batch size" in report.diagnosis.message
    assert report.results["z"].got.shape == (7, 3)


def test_overwriting_a_gradient_of_a_value_used_twice_is_named() -> None:
    def overwrites(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        da = g * b
        da = g  # should be +=
        return da, g * a

    report = check_vjp(overwrites, lambda a, b: a * b + a, {"a": (3, 2), "b": (3, 2)})
    assert report.diagnosis.kind == "overwritten"


def test_an_exception_names_the_students_file_and_line() -> None:
    def broken(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        return g @ np.ones((7, 7))

    report = check_vjp(broken, sigmoid, {"z": (2, 3)})
    assert report.diagnosis.kind == "raised"
    assert "ValueError" in report.diagnosis.message
    assert "test_check_vjp.py, line" in report.diagnosis.message
    assert "Traceback" not in str(report)


def test_the_report_names_the_first_wrong_gradient_and_its_worst_element() -> None:
    def wrong_b(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        return g * b, g * a * 1.5

    report = check_vjp(wrong_b, lambda a, b: a * b, {"a": (2, 3), "b": (2, 3)})
    text = str(report)
    assert "FAILED in trial 1 of 3" in text
    assert "a (2, 3): right" in text and "b (2, 3): WRONG, scaled" in text
    worst = report.results["b"].worst
    assert f"expected {worst.expected:.6g}, got {worst.got:.6g}" in text
    assert worst.got == pytest.approx(1.5 * worst.expected)
    assert "relative error 0.5" in text and "diagnosis: scaled" in text
    assert "scaled" in report._repr_html_() and "<table>" in report._repr_html_()


def test_plot_draws_expected_got_and_their_difference() -> None:
    import matplotlib

    matplotlib.use("Agg")
    report = check_vjp(lambda g, z: -g, lambda z: z * 1.0, {"z": (3, 4)})
    fig = report.plot()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [
        "z: expected",
        "z: got",
        "z: got - expected",
    ]


def test_integer_labels_are_kept_and_never_differentiated() -> None:
    y = np.array([1, 0, 2])

    def right(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        assert y.dtype.kind == "i" and list(y) == [1, 0, 2]
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return (p - np.eye(3)[y]) / 3

    assert check_gradients(right, nn.cross_entropy, {"z": (3, 3), "y": y}).passed
    assert check_vjp(lambda g, z, y: right(z, y) * g, nn.cross_entropy, {"z": (3, 3), "y": y})


def test_check_gradients_takes_a_tuple_in_wrt_order_and_names_a_missing_one() -> None:
    def loss(w: Tensor, x: Tensor) -> Tensor:
        return ((x @ w).sigmoid() ** 2).sum()

    def by_hand(w: np.ndarray, x: np.ndarray) -> Any:
        h = s(x @ w)
        return (x.T @ (2 * h * h * (1 - h)),)

    inputs = {"w": (3, 1), "x": (4, 3)}
    assert check_gradients(by_hand, loss, inputs, wrt=["w"]).passed
    missing = check_gradients(lambda w, x: {"x": x}, loss, inputs, wrt=["w"])
    assert missing.diagnosis.kind == "wrong_count" and "w" in missing.diagnosis.message


def test_inputs_given_as_arrays_are_used_as_given() -> None:
    z = np.array([[0.5, -1.0], [2.0, 0.25]])
    seen = []

    def spy(g: np.ndarray, a: np.ndarray) -> np.ndarray:
        seen.append(a.copy())
        return g * 2 * a

    assert check_vjp(spy, lambda a: a * a, {"a": z}, trials=2).passed
    assert all(np.array_equal(a, z) for a in seen)


def test_a_log_reference_gets_positive_inputs() -> None:
    assert check_vjp(lambda g, a: g / a, lambda a: a.log(), {"a": (3, 2)}).passed


def test_the_reference_walk_agrees_with_the_engine() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    out = ((x @ w).sigmoid() * x.sum(axis=1, keepdims=True)).tanh()
    g = rng.standard_normal(out.shape)
    walked = reference_grads(out, [x, w], g)
    out.backward(g)
    assert np.allclose(walked[0], x.grad) and np.allclose(walked[1], w.grad)


def test_every_diagnosis_kind_is_documented_for_students() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "workbench.md").read_text()
    assert [k for k in DIAGNOSES if f"| `{k}` |" not in page] == []


def test_the_derivative_at_the_output_is_named_for_a_written_out_sigmoid() -> None:
    def at_output(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        return sigmoid_backward(g, s(z))

    report = check_vjp(at_output, lambda z: 1 / (1 + (-z).exp()), {"z": (3, 5)})
    assert report.diagnosis.kind == "derivative_at_output"


@pytest.mark.parametrize(
    ("backward", "factor"),
    [
        (lambda g, z: g * s(z), "the (1 - s) factor is missing"),
        (lambda g, z: g * (1 - s(z)), "the s factor is missing"),
    ],
)
def test_a_missing_factor_of_the_sigmoids_derivative_is_named(backward: Any, factor: str) -> None:
    report = check_vjp(backward, sigmoid, {"z": (4, 3)})
    assert report.diagnosis.kind == "missing_factor"
    assert report.diagnosis.message.startswith(factor), str(report)


@pytest.mark.parametrize(
    ("backward", "missing"),
    [
        (lambda g, z: g * 1.0, "the (1 - a^2) factor is missing"),
        (lambda g, z: g * (1 - np.tanh(z)), "the square in 1 - a^2 is missing"),
    ],
)
def test_a_missing_factor_of_the_tanhs_derivative_is_named(backward: Any, missing: str) -> None:
    report = check_vjp(backward, lambda z: z.tanh(), {"z": (4, 3)})
    assert report.diagnosis.kind == "missing_factor"
    assert report.diagnosis.message.startswith(missing), str(report)


def test_the_activation_mistakes_name_the_activation_involved() -> None:
    tanh = lambda z: z.tanh()  # noqa: E731
    at_input = check_vjp(lambda g, z: g * (1 - z * z), tanh, {"z": (4, 3)}).diagnosis
    assert at_input.kind == "output_formula_at_input"
    assert "tanh" in at_input.message and "1 - a^2" in at_input.message
    assert "sigmoid" not in at_input.message and "a (1 - a)" not in at_input.message
    at_output = check_vjp(lambda g, z: g * (1 - np.tanh(np.tanh(z)) ** 2), tanh, {"z": (4, 3)})
    assert at_output.diagnosis.kind == "derivative_at_output"
    assert "1 - tanh^2(z)" in at_output.diagnosis.message
    assert "s(z)" not in at_output.diagnosis.message
    sig = check_vjp(lambda g, z: g * z * (1 - z), sigmoid, {"z": (4, 3)}).diagnosis
    assert "sigmoid" in sig.message and "a (1 - a)" in sig.message and "tanh" not in sig.message


def test_swapped_arguments_are_named() -> None:
    report = check_vjp(
        lambda g, a, b: (g * a, g * b), lambda a, b: a * b, {"a": (3, 4), "b": (3, 4)}
    )
    assert report.diagnosis.kind == "swapped"
    assert "gradient of b, not of a" in report.diagnosis.message


def test_swapped_arguments_of_a_formula_are_named() -> None:
    def backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        return g * np.exp(a), g * a * np.exp(b)  # da should be g exp(b)

    report = check_vjp(backward, lambda a, b: a * b.exp(), {"a": (2, 3), "b": (2, 3)})
    assert report.diagnosis.kind == "swapped"
    assert "a and b exchanged" in report.diagnosis.message


def test_swapped_gradients_are_named_in_check_gradients() -> None:
    def by_hand(w: np.ndarray, v: np.ndarray) -> dict:
        return {"w": w + 2 * v, "v": v}  # dL/dw = v, dL/dv = w + 2 v: exchanged

    loss = lambda w, v: (w * v).sum() + (v * v).sum()  # noqa: E731
    report = check_gradients(by_hand, loss, {"w": (3,), "v": (3,)})
    assert report.diagnosis.kind == "swapped", str(report)
    assert "gradient of v, not of w" in report.diagnosis.message


def test_a_backward_writing_into_g_is_named() -> None:
    def mul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        da = g * b
        g *= a  # the engine gives this same g to other ops
        return da, g

    report = check_vjp(mul_backward, lambda a, b: a * b, {"a": (3, 2), "b": (3, 2)})
    assert report.diagnosis.kind == "writes_upstream", str(report)
    assert "test_check_vjp.py, line" in report.diagnosis.message


def test_a_backward_writing_into_its_input_is_named() -> None:
    def relu_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        z[z <= 0] = 0
        z[z > 0] = 1
        return g * z

    report = check_vjp(relu_backward, lambda z: z.relu(), {"z": (3, 4)})
    assert report.diagnosis.kind == "writes_input", str(report)
    assert "test_check_vjp.py, line" in report.diagnosis.message


def test_writing_into_arrays_of_its_own_is_fine_and_into_a_broadcast_view_is_raised() -> None:
    def own(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
        da = np.zeros_like(a)
        da += g * b
        db = g.copy()
        db *= a
        return da, db

    assert check_vjp(own, lambda a, b: a * b, {"a": (3, 2), "b": (3, 2)}).passed

    def into_view(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        mask = np.broadcast_to(np.ones(1), z.shape)
        mask[z <= 0] = 0  # numpy's broadcast views are read-only
        return g * mask

    report = check_vjp(into_view, lambda z: z.relu(), {"z": (3, 4)})
    assert report.diagnosis.kind == "raised" and "read-only" in report.diagnosis.message
