"""One run of the course's network: RunConfig, run_config and the shared checks and formats."""

from __future__ import annotations

import math

import pytest

from tinygrad_edu import nn, optim
from tinygrad_edu.course import runs


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: runs.RunConfig(hidden=0), "hidden must be a positive integer"),
        (lambda: runs.RunConfig(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (lambda: runs.RunConfig(lr=-1.0), "lr must be a number > 0"),
    ],
)
def test_bad_settings_raise_errors_that_name_them(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_build_makes_the_configured_network_and_optimiser() -> None:
    model, optimizer = runs.RunConfig(hidden=7, optimizer="momentum", lr=0.1).build(seed=0)
    assert isinstance(model, nn.MLP)
    assert [p.shape for p in model.parameters()] == [(7, 784), (7,), (10, 7), (10,)]
    assert isinstance(optimizer, optim.SGD) and optimizer.lr == 0.1
    assert optimizer.momentum == 0.9


def test_runs_repeat_with_the_same_seed(toy) -> None:
    train, test = toy
    config = runs.RunConfig(epochs=2, batch_size=50)
    a, b = (runs.run_config(config, train, test, seed=3) for _ in range(2))
    assert (a.train_acc, a.test_acc, a.train_loss) == (b.train_acc, b.test_acc, b.train_loss)


def test_check_datasets_names_the_argument(toy) -> None:
    train, _ = toy
    with pytest.raises(TypeError, match="run_config: test must be a Dataset, got list"):
        runs.check_datasets("run_config", train=train, test=[])
    with pytest.raises(ValueError, match="the validation set 'blobs' is empty"):
        runs.check_datasets("f", validation=train.subset(0))


def test_percent() -> None:
    assert runs.percent(0.93434) == "93.43" and runs.percent(math.nan) == "-"
