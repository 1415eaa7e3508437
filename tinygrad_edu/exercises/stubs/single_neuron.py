"""One sigmoid neuron telling the digit 0 from the rest, with dL/dw derived by hand.

For a batch X (N, D) of flattened images (D = 784, pixels in [0, 1]), targets t (N,) with
t_n = 1 for a 0 and 0 otherwise, weights w (D,) and a bias b (a number):

    h = s(X w + b),  s(z) = 1 / (1 + e^-z)                              (N,)
    L = -(1/N) sum_n [t_n log h_n + (1 - t_n) log(1 - h_n)]            a number

Derive dL/dw (D,) and dL/db (a number) by hand, and fill in the three functions with numpy.
Check your work with ``tinygrad-edu exercise check .`` in this folder; once the gradient is
right, the check trains the neuron on real digits with it. Stuck on a part, ask for its next
hint with ``tinygrad-edu exercise hint . PART``.
"""

import numpy as np


def predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    """h = s(X w + b): the probability that each image is a 0, shape (N,)."""
    raise NotImplementedError("predict")


def loss(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> float:
    """The mean binary cross-entropy L above."""
    raise NotImplementedError("loss")


def gradient(w: np.ndarray, b: float, X: np.ndarray, t: np.ndarray) -> tuple:
    """(dL/dw, dL/db), the gradient of the mean loss L above: shapes (D,) and () (a number),
    for w (D,), b a number, X (N, D) and t (N,)."""
    raise NotImplementedError("gradient")
