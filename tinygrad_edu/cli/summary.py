"""``tinygrad-edu summary MODEL``: a saved network layer by layer, like Keras's
``model.summary()``: each layer's type, settings, output shape and parameters, and the total;
then what it was trained for and how, as the model file records it: every setting of ``train``
that changes the result (from the settings table), and the ``train`` command that repeats it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from .. import nn
from ..training.history import plural
from .network import network_name
from .options import MODEL_HELP, model_file
from .rundata import load_model
from .settings import command_line, data_text, settings_from_config, training_text

__all__ = ["add_summary_command", "input_shape", "run_summary"]

#: The side of the images a convolutional model is described with (MNIST's).
IMAGE_SIDE = 28


def add_summary_command(subparsers: Any) -> None:
    """Add ``summary``."""
    p = subparsers.add_parser(
        "summary",
        help="describe a saved model layer by layer (like Keras's model.summary())",
        description="Print a saved model's layers in the order they run: name, type, settings "
        "(sizes, kernel, stride, padding, activation), output shape for one 28x28 image, "
        "parameters; the total; the output; how it was trained (data, network, optimiser, "
        "learning rate and its schedule, momentum, weight decay, dropout, augmentation, batch, "
        "epochs, initialisation, seed) and the train command that trains it again.",
    )
    p.add_argument("model", type=model_file, help=MODEL_HELP)
    p.set_defaults(func=run_summary)


def run_summary(args: argparse.Namespace) -> int:
    """Handler of ``summary``: load the model, print its table and what it was trained for."""
    model, meta = load_model(args.model)
    print(f"{args.model}:")
    print(model.summary(input_shape(model), print_fn=None))
    print(_trained_for(model, meta))
    return 0


def input_shape(model: nn.Module) -> tuple[int, ...]:
    """One input's shape: (channels, 28, 28) for a convolutional model, else (in_features,)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return (m.in_channels, IMAGE_SIDE, IMAGE_SIDE)
        if isinstance(m, nn.Linear):
            return (m.in_features,)
    return (IMAGE_SIDE * IMAGE_SIDE,)


def _trained_for(model: nn.Module, meta: Mapping[str, Any]) -> str:
    """The output's meaning and loss; the data, network and training recorded (a run of
    ``train``: every setting, and its command line), and the accuracy."""
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    settings = settings_from_config(config)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    outputs = linears[-1].out_features if linears else None
    if outputs == 1:
        digit = config.get("digit")
        what = f"P(digit {digit})" if digit is not None else "P(class 1)"
        line = f"Output: one logit, sigmoid = {what}; binary cross-entropy"
    else:
        line = f"Output: {outputs or 'class'} logits, softmax; cross-entropy"
    if settings:
        line += (
            f"\nTrained on: {data_text(settings)}; {network_name(settings)}; "
            f"{training_text(settings)}"
        )
    elif meta.get("dataset"):
        line += f"\nTrained on: {meta['dataset']}"
        if config.get("batch_size"):
            line += f", batch {config['batch_size']}, {plural(config.get('epochs'), 'epoch')}"
    if isinstance(meta.get("test_accuracy"), float):
        line += f"; test accuracy {100 * meta['test_accuracy']:.2f}%"
    return line + (f"\nAgain: {command_line(settings)}" if settings else "")
