"""``Parameter`` (a Tensor that requires grad) and ``Module`` (finds its parameters by walking).

A Module's parameters are found by walking its attributes in the order they were set: a
``Parameter`` is a parameter, a ``Module`` is walked recursively, and lists/tuples (and dicts) of
them are walked element by element. Names are dotted paths: ``layers.0.weight``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..engine.function import ShapeError
from ..engine.tensor import Tensor
from .init import aligned_copy
from .summary import summarize

__all__ = ["Module", "Parameter", "StateDictError"]


class StateDictError(KeyError, ValueError):
    """A state dict does not fit the model: a key is missing or unexpected, or a value is not an
    array. The message names the key. (Shape mismatches raise :class:`ShapeError`.)"""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class Parameter(Tensor):
    """A leaf Tensor that requires grad: a weight or bias a Module owns and an optimiser updates.

    ``Parameter(data, dtype=None, name=None)``. The data are copied into a 64-byte-aligned array
    (Python numbers and lists become float32; numpy float32/float64 keep their dtype).
    """

    __slots__ = ()

    def __init__(
        self, data: Any, dtype: Any = None, name: str | None = None, requires_grad: bool = True
    ) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be floating point, got dtype {self.data.dtype}")
        self.data = aligned_copy(self.data)  # never aliases the caller's array

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__().removeprefix("Tensor")


class Module:
    """Base class of layers and models: ``model(x)`` calls ``model.forward(x)``.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` and define
    ``forward``. ``training`` (default True) is switched for the whole tree by ``train()`` /
    ``eval()``; layers such as Dropout read it.
    """

    training: bool = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # ----------------------------------------------------------------- walking the tree
    def _children(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every attribute holding a Parameter or Module, lists flattened."""
        stack: list[tuple[str, Any]] = list(reversed(vars(self).items()))
        while stack:
            name, value = stack.pop()
            if isinstance(value, Tensor | Module):
                yield name, value
            elif isinstance(value, list | tuple):
                stack.extend(reversed([(f"{name}.{i}", v) for i, v in enumerate(value)]))
            elif isinstance(value, dict):
                stack.extend(reversed([(f"{name}.{k}", v) for k, v in value.items()]))

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("" or ``prefix``) and all modules below it."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            subs = [
                (f"{name}.{n}" if name else n, v)
                for n, v in module._children()
                if isinstance(v, Module)
            ]
            stack.extend(reversed(subs))

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) of every Parameter below this module, each once, depth first
        in the order the attributes were set: e.g. ``layers.0.weight``, ``layers.0.bias``,
        ``layers.2.weight``.
        """
        seen: set[int] = set()
        stack: list[tuple[str, Any]] = [(prefix, self)]
        while stack:
            name, value = stack.pop()
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Parameter):
                yield name, value
            elif isinstance(value, Module):
                children = [(f"{name}.{n}" if name else n, v) for n, v in value._children()]
                stack.extend(reversed(children))

    def parameters(self) -> list[Parameter]:
        """All parameters, each once (a list, so it can be passed to several optimisers)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """The number of scalar parameters."""
        return sum(p.data.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.grad = None

    # ----------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set ``training = mode`` on this module and all below it; returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: Dropout becomes the identity."""
        return self.train(False)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of the parameters' arrays by dotted name."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Copy ``state[name]`` into each parameter's array in place (alignment and identity kept,
        so an optimiser holding the parameters keeps working).

        Raises StateDictError naming a missing or (if ``strict``) unexpected key, and ShapeError
        naming a key whose shape differs. Nothing is changed unless every check passes.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping name -> array, got {type(state).__name__}"
            )
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        if missing:
            raise StateDictError(
                f"load_state_dict: missing key {missing[0]!r} for {type(self).__name__}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        unexpected = [k for k in state if k not in params]
        if strict and unexpected:
            raise StateDictError(
                f"load_state_dict: unexpected key {unexpected[0]!r}; {type(self).__name__} has "
                f"{', '.join(params) or 'no parameters'}"
            )
        arrays = {}
        for name, p in params.items():
            value = state[name]
            value = value.data if isinstance(value, Tensor) else value
            try:
                arr = np.asarray(value)
            except (TypeError, ValueError) as e:
                raise StateDictError(
                    f"load_state_dict: key {name!r} is not an array: {e}"
                ) from None
            if arr.dtype.kind not in "biuf":
                raise StateDictError(
                    f"load_state_dict: key {name!r} has non-numeric dtype {arr.dtype}"
                )
            if arr.shape != p.data.shape:
                raise ShapeError(
                    f"load_state_dict: key {name!r} has shape {arr.shape} in the state dict but "
                    f"{p.data.shape} in the model"
                )
            arrays[name] = arr
        for name, arr in arrays.items():
            np.copyto(params[name].data, arr, casting="unsafe")

    # ----------------------------------------------------------------- printing
    def summary(
        self, input_shape: int | Sequence[int], print_fn: Callable[[str], Any] | None = print
    ) -> str:
        """Describe the network layer by layer, like Keras's ``model.summary()``: each layer's
        type, settings, output shape and parameter count for one input of ``input_shape`` (no
        batch axis: ``(784,)`` or ``(1, 28, 28)``), and the total. Printed with ``print_fn``
        (None: not printed); returned as text (:func:`tinygrad_edu.nn.summary.summarize`)."""
        text = summarize(self, input_shape)
        if print_fn is not None:
            print_fn(text)
        return text

    def summary_settings(self) -> str:
        """The layer's settings in words for :meth:`summary` (default: :meth:`extra_repr`)."""
        return self.extra_repr()

    def extra_repr(self) -> str:
        """The arguments shown inside ``Name(...)``."""
        return ""

    def __repr__(self) -> str:
        subs = [(n, v) for n, v in self._children() if isinstance(v, Module)]
        if not subs:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, sub in subs:
            body = repr(sub).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"
