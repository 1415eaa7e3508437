"""Optimisers: SGD (with momentum, Nesterov, weight decay) and Adam, PyTorch's conventions.

Each ``step()`` updates every parameter's ``.data`` in place from its ``.grad`` (parameters whose
``.grad`` is None are skipped, and ``.grad`` itself is never changed). State (momentum buffers,
Adam's moments) and work arrays are preallocated and 64-byte aligned; the one exception is the
final ``lr * g`` of SGD, left to a numpy temporary (no slower, see ``SGD._update``).
``lr`` and the other hyperparameters are attributes that may be changed between steps (e.g. to
decay the learning rate). ``state_dict()`` / ``load_state_dict()`` save and restore the
hyperparameters and per-parameter state (momentum buffers, Adam moments, step counts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .engine.errors import ShapeError, check_number
from .engine.tensor import Tensor
from .nn.init import aligned_empty, aligned_zeros

__all__ = ["MOMENTUM", "OPTIMIZERS", "SGD", "Adam", "Optimizer", "make_optimizer"]


class Optimizer:
    """Base class: holds the parameters, ``zero_grad()``, and the state-dict plumbing.

    Subclasses list their hyperparameter names in ``hyperparameters`` and their per-parameter
    state arrays in ``state_names``, and implement ``_update(i, p, grad)``.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        who = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{who}: params must be an iterable of tensors (e.g. "
                "model.parameters()), got a single Tensor"
            )
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()  # a Module
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{who}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{who}: params[{i}] is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or p.dtype.kind != "f":
                raise ValueError(f"{who}: params[{i}] (shape {p.shape}) does not require grad")
            if id(p) in seen:
                raise ValueError(f"{who}: params[{i}] (shape {p.shape}) appears twice")
            seen.add(id(p))
        self.lr = check_number(who, "lr", lr, 0)
        self.steps = 0  # calls of step()
        # per parameter: its update count (Adam's t) and named state arrays, made on first use
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self._scratch: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        """The learning rate; validated whenever it is set (e.g. by a learning-rate schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_number(type(self).__name__, "lr", value, 0)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (the next backward stores fresh gradients)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (a gradient that is a Tensor,
        after ``backward(create_graph=True)``, is used by its values)."""
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            if isinstance(g, Tensor):
                g = g.data
            if g.shape != p.data.shape:
                raise ShapeError(
                    f"{type(self).__name__}.step: params[{i}] has shape "
                    f"{p.data.shape} but its grad has shape {g.shape}"
                )
            w = p.data
            self._update(i, w, g)  # in place
            p.data = w  # a new version: a graph that saved the old values refuses to backprop
        self.steps += 1

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _work(self, i: int, w: np.ndarray, name: str) -> np.ndarray:
        """Parameter i's work array ``name``, like w: preallocated and 64-byte aligned, so an
        update allocates nothing (see ``nn.init`` for what alignment is worth)."""
        buf = self._scratch[i].get(name)
        if buf is None or buf.dtype != w.dtype:
            buf = self._scratch[i][name] = aligned_empty(w.shape, w.dtype)
        return buf

    def _plus_weight_decay(self, i: int, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """g + weight_decay * w, in a work array (``p.grad`` itself is never changed)."""
        if not self.weight_decay:
            return g
        out = self._work(i, w, "decayed")
        np.multiply(w, self.weight_decay, out=out)
        out += g
        return out

    def _buffer(self, i: int, name: str, w: np.ndarray) -> np.ndarray:
        """The state array ``name`` of parameter i (aligned zeros, made on first use)."""
        buf = self.state[i].get(name)
        if buf is None:
            buf = self.state[i][name] = aligned_zeros(w.shape, w.dtype)
        return buf

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """``{"type", "hyperparameters": {...}, "steps", "state": [per-parameter dict]}``: plain
        Python numbers and copies of numpy arrays."""
        return {
            "type": type(self).__name__,
            "hyperparameters": {k: getattr(self, k) for k in self.hyperparameters},
            "steps": self.steps,
            "state": [
                {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                for s in self.state
            ],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (same optimiser type, same parameters)."""
        who = f"{type(self).__name__}.load_state_dict"
        for key in ("type", "hyperparameters", "state"):
            if key not in state:
                raise KeyError(f"{who}: missing key {key!r}")
        if state["type"] != type(self).__name__:
            raise ValueError(f"{who}: the state dict is for {state['type']}")
        per_param = list(state["state"])
        if len(per_param) != len(self.params):
            raise ValueError(
                f"{who}: the state dict has {len(per_param)} parameters, this "
                f"optimiser {len(self.params)}"
            )
        new_state: list[dict[str, Any]] = []
        for i, (p, s) in enumerate(zip(self.params, per_param, strict=True)):
            entry: dict[str, Any] = {}
            for k, v in s.items():
                if k in self.state_names:
                    arr = np.asarray(v)
                    if arr.shape != p.data.shape:
                        raise ShapeError(
                            f"{who}: state[{i}][{k!r}] has shape {arr.shape}, "
                            f"params[{i}] has shape {p.data.shape}"
                        )
                    buf = aligned_empty(p.data.shape, p.data.dtype)
                    np.copyto(buf, arr, casting="unsafe")
                    entry[k] = buf
                elif k == "step":
                    entry[k] = int(v)
                else:
                    raise KeyError(f"{who}: unknown state entry {k!r} for params[{i}]")
            new_state.append(entry)
        hyper = dict(state["hyperparameters"])
        for k in self.hyperparameters:
            if k not in hyper:
                raise KeyError(f"{who}: missing hyperparameter {k!r}")
        self._set_hyperparameters(**hyper)
        self.state = new_state
        self.steps = int(state.get("steps", 0))

    def _set_hyperparameters(self, **hyper: Any) -> None:
        for k, v in hyper.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} tensors, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's conventions. Per step, for each w with grad g:

    g <- g + weight_decay * w                         (L2 penalty)
    b <- g  on the first step,  else  b <- momentum * b + (1 - dampening) * g
    g <- g + momentum * b  if nesterov,  else  g <- b  (when momentum > 0)
    w <- w - lr * g
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_names = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        dampening: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self._set_hyperparameters(
            momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov
        )

    def _set_hyperparameters(self, **hyper: Any) -> None:
        who = type(self).__name__
        if "lr" in hyper:
            self.lr = hyper["lr"]
        self.momentum = check_number(who, "momentum", hyper["momentum"], 0)
        self.dampening = check_number(who, "dampening", hyper["dampening"], 0, 1)
        self.weight_decay = check_number(who, "weight_decay", hyper["weight_decay"], 0)
        self.nesterov = bool(hyper["nesterov"])
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"{who}: nesterov needs momentum > 0 and dampening = 0, got "
                f"momentum={self.momentum}, dampening={self.dampening}"
            )

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        g = self._plus_weight_decay(i, w, g)  # g <- g + weight_decay w
        if self.momentum:
            b = self._momentum(i, w, g)  # b <- g, then b <- momentum b + (1 - dampening) g
            g = _plus_scaled(g, self.momentum, b, self._work(i, w, "tmp")) if self.nesterov else b
        # w <- w - lr g, lr g in a numpy temporary: no faster through a preallocated work array
        # for the MLP's parameters (benchmarks/speed_helpers.py, "SGD" row)
        w -= self.lr * g

    def _momentum(self, i: int, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The momentum buffer b, updated in place: b <- g on the first step, then
        b <- momentum b + (1 - dampening) g."""
        b = self.state[i].get("momentum_buffer")
        if b is None:
            b = self._buffer(i, "momentum_buffer", w)
            np.copyto(b, g)
        else:
            _scale_add(b, self.momentum, g, 1 - self.dampening, self._work(i, w, "tmp"))
        return b


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), PyTorch's conventions. Per step t, for each w with grad g:

        g <- g + weight_decay * w                    (L2 penalty, as torch.optim.Adam)
        m <- beta1 m + (1 - beta1) g                 v <- beta2 v + (1 - beta2) g^2
        w <- w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    with m = v = 0 before the first step and t counted per parameter.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self._set_hyperparameters(betas=betas, eps=eps, weight_decay=weight_decay)

    def _set_hyperparameters(self, **hyper: Any) -> None:
        who = type(self).__name__
        if "lr" in hyper:
            self.lr = hyper["lr"]
        betas = hyper["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check_number(who, "betas[0]", betas[0], 0, 1, high_open=True),
            check_number(who, "betas[1]", betas[1], 0, 1, high_open=True),
        )
        self.eps = check_number(who, "eps", hyper["eps"], 0)
        self.weight_decay = check_number(who, "weight_decay", hyper["weight_decay"], 0)

    def _update(self, i: int, w: np.ndarray, g: np.ndarray) -> None:
        beta1, beta2 = self.betas
        t = self.state[i]["step"] = self.state[i].get("step", 0) + 1
        g = self._plus_weight_decay(i, w, g)  # g <- g + weight_decay w
        m, v = self._buffer(i, "exp_avg", w), self._buffer(i, "exp_avg_sq", w)
        tmp = self._work(i, w, "tmp")
        _scale_add(m, beta1, g, 1 - beta1, tmp)  # m <- beta1 m + (1 - beta1) g
        _scale_add(v, beta2, np.multiply(g, g, out=tmp), 1 - beta2, tmp)  # v <- ... g^2
        lr_t = self.lr / (1 - beta1**t)  # m_hat = m / (1 - beta1^t)
        _adam_step(w, m, v, lr_t, math.sqrt(1 - beta2**t), self.eps, tmp)


# --------------------------------------------------------------------------- in-place arithmetic
# The updates run in place on preallocated aligned arrays (``out=``): no allocation per step.
def _scale_add(y: np.ndarray, a: float, x: np.ndarray, b: float, tmp: np.ndarray) -> None:
    """y <- a y + b x, in place (b x through the work array tmp, which x may be)."""
    y *= a
    if b == 1:
        y += x
    else:
        np.multiply(x, b, out=tmp)
        y += tmp


def _plus_scaled(x: np.ndarray, a: float, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """x + a y, into the work array ``out``."""
    np.multiply(y, a, out=out)
    out += x
    return out


def _adam_step(
    w: np.ndarray, m: np.ndarray, v: np.ndarray, lr_t: float, c2: float, eps: float, tmp: np.ndarray
) -> None:
    """w <- w - lr_t m / (sqrt(v) / c2 + eps), in place through the work array tmp
    (c2 = sqrt(1 - beta2^t) turns sqrt(v) into sqrt(v_hat))."""
    np.sqrt(v, out=tmp)
    tmp /= c2
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    w -= tmp


#: The optimisers by the names the command line and the course's tables use.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
MOMENTUM = 0.9  # the handouts' momentum


def make_optimizer(
    name: str,
    params: Iterable[Tensor],
    lr: float,
    momentum: float = MOMENTUM,
    weight_decay: float = 0.0,
) -> Optimizer:
    """The optimiser called ``name`` in :data:`OPTIMIZERS` at learning rate ``lr``: ``sgd``
    (plain), ``momentum`` (SGD with ``momentum``, default 0.9), ``nesterov`` (SGD with Nesterov
    momentum) or ``adam``; ``weight_decay`` adds ``weight_decay * w`` to each gradient."""
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay)
    if name in ("sgd", "momentum", "nesterov"):
        return SGD(
            params,
            lr=lr,
            momentum=0.0 if name == "sgd" else momentum,
            weight_decay=weight_decay,
            nesterov=name == "nesterov",
        )
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
