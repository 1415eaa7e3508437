"""The Jacobians of the course's 784-64-10 sigmoid MLP, as explicit matrices: the reference
solution."""

import numpy as np


def forward(x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> tuple:
    """(z1, a1, z2, a2) for one image."""
    z1 = W1 @ x + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = W2 @ a1 + b2
    e = np.exp(z2 - z2.max())
    return z1, a1, z2, e / e.sum()


def da2_db2(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """diag(a2) - a2 a2^T."""
    a2 = forward(x, W1, b1, W2, b2)[3]
    return np.diag(a2) - np.outer(a2, a2)


def da2_dW2(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """(softmax Jacobian) (I kron a1^T): column j * n_hidden + k is S[:, j] a1_k."""
    a1 = forward(x, W1, b1, W2, b2)[1]
    return np.kron(da2_db2(x, W1, b1, W2, b2), a1[None, :])


def da2_da1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """(softmax Jacobian) W2."""
    return da2_db2(x, W1, b1, W2, b2) @ W2


def da1_dz1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """diag(a1 (1 - a1))."""
    a1 = forward(x, W1, b1, W2, b2)[1]
    return np.diag(a1 * (1 - a1))


def dz1_dW1(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """I kron x^T: row i holds x in the columns of W1's row i."""
    return np.kron(np.eye(W1.shape[0]), x[None, :])
