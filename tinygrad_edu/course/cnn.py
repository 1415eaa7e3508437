"""The course's small CNN (``examples/cnn_mnist.py``, ``tinygrad-edu train --model cnn``)::

    conv 5x5, 32 -> ReLU -> max-pool 2 -> conv 5x5, 64 -> ReLU -> max-pool 2 -> flatten (1024)
    -> linear 128 -> ReLU -> [dropout] -> linear 10        (N, 1, 28, 28) -> logits (N, 10)

184,586 parameters with the default sizes.
"""

from __future__ import annotations

import numpy as np

from .. import nn

__all__ = ["build_cnn"]


def build_cnn(
    channels: tuple[int, int] = (32, 64),
    hidden: int = 128,
    outputs: int = 10,
    dropout: float = 0.0,
    seed: int = 0,
) -> nn.Sequential:
    """The CNN above for (N, 1, 28, 28) images with ``outputs`` logits (1 for one-vs-rest) and a
    Dropout of ``dropout`` before the last layer when > 0; one seed fixes every initial weight
    (convolutions: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); He, then Xavier for the linear layers)."""
    rng = np.random.default_rng(seed)
    c1, c2 = channels
    head: list[nn.Module] = [nn.Dropout(dropout, rng=rng)] if dropout > 0 else []
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, rng=rng),  # (N, c1, 24, 24)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, c1, 12, 12)
        nn.Conv2d(c1, c2, 5, rng=rng),  # (N, c2, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, c2, 4, 4)
        nn.Flatten(),  # (N, 16 c2)
        nn.Linear(16 * c2, hidden, init="he", rng=rng),
        nn.ReLU(),
        *head,
        nn.Linear(hidden, outputs, init="xavier", rng=rng),
    )
