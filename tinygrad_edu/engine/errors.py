"""The engine's two errors, and the checks of user input that raise them (or a TypeError) with
a message that names the op, the value given and what was expected.

The package's one place for the checks of an argument's value (a size, a count, a rate):
:func:`is_integer` and :func:`is_real` (a bool is neither), :func:`check_integer` and
:func:`check_number`, which raise :class:`InputError` for any value that will not do, whatever
its type, so that the same mistake raises the same error everywhere."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class ShapeError(ValueError):
    """An op was given shapes it cannot combine; the message names the op and the shapes."""


class InputError(ValueError):
    """An op was given values outside its domain (class labels out of range, stride 0, ...)."""


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a whole number: a Python or numpy integer, not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number: a Python or numpy int or float, not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def check_integer(
    who: str, name: str, value: Any, lowest: int | None = None, highest: int | None = None
) -> int:
    """``value`` as an int if it is a whole number in lowest..highest (None: no bound); else an
    InputError: ``Linear: in_features must be a positive integer, got 0``."""
    low_ok = lowest is None or (is_integer(value) and value >= lowest)
    if not is_integer(value) or not low_ok or (highest is not None and value > highest):
        raise InputError(f"{who}: {name} must be {integer_text(lowest, highest)}, got {value!r}")
    return int(value)


def integer_text(lowest: int | None, highest: int | None = None) -> str:
    """What :func:`check_integer` asks for, in words: ``a positive integer``, ``an integer >=
    0``, ``an integer 0..9``."""
    if highest is not None:
        return (
            f"an integer {lowest}..{highest}" if lowest is not None else f"an integer <= {highest}"
        )
    if lowest is None:
        return "an integer"
    return "a positive integer" if lowest == 1 else f"an integer >= {lowest}"


def check_number(
    who: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float if it is a finite real number in the interval from ``low`` to
    ``high`` (``*_open``: that end excluded); else an InputError: ``Dropout: p must be a number
    in [0, 1), got 1.5``."""
    if not is_real(value) or not in_interval(float(value), low, high, low_open, high_open):
        expected = number_text(low, high, low_open, high_open)
        raise InputError(f"{who}: {name} must be {expected}, got {value!r}")
    return float(value)


def in_interval(
    v: float, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> bool:
    """Whether ``v`` is finite and lies between ``low`` and ``high`` (``*_open``: excluded)."""
    above = v > low if low_open else v >= low
    below = v < high if high_open else v <= high
    return math.isfinite(v) and above and below


def number_text(low: float, high: float, low_open: bool = False, high_open: bool = False) -> str:
    """The interval in words: ``a number in [0, 1)``, ``a number > 0``, ``a finite number``."""
    if math.isfinite(low) and math.isfinite(high):
        return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if math.isfinite(low):
        return f"a number {'>' if low_open else '>='} {low:g}"
    if math.isfinite(high):
        return f"a number {'<' if high_open else '<='} {high:g}"
    return "a finite number"


def check_axes(op: str, axis: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``axis`` (an int or a sequence of ints) as a tuple of axes counted from 0; a ShapeError
    naming ``op`` for an axis that is not an integer, is out of range, or is repeated."""
    given = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    ndim, found = len(shape), []
    for a in given:
        if not is_integer(a):
            raise ShapeError(f"{op}: an axis must be an integer, got {a!r}")
        if not -ndim <= a < ndim:
            which = (
                f"its axes are 0..{ndim - 1}, or -{ndim}..-1 from the end"
                if ndim
                else "it has none"
            )
            raise ShapeError(
                f"{op}: axis {a} is out of range for a tensor of shape {shape} ({which})"
            )
        found.append(int(a) % ndim)
    if len(set(found)) != len(found):
        raise ShapeError(f"{op}: axis repeated in {given} for a tensor of shape {shape}")
    return tuple(found)


def check_permutation(axes: Any, shape: tuple[int, ...]) -> None:
    """A ShapeError unless ``axes`` orders all the axes of ``shape``, each once (transpose)."""
    ndim = len(shape)
    if sorted(check_axes("transpose", axes, shape)) != list(range(ndim)):
        raise ShapeError(
            f"transpose: axes {tuple(axes)} are not an order of all the {ndim} axes of a tensor "
            f"of shape {shape}: give each of 0..{ndim - 1} once, or none"
        )


def check_bias(op: str, b: np.ndarray | None, w: np.ndarray) -> None:
    """A ShapeError unless the bias ``b`` is None or has one value per output of the weight w
    (its first axis: Linear's (out, in), Conv2d's (out_channels, in_channels, kh, kw))."""
    if b is not None and b.shape != (w.shape[0],):
        raise ShapeError(
            f"{op}: bias must have shape ({w.shape[0]},) for weight {w.shape}, got {b.shape}"
        )


def refuse_huge_ints(arr: np.ndarray) -> None:
    """A TypeError naming a Python integer too large for int64 (numpy kept it as an object)."""
    big = next((v for v in arr.flat if isinstance(v, int) and abs(v) > 2**63 - 1), None)
    if big is not None:
        raise TypeError(
            f"Tensor: the integer {big:.3g} is too large for int64 (at most 9.2e18); "
            f"write it as a float ({float(big):.0e}) if that is what you mean"
        )


def float_only(op: str, a: np.ndarray) -> np.ndarray:
    """``a`` itself; a TypeError if it holds integers (labels, indices), for the float ops."""
    if a.dtype.kind != "f":
        raise TypeError(
            f"{op}: needs a floating-point tensor, got {a.dtype} (integer tensors hold labels "
            f"and indices); convert it first, e.g. Tensor(x, dtype=np.float32)"
        )
    return a


def as_array(data: Any, dtype: Any, who: str = "Tensor") -> np.ndarray:
    """Convert user data: Python numbers become float32, numpy floats keep float32/float64;
    a TypeError naming ``who`` for data that are not numbers."""
    try:
        arr = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{who}: cannot convert {type(data).__name__} to an array: {e}") from e
    if arr.dtype.kind not in "biuf":
        refuse_huge_ints(arr)
        example = f" (expected numbers, got e.g. {arr.flat[0]!r})" if arr.size else ""
        raise TypeError(f"{who}: data of dtype {arr.dtype} is not numeric{example}")
    given_numpy = isinstance(data, np.ndarray | np.generic)
    if dtype is None and (not given_numpy or (arr.dtype.kind == "f" and arr.dtype.itemsize < 4)):
        arr = arr.astype(np.float32)  # Python numbers and float16: float32
    return arr
