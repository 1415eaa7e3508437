"""``Module.summary`` / ``nn.summary.summarize``: one row per layer call with its type, settings,
output shape and parameters, and the total."""

from __future__ import annotations

import pytest

from tinygrad_edu import nn
from tinygrad_edu.nn.models import build_cnn
from tinygrad_edu.nn.summary import layer_rows, summarize


def test_cnn_rows_say_enough_to_rebuild_it() -> None:
    model = build_cnn(dropout=0.5)
    rows = layer_rows(model, (1, 28, 28))
    assert [r.kind for r in rows] == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU",
        "Dropout", "Linear",
    ]  # fmt: skip
    assert rows[0].settings == "1 -> 32 channels, kernel 5x5, stride 1x1, padding 0x0"
    assert rows[2].settings == "kernel 2x2, stride 2x2, padding 0x0"
    assert rows[1].settings == "activation max(x, 0)" and rows[9].settings == "p 0.5"
    assert [r.output_shape for r in rows[:7]] == [
        (1, 32, 24, 24), (1, 32, 24, 24), (1, 32, 12, 12), (1, 64, 8, 8), (1, 64, 8, 8),
        (1, 64, 4, 4), (1, 1024),
    ]  # fmt: skip
    assert [r.parameters for r in rows if r.parameters] == [832, 51_264, 131_200, 1_290]
    assert model.training  # its mode is restored


def test_mlp_summary_text_and_total() -> None:
    model = nn.MLP([784, 64, 10], seed=0)
    printed: list[str] = []
    text = model.summary((1, 28, 28), print_fn=printed.append)
    assert printed == [text]
    lines = text.splitlines()
    assert lines[0] == "MLP, input (N, 1, 28, 28)"
    assert lines[4].split() == ["layers.0", "Linear", "784", "->", "64", "(N,", "64)", "50,240"]
    assert "activation 1 / (1 + e^-x)" in lines[5]
    assert (
        lines[-1] == f"Total parameters: {model.num_parameters():,}" == "Total parameters: 50,890"
    )


def test_a_layer_called_twice_is_two_rows_and_counted_once() -> None:
    shared = nn.Linear(4, 4, seed=0)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    rows = layer_rows(model, (4,))
    assert [r.name for r in rows] == ["layers.0", "layers.1", "layers.0"]
    assert summarize(model, (4,)).endswith("Total parameters: 20")


def test_summary_with_a_wrong_input_shape_raises_the_layers_error() -> None:
    with pytest.raises(ValueError, match="linear"):
        nn.MLP([784, 10]).summary((100,), print_fn=None)


def test_the_input_shape_may_be_one_int_and_is_checked() -> None:
    model = nn.MLP([784, 10], seed=0)
    assert summarize(model, 784) == summarize(model, (784,))
    for bad in ((), (0, 28), (1.5,), (True,)):
        with pytest.raises(ValueError, match="summary: input_shape must be positive sizes"):
            summarize(model, bad)
