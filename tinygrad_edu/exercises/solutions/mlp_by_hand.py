"""The course's 784-64-10 sigmoid MLP by hand: the reference solution.

z1 = W1 x + b1      a1 = s(z1)      z2 = W2 a1 + b2      a2 = softmax(z2)      L = -log a2[y]

dz2 = a2 - t        dW2 = dz2 a1^T      db2 = dz2
da1 = W2^T dz2      dz1 = da1 a1 (1 - a1)
dW1 = dz1 x^T       db1 = dz1
"""

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + e^-z), elementwise."""
    return 1 / (1 + np.exp(-z))


class MLP:
    """The network's parameters and their gradient accumulators."""

    def __init__(self, n_in: int = 784, n_hidden: int = 64, n_out: int = 10, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, 0.1, (n_hidden, n_in))
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.normal(0, 0.1, (n_out, n_hidden))
        self.b2 = np.zeros(n_out)
        self.zero_grad()

    def zero_grad(self) -> None:
        self.W1_grad = np.zeros_like(self.W1)
        self.b1_grad = np.zeros_like(self.b1)
        self.W2_grad = np.zeros_like(self.W2)
        self.b2_grad = np.zeros_like(self.b2)

    def forward(self, x: np.ndarray) -> tuple:
        """(z1, a1, z2, a2) for one image."""
        z1 = self.W1 @ x + self.b1
        a1 = sigmoid(z1)
        z2 = self.W2 @ a1 + self.b2
        e = np.exp(z2 - z2.max())
        return z1, a1, z2, e / e.sum()

    def update_grad(self, x: np.ndarray, y: int) -> None:
        """Add the gradients of -log a2[y] for one image."""
        _, a1, _, a2 = self.forward(x)
        dz2 = a2.copy()
        dz2[y] -= 1
        dz1 = (self.W2.T @ dz2) * a1 * (1 - a1)
        self.W2_grad += np.outer(dz2, a1)
        self.b2_grad += dz2
        self.W1_grad += np.outer(dz1, x)
        self.b1_grad += dz1

    def update_params(self, lr: float, batch_size: int) -> None:
        """W <- W - lr * W_grad / batch_size; then zero the gradients."""
        step = lr / batch_size
        self.W1 -= step * self.W1_grad
        self.b1 -= step * self.b1_grad
        self.W2 -= step * self.W2_grad
        self.b2 -= step * self.b2_grad
        self.zero_grad()
