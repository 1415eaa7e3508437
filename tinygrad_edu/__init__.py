"""tinygrad_edu: a small, honest reverse-mode autodiff framework for teaching backpropagation."""

from . import gradcheck
from .engine import rule_math
from .engine.backprop import unbroadcast
from .engine.function import Function, InputError, ShapeError, is_grad_enabled, no_grad
from .engine.tensor import Tensor

__all__ = [
    "Function",
    "InputError",
    "ShapeError",
    "Tensor",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "rule_math",
    "unbroadcast",
]
__version__ = "0.1.0"
