"""Once right, the course's MLP by hand trains on real MNIST to over 90 % (the reference solution,
one epoch on mnist-24k; skipped where that folder is absent)."""

from __future__ import annotations

from pathlib import Path

from tinygrad_edu.data import load_dataset
from tinygrad_edu.exercises import get_exercise, load_student, mlp_by_hand
from tinygrad_edu.exercises.workspace import template


def test_the_mlp_by_hand_trains_on_mnist_24k_to_over_90_percent(mnist_dir: Path) -> None:
    module = load_student(template(get_exercise("mlp-by-hand"), solution=True))
    train, test = load_dataset("mnist", data_dir=mnist_dir)
    net = mlp_by_hand.train(module, train, epochs=1, lr=1.0, batch=10)
    assert mlp_by_hand.accuracy(net, test) > 0.90
