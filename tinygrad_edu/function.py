"""The Function/Context protocol: how a primitive op records itself in the graph.

A primitive op is a subclass of :class:`Function` with two static methods on raw numpy arrays::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):          # compute the value, save what backward needs
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):         # dL/da, dL/db from dL/dout (a vector-Jacobian product)
            a, b = ctx.saved
            return grad * b, grad * a

``Mul.apply(x, y)`` runs ``forward`` on the tensors' arrays and, when a gradient may be needed,
returns a tensor whose ``_ctx`` is the op's context: the ``Function`` instance itself, holding
``parents`` (the input tensors, in order), ``needs_input_grad`` and the saved arrays. ``backward``
returns one gradient per input (``None`` for an input that needs none: ops check
``ctx.needs_input_grad[i]`` and skip that work); it may return them in the broadcast shape, as
the engine sums them back to each input's shape (``tensor.unbroadcast``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

_grad_enabled = True

F = TypeVar("F", bound=Callable[..., Any])


class no_grad:
    """Context manager (or decorator) under which ops record no graph: inference, updates."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_grad_enabled() -> bool:
    return _grad_enabled


class Function:
    """Base class of primitive ops; an instance is the context of one application of the op."""

    op_name: ClassVar[str] = "function"
    parents: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]
    saved: tuple[Any, ...] | None = ()  # set to None once backward has freed it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.op_name = cls.__dict__.get("op_name", cls.__name__)

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved = arrays

    @staticmethod
    def forward(ctx: Any, *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, grad: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run the op on tensors; record it in the graph if any input requires grad."""
        ctx = cls()
        ctx.parents = inputs
        needs = tuple([t.requires_grad for t in inputs])
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *[t.data for t in inputs], **kwargs)
        except (ShapeError, InputError):
            raise
        except ValueError as e:
            shapes = " and ".join(str(t.shape) for t in inputs)
            if "broadcast" in str(e):
                msg = f"shapes {shapes} cannot be broadcast together"
            else:
                msg = f"cannot apply to shapes {shapes}: {e}"
            raise ShapeError(f"{cls.op_name.lower()}: {msg}") from None
        if type(out) is not np.ndarray:  # numpy turns 0-d results into scalars
            out = np.asarray(out)
        if _grad_enabled and True in needs:
            return Tensor._make(out, True, ctx)
        return Tensor._make(out, False, None)


# Function.apply makes Tensors, and Tensor's operators apply Functions: the two modules import
# each other, so this import comes last, once Function exists.
from .tensor import InputError, ShapeError, Tensor  # noqa: E402
