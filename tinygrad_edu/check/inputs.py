"""The inputs of a check: random float64 arrays drawn away from kinks, or arrays given as is.

An input spec maps a name to a shape (random values are drawn for every trial) or to an array
(used as given; an integer array, such as class labels, is never differentiated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..engine.errors import InputError, check_integer, is_integer
from ..engine.function import no_grad
from ..engine.tensor import Tensor

Spec = Mapping[str, Any]
#: Drawn values satisfy |x| >= KINK_MARGIN: far from the kinks of ReLU, |x| and max at 0.
KINK_MARGIN = 0.1


def resolve_seed(seed: int | None, who: str) -> int:
    """``seed`` itself, or for None a fresh one from the operating system's entropy: the draws
    of a check then differ from call to call (a backward that looks its answers up in a table
    of seed-0 draws fails), and the report keeps the seed so that a failure can be replayed.
    Anything else: an InputError naming the check ``who``."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**32)
    if not is_integer(seed) or seed < 0:
        raise InputError(
            f"{who}: seed must be an integer >= 0, or None for a fresh one; got {seed!r}"
        )
    return int(seed)


def checked_spec(who: str, inputs: Any) -> dict[str, Any]:
    """``inputs`` as a dict, refused with one message naming ``who`` (the check) where a check
    could pass without checking anything: not a mapping, empty, an input with no elements, or
    no input to differentiate."""
    if not isinstance(inputs, Mapping):
        raise TypeError(
            f"{who}: inputs must map each input's name to a shape or an array, "
            f"e.g. {{'z': (3, 4)}}; got {type(inputs).__name__}"
        )
    spec = dict(inputs)
    if not spec:
        raise ValueError(f"{who}: inputs is empty: name each input with its shape or array")
    for name, value in spec.items():
        dims = (value,) if isinstance(value, int | np.integer) else value
        if is_shape(value) and any(n < 0 for n in dims):
            raise ValueError(f"{who}: input {name!r} has a negative size in shape {value}")
        if (int(np.prod(dims)) if is_shape(value) else np.size(value)) == 0:
            raise ValueError(f"{who}: input {name!r} has no elements (shape {np.shape(value)})")
    if not float_names(spec):
        raise ValueError(
            f"{who}: no input is differentiated (integer arrays never are): give a shape or "
            "a float array"
        )
    return spec


def checked_trials(who: str, trials: Any) -> int:
    """``trials``, refused unless it is an integer >= 1 (0 trials would check nothing)."""
    if is_integer(trials) and trials < 1:
        raise InputError(f"{who}: trials must be at least 1, got {trials}: 0 trials check nothing")
    return check_integer(who, "trials", trials, 1)


def checked_callable(who: str, what: str, fn: Any) -> None:
    """A TypeError naming ``who`` and the argument ``what`` if ``fn`` cannot be called."""
    if not callable(fn):
        raise TypeError(f"{who}: {what} must be a function, got {type(fn).__name__} {fn!r:.40}")


class NoValidInputs(ValueError):
    """The function checked is not finite at random inputs, nor at positive ones."""


def is_shape(value: Any) -> bool:
    """True for a shape: an int or a tuple of ints (an array is given as an array or a list)."""
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, tuple) and all(isinstance(n, int | np.integer) for n in value)


def float_names(spec: Spec) -> list[str]:
    """The inputs that are differentiated: every drawn one, and the given floating-point ones."""
    return [k for k, v in spec.items() if is_shape(v) or np.asarray(v).dtype.kind == "f"]


def away_from_kinks(rng: np.random.Generator, shape: Any) -> np.ndarray:
    """x = sign(n) (0.1 + 0.9 |n|), n ~ N(0, 1): no value within 0.1 of 0, no ties."""
    n = rng.standard_normal(shape)
    return np.sign(n) * (KINK_MARGIN + 0.9 * np.abs(n))


def positive(rng: np.random.Generator, shape: Any) -> np.ndarray:
    """Uniform in [0.5, 2]: for references that need positive inputs (log, sqrt, powers)."""
    return rng.uniform(0.5, 2.0, shape)


def draw(spec: Spec, rng: np.random.Generator, maker: Callable = away_from_kinks) -> list:
    """One array per input: drawn for a shape, a float64 copy of a given float array, and a
    given integer array as it is."""
    arrays = []
    for value in spec.values():
        if is_shape(value):
            arrays.append(maker(rng, value))
        else:
            a = np.array(value, copy=True)
            arrays.append(a.astype(np.float64) if a.dtype.kind == "f" else a)
    return arrays


def leaves(spec: Spec, arrays: list[np.ndarray]) -> list[Tensor]:
    """Fresh tensors: the float inputs require grad, the others are constants."""
    diff = set(float_names(spec))
    return [
        Tensor(a.copy(), requires_grad=name in diff, dtype=a.dtype, name=name)
        for name, a in zip(spec, arrays, strict=True)
    ]


def draw_valid(spec: Spec, rng: np.random.Generator, forward: Callable[..., Tensor]) -> list:
    """Inputs at which ``forward`` is finite: values away from kinks, else positive values."""
    for maker in (away_from_kinks, positive):
        arrays = draw(spec, rng, maker)
        with no_grad(), np.errstate(all="ignore"):
            out = forward(*leaves(spec, arrays))
        if np.all(np.isfinite(np.asarray(out.data, dtype=np.float64))):
            return arrays
    raise NoValidInputs(
        "the forward is not finite (NaN or inf) at random inputs, nor at positive ones; "
        "pass the inputs as arrays instead of shapes"
    )
