"""The single neuron: p(x) = sigmoid(w . x + b) telling one digit from the rest.

One ``nn.Linear(784, 1)`` trained on the 0-or-not labels of the training set with binary
cross-entropy from the logit z = w . x + b, by plain SGD; it answers "the digit" where
p > 1/2. Its test accuracy is compared with the trivial baseline that always answers "not the
digit", its precision and recall are those of the digit class, and its 784 weights are a 28x28
image of what it learned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..data import Dataset
from ..training import History, confusion_matrix, evaluate, fit, predict
from .runs import check_datasets, percent

__all__ = ["SingleNeuronResult", "binary_metrics", "train_single_neuron"]


@dataclass
class SingleNeuronResult:
    """The trained neuron p(x) = sigmoid(w . x + b) for "is ``digit``", and its test scores.

    ``confusion[i, j]``: test images of true class i predicted as j, with 0 = not ``digit``,
    1 = ``digit``. ``baseline_acc``: the accuracy of always answering "not ``digit``".
    """

    digit: int
    weight: np.ndarray  # (28, 28)
    bias: float
    train_acc: float
    test_acc: float
    baseline_acc: float
    precision: float
    recall: float
    confusion: np.ndarray
    train_seconds: float
    history: History

    def to_markdown(self) -> str:
        """A small table: the neuron's test accuracy, precision and recall against the baseline."""
        d = self.digit
        (tn, fp), (fn, tp) = self.confusion.tolist()
        return (
            f"| classifier | test accuracy (%) | precision for {d} (%) | recall for {d} (%) |\n"
            "| --- | ---: | ---: | ---: |\n"
            f"| one sigmoid neuron | {percent(self.test_acc)} | {percent(self.precision)} | "
            f"{percent(self.recall)} |\n"
            f'| always "not {d}" | {percent(self.baseline_acc)} | - | 0.00 |\n\n'
            f"Test set: {tp + fn:,} images of {d} and {tn + fp:,} others; the neuron finds "
            f"{tp:,} of the {d}s, misses {fn:,} and flags {fp:,} others as {d}. Train accuracy "
            f"{percent(self.train_acc)}%.\n"
        )


def _precision_recall(confusion: np.ndarray) -> tuple[float, float]:
    """(TP / (TP + FP), TP / (TP + FN)) from a 2x2 confusion matrix; nan for 0 / 0."""
    (_, fp), (fn, tp) = confusion.tolist()
    predicted, actual = tp + fp, tp + fn
    return (tp / predicted if predicted else math.nan, tp / actual if actual else math.nan)


def binary_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of the positive class 1: TP / (TP + FP), TP / (TP + FN); nan when
    the denominator is 0. Any nonzero label counts as positive."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    return _precision_recall(confusion_matrix(t, p, num_classes=2))


def train_single_neuron(
    train: Dataset,
    test: Dataset,
    epochs: int = 10,
    lr: float = 0.5,
    batch_size: int = 100,
    digit: int = 0,
    seed: int = 0,
    init_std: float = 0.0,
) -> SingleNeuronResult:
    """Train one sigmoid neuron z = w . x + b, p = sigmoid(z), to tell ``digit`` from the other
    digits: binary cross-entropy (from the logit z), plain SGD, minibatches of ``batch_size``.

    Weights start at N(0, ``init_std``^2) (default 0: all zero, so pixels that are blank in every
    image keep w = 0 and the weight image shows only what was learned). Predicts ``digit`` where
    p > 1/2.
    """
    check_datasets("train_single_neuron", train=train, test=test)
    if not 0 <= digit < len(train.classes):
        raise ValueError(f"train_single_neuron: digit must be in 0..{len(train.classes) - 1}")
    h, w = train.shape
    pos_train, pos_test = train.one_vs_rest(digit), test.one_vs_rest(digit)
    neuron = nn.Linear(h * w, 1, std=init_std, seed=seed)
    history = fit(
        neuron,
        pos_train,
        None,
        nn.binary_cross_entropy_with_logits,
        optim.make_optimizer("sgd", neuron.parameters(), lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    return _score(neuron, digit, pos_train, pos_test, history)


def _score(
    neuron: nn.Linear, digit: int, train: Dataset, test: Dataset, history: History
) -> SingleNeuronResult:
    """The trained ``neuron``'s weights and its scores on the one-vs-rest ``train``, ``test``."""
    _, predicted = predict(neuron, test.images)
    y = test.labels
    confusion = confusion_matrix(y, predicted, num_classes=2)
    precision, recall = _precision_recall(confusion)
    return SingleNeuronResult(
        digit=digit,
        weight=neuron.weight.data.reshape(train.shape).astype(np.float64),
        bias=float(neuron.bias.data[0]),
        train_acc=evaluate(neuron, train)[1],
        test_acc=float(np.mean(predicted == y)),
        baseline_acc=float(np.mean(y == 0)),
        precision=precision,
        recall=recall,
        confusion=confusion,
        train_seconds=float(sum(history.epoch_times)),
        history=history,
    )
