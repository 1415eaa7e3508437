"""The whole backward pass of the course's MLP, every gradient by hand.

A batch of N images, one per row of X (N, D), with labels y (N,) in 0 .. C-1:

    z1 = X W1^T + b1        W1 (H, D), b1 (H,)        z1 (N, H)
    h  = s(z1)              s(z) = 1 / (1 + e^-z)      h  (N, H)
    z2 = h W2^T + b2        W2 (C, H), b2 (C,)        z2 (N, C)
    p  = softmax(z2)        each row                   p  (N, C)
    L  = -(1/N) sum_n log p[n, y_n]                    a number

``forward`` computes the named values and the loss. ``backward`` returns dL/dv for every named
value v and every parameter, each of v's own shape, keyed by v's name: {"z2": dL/dz2,
"W2": dL/dW2, ...}. Derive each one from the ones after it, from the loss back (the chain
rule, one step at a time). The check compares every gradient and points at the first wrong
one; a gradient that is wrong only because an earlier one is wrong is reported as inheriting
its error.

Check your work with ``tinygrad-edu exercise check .`` in this folder.
"""

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + e^-z), elementwise (given)."""
    return 1 / (1 + np.exp(-z))


def forward(
    X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, y: np.ndarray
) -> dict:
    """{"z1": (N, H), "h": (N, H), "z2": (N, C), "loss": a float}: the network above on the
    batch X with labels y. Keep it stable: a large logit must not overflow."""
    raise NotImplementedError("forward")


def backward(
    X: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, y: np.ndarray
) -> dict:
    """{"z2", "W2", "b2", "h", "z1", "W1", "b1"}: dL/dv for each, of v's shape (dL/db2 is (C,),
    not (1, C)), in the order you derive them: from the loss back."""
    raise NotImplementedError("backward")
