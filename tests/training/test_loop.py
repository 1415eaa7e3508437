"""Training: fit/History, evaluate, predict, confusion matrix, save/load."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from toy_digits import blobs

from tinygrad_edu import ShapeError, Tensor, nn, optim
from tinygrad_edu.data import DataLoader, Dataset, load_dataset
from tinygrad_edu.training import (
    EpochLog,
    EvalEvery,
    History,
    LambdaCallback,
    ModelFileError,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
    load,
    predict,
    read_metadata,
    save,
)
from tinygrad_edu.training.evaluation import (
    CONV_EVAL_BATCH_SIZE,
    EVAL_BATCH_SIZE,
    eval_batch_size,
)
from tinygrad_edu.training.files import jsonable
from tinygrad_edu.training.history import plural


@pytest.fixture(scope="module")
def sample() -> tuple[Dataset, Dataset]:
    """A few hundred real digits from the bundled mnist-sample."""
    train, test = load_dataset("mnist-sample")
    return train.subset(800), test.subset(300)


def seeds_mlp(seed: int = 0) -> nn.MLP:
    return nn.MLP([784, 64, 10], activation="sigmoid", seed=seed)


# --------------------------------------------------------------------------- fit
def test_smoke_training_on_real_digits(sample: tuple[Dataset, Dataset]) -> None:
    train, test = sample
    model = seeds_mlp()
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    h = fit(model, train, test, nn.cross_entropy, opt, epochs=4, batch_size=64, seed=0)
    assert h.test_loss[-1] < 0.6 * h.test_loss[0]
    assert np.mean(h.train_loss[-5:]) < 0.5 * np.mean(h.train_loss[:5])
    assert h.final_test_acc > 0.75  # chance is 0.10
    assert evaluate(model, test) == pytest.approx((h.test_loss[-1], h.test_acc[-1]), rel=1e-6)


def test_history_records_every_update_and_the_requested_evaluations() -> None:
    train, test = blobs(300), blobs(100, seed=1)
    model = nn.MLP([784, 10], seed=0)
    lines: list[str] = []
    ends: list[int] = []
    h = fit(
        model,
        train,
        test,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.5),
        epochs=3,
        batch_size=64,
        seed=0,
        callbacks=[
            EvalEvery(4),
            EpochLog(lines.append),
            LambdaCallback(on_epoch_end=lambda state: ends.append(state.epoch)),
        ],
    )
    per_epoch = math.ceil(300 / 64)  # 5
    assert h.iterations == list(range(3 * per_epoch))
    assert len(h.train_loss) == len(h.train_acc) == 15
    assert h.epoch_end_iterations == [5, 10, 15]
    # before the first update, every 4 updates, and at each epoch end (once if they coincide)
    assert h.test_iterations == [0, 4, 5, 8, 10, 12, 15]
    assert len(h.test_loss) == len(h.test_acc) == 7
    assert len(h.epoch_times) == len(h.epoch_eval_times) == 3 and min(h.epoch_times) > 0
    assert all(0 <= a <= 1 for a in h.train_acc + h.test_acc)
    assert {type(v) for v in h.train_loss + h.train_acc} == {float}  # Python's, not numpy's
    assert h.epochs == 3 and ends == [1, 2, 3]
    assert len(lines) == 3 and lines[-1].startswith("epoch 3/3  train loss")
    assert "test loss" in lines[-1] and lines[-1].endswith(" s")
    assert h.config["batch_size"] == 64 and h.config["seed"] == 0
    assert h.config["train"] == "blobs" and h.config["loss"] == "CrossEntropyLoss"
    assert len(h.epoch_train_loss()) == 3
    assert "3 epochs, 15 updates, test loss" in h.summary()


@pytest.mark.parametrize(("n", "text"), [(0, "0 epochs"), (1, "1 epoch"), (2, "2 epochs")])
def test_plural_says_one_epoch_and_many_epochs(n: int, text: str) -> None:
    assert plural(n, "epoch") == text


def test_the_summary_of_one_epoch_of_one_update_is_singular() -> None:
    model = nn.MLP([784, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, blobs(8), None, nn.cross_entropy, opt, epochs=1, batch_size=8, seed=0)
    assert h.summary().startswith("1 epoch, 1 update")


def test_train_minibatch_metrics_are_taken_before_each_update() -> None:
    train = blobs(64)
    model = nn.MLP([784, 10], seed=0)
    loss0, acc0 = evaluate(model, train)
    h = fit(
        model,
        train,
        None,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.1),
        epochs=1,
        batch_size=64,
        seed=0,
    )
    assert h.train_loss[0] == pytest.approx(loss0, rel=1e-6)
    assert h.train_acc[0] == pytest.approx(acc0)
    assert h.test_iterations == [] and math.isnan(h.final_test_acc)


def test_same_seed_same_numbers_bit_for_bit() -> None:
    train, test = blobs(200), blobs(50, seed=1)

    def run(seed: int) -> History:
        model = nn.MLP([784, 16, 10], activation="relu", dropout=0.2, seed=0)
        opt = optim.Adam(model.parameters(), lr=0.01)
        return fit(model, train, test, nn.cross_entropy, opt, epochs=2, batch_size=32, seed=seed)

    a, b, c = run(5), run(5), run(6)
    for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.train_loss != c.train_loss


def test_fit_accepts_dataloaders_and_arrays() -> None:
    train, test = blobs(128), blobs(64, seed=1)
    model = nn.MLP([784, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(train, batch_size=50, shuffle=True, seed=0)
    h = fit(model, loader, (test.images, test.labels), nn.cross_entropy, opt, epochs=1)
    assert len(h.iterations) == 3 and h.config["batch_size"] == 50
    x = train.images.reshape(128, 784).astype(np.float32) / 255
    h = fit(
        model,
        (x, train.labels),
        DataLoader(test, 1000),
        nn.cross_entropy,
        opt,
        epochs=2,
        batch_size=40,
        seed=1,
    )
    assert len(h.iterations) == 8 and h.final_test_acc > 0.9


def test_binary_single_sigmoid_neuron_separates_zero_from_the_rest() -> None:
    data = blobs(400)
    zero = Dataset(data.images, (data.labels == 0).astype(np.int64), "zero-vs-rest", ["not 0", "0"])
    model = nn.MLP([784, 1], seed=0)
    opt = optim.SGD(model.parameters(), lr=1.0)
    h = fit(model, zero, zero, nn.BCEWithLogitsLoss(), opt, epochs=5, batch_size=50, seed=0)
    assert h.final_test_acc > 0.97
    probs, labels = predict(model, zero.images[:5])
    assert probs.shape == (5, 1) and labels.shape == (5,)
    # the same neuron, trained on probabilities with BCELoss
    neuron = nn.Sequential(nn.Linear(784, 1, seed=0), nn.Sigmoid())
    opt = optim.SGD(neuron.parameters(), lr=1.0)
    h = fit(neuron, zero, zero, nn.BCELoss(), opt, epochs=5, batch_size=50, seed=0)
    assert h.final_test_acc > 0.97
    assert evaluate(neuron, zero, nn.BCELoss())[1] == h.final_test_acc


def test_fit_argument_errors() -> None:
    model = nn.MLP([784, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    data = blobs(10)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fit(model, data, None, nn.cross_entropy, opt, batch_size=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        fit(model, data, None, nn.cross_entropy, opt, epochs=-1)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(model, data, None, "hinge", opt)
    with pytest.raises(TypeError, match="expected a Dataset, a DataLoader or a pair"):
        fit(model, [1, 2, 3], None, nn.cross_entropy, opt)
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, data, None, nn.cross_entropy, "sgd")  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="10 inputs but 9 labels"):
        fit(model, (np.zeros((10, 784), np.float32), np.zeros(9, int)), None, "cross_entropy", opt)


# --------------------------------------------------------------------------- History I/O
def test_history_dict_and_json_round_trip(tmp_path: Path) -> None:
    model = nn.MLP([784, 10], seed=0)
    h = fit(
        model,
        blobs(100),
        blobs(30, seed=1),
        nn.cross_entropy,
        optim.SGD(model.parameters(), lr=0.1),
        epochs=2,
        batch_size=32,
        seed=0,
    )
    d = h.to_dict()
    assert set(d) >= {
        "iterations",
        "train_loss",
        "train_acc",
        "test_iterations",
        "test_loss",
        "test_acc",
        "epoch_times",
        "epoch_end_iterations",
        "config",
    }
    assert History.from_dict(json.loads(json.dumps(d))) == h
    path = tmp_path / "run" / "history.json"
    h.save(path)
    assert History.load(path) == h
    assert History.from_json(h.to_json()) == h
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temp files left
    with pytest.raises(ValueError, match="lists of different lengths"):
        History.from_dict({**d, "train_acc": d["train_acc"][:-1]})
    with pytest.raises(ValueError, match="'test_loss' must be a list"):
        History.from_dict({**d, "test_loss": 3})
    assert History.from_dict({"future_field": 1}) == History()
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        History.load(tmp_path / "bad.json")


def test_to_dict_is_a_copy_that_shares_nothing() -> None:
    h = History(iterations=[0, 1], train_loss=[2.0, 1.5], train_acc=[0.1, 0.2])
    h.config = {"model": "MLP", "sizes": [784, 10], "data": {"name": "blobs"}}
    d = h.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(History)]  # the fields' order
    assert d == dataclasses.asdict(h)
    d["train_loss"].append(9.0)
    d["config"]["sizes"].append(3)
    d["config"]["data"]["name"] = "other"
    assert h.train_loss == [2.0, 1.5]
    assert h.config == {"model": "MLP", "sizes": [784, 10], "data": {"name": "blobs"}}


@pytest.mark.parametrize(
    ("value", "nan", "want"),
    [
        ([1, 2.5, -3], False, [1, 2.5, -3]),
        ((0.5, 7), True, [0.5, 7]),
        ([1.0, math.nan, math.inf], False, [1.0, None, None]),
        ([np.float32(0.5), np.int64(2), True], False, [0.5, 2, True]),
        ([[1, 2], {"a": (3.0,)}], False, [[1, 2], {"a": [3.0]}]),
    ],
)
def test_jsonable_lists_of_numbers(value: Any, nan: bool, want: Any) -> None:
    """Lists (and tuples) become new lists of JSON-ready values; numpy's numbers, Python's."""
    out = jsonable(value, nan)
    assert out == want and out is not value
    assert [type(v) for v in out] == [type(v) for v in want]
    assert json.loads(json.dumps(out, allow_nan=False)) == want


def test_jsonable_keeps_nan_when_asked() -> None:
    value = [1.0, math.nan, -math.inf]
    out = jsonable(value, nan=True)
    assert out is not value and out[0] == 1.0 and math.isnan(out[1]) and out[2] == -math.inf


# --------------------------------------------------------------------------- metrics
def test_confusion_matrix_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    expected = np.zeros((4, 4), np.int64)
    for i, j in zip(t, p, strict=True):
        expected[i, j] += 1
    cm = confusion_matrix(t, p, num_classes=4)
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64 and cm.sum() == 50
    assert confusion_matrix([], [], 3).sum() == 0
    with pytest.raises(ShapeError, match="3 true labels but 2 predictions"):
        confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"y_pred spans 0..10, outside 0..9"):
        confusion_matrix([0, 1], [0, 10])
    with pytest.raises(TypeError, match="integer labels"):
        confusion_matrix([0.5], [0])


def test_accuracy_helper() -> None:
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), [1, 1]) == 0.5
    assert accuracy(np.array([[2.0], [-1.0]]), [1, 0]) == 1.0  # logits: > 0 is class 1
    assert accuracy(np.array([0.7, 0.4]), [1, 0], probabilities=True) == 1.0


def test_predict_shapes_and_probabilities() -> None:
    data = blobs(20)
    model = nn.MLP([784, 8, 10], seed=0)
    probs, labels = predict(model, data.images)  # uint8 (N, 28, 28) scaled by 1/255
    assert probs.shape == (20, 10) and labels.shape == (20,)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))
    x = data.images.reshape(20, 784).astype(np.float32) / 255
    np.testing.assert_allclose(predict(model, x)[0], probs, rtol=1e-6)
    np.testing.assert_allclose(predict(model, x.reshape(20, 1, 28, 28))[0], probs, rtol=1e-6)
    one, label = predict(model, x[3].reshape(28, 28))  # a single image
    assert one.shape == (1, 10) and label[0] == labels[3]
    assert predict(model, x[3])[0].shape == (1, 10)
    np.testing.assert_allclose(predict(model, data, batch_size=7)[0], probs, rtol=1e-6)
    model.train()
    predict(model, x)
    assert model.training  # the mode is restored


def test_evaluate_matches_a_direct_computation() -> None:
    data = blobs(50)
    model = nn.MLP([784, 8, 10], seed=0)
    x = data.images.reshape(50, 784).astype(np.float32) / 255
    logits = model(x)
    loss, acc = evaluate(model, data, batch_size=16)
    assert loss == pytest.approx(nn.cross_entropy(logits, data.labels).item(), rel=1e-5)
    assert acc == accuracy(logits, data.labels)
    mse = evaluate(model, data, "mse")[0]
    assert mse == pytest.approx(nn.mse_loss(logits, nn.one_hot(data.labels, 10)).item(), rel=1e-5)


class BatchSizes(nn.Module):
    """``model`` itself, noting the size of every batch it is called on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.sizes = model, []

    def forward(self, x: Tensor) -> Tensor:
        self.sizes.append(len(x))
        return self.model(x)


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 2, 5, seed=0), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(72, 10, seed=0)
    )


def test_a_model_with_a_convolution_is_evaluated_in_smaller_batches() -> None:
    assert eval_batch_size(nn.MLP([784, 8, 10])) == EVAL_BATCH_SIZE == 4096
    assert eval_batch_size(small_cnn()) == CONV_EVAL_BATCH_SIZE == 128
    assert eval_batch_size(BatchSizes(small_cnn())) == 128  # found below the top module
    data = blobs(300)
    cnn, mlp = BatchSizes(small_cnn()), BatchSizes(nn.MLP([784, 8, 10], seed=0))
    loss, acc = evaluate(cnn, data)
    assert cnn.sizes == [128, 128, 44]
    assert (loss, acc) == pytest.approx(evaluate(cnn, data, batch_size=300), rel=1e-6)
    evaluate(mlp, data)
    predict(mlp, data)
    assert mlp.sizes == [300, 300]
    cnn.sizes.clear()
    predict(cnn, data)
    assert cnn.sizes == [128, 128, 44]
    cnn.sizes.clear()
    fit(cnn, data, data, nn.cross_entropy, optim.SGD(cnn.parameters(), 0.1), 1, 300, 0)
    assert cnn.sizes == [128, 128, 44, 300, 128, 128, 44]  # test set, one step, test set


def test_predict_refuses_a_batch_size_that_is_not_a_positive_integer() -> None:
    model = nn.MLP([784, 8, 10], seed=0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="predict: batch_size must be a positive integer"):
            predict(model, blobs(4), batch_size=bad)


# --------------------------------------------------------------------------- save / load
@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.MLP([784, 32, 10], activation="tanh", seed=1),
        lambda: nn.MLP([784, 16, 16, 10], activation="relu", dropout=0.3, seed=2),
        lambda: nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 12, seed=0),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(12, 10, bias=False, seed=1),
        ),
        lambda: nn.Linear(784, 10, seed=3),
    ],
)
def test_save_load_predicts_identically(make, tmp_path: Path) -> None:
    model = make()
    x = blobs(30).images
    path = save(model, tmp_path / "deep" / "model.npz", metadata={"dataset": "blobs"})
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # atomic: no temp left
    loaded = load(path)
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    np.testing.assert_array_equal(predict(loaded, x)[0], predict(model, x)[0])
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), loaded.named_parameters(), strict=True):
        assert n1 == n2 and p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.data, p2.data)
    meta = read_metadata(path)
    assert meta["dataset"] == "blobs" and meta["format"] == "tinygrad_edu.model"
    with np.load(path, allow_pickle=False) as npz:  # plain arrays and a JSON string
        assert "__meta__" in npz.files and json.loads(str(npz["__meta__"]))["class"]


def test_save_overwrites_atomically_and_load_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save(nn.MLP([784, 10], seed=0), path)
    save(nn.MLP([784, 5, 10], seed=0), path)  # replaced
    assert load(path).sizes == [784, 5, 10]
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ModelFileError, match="is not a model file"):
        load(tmp_path / "junk.npz")
    (tmp_path / "trunc.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelFileError, match=r"trunc\.npz"):
        load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="no __meta__ entry"):
        load(tmp_path / "plain.npz")
    meta = read_metadata(path)
    assert (meta["class"], meta["sizes"], meta["activation"]) == ("MLP", [784, 5, 10], "sigmoid")
    meta["sizes"] = [784, 6, 10]  # does not match the stored arrays
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "mismatch.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"mismatch.npz: .*'layers.0.weight' has shape"):
        load(tmp_path / "mismatch.npz")
    with pytest.raises(ModelFileError, match="is a directory"):
        load(tmp_path)

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"keys \['sizes'\] are reserved"):
        save(nn.MLP([784, 10]), tmp_path / "x.npz", metadata={"sizes": 1})
    with pytest.raises(TypeError, match="cannot describe the architecture of a Custom"):
        save(Custom(), tmp_path / "custom.npz")


def test_real_mnist_one_epoch(mnist_dir: Path) -> None:
    """One epoch of the course's network on the real 24k MNIST beats 85% on the official test."""
    train, test = load_dataset("mnist", data_dir=mnist_dir)
    model = seeds_mlp()
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    h = fit(model, train, test, nn.cross_entropy, opt, epochs=1, seed=0)
    assert h.final_test_acc > 0.85
    assert len(h.iterations) == math.ceil(24000 / 256)


def test_convolutional_models_fit_predict_and_round_trip(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 5, seed=0),
        nn.ReLU(),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 10, seed=0),
    )
    data = blobs(64)
    h = fit(
        model,
        data,
        data,
        nn.cross_entropy,
        optim.Adam(model.parameters(), lr=0.01),
        epochs=2,
        batch_size=32,
        seed=0,
    )  # a Dataset is batched as (B, 1, 28, 28)
    assert len(h.iterations) == 4 and h.test_acc[-1] > h.test_acc[0]
    probs, _ = predict(model, data.images)  # (N, 28, 28) -> (N, 1, 28, 28)
    flat = data.images.reshape(64, 784)
    np.testing.assert_array_equal(predict(model, flat)[0], probs)
    assert predict(model, data.images[0])[0].shape == (1, 10)
    loaded = load(save(model, tmp_path / "cnn.npz"))
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(predict(loaded, data.images)[0], probs)
    assert evaluate(loaded, data)[1] == evaluate(model, data)[1]
