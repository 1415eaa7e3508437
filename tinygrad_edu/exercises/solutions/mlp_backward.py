"""The whole backward pass of the course's MLP: the reference solution."""

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + e^-z), elementwise."""
    return 1 / (1 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    """Each row's softmax, with the row max subtracted first."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forward(
    X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, y: np.ndarray
) -> dict:
    """The named values and the mean cross-entropy."""
    z1 = X @ W1.T + b1
    h = sigmoid(z1)
    z2 = h @ W2.T + b2
    shifted = z2 - z2.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(len(y)), y].mean()
    return {"z1": z1, "h": h, "z2": z2, "loss": float(loss)}


def backward(
    X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, y: np.ndarray
) -> dict:
    """dL/dz2 = (p - t) / N, then each gradient from the ones after it."""
    v = forward(X, W1, b1, W2, b2, y)
    n = len(y)
    dz2 = softmax(v["z2"])
    dz2[np.arange(n), y] -= 1  # p - t, t the one-hot labels
    dz2 /= n
    dh = dz2 @ W2
    dz1 = dh * v["h"] * (1 - v["h"])
    return {
        "z2": dz2,
        "W2": dz2.T @ v["h"],
        "b2": dz2.sum(axis=0),
        "h": dh,
        "z1": dz1,
        "W1": dz1.T @ X,
        "b1": dz1.sum(axis=0),
    }
