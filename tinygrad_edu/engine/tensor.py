"""The Tensor: a numpy array that remembers how it was made.

Read this file first, then ``function.py`` (how an op records itself), ``ops.py`` (the
derivative of every primitive op) and ``backprop.py`` (the reverse walk); ``fused.py`` and
``conv.py`` add ops built the same way. A tensor made by an op keeps ``_ctx``, the op's context:
its ``parents`` (ordered, so ``a + a`` has two edges) and what it saved for backward.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ShapeError, as_array, check_axes, check_permutation

if TYPE_CHECKING:
    from .function import Function

ArrayLike = Any  # np.ndarray, a Python number, or nested lists of numbers


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
    def _from_array(cls, data: np.ndarray, requires_grad: bool, ctx: Function | None) -> Tensor:
        """A Tensor around ``data`` as it is, no conversion, no checks (op outputs, constants)."""
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

        ``grad`` is dL/d(self) (default 1 for a one-element tensor); ``backprop.py`` walks the
        graph back to the leaves. Leaf gradients *accumulate* across calls until ``zero_grad()``.
        The graph's saved arrays are freed unless ``retain_graph``. With ``create_graph=True``
        the gradients are computed with Tensor ops: each ``.grad`` is then a Tensor with its own
        graph (a plain array otherwise), which can be differentiated again; the graph is kept
        (``retain_graph`` defaults to ``create_graph``).
        """
        backprop.backward(self, grad, retain_graph, create_graph)

    # ----------------------------------------------------------------- the data, versioned
    def _set_data(self, value: np.ndarray) -> None:
        """Each assignment (``t.data = a``, ``t.data -= a``) stamps a version: _check_unchanged."""
        global last_change
        self._data = value
        self._version = last_change = next(stamps)

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
        return Tensor._from_array(self.data, False, None)

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
    def _operand(self, other: ArrayLike) -> Tensor:
        """The other operand as a Tensor: itself, or a Python number or array wrapped as a
        constant (Python numbers take our dtype)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, {"f": int | float, "i": int, "u": int}.get(self._data.dtype.kind, ())):
            return Tensor._from_array(np.asarray(other, dtype=self._data.dtype), False, None)
        return Tensor._from_array(as_array(other, None), False, None)

    # Each operator is one op (a - b is a + (-b), a / b is a * b^-1): one line each, a table.
    # fmt: off
    def __add__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self, self._operand(b))
    def __radd__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self._operand(b), self)
    def __sub__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self, -self._operand(b))
    def __rsub__(self, b: ArrayLike) -> Tensor: return ops.Add.apply(self._operand(b), -self)
    def __mul__(self, b: ArrayLike) -> Tensor: return ops.Mul.apply(self, self._operand(b))
    def __rmul__(self, b: ArrayLike) -> Tensor: return ops.Mul.apply(self._operand(b), self)
    def __rtruediv__(self, b: ArrayLike) -> Tensor: return self._operand(b) * self**-1.0
    def __pow__(self, b: ArrayLike) -> Tensor: return ops.Pow.apply(self, self._operand(b))
    def __rpow__(self, b: ArrayLike) -> Tensor: return ops.Pow.apply(self._operand(b), self)
    def __neg__(self) -> Tensor: return ops.Neg.apply(self)
    def __matmul__(self, b: ArrayLike) -> Tensor: return ops.MatMul.apply(self, self._operand(b))
    def __rmatmul__(self, b: ArrayLike) -> Tensor: return ops.MatMul.apply(self._operand(b), self)
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
        return self * self._operand(other) ** -1.0

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
        return ops.Mean.apply(self, axis=axes, keepdims=keepdims)

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


# The ops build on Tensor and Function, Tensor's operators apply the ops and backward() walks
# through backprop: these imports come last, once Tensor exists, so the engine's modules can be
# imported in any order.
from . import backprop, ops  # noqa: E402
from .function import stamps  # noqa: E402

last_change = 0  # the newest version stamped by an assignment to any tensor's .data (for backprop)
