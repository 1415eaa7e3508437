"""The single neuron: one digit against the rest, on real MNIST."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.course import single_neuron
from tinygrad_edu.data import load_mnist


def test_binary_metrics() -> None:
    y_true, y_pred = np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])
    assert single_neuron.binary_metrics(y_true, y_pred) == (0.5, 0.5)
    precision, recall = single_neuron.binary_metrics(np.array([1, 0]), np.array([0, 0]))
    assert math.isnan(precision) and recall == 0.0


def test_single_neuron_beats_the_trivial_baseline(mnist_dir: Path) -> None:
    train, test = load_mnist(mnist_dir)
    train, test = train.subset(2000), test.subset(2000)
    r = single_neuron.train_single_neuron(train, test, epochs=5, lr=0.5, batch_size=100)
    zeros = int(np.sum(test.labels == 0))
    assert r.baseline_acc == pytest.approx(1 - zeros / len(test))
    assert r.test_acc > r.baseline_acc + 0.05 and r.test_acc > 0.97
    assert r.precision > 0.8 and r.recall > 0.8
    assert r.confusion.sum() == len(test) and r.confusion[1].sum() == zeros
    assert r.weight.shape == (28, 28) and np.all(r.weight[0] == 0)  # blank border rows keep w=0
    assert "| one sigmoid neuron |" in r.to_markdown()
