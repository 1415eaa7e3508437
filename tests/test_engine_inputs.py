"""Bad input to the engine gets one clear error naming the op; x ** 0 has gradient 0 at 0; and a
tensor saved for backward, then changed through .data, is refused (the version counter)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

from tinygrad_edu import InputError, ShapeError, Tensor, nn
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.nn import MLP, Dropout
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import SGD


def _x() -> Tensor:
    return Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)


# --------------------------------------------------------------------------- axes
@pytest.mark.parametrize(
    ("call", "op", "axis"),
    [
        (lambda x: x.transpose(1, 4), "transpose", "4"),
        (lambda x: x.transpose(-3, 0), "transpose", "-3"),
        (lambda x: x.flatten(5), "flatten", "5"),
        (lambda x: x.flatten(-3), "flatten", "-3"),
        (lambda x: x.sum(axis=2), "sum", "2"),
        (lambda x: x.sum(axis=(0, 7)), "sum", "7"),
        (lambda x: x.mean(axis=5), "mean", "5"),
        (lambda x: x.max(axis=-3), "max", "-3"),
    ],
)
def test_out_of_range_axes_are_a_shape_error_naming_the_op(
    call: Callable[[Tensor], Tensor], op: str, axis: str
) -> None:
    with pytest.raises(ShapeError, match=rf"^{op}: axis {axis} is out of range .*\(2, 3\)"):
        call(_x())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: x.transpose(0, 0), r"transpose: axis repeated in \(0, 0\)"),
        (lambda x: x.transpose(1), r"transpose: axes \(1,\) are not an order of all the 2 axes"),
        (lambda x: x.sum(axis=(1, -1)), r"sum: axis repeated in \(1, -1\)"),
        (lambda x: x.mean(axis=1.0), r"mean: an axis must be an integer, got 1\.0"),
        (lambda x: Tensor(3.0).sum(axis=0), r"sum: axis 0 is out of range .* \(\) \(it has none\)"),
    ],
)
def test_other_bad_axes_are_named(call: Callable[[Tensor], Tensor], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        call(_x())


def test_valid_axes_still_work_counted_from_either_end() -> None:
    x = _x()
    assert x.transpose(-1, 0).shape == (3, 2) and x.T.shape == (3, 2)
    assert x.flatten(-1).shape == (2, 3) and x.flatten().shape == (6,)
    assert x.sum(axis=-1).shape == (2,) and x.mean(axis=(0, 1)).shape == ()
    assert x.max(axis=np.int64(1)).shape == (2,)
    assert Tensor(3.0).flatten().shape == (1,)


# --------------------------------------------------------------------------- x ** 0
def test_x_to_the_power_zero_has_gradient_zero_also_at_zero() -> None:
    x = Tensor(np.array([0.0, 0.0, 2.0, -3.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 0.0])


def test_a_zero_exponent_array_gives_zero_only_where_it_is_zero() -> None:
    x = Tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    (x ** np.array([0.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 12.0])


def test_pow_still_matches_finite_differences_and_its_tangent_at_zero() -> None:
    from tinygrad_edu.autograd.functional import jvp

    assert gradcheck(lambda a: a**0, [np.array([0.0, 1.5])])
    assert gradcheck(lambda a: a**2.0, [np.array([0.0, -1.5])])
    _, tangent = jvp(lambda a: a**0, Tensor(np.array([0.0, 2.0])), Tensor(np.ones(2)))
    np.testing.assert_array_equal(tangent.data, [0.0, 0.0])


# --------------------------------------------------------------------------- clear messages
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Tensor(10**30), TypeError, r"Tensor: the integer 1e\+30 is too large for int64"),
        (lambda: Tensor([1, -(10**25)]), TypeError, r"the integer -1e\+25 is too large"),
        (lambda: _x().reshape(2.0, 3), ShapeError, r"reshape: sizes must be integers"),
        (lambda: _x().reshape((3, "2")), ShapeError, r"reshape: sizes must be integers"),
        (lambda: _x().sum().backward("ab"), TypeError, r"backward: cannot convert str"),
        (lambda: Tensor(np.arange(3)).sigmoid(), TypeError, r"sigmoid: needs a floating-point"),
        (lambda: Tensor(np.arange(3)).log(), TypeError, r"log: needs a floating-point"),
        (lambda: MLP([4, 3, 2], dropout="0.5"), InputError, r"MLP: dropout .* got '0.5'"),
        (
            lambda: MLP([4, 3, 2], dropout=1.0),
            InputError,
            r"MLP: dropout must be a number in \[0, 1\)",
        ),
        (lambda: Dropout(p=None), InputError, r"Dropout: p must be a number in \[0, 1\)"),
    ],
)
def test_clear_one_line_messages(call: Callable[[], object], error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        call()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("call", "op", "weight"),
    [
        (
            lambda b: F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), b),
            "linear",
            "(4, 3)",
        ),
        (
            lambda b: nn.conv2d(Tensor(np.ones((1, 1, 3, 3))), Tensor(np.ones((4, 1, 2, 2))), b),
            "conv2d",
            "(4, 1, 2, 2)",
        ),
    ],
)
def test_a_bias_of_the_wrong_shape_is_named_alike_by_linear_and_conv2d(
    call: Callable[[Tensor], Tensor], op: str, weight: str
) -> None:
    message = f"{op}: bias must have shape (4,) for weight {weight}, got (3,)"
    with pytest.raises(ShapeError, match=re.escape(message)):
        call(Tensor(np.ones(3)))


def test_backward_copies_the_callers_gradient() -> None:
    x = _x()
    g = np.ones((2, 3))
    (x * 2.0).backward(g)
    x.grad[0, 0] = 99.0
    assert g[0, 0] == 1.0
    leaf = Tensor(np.ones(3), requires_grad=True)
    given = Tensor(np.full(3, 2.0))
    leaf.backward(given)  # a leaf's own backward stores the given gradient itself: a copy
    leaf.grad[0] = 99.0
    np.testing.assert_array_equal(given.data, [2.0, 2.0, 2.0])


# --------------------------------------------------------------------------- versions
def test_changing_a_saved_input_through_data_is_refused() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    y = (a * a).sum()
    a.data *= 2.0  # in place: Mul's saved array now holds [2, 4]
    with pytest.raises(RuntimeError, match=r"backward: a was changed through \.data after Mul"):
        y.backward()


def test_changing_a_saved_output_through_data_is_refused() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    s = a.sigmoid()
    y = s.sum()
    s.data -= 0.5
    with pytest.raises(RuntimeError, match=r"after Sigmoid saved it for backward"):
        y.backward()


def test_an_optimizer_step_between_forward_and_backward_is_refused() -> None:
    w = Tensor(np.ones((3, 2)), requires_grad=True, name="w")
    x = Tensor(np.ones((4, 3)))
    loss = (x @ w).sum()
    loss.backward(retain_graph=True)
    SGD([w], lr=0.1).step()  # the weights the graph saved have moved
    with pytest.raises(RuntimeError, match=r"w was changed through \.data after MatMul"):
        loss.backward()


def test_changes_the_graph_did_not_save_are_allowed() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = (a + a).sum()  # Add saves nothing
    a.data += 1.0
    y.backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])
    b = Tensor([1.0, 2.0], requires_grad=True)
    z = (b * b).sum()
    b.data = b.data * 10.0  # a new array: the saved one still holds the forward's values
    z.backward()
    np.testing.assert_array_equal(b.grad, [2.0, 4.0])


def test_changes_after_backward_and_a_new_forward_are_fine() -> None:
    w = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([w], lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, [0.0, 0.0])


# --------------------------------------------------------------------------- one error type
def _fit_for(epochs: object) -> object:
    from toy_digits import blobs

    from tinygrad_edu.training import fit

    model = MLP([784, 10], seed=0)
    return fit(model, blobs(20), None, "cross_entropy", SGD(model.parameters(), 0.1), epochs)


def _tensorboard_every_0() -> object:
    from tinygrad_edu.training import TensorBoard

    return TensorBoard("never-written", every=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: MLP([784, 0, 10]),
        lambda: nn.Linear(0, 3),
        lambda: nn.Conv2d(1, 0, 3),
        lambda: MLP([784, 10], dropout=1.5),
        lambda: Dropout(1.5),
        lambda: F.dropout(_x(), 1.5),
        lambda: F.dropout(_x(), "0.5"),
        lambda: SGD([Tensor([1.0], requires_grad=True)], lr=-1),
        lambda: SGD([Tensor([1.0], requires_grad=True)], lr="0.1"),
        lambda: nn.MLP([784, 10], seed=-1),
        lambda: _fit_for(-1),
        lambda: _fit_for(2.5),
        _tensorboard_every_0,
    ],
)
def test_the_same_mistake_raises_the_same_error_type(call: Callable[[], object]) -> None:
    """A size, rate or count that will not do is an InputError everywhere (before: MLP's
    widths and F.dropout's p raised a plain ValueError, an optimiser's lr as text a TypeError,
    while Linear and nn.Dropout raised InputError)."""
    with pytest.raises(InputError) as info:
        call()
    assert type(info.value) is InputError


def test_the_argument_checks_say_what_they_expect() -> None:
    from tinygrad_edu.engine.errors import check_integer, check_number

    assert check_integer("f", "n", np.int64(3), 1) == 3
    assert check_number("f", "p", np.float32(0.5), 0, 1, high_open=True) == 0.5
    for call, message in [
        (lambda: check_integer("f", "n", True, 1), "f: n must be a positive integer, got True"),
        (lambda: check_integer("f", "k", 10, 0, 9), "f: k must be an integer 0..9, got 10"),
        (lambda: check_integer("f", "e", -1, 0), "f: e must be an integer >= 0, got -1"),
        (lambda: check_number("f", "p", 1, 0, 1, high_open=True), r"in \[0, 1\), got 1"),
        (lambda: check_number("f", "r", 0, 0, low_open=True), "f: r must be a number > 0"),
        (lambda: check_number("f", "x", float("nan")), "f: x must be a finite number, got nan"),
    ]:
        with pytest.raises(InputError, match=message):
            call()
