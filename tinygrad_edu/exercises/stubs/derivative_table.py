"""The derivative table: the backward of seven ops, inside the real engine.

Each function gets g = dL/dout (the gradient arriving from above, of out's shape) and the op's
inputs, and returns dL/dinput for each input (a tuple in input order when there are two), each
of its input's shape: the vector-Jacobian product. Once they pass, the check builds an MLP from
ops whose backward is yours and trains it on real digits.

Check your work with ``tinygrad-edu exercise check .`` in this folder.
"""

import numpy as np


def mul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """out = a * b (elementwise, same shapes).  d out/da = b, d out/db = a."""
    raise NotImplementedError("mul_backward")


def sigmoid_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = s(z) = 1 / (1 + e^-z).  d out/dz = s(z) (1 - s(z)), at the input z."""
    raise NotImplementedError("sigmoid_backward")


def relu_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = max(z, 0).  d out/dz = 1 where z > 0, else 0."""
    raise NotImplementedError("relu_backward")


def tanh_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = tanh(z).  d out/dz = 1 - tanh(z)^2."""
    raise NotImplementedError("tanh_backward")


def sum_backward(g: np.ndarray, a: np.ndarray, axis: int | None) -> np.ndarray:
    """out = a.sum(axis) (axis None: every element; g is then a number).  Every a_i adds
    into one out_j with weight 1, so dL/da_i = g_j: g copied back along ``axis``, a's shape."""
    raise NotImplementedError("sum_backward")


def matmul_backward(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """out = a @ b, a (N, K), b (K, M), g (N, M).  out_nm = sum_k a_nk b_km:
    dL/da (N, K) = ?,  dL/db (K, M) = ?  (check the shapes)."""
    raise NotImplementedError("matmul_backward")


def log_softmax_backward(g: np.ndarray, z: np.ndarray) -> np.ndarray:
    """out = z - log sum_j e^z_j along the last axis.  d out_i / d z_j = delta_ij - p_j with
    p = softmax(z), so dL/dz = g - p * (sum of g along the last axis)."""
    raise NotImplementedError("log_softmax_backward")
