"""The course's MLP by hand: 784-64-10, sigmoid hidden layer, softmax cross-entropy.

For one image x (n_in,) with label y (an int), with W1 (n_hidden, n_in), b1 (n_hidden,),
W2 (n_out, n_hidden), b2 (n_out,):

    z1 = W1 x + b1      a1 = s(z1)      z2 = W2 a1 + b2      a2 = softmax(z2)
    L  = -log a2[y]     (the cross-entropy of one image)

``update_grad`` adds dL/dW1, dL/db1, dL/dW2, dL/db2 of one image to W1_grad ... b2_grad, so
that after a batch of images they hold the sum over the batch; ``update_params`` then takes
one gradient-descent step with the batch's mean gradient. Once right, the check trains the
network on real digits.

Check your work with ``tinygrad-edu exercise check .`` in this folder; stuck on a part, ask
for its next hint with ``tinygrad-edu exercise hint . PART``.
"""

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + e^-z), elementwise (given)."""
    return 1 / (1 + np.exp(-z))


class MLP:
    """The network's parameters and their gradient accumulators."""

    def __init__(self, n_in: int = 784, n_hidden: int = 64, n_out: int = 10, seed: int = 0):
        """Weights N(0, 0.1^2), biases 0 (given)."""
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, 0.1, (n_hidden, n_in))
        self.b1 = np.zeros(n_hidden)
        self.W2 = rng.normal(0, 0.1, (n_out, n_hidden))
        self.b2 = np.zeros(n_out)
        self.zero_grad()

    def zero_grad(self) -> None:
        """Reset the accumulated gradients to zero (given)."""
        self.W1_grad = np.zeros_like(self.W1)
        self.b1_grad = np.zeros_like(self.b1)
        self.W2_grad = np.zeros_like(self.W2)
        self.b2_grad = np.zeros_like(self.b2)

    def forward(self, x: np.ndarray) -> tuple:
        """(z1, a1, z2, a2) for one image x (n_in,): shapes (n_hidden,) twice, (n_out,) twice.

        a2 = softmax(z2) = e^z2 / sum(e^z2), which must stay finite for large z2.
        """
        raise NotImplementedError("forward")

    def update_grad(self, x: np.ndarray, y: int) -> None:
        """Add the gradients of L = -log a2[y] for one image to W1_grad, b1_grad, W2_grad and
        b2_grad (+=: they accumulate over a batch).

        Derive them one step at a time, from the loss back to the input, each from the one
        before; each has the shape of its value:
            dL/dz2 (n_out,)
            dL/dW2 (n_out, n_hidden)    dL/db2 (n_out,)
            dL/da1 (n_hidden,)          dL/dz1 (n_hidden,)
            dL/dW1 (n_hidden, n_in)     dL/db1 (n_hidden,)
        """
        raise NotImplementedError("update_grad")

    def update_params(self, lr: float, batch_size: int) -> None:
        """One gradient-descent step with learning rate lr for W1, b1, W2 and b2, along the
        batch's mean gradient (W1_grad ... b2_grad hold sums over batch_size images); then reset
        the gradients to zero for the next batch."""
        raise NotImplementedError("update_params")
