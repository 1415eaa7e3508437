"""Hypothesis strategies shared by the engine tests: shapes, broadcast and matmul shape pairs,
float64 arrays kept away from kinks and overflow, tie-free arrays for max, and axes.

Sizes are kept small (sides 1-5, at most 4 dims) because every property test runs a full
Jacobian check: one backward per output element and two forwards per input element.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIZE = 150  # elements per array: keeps a full Jacobian check in milliseconds

Shape = tuple[int, ...]


def _small(shape: Shape) -> bool:
    return math.prod(shape) <= MAX_SIZE


# --------------------------------------------------------------------------- shapes
def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Array shapes with 0-4 dims and sides 1-5 (at most MAX_SIZE elements)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).filter(_small)


def broadcastable_pairs(max_dims: int = 4, max_side: int = 4):
    """Pairs of shapes that broadcast together: ((2, 1, 3), (4, 3)), ((), (2,)), ..."""
    return (
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
        )
        .filter(lambda b: _small(b.result_shape))
        .map(lambda b: tuple(b.input_shapes))
    )


MATMUL_KINDS = (
    "2d@2d",
    "1d@2d",
    "2d@1d",
    "1d@1d",
    "nd@nd",  # batched, with broadcast batch dims
    "nd@2d",
    "2d@nd",
    "nd@1d",
    "1d@nd",
)


@st.composite
def matmul_pairs(draw: Any, kinds: tuple[str, ...] = MATMUL_KINDS) -> tuple[Shape, Shape]:
    """Shape pairs (a, b) valid for ``a @ b``, covering every numpy matmul case."""
    kind = draw(st.sampled_from(kinds))
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=3)
    ).input_shapes
    if kind.endswith("@nd") and not kind.startswith("nd"):
        batch_a, batch_b = (), batch_b or (2,)
    if kind.startswith("nd") and not kind.endswith("@nd"):
        batch_a, batch_b = batch_a or (2,), ()
    if kind == "nd@nd":
        # at least one side really batched, so this is not just 2d@2d again
        batch_a = batch_a or (2,)
    left = {"1d": (k,), "2d": (m, k), "nd": (*batch_a, m, k)}[kind[:2]]
    right = {"1d": (k,), "2d": (k, n), "nd": (*batch_b, k, n)}[kind[-2:]]
    return left, right


# --------------------------------------------------------------------------- values
def _floats(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def magnitudes(lo: float = 1e-300, hi: float = 1e6):
    """Positive floats from ``lo`` to ``hi``, spread evenly over the orders of magnitude (losses,
    probabilities: printed numbers of every size)."""
    return _floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)


def arrays(shape: Any, lo: float = -3.0, hi: float = 3.0):
    """float64 arrays with values in [lo, hi] (``shape`` is a shape or a shape strategy)."""
    return hnp.arrays(np.float64, shape, elements=_floats(lo, hi))


@st.composite
def away_from_zero(draw: Any, shape: Any, lo: float = 0.1, hi: float = 3.0) -> np.ndarray:
    """float64 arrays with |x| in [lo, hi] and a random sign: no element near the kink at 0
    (relu, abs-like ops) or near a pole (denominators)."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    magnitude = draw(hnp.arrays(np.float64, shape, elements=_floats(lo, hi)))
    sign = draw(hnp.arrays(np.bool_, shape))
    return np.where(sign, magnitude, -magnitude)


def positive(shape: Any, lo: float = 0.5, hi: float = 3.0):
    """float64 arrays in [lo, hi]: inside the domain of log, sqrt and pow bases."""
    return arrays(shape, lo, hi)


@st.composite
def distinct(draw: Any, shape: Any, gap: float = 0.25) -> np.ndarray:
    """float64 arrays whose values are pairwise at least ``gap`` apart: no ties for max,
    and no finite-difference step (eps = 1e-6) can change which element is the maximum."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    size = math.prod(shape)
    order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
    offset = draw(_floats(-2.0, 2.0))
    scale = draw(st.sampled_from([1.0, -1.0])) * draw(_floats(1.0, 2.0))
    return ((order - size / 2) * gap * scale + offset).reshape(shape)


@st.composite
def with_ties(draw: Any, shape: Any) -> np.ndarray:
    """float64 arrays drawn from a handful of well-separated values, so maxima are often tied."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    return draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.5, 0.0, 0.5, 2.0])))


@st.composite
def logits_and_labels(draw: Any, max_rows: int = 5, max_classes: int = 5) -> tuple[Any, Any]:
    """Logits (N, C) in [-3, 3] and N integer labels in [0, C)."""
    n, c = draw(st.integers(1, max_rows)), draw(st.integers(1, max_classes))
    logits = draw(arrays((n, c)))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return logits, labels


# --------------------------------------------------------------------------- axes
def axis(ndim: int, allow_none: bool = True):
    """One axis of an ndim-array, as a non-negative or negative int (or None)."""
    ints = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    return st.none() | ints if allow_none else ints


@st.composite
def axes(draw: Any, ndim: int) -> int | tuple[int, ...] | None:
    """A reduction axis: None, an int, or a tuple of distinct axes (some negative, maybe empty)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(axis(ndim, allow_none=False))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


@st.composite
def permutations_of(draw: Any, ndim: int) -> tuple[int, ...]:
    """A permutation of range(ndim), each axis written as non-negative or negative."""
    perm = draw(st.permutations(range(ndim)))
    return tuple(a - ndim if draw(st.booleans()) else a for a in perm)


@st.composite
def shape_and_axes(draw: Any, **shape_kwargs: Any) -> tuple[Shape, Any]:
    shape = draw(shapes(**shape_kwargs))
    return shape, draw(axes(len(shape)))


# --------------------------------------------------------------------------- networks
@st.composite
def mlp_batches(
    draw: Any, max_batch: int = 7, max_width: int = 6, max_classes: int = 5
) -> tuple[int, int, int, int, np.ndarray]:
    """(N, D, H, C, labels): a batch of N inputs of D features for a network with H hidden
    units and C >= 2 classes, and N integer labels in [0, C)."""
    n, d = draw(st.integers(1, max_batch)), draw(st.integers(1, max_width))
    h, c = draw(st.integers(1, max_width)), draw(st.integers(2, max_classes))
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return n, d, h, c, labels
