"""How shapes and values are written in text: graph labels, the trace table, a step's details,
and the percentages the command line and the figures show.

* :func:`shape_text` writes a shape as Python does: ``(2, 3)``, ``(4,)``, ``()``.
* :func:`values_text` writes a small array value by value (4 significant digits), and a larger
  one (more than :data:`MAX_VALUES` elements) as ``mean, std, min, max``.
* :func:`percent_text` writes a probability or an accuracy in percent, never rounded up to 100.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_VALUES", "percent_text", "shape_text", "values_text"]

#: Tensors with at most this many elements are shown value by value; larger ones as statistics.
MAX_VALUES = 6


def shape_text(shape: tuple[int, ...]) -> str:
    """``(2, 3)``, ``(4,)``, or ``()`` for a scalar."""
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def values_text(arr: np.ndarray, max_values: int = MAX_VALUES, oneline: bool = False) -> str:
    """The values of a small array (``[[1, 2], [3, 4]]``), or ``mean=.. std=.. min=.. max=..``.

    Small means at most ``max_values`` elements; numbers get 4 significant digits.
    """
    arr = np.asarray(arr)
    if arr.size == 0:
        return "[]"
    if arr.size > max_values:
        a = arr.astype(np.float64, copy=False)
        sep = " " if oneline else "\n"
        return f"mean={a.mean():.3g} std={a.std():.3g}{sep}min={a.min():.3g} max={a.max():.3g}"
    if arr.ndim == 0:
        return _number(arr.item())
    text = np.array2string(
        arr,
        separator=", ",
        formatter={"all": _number},
        max_line_width=10_000,
        threshold=max_values + 1,
    )
    return text.replace("\n ", " ").replace("\n", " ") if oneline else text.replace("\n ", "\n")


def _number(v: object) -> str:
    """One number: ``True``, ``3``, ``0``, or 4 significant digits (``0.3333``, ``1.5e+04``)."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    f = float(v)  # type: ignore[arg-type]
    if f == 0:
        return "0"
    return f"{f:.4g}"


def percent_text(fraction: float, decimals: int = 2) -> str:
    """``100 * fraction`` with ``decimals`` decimals, without the ``%``: rounded to the nearest,
    except that only 1 itself is ``100.00`` (0.99996 -> ``99.99``): a probability short of
    certainty never reads as certain. The terminal and the figures both write percentages so."""
    value = 100 * float(fraction)
    text = f"{value:.{decimals}f}"
    if fraction < 1 and float(text) >= 100:
        scale = 10**decimals
        text = f"{math.floor(value * scale) / scale:.{decimals}f}"
    return text
