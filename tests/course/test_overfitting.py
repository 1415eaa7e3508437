"""The overfitting study: per-epoch curves of the same network on few and on many images."""

from __future__ import annotations

import math

import pytest
from course_testing import markdown_rows

from tinygrad_edu.course import overfitting
from tinygrad_edu.course.runs import RunConfig


def test_overfitting_study_returns_one_value_per_epoch(toy) -> None:
    train, validation = toy
    config = RunConfig(optimizer="momentum", lr=0.5, batch_size=50, epochs=4)
    runs = overfitting.overfitting_study(train, validation, sizes=(100, None), config=config)
    assert [r.n_train for r in runs] == [100, 300]
    for r in runs:
        assert r.epochs == 4
        for values in (r.train_acc, r.val_acc, r.train_loss, r.val_loss):
            assert len(values) == 4 and all(math.isfinite(v) for v in values)
        assert r.updates == 4 * math.ceil(r.n_train / 50)
        assert 1 <= r.best_epoch <= 4
        assert r.gap == pytest.approx(r.train_acc[-1] - r.val_acc[-1])
    low, high = overfitting.shared_ylim(runs)
    assert low <= 100 * min(min(r.train_acc + r.val_acc) for r in runs) and high >= 100
    table = markdown_rows(overfitting.overfitting_table(runs))
    assert len(table) == 3 and table[1][0] == "100" and table[2][0] == "300"


def test_overfitting_rejects_a_bad_size(toy) -> None:
    with pytest.raises(ValueError, match=r"n_train must be an integer 1\.\.300"):
        overfitting.overfitting_run(*toy, n_train=301)


def test_the_study_takes_the_cnn_and_other_settings(toy) -> None:
    """Handout 002, 3.3: the same study with the small CNN, plain SGD and another batch size."""
    train, validation = toy
    config = RunConfig(model="cnn", optimizer="sgd", lr=0.05, batch_size=64, epochs=1)
    assert config.network == "the small CNN"
    run = overfitting.overfitting_run(train, validation.subset(40), n_train=64, config=config)
    assert run.epochs == 1 and run.updates == 1 and math.isfinite(run.val_acc[0])
    with pytest.raises(ValueError, match=r"unknown model .rnn.; choose one of mlp, cnn"):
        RunConfig(model="rnn")


def test_a_run_keeps_its_trained_network(toy) -> None:
    """The run's model is the network after its last epoch: it scores the last point."""
    from tinygrad_edu.training import evaluate

    train, validation = toy
    config = RunConfig(optimizer="momentum", lr=0.5, batch_size=50, epochs=2)
    run = overfitting.overfitting_run(train, validation, n_train=100, config=config)
    assert run.model is not None
    assert evaluate(run.model, validation) == (run.val_loss[-1], run.val_acc[-1])
    assert evaluate(run.model, train.subset(100))[1] == run.train_acc[-1]
