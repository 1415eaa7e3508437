"""Check a student's gradients against a reference written with tinygrad_edu ops.

* :func:`check_vjp`: a backward function ``backward(grad_out, *arrays)`` against the reference
  ``forward(*tensors)``, for random inputs and random upstream gradients;
* :func:`check_gradients`: hand-derived gradients of a scalar loss, ``by_hand(*arrays)``,
  against the reference ``loss(*tensors)``.

Both run several random trials in float64 with inputs drawn away from kinks, compare exactly
(up to rounding) with the reference's own backward, and diagnose a wrong gradient by name. The
draws come from a fresh seed on each call (``seed=None``), kept in the report so that a failure
can be replayed with ``seed=report.seed``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..engine.function import no_grad
from ..engine.tensor import Tensor
from .diagnose import DIAGNOSES, EXACT, Candidate, Clues, Tolerance, diagnose
from .inputs import (
    away_from_kinks,
    checked_callable,
    checked_spec,
    checked_trials,
    draw_valid,
    float_names,
    leaves,
    resolve_seed,
)
from .report import CheckReport, InputResult
from .student import StudentError, as_gradients, as_named, call, call_backward, name_of, read_only
from .walk import ACTIVATION_MISTAKES, activation_message, op_types, reference_grads, reused

__all__ = ["check_gradients", "check_vjp", "mistake_variants"]


def check_vjp(
    backward: Callable[..., Any],
    forward: Callable[..., Tensor],
    inputs: Mapping[str, Any],
    *,
    trials: int = 3,
    seed: int | None = None,
    tol: Tolerance = EXACT,
) -> CheckReport:
    """Check ``backward(grad_out, *arrays) -> gradient of each input`` (one array, or a tuple
    in input order) against the vector-Jacobian products of ``forward(*tensors) -> Tensor``.

    ``inputs``: name -> shape (random float64 values each trial) or name -> array (as given;
    integer arrays are not differentiated). Each trial draws a random upstream gradient. The
    backward gets read-only arrays: writing into g or an input in place is a mistake inside
    the engine (``writes_upstream``, ``writes_input``). ``seed``: None for fresh draws."""
    checked_callable("check_vjp", "backward", backward)
    checked_callable("check_vjp", "forward", forward)
    spec, trials = checked_spec("check_vjp", inputs), checked_trials("check_vjp", trials)
    seed = resolve_seed(seed, "check_vjp")
    report = CheckReport(f"check_vjp({name_of(backward)})", trials=trials, seed=seed)
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

    def run(g: np.ndarray, inputs_read_only: bool) -> Any:
        prepare = read_only if inputs_read_only else np.copy
        return backward(g, *[prepare(a) for a in arrays])

    def student(g: np.ndarray) -> list[Any]:
        answer = call_backward(run, g, name_of(backward))
        return as_gradients(answer, names, list(spec), name_of(backward))

    moved = functools.partial(moved_input_variants, forward, spec, arrays, upstream)
    swapped = functools.partial(swapped_variants, forward, spec, arrays, names, upstream)
    clues = _clues(
        out, wanted, upstream, arrays, lambda: student(np.ones(out.shape)), moved, swapped
    )
    got = lambda: student(upstream)  # noqa: E731
    return _compare(report, trial, names, out, wanted, upstream, got, tol, clues)


def check_gradients(
    by_hand: Callable[..., Any],
    loss: Callable[..., Tensor],
    inputs: Mapping[str, Any],
    wrt: list[str] | None = None,
    *,
    trials: int = 3,
    seed: int | None = None,
    tol: Tolerance = EXACT,
) -> CheckReport:
    """Check ``by_hand(*arrays)`` (a dict name -> gradient, or a tuple in ``wrt`` order)
    against the gradients of the scalar reference ``loss(*tensors)`` with respect to ``wrt``
    (default: every float input). ``seed``: None for fresh draws."""
    checked_callable("check_gradients", "by_hand", by_hand)
    checked_callable("check_gradients", "loss", loss)
    spec = checked_spec("check_gradients", inputs)
    trials = checked_trials("check_gradients", trials)
    wrt = list(wrt) if wrt is not None else float_names(spec)
    if not wrt:
        raise ValueError("check_gradients: wrt is empty: name the inputs to check (or None)")
    unknown = [n for n in wrt if n not in float_names(spec)]
    if unknown:
        raise ValueError(f"check_gradients: wrt names no float input: {unknown}")
    seed = resolve_seed(seed, "check_gradients")
    report = CheckReport(f"check_gradients({name_of(by_hand)})", trials=trials, seed=seed)
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
    swapped = functools.partial(swapped_variants, loss, spec, arrays, wrt, one)
    clues = _clues(out, wanted, one, arrays, None, swapped=swapped)
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
    moved: Callable[[], list[dict[str, list[Candidate]]]] | None = None,
    swapped: Callable[[], list[list[Candidate]]] | None = None,
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
    def variants() -> list[dict[str, list[Candidate]]]:
        found = mistake_variants(out, wanted, upstream)
        for mine, more in zip(found, moved() if moved else [], strict=False):
            for kind, candidates in more.items():
                mine.setdefault(kind, []).extend(candidates)
        return found

    sizes = tuple(a.shape[0] for a in arrays if a.ndim >= 2)
    ones = with_ones if student_with_ones else None
    exchanged = functools.cache(swapped) if swapped else None
    return Clues(ones, variants, sizes, exchanged)  # type: ignore[arg-type]


def _for_input(clues: Clues, i: int) -> Clues:
    both, many, exchanged = clues.with_ones, clues.variants, clues.swapped
    return Clues(
        (lambda: (both()[0][i], both()[1][i])) if both else None,  # type: ignore[index]
        (lambda: many()[i]) if many else None,  # type: ignore[index]
        clues.batch_sizes,
        (lambda: exchanged()[i]) if exchanged else None,  # type: ignore[index]
    )


def mistake_variants(
    out: Tensor,
    wanted: list[Tensor],
    upstream: np.ndarray,
    replace: Sequence[tuple[Tensor, np.ndarray]] = (),
) -> list[dict[str, list[Candidate]]]:
    """For each wanted tensor: mistake kind -> the gradients a student making it would get,
    each with its message (the activation mistakes of each sigmoid or tanh in the graph, and
    ``=`` for ``+=`` at every tensor used more than once). ``replace``: the walk sends these
    values on instead of its own (a whole pass: the student's own upstream gradients)."""
    found: list[dict[str, list[Candidate]]] = [{} for _ in wanted]
    present = op_types(out)
    with no_grad():
        for mistake in (m for m in ACTIVATION_MISTAKES if m.op in present):
            override = {mistake.op: mistake.backward}
            grads = reference_grads(out, wanted, upstream, override, replace=replace)
            for i, g in enumerate(grads):
                found[i].setdefault(mistake.kind, []).append(Candidate(g, mistake.message))
        for node, uses in reused(out):
            for k in range(uses):
                grads = reference_grads(out, wanted, upstream, keep_only=(node, k), replace=replace)
                for i, g in enumerate(grads):
                    message = DIAGNOSES["overwritten"]
                    found[i].setdefault("overwritten", []).append(Candidate(g, message))
    return found


def _reference_at(
    forward: Callable[..., Tensor],
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    names: list[str],
    upstream: np.ndarray,
) -> list[np.ndarray] | None:
    """The reference's gradients with respect to ``names`` at ``arrays`` (None where it
    cannot be evaluated there, or its output changes shape)."""
    try:
        with np.errstate(all="ignore"):
            xs = leaves(spec, arrays)
            out = forward(*xs)
            if not isinstance(out, Tensor) or not out.requires_grad or out.shape != upstream.shape:
                return None
            wanted = sorted((x for x in xs if x.name in names), key=lambda x: names.index(x.name))
            return reference_grads(out, wanted, upstream)
    except (ValueError, TypeError, ArithmeticError):
        return None


def moved_input_variants(
    forward: Callable[..., Tensor],
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    upstream: np.ndarray,
) -> list[dict[str, list[Candidate]]]:
    """For each float input x: the reference's gradient evaluated with x replaced by s(x) and
    by tanh(x), what a derivative taken at the activation's output gives (for references that
    write the activation out, e.g. ``1 / (1 + (-z).exp())``)."""
    names = float_names(spec)
    found: list[dict[str, list[Candidate]]] = [{} for _ in names]
    activations = (("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("tanh", np.tanh))
    for i, name in enumerate(names):
        k = list(spec).index(name)
        for activation, act in activations:
            moved = [act(a) if j == k else a for j, a in enumerate(arrays)]
            grads = _reference_at(forward, spec, moved, names, upstream)
            if grads is not None:
                message = activation_message("derivative_at_output", activation)
                found[i].setdefault("derivative_at_output", []).append(Candidate(grads[i], message))
    return found


def swapped_variants(
    forward: Callable[..., Tensor],
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    names: list[str],
    upstream: np.ndarray,
) -> list[list[Candidate]]:
    """For each checked input x: the right gradients of the other checked inputs of x's shape,
    and x's right gradient with x and another float input of its shape exchanged (what
    swapped arguments give)."""
    right = _reference_at(forward, spec, arrays, names, upstream)
    found: list[list[Candidate]] = [[] for _ in names]
    keys = list(spec)
    for i, n in enumerate(names):
        for j, m in enumerate(names):
            if right is not None and j != i and right[j].shape == right[i].shape:
                message = f"it is the gradient of {m}, not of {n}: the two were swapped"
                found[i].append(Candidate(right[j], message))
        for m in float_names(spec):
            a, b = keys.index(n), keys.index(m)
            if m == n or arrays[a].shape != arrays[b].shape:
                continue
            moved = list(arrays)
            moved[a], moved[b] = arrays[b], arrays[a]
            grads = _reference_at(forward, spec, moved, names, upstream)
            if grads is not None:
                message = (
                    f"it is the gradient of {n} with {n} and {m} exchanged: the arguments of "
                    "the formula were swapped"
                )
                found[i].append(Candidate(grads[i], message))
    return found
