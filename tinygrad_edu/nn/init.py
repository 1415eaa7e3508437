"""Weight initialisation and 64-byte-aligned allocation.

Initialisers fill a weight matrix W of shape (fan_out, fan_in) (PyTorch's layout for Linear):

* ``normal``:  W_ij ~ N(0, std^2)  (the course's 784-64-10 sigmoid MLP: std = 0.1 or 0.01)
* ``xavier`` / ``glorot``:  W_ij ~ U(-a, a),  a = sqrt(6 / (fan_in + fan_out))  (Glorot &
  Bengio 2010: keeps the variance of activations and gradients about constant across layers)
* ``he`` / ``kaiming``:  W_ij ~ N(0, 2 / fan_in)  (He et al. 2015; for ReLU layers)

Parameters and optimiser state live in 64-byte-aligned arrays (a cache line): numpy only promises
16 bytes, and where an array starts changes how fast in-place updates run (a few per cent for
``W -= lr * dW``: ``benchmarks/alignment.py`` measures it). Aligned, every run also gets the
same speed instead of one that depends on where malloc happened to put W.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.errors import check_integer, is_integer

__all__ = [
    "ALIGNMENT",
    "INITS",
    "aligned_copy",
    "aligned_empty",
    "aligned_zeros",
    "as_rng",
    "init_weight",
    "is_aligned",
]

ALIGNMENT = 64
#: Accepted ``init`` names and the canonical scheme each stands for.
INITS: dict[str, str] = {
    "normal": "normal",
    "xavier": "xavier",
    "glorot": "xavier",
    "he": "he",
    "kaiming": "he",
}

RngLike = np.random.Generator | int | np.integer | None


def aligned_empty(shape: int | tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array whose first byte sits on a 64-byte boundary."""
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    offset = -raw.ctypes.data % ALIGNMENT
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def aligned_zeros(shape: int | tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """Zeros, 64-byte aligned."""
    out = aligned_empty(shape, dtype)
    out.fill(0)
    return out


def aligned_copy(a: Any, dtype: Any = None) -> np.ndarray:
    """A 64-byte-aligned C-contiguous copy of ``a`` (cast to ``dtype`` if given)."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype if dtype is None else dtype)
    np.copyto(out, a, casting="unsafe")
    return out


def is_aligned(a: np.ndarray, alignment: int = ALIGNMENT) -> bool:
    """True if the array's data starts on an ``alignment``-byte boundary."""
    return a.ctypes.data % alignment == 0


def as_rng(rng: RngLike = None, seed: int | None = None, who: str = "init") -> np.random.Generator:
    """A numpy Generator from ``rng`` (a Generator or an int seed) or ``seed``; fresh if neither."""
    if rng is not None and seed is not None:
        raise ValueError(f"{who}: pass either rng or seed, not both")
    if rng is None:
        rng = seed
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or is_integer(rng):
        return np.random.default_rng(None if rng is None else check_integer(who, "seed", rng, 0))
    raise TypeError(
        f"{who}: rng must be a numpy Generator or an int seed, got {type(rng).__name__}"
    )


def init_weight(
    fan_out: int,
    fan_in: int,
    init: str = "normal",
    std: float = 0.1,
    rng: RngLike = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """A (fan_out, fan_in) weight matrix drawn by scheme ``init`` (see the module docstring).

    ``std`` is used by ``init="normal"`` only. Draws in float64 then rounds to ``dtype``, so the
    same seed gives the same weights in float32 and float64 (up to rounding).
    """
    key = INITS.get(str(init).lower())
    if key is None:
        raise ValueError(f"init: unknown scheme {init!r}; choose one of {', '.join(INITS)}")
    if not (isinstance(std, int | float | np.floating) and math.isfinite(std) and std >= 0):
        raise ValueError(f"init: std must be a finite number >= 0, got {std!r}")
    gen = as_rng(rng)
    shape = (fan_out, fan_in)
    if key == "normal":
        w = gen.standard_normal(shape) * std
    elif key == "xavier":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = gen.uniform(-bound, bound, shape)
    else:
        w = gen.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    return aligned_copy(w, dtype)
