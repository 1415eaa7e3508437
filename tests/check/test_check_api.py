"""The checks' arguments: a call that would check nothing, or is malformed, is refused with one
message naming the check; the draws vary from call to call, and a failure replays by its seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Function, InputError, Tensor
from tinygrad_edu.check import check_function, check_gradients, check_vjp


def s(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def sigmoid_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    return g * s(z) * (1 - s(z))


class Sigmoid(Function):
    def forward(ctx, z: np.ndarray) -> np.ndarray:
        out = s(z)
        ctx.save_for_backward(out)  # the output itself: its backward can be differentiated again
        return out

    def backward(ctx, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * a * (1 - a)


#: each check, called on right work with ``inputs`` and keyword arguments
CHECKS: dict[str, Callable[..., Any]] = {
    "check_vjp": lambda inputs, **kw: check_vjp(sigmoid_backward, Tensor.sigmoid, inputs, **kw),
    "check_gradients": lambda inputs, **kw: check_gradients(
        lambda z: {"z": sigmoid_backward(np.ones_like(z), z)},
        lambda z: z.sigmoid().sum(),
        inputs,
        **kw,
    ),
    "check_function": lambda inputs, **kw: check_function(Sigmoid, inputs, **kw),
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_right_work_passes_and_keeps_its_seed(name: str) -> None:
    report = CHECKS[name]({"z": (3, 2)}, seed=7)
    assert report.passed and report.seed == 7


@pytest.mark.parametrize("trials", [0, -1])
@pytest.mark.parametrize("name", list(CHECKS))
def test_no_trials_is_refused(name: str, trials: int) -> None:
    with pytest.raises(ValueError, match=f"{name}: trials must be at least 1"):
        CHECKS[name]({"z": (3, 2)}, trials=trials)


@pytest.mark.parametrize(
    ("inputs", "error", "says"),
    [
        ({}, ValueError, "inputs is empty"),
        ({"z": (0, 3)}, ValueError, "'z' has no elements"),
        ({"z": np.zeros((2, 0))}, ValueError, "'z' has no elements"),
        ({"z": (-1, 3)}, ValueError, "negative size"),
        ({"y": np.array([1, 0])}, ValueError, "no input is differentiated"),
        ([(3, 2)], TypeError, "inputs must map each input's name"),
    ],
)
@pytest.mark.parametrize("name", list(CHECKS))
def test_inputs_that_check_nothing_are_refused(
    name: str, inputs: Any, error: type, says: str
) -> None:
    with pytest.raises(error, match=f"{name}: .*{says}"):
        CHECKS[name](inputs)


def test_an_empty_wrt_is_refused() -> None:
    with pytest.raises(ValueError, match="check_gradients: wrt is empty"):
        check_gradients(lambda z: {}, lambda z: z.sum(), {"z": (2,)}, wrt=[])


@pytest.mark.parametrize("bad", [None, 3, "sigmoid_backward"])
def test_what_cannot_be_called_is_refused(bad: Any) -> None:
    with pytest.raises(TypeError, match="check_vjp: backward must be a function"):
        check_vjp(bad, Tensor.sigmoid, {"z": (2,)})
    with pytest.raises(TypeError, match="check_vjp: forward must be a function"):
        check_vjp(sigmoid_backward, bad, {"z": (2,)})
    with pytest.raises(TypeError, match="check_gradients: by_hand must be a function"):
        check_gradients(bad, lambda z: z.sum(), {"z": (2,)})
    with pytest.raises(TypeError, match="check_gradients: loss must be a function"):
        check_gradients(lambda z: {"z": z}, bad, {"z": (2,)})


def recorded_lookup_table(spec: dict, seed: int) -> Callable[..., np.ndarray]:
    """A backward with no formula: the answers of a seed's draws, recorded from a right one."""
    table: dict[bytes, np.ndarray] = {}

    def record(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        table[g.tobytes() + z.tobytes()] = answer = sigmoid_backward(g, z)
        return answer

    check_vjp(record, Tensor.sigmoid, spec, seed=seed)

    def lookup(g: np.ndarray, z: np.ndarray) -> np.ndarray:
        return table.get(g.tobytes() + z.tobytes(), np.zeros_like(z))

    return lookup


def test_a_lookup_table_of_one_seeds_answers_fails_on_fresh_draws() -> None:
    spec = {"z": (4, 3)}
    lookup = recorded_lookup_table(spec, seed=0)
    assert check_vjp(lookup, Tensor.sigmoid, spec, seed=0).passed  # the table replays ...
    assert not check_vjp(lookup, Tensor.sigmoid, spec).passed  # ... but fresh draws catch it


def test_each_call_draws_afresh_and_a_failure_says_how_to_replay_it() -> None:
    wrong = lambda g, z: 2 * sigmoid_backward(g, z)  # noqa: E731
    first, second = (check_vjp(wrong, Tensor.sigmoid, {"z": (3, 4)}) for _ in range(2))
    assert first.seed != second.seed
    assert f"(replay with seed={first.seed})" in str(first).splitlines()[0]
    again = check_vjp(wrong, Tensor.sigmoid, {"z": (3, 4)}, seed=first.seed)
    assert np.array_equal(again.results["z"].expected, first.results["z"].expected)
    assert str(again) == str(first)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_a_seed_that_is_not_a_non_negative_integer_is_refused(seed: Any) -> None:
    with pytest.raises(InputError, match="check_vjp: seed must be an integer >= 0, or None"):
        check_vjp(sigmoid_backward, Tensor.sigmoid, {"z": (2,)}, seed=seed)
