"""Check a user-defined op, a :class:`~tinygrad_edu.Function` subclass, against finite
differences: its backward (the number, shapes and dtypes of the gradients it returns, and their
values for random upstream gradients), the same with a broadcast input, its forward-mode rule
``jvp`` where it defines one, and its second derivative (its backward run on Tensors under
``create_graph``, against central differences of its first derivative). The backward gets
read-only arrays (g, what it saved, its inputs), so that a write in place, harmless on a copy
but wrong inside the engine, is named."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..autograd.reverse import grad
from ..engine.backprop import unbroadcast
from ..engine.function import Function, no_grad
from ..engine.tensor import Tensor
from ..gradcheck import central_differences
from .diagnose import NUMERIC, Candidate, Clues, Diagnosis, Tolerance, diagnose
from .inputs import (
    NoValidInputs,
    away_from_kinks,
    checked_spec,
    checked_trials,
    draw_valid,
    float_names,
    is_shape,
    leaves,
    resolve_seed,
)
from .report import CheckReport, InputResult
from .student import StudentError, as_gradients, call, call_as, call_backward, name_of
from .walk import activation_message

__all__ = ["check_function"]


def check_function(
    fn_class: type[Function],
    inputs: Mapping[str, Any],
    *,
    kwargs: Mapping[str, Any] | None = None,
    trials: int = 3,
    seed: int | None = None,
    eps: float = 1e-6,
    tol: Tolerance = NUMERIC,
    broadcast: bool = True,
    second_order: bool = True,
) -> CheckReport:
    """Check ``fn_class`` (applied as ``fn_class.apply(*tensors, **kwargs)``) on ``inputs``
    (name -> shape or array, as for ``check_vjp``). With ``broadcast`` and two or more float
    inputs, each trial also runs with the last one's leading axis dropped, if the op accepts it.
    ``second_order=False`` skips the second derivative (an op only ever differentiated once).
    ``seed``: None for fresh draws (the report keeps the seed used)."""
    if not (isinstance(fn_class, type) and issubclass(fn_class, Function)):
        raise TypeError(
            "check_function: fn_class must be a subclass of tinygrad_edu.Function (the class "
            f"itself, not an instance or a function), got {fn_class!r:.60}"
        )
    spec, trials = checked_spec("check_function", inputs), checked_trials("check_function", trials)
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"check_function: kwargs must be a dict, got {type(kwargs).__name__}")
    seed = resolve_seed(seed, "check_function")
    title = f"check_function({fn_class.__name__})"
    report = CheckReport(title, trials=trials, seed=seed)
    rng = np.random.default_rng(seed)

    def apply(*xs: Tensor) -> Tensor:
        return call(fn_class.apply, *xs, **dict(kwargs or {}))

    def jvp(ctx: Function, *tangents: Any) -> Any:
        return fn_class.jvp(ctx, *tangents, **dict(kwargs or {}))  # type: ignore[attr-defined]

    jvp.__qualname__ = f"{fn_class.__name__}.jvp"
    rule = jvp if getattr(fn_class, "jvp", None) is not None else None

    specs = [(spec, "")] + ([_broadcast_spec(spec)] if broadcast else [])
    for trial in range(trials):
        report.results = {}
        for variant, suffix in (s for s in specs if s is not None):
            try:
                arrays = draw_valid(variant, rng, apply)
                _check_once(report, fn_class, apply, rule, variant, arrays, rng, eps, tol, suffix)
                if second_order and report.passed:
                    second = _check_second_order(fn_class, apply, variant, arrays, rng, eps, tol)
                    report.results.update({k + suffix: r for k, r in second.items()})
            except StudentError as e:
                if suffix:  # the op does not accept broadcast inputs: nothing to check
                    continue
                report.error = e.diagnosis
            except NoValidInputs as e:
                report.error = Diagnosis("not_finite", f"{fn_class.__name__}: {e}")
            if not report.passed:
                report.failed_trial = trial
                return report
    return report


def _broadcast_spec(spec: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    names = [n for n in float_names(spec) if is_shape(spec[n])]
    if len(float_names(spec)) < 2 or not names:
        return None
    last = names[-1]
    shape = tuple(spec[last]) if isinstance(spec[last], tuple) else (spec[last],)
    smaller = shape[1:] if len(shape) >= 2 else (1,)
    return {**spec, last: smaller}, f" (broadcast {last}: {smaller})"


def _check_once(
    report: CheckReport,
    fn_class: type[Function],
    apply: Callable[..., Tensor],
    rule: Callable[..., Any] | None,
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    rng: np.random.Generator,
    eps: float,
    tol: Tolerance,
    suffix: str,
) -> None:
    names, xs = float_names(spec), leaves(spec, arrays)
    out = apply(*xs)
    if not isinstance(out, Tensor) or out._ctx is None:
        raise StudentError(Diagnosis("missing", f"{fn_class.__name__}.apply recorded no op"))
    ctx, upstream = out._ctx, away_from_kinks(rng, out.shape)
    who = f"{fn_class.__name__}.backward"

    def run(g: np.ndarray, inputs_read_only: bool) -> Any:
        if inputs_read_only:
            return type(ctx).backward(ctx, g)
        with _writeable(frozen):
            return type(ctx).backward(ctx, g)

    def backward(g: np.ndarray) -> list[Any]:
        answer = call_backward(run, g, who)
        return as_gradients(answer, names, list(spec), who)

    with _read_only(ctx) as frozen:
        got = backward(upstream)
        for i, name in enumerate(names):
            k = list(spec).index(name)
            sizes = tuple(a.shape[0] for a in arrays if a.ndim >= 2)
            expected = fd_vjp(apply, arrays, k, upstream, eps)
            clues = Clues(
                lambda k=k, i=i: (
                    fd_vjp(apply, arrays, k, np.ones(out.shape), eps),
                    _quiet(backward, np.ones(out.shape), i),
                ),
                lambda k=k: {"derivative_at_output": _at_outputs(apply, arrays, k, upstream, eps)},
                sizes,
            )
            g = _reduced(got[i], arrays[k].shape)
            found = diagnose(g, expected, tol, clues) or _dtype(got[i], arrays[k])
            report.results[name + suffix] = InputResult(name + suffix, expected, g, found)
        if rule is not None:
            result = _check_jvp(rule, apply, ctx, spec, arrays, rng, eps, tol)
            report.results["jvp" + suffix] = result


@contextlib.contextmanager
def _read_only(ctx: Function) -> Iterator[list[np.ndarray]]:
    """The arrays ``ctx`` saved and its inputs' arrays read-only for the time of the block, so
    that a backward writing into them raises (and is named); then writeable again. Yields the
    arrays it made read-only."""
    arrays = [*(ctx.saved or ()), *(p.data for p in ctx.parents)]
    frozen = [a for a in arrays if isinstance(a, np.ndarray) and a.flags.writeable]
    for a in frozen:
        a.flags.writeable = False
    try:
        yield frozen
    finally:
        for a in reversed(frozen):
            a.flags.writeable = True


@contextlib.contextmanager
def _writeable(frozen: list[np.ndarray]) -> Iterator[None]:
    """``frozen`` writeable again for the time of the block."""
    for a in reversed(frozen):
        a.flags.writeable = True
    try:
        yield
    finally:
        for a in frozen:
            a.flags.writeable = False


def _quiet(backward: Callable[[np.ndarray], list[Any]], g: np.ndarray, i: int) -> Any:
    try:
        return backward(g)[i]
    except StudentError:
        return None


def _reduced(g: Any, shape: tuple[int, ...]) -> Any:
    """g summed to ``shape`` where it has the broadcast shape (the engine sums it back)."""
    try:
        arr = np.asarray(g)
        reducible = arr.ndim >= len(shape) and np.broadcast_shapes(arr.shape, shape) == arr.shape
        if arr.dtype.kind in "biuf" and arr.shape != shape and reducible:
            return unbroadcast(arr, shape)
    except (TypeError, ValueError):
        pass
    return g


def _dtype(g: Any, x: np.ndarray) -> Diagnosis | None:
    dtype = np.asarray(g).dtype
    if dtype != x.dtype:
        return Diagnosis("wrong_dtype", f"the gradient is {dtype} for a {x.dtype} input")
    return None


def _value(apply: Callable[..., Tensor], arrays: list[np.ndarray]) -> np.ndarray:
    with no_grad():
        out = apply(*[Tensor(a, dtype=a.dtype) for a in arrays])
    return np.asarray(out.data, dtype=np.float64)


def fd_vjp(
    apply: Callable[..., Tensor], arrays: list[np.ndarray], k: int, g: np.ndarray, eps: float
) -> np.ndarray:
    """Central differences of <g, f(x)> with respect to input k: g^T J_k, in x_k's shape."""
    vjp = central_differences(lambda xs: np.vdot(g, _value(apply, xs)), arrays, k, eps)
    return vjp.reshape(arrays[k].shape)


def _at_outputs(
    apply: Callable[..., Tensor], arrays: list[np.ndarray], k: int, g: np.ndarray, eps: float
) -> list[Candidate]:
    """The VJP evaluated with input k replaced by s(x) and by tanh(x): what a derivative taken
    at the activation's output instead of its input gives."""
    found = []
    for name, act in (("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("tanh", np.tanh)):
        moved = [act(a) if i == k else a for i, a in enumerate(arrays)]
        with contextlib.suppress(StudentError):
            message = activation_message("derivative_at_output", name)
            found.append(Candidate(fd_vjp(apply, moved, k, g, eps), message))
    return found


def _check_jvp(
    rule: Callable[..., Any],
    apply: Callable[..., Tensor],
    ctx: Function,
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    rng: np.random.Generator,
    eps: float,
    tol: Tolerance,
) -> InputResult:
    """The tangent rule against (f(x + eps t) - f(x - eps t)) / (2 eps), random tangents t."""
    floats = set(float_names(spec))
    tangents = [
        rng.standard_normal(a.shape) if n in floats else None
        for n, a in zip(spec, arrays, strict=True)
    ]
    plus = [a + eps * t if t is not None else a for a, t in zip(arrays, tangents, strict=True)]
    minus = [a - eps * t if t is not None else a for a, t in zip(arrays, tangents, strict=True)]
    expected = (_value(apply, plus) - _value(apply, minus)) / (2 * eps)
    try:
        got = call(rule, ctx, *tangents)
        if got is None:
            why = "returned None: a tangent rule returns the output's tangent, J t"
            missing = Diagnosis("missing", f"{name_of(rule)} {why}")
            return InputResult("jvp", expected, None, missing)
        arr = np.asarray(got, dtype=np.float64)
        if arr.shape != expected.shape and np.broadcast_shapes(arr.shape, expected.shape) == (
            expected.shape
        ):
            got = np.broadcast_to(arr, expected.shape)
    except StudentError as e:
        return InputResult("jvp", expected, None, e.diagnosis)
    except (TypeError, ValueError):
        pass
    return InputResult("jvp", expected, got, diagnose(got, expected, tol, Clues()))


def _check_second_order(
    fn_class: type[Function],
    apply: Callable[..., Tensor],
    spec: dict[str, Any],
    arrays: list[np.ndarray],
    rng: np.random.Generator,
    eps: float,
    tol: Tolerance,
) -> dict[str, InputResult]:
    """d s / d x_j for s = sum_k <w_k, dL/dx_k>, dL/d(out) = v (random v, w): by backward through
    the first derivative's graph (the op's backward on Tensors, under create_graph) against
    central differences of s, computed with its first-order backward (already checked)."""
    names, spec_names = float_names(spec), list(spec)
    where = [spec_names.index(n) for n in names]
    v = away_from_kinks(rng, _value(apply, arrays).shape)
    w = [rng.standard_normal(arrays[k].shape) for k in where]

    def weighted(xs: list[np.ndarray], create_graph: bool) -> Any:
        tensors = leaves(spec, xs)
        firsts = _first_derivatives(apply, tensors, v, where, create_graph)
        s = sum((g * wk).sum() for g, wk in zip(firsts, w, strict=True) if g is not None)
        return s, [tensors[k] for k in where]

    who = f"{fn_class.__name__}.backward"
    try:
        s, xs = call_as(who, weighted, arrays, True)
        got = call_as(who, _gradients, s, xs)
    except StudentError as e:
        refused = isinstance(e.error, RuntimeError) and "create_graph=True" in str(e.error)
        message = str(e.error) if refused else f"differentiated again, {e.diagnosis.message}"
        failed = Diagnosis("second_derivative", message + ("" if refused else _HOW))
        key = f"{names[0]} (second order)"
        return {key: InputResult(key, None, None, failed)}
    results = {}
    for j, (name, k) in enumerate(zip(names, where, strict=True)):
        expected = central_differences(lambda xs: weighted(xs, False)[0], arrays, k, eps)
        expected = expected.reshape(arrays[k].shape)
        found = diagnose(got[j], expected, tol, Clues())
        if found is not None:
            why = f"{fn_class.__name__}'s second derivative (its backward run on Tensors) is wrong"
            found = Diagnosis("second_derivative", why + _HOW)
        key = f"{name} (second order)"
        results[key] = InputResult(key, expected, got[j], found)
    return results


_HOW = (
    ": use only the saved inputs and output, with operations Tensors have too "
    "(tinygrad_edu.rule_math), or pass second_order=False"
)


def _first_derivatives(
    apply: Callable[..., Tensor],
    xs: list[Tensor],
    v: np.ndarray,
    where: list[int],
    create_graph: bool,
) -> list[Any]:
    """dL/dx_k for the inputs at ``where``, dL/d(out) = v: arrays, or Tensors with their graph."""
    out = apply(*xs)
    if not out.requires_grad:
        return [None] * len(where)
    wanted = [xs[k] for k in where]
    v_out = np.asarray(v, dtype=out.dtype)
    firsts = grad(out, wanted, v_out, create_graph=create_graph, allow_unused=True)
    return [g if create_graph or g is None else g.data for g in firsts]


def _gradients(s: Any, xs: list[Tensor]) -> list[np.ndarray]:
    """ds/dx for each x (zeros where s does not depend on x) as float64 arrays."""
    if not isinstance(s, Tensor) or not s.requires_grad:
        return [np.zeros(x.shape) for x in xs]
    found = grad(s, xs, allow_unused=True)
    return [
        np.zeros(x.shape) if g is None else np.asarray(g.data, np.float64)
        for x, g in zip(xs, found, strict=True)
    ]
