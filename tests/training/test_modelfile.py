"""Model files from anyone: checked before anything is built, loaded in the memory they hold;
a layer used twice saves and loads; files keep the user's umask; stale temp files go."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import nn
from tinygrad_edu.data.download import remove_stale_temp_files
from tinygrad_edu.training import ModelFileError, load, save
from tinygrad_edu.training.files import atomic_write

BASE = {"format": "tinygrad_edu.model", "version": 1, "dtype": "float32"}


def write_model_file(path: Path, meta_text: str, **arrays: np.ndarray) -> Path:
    """A model file with the given metadata text (not json.dumps: it may be too deep for it)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __meta__=np.array(meta_text), **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def peak_bytes(fn) -> tuple[BaseException | None, int, float]:
    """(the error fn raised, peak traced memory in bytes, seconds)."""
    tracemalloc.start()
    start = time.perf_counter()
    error = None
    try:
        fn()
    except BaseException as e:  # returned to the test
        error = e
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, peak, seconds


@pytest.mark.parametrize("hidden", [12000, 40000, 3000])
def test_a_tiny_file_declaring_huge_sizes_fails_fast_in_little_memory(
    tmp_path: Path, hidden: int
) -> None:
    """The issue's 396-byte file made `predict` use 1.7 GB (12000) and 9 GB (40000) before
    rejecting it; 3000 is under the parameter cap, so the missing arrays are what is caught."""
    meta = {**BASE, "class": "MLP", "sizes": [784, hidden, hidden, 10], "activation": "sigmoid"}
    path = write_model_file(tmp_path / "huge.npz", json.dumps(meta))
    assert path.stat().st_size < 600
    error, peak, seconds = peak_bytes(lambda: load(path))
    assert isinstance(error, ModelFileError) and str(path) in str(error)
    assert "cap" in str(error) or "not in the file" in str(error)
    assert peak < 1 << 20 and seconds < 1.0


def test_an_entry_declaring_more_than_it_holds_is_refused_before_reading(tmp_path: Path) -> None:
    """A .npy header inside the zip that declares a 4 GB array over 40 bytes of data."""
    path = tmp_path / "liar.npz"
    meta = {**BASE, "class": "Linear", "in_features": 1000, "out_features": 1000000}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (1000000, 1000)}
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__meta__.npy", _npy(np.array(json.dumps(meta))))
        z.writestr("weight.npy", header.getvalue() + bytes(40))
    error, peak, _ = peak_bytes(lambda: load(path))
    assert isinstance(error, ModelFileError)
    assert "declares shape (1000000, 1000) of float32 but holds 40 bytes" in str(error)
    assert peak < 1 << 20


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_900_nested_sequentials_are_a_clean_error(tmp_path: Path) -> None:
    """The issue's 900 nested Sequentials gave a RecursionError."""
    inner = json.dumps({"class": "Linear", "in_features": 784, "out_features": 10})
    text = '{"class": "Sequential", "layers": [' * 900 + inner + "]}" * 900
    text = text[:-1] + ', "format": "tinygrad_edu.model", "version": 1, "dtype": "float32"}'
    path = write_model_file(tmp_path / "deep.npz", text)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load(path)
    text = '{"class": "Sequential", "layers": [' * 40 + inner + "]}" * 40
    text = text[:-1] + ', "format": "tinygrad_edu.model", "version": 1, "dtype": "float32"}'
    with pytest.raises(ModelFileError, match="nested more than 32 deep"):
        load(write_model_file(tmp_path / "deep40.npz", text))


def test_saving_a_model_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    model: nn.Module = nn.Linear(2, 2)
    for _ in range(40):
        model = nn.Sequential([model])
    with pytest.raises(ValueError, match="nested more than 32 deep"):
        save(model, tmp_path / "deep.npz")
    assert not (tmp_path / "deep.npz").exists()


@pytest.mark.parametrize(
    "desc, message",
    [
        ({"class": "MLP", "sizes": "784,10"}, "sizes must be a list"),
        ({"class": "MLP", "sizes": [784, -1, 10]}, "sizes must be integers"),
        ({"class": "MLP", "sizes": [784, 10.5]}, "sizes must be integers"),
        ({"class": "Linear", "in_features": 3, "out_features": 2, "bias": "yes"}, "bias must be"),
        ({"class": "Conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3}, "a pair"),
        ({"class": "Sequential", "layers": {"0": 1}}, "without a list of layers"),
        (
            {"class": "Sequential", "layers": [{"same_as": "layers.1"}, {"class": "ReLU"}]},
            "same_as",
        ),
        ({"class": "Sequential", "layers": [{"same_as": ""}]}, "same_as"),
        ({"class": "Nope"}, "unknown layer class 'Nope'"),
        ({"sizes": [1, 2]}, "no 'class' entry"),
    ],
)
def test_malformed_descriptions_are_model_file_errors(
    tmp_path: Path, desc: dict, message: str
) -> None:
    path = write_model_file(tmp_path / "bad.npz", json.dumps({**BASE, **desc}))
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_non_float_and_object_arrays_are_refused(tmp_path: Path) -> None:
    meta = json.dumps({**BASE, "class": "Linear", "in_features": 2, "out_features": 1})
    ints = write_model_file(
        tmp_path / "ints.npz", meta, weight=np.ones((1, 2), np.int64), bias=np.ones(1, np.float32)
    )
    with pytest.raises(ModelFileError, match="'weight' has dtype int64"):
        load(ints)
    objects = tmp_path / "objects.npz"
    with zipfile.ZipFile(objects, "w") as z:
        z.writestr("__meta__.npy", _npy(np.array(meta)))
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        z.writestr("weight.npy", buffer.getvalue())
    with pytest.raises(ModelFileError, match="holds Python objects"):
        load(objects)


def test_loading_takes_the_memory_of_the_model_not_more(tmp_path: Path) -> None:
    """The arrays are read straight into the parameters: the peak is the model plus one layer's
    initialisation (float64 draws), not the file's arrays a second time."""
    model = nn.MLP([784, 512, 512, 10], seed=0)
    path = save(model, tmp_path / "m.npz")
    size = sum(p.data.nbytes for p in model.parameters())
    loaded: list[nn.Module] = []
    error, peak, _ = peak_bytes(lambda: loaded.append(load(path)))
    assert error is None
    largest = 512 * 784 * 4
    assert peak < size + 3 * largest + (1 << 20), (peak, size)
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    assert np.array_equal(loaded[0](x).data, model(x).data)


def test_a_layer_used_twice_saves_and_loads_shared(tmp_path: Path) -> None:
    """The issue: `save` wrote a file that `load` could not read."""
    shared = nn.Linear(784, 784, seed=0)
    inner = nn.Sequential([nn.Linear(784, 10, seed=1)])
    model = nn.Sequential([shared, nn.Sigmoid(), shared, inner, nn.Identity()])
    path = save(model, tmp_path / "shared.npz")
    back = load(path)
    assert back.layers[0] is back.layers[2] and back.layers[0] is not shared
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in model.named_parameters()]
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    assert np.array_equal(back(x).data, model(x).data)
    again = nn.Sequential([inner, inner])
    assert load(save(again, tmp_path / "twice.npz")).layers[1] is not None


def test_a_parameter_in_two_layers_is_refused_at_save(tmp_path: Path) -> None:
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    with pytest.raises(ValueError, match="load could not rebuild this model"):
        save(nn.Sequential([a, b]), tmp_path / "tied.npz")
    assert not (tmp_path / "tied.npz").exists()


def test_files_keep_the_users_umask(tmp_path: Path) -> None:
    """tempfile.mkstemp made every model 0600: a teaching assistant could not read it."""
    old = os.umask(0o022)
    try:
        path = save(nn.MLP([784, 10], seed=0), tmp_path / "m.npz")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.umask(0o077)
        atomic_write(tmp_path / "private", lambda f: f.write(b"x"))
        assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_temp_files_of_killed_saves_are_removed_by_the_next_save(tmp_path: Path) -> None:
    """The issue: 20 killed saves left 53 MB behind."""
    path = tmp_path / "m.npz"
    stale = [tmp_path / f".m.npz.{dead_pid()}.{i:08x}.tmp" for i in range(3)]
    live = tmp_path / f".m.npz.{os.getppid()}.0000abcd.tmp"  # a live process's: kept
    other = tmp_path / f".other.npz.{dead_pid()}.00000001.tmp"  # another file's: kept
    for p in [*stale, live, other]:
        p.write_bytes(b"partial")
    save(nn.MLP([784, 10], seed=0), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.npz", live.name, other.name])
    assert remove_stale_temp_files(tmp_path / "other.npz", ".tmp") == [other]


def test_a_failed_save_leaves_no_temp_file(tmp_path: Path) -> None:
    def fail(f) -> None:
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "m.npz", fail)
    assert list(tmp_path.iterdir()) == []


def test_errors_name_the_target_not_the_temp_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        save(nn.MLP([784, 10], seed=0), tmp_path / "folder")
    assert info.value.filename == str(tmp_path / "folder") and ".tmp" not in str(info.value)

    def disk_full(f) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "m.npz", disk_full)
    assert info.value.filename == str(tmp_path / "m.npz") and info.value.errno == 28
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_a_read_only_folder_names_the_target(tmp_path: Path, monkeypatch) -> None:
    real_open = os.open

    def read_only(name, flags, mode=0o777):
        if str(name).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, mode)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PermissionError) as info:
        save(nn.MLP([784, 10], seed=0), tmp_path / "m.npz")
    assert info.value.filename == str(tmp_path / "m.npz")
