"""The engine's two errors, and the checks of user input that raise them (or a TypeError) with
a message that names the op, the value given and what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np


class ShapeError(ValueError):
    """An op was given shapes it cannot combine; the message names the op and the shapes."""


class InputError(ValueError):
    """An op was given values outside its domain (class labels out of range, stride 0, ...)."""


def check_axes(op: str, axis: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``axis`` (an int or a sequence of ints) as a tuple of axes counted from 0; a ShapeError
    naming ``op`` for an axis that is not an integer, is out of range, or is repeated."""
    given = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    ndim, found = len(shape), []
    for a in given:
        if not isinstance(a, int | np.integer) or isinstance(a, bool):
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
