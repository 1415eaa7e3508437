"""Ready-made networks: the course's small CNN (``tinygrad-edu train --model cnn``, the course's
experiments, ``examples/cnn_mnist.py``)::

    conv 5x5, 32 -> ReLU -> max-pool 2 -> conv 5x5, 64 -> ReLU -> max-pool 2 -> flatten (1024)
    -> linear 128 -> ReLU -> [dropout] -> linear 10        (N, 1, 28, 28) -> logits (N, 10)

184,586 parameters with the default sizes.
"""

from __future__ import annotations

import numpy as np

from .conv import Conv2d, MaxPool2d
from .layers import Dropout, Flatten, Linear, ReLU, Sequential
from .module import Module

__all__ = ["build_cnn"]


def build_cnn(
    channels: tuple[int, int] = (32, 64),
    hidden: int = 128,
    outputs: int = 10,
    dropout: float = 0.0,
    seed: int = 0,
) -> Sequential:
    """The CNN above for (N, 1, 28, 28) images with ``outputs`` logits (1 for one-vs-rest) and a
    Dropout of ``dropout`` before the last layer when > 0; one seed fixes every initial weight
    (convolutions: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); He, then Xavier for the linear layers)."""
    rng = np.random.default_rng(seed)
    c1, c2 = channels
    head: list[Module] = [Dropout(dropout, rng=rng)] if dropout > 0 else []
    return Sequential(
        Conv2d(1, c1, 5, rng=rng),  # (N, c1, 24, 24)
        ReLU(),
        MaxPool2d(2),  # (N, c1, 12, 12)
        Conv2d(c1, c2, 5, rng=rng),  # (N, c2, 8, 8)
        ReLU(),
        MaxPool2d(2),  # (N, c2, 4, 4)
        Flatten(),  # (N, 16 c2)
        Linear(16 * c2, hidden, init="he", rng=rng),
        ReLU(),
        *head,
        Linear(hidden, outputs, init="xavier", rng=rng),
    )
