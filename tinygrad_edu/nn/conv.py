"""Convolution and pooling layers on (N, C, H, W) images: ``Conv2d``, ``MaxPool2d``.

The math (and the derivatives) live in the ops ``Conv2d`` and ``MaxPool2d`` of
``tinygrad_edu/conv.py``; these are the functional forms and the modules, in PyTorch's layout: a
``Conv2d`` holds ``weight`` of shape (out_channels, in_channels, kh, kw) and ``bias`` of shape
(out_channels,).

>>> from tinygrad_edu import nn
>>> conv = nn.Conv2d(1, 32, 5, seed=0)              # (N, 1, 28, 28) -> (N, 32, 24, 24)
>>> pool = nn.MaxPool2d(2)                           # (N, 32, 24, 24) -> (N, 32, 12, 12)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import conv as conv_ops
from ..conv import as_pair
from ..engine.errors import check_integer
from ..engine.tensor import Tensor, as_tensor
from .init import RngLike, aligned_copy, as_rng
from .module import Module, Parameter

__all__ = ["Conv2d", "MaxPool2d", "conv2d", "max_pool2d"]

IntOrPair = int | tuple[int, int]


def conv2d(
    x: Any,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
) -> Tensor:
    """out[n, o, i, j] = b[o] + sum_{c,p,q} w[o, c, p, q] xpad[n, c, i sh + p, j sw + q].

    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or None -> (N, O, Ho, Wo) with
    Ho = (H + 2 ph - kh) // sh + 1 (PyTorch's ``F.conv2d``; the op is ``tinygrad_edu.conv.Conv2d``).
    """
    if bias is None:
        return conv_ops.Conv2d.apply(
            as_tensor(x), as_tensor(weight), stride=stride, padding=padding
        )
    return conv_ops.Conv2d.apply(
        as_tensor(x), as_tensor(weight), as_tensor(bias), stride=stride, padding=padding
    )


def max_pool2d(x: Any, kernel_size: IntOrPair, stride: IntOrPair | None = None) -> Tensor:
    """out[n, c, i, j] = max over the (kh, kw) window at (i sh, j sw): (N, C, H, W) ->
    (N, C, Ho, Wo), Ho = (H - kh) // sh + 1; stride defaults to kernel_size (the op
    ``tinygrad_edu.conv.MaxPool2d``).
    """
    return conv_ops.MaxPool2d.apply(as_tensor(x), kernel_size=kernel_size, stride=stride)


def _pair(p: tuple[int, int]) -> str:
    """(h, w) as ``hxw``."""
    return f"{p[0]}x{p[1]}"


class Conv2d(Module):
    """2-D convolution (cross-correlation): (N, in_channels, H, W) -> (N, out_channels, Ho, Wo),
    Ho = (H + 2 ph - kh) // sh + 1.

    ``weight`` (out_channels, in_channels, kh, kw) and ``bias`` (out_channels,) are initialised
    like PyTorch's default: U(-a, a) with a = 1 / sqrt(fan_in), fan_in = in_channels kh kw
    (``kaiming_uniform_`` with a = sqrt(5), which gives this bound; the bias uses the same a).
    ``rng`` (a numpy Generator or int seed) or ``seed`` makes the draw reproducible; parameters
    are float32 (``dtype``) and 64-byte aligned.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        bias: bool = True,
        rng: RngLike = None,
        seed: int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        self.in_channels = check_integer("Conv2d", "in_channels", in_channels, 1)
        self.out_channels = check_integer("Conv2d", "out_channels", out_channels, 1)
        self.kernel_size = as_pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = as_pair("Conv2d", "stride", stride, 1)
        self.padding = as_pair("Conv2d", "padding", padding, 0)
        gen = as_rng(rng, seed, who="Conv2d")
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(aligned_copy(gen.uniform(-bound, bound, shape), dtype))
        self.bias = (
            Parameter(aligned_copy(gen.uniform(-bound, bound, self.out_channels), dtype))
            if bias
            else None
        )

    def forward(self, x: Any) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def summary_settings(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels} channels, "
            f"kernel {_pair(self.kernel_size)}, stride {_pair(self.stride)}, "
            f"padding {_pair(self.padding)}" + ("" if self.bias is not None else ", no bias")
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
            + ("" if self.bias is not None else ", bias=False")
        )


class MaxPool2d(Module):
    """Max over (kh, kw) windows at stride (sh, sw) (default: the kernel size, no overlap):
    (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1). No parameters."""

    def __init__(self, kernel_size: IntOrPair, stride: IntOrPair | None = None) -> None:
        self.kernel_size = as_pair("MaxPool2d", "kernel_size", kernel_size, 1)
        self.stride = (
            self.kernel_size if stride is None else as_pair("MaxPool2d", "stride", stride, 1)
        )

    def forward(self, x: Any) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride)

    def summary_settings(self) -> str:
        return f"kernel {_pair(self.kernel_size)}, stride {_pair(self.stride)}, padding 0x0"

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=(0, 0)"
