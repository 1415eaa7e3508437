"""Check a whole hand-written backward pass, and point at the first wrong gradient.

:func:`check_backprop` compares the student's ``by_hand(*arrays) -> {name: dL/dname}`` with the
reference ``forward(*tensors) -> {name: Tensor, "loss": scalar}`` node by node, from the loss
back to the inputs. Once one gradient is wrong, every gradient computed from it is wrong too;
so each node is also compared with its *local expected* value: the right backward rule applied
to the student's own upstream gradients. It is computed by one walk of the reference graph
(:func:`~tinygrad_edu.check.walk.reference_grads` with ``replace``) which, at every checked
intermediate, records the total that arrived and sends the student's value on in its place
(where the student's value is missing, of the wrong shape or not finite, the walk carries on
with the local expected value: a node that cannot be used hides no mistake and invents none).
A node that equals its local expected value but not the right one merely *inherits* an error;
a node that differs from it is *wrong* on its own, and is diagnosed against it, so a second,
independent mistake further down is found and named.

The backward order (:func:`backward_order`): the named intermediates in reverse topological
order of the forward graph (the order backward visits them); each float input right after the
last intermediate whose backward step sends it a gradient (its gradient is then complete), or
first when only the loss uses it directly; inputs in one slot in the order of ``inputs``,
except that the first float input (the network's input x, by convention listed first) comes
after its layer's parameters, as a hand-written backward pass computes it. For the course MLP
(inputs X, W1, b1, W2, b2, y; forward names z1, h, z2): z2, W2, b2, h, z1, W1, b1, X.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.backprop import topological_sort
from ..engine.errors import check_integer
from ..engine.tensor import Tensor
from .backprop_report import BackpropReport, NodeResult
from .diagnose import EXACT, Clues, Diagnosis, Tolerance, diagnose
from .inputs import draw_valid, float_names, leaves, resolve_seed
from .student import StudentError, call, name_of
from .vjp import mistake_variants
from .walk import reference_grads

__all__ = ["backward_order", "check_backprop", "defined_at"]


def check_backprop(
    by_hand: Callable[..., Any],
    forward: Callable[..., Mapping[str, Tensor]],
    inputs: Mapping[str, Any],
    *,
    wrt: Sequence[str] | None = None,
    trials: int = 3,
    seed: int | None = None,
    tol: Tolerance = EXACT,
) -> BackpropReport:
    """Check ``by_hand(*arrays) -> {name: dL/dname}`` against the reference
    ``forward(*tensors) -> {name: Tensor}`` (with the scalar ``"loss"``), node by node.

    ``inputs``: name -> shape (random float64 values each trial) or array (as given; integer
    arrays such as labels are never differentiated). ``wrt``: the names checked (default:
    every named intermediate and every float input). ``seed``: None draws a fresh one (kept
    in ``report.seed``); an int replays a check exactly. Bad arguments (the teacher's) raise
    ValueError or TypeError; the student's mistakes are in the report."""
    spec = dict(inputs)
    _check_arguments(forward, spec, wrt, trials)
    used = resolve_seed(seed, "check_backprop")
    report = BackpropReport(f"check_backprop({name_of(by_hand)})", used, trials)
    rng = np.random.default_rng(used)
    for trial in range(trials):
        arrays = draw_valid(spec, rng, lambda *xs: _outputs(forward, xs)["loss"])
        net = _network(forward, spec, leaves(spec, arrays), wrt)
        try:
            result = call(by_hand, *[a.copy() for a in arrays])
            answers = _answers(result, net, spec, by_hand)
        except StudentError as e:
            report.error, report.failed_trial, report.nodes = e.diagnosis, trial, []
            return report
        report.nodes = _judge(net, answers, arrays, tol, name_of(by_hand))
        if not report.passed:
            report.failed_trial = trial
            break
    return report


def defined_at(fn: Any) -> str:
    """'name (file.py, line 12)': a function and where it is defined (the name alone when
    Python cannot tell, e.g. for a built-in)."""
    try:
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
        line = inspect.getsourcelines(fn)[1]
    except (TypeError, OSError):
        return name_of(fn)
    return f"{name_of(fn)} ({Path(file).name}, line {line})"


def _check_arguments(forward: Any, spec: dict, wrt: Sequence[str] | None, trials: Any) -> None:
    if not callable(forward):
        raise TypeError(f"check_backprop: forward must be a function, got {type(forward).__name__}")
    check_integer("check_backprop", "trials", trials, 1)
    if not spec:
        raise ValueError(
            f"check_backprop: inputs is empty: name the inputs of {defined_at(forward)}"
        )
    if not float_names(spec):
        raise ValueError("check_backprop: no input is a float (a shape or a float array)")
    if wrt is not None and (isinstance(wrt, str) or len(list(wrt)) == 0):
        raise ValueError(f"check_backprop: wrt must be a non-empty list of names, got {wrt!r}")


# --------------------------------------------------------------------------- the reference graph
@dataclass
class Network:
    """One forward pass of the reference: the loss, the checked names in backward order with
    their tensors, which of them are intermediates, and who uses each tensor."""

    loss: Tensor
    names: list[str]
    tensors: list[Tensor]
    intermediates: set[str]
    known: list[str]  # every name the student may return, in backward order
    users: dict[int, list[Tensor]]


def _outputs(forward: Callable[..., Any], xs: Sequence[Tensor]) -> dict[str, Tensor]:
    """forward(*xs), checked: a dict of Tensors holding a scalar "loss" that needs a gradient."""
    out = forward(*xs)
    who = defined_at(forward)
    if not isinstance(out, Mapping):
        raise TypeError(
            f"check_backprop: forward {who} must return a dict name -> Tensor with the scalar "
            f"'loss', got {type(out).__name__}"
        )
    if "loss" not in out:
        have = ", ".join(map(repr, out)) or "nothing"
        raise ValueError(f"check_backprop: forward {who} returned no 'loss' (it returned {have})")
    for name, t in out.items():
        if not isinstance(t, Tensor):
            raise TypeError(
                f"check_backprop: forward {who} returned {name!r} as {type(t).__name__}, "
                "not a Tensor"
            )
    if out["loss"].size != 1:
        raise ValueError(
            f"check_backprop: the 'loss' of forward {who} must be a scalar, got shape "
            f"{out['loss'].shape}"
        )
    return dict(out)


def _network(
    forward: Callable[..., Any], spec: dict, xs: list[Tensor], wrt: Sequence[str] | None
) -> Network:
    who = defined_at(forward)
    outs = _outputs(forward, xs)
    loss = outs.pop("loss")
    if not loss.requires_grad:
        raise ValueError(f"check_backprop: the loss of forward {who} depends on no float input")
    named = _intermediates(outs, xs, who)
    floats = [x for x in xs if x.requires_grad]
    order = backward_order(loss, named, floats)
    differentiable = [n for n in order if n not in named or named[n].requires_grad]
    names = differentiable if wrt is None else list(wrt)
    unknown = [n for n in names if n not in order]
    if unknown:
        raise ValueError(
            f"check_backprop: wrt names {', '.join(map(repr, unknown))}, which forward {who} "
            f"does not return and which is no float input; it can check: {', '.join(order)}"
        )
    constant = [n for n in names if n not in differentiable]
    if constant:
        raise ValueError(
            f"check_backprop: {', '.join(map(repr, constant))} returned by forward {who} "
            "depends on no float input: its gradient cannot be checked (leave it out of wrt)"
        )
    names = [n for n in order if n in names]
    by_name = {**{x.name: x for x in floats}, **named}
    tensors = [by_name[n] for n in names]
    return Network(loss, names, tensors, set(named) & set(names), order, _users(loss))


def _intermediates(outs: dict[str, Tensor], xs: list[Tensor], who: str) -> dict[str, Tensor]:
    """The named intermediates: the entries that are not an input under its own name."""
    inputs = {id(x): x.name for x in xs}
    named: dict[str, Tensor] = {}
    seen: dict[int, str] = {}
    for name, t in outs.items():
        if inputs.get(id(t)) == name:
            continue
        if name in inputs.values() or id(t) in inputs:
            raise ValueError(
                f"check_backprop: forward {who} returns {name!r}, which names an input "
                "(return an input under its own name, or not at all)"
            )
        if id(t) in seen:
            raise ValueError(
                f"check_backprop: forward {who} returns one tensor under two names, "
                f"{seen[id(t)]!r} and {name!r}"
            )
        seen[id(t)], named[name] = name, t
    return named


def _users(loss: Tensor) -> dict[int, list[Tensor]]:
    """For each tensor below the loss: the tensors made from it (once per use)."""
    users: dict[int, list[Tensor]] = {}
    for node in topological_sort([loss]):
        for p in node._ctx.parents if node._ctx is not None else ():
            if p.requires_grad:
                users.setdefault(id(p), []).append(node)
    return users


def _nearest(t: Tensor, users: dict[int, list[Tensor]], stops: Mapping[int, Any]) -> list[Any]:
    """The values of ``stops`` met first going up from ``t`` through the tensors using it."""
    found: list[Any] = []
    stack, seen = [t], {id(t)}
    while stack:
        for u in users.get(id(stack.pop()), []):
            if id(u) in stops:
                found.append(stops[id(u)])
            elif id(u) not in seen:
                seen.add(id(u))
                stack.append(u)
    return found


def backward_order(
    loss: Tensor, named: Mapping[str, Tensor], inputs: Sequence[Tensor]
) -> list[str]:
    """The names in backward order (see the module's docstring): the named intermediates from
    the loss down, each followed by the float ``inputs`` (leaf tensors, by ``.name``) whose
    gradient its backward step completes. Unreached names come last."""
    position = {id(t): i for i, t in enumerate(reversed(topological_sort([loss])))}
    inter = sorted(named, key=lambda n: position.get(id(named[n]), len(position)))
    rank = {id(named[n]): i for i, n in enumerate(inter)}
    users = _users(loss)
    slots: dict[int, list[tuple[bool, int, str]]] = {}
    for k, x in enumerate(inputs):
        above = _nearest(x, users, rank)
        slot = max(above) if above else (-1 if id(x) in users else len(inter))
        slots.setdefault(slot, []).append((k == 0 and len(inputs) > 1, k, x.name))
    order = [name for *_, name in sorted(slots.get(-1, []))]
    for i, name in enumerate(inter):
        order += [name] + [n for *_, n in sorted(slots.get(i, []))]
    return order + [n for *_, n in sorted(slots.get(len(inter), []))]


# --------------------------------------------------------------------------- the student's answer
def _answers(result: Any, net: Network, spec: dict, by_hand: Any) -> dict[str, Any]:
    """The student's gradient (or None) for each checked name; a result that is not a dict,
    or holds unknown names, ends the check (StudentError naming by_hand and its line)."""
    who = defined_at(by_hand)
    if not isinstance(result, Mapping):
        raise StudentError(
            Diagnosis(
                "not_an_array",
                f"{who} returned {type(result).__name__}, not a dict name -> gradient: return "
                f"{{'{net.names[0]}': dL/d{net.names[0]}, ...}} for {', '.join(net.names)}",
            )
        )
    unknown = [k for k in result if k not in net.known and k != "loss" and k not in spec]
    if unknown:
        d_prefixed = all(isinstance(k, str) and k[1:] in net.known for k in unknown)
        tip = f" (a key is the name itself: {unknown[0][1:]!r} for dL/d{unknown[0][1:]})"
        raise StudentError(
            Diagnosis(
                "wrong_count",
                f"{who} returned unknown names {', '.join(map(repr, unknown))}"
                f"{tip if d_prefixed else ''}; the names are {', '.join(net.known)}",
            )
        )
    return {n: result.get(n) for n in net.names}


def _numeric(got: Any) -> np.ndarray | None:
    """``got`` as a float64 array, or None when it is not a numeric array."""
    try:
        arr = np.asarray(got)
    except Exception:
        return None
    return arr.astype(np.float64) if arr.dtype.kind in "biuf" else None


def _usable(got: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """The student's value as float64 when the walk can send it on: finite, of the shape."""
    arr = None if got is None else _numeric(got)
    ok = arr is not None and arr.shape == shape and bool(np.all(np.isfinite(arr)))
    return arr if ok else None


# --------------------------------------------------------------------------- judging each node
def _judge(
    net: Network, answers: dict[str, Any], arrays: list[np.ndarray], tol: Tolerance, who: str
) -> list[NodeResult]:
    """One result per checked name: right, inherited, wrong, wrong_shape or missing."""
    one = np.ones(net.loss.shape)
    expected = reference_grads(net.loss, net.tensors, one)
    subs = {
        n: a
        for n, t in zip(net.names, net.tensors, strict=True)
        if n in net.intermediates and (a := _usable(answers[n], t.shape)) is not None
    }
    replace = [(t, subs[n]) for n, t in zip(net.names, net.tensors, strict=True) if n in subs]
    local = reference_grads(net.loss, net.tensors, one, replace=replace)
    clues = _clues(net, replace, arrays)
    results = []
    for i, (name, t) in enumerate(zip(net.names, net.tensors, strict=True)):
        status, diagnosis = _status(answers[name], expected[i], local[i], tol, clues(i))
        if status == "missing":
            diagnosis = Diagnosis("missing", f"{who} returned no {name!r} (absent, or None)")
        got = answers[name]
        results.append(NodeResult(name, status, t.shape, expected[i], got, local[i], diagnosis))
    _inheritance(results, net, set(subs))
    return results


def _status(
    got: Any, expected: np.ndarray, local: np.ndarray, tol: Tolerance, clues: Any
) -> tuple[str, Diagnosis | None]:
    """The status of one node and, unless right or inherited, its diagnosis; a wrong node is
    diagnosed against ``local``, its rule applied to the student's own upstream gradients."""
    if got is None:
        return "missing", None
    arr = _numeric(got)
    if arr is None or not np.all(np.isfinite(arr)):
        return "wrong", diagnose(got, local, tol)
    if arr.shape != local.shape:
        return "wrong_shape", _shape_diagnosis(arr, local, tol)
    if tol.close(arr, expected):
        return "right", None
    if tol.close(arr, local):
        return "inherited", None
    return "wrong", diagnose(arr, local, tol, clues(arr))


def _shape_diagnosis(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> Diagnosis | None:
    """An axis of length 1 too many or too few (keepdims, a row vector), a transpose, an axis
    not summed, or just the wrong shape; the student's array is never reshaped to pass."""
    squeezed = tuple(n for n in got.shape if n != 1) == tuple(n for n in expected.shape if n != 1)
    if not squeezed:
        return diagnose(got, expected, tol)
    inner = diagnose(got.reshape(expected.shape), expected, tol)
    values = "the values are right" if inner is None else f"reshaped, it is still wrong: {inner}"
    return Diagnosis(
        "wrong_shape",
        f"shape {got.shape}, but the value's is {expected.shape}: an axis of length 1 too many "
        f"or too few (keepdims=True, or a row or column vector); {values}",
    )


def _clues(
    net: Network, replace: list[tuple[Tensor, np.ndarray]], arrays: list[np.ndarray]
) -> Callable[[int], Callable[[np.ndarray], Clues]]:
    """node i -> (the student's array -> its Clues), each computed from the student's own
    upstream gradients, on demand: the all-ones upstream, and the known mistakes' walks."""
    one = np.ones(net.loss.shape)
    sizes = tuple(a.shape[0] for a in arrays if a.ndim >= 2)
    sizes += tuple(len(a) for a in arrays if a.ndim == 1 and a.dtype.kind in "iu")

    @functools.cache
    def with_ones() -> list[np.ndarray]:
        pairs = zip(net.names, net.tensors, strict=True)
        ones = [(t, np.ones(t.shape)) for n, t in pairs if n in net.intermediates]
        return reference_grads(net.loss, net.tensors, one, replace=ones)

    @functools.cache
    def variants() -> list[dict[str, list[np.ndarray]]]:
        return mistake_variants(net.loss, net.tensors, np.ones(net.loss.shape), replace)

    def for_node(i: int) -> Callable[[np.ndarray], Clues]:
        return lambda got: Clues(lambda: (with_ones()[i], got), lambda: variants()[i], sizes)

    return for_node


def _inheritance(results: list[NodeResult], net: Network, used: set[str]) -> None:
    """Name, for each inherited node, the truly wrong nodes its error comes from: the errors
    carried by the nearest intermediates above it whose student values the walk sent on (a
    wrong one carries its own and those it inherits; a right one carries none)."""
    stops = {id(t): n for n, t in zip(net.names, net.tensors, strict=True) if n in used}
    carried: dict[str, set[str]] = {}
    for r, t in zip(results, net.tensors, strict=True):
        above = _nearest(t, net.users, {k: n for k, n in stops.items() if n != r.name})
        errors = set().union(*(carried.get(n, set()) for n in above))
        if r.status == "inherited":
            r.inherits_from = tuple(n for n in net.names if n in errors)
            if not errors:  # the rule applied to right upstream values: only rounding differs
                r.status = "right"
        if r.name in used:
            carried[r.name] = (
                set()
                if r.status == "right"
                else errors | ({r.name} if r.status == "wrong" else set())
            )
