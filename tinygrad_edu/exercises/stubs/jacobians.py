"""The Jacobians of the course's 784-64-10 sigmoid MLP, as explicit matrices.

For one image x (n_in,), with W1 (n_hidden, n_in), b1 (n_hidden,), W2 (n_out, n_hidden) and
b2 (n_out,):

    z1 = W1 x + b1      a1 = s(z1)      z2 = W2 a1 + b2      a2 = softmax(z2)

The Jacobian of u with respect to v has J[i, j] = d u_i / d v_j: one row per element of u, one
column per element of v, a matrix v flattened row by row (element W[j, k] is column
j * n_cols + k). Each function gets (x, W1, b1, W2, b2) and returns its Jacobian.

Check your work with ``tinygrad-edu exercise check .``: each is compared with the engine's
``gradcheck.jacobian``. Stuck on a part, ask for its next hint with
``tinygrad-edu exercise hint . PART``.
"""

import numpy as np


def forward(x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> tuple:
    """(z1, a1, z2, a2) for one image (given)."""
    z1 = W1 @ x + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = W2 @ a1 + b2
    e = np.exp(z2 - z2.max())
    return z1, a1, z2, e / e.sum()


def da2_db2(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """d a2 / d b2, (n_out, n_out): row i, column j holds d a2_i / d b2_j."""
    raise NotImplementedError("da2_db2")


def da2_dW2(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """d a2 / d W2, (n_out, n_out * n_hidden): column j * n_hidden + k is W2[j, k]."""
    raise NotImplementedError("da2_dW2")


def da2_da1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """d a2 / d a1, (n_out, n_hidden), a1 taken as the variable (z2 = W2 a1 + b2)."""
    raise NotImplementedError("da2_da1")


def da1_dz1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """d a1 / d z1, (n_hidden, n_hidden), at z1 = W1 x + b1."""
    raise NotImplementedError("da1_dz1")


def dz1_dW1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """d z1 / d W1, (n_hidden, n_hidden * n_in): column j * n_in + k is W1[j, k]."""
    raise NotImplementedError("dz1_dW1")
