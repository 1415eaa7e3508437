"""One sigmoid neuron telling the digit 0 from the rest: the reference solution.

h = s(X w + b),  L = -(1/N) sum_n [t_n log h_n + (1 - t_n) log(1 - h_n)]
dL/dw = X^T (h - t) / N,   dL/db = mean(h - t)
"""

import numpy as np


def predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """h = s(X w + b), shape (N,)."""
    return 1 / (1 + np.exp(-(X @ w + b)))


def loss(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> float:
    """The mean binary cross-entropy."""
    h = predict(w, b, X)
    return float(-np.mean(t * np.log(h) + (1 - t) * np.log(1 - h)))


def gradient(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
    """(dL/dw, dL/db) = (X^T (h - t) / N, mean(h - t))."""
    delta = predict(w, b, X) - t
    return X.T @ delta / len(t), delta.mean()
