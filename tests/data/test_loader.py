from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.data import DataLoader, Dataset, load_mnist


def numbered(n: int, seed: int = 0) -> Dataset:
    """``n`` random images whose label is their own index (so batches can be traced back)."""
    images = np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    images[0] = 0
    images[-1] = 255
    return Dataset(images, np.arange(n), "numbered", [str(i) for i in range(n)])


def epoch(loader: DataLoader) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(loader)


@pytest.mark.parametrize("flatten", [True, False])
def test_shapes_dtypes_and_range(flatten: bool) -> None:
    loader = DataLoader(numbered(10), batch_size=4, flatten=flatten)
    batches = epoch(loader)
    assert len(loader) == len(batches) == 3
    shapes = [x.shape for x, _ in batches]
    sample = (784,) if flatten else (1, 28, 28)
    assert shapes == [(4, *sample), (4, *sample), (2, *sample)]
    for x, y in batches:
        assert x.dtype == np.float32 and y.dtype == np.int64 and y.shape == (len(x),)
        assert x.min() >= 0.0 and x.max() <= 1.0
    x_all = np.concatenate([x for x, _ in batches])
    assert x_all.min() == 0.0 and x_all.max() == 1.0


def test_in_order_values_are_images_over_255() -> None:
    ds = numbered(7)
    batches = epoch(DataLoader(ds, 3))
    x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(y, np.arange(7))
    np.testing.assert_array_equal(x, ds.images.reshape(7, 784).astype(np.float32) / 255)


def test_drop_last() -> None:
    loader = DataLoader(numbered(10), batch_size=4, drop_last=True, shuffle=True, seed=0)
    batches = epoch(loader)
    assert len(loader) == len(batches) == 2
    assert all(len(y) == 4 for _, y in batches)
    assert len(DataLoader(numbered(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(numbered(3), batch_size=4, drop_last=True)) == 0
    assert epoch(DataLoader(numbered(3), batch_size=4, drop_last=True)) == []


def test_every_sample_once_per_epoch() -> None:
    loader = DataLoader(numbered(103), batch_size=10, shuffle=True, seed=3)
    for _ in range(3):
        seen = np.concatenate([y for _, y in loader])
        assert sorted(seen.tolist()) == list(range(103))


def test_pixels_follow_their_labels_when_shuffled() -> None:
    ds = numbered(50)
    for x, y in DataLoader(ds, batch_size=8, shuffle=True, seed=1, flatten=False):
        np.testing.assert_array_equal(x[:, 0] * 255, ds.images[y].astype(np.float32))


def test_same_seed_same_batches_bit_for_bit() -> None:
    a = DataLoader(numbered(64), batch_size=16, shuffle=True, seed=42)
    b = DataLoader(numbered(64), batch_size=16, shuffle=True, seed=42)
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            assert xa.tobytes() == xb.tobytes() and ya.tobytes() == yb.tobytes()


def test_each_epoch_reshuffles() -> None:
    loader = DataLoader(numbered(64), batch_size=64, shuffle=True, seed=0)
    first, second = next(iter(loader))[1], next(iter(loader))[1]
    assert not np.array_equal(first, second)
    other = next(iter(DataLoader(numbered(64), batch_size=64, shuffle=True, seed=1)))[1]
    assert not np.array_equal(first, other)
    unshuffled = next(iter(DataLoader(numbered(64), batch_size=64)))[1]
    np.testing.assert_array_equal(unshuffled, np.arange(64))


def test_batches_do_not_alias_the_cache() -> None:
    loader = DataLoader(numbered(6), batch_size=3)
    for x, _ in loader:
        x[:] = -1.0
    assert min(x.min() for x, _ in loader) >= 0.0


def test_float_copy_made_once() -> None:
    loader = DataLoader(numbered(6), batch_size=2)
    epoch(loader)
    cached = loader._x
    epoch(loader)
    assert cached is not None and loader._x is cached


@pytest.mark.parametrize("bad", [0, -3])
def test_batch_size_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match=f"batch_size must be > 0, got {bad}"):
        DataLoader(numbered(4), batch_size=bad)


@pytest.mark.parametrize("bad", [2.5, "8", True, None])
def test_batch_size_must_be_int(bad: object) -> None:
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(numbered(4), batch_size=bad)  # type: ignore[arg-type]


def test_real_mnist_epoch(mnist_dir: Path) -> None:
    _, test = load_mnist(mnist_dir)
    loader = DataLoader(test, batch_size=256, shuffle=True, seed=0)
    assert len(loader) == 40
    count, total = 0, 0.0
    for x, y in loader:
        assert x.shape[1] == 784 and x.min() >= 0.0 and x.max() <= 1.0
        count += len(y)
        total += float(x.sum())
    assert count == 10000
    assert 0.1 < total / (count * 784) < 0.15  # MNIST's mean pixel is about 0.13


def test_arrays_are_batched_like_a_dataset() -> None:
    """A pair (x, y) of arrays: float features as given, uint8 images scaled, same order."""
    data = numbered(7)
    images, labels = data.images, data.labels
    from_arrays = DataLoader((images, labels), batch_size=3, shuffle=True, seed=5)
    from_dataset = DataLoader(data, batch_size=3, shuffle=True, seed=5)
    for (xa, ya), (xd, yd) in zip(from_arrays, from_dataset, strict=True):
        assert np.array_equal(xa.reshape(len(xa), -1), xd) and np.array_equal(ya, yd)
    assert len(from_arrays) == 3 and from_arrays.labels is labels
    features = np.arange(14, dtype=np.float64).reshape(7, 2)
    (x, y), *_ = DataLoader((features, labels), batch_size=7)
    assert x.dtype == np.float64 and np.array_equal(x, features) and np.array_equal(y, labels)
    x, _ = next(iter(DataLoader((images, labels), batch_size=2, flatten=False)))
    assert x.shape == (2, 1, *images.shape[1:]) and x.dtype == np.float32


def test_array_pairs_are_checked() -> None:
    with pytest.raises(ValueError, match="differ in N"):
        DataLoader((np.zeros((4, 2)), np.zeros(3)), batch_size=2)
    with pytest.raises(TypeError, match="a Dataset or a pair"):
        DataLoader([1, 2, 3], batch_size=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected float or uint8 inputs"):
        next(iter(DataLoader((np.zeros((4, 2), np.int32), np.zeros(4)), batch_size=2)))


def test_the_batch_order_generator_is_public_for_checkpoints() -> None:
    a = DataLoader(numbered(8), batch_size=2, shuffle=True, seed=1)
    state = a.rng.bit_generator.state
    first = [y.tolist() for _, y in a]
    a.rng.bit_generator.state = state
    assert [y.tolist() for _, y in a] == first
