"""Softmax cross-entropy, stable, and its gradient h - t.

For a batch of N rows of logits z (N, C) and integer labels y (N,):

    h = softmax(z),  h[n, c] = e^z[n, c] / sum_k e^z[n, k]            (N, C)
    L = -(1/N) sum_n log h[n, y_n]                                     a number
    dL/dz = (h - t) / N,   t[n, c] = 1 if c == y_n else 0 (one-hot)    (N, C)

Fill in the three functions with numpy. Check your work with
``tinygrad-edu exercise check .`` (or ``python -m pytest``) in this folder.
"""

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """h = softmax(z) row by row, z (N, C) -> h (N, C), each row summing to 1.

    Stable: e^z overflows for z > 709 (float64), but softmax(z) = softmax(z - m) for any m
    per row, so subtract each row's maximum first. The check tries z + 1000.
    """
    raise NotImplementedError("softmax")


def cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """L = -(1/N) sum_n log softmax(z)[n, y_n]: the mean over the batch, z (N, C), y (N,).

    Stable: log softmax(z)[n, c] = (z[n, c] - m_n) - log sum_k e^(z[n, k] - m_n), with m_n the
    row max; never take the log of a probability that rounded to 0.
    """
    raise NotImplementedError("cross_entropy")


def cross_entropy_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dz = (h - t) / N with h = softmax(z) and t the one-hot rows of y: shape (N, C).

    Derive it: for one row, L_n = -z[n, y_n] + log sum_k e^z[n, k], so
    dL_n/dz[n, c] = -t[n, c] + h[n, c]; the mean over the batch divides by N.
    """
    raise NotImplementedError("cross_entropy_grad")
