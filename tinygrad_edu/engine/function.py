"""The op protocol: how an op records itself in the graph, and the engine's two errors.

An op is a subclass of :class:`Function` with two methods on numpy arrays; an instance of the op
is the *context* of one application, so its methods call it ``ctx`` (static methods taking
``ctx`` work too)::

    class Mul(Function):
        def forward(ctx, a, b):   # the value; save what backward needs
            ctx.save_for_backward(a, b)
            return a * b

        def backward(ctx, g):     # g = dL/dout -> (dL/da, dL/db), None where none is needed
            a, b = ctx.saved
            return g * b, g * a

``Mul.apply(x, y)`` makes ``ctx = Mul()`` with ``ctx.parents = (x, y)`` and one bool per input in
``ctx.needs_input_grad``, runs ``forward`` on the arrays and, if a gradient may be needed, returns
a tensor whose ``_ctx`` is ``ctx``.

What a backward may use: g; what ``save_for_backward`` got, which is the op's inputs and its
output themselves (the arrays forward received and returned) and constants without a derivative
(boolean masks, integer indices); settings kept on ``ctx`` (shapes, axes, Python numbers). Under
``create_graph`` each saved input and output stands as its Tensor (:meth:`Function.saved_by_role`),
so the same backward, written with operations Tensors have too (``rule_math``), builds the
gradient's graph. A float array computed in forward (a softplus saving sigmoid(a)) would be a
constant there, and the second derivative silently wrong: it is refused; compute it in backward.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .errors import InputError, ShapeError
from .grad_mode import enabled as _grad_enabled
from .grad_mode import is_grad_enabled, no_grad  # noqa: F401 (re-exported, as before)

stamps = itertools.count(1)  # in the order things happen: an op runs, a tensor's .data changes


class Function:
    """Base class of ops; an instance is the context of one application of the op."""

    op_name: ClassVar[str] = "Function"  # in graphs and errors: the class name, unless set
    parents: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]
    saved: tuple[Any, ...] | None = ()  # set to None once backward has freed it
    stamp: int = 0  # when the op ran (see stamps)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.op_name = cls.__dict__.get("op_name", cls.__name__)

    def save_for_backward(ctx, *arrays: Any) -> None:
        """Keep the op's inputs or output (or masks, indices) for backward, in ``ctx.saved``."""
        ctx.saved = arrays

    def saved_by_role(ctx, out: Tensor) -> tuple[Any, ...]:
        """``ctx.saved`` with each input or output array as its Tensor (``out`` is the op's
        output), for a backward run on Tensors; masks and indices stay constants. A RuntimeError
        names the op that saved (or keeps on ctx) a float array computed in forward."""
        by_id: dict[int, list[Tensor]] = {id(out._data): [out]}
        for p in reversed(ctx.parents):  # inputs sharing an array are matched in order
            by_id.setdefault(id(p._data), []).insert(0, p)
        for name, value in vars(ctx).items():
            if name != "saved":
                where = f"keeps a float array of shape {{}} in ctx.{name}, not saved"
                _refuse_derived(ctx, value, where)
        return tuple(_by_role(ctx, by_id.get(id(a)), a) for a in ctx.saved or ())

    def forward(ctx, *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(ctx, g: np.ndarray) -> np.ndarray | tuple[np.ndarray | None, ...] | None:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run the op on tensors; record it in the graph if any input requires grad."""
        ctx = cls()
        ctx.parents = inputs
        ctx.needs_input_grad = needs = tuple([t.requires_grad for t in inputs])
        try:
            out = cls.forward(ctx, *[t._data for t in inputs], **kwargs)
        except (ShapeError, InputError):
            raise
        except (ValueError, IndexError) as e:  # numpy's message, with the op and the shapes
            shapes = " and ".join(str(t.shape) for t in inputs)
            why = "cannot be broadcast together" if "broadcast" in str(e) else f"given: {e}"
            raise ShapeError(f"{cls.op_name.lower()}: shapes {shapes} {why}") from None
        if type(out) is not np.ndarray:  # numpy turns 0-d results into scalars
            out = _as_0d(ctx, out)
        if True in needs and _grad_enabled.get():
            ctx.stamp = next(stamps)
            result = Tensor._from_array(out, True, ctx)
        else:
            result = Tensor._from_array(out, False, None)
        if _forward_hook is not None:  # forward mode: the output's tangent from the inputs'
            _forward_hook(ctx, result, kwargs)
        return result


def _as_0d(ctx: Function, scalar: Any) -> np.ndarray:
    """A 0-d array for numpy's scalar result; a saved output becomes that array too, so that
    create_graph can tell the output among what the op saved."""
    out = np.asarray(scalar)
    if ctx.saved:
        ctx.saved = tuple(out if s is scalar else s for s in ctx.saved)
    return out


def _by_role(ctx: Function, tensors: list[Tensor] | None, a: Any) -> Any:
    """The input or output tensor whose array ``a`` is; else ``a``, if it is a constant."""
    if not tensors:
        where = "saved a float array of shape {} computed in forward, neither input nor output"
        _refuse_derived(ctx, a, where)
        return a
    return tensors.pop(0) if len(tensors) > 1 else tensors[0]


def _refuse_derived(ctx: Function, value: Any, where: str) -> None:
    if isinstance(value, np.ndarray | np.floating) and value.dtype.kind in "fc":
        raise RuntimeError(
            f"backward(create_graph=True): {ctx.op_name} {where.format(np.shape(value))}: as a "
            "constant it would make the second derivative wrong. Save only the inputs and the "
            "output (ctx.save_for_backward(a, out)) and compute the rest in backward from them, "
            "with operations Tensors have too (tinygrad_edu.rule_math: exp, log, sigmoid...)"
        )


ForwardHook = Callable[[Function, "Tensor", dict[str, Any]], None]
_forward_hook: ForwardHook | None = None  # set inside autograd.forward_ad.dual_level()


def set_forward_hook(hook: ForwardHook | None) -> ForwardHook | None:
    """Install ``hook(ctx, out, kwargs)``, called after every op (forward mode computes the
    output's tangent there); return the previous hook. With none, ops pay one ``is None``."""
    global _forward_hook
    previous, _forward_hook = _forward_hook, hook
    return previous


# Function.apply makes Tensors, and Tensor's operators apply Functions: the two modules import
# each other, so this import comes last, once Function exists.
from .tensor import Tensor  # noqa: E402
