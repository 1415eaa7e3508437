"""check_backprop: right backward passes written in any style pass for any sizes; the first wrong
node is named, later nodes that only carry its error are "inherited", a second independent
mistake is found and diagnosed; shapes are never fixed up silently; the teacher's mistakes raise
one clear error and the student's become the report's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from backprop_mutants import INPUTS, LABELS, ORDER, by_hand, forward, s, softmax
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import mlp_batches

from tinygrad_edu import Tensor, nn
from tinygrad_edu.check import STATUSES, BackpropReport, check_backprop
from tinygrad_edu.check.backprop import backward_order, defined_at


def mlp_inputs(n: int, d: int, h: int, c: int, labels: np.ndarray) -> dict[str, Any]:
    return {"X": (n, d), "W1": (h, d), "b1": (h,), "W2": (c, h), "b2": (c,), "y": labels}


# --------------------------------------------------------------------------- right answers pass
def with_loops(X, W1, b1, W2, b2, y):
    """The course MLP's backward pass, every product written as loops."""
    N, H, C = len(y), W1.shape[0], W2.shape[0]
    z1 = np.array([[X[n] @ W1[j] + b1[j] for j in range(H)] for n in range(N)])
    h = s(z1)
    z2 = np.array(
        [[sum(h[n, j] * W2[c, j] for j in range(H)) + b2[c] for c in range(C)] for n in range(N)]
    )
    dz2 = np.zeros_like(z2)
    for n in range(N):
        e = np.exp(z2[n] - z2[n].max())
        for c in range(C):
            dz2[n, c] = (e[c] / e.sum() - (c == y[n])) / N
    dW2 = np.zeros_like(W2)
    for c in range(C):
        for j in range(H):
            dW2[c, j] = sum(dz2[n, c] * h[n, j] for n in range(N))
    dh = np.array(
        [[sum(dz2[n, c] * W2[c, j] for c in range(C)) for j in range(H)] for n in range(N)]
    )
    dz1 = dh * s(z1) * (1 - s(z1))
    dW1 = np.zeros_like(W1)
    for n in range(N):
        dW1 += np.outer(dz1[n], X[n])
    db1 = np.zeros_like(b1)
    for n in range(N):
        db1 += dz1[n]
    return {"z2": dz2, "W2": dW2, "b2": dz2.sum(0), "h": dh, "z1": dz1, "W1": dW1, "b1": db1,
            "X": np.array([dz1[n] @ W1 for n in range(N)])}  # fmt: skip


def with_einsum(X, W1, b1, W2, b2, y):
    """Unshifted softmax by hand, one-hot by index assignment, einsum, sums as products."""
    z1 = np.einsum("nd,hd->nh", X, W1) + b1
    h = 1 / (1 + np.exp(-z1))
    z2 = np.einsum("nh,ch->nc", h, W2) + b2
    p = np.exp(z2) / np.exp(z2).sum(axis=1)[:, None]
    Y = np.zeros_like(p)
    Y[np.arange(len(y)), y] = 1
    dz2 = (p - Y) / len(y)
    dh = np.einsum("nc,ch->nh", dz2, W2)
    dz1 = dh * np.exp(-z1) / (1 + np.exp(-z1)) ** 2
    ones = np.ones(len(y))
    return {"z2": dz2, "W2": np.einsum("nc,nh->ch", dz2, h), "b2": ones @ dz2, "h": dh,
            "z1": dz1, "W1": np.einsum("nh,nd->hd", dz1, X), "b1": ones @ dz1,
            "X": np.einsum("nh,hd->nd", dz1, W1)}  # fmt: skip


def with_log_softmax(X, W1, b1, W2, b2, y):
    """The probabilities through log-sum-exp, transposes moved around, np.dot."""
    z1 = np.dot(W1, X.T).T + b1
    a = s(z1)
    z2 = np.dot(a, W2.T) + b2
    m = z2.max(axis=1, keepdims=True)
    logp = z2 - (m + np.log(np.exp(z2 - m).sum(axis=1, keepdims=True)))
    dz2 = (np.exp(logp) - np.eye(W2.shape[0])[y]) / X.shape[0]
    dh = (W2.T @ dz2.T).T
    dz1 = a * (1 - a) * dh
    return {"z2": dz2, "W2": (a.T @ dz2).T, "b2": np.sum(dz2, axis=0), "h": dh, "z1": dz1,
            "W1": (X.T @ dz1).T, "b1": np.sum(dz1, axis=0), "X": (W1.T @ dz1.T).T}  # fmt: skip


RIGHT_VARIANTS = [by_hand(), with_loops, with_einsum, with_log_softmax]


@settings(max_examples=25)
@given(mlp_batches(), st.integers(0, 2**32 - 1), st.sampled_from(RIGHT_VARIANTS))
def test_right_backward_passes_written_differently_pass_for_any_sizes(
    sizes: tuple, seed: int, variant: Any
) -> None:
    report = check_backprop(variant, forward, mlp_inputs(*sizes), trials=2, seed=seed)
    assert report.passed, str(report)
    assert report.first is None and report.diagnosis is None
    assert [n.name for n in report.nodes] == ORDER
    assert {n.status for n in report.nodes} == {"right"}


def test_right_variants_pass_over_many_fresh_seeds() -> None:
    for variant in RIGHT_VARIANTS:
        for _ in range(10):
            report = check_backprop(variant, forward, INPUTS)
            assert report.passed, str(report)


def test_the_course_shapes_784_64_10() -> None:
    labels = np.random.default_rng(0).integers(0, 10, 32)
    inputs = mlp_inputs(32, 784, 64, 10, labels)
    assert check_backprop(by_hand(), forward, inputs, trials=1, seed=3).passed
    summed = by_hand({"z2": lambda v: v["p"] - v["Y"]})
    report = check_backprop(summed, forward, inputs, trials=1, seed=3)
    assert report.first == "z2" and report.diagnosis.factor == pytest.approx(32)
    assert [n.status for n in report.nodes] == ["wrong"] + ["inherited"] * 7


# --------------------------------------------------------------------------- statuses
def test_one_early_mistake_is_first_and_everything_after_it_inherits() -> None:
    report = check_backprop(by_hand({"z2": lambda v: v["p"] - v["Y"]}), forward, INPUTS, seed=1)
    assert not report.passed and report.first == "z2"
    z2 = report["z2"]
    assert z2.status == "wrong" and z2.diagnosis.kind == "scaled" and "= N" in str(z2.diagnosis)
    for node in report.nodes[1:]:
        assert node.status == "inherited" and node.inherits_from == ("z2",), node.name
        assert node.diagnosis is None
        assert np.allclose(node.got, 6 * node.expected)  # it carries the factor N
        assert np.allclose(node.got, node.local_expected)
    assert "inherited" in STATUSES and set(STATUSES) == {n for n in STATUSES}


def test_a_second_independent_mistake_is_found_and_diagnosed_against_its_own_rule() -> None:
    steps = {
        "z2": lambda v: (v["Y"] - v["p"]) / v["N"],
        "z1": lambda v: v["dh"] * s(v["h"]) * (1 - s(v["h"])),  # s'(h): at the output
    }
    report = check_backprop(by_hand(steps), forward, INPUTS, seed=2)
    statuses = {n.name: n.status for n in report.nodes}
    assert statuses == {
        "z2": "wrong",
        "W2": "inherited",
        "b2": "inherited",
        "h": "inherited",
        "z1": "wrong",
        "W1": "inherited",
        "b1": "inherited",
        "X": "inherited",
    }
    assert report.first == "z2" and report["z2"].diagnosis.kind == "sign_flipped"
    assert report["z1"].diagnosis.kind == "derivative_at_output"
    assert report["z1"].inherits_from == ()
    assert report["h"].inherits_from == ("z2",)
    assert report["W1"].inherits_from == ("z2", "z1")


def test_a_transposed_weight_gradient_below_an_earlier_mistake() -> None:
    steps = {"z2": lambda v: v["p"] - v["Y"], "W1": lambda v: v["X"].T @ v["dz1"]}
    report = check_backprop(by_hand(steps), forward, INPUTS, seed=3)
    assert report.first == "z2"
    w1 = report["W1"]
    assert w1.status == "wrong_shape" and w1.diagnosis.kind == "transposed"
    assert np.shape(w1.got) == (5, 4) and w1.shape == (4, 5)
    assert report["b1"].status == report["X"].status == "inherited"


def test_a_keepdims_bias_gradient_is_a_wrong_shape_even_though_it_broadcasts() -> None:
    keepdims = by_hand({"b2": lambda v: v["dz2"].sum(axis=0, keepdims=True)})
    report = check_backprop(keepdims, forward, INPUTS, seed=4)
    b2 = report["b2"]
    assert report.first == "b2" and b2.status == "wrong_shape"
    assert b2.diagnosis.kind == "wrong_shape" and "keepdims" in b2.diagnosis.message
    assert "values are right" in b2.diagnosis.message
    assert np.shape(b2.got) == (1, 3)  # as returned: never reshaped
    assert all(n.status == "right" for n in report.nodes if n.name != "b2")


def test_a_bias_gradient_not_summed_over_the_batch() -> None:
    report = check_backprop(by_hand({"b1": lambda v: v["dz1"]}), forward, INPUTS, seed=5)
    assert report.first == "b1" and report["b1"].status == "wrong_shape"
    assert report["b1"].diagnosis.kind == "not_summed"
    assert "(6, 4)" in str(report) and "(4,)" in str(report)


def test_missing_names_and_none_are_missing_and_the_rest_is_still_checked() -> None:
    dropped = by_hand({"h": lambda v: None, "z1": lambda v: (v["dz2"] @ v["W2"]) * 2}, drop=("b2",))
    report = check_backprop(dropped, forward, INPUTS, seed=6)
    assert report["b2"].status == report["h"].status == "missing"
    assert report["b2"].diagnosis.kind == "missing" and report["b2"].got is None
    assert report.first == "b2"
    assert report["z1"].status == "wrong"  # judged from the right dh, as the walk carries on
    assert report["z2"].status == report["W2"].status == "right"


def test_a_value_that_is_not_finite_is_wrong_and_blames_nothing_below() -> None:
    report = check_backprop(by_hand({"h": lambda v: v["dz2"] @ v["W2"] / 0.0}), forward, INPUTS)
    assert report["h"].status == "wrong" and report["h"].diagnosis.kind == "not_finite"
    assert report["z1"].status == "wrong"  # the student's NaN carried on
    assert report["z1"].diagnosis.kind == "not_finite"
    assert report["W2"].status == "right"


def test_a_ignored_upstream_gradient_is_named_for_an_inner_node() -> None:
    report = check_backprop(by_hand({"z1": lambda v: v["h"] * (1 - v["h"])}), forward, INPUTS)
    assert report.first == "z1" and report["z1"].diagnosis.kind == "ignores_upstream"


def test_an_upstream_value_right_up_to_rounding_is_not_blamed_for_what_follows() -> None:
    def forward(x: Tensor, w: Tensor) -> dict:
        m = x * np.ones(2)
        return {"m": m, "loss": (m * w).sum()}  # dL/dx = w0 + w1 = 1e-3: a cancellation

    def backward(x: np.ndarray, w: np.ndarray) -> dict:
        dm = w + 4e-7  # within the tolerance of dL/dm = w
        return {"m": dm, "x": dm.sum()}  # 1e-3 + 8e-7: off by 8e-4, relative

    inputs = {"x": np.array(2.0), "w": np.array([1.0, -0.999])}
    report = check_backprop(backward, forward, inputs, wrt=["m", "x"])
    assert report.passed, str(report)
    assert abs(report["x"].got - report["x"].expected) > 1e-7


# --------------------------------------------------------------------------- other networks
def residual_tanh(X: Tensor, W: Tensor, V: Tensor) -> dict:
    """a = X W^T, h = tanh(a), u = h V^T, r = h + tanh(u) (h used twice), loss = mean(r^2)."""
    a = X @ W.T
    h = a.tanh()
    u = h @ V.T
    r = h + u.tanh()
    return {"a": a, "h": h, "u": u, "r": r, "loss": (r * r).mean()}


def residual_by_hand(overwrite: bool = False, at_output: bool = False) -> Any:
    def backward(X, W, V):
        a = X @ W.T
        h = np.tanh(a)
        u = h @ V.T
        r = h + np.tanh(u)
        dr = 2 * r / r.size
        t = np.tanh(np.tanh(u)) if at_output else np.tanh(u)
        du = dr * (1 - t**2)
        dh = du @ V if overwrite else dr + du @ V
        da = dh * (1 - h**2)
        return {"r": dr, "u": du, "V": du.T @ h, "h": dh, "a": da, "W": da.T @ X, "X": da @ W}

    return backward


RESIDUAL = {"X": (5, 3), "W": (4, 3), "V": (4, 4)}


def test_a_tanh_network_with_a_tensor_used_twice() -> None:
    report = check_backprop(residual_by_hand(), residual_tanh, RESIDUAL)
    assert report.passed, str(report)
    assert [n.name for n in report.nodes] == ["r", "u", "V", "h", "a", "W", "X"]
    overwritten = check_backprop(residual_by_hand(overwrite=True), residual_tanh, RESIDUAL)
    assert overwritten.first == "h" and overwritten["h"].diagnosis.kind == "overwritten"
    assert [n.status for n in overwritten.nodes[4:]] == ["inherited"] * 3
    at_output = check_backprop(residual_by_hand(at_output=True), residual_tanh, RESIDUAL)
    assert at_output.first == "u" and at_output["u"].diagnosis.kind == "derivative_at_output"
    assert at_output["h"].status == "inherited" and at_output["h"].inherits_from == ("u",)


def three_layers(X, W1, b1, W2, b2, W3, b3, y):
    z1 = X @ W1.T + b1
    h1 = z1.tanh()
    z2 = h1 @ W2.T + b2
    h2 = z2.sigmoid()
    z3 = h2 @ W3.T + b3
    return {"z1": z1, "h1": h1, "z2": z2, "h2": h2, "z3": z3, "loss": nn.cross_entropy(z3, y)}


def three_by_hand(dz2_at_output: bool = False) -> Any:
    def backward(X, W1, b1, W2, b2, W3, b3, y):
        z1 = X @ W1.T + b1
        h1 = np.tanh(z1)
        z2 = h1 @ W2.T + b2
        h2 = s(z2)
        z3 = h2 @ W3.T + b3
        dz3 = (softmax(z3) - np.eye(W3.shape[0])[y]) / len(y)
        dh2 = dz3 @ W3
        dz2 = dh2 * (s(h2) * (1 - s(h2)) if dz2_at_output else h2 * (1 - h2))
        dh1 = dz2 @ W2
        dz1 = dh1 * (1 - h1**2)
        return {"z3": dz3, "W3": dz3.T @ h2, "b3": dz3.sum(0), "h2": dh2, "z2": dz2,
                "W2": dz2.T @ h1, "b2": dz2.sum(0), "h1": dh1, "z1": dz1, "W1": dz1.T @ X,
                "b1": dz1.sum(0), "X": dz1 @ W1}  # fmt: skip

    return backward


THREE = {"X": (7, 4), "W1": (5, 4), "b1": (5,), "W2": (3, 5), "b2": (3,), "W3": (4, 3)}
THREE |= {"b3": (4,), "y": np.array([0, 3, 2, 1, 1, 0, 3])}
THREE_ORDER = ["z3", "W3", "b3", "h2", "z2", "W2", "b2", "h1", "z1", "W1", "b1", "X"]


def test_a_three_layer_network() -> None:
    report = check_backprop(three_by_hand(), three_layers, THREE)
    assert report.passed, str(report)
    assert [n.name for n in report.nodes] == THREE_ORDER
    wrong = check_backprop(three_by_hand(dz2_at_output=True), three_layers, THREE)
    assert wrong.first == "z2" and wrong["z2"].diagnosis.kind == "derivative_at_output"
    statuses = [n.status for n in wrong.nodes]
    assert statuses == ["right"] * 4 + ["wrong"] + ["inherited"] * 7


def test_an_input_used_by_the_loss_directly_and_by_a_layer() -> None:
    def regularised(X: Tensor, W: Tensor) -> dict:
        z = X @ W.T
        return {"z": z, "loss": (z.tanh() ** 2).mean() + 0.1 * (W * W).sum()}

    def backward(X: np.ndarray, W: np.ndarray) -> dict:
        z = X @ W.T
        dz = 2 * np.tanh(z) * (1 - np.tanh(z) ** 2) / z.size
        return {"z": dz, "W": dz.T @ X + 0.2 * W, "X": dz @ W}

    report = check_backprop(backward, regularised, {"X": (4, 3), "W": (2, 3)})
    assert report.passed, str(report)
    assert [n.name for n in report.nodes] == ["z", "W", "X"]
    forgot = check_backprop(lambda X, W: {**backward(X, W), "W": backward(X, W)["W"] - 0.2 * W},
                            regularised, {"X": (4, 3), "W": (2, 3)})  # fmt: skip
    assert forgot.first == "W" and forgot["W"].status == "wrong"


def test_backward_order_puts_each_input_after_the_step_that_completes_it() -> None:
    xs = [Tensor(np.ones(shape), requires_grad=True, name=n) for n, shape in
          [("x", (2, 3)), ("w", (4, 3)), ("c", ())]]  # fmt: skip
    z = xs[0] @ xs[1].T
    loss = (z.tanh() * xs[2]).sum()
    assert backward_order(loss, {"z": z}, xs) == ["c", "z", "w", "x"]
    assert backward_order(loss, {}, xs) == ["w", "c", "x"]


def test_wrt_checks_only_the_names_given_in_backward_order() -> None:
    report = check_backprop(by_hand(), forward, INPUTS, wrt=["W1", "W2", "b2"])
    assert [n.name for n in report.nodes] == ["W2", "b2", "W1"] and report.passed
    only_params = by_hand({"z2": lambda v: v["p"] - v["Y"]}, drop=("z2", "h", "z1", "X"))
    params = check_backprop(only_params, forward, INPUTS, wrt=["W2", "b2", "W1", "b1"])
    assert params.first == "W2" and params["W2"].diagnosis.kind == "scaled"
    assert params["W1"].status == "wrong"  # no checked node above it to inherit from


# --------------------------------------------------------------------------- seeds and reports
def test_a_fresh_seed_each_call_kept_in_the_report_and_replayable() -> None:
    wrong = by_hand({"z1": lambda v: v["dh"] * v["h"]})
    first, second = (check_backprop(wrong, forward, INPUTS) for _ in range(2))
    assert first.seed != second.seed
    assert f"seed={first.seed}" in str(first)
    again = check_backprop(wrong, forward, INPUTS, seed=first.seed)
    assert str(again) == str(first)
    assert np.array_equal(again["z1"].got, first["z1"].got)


def test_the_text_marks_the_first_wrong_node_and_names_the_heirs() -> None:
    report = check_backprop(by_hand({"h": lambda v: v["dz2"] @ v["W2"] / 6}), forward, INPUTS)
    lines = str(report).splitlines()
    assert lines[0].startswith("check_backprop(by_hand.<locals>.mlp_backward): FAILED in trial 1")
    body = lines[1:9]
    assert [line.split()[0] for line in body] == ORDER
    assert body[3].split()[3] == "wrong" and body[3].endswith("<- first wrong")
    assert sum("<- first wrong" in line for line in lines) == 1
    assert "inherited    from h" in body[4]
    assert "h is the first wrong gradient: fix it first; z1, W1, b1, X only inherit" in str(report)
    html = report._repr_html_()
    assert html.count("<tr") == 9 and "first wrong" in html and "#cf222e" in html


def test_a_passing_report_lists_the_nodes_and_is_true() -> None:
    report = check_backprop(by_hand(), forward, INPUTS, seed=7)
    assert bool(report) and isinstance(report, BackpropReport)
    assert str(report).splitlines()[0].endswith("passed (3 random trials, seed=7)")
    assert str(report).count("right") == 8 and "first wrong" not in str(report)


def test_plot_defaults_to_the_first_wrong_node() -> None:
    import matplotlib

    matplotlib.use("Agg")
    report = check_backprop(by_hand({"W1": lambda v: 2 * v["dz1"].T @ v["X"]}), forward, INPUTS)
    fig = report.plot()
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [
        "W1: expected",
        "W1: got",
        "W1: got - expected",
    ]
    assert report.plot("z2") is not None
    with pytest.raises(ValueError, match="b1 needs"):
        check_backprop(by_hand({"b1": lambda v: v["dz1"]}), forward, INPUTS).plot()


# --------------------------------------------------------------------------- the student's errors
def test_an_exception_in_by_hand_is_the_reports_error_with_its_line() -> None:
    def dh(v: dict) -> np.ndarray:
        return v["dz2"] @ v["W2"].T  # W2^T: (N, C) @ (H, C) does not align

    report = check_backprop(by_hand({"h": dh}), forward, INPUTS)
    assert not report.passed and report.first is None and report.nodes == []
    where = f"(test_backprop.py, line {dh.__code__.co_firstlineno + 1})"
    assert report.error.kind == "raised" and where in str(report)
    assert report.diagnosis is report.error


def test_a_result_that_is_not_a_dict_names_by_hand_and_its_line() -> None:
    def backward(*arrays: np.ndarray) -> tuple:
        return tuple(by_hand()(*arrays).values())

    report = check_backprop(backward, forward, INPUTS)
    line = backward.__code__.co_firstlineno
    assert report.error.kind == "not_an_array"
    assert f"test_backprop.py, line {line}) returned tuple, not a dict" in str(report.error)


def test_unknown_names_are_listed_with_the_expected_ones() -> None:
    report = check_backprop(by_hand(finish=lambda g: {**g, "dW1": g["W1"]}), forward, INPUTS)
    message = str(report.error)
    assert report.error.kind == "wrong_count" and "'dW1'" in message
    assert "the names are z2, W2, b2, h, z1, W1, b1, X" in message
    assert "'W1' for dL/dW1" in message  # the tip for a d-prefixed key
    assert check_backprop(by_hand(finish=lambda g: {**g, "loss": 1.0, "y": 0}), forward, INPUTS)


# --------------------------------------------------------------------------- the teacher's errors
def _line(fn: Any) -> str:
    return defined_at(fn).split("(")[-1].rstrip(")")


@pytest.mark.parametrize(
    ("returned", "error", "words"),
    [
        (lambda z: z, TypeError, "must return a dict name -> Tensor"),
        (lambda z: {"h": z.tanh()}, ValueError, "returned no 'loss'"),
        (lambda z: {"loss": z.tanh()}, ValueError, "must be a scalar, got shape (2, 3)"),
        (lambda z: {"loss": z.sum(), "h": 1.0}, TypeError, "returned 'h' as float"),
        (lambda z: {"loss": z.sum(), "z": z.tanh()}, ValueError, "names an input"),
    ],
)
def test_a_wrong_forward_raises_one_message_naming_it(
    returned: Any, error: type, words: str
) -> None:
    with pytest.raises(error) as caught:
        check_backprop(lambda z: {}, returned, {"z": (2, 3)})
    message = str(caught.value)
    assert words in message and "forward <lambda> (test_backprop.py, line" in message
    assert _line(returned) in message


def test_wrong_arguments_raise_one_clear_message() -> None:
    def loss_only(z: Tensor) -> dict:
        return {"h": z.tanh(), "loss": z.tanh().sum()}

    cases = [
        ({"wrt": ["nope"]}, "wrt names 'nope', which forward .*loss_only"),
        ({"wrt": []}, "wrt must be a non-empty list"),
        ({"trials": 0}, "trials must be a positive integer"),
        ({"seed": -1}, "check_backprop: seed must be an integer >= 0, or None"),
    ]
    for kwargs, words in cases:
        with pytest.raises(ValueError, match=words):
            check_backprop(lambda z: {}, loss_only, {"z": (2, 3)}, **kwargs)
    with pytest.raises(ValueError, match="inputs is empty"):
        check_backprop(lambda: {}, loss_only, {})
    with pytest.raises(ValueError, match="'y'"):
        check_backprop(by_hand(), forward, INPUTS, wrt=["y"])
    with pytest.raises(ValueError, match="no input is a float"):
        check_backprop(lambda y: {}, lambda y: {"loss": y.sum()}, {"y": LABELS})
