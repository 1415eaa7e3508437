"""Softmax cross-entropy, stable, and its gradient.

For a batch of N rows of logits z (N, C) and integer labels y (N,), each in 0 .. C - 1:

    h = softmax(z),  h[n, c] = e^z[n, c] / sum_k e^z[n, k]            (N, C)
    L = -(1/N) sum_n log h[n, y_n]                                     a number

Fill in the three functions with numpy; the third is dL/dz, which you derive by hand. Check
your work with ``tinygrad-edu exercise check .`` (or ``python -m pytest``) in this folder;
stuck on a part, ask for its next hint with ``tinygrad-edu exercise hint . PART``.
"""

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """h = softmax(z) row by row, z (N, C) -> h (N, C), each row summing to 1.

    It must stay finite for large logits: e^z overflows for z > 709 (float64), and the check
    also tries z + 1000.
    """
    raise NotImplementedError("softmax")


def cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """L = -(1/N) sum_n log softmax(z)[n, y_n]: the mean over the batch, z (N, C), y (N,).

    Returns a number, finite for large logits too (the check tries z + 1000).
    """
    raise NotImplementedError("cross_entropy")


def cross_entropy_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dz, the gradient of the mean loss L above: z (N, C), y (N,) -> (N, C).

    Finite for large logits too (the check tries z + 1000).
    """
    raise NotImplementedError("cross_entropy_grad")
