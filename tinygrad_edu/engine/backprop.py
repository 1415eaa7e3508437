"""Reverse mode: the walk from a tensor back to the leaves; broadcasting undone in one place.

``Tensor.backward()`` calls :func:`backward`: the graph is sorted (:func:`topological_sort`),
walked once in reverse asking each op for its inputs' gradients (the vector-Jacobian product),
and what arrives at each tensor is summed, undoing broadcasting in :func:`unbroadcast`.
:func:`backprop` is the walk itself; ``autograd.grad`` calls it too.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tensor
from .errors import ShapeError, as_array
from .speed import sum_rows
from .tensor import ArrayLike, Tensor

if TYPE_CHECKING:
    from .function import Function

Grad = Any  # dL/dt: an np.ndarray, or a Tensor when the gradient is itself a graph (create_graph)
GradsToInputs = tuple[tuple[int, Tensor, np.ndarray], ...]  # (arg position, input, dL/d(input))
BackwardHook = Callable[[Tensor, np.ndarray, GradsToInputs], None]
_backward_hook: BackwardHook | None = None  # set while a viz.trace records; else one `is None`


def set_backward_hook(hook: BackwardHook | None) -> BackwardHook | None:
    """Install ``hook(node, upstream, sent)`` for every later backward step; return the old one.

    ``upstream`` is dL/d(node); ``sent`` holds ``(arg, input, grad)`` for each argument position
    ``arg`` of node's op that received a gradient (summed back to the input's shape). A leaf is
    reported with ``sent = ()`` after its ``.grad`` was updated. ``None`` removes the hook.
    """
    global _backward_hook
    previous, _backward_hook = _backward_hook, hook
    return previous


def unbroadcast(grad: Grad, shape: tuple[int, ...]) -> Grad:
    """Sum ``grad`` (an array, or a Tensor) down to ``shape``: the adjoint of broadcasting.

    If ``y = broadcast_to(x, grad.shape)`` then every element of x was copied into all the
    positions of y along the broadcast axes, so dL/dx is the sum of dL/dy over those axes:
    the extra leading axes, and the axes where x has size 1.
    """
    if type(grad) is not np.ndarray and not isinstance(grad, Tensor):  # a numpy scalar
        grad = np.asarray(grad)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:  # one axis summed alone (sum_rows), and done at once if that was all
        grad = sum_rows(grad) if extra == 1 else grad.sum(axis=tuple(range(extra)))
        if grad.shape == shape:
            return grad
    size_one_axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if size_one_axes:
        grad = grad.sum(axis=size_one_axes, keepdims=True)
    return grad if grad.shape == shape else grad.reshape(shape)


# --------------------------------------------------------------------------- the reverse walk
def backward(
    root: Tensor, grad: ArrayLike | None, retain_graph: bool | None, create_graph: bool
) -> None:
    """``root.backward(...)``: the walk from root, seeded with dL/d(root), told to the hook."""
    retain = create_graph if retain_graph is None else retain_graph
    seed = _initial_grad(root, grad, create_graph)
    backprop({root: seed}, retain, create_graph, _backward_hook)


def topological_sort(
    roots: Iterable[Tensor],
    treat_as_leaves: Container[Tensor] = (),
    every_tensor: bool = False,
    first_argument_first: bool = False,
) -> list[Tensor]:
    """The tensors below ``roots``, each after all its parents: an iterative depth-first search
    (no recursion limit), not looking below the tensors in ``treat_as_leaves``.

    Backward's order visits only tensors that require grad, an op's last argument first; a
    drawing's (``every_tensor``, ``first_argument_first``) visits constants and inputs too."""
    order: list[Tensor] = []
    visited: set[Tensor] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False) for root in roots]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            if node._ctx is not None and node not in treat_as_leaves:
                parents = node._ctx.parents  # a plain loop: the cheapest in CPython
                for p in reversed(parents) if first_argument_first else parents:
                    if (every_tensor or p.requires_grad) and p not in visited:
                        stack.append((p, False))
    return order


def backprop(
    grads: dict[Tensor, Grad],
    retain_graph: bool = False,
    create_graph: bool = False,
    hook: BackwardHook | None = None,
    collect: dict[Tensor, Grad] | None = None,
    treat_as_leaves: Container[Tensor] = frozenset(),
) -> None:
    """Reverse mode from the tensors in ``grads`` (each with its dL/dt) back to the leaves.

    Every tensor after all the tensors it feeds: its op turns dL/d(out) into dL/d(input) for its
    inputs (the vector-Jacobian product), summed back to each input's shape, and the
    contributions arriving at a tensor add up. The total gradient of each leaf, and of each
    tensor that retains its grad, is added into its ``.grad``; or, given ``collect``, nothing is
    stored and the total gradients of the tensors in ``collect`` are put there. The walk goes no
    further than the tensors in ``treat_as_leaves``. With ``create_graph`` the products are
    computed with Tensor ops, so the gradients can be differentiated again. The ops' saved
    arrays are freed unless ``retain_graph``.
    """
    stored: set[int] = set()  # ids of the arrays stored in a .grad
    for node in reversed(topological_sort(grads, treat_as_leaves)):
        g = grads.pop(node, None)
        if g is None:  # no gradient reached it (its op returned None)
            continue
        ctx = node._ctx
        if collect is not None:
            if node in collect:
                collect[node] = g
        elif ctx is None or node._retains_grad:
            g = _store_grad(node, g, stored)
        if ctx is None or node in treat_as_leaves:  # a leaf, or as far as asked
            if hook is not None:
                hook(node, g, ())
            continue
        in_grads = _vjp(ctx, node, g, retain_graph, create_graph)  # dL/d(input), each input
        for parent, pg in zip(ctx.parents, in_grads, strict=False):
            if pg is not None and parent.requires_grad:
                if pg.shape != parent._data.shape:  # summed back to the input's shape
                    pg = unbroadcast(pg, parent._data.shape)
                old = grads.get(parent)
                grads[parent] = pg if old is None else old + pg  # paths add up
        if hook is not None:
            hook(node, g, _grads_to_inputs(ctx.parents, in_grads))


def _initial_grad(root: Tensor, grad: ArrayLike | None, create_graph: bool) -> Grad:
    """dL/d(root): a copy of ``grad`` (root's shape), or 1 if root has one element; a constant
    Tensor with ``create_graph`` (or ``grad`` itself if it is a Tensor)."""
    if not root.requires_grad:
        what = f"the output of {root.op}" if root.op else "this tensor"
        raise RuntimeError(
            f"backward: {what} does not require grad (no input of the computation had "
            "requires_grad=True, it was computed under no_grad(), or it is an integer result)"
        )
    if grad is None and root.data.size != 1:
        raise RuntimeError(
            f"backward: grad can be implicitly created only for a scalar (one-element) output; "
            f"this tensor has shape {root.shape}: pass backward(grad) of that shape"
        )
    if grad is None and not create_graph:
        return np.ones(root.shape, root.dtype)
    if create_graph and isinstance(grad, Tensor) and grad.shape == root.shape:
        return grad
    g = np.ones(root.shape, root.dtype) if grad is None else as_array(grad, root.dtype, "backward")
    g = g.copy() if g is grad else g  # never alias the caller's array
    if g.shape != root.shape:
        raise ShapeError(
            f"backward: grad of shape {g.shape} given for a tensor of shape {root.shape}"
        )
    return Tensor._from_array(g, False, None) if create_graph else g


def _store_grad(t: Tensor, g: Grad, stored: set[int]) -> Grad:
    """Add g into ``t.grad``; return g, first copied if it is already some tensor's .grad
    (``stored`` holds their ids) or a read-only or borrowed view: each .grad owns its array.
    A Tensor gradient (create_graph) is kept as the Tensor, with its graph."""
    if isinstance(g, Tensor):
        t.grad = g if t.grad is None else t.grad + g
        return g
    if id(g) in stored or not g.flags.writeable or g.base is not None:
        g = g.copy()
    acc = g if t.grad is None else t.grad + g
    t.grad = acc if type(acc) is np.ndarray else np.asarray(acc)  # 0-d stays an ndarray
    stored.add(id(t.grad))
    return g


def _vjp(ctx: Function, node: Tensor, g: Grad, retain: bool, create_graph: bool) -> tuple:
    """The op's vector-Jacobian product: dL/d(input) for each input (None where none is needed),
    possibly in the broadcast shape. With ``create_graph`` the op's backward runs on Tensors (or,
    for a fused op, its composition of primitives is differentiated). Frees the op's saved arrays
    unless ``retain``."""
    if ctx.saved is None:
        raise RuntimeError(
            f"backward: the graph through {ctx.op_name} was already freed by an earlier "
            "backward(); pass retain_graph=True to the first call to backprop twice"
        )
    if tensor.last_change > ctx.stamp:  # some tensor changed since the op ran: was it one it saved?
        _check_unchanged(ctx, node)
    if not create_graph:
        in_grads = type(ctx).backward(ctx, g)
    elif hasattr(ctx, "composite"):
        in_grads = _composite_vjp(ctx, g)
    else:
        in_grads = type(ctx).backward(_OnTensors(ctx, node), g)
    if not retain:
        ctx.saved = None
    return in_grads if type(in_grads) is tuple else (in_grads,)


def _check_unchanged(ctx: Function, node: Tensor) -> None:
    """A RuntimeError if a tensor whose array ``ctx`` saved for backward (its output or an
    input) was assigned through ``.data`` after the op ran: its gradient would use the new values.
    Writes into the array itself (``t.data[0] = 1``) are not seen."""
    for t in (node, *ctx.parents):
        if t._version > ctx.stamp and any(s is t._data for s in ctx.saved or ()):
            raise RuntimeError(
                f"backward: {t.name or 'a tensor'} was changed through .data after {ctx.op_name} "
                "saved it for backward: change .data after backward(), or compute again"
            )


class _OnTensors:
    """An op's context as its backward sees it under create_graph: what it saved, by role
    (``Function.saved_by_role``), so the backward, run on Tensors, records the gradient's graph."""

    def __init__(self, ctx: Function, node: Tensor) -> None:
        self._ctx, self.saved = ctx, ctx.saved_by_role(node)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def _composite_vjp(ctx: Function, g: Tensor) -> tuple:
    """The VJP of a fused op under create_graph: rebuild its output from its definition in
    primitives (``ctx.composite()``) and differentiate that, keeping the graph."""
    wanted: dict[Tensor, Grad] = dict.fromkeys(ctx.parents)
    backprop({ctx.composite(): g}, True, True, None, wanted, frozenset(ctx.parents))
    return tuple(wanted[p] for p in ctx.parents)


def _grads_to_inputs(parents: tuple[Tensor, ...], in_grads: tuple[Grad, ...]) -> GradsToInputs:
    """What the hook is told: (argument position, input, grad) for each input sent a grad."""
    pairs = enumerate(zip(parents, in_grads, strict=False))
    sent = [(i, p, pg) for i, (p, pg) in pairs if pg is not None and p.requires_grad]
    return tuple((i, p, unbroadcast(pg, p._data.shape)) for i, p, pg in sent)
