"""Name the mistake behind a wrong gradient.

A wrong gradient ``got`` is compared with transformations of the right one, ``expected``: its
transpose, its negative, a constant multiple (the factor fitted by least squares), the right
one with an all-ones upstream gradient, the gradients a student making a known mistake would
get (from :mod:`.walk`, each with its own message), those of swapped arguments (another
input's gradient, or this one's with two inputs exchanged), and, when the shapes differ, the
right one with a broadcast or batch axis not summed. The first that matches names the
mistake; :data:`DIAGNOSES` lists the names, stable strings to match on
(``report.diagnosis.kind == "transposed"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..engine.backprop import unbroadcast

#: Every diagnosis kind, with what it means.
DIAGNOSES: dict[str, str] = {
    "transposed": "the gradient is the transpose of the right one",
    "sign_flipped": "the gradient has the wrong sign",
    "scaled": "the gradient is the right one times a constant factor, named in the message "
    "(N, the batch size: N times too large, summed where the mean was needed; 1/N: N times "
    "too small, divided by N once too often)",
    "not_summed": "a broadcast or batch axis was not summed away, so the shapes differ",
    "wrong_shape": "the gradient does not have its input's shape",
    "ignores_upstream": "the incoming gradient was ignored: right only for an all-ones upstream",
    "derivative_at_output": "the activation's derivative was evaluated at its output a instead "
    "of its input z (s'(a) for s'(z), or 1 - tanh^2(a) for 1 - tanh^2(z))",
    "output_formula_at_input": "the derivative in terms of the output (sigmoid: a (1 - a), "
    "tanh: 1 - a^2) was applied to the input z",
    "missing_factor": "a factor of the local derivative is missing, named in the message (the "
    "sigmoid's (1 - s) or s, the tanh's 1 - a^2)",
    "swapped": "the gradient of one input is that of another: two arguments were exchanged",
    "writes_upstream": "wrote into the incoming gradient g in place: the engine hands the same "
    "array to other ops (Add gives it to both branches), so their gradients change",
    "writes_input": "wrote into an input (or an array saved for backward) in place: the "
    "caller's values change",
    "overwritten": "`=` instead of `+=`: a value used more than once kept only one of its "
    "gradient contributions",
    "wrong_count": "the wrong number of gradients was returned",
    "wrong_dtype": "a gradient's dtype is not its input's",
    "missing": "None was returned where a gradient was needed",
    "not_an_array": "something other than a numeric array was returned",
    "not_finite": "the gradient holds NaN or infinity",
    "raised": "the code raised an exception",
    "not_written": "the function still raises NotImplementedError: it is not written yet",
    "timeout": "the code did not finish within its time limit",
    "crashed": "the process running the code died",
    "second_derivative": "the first derivative is right, but differentiating the backward again "
    "(create_graph) fails or gives a wrong second derivative: it must use only the saved inputs "
    "and output, with operations Tensors have too",
    "wrong_derivative": "a wrong derivative, none of the known mistakes",
    "wrong_value": "a forward value (not a gradient) is wrong",
    "unstable": "right for moderate inputs, but overflows (NaN or inf) for large ones",
    "not_trained": "the network trained with the student's code did not reach its accuracy",
    "not_run": "the part was not run: a part it needs failed, or its data is missing",
}


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong: ``kind`` (a key of :data:`DIAGNOSES`), a human ``message``, and for
    ``scaled`` the ``factor``."""

    kind: str
    message: str
    factor: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Tolerance:
    """|got - expected| <= atol * max(1, max |expected|) + rtol |expected|, elementwise."""

    rtol: float = 1e-6
    atol: float = 1e-9

    def close(self, got: np.ndarray, expected: np.ndarray) -> bool:
        if np.shape(got) != np.shape(expected):
            return False
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        return bool(np.allclose(got, expected, rtol=self.rtol, atol=self.atol * scale))


EXACT = Tolerance()  # analytic against analytic
NUMERIC = Tolerance(rtol=1e-4, atol=1e-6)  # analytic against central differences


@dataclass(frozen=True)
class Candidate:
    """The gradient a student making a known mistake would get, and the ``message`` that names
    the mistake in this case (the activation involved, the factor left out...)."""

    values: np.ndarray
    message: str


@dataclass
class Clues:
    """What else a diagnosis may compare with, each computed only when asked for.

    ``with_ones()``: (the right gradient, the student's) for an all-ones upstream gradient;
    ``variants()``: mistake kind -> the gradients a student making it would get (arrays, or
    :class:`Candidate` s with their own message);
    ``batch_sizes``: the leading sizes of the inputs, to name a factor N;
    ``swapped()``: across inputs, the right gradients of the other inputs of this one's shape,
    and this input's right gradient with two inputs exchanged.
    """

    with_ones: Callable[[], tuple[Any, Any]] | None = None
    variants: Callable[[], dict[str, list[np.ndarray | Candidate]]] | None = None
    batch_sizes: Sequence[int] = field(default_factory=tuple)
    swapped: Callable[[], list[Candidate]] | None = None


@dataclass(frozen=True)
class Worst:
    """The worst element: its index, the right value, the student's, their relative error."""

    index: tuple[int, ...]
    expected: float
    got: float
    relative_error: float

    def __str__(self) -> str:
        return (
            f"worst element {list(self.index)}: expected {self.expected:.6g}, got {self.got:.6g} "
            f"(relative error {self.relative_error:.3g})"
        )


def worst_element(got: np.ndarray, expected: np.ndarray) -> Worst | None:
    """The element where ``got`` is furthest from ``expected`` (None if the shapes differ)."""
    if np.shape(got) != np.shape(expected) or np.size(expected) == 0:
        return None
    scale = max(1.0, float(np.max(np.abs(expected))))
    err = np.abs(got - expected)
    badness = np.where(np.isfinite(err), err / (scale * 1e-9 + np.abs(expected)), np.inf)
    index = np.unravel_index(int(np.argmax(badness)), np.shape(expected))
    e, g = float(expected[index]), float(got[index])
    rel = abs(g - e) / abs(e) if e else abs(g - e)
    return Worst(tuple(int(i) for i in index), e, g, rel)


def diagnose(
    got: Any,
    expected: np.ndarray,
    tol: Tolerance = EXACT,
    clues: Clues | None = None,
    fallback: str = "wrong_derivative",
) -> Diagnosis | None:
    """None if ``got`` is right, else what is wrong with it; ``fallback`` is the kind when no
    known mistake explains it (``wrong_value`` for a forward value)."""
    clues = clues or Clues()
    early = _not_an_answer(got)
    if early is not None:
        return early
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return _shape_mismatch(got, expected, tol)
    if tol.close(got, expected):
        return None
    checks = (_transposed, _sign_flipped, _ignores_upstream, _known_mistake, _swapped, _scaled)
    for check in checks:
        found = check(got, expected, tol, clues)
        if found is not None:
            return found
    w = worst_element(got, expected)
    what = "a wrong derivative" if fallback == "wrong_derivative" else "wrong values"
    return Diagnosis(fallback, f"{what}: {w}")


def _not_an_answer(got: Any) -> Diagnosis | None:
    if got is None:
        return Diagnosis("missing", "returned None where a gradient was needed")
    if isinstance(got, tuple | list) and got and all(isinstance(a, np.ndarray) for a in got):
        return Diagnosis("wrong_count", f"returned {len(got)} arrays where one was expected")
    try:
        arr = np.asarray(got)
    except Exception as e:
        return Diagnosis("not_an_array", f"returned {type(got).__name__}, not an array ({e})")
    if arr.dtype.kind not in "biuf":
        what = type(got).__name__ if arr.dtype == object else f"an array of dtype {arr.dtype}"
        return Diagnosis("not_an_array", f"returned {what}, not a numeric array")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        return Diagnosis("not_finite", f"{bad} of {arr.size} elements are NaN or infinite")
    return None


def _shape_mismatch(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> Diagnosis:
    if expected.ndim == 2 and got.shape == expected.T.shape and tol.close(got.T, expected):
        return Diagnosis("transposed", f"shape {got.shape} is the transpose of {expected.shape}")
    try:
        reducible = np.broadcast_shapes(got.shape, expected.shape) == got.shape
    except ValueError:
        reducible = False
    if reducible:
        axes = _broadcast_axes(got.shape, expected.shape)
        values = (
            ""
            if tol.close(unbroadcast(got, expected.shape), expected)
            else ("; even summed, the values are wrong")
        )
        return Diagnosis(
            "not_summed",
            f"shape {got.shape} for an input of shape {expected.shape}: the gradient was not "
            f"summed over axis {', '.join(map(str, axes))} (the broadcast or batch axis){values}",
        )
    return Diagnosis("wrong_shape", f"shape {got.shape}, but the input's is {expected.shape}")


def _broadcast_axes(big: tuple[int, ...], small: tuple[int, ...]) -> list[int]:
    extra = len(big) - len(small)
    return list(range(extra)) + [
        extra + i for i, n in enumerate(small) if n == 1 and big[extra + i] != 1
    ]


def _transposed(got: np.ndarray, expected: np.ndarray, tol: Tolerance, _: Clues) -> Any:
    square = expected.ndim == 2 and expected.shape[0] == expected.shape[1]
    if square and not tol.close(expected.T, expected) and tol.close(got, expected.T):
        return Diagnosis("transposed", "the values are those of the right gradient, transposed")
    return None


def _sign_flipped(got: np.ndarray, expected: np.ndarray, tol: Tolerance, _: Clues) -> Any:
    if tol.close(-got, expected):
        return Diagnosis("sign_flipped", "every element has the right size but the wrong sign")
    return None


def _ignores_upstream(got: np.ndarray, expected: np.ndarray, tol: Tolerance, c: Clues) -> Any:
    if c.with_ones is None:
        return None
    expected_ones, got_ones = c.with_ones()
    if expected_ones is None or got_ones is None:
        return None
    got_ones = np.asarray(got_ones, dtype=np.float64)
    if tol.close(got, expected_ones) and tol.close(got_ones, expected_ones):
        return Diagnosis(
            "ignores_upstream",
            "right for an all-ones upstream gradient, wrong for a random one: multiply by the "
            "incoming gradient",
        )
    return None


def _known_mistake(got: np.ndarray, expected: np.ndarray, tol: Tolerance, c: Clues) -> Any:
    if c.variants is None:
        return None
    for kind, candidates in c.variants().items():
        for cand in candidates:
            values = cand.values if isinstance(cand, Candidate) else cand
            if tol.close(got, values) and not tol.close(values, expected):
                message = cand.message if isinstance(cand, Candidate) else DIAGNOSES[kind]
                return Diagnosis(kind, message)
    return None


def _swapped(got: np.ndarray, expected: np.ndarray, tol: Tolerance, c: Clues) -> Any:
    for cand in c.swapped() if c.swapped is not None else ():
        if tol.close(got, cand.values) and not tol.close(cand.values, expected):
            return Diagnosis("swapped", cand.message)
    return None


def _scaled(got: np.ndarray, expected: np.ndarray, tol: Tolerance, c: Clues) -> Any:
    norm = float(np.vdot(expected, expected))
    if norm == 0:
        return None
    factor = float(np.vdot(got, expected)) / norm
    if abs(factor) < 1e-12 or not tol.close(got, factor * expected):
        return None
    if expected.size == 1 and not _is_batch_factor(factor, c.batch_sizes):
        return None  # any number is a multiple of another: only a factor N says something
    return Diagnosis("scaled", _name_factor(factor, c.batch_sizes), factor)


def _is_batch_factor(factor: float, batch_sizes: Sequence[int]) -> bool:
    return any(
        n > 1 and (abs(factor - n) < 1e-6 * n or abs(factor * n - 1) < 1e-6) for n in batch_sizes
    )


def _name_factor(factor: float, batch_sizes: Sequence[int]) -> str:
    """'scaled by 8 = N ...' for a factor that is a batch size (or 1/N), saying which way the
    gradient is off; else the factor itself."""
    nice = Fraction(factor).limit_denominator(64)
    shown = str(nice) if abs(float(nice) - factor) < 1e-6 * abs(factor) else f"{factor:.6g}"
    for n in sorted(set(batch_sizes), reverse=True):
        if n > 1 and abs(factor - n) < 1e-6 * n:
            return (
                f"scaled by {n} = N, the batch size: {n} times too large, summed over the batch "
                "where the mean was needed (the 1/N is missing)"
            )
        if n > 1 and abs(factor * n - 1) < 1e-6:
            return (
                f"scaled by 1/{n} = 1/N: {n} times too small, divided by N once too often "
                "(or averaged over the batch where a sum was needed)"
            )
    return f"scaled by a constant factor {shown}"
