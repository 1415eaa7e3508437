"""The Tensor: a numpy array that remembers how it was made, and reverse-mode backward.

Read this file first, then ``function.py`` (how an op records itself) and ``ops.py`` (the
derivative of every primitive op); ``fused.py`` and ``conv.py`` add ops built the same way.
A tensor made by an op keeps ``_ctx``, the op's context: its ``parents`` (ordered, so ``a + a``
has two edges) and what it saved for backward. ``backward()`` sorts the graph topologically, walks
it once in reverse asking each op for its inputs' gradients (the vector-Jacobian product), and
sums what arrives at each tensor, undoing broadcasting in one place, :func:`unbroadcast`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Container, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ShapeError, as_array, check_axes, check_permutation

if TYPE_CHECKING:
    from .function import Function

ArrayLike = Any  # np.ndarray, a Python number, or nested lists of numbers
Grad = Any  # dL/dt: an np.ndarray, or a Tensor when the gradient is itself a graph (create_graph)
Sent = tuple[tuple[int, "Tensor", np.ndarray], ...]  # (argument position, input, dL/d(input))
BackwardHook = Callable[["Tensor", np.ndarray, Sent], None]
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
    if extra:  # summing one axis alone, and returning at once when done: 1.8 us, not 2.8
        grad = grad.sum(axis=0 if extra == 1 else tuple(range(extra)))
        if grad.shape == shape:
            return grad
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad if grad.shape == shape else grad.reshape(shape)


# --------------------------------------------------------------------------- the reverse walk
def _toposort(roots: Iterable[Tensor], stop: Container[Tensor] = ()) -> list[Tensor]:
    """Tensors that require grad, each after all its parents (iterative depth-first search),
    not looking below the tensors in ``stop``."""
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
            if node._ctx is not None and node not in stop:  # a loop, not extend(generator):
                for p in node._ctx.parents:  # 3.6 us instead of 6.3 for the seeds' MLP
                    if p.requires_grad and p not in visited:
                        stack.append((p, False))
    return order


def backprop(
    grads: dict[Tensor, Grad],
    retain_graph: bool = False,
    create_graph: bool = False,
    hook: BackwardHook | None = None,
    found: dict[Tensor, Grad] | None = None,
    stop: Container[Tensor] = frozenset(),
) -> None:
    """Reverse mode from the tensors in ``grads`` (each with its dL/dt) back to the leaves.

    Every tensor after all the tensors it feeds: its op turns dL/d(out) into dL/d(input) for its
    inputs (the vector-Jacobian product), summed back to each input's shape, and the
    contributions arriving at a tensor add up. The total gradient of each leaf, and of each
    tensor that retains its grad, is added into its ``.grad``; or, given ``found``, nothing is
    stored and the total gradients of the tensors in ``found`` are put there. The walk goes no
    further than the tensors in ``stop``. With ``create_graph`` the products are computed with
    Tensor ops, so the gradients can be differentiated again. The ops' saved arrays are freed
    unless ``retain_graph``.
    """
    stored: set[int] = set()  # ids of the arrays stored in a .grad
    for node in reversed(_toposort(grads, stop)):
        g = grads.pop(node, None)
        if g is None:  # no gradient reached it (its op returned None)
            continue
        ctx = node._ctx
        if found is not None:
            if node in found:
                found[node] = g
        elif ctx is None or node._retains_grad:
            g = _store_grad(node, g, stored)
        if ctx is None or node in stop:  # a leaf, or as far as asked
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
            hook(node, g, _sent(ctx.parents, in_grads))


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
    return Tensor._make(g, False, None) if create_graph else g


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
    if _last_change > ctx.stamp:  # some tensor changed since the op ran: was it one it saved?
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
    """An op's context as its backward sees it under create_graph: each saved input or output
    array stands as its tensor (so the backward, run on Tensors, records the gradient's graph);
    other saved values (masks, targets) stay constants."""

    def __init__(self, ctx: Function, node: Tensor) -> None:
        self._ctx = ctx
        tensors: dict[int, list[Tensor]] = {id(node.data): [node]}
        for p in reversed(ctx.parents):  # inputs sharing an array are matched in order
            tensors.setdefault(id(p.data), []).insert(0, p)
        self.saved = tuple(_pop_or_keep(tensors.get(id(a)), a) for a in ctx.saved)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def _pop_or_keep(candidates: list[Tensor] | None, a: Any) -> Any:
    if not candidates:
        return a
    return candidates.pop(0) if len(candidates) > 1 else candidates[0]


def _composite_vjp(ctx: Function, g: Tensor) -> tuple:
    """The VJP of a fused op under create_graph: rebuild its output from its definition in
    primitives (``ctx.composite()``) and differentiate that, keeping the graph."""
    found: dict[Tensor, Grad] = dict.fromkeys(ctx.parents)
    backprop({ctx.composite(): g}, True, True, found=found, stop=frozenset(ctx.parents))
    return tuple(found[p] for p in ctx.parents)


def _sent(parents: tuple[Tensor, ...], in_grads: tuple[Grad, ...]) -> Sent:
    """What the hook is told: (argument position, input, grad) for each input sent a grad."""
    pairs = enumerate(zip(parents, in_grads, strict=False))
    sent = [(i, p, pg) for i, (p, pg) in pairs if pg is not None and p.requires_grad]
    return tuple((i, p, unbroadcast(pg, p._data.shape)) for i, p, pg in sent)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``: Python numbers and lists become
    float32; numpy float32/float64 arrays keep their dtype (gradient checks run in float64);
    integer numpy arrays stay integer (labels, indices) and cannot require grad.
    """

    __slots__ = ("_ctx", "_data", "_retains_grad", "_version", "grad", "name", "requires_grad")
    __array_ufunc__ = None  # `ndarray + Tensor` defers to Tensor.__radd__ instead of unwrapping

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        arr = as_array(data.data if isinstance(data, Tensor) else data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require grad, got dtype {arr.dtype}"
            )
        self._data: np.ndarray = arr
        self._version = 0
        self.grad: np.ndarray | None = None
        self.requires_grad: bool = bool(requires_grad)
        self.name: str | None = name
        self._ctx: Function | None = None
        self._retains_grad = False

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, ctx: Function | None) -> Tensor:
        """Fast constructor for op outputs: no conversion, no checks."""
        t = cls.__new__(cls)
        t._data, t.grad, t.requires_grad, t.name, t._ctx = data, None, requires_grad, None, ctx
        t._retains_grad, t._version = False, 0
        return t

    # ----------------------------------------------------------------- backward
    def backward(
        self,
        grad: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Reverse-mode autodiff: add ``grad``-weighted d(self)/d(leaf) into each leaf's ``.grad``.

        ``grad`` is dL/d(self) (default 1 for a one-element tensor); :func:`backprop` walks the
        graph back to the leaves. Leaf gradients *accumulate* across calls until
        ``zero_grad()``. The graph's saved arrays are freed unless ``retain_graph``. With
        ``create_graph=True`` the gradients are computed with Tensor ops: each ``.grad`` is then
        a Tensor with its own graph (a plain array otherwise), which can be differentiated
        again; the graph is kept (``retain_graph`` defaults to ``create_graph``).
        """
        retain = create_graph if retain_graph is None else retain_graph
        backprop(
            {self: _initial_grad(self, grad, create_graph)}, retain, create_graph, _backward_hook
        )

    # ----------------------------------------------------------------- the data, versioned
    def _set_data(self, value: np.ndarray) -> None:
        """Each assignment (``t.data = a``, ``t.data -= a``) stamps a version: _check_unchanged."""
        global _last_change
        self._data = value
        self._version = _last_change = next(stamps)

    data = property(operator.attrgetter("_data"), _set_data, doc="The values, a numpy array.")

    # ----------------------------------------------------------------- array-like attributes
    # fmt: off
    @property
    def shape(self) -> tuple[int, ...]: return self._data.shape
    @property
    def ndim(self) -> int: return self._data.ndim
    @property
    def size(self) -> int: return self._data.size
    @property
    def dtype(self) -> np.dtype: return self._data.dtype
    @property
    def is_leaf(self) -> bool: return self._ctx is None
    def __len__(self) -> int: return len(self.data)
    # fmt: on

    @property
    def op(self) -> str | None:
        """Name of the op that produced this tensor (None for a leaf)."""
        return None if self._ctx is None else self._ctx.op_name

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        if self.data.size > 64:
            parts = [f"shape={self.shape}, dtype={self.dtype}"]
        else:
            parts = [np.array2string(self.data, separator=", ", precision=4, prefix="Tensor(")]
            parts += [f"dtype={self.dtype}"] * bool(self.dtype != np.float32)
        parts += [f"name={self.name!r}"] * bool(self.name)
        parts += [f"op={self.op}"] if self._ctx is not None else []
        parts += ["requires_grad=True"] * (self.requires_grad and self._ctx is None)
        return "Tensor(" + ", ".join(parts) + ")"

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element has an item, got {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._make(self.data, False, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self.grad = None

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retains_grad = True
        return self

    def argmax(self, axis: int | None = None) -> np.ndarray:
        """Indices of the maxima (a plain integer array: argmax has no gradient)."""
        return self.data.argmax(axis=axis)

    # ----------------------------------------------------------------- operators
    def _lift(self, other: ArrayLike) -> Tensor:
        """Wrap a Python number or array as a constant tensor (Python numbers take our dtype)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, {"f": int | float, "i": int, "u": int}.get(self._data.dtype.kind, ())):
            return Tensor._make(np.asarray(other, dtype=self._data.dtype), False, None)
        return Tensor._make(as_array(other, None), False, None)

    # Each operator is one op (a - b is a + (-b), a / b is a * b^-1): one line each, a table.
    # fmt: off
    def __add__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self, self._lift(b))
    def __radd__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self._lift(b), self)
    def __sub__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self, -self._lift(b))
    def __rsub__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self._lift(b), -self)
    def __mul__(self, b: ArrayLike) -> Tensor: return ops.Mul.apply(self, self._lift(b))
    def __rmul__(self, b: ArrayLike) -> Tensor: return ops.Mul.apply(self._lift(b), self)
    def __rtruediv__(self, b: ArrayLike) -> Tensor: return self._lift(b) * self**-1.0
    def __pow__(self, b: ArrayLike) -> Tensor: return ops.Pow.apply(self, self._lift(b))
    def __rpow__(self, b: ArrayLike) -> Tensor: return ops.Pow.apply(self._lift(b), self)
    def __neg__(self) -> Tensor: return ops.Neg.apply(self)
    def __matmul__(self, b: ArrayLike) -> Tensor: return ops.MatMul.apply(self, self._lift(b))
    def __rmatmul__(self, b: ArrayLike) -> Tensor: return ops.MatMul.apply(self._lift(b), self)
    def matmul(self, b: ArrayLike) -> Tensor: return self @ b
    def exp(self) -> Tensor: return ops.Exp.apply(self)
    def log(self) -> Tensor: return ops.Log.apply(self)
    def sqrt(self) -> Tensor: return ops.Sqrt.apply(self)
    def sigmoid(self) -> Tensor: return ops.Sigmoid.apply(self)
    def relu(self) -> Tensor: return ops.ReLU.apply(self)
    def tanh(self) -> Tensor: return ops.Tanh.apply(self)
    # fmt: on

    def __truediv__(self, other: ArrayLike) -> Tensor:
        if isinstance(other, int | float) and other != 0:
            return self * (1.0 / other)
        return self * self._lift(other) ** -1.0

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return ops.Index.apply(self, index=index)

    # ----------------------------------------------------------------- methods
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axis = axis if axis is None else check_axes("sum", axis, self.shape)
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """sum / n, where n is the number of elements reduced over."""
        axes = None if axis is None else check_axes("mean", axis, self.shape)
        n = math.prod(self.shape[a] for a in (range(self.ndim) if axes is None else axes))
        if n == 0:
            raise ValueError(f"mean: no elements to average over (shape {self.shape}, axis={axis})")
        return ops.Sum.apply(self, axis=axes, keepdims=keepdims) * (1.0 / n)  # axes checked

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axis = axis if axis is None else check_axes("max", axis, self.shape)
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: int | Iterable[int]) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
            shape = tuple(shape[0])  # type: ignore[arg-type]
        if not all(isinstance(n, int | np.integer) for n in shape):
            raise ShapeError(f"reshape: sizes must be integers, got {shape} for shape {self.shape}")
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge the axes from ``start_dim`` on into one (``start_dim=1`` keeps the batch axis)."""
        start = check_axes("flatten", start_dim, self.shape)[0] if self.ndim else 0
        return self.reshape(*self.shape[:start], -1)

    def transpose(self, *axes: int | Iterable[int]) -> Tensor:
        """Permute the axes (reverse them when none are given), like ``np.transpose``."""
        if len(axes) == 1 and not isinstance(axes[0], int | np.integer):
            axes = tuple(axes[0])  # type: ignore[arg-type]
        if axes:
            check_permutation(axes, self.shape)
        return ops.Transpose.apply(self, axes=tuple(int(a) for a in axes) if axes else None)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrices transposed), like numpy's ``.mT``."""
        return self.transpose(*range(self.ndim - 2), self.ndim - 1, self.ndim - 2)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - log sum_j e^x_j along ``axis``, from primitives: (x - m) - log(sum(e^(x - m))).

        m, the max along ``axis``, is taken as a constant: log-softmax is shift-invariant, so the
        gradient is exact (to any order) while e^(x - m) <= 1 never overflows. ``nn.functional``
        uses the fused ``fused.LogSoftmax`` instead: the same values, one op, faster.
        """
        shifted = self - self.data.max(axis=axis, keepdims=True)
        return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()

    def softmax(self, axis: int = -1) -> Tensor:
        """e^x_i / sum_j e^x_j = exp(log_softmax(x)): stable, and built from primitives."""
        return self.log_softmax(axis).exp()


def as_tensor(x: ArrayLike) -> Tensor:
    """``x`` itself if it is a Tensor, else ``Tensor(x)`` (a constant)."""
    return x if isinstance(x, Tensor) else Tensor(x)


# The ops build on Tensor and Function, and Tensor's operators apply the ops: these imports come
# last, once Tensor exists, so the three modules can be imported in any order.
from . import ops  # noqa: E402
from .function import stamps  # noqa: E402

_last_change = 0  # the newest version stamped by any assignment to a tensor's .data
