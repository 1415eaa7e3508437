"""The derivative table: the backward of seven ops, inside the real engine.

Each function gets g = dL/dout (the gradient arriving from above, of out's shape) and the op's
inputs, and returns dL/dinput for each input (a tuple in input order when there are two), each
of its input's shape: the vector-Jacobian product. Derive each rule from the op's forward
formula, given in its docstring. Once they pass, the check builds an MLP from ops whose
backward is yours and trains it on real digits.

Check your work with ``tinygrad-edu exercise check .`` in this folder; stuck on a part, ask
for its next hint with ``tinygrad-edu exercise hint . PART``.
"""

import numpy as np


def mul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """out = a * b, elementwise; a, b, g and out all have one shape.

    Returns (dL/da, dL/db), of a's and b's shapes.
    """
    raise NotImplementedError("mul_backward")


def sigmoid_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = s(z) = 1 / (1 + e^-z), elementwise; g has z's shape.

    Returns dL/dz, of z's shape. You get the input z, not the output.
    """
    raise NotImplementedError("sigmoid_backward")


def relu_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = max(z, 0), elementwise; g has z's shape.

    Returns dL/dz, of z's shape.
    """
    raise NotImplementedError("relu_backward")


def tanh_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = tanh(z), elementwise; g has z's shape.

    Returns dL/dz, of z's shape. You get the input z, not the output.
    """
    raise NotImplementedError("tanh_backward")


def sum_backward(g: np.ndarray, a: np.ndarray, axis: int | None) -> np.ndarray:
    """out = a.sum(axis): g has out's shape, a's shape without ``axis`` (with axis None,
    the sum of every element, g is a single number).

    Returns dL/da, of a's shape.
    """
    raise NotImplementedError("sum_backward")


def matmul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """out = a @ b, out_nm = sum_k a_nk b_km, with a (N, K), b (K, M), g and out (N, M).

    Returns (dL/da, dL/db), shapes (N, K) and (K, M).
    """
    raise NotImplementedError("matmul_backward")


def log_softmax_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = z - log sum_j e^z_j along the last axis (each row on its own); g has z's shape.

    Returns dL/dz, of z's shape.
    """
    raise NotImplementedError("log_softmax_backward")
