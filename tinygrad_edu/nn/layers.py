"""Layers: ``Linear``, activations, ``Dropout``, ``Flatten``, ``Sequential`` and ``MLP``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..engine.errors import InputError, check_integer, check_number, is_integer
from ..engine.tensor import Tensor, as_tensor
from . import functional as F
from .init import INITS, RngLike, aligned_zeros, as_rng, init_weight
from .module import Module, Parameter

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


class Linear(Module):
    """y = x W^T + b: (N, in_features) -> (N, out_features), PyTorch's layout.

    ``weight`` has shape (out_features, in_features), ``bias`` (out_features,) (zeros).
    ``init``: ``"normal"`` (default: W ~ N(0, std^2) with ``std=0.1``, the course's MLP;
    ``std=0.01`` its other choice), ``"xavier"``/``"glorot"`` (U(-a, a), a = sqrt(6/(in+out)))
    or ``"he"``/``"kaiming"`` (N(0, 2/in)). ``rng`` (a numpy Generator or int seed) or ``seed``
    makes the draw reproducible. Parameters are float32 (``dtype``) and 64-byte aligned.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "normal",
        std: float = 0.1,
        rng: RngLike = None,
        seed: int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self.in_features = check_integer("Linear", "in_features", in_features, 1)
        self.out_features = check_integer("Linear", "out_features", out_features, 1)
        gen = as_rng(rng, seed, who="Linear")
        self.init = init
        self.weight = Parameter(
            init_weight(self.out_features, self.in_features, init, std, gen, dtype)
        )
        self.bias = Parameter(aligned_zeros(self.out_features, dtype)) if bias else None

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def summary_settings(self) -> str:
        return f"{self.in_features} -> {self.out_features}" + (
            "" if self.bias is not None else ", no bias"
        )


class Identity(Module):
    """y = x."""

    def forward(self, x: Any) -> Tensor:
        return as_tensor(x)


class Sigmoid(Module):
    """y = 1 / (1 + e^-x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)

    def summary_settings(self) -> str:
        return "activation 1 / (1 + e^-x)"


class ReLU(Module):
    """y = max(x, 0), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)

    def summary_settings(self) -> str:
        return "activation max(x, 0)"


class Tanh(Module):
    """y = tanh x, elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)

    def summary_settings(self) -> str:
        return "activation tanh x"


class LogSoftmax(Module):
    """y = x - log sum_j e^x_j along ``axis`` (pair it with NLLLoss)."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def summary_settings(self) -> str:
        return f"axis {self.axis}"


class Softmax(Module):
    """y = e^x_i / sum_j e^x_j along ``axis``."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def summary_settings(self) -> str:
        return f"axis {self.axis}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by
    1/(1-p) (so E[y] = x); the identity in eval mode. ``rng``/``seed`` fix the masks."""

    def __init__(self, p: float = 0.5, rng: RngLike = None, seed: int | None = None) -> None:
        self.p = check_number("Dropout", "p", p, 0, 1, high_open=True)
        self.rng = as_rng(rng, seed, who="Dropout")

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def summary_settings(self) -> str:
        return f"p {self.p:g}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): merge the axes from ``start_dim`` on."""

    def __init__(self, start_dim: int = 1) -> None:
        self.start_dim = start_dim

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        return x.flatten(self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"

    def summary_settings(self) -> str:
        return f"from axis {self.start_dim}"


class Sequential(Module):
    """Modules applied in order: y = f_k(... f_2(f_1(x))). ``Sequential(m1, m2)`` or
    ``Sequential([m1, m2])``; parameters are named ``layers.<i>.<name>``."""

    def __init__(self, *modules: Module | Iterable[Module]) -> None:
        if len(modules) == 1 and not isinstance(modules[0], Module):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
        self.layers: list[Module] = list(modules)  # type: ignore[arg-type]

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: a {type(module).__name__} is not a Module")
        self.layers.append(module)
        return self

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]


#: Activation names accepted by MLP, and their modules.
ACTIVATIONS: dict[str, type[Module]] = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


class MLP(Sequential):
    """A multilayer perceptron from layer widths, e.g. ``MLP([784, 64, 10])``.

    For sizes [d_0, ..., d_L]: L Linear layers d_{i-1} -> d_i; each hidden layer is followed by
    ``activation`` (``"sigmoid"``, ``"relu"`` or ``"tanh"``) and, if ``dropout > 0``, a Dropout;
    the last layer outputs logits (N, d_L). Inputs of shape (N, 1, 28, 28) or (N, 28, 28) are
    flattened to (N, 784). ``init``/``std``/``rng``/``seed`` are passed to each Linear (one
    generator draws all layers in order, so a seed fixes the whole network).
    ``[784, 10]`` is softmax regression, ``[784, 64, 10]`` the course's MLP (with sigmoid).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        init: str = "normal",
        std: float = 0.1,
        rng: RngLike = None,
        seed: int | None = None,
        dropout: float = 0.0,
        dtype: Any = np.float32,
    ) -> None:
        if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
            raise InputError(
                f"MLP: sizes must be a list of layer widths such as [784, 64, 10], got {sizes!r}"
            )
        sizes = list(sizes)
        if len(sizes) < 2:
            raise InputError(
                f"MLP: sizes needs at least an input and an output width, such as "
                f"[784, 10], got {sizes}"
            )
        for i, n in enumerate(sizes):
            if not is_integer(n) or n <= 0:
                raise InputError(
                    f"MLP: sizes[{i}] = {n!r}; every width must be a positive "
                    f"integer (sizes = {sizes})"
                )
        key = str(activation).lower()
        if key not in ACTIVATIONS:
            raise InputError(
                f"MLP: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        if str(init).lower() not in INITS:
            raise InputError(f"MLP: unknown init {init!r}; choose one of {', '.join(INITS)}")
        dropout = check_number("MLP", "dropout", dropout, 0, 1, high_open=True)
        gen = as_rng(rng, seed, who="MLP")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(int(n_in), int(n_out), init=init, std=std, rng=gen, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[key]())
                if dropout > 0:
                    layers.append(Dropout(dropout, rng=gen))
        super().__init__(layers)
        self.sizes: list[int] = [int(n) for n in sizes]
        self.activation = key
        self.dropout = float(dropout)

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        return super().forward(x)

    def extra_repr(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        return f"{sizes}, activation={self.activation!r}" + (
            f", dropout={self.dropout}" if self.dropout else ""
        )
