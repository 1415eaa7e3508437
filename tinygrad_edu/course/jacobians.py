"""Hand-derived Jacobians and the hand-written backward pass of the course's 784-64-10 sigmoid MLP.

Everything here is what autograd computes, written out by hand so it can be read next to the
derivation in ``docs/backprop.md`` and checked against :func:`tinygrad_edu.gradcheck.jacobian`.
It computes with numpy arrays only, never with Tensors or autograd; the two things it takes
from the package are ``nn.functional.one_hot`` (the one-hot rows of integer labels) and the
engine's ``ShapeError`` (a ``ValueError``, raised for arguments of the wrong shapes).

Layout: a Jacobian ``J`` of ``f: R^n -> R^m`` has ``J[i, j] = d f_i / d x_j``, one row per
element of the output and one column per element of the input, both flattened in C order
(exactly the layout of ``gradcheck.jacobian``). A gradient ``dL/dx`` of a scalar loss has the
shape of ``x``.

Notation (the course's MLP, PyTorch's ``Linear`` layout, a batch of N rows)::

    x   (N, n_in)        input batch                y   (N,)  integer labels
    W1  (hidden, n_in)   b1 (hidden,)               z1 = x W1^T + b1        (N, hidden)
                                                    h  = s(z1)              (N, hidden)
    W2  (classes, hidden) b2 (classes,)             z2 = h W2^T + b2        (N, classes)
                                                    p  = softmax(z2)        (N, classes)
    loss = -(1/N) sum_n log p[n, y_n]

with s(z) = 1 / (1 + e^-z) the logistic sigmoid, applied elementwise.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..engine.function import ShapeError
from ..nn import functional

__all__ = [
    "LinearJacobians",
    "cross_entropy",
    "cross_entropy_grad",
    "linear_jacobians",
    "log_softmax",
    "log_softmax_jacobian",
    "mlp_forward",
    "mlp_forward_backward",
    "one_hot",
    "relu_jacobian",
    "sigmoid",
    "sigmoid_jacobian",
    "softmax",
    "softmax_jacobian",
]


# --------------------------------------------------------------------------- forward helpers
def sigmoid(z: np.ndarray) -> np.ndarray:
    """s(z) = 1 / (1 + e^-z), elementwise, without overflow (e^-|z| is always in (0, 1])."""
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """log p = z - log sum_j e^(z_j), computed as (z - m) - log sum e^(z - m) with m = max z."""
    z = np.asarray(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """p_i = e^(z_i) / sum_j e^(z_j) along ``axis``."""
    return np.exp(log_softmax(z, axis))


def one_hot(y: np.ndarray, classes: int, dtype: Any = np.float64) -> np.ndarray:
    """Y[n, c] = 1 if y_n = c else 0: shape (N, classes) from N integer labels (float64)."""
    return functional.one_hot(y, classes, dtype)


def _targets(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Targets Y of shape z.shape (N, C): one-hot rows from integer labels, or given as is."""
    y = np.asarray(y)
    if y.ndim == 1 and y.dtype.kind in "iu":
        if y.shape[0] != z.shape[0]:
            raise ShapeError(f"cross_entropy: {y.shape[0]} labels for logits of shape {z.shape}")
        return one_hot(y, z.shape[1], dtype=z.dtype)
    if y.shape != z.shape:
        raise ShapeError(
            f"cross_entropy: targets must be {z.shape[0]} integer labels or rows of shape "
            f"{z.shape}, got {y.dtype} {y.shape}"
        )
    return y


def _one_sample_as_batch(a: Any, y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """(A, y, single): one sample a (C,) with one label (or target row) becomes A (1, C), y
    (1,) (or (1, C)); a batch is returned as it is."""
    a, y = np.asarray(a), np.asarray(y)
    if a.ndim == 1:
        return a[None, :], (y[None] if y.ndim == 0 else y[None, :]), True
    return a, y, False


def _batch(z: np.ndarray, y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """(Z, y, single) for the cross-entropy of logits z (N, C) or of one sample z (C,)."""
    z, y, single = _one_sample_as_batch(z, y)
    if z.ndim != 2:
        raise ShapeError(f"cross_entropy: logits must have shape (N, C) or (C,), got {z.shape}")
    return z, y, single


def cross_entropy(z: np.ndarray, y: Any) -> float:
    """L = -(1/N) sum_n sum_c Y[n, c] log softmax(z_n)_c: the mean cross-entropy of logits z.

    ``y`` holds N integer labels (Y is then one-hot) or target rows of shape (N, C); a single
    sample is a vector z (C,) with one label.
    """
    z, y, _ = _batch(z, y)
    Y = _targets(z, y)
    return float(-(Y * log_softmax(z, axis=1)).sum() / z.shape[0])


# --------------------------------------------------------------------------- Jacobians
class LinearJacobians(NamedTuple):
    """The Jacobians of z = x W^T + b with respect to x, W and b, in the order of the arguments.

    Unpack it (``Jx, JW, Jb = linear_jacobians(x, W, b)``, the order of ``gradcheck.jacobian``'s
    list) or index it by name (``J.W``, ``J["W"]``, ``J["dz/dW"]``).
    """

    x: np.ndarray
    W: np.ndarray
    b: np.ndarray | None

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            name = key.removeprefix("dz/d").removeprefix("dz_d").removeprefix("d")
            if name not in self._fields:
                raise KeyError(f"linear_jacobians: no Jacobian named {key!r} (use x, W or b)")
            return getattr(self, name)
        return tuple.__getitem__(self, key)


def linear_jacobians(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> LinearJacobians:
    """Jacobians of the linear layer z = x W^T + b, x (N, n_in) or (n_in,), W (out, n_in), b (out,).

    With z[n, o] = sum_i x[n, i] W[o, i] + b[o]:

    * dz/dx:  d z[n, o] / d x[m, i] = delta_nm W[o, i]      -> kron(I_N, W),  (N out, N n_in)
    * dz/dW:  d z[n, o] / d W[p, i] = delta_op x[n, i]      ->                (N out, out n_in)
    * dz/db:  d z[n, o] / d b[p]    = delta_op              -> N stacked I_out (N out, out)

    ``b`` may be None (a layer without bias): its Jacobian is then None.
    """
    x, W = np.asarray(x), np.asarray(W)
    if W.ndim != 2 or x.ndim not in (1, 2) or x.shape[-1] != W.shape[1]:
        raise ShapeError(
            f"linear_jacobians: z = x W^T + b needs x (N, n_in) or (n_in,) and W (out, n_in), "
            f"got x {x.shape} and W {W.shape}"
        )
    if b is not None and np.shape(b) != (W.shape[0],):
        raise ShapeError(f"linear_jacobians: b must have shape ({W.shape[0]},), got {np.shape(b)}")
    dtype = np.result_type(x, W, *(() if b is None else (np.asarray(b),)))
    X = x.reshape(-1, x.shape[-1])
    n, out = X.shape[0], W.shape[0]
    eye_out = np.eye(out, dtype=dtype)
    dz_dx = np.kron(np.eye(n, dtype=dtype), W).astype(dtype, copy=False)
    dz_dW = np.einsum("op,ni->nopi", eye_out, X).reshape(n * out, out * X.shape[1]).astype(dtype)
    dz_db = None if b is None else np.tile(eye_out, (n, 1))
    return LinearJacobians(dz_dx, dz_dW, dz_db)


def sigmoid_jacobian(z: np.ndarray) -> np.ndarray:
    """d s(z)_i / d z_j = delta_ij s(z_i) (1 - s(z_i)):  diag(s (1 - s)), any shape of z."""
    s = sigmoid(np.asarray(z)).reshape(-1)
    return np.diag(s * (1 - s))


def relu_jacobian(z: np.ndarray) -> np.ndarray:
    """d relu(z)_i / d z_j = delta_ij [z_i > 0]:  diag(1[z > 0]) (0 at the kink z = 0)."""
    z = np.asarray(z)
    return np.diag((z.reshape(-1) > 0).astype(z.dtype if z.dtype.kind == "f" else np.float64))


def _per_row(z: np.ndarray, block: Any) -> np.ndarray:
    """Block-diagonal Jacobian of a function applied to each row z[..., :] independently."""
    z = np.asarray(z)
    if z.ndim == 0:
        raise ShapeError("softmax: needs at least one axis, got a scalar")
    rows = z.reshape(-1, z.shape[-1])
    r, c = rows.shape
    J = np.zeros((r * c, r * c), dtype=np.result_type(z.dtype, np.float32))
    for k, row in enumerate(rows):
        J[k * c : (k + 1) * c, k * c : (k + 1) * c] = block(row)
    return J


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """d p_i / d z_j = p_i (delta_ij - p_j):  diag(p) - p p^T, with p = softmax(z).

    Softmax acts along the last axis, so for z of shape (..., C) the Jacobian is block
    diagonal: one C x C block per row.
    """

    def block(row: np.ndarray) -> np.ndarray:
        p = softmax(row)
        return np.diag(p) - np.outer(p, p)

    return _per_row(z, block)


def log_softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """d log p_i / d z_j = delta_ij - p_j:  I - 1 p^T (row i is e_i - p), along the last axis."""

    def block(row: np.ndarray) -> np.ndarray:
        p = softmax(row)
        return np.eye(p.size, dtype=p.dtype) - p[None, :]

    return _per_row(z, block)


def cross_entropy_grad(z: np.ndarray, y: Any) -> np.ndarray:
    """dL/dz = (p - Y) / N for the mean cross-entropy L of logits z (N, C), p = softmax(z).

    Per sample, L_n = -log p[n, y_n] = -z[n, y_n] + log sum_c e^(z[n, c]), so
    d L_n / d z[n, c] = p[n, c] - Y[n, c]; the mean divides by N. Shape: that of z (a single
    sample z (C,) with one label gives p - y).
    """
    Z, y, single = _batch(z, y)
    g = (softmax(Z, axis=1) - _targets(Z, y)) / Z.shape[0]
    return g[0] if single else g


# --------------------------------------------------------------------------- the course's MLP
def mlp_forward(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z1 = x W1^T + b1,  h = s(z1),  z2 = h W2^T + b2; returns (z1, h, z2)."""
    z1 = x @ W1.T + b1
    h = sigmoid(z1)
    z2 = h @ W2.T + b2
    return z1, h, z2


def mlp_forward_backward(
    x: np.ndarray,
    y: Any,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
) -> tuple[float, dict[str, np.ndarray]]:
    """Forward and backward of the sigmoid MLP by hand (the course's ``update_grad``).

    Forward::

        z1 = x W1^T + b1    h = s(z1)    z2 = h W2^T + b2    loss = -(1/N) sum_n log p[n, y_n]

    Backward, one chain-rule step per line (each a vector-Jacobian product)::

        dz2 = (p - Y) / N                 (N, classes)    cross-entropy after softmax
        dW2 = dz2^T h                     (classes, hidden)
        db2 = sum_n dz2[n]                (classes,)
        dh  = dz2 W2                      (N, hidden)
        dz1 = dh * h * (1 - h)            (N, hidden)     s'(z1) = s (1 - s), elementwise
        dW1 = dz1^T x                     (hidden, n_in)
        db1 = sum_n dz1[n]                (hidden,)

    ``x`` is (N, n_in) with N integer labels ``y`` (or one-hot rows (N, classes)); a single
    sample is x (n_in,) with one label. Returns ``(loss, {"W1": dW1, "b1": db1, "W2": dW2,
    "b2": db2})``, each gradient of its parameter's shape and dtype.
    """
    x, y, W1, b1, W2, b2 = _mlp_arguments(x, y, W1, b1, W2, b2)
    n = x.shape[0]
    # forward
    _, h, z2 = mlp_forward(x, W1, b1, W2, b2)
    Y = _targets(z2, y)
    logp = log_softmax(z2, axis=1)
    loss = float(-(Y * logp).sum() / n)
    # backward, layer by layer
    dz2 = (np.exp(logp) - Y) / n
    dW2 = dz2.T @ h
    db2 = dz2.sum(axis=0)
    dh = dz2 @ W2
    dz1 = dh * h * (1 - h)
    dW1 = dz1.T @ x
    db1 = dz1.sum(axis=0)
    grads = (("W1", dW1, W1), ("b1", db1, b1), ("W2", dW2, W2), ("b2", db2, b2))
    return loss, {name: g.astype(param.dtype, copy=False) for name, g, param in grads}


def _mlp_arguments(x: Any, y: Any, *params: Any) -> tuple[np.ndarray, ...]:
    """``(x, y, W1, b1, W2, b2)`` as arrays, a single sample as a batch of one; ShapeError
    unless x (N, n_in), W1 (hidden, n_in), b1 (hidden,), W2 (classes, hidden), b2 (classes,)."""
    x, y, _ = _one_sample_as_batch(x, y)
    W1, b1, W2, b2 = (np.asarray(a) for a in params)
    hidden, n_in = W1.shape
    classes = W2.shape[0]
    if x.ndim != 2 or x.shape[1] != n_in or W2.shape != (classes, hidden):
        raise ShapeError(
            f"mlp_forward_backward: need x (N, n_in), W1 (hidden, n_in), W2 (classes, hidden); "
            f"got x {x.shape}, W1 {W1.shape}, W2 {W2.shape}"
        )
    if b1.shape != (hidden,) or b2.shape != (classes,):
        raise ShapeError(
            f"mlp_forward_backward: need b1 ({hidden},) and b2 ({classes},), "
            f"got {b1.shape} and {b2.shape}"
        )
    return x, y, W1, b1, W2, b2
