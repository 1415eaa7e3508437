"""Check a student's gradients against a reference written with tinygrad_edu ops.

* :func:`check_vjp`: a backward function ``backward(grad_out, *arrays)`` against the reference
  ``forward(*tensors)``, for random inputs and random upstream gradients;
* :func:`check_gradients`: hand-derived gradients of a scalar loss, ``by_hand(*arrays)``,
  against the reference ``loss(*tensors)``.

Both run several random trials in float64 with inputs drawn away from kinks, compare exactly
(up to rounding) with the reference's own backward, and diagnose a wrong gradient by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..engine.function import no_grad
from ..engine.tensor import Tensor
from .diagnose import EXACT, Clues, Tolerance, diagnose
from .inputs import away_from_kinks, draw_valid, float_names, leaves
from .report import CheckReport, InputResult
from .student import StudentError, as_gradients, as_named, call, name_of
from .walk import ACTIVATION_MISTAKES, has_op, reference_grads, reused

__all__ = ["check_gradients", "check_vjp", "mistake_variants"]


def check_vjp(
    backward: Callable[..., Any],
    forward: Callable[..., Tensor],
    inputs: Mapping[str, Any],
    *,
    trials: int = 3,
    seed: int = 0,
    tol: Tolerance = EXACT,
) -> CheckReport:
    """Check ``backward(grad_out, *arrays) -> gradient of each input`` (one array, or a tuple
    in input order) against the vector-Jacobian products of ``forward(*tensors) -> Tensor``.

    ``inputs``: name -> shape (random float64 values each trial) or name -> array (as given;
    integer arrays are not differentiated). Each trial draws a random upstream gradient."""
    spec, report = dict(inputs), CheckReport(f"check_vjp({name_of(backward)})", trials=trials)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        if not _vjp_trial(report, trial, backward, forward, spec, rng, tol):
            break
    return report


def _vjp_trial(
    report: CheckReport,
    trial: int,
    backward: Callable[..., Any],
    forward: Callable[..., Tensor],
    spec: dict[str, Any],
    rng: np.random.Generator,
    tol: Tolerance,
) -> bool:
    """One trial of check_vjp: random inputs and upstream gradient; False if it failed."""
    names = float_names(spec)
    arrays = draw_valid(spec, rng, forward)
    xs = leaves(spec, arrays)
    out = _reference(forward, xs)
    wanted = [x for x in xs if x.requires_grad]
    upstream = away_from_kinks(rng, out.shape)

    def student(g: np.ndarray) -> list[Any]:
        answer = call(backward, g.copy(), *[a.copy() for a in arrays])
        return as_gradients(answer, names, list(spec), name_of(backward))

    moved = functools.partial(moved_input_variants, forward, spec, arrays, upstream)
    clues = _clues(out, wanted, upstream, arrays, lambda: student(np.ones(out.shape)), moved)
    got = lambda: student(upstream)  # noqa: E731
    return _compare(report, trial, names, out, wanted, upstream, got, tol, clues)


def check_gradients(
    by_hand: Callable[..., Any],
    loss: Callable[..., Tensor],
    inputs: Mapping[str, Any],
    wrt: list[str] | None = None,
    *,
    trials: int = 3,
    seed: int = 0,
    tol: Tolerance = EXACT,
) -> CheckReport:
    """Check ``by_hand(*arrays)`` (a dict name -> gradient, or a tuple in ``wrt`` order)
    against the gradients of the scalar reference ``loss(*tensors)`` with respect to ``wrt``
    (default: every float input)."""
    spec = dict(inputs)
    wrt = list(wrt) if wrt is not None else float_names(spec)
    unknown = [n for n in wrt if n not in float_names(spec)]
    if unknown:
        raise ValueError(f"check_gradients: wrt names no float input: {unknown}")
    report = CheckReport(f"check_gradients({name_of(by_hand)})", trials=trials)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        if not _gradients_trial(report, trial, by_hand, loss, spec, wrt, rng, tol):
            break
    return report


def _gradients_trial(
    report: CheckReport,
    trial: int,
    by_hand: Callable[..., Any],
    loss: Callable[..., Tensor],
    spec: dict[str, Any],
    wrt: list[str],
    rng: np.random.Generator,
    tol: Tolerance,
) -> bool:
    """One trial of check_gradients at random inputs; False if it failed."""
    arrays = draw_valid(spec, rng, loss)
    xs = leaves(spec, arrays)
    out = _reference(loss, xs)
    if out.size != 1:
        raise ValueError(f"check_gradients: the loss must be a scalar, got shape {out.shape}")
    wanted = sorted((x for x in xs if x.name in wrt), key=lambda x: wrt.index(x.name))

    def student() -> list[Any]:
        answer = call(by_hand, *[a.copy() for a in arrays])
        return as_named(answer, wrt, name_of(by_hand))

    one = np.ones(out.shape)
    clues = _clues(out, wanted, one, arrays, None)
    return _compare(report, trial, wrt, out, wanted, one, student, tol, clues)


def _reference(forward: Callable[..., Tensor], xs: list[Tensor]) -> Tensor:
    out = forward(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"check: the reference must return a Tensor, got {type(out).__name__}")
    if not out.requires_grad:
        raise ValueError("check: the reference's output does not depend on any float input")
    return out


def _compare(
    report: CheckReport,
    trial: int,
    names: list[str],
    out: Tensor,
    wanted: list[Tensor],
    upstream: np.ndarray,
    student: Callable[[], list[Any]],
    tol: Tolerance,
    clues: Clues,
) -> bool:
    """Fill ``report`` with this trial's results; False if the trial failed."""
    try:
        got = student()
    except StudentError as e:
        report.error, report.failed_trial = e.diagnosis, trial
        return False
    expected = reference_grads(out, wanted, upstream)
    report.results = {
        n: InputResult(n, e, g, diagnose(g, e, tol, _for_input(clues, i)))
        for i, (n, e, g) in enumerate(zip(names, expected, got, strict=True))
    }
    if not report.passed:
        report.failed_trial = trial
    return report.passed


def _clues(
    out: Tensor,
    wanted: list[Tensor],
    upstream: np.ndarray,
    arrays: list[np.ndarray],
    student_with_ones: Callable[[], list[Any]] | None,
    moved: Callable[[], list[dict[str, list[np.ndarray]]]] | None = None,
) -> Clues:
    """Clues for every input at once (``_for_input`` picks one input's), computed on demand."""

    @functools.cache
    def with_ones() -> tuple[list, list]:
        expected = reference_grads(out, wanted, np.ones(out.shape))
        try:
            got = student_with_ones() if student_with_ones else [None] * len(wanted)
        except StudentError:
            got = [None] * len(wanted)
        return expected, got

    @functools.cache
    def variants() -> list[dict[str, list[np.ndarray]]]:
        found = mistake_variants(out, wanted, upstream)
        for mine, more in zip(found, moved() if moved else [], strict=False):
            for kind, candidates in more.items():
                mine.setdefault(kind, []).extend(candidates)
        return found

    sizes = tuple(a.shape[0] for a in arrays if a.ndim >= 2)
    return Clues(with_ones if student_with_ones else None, variants, sizes)  # type: ignore[arg-type]


def _for_input(clues: Clues, i: int) -> Clues:
    both = clues.with_ones
    many = clues.variants
    return Clues(
        (lambda: (both()[0][i], both()[1][i])) if both else None,  # type: ignore[index]
        (lambda: many()[i]) if many else None,  # type: ignore[index]
        clues.batch_sizes,
    )


def mistake_variants(
    out: Tensor, wanted: list[Tensor], upstream: np.ndarray
) -> list[dict[str, list[np.ndarray]]]:
    """For each wanted tensor: mistake kind -> the gradients a student making it would get
    (the activation mistakes where the graph has a sigmoid or tanh, and ``=`` for ``+=`` at
    every tensor used more than once)."""
    found: list[dict[str, list[np.ndarray]]] = [{} for _ in wanted]
    with no_grad():
        for kind, override in ACTIVATION_MISTAKES.items():
            if has_op(out, list(override)):
                for i, g in enumerate(reference_grads(out, wanted, upstream, override)):
                    found[i].setdefault(kind, []).append(g)
        for node, uses in reused(out):
            for k in range(uses):
                grads = reference_grads(out, wanted, upstream, keep_only=(node, k))
                for i, g in enumerate(grads):
                    found[i].setdefault("overwritten", []).append(g)
    return found


def moved_input_variants(
    forward: Callable[..., Tensor],
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    upstream: np.ndarray,
) -> list[dict[str, list[np.ndarray]]]:
    """For each float input x: the reference's gradient evaluated with x replaced by s(x) and
    by tanh(x), what a derivative taken at the activation's output gives (for references that
    write the activation out, e.g. ``1 / (1 + (-z).exp())``)."""
    names = float_names(spec)
    found: list[dict[str, list[np.ndarray]]] = [{} for _ in names]
    for i, name in enumerate(names):
        k = list(spec).index(name)
        for act in (lambda x: 1 / (1 + np.exp(-x)), np.tanh):
            moved = [act(a) if j == k else a for j, a in enumerate(arrays)]
            try:
                with np.errstate(all="ignore"):
                    xs = leaves(spec, moved)
                    out = forward(*xs)
                    grads = reference_grads(out, [x for x in xs if x.requires_grad], upstream)
            except (ValueError, TypeError, ArithmeticError):
                continue
            found[i].setdefault("derivative_at_output", []).append(grads[i])
    return found
