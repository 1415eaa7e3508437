"""Losses as modules: ``loss_fn = CrossEntropyLoss(); loss = loss_fn(logits, labels)``.

Each wraps the function of the same name in :mod:`tinygrad_edu.nn.functional`; ``reduction`` is
``"mean"`` (default), ``"sum"`` or ``"none"``.
"""

from __future__ import annotations

from typing import Any

from ..engine.tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Loss", "MSELoss", "NLLLoss"]


class Loss(Module):
    """Base of the loss modules: ``loss(input, target) -> Tensor``."""

    def __init__(self, reduction: str = "mean") -> None:
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits (N, C) and N labels or (N, C) target rows."""

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return F.cross_entropy(logits, targets, self.reduction)


class NLLLoss(Loss):
    """Negative log-likelihood from log-probabilities (N, C) and N labels."""

    def forward(self, log_probs: Any, targets: Any) -> Tensor:
        return F.nll_loss(log_probs, targets, self.reduction)


class MSELoss(Loss):
    """Mean squared error between equal shapes."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class BCELoss(Loss):
    """Binary cross-entropy of probabilities in [0, 1]."""

    def forward(self, probs: Any, targets: Any) -> Tensor:
        return F.binary_cross_entropy(probs, targets, self.reduction)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits (sigmoid fused in, stable)."""

    def forward(self, logits: Any, targets: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets, self.reduction)
