"""The network ``train`` builds from its settings (:mod:`.settings`): ``model`` mlp (``arch``,
``activation``, ``init``, ``init_std``) or cnn (the course's small CNN), ``dropout``, ``digit``
(one-vs-rest: one sigmoid output and binary cross-entropy), and its optimiser (``optimizer``,
``lr``, ``momentum``, ``weight_decay``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import nn, optim
from ..nn.models import build_cnn
from .errors import CLIError

__all__ = [
    "DEFAULT_ARCH",
    "MODELS",
    "MODEL_LR",
    "build_network",
    "build_optimizer",
    "loss_function",
    "network_name",
    "parse_arch",
]

MODELS = ("mlp", "cnn")
DEFAULT_ARCH = "784,64,10"
#: Default learning rate per model and optimiser (the course's 784-64-10 sigmoid MLP at batch
#: 256; the CNN's Adam rate is examples/cnn_mnist.py's).
MODEL_LR = {
    "mlp": {"sgd": 2.0, "momentum": 0.5, "nesterov": 0.5, "adam": 0.003},
    "cnn": {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.002},
}


def parse_arch(text: str, n_in: int = 784, n_out: int = 10) -> list[int]:
    """``"784,64,10"`` -> [784, 64, 10]; it must start at ``n_in`` and end at ``n_out``."""
    parts = [p.strip() for p in text.replace("-", ",").split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise CLIError(
            f"--arch: expected comma-separated layer widths such as {DEFAULT_ARCH}, got {text!r}"
        ) from None
    if len(sizes) < 2 or any(n <= 0 for n in sizes):
        raise CLIError(f"--arch: need at least two positive widths such as 784,10, got {text!r}")
    if sizes[0] != n_in:
        raise CLIError(f"--arch must start at {n_in} (28x28 input pixels), got {text!r}")
    if sizes[-1] != n_out:
        what = "one output for --digit" if n_out == 1 else "one logit per class"
        raise CLIError(f"--arch must end at {n_out} ({what}), got {text!r}")
    return sizes


def _outputs(settings: Mapping[str, Any]) -> int:
    """1 for one-vs-rest (``digit``), else 10."""
    return 1 if settings.get("digit") is not None else 10


def build_network(settings: Mapping[str, Any]) -> nn.Module:
    """The untrained network of a run's settings, its weights drawn from ``seed``."""
    dropout = settings.get("dropout") or 0.0
    if settings.get("model", "mlp") == "cnn":
        return build_cnn(outputs=_outputs(settings), dropout=dropout, seed=settings["seed"])
    return nn.MLP(
        settings["arch"],
        settings["activation"],
        init=settings["init"],
        std=settings.get("init_std") or 0.1,
        dropout=dropout,
        seed=settings["seed"],
    )


def build_optimizer(settings: Mapping[str, Any], model: nn.Module) -> optim.Optimizer:
    """The run's optimiser over ``model``'s parameters."""
    momentum = settings.get("momentum")
    return optim.make_optimizer(
        settings["optimizer"],
        model.parameters(),
        settings["lr"],
        momentum=optim.MOMENTUM if momentum is None else momentum,
        weight_decay=settings.get("weight_decay") or 0.0,
    )


def loss_function(settings: Mapping[str, Any]) -> Any:
    """Binary cross-entropy from the one logit for ``--digit``, else softmax cross-entropy."""
    if settings.get("digit") is not None:
        return nn.binary_cross_entropy_with_logits
    return nn.cross_entropy


def network_name(settings: Mapping[str, Any]) -> str:
    """E.g. ``784-64-10 sigmoid`` or ``cnn (ReLU)``, with ``, dropout 0.2`` and ``, 3 vs rest``."""
    if settings.get("model", "mlp") == "cnn":
        name = f"cnn 32-64-128-{_outputs(settings)} relu"
    else:
        name = f"{'-'.join(map(str, settings['arch']))} {settings.get('activation') or ''}".strip()
    if settings.get("dropout"):
        name += f", dropout {settings['dropout']:g}"
    if settings.get("digit") is not None:
        name += f", {settings['digit']} vs rest"
    return name
