"""The derivative table: the reference solution (each backward returns dL/dinput)."""

import numpy as np


def mul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """d out/da = b, d out/db = a."""
    return g * b, g * a


def sigmoid_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """g s(z) (1 - s(z))."""
    s = 1 / (1 + np.exp(-z))
    return g * s * (1 - s)


def relu_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """g where z > 0, else 0."""
    return g * (z > 0)


def tanh_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """g (1 - tanh(z)^2)."""
    return g * (1 - np.tanh(z) ** 2)


def sum_backward(g: np.ndarray, a: np.ndarray, axis: int | None) -> np.ndarray:
    """g copied back along the summed axis."""
    g = np.asarray(g)
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, a.shape).copy()


def matmul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """dL/da = g b^T, dL/db = a^T g."""
    return g @ b.T, a.T @ g


def log_softmax_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """g - softmax(z) * sum(g) along the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return g - p * g.sum(axis=-1, keepdims=True)
