"""Softmax cross-entropy, stable, and its gradient h - t: the reference solution.

For a batch of N rows of logits z (N, C) and integer labels y (N,):

    h = softmax(z),  h[n, c] = e^z[n, c] / sum_k e^z[n, k]            (N, C)
    L = -(1/N) sum_n log h[n, y_n]                                     a number
    dL/dz = (h - t) / N,   t[n, c] = 1 if c == y_n else 0 (one-hot)    (N, C)
"""

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """h = softmax(z) row by row, shifted by each row's max so that e^x never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log h = (z - m) - log sum_k e^(z_k - m), m the row max."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """L = -(1/N) sum_n log softmax(z)[n, y_n]."""
    n = z.shape[0]
    return float(-log_softmax(z)[np.arange(n), y].mean())


def cross_entropy_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dz = (h - t) / N."""
    n, classes = z.shape
    t = np.eye(classes)[y]
    return (softmax(z) - t) / n
