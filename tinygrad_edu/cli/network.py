"""The network ``train`` builds from its settings: ``--model mlp`` (``--arch``, ``--activation``,
``--init``, ``--init-std``) or ``--model cnn`` (the course's small CNN), ``--dropout``,
``--digit`` (one-vs-rest: one sigmoid output and binary cross-entropy), and its optimiser
(``--optimizer``, ``--lr``, ``--momentum``, ``--weight-decay``)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import nn, optim
from ..nn.init import INITS
from ..nn.models import build_cnn
from .errors import CLIError
from .options import int_between, nonnegative_int, number_between

__all__ = [
    "CNN_ONLY_DEFAULTS",
    "DEFAULT_ARCH",
    "MLP_ONLY",
    "MODELS",
    "MODEL_LR",
    "add_network_arguments",
    "build_network",
    "build_optimizer",
    "check_cnn_options",
    "loss_function",
    "network_name",
    "parse_arch",
]

MODELS = ("mlp", "cnn")
DEFAULT_ARCH = "784,64,10"
#: Default learning rate per model and optimiser (the seeds' 784-64-10 sigmoid MLP at batch
#: 256; the CNN's Adam rate is examples/cnn_mnist.py's).
MODEL_LR = {
    "mlp": {"sgd": 2.0, "momentum": 0.5, "nesterov": 0.5, "adam": 0.003},
    "cnn": {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.002},
}
#: Options that only an MLP has (the CNN's layers and initialisation are fixed).
MLP_ONLY = {
    "arch": "--arch",
    "activation": "--activation",
    "init": "--init",
    "init_std": "--init-std",
}
#: What the CNN's settings hold where an MLP's hold its options.
CNN_ONLY_DEFAULTS = {"arch": None, "activation": "relu", "init": None, "init_std": None}


def add_network_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, the MLP's ``--arch``/``--activation``/``--init``/``--init-std``,
    ``--dropout``, ``--digit`` and ``--seed`` (all default None: see ``train``)."""
    p.add_argument(
        "--model",
        choices=MODELS,
        help="mlp (default; its layers from --arch) or cnn (the course's small CNN: conv 5x5 32, "
        "pool, conv 5x5 64, pool, linear 128, linear 10; ReLU)",
    )
    p.add_argument("--arch", help=f"MLP layer widths (default {DEFAULT_ARCH}; with --digit ...,1)")
    p.add_argument(
        "--activation", choices=nn.ACTIVATIONS, help="MLP hidden-layer activation (default sigmoid)"
    )
    p.add_argument(
        "--init",
        choices=INITS,
        help="MLP weight init (default normal: N(0, S^2), S from --init-std)",
    )
    p.add_argument(
        "--init-std",
        type=number_between(0, np.inf, low_open=True, high_open=True),
        metavar="S",
        help="standard deviation of --init normal's weights (default 0.1; seed 001 uses 0.01)",
    )
    p.add_argument(
        "--dropout",
        type=number_between(0, 1, high_open=True),
        metavar="P",
        help="drop each hidden unit with probability P while training (default 0: no dropout)",
    )
    p.add_argument(
        "--digit",
        type=int_between(0, 9),
        metavar="K",
        help="one-vs-rest: tell digit K from all others, with one sigmoid output and binary "
        "cross-entropy (--arch 784,1 is seed 004's single neuron)",
    )
    p.add_argument("--seed", type=nonnegative_int, help="weights and batch order (default 0)")


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


def check_cnn_options(given: Mapping[str, Any]) -> None:
    """``--model cnn`` takes none of the MLP's options (``given``: option key -> value or None)."""
    clash = [MLP_ONLY[k] for k in MLP_ONLY if given.get(k) is not None]
    if clash:
        raise CLIError(
            f"--model cnn has its own layers and initialisation: {', '.join(clash)} "
            f"{'is' if len(clash) == 1 else 'are'} for --model mlp"
        )
