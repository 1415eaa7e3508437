from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tinygrad_edu.data import (
    Dataset,
    DatasetError,
    DownloadError,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
    load_png_folder,
    shared_images,
    write_idx,
)
from tinygrad_edu.data import datasets as datasets_module
from tinygrad_edu.data import download as download_module
from tinygrad_edu.data.download import file_md5

if TYPE_CHECKING:
    from conftest import FileServer

STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION = datasets_module.FASHION_MNIST_SYSTEM_DIR
needs_fashion = pytest.mark.skipif(
    not all((FASHION / f"{stem}.gz").is_file() or (FASHION / stem).is_file() for stem in STEMS),
    reason=f"Fashion-MNIST not installed in {FASHION} (apt-get install dataset-fashion-mnist)",
)


def make_idx_dir(
    directory: Path, n_train: int = 12, n_test: int = 5, gzip: bool = True, seed: int = 0
) -> Path:
    """A folder of the four IDX files holding random 28x28 images and labels 0..9."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzip else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            directory / f"{prefix}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            gzip=gzip,
        )
        write_idx(
            directory / f"{prefix}-labels-idx1-ubyte{suffix}",
            np.arange(n, dtype=np.uint8) % 10,
            gzip=gzip,
        )
    return directory


# ----------------------------------------------------------------------------- Dataset


def test_dataset_basics() -> None:
    images = np.zeros((6, 28, 28), dtype=np.uint8)
    ds = Dataset(images, np.array([0, 1, 2, 3, 4, 5], dtype=np.uint8), "toy")
    assert len(ds) == 6 and ds.labels.dtype == np.int64 and ds.shape == (28, 28)
    assert ds.classes == [str(d) for d in range(10)]
    assert "toy" in repr(ds) and "6 images" in repr(ds)
    image, label = ds[3]
    assert image.shape == (28, 28) and label == 3


def test_dataset_length_mismatch() -> None:
    with pytest.raises(DatasetError, match="toy: 3 images but 2 labels"):
        Dataset(np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.int64), "toy")


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((3, 28, 28), np.float32), np.zeros(3, np.int64), "images must be uint8"),
        (np.zeros((3, 784), np.uint8), np.zeros(3, np.int64), r"shape \(N, H, W\)"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.float64), "labels must be integers"),
        (np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 10]), "labels span 0..10"),
        (np.zeros((3, 28, 28), np.uint8), np.array([0, -1, 2]), "labels span -1..2"),
    ],
)
def test_dataset_validation(images: np.ndarray, labels: np.ndarray, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        Dataset(images, labels, "toy")


def test_subset() -> None:
    images = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    ds = Dataset(images, np.arange(5), "toy")
    first = ds.subset(3)
    assert len(first) == 3 and first.labels.tolist() == [0, 1, 2]
    picked = ds.subset([4, 0])
    assert picked.labels.tolist() == [4, 0] and (picked.images[0] == 4).all()
    masked = ds.subset(ds.labels % 2 == 0)
    assert masked.labels.tolist() == [0, 2, 4]
    assert len(ds.subset([])) == 0 and len(ds.subset(0)) == 0
    assert picked.name == "toy" and picked.classes == ds.classes
    with pytest.raises(DatasetError, match=r"subset\(6\) outside 0..5"):
        ds.subset(6)
    with pytest.raises(DatasetError, match="out of range"):
        ds.subset([5])
    with pytest.raises(DatasetError, match="boolean mask"):
        ds.subset(np.ones(4, bool))


# ----------------------------------------------------------------------------- MNIST folders


def test_real_mnist_24k(mnist_dir: Path) -> None:
    train, test = load_mnist(mnist_dir)
    assert train.images.shape == (24000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert train.labels.shape == (24000,) and test.labels.shape == (10000,)
    train_counts, test_counts = np.bincount(train.labels), np.bincount(test.labels)
    assert len(train_counts) == 10 and train_counts.min() > 2000 and train_counts.max() < 2800
    assert test_counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert train.images.max() == 255 and train.images.min() == 0
    assert train.name == "mnist/train" and test.name == "mnist/test"


@pytest.mark.parametrize("gzip", [True, False])
def test_idx_folder_gz_or_raw(tmp_path: Path, gzip: bool) -> None:
    train, test = load_mnist(make_idx_dir(tmp_path / "d", gzip=gzip))
    assert len(train) == 12 and len(test) == 5
    assert train.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_kaggle_dotted_names(tmp_path: Path) -> None:
    directory = make_idx_dir(tmp_path / "d", gzip=False)
    for stem in STEMS:
        (directory / stem).rename(directory / stem.replace("-idx", ".idx"))
    train, _ = load_mnist(directory)
    assert len(train) == 12


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=f"mnist: data directory {tmp_path / 'nope'} does not"):
        load_mnist(tmp_path / "nope")


def test_incomplete_directory_lists_missing_files(tmp_path: Path) -> None:
    directory = make_idx_dir(tmp_path / "d")
    (directory / "t10k-images-idx3-ubyte.gz").unlink()
    (directory / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError) as info:
        load_mnist(directory)
    message = str(info.value)
    assert str(directory) in message
    assert "t10k-images-idx3-ubyte[.gz]" in message and "train-labels-idx1-ubyte[.gz]" in message
    assert "train-images" not in message


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    directory = make_idx_dir(tmp_path / "d")
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(
        DatasetError,
        match=r"t10k-images-idx3-ubyte\.gz holds 5 images but "
        r"t10k-labels-idx1-ubyte\.gz holds 4 labels",
    ):
        load_mnist(directory)


def test_corrupt_file_in_folder_names_it(tmp_path: Path) -> None:
    directory = make_idx_dir(tmp_path / "d")
    path = directory / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: corrupt gzip"):
        load_mnist(directory)


def test_wrong_image_shape(tmp_path: Path) -> None:
    directory = make_idx_dir(tmp_path / "d")
    write_idx(directory / "train-images-idx3-ubyte.gz", np.zeros((12, 784), np.uint8))
    with pytest.raises(DatasetError, match=r"expected uint8 images of shape \(N, 28, 28\)"):
        load_mnist(directory)


# ----------------------------------------------------------------------------- Fashion-MNIST


@needs_fashion
def test_fashion_system_install() -> None:
    train, test = load_fashion_mnist()
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
    assert train.name == "fashion-mnist/train"


@needs_fashion
def test_fashion_system_files_match_the_published_md5() -> None:
    # Debian strips the gzip header's file name and time stamp; putting them back gives the
    # official file, so the published MD5 sums in download.py are the right ones.
    import gzip
    import hashlib
    import struct

    name = "t10k-labels-idx1-ubyte"
    raw = (FASHION / f"{name}.gz").read_bytes()
    if raw[3] & 0x08:  # a file name is present: not Debian's stripped copy
        pytest.skip("Fashion-MNIST files are not Debian's header-stripped copies")
    official = (
        b"\x1f\x8b\x08\x08"
        + struct.pack("<I", 1504176627)
        + raw[8:10]
        + name.encode()
        + b"\0"
        + raw[10:]
    )
    assert gzip.decompress(official) == gzip.decompress(raw)
    md5 = hashlib.md5(official).hexdigest()
    assert md5 == download_module.FASHION_MNIST_MD5[f"{name}.gz"]


def test_fashion_from_data_dir(tmp_path: Path) -> None:
    train, _ = load_fashion_mnist(make_idx_dir(tmp_path / "f"))
    assert train.classes[1] == "Trouser" and train.name == "fashion-mnist/train"


def test_fashion_from_cache(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system")
    make_idx_dir(isolated_cache / "fashion-mnist")
    trust_cache(monkeypatch, isolated_cache / "fashion-mnist", "FASHION_MNIST_MD5")
    train, _ = load_fashion_mnist()
    assert len(train) == 12


def test_fashion_not_found_lists_places(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system")
    (isolated_cache / "fashion-mnist").mkdir(parents=True)
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist()
    message = str(info.value)
    assert f"{tmp_path / 'no-system'} does not exist" in message
    assert f"{isolated_cache / 'fashion-mnist'} is missing" in message
    assert "dataset-fashion-mnist" in message
    with pytest.raises(DownloadError, match="dataset-fashion-mnist"):  # offline: mirrors dead
        load_dataset("fashion-mnist", quiet=True)
    with pytest.raises(DatasetError):
        load_dataset("fashion-mnist", download=False)


# ----------------------------------------------------------------------------- PNG folders


def write_png_folder(root: Path, per_class: int = 2, mode: str = "L") -> dict[str, np.ndarray]:
    from PIL import Image

    rng = np.random.default_rng(1)
    written = {}
    for split in ("train", "test"):
        images = []
        for digit in range(10):
            (root / split / str(digit)).mkdir(parents=True)
            for k in range(per_class):
                pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
                image = Image.fromarray(pixels, "L").convert(mode)
                image.save(root / split / str(digit) / f"img{k:03d}.png")
                images.append(pixels)
        written[split] = np.stack(images)
    return written


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_png_round_trip(tmp_path: Path, mode: str) -> None:
    pytest.importorskip("PIL")
    written = write_png_folder(tmp_path / "png", mode=mode)
    train, test = load_png_folder(tmp_path / "png")
    np.testing.assert_array_equal(train.images, written["train"])
    np.testing.assert_array_equal(test.images, written["test"])
    assert train.labels.tolist() == [d for d in range(10) for _ in range(2)]
    assert train.images.dtype == np.uint8 and train.name == "png/train"
    train2, _ = load_dataset("png", data_dir=tmp_path / "png")
    np.testing.assert_array_equal(train2.images, train.images)


def test_png_wrong_size(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    write_png_folder(tmp_path / "png", per_class=1)
    bad = tmp_path / "png" / "test" / "3" / "big.png"
    image_module.new("L", (32, 28)).save(bad)
    with pytest.raises(DatasetError, match=r"big\.png: image is 32x28 pixels, expected 28x28"):
        load_png_folder(tmp_path / "png")


def test_png_colour_rejected(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    write_png_folder(tmp_path / "png", per_class=1)
    bad = tmp_path / "png" / "train" / "0" / "red.png"
    image_module.new("RGB", (28, 28), (255, 0, 0)).save(bad)
    with pytest.raises(DatasetError, match=r"red\.png: colour image"):
        load_png_folder(tmp_path / "png")


def test_png_not_an_image(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    write_png_folder(tmp_path / "png", per_class=1)
    (tmp_path / "png" / "train" / "5" / "junk.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"junk\.png: cannot read image"):
        load_png_folder(tmp_path / "png")


def test_png_layout_errors(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    with pytest.raises(DatasetError, match="does not exist"):
        load_png_folder(tmp_path / "none")
    write_png_folder(tmp_path / "png", per_class=1)
    shutil.rmtree(tmp_path / "png" / "test")
    with pytest.raises(DatasetError, match=r"test does not exist \(expected"):
        load_png_folder(tmp_path / "png")
    (tmp_path / "png" / "test" / "cat").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"unexpected folder .*cat"):
        load_png_folder(tmp_path / "png")
    (tmp_path / "png" / "test" / "cat").rmdir()
    with pytest.raises(DatasetError, match="no PNG files"):
        load_png_folder(tmp_path / "png")


def test_png_without_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DatasetError, match="needs Pillow: pip install pillow"):
        load_png_folder(tmp_path)


# ----------------------------------------------------------------------------- mnist-sample


def test_mnist_sample() -> None:
    train, test = load_mnist_sample()
    assert train.images.shape == (20000, 28, 28) and test.images.shape == (3000, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert np.bincount(train.labels).tolist() == [2000] * 10
    assert np.bincount(test.labels).tolist() == [300] * 10
    assert train.labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # MNIST's own first labels
    assert (train.name, test.name) == ("mnist-sample/train", "mnist-sample/test")
    both = np.concatenate([train.images, test.images]).reshape(23000, -1)
    assert len(np.unique(both, axis=0)) == len(both) - _repeats(train) - _repeats(test)


def _repeats(split: Dataset) -> int:
    """How many images of ``split`` repeat an earlier one of the same split (MNIST has a few)."""
    flat = split.images.reshape(len(split), -1)
    return len(flat) - len(np.unique(flat, axis=0))


def test_mnist_sample_is_real_mnist(mnist_dir: Path) -> None:
    """The training digits are the first 2,000 of each digit of the official training set;
    the test digits are official test digits, none of them a training digit."""
    train, test = load_mnist_sample()
    real_train, real_test = load_mnist(mnist_dir)
    first = np.concatenate([np.flatnonzero(real_train.labels == d)[:2000] for d in range(10)])
    np.testing.assert_array_equal(train.images, real_train.images[np.sort(first)])
    np.testing.assert_array_equal(train.labels, real_train.labels[np.sort(first)])
    index = {im.tobytes(): lab for im, lab in zip(real_test.images, real_test.labels, strict=True)}
    assert [index.get(image.tobytes()) for image in test.images] == test.labels.tolist()
    assert len(shared_images(real_train.images, test.images)) == 0


def test_the_sample_is_what_the_script_makes(mnist_dir: Path, tmp_path: Path) -> None:
    """scripts/make_mnist_sample.py rebuilds the shipped files byte for byte."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "make_mnist_sample.py"
    subprocess.run(
        [sys.executable, str(script), "--source", str(mnist_dir), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for file, digest in datasets_module.MNIST_SAMPLE_SHA256.items():
        assert hashlib.sha256((tmp_path / file).read_bytes()).hexdigest() == digest, file


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_damaged_sample_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    copy = tmp_path / "mnist_sample"
    shutil.copytree(datasets_module.MNIST_SAMPLE_DIR, copy)
    monkeypatch.setattr(datasets_module, "MNIST_SAMPLE_DIR", copy)
    bad = copy / "train-labels-idx1-ubyte.gz"
    if damage == "missing":
        bad.unlink()
    else:
        bad.write_bytes(bad.read_bytes()[:-1] + b"!")
    with pytest.raises(DatasetError, match=f"mnist-sample: {bad} is {damage}.*reinstall"):
        load_mnist_sample()


def test_the_sample_ships_with_the_package() -> None:
    """pyproject.toml's package data takes the four files and the README (source, licence)."""
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"tinygrad_edu.data" = ["mnist_sample/*.gz", "mnist_sample/README.md"]' in text
    readme = (datasets_module.MNIST_SAMPLE_DIR / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme


# ----------------------------------------------------------------------------- load_dataset


def test_load_dataset_names(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'; choose one of mnist"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="png: data_dir is required"):
        load_dataset("png")
    with pytest.raises(DatasetError, match="data_dir is not used"):
        load_dataset("mnist-sample", data_dir=tmp_path)
    train, _ = load_dataset("Fashion_MNIST", data_dir=make_idx_dir(tmp_path / "f"))
    assert train.name == "fashion-mnist/train"


def test_mnist_from_data_dir(mnist_dir: Path) -> None:
    train, test = load_dataset("mnist", data_dir=mnist_dir)
    assert len(train) == 24000 and len(test) == 10000


def test_explicit_data_dir_never_falls_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("mnist", data_dir=tmp_path / "missing", fallback=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="is missing train-images"):
        load_dataset("mnist", data_dir=tmp_path / "empty", fallback=True)
    assert capsys.readouterr().err == ""


def trust_cache(monkeypatch: pytest.MonkeyPatch, folder: Path, table: str) -> None:
    """Make the toy files in a cache folder pass the cache's MD5 check."""
    md5s = {p.name: file_md5(p) for p in folder.iterdir()}
    monkeypatch.setattr(datasets_module, table, md5s)


def test_mnist_from_cache_without_network(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_idx_dir(isolated_cache / "mnist", n_train=7)
    trust_cache(monkeypatch, isolated_cache / "mnist", "MNIST_MD5")
    train, _ = load_dataset("mnist", quiet=True)  # mirrors are dead: it must not download
    assert len(train) == 7


@pytest.mark.parametrize("name, table", [("mnist", "MNIST_MD5"), ("fashion-mnist", None)])
def test_a_corrupt_cached_file_is_caught_when_used(
    isolated_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    table: str | None,
) -> None:
    """Before: a cached file was trusted as it was (its MD5 was checked only when downloaded)."""
    monkeypatch.setattr(datasets_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system")
    folder = isolated_cache / name
    make_idx_dir(folder)
    trust_cache(monkeypatch, folder, table or "FASHION_MNIST_MD5")
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-1] + b"!")  # one byte changed
    with pytest.raises(DatasetError) as info:
        load_dataset(name, download=False, quiet=True, fallback=False)
    assert f"the cached {bad} is corrupt (MD5 " in str(info.value)
    assert f"delete it (rm {bad}) and run again with the network on" in str(info.value)


def test_fallback_to_sample_when_download_fails(capsys: pytest.CaptureFixture[str]) -> None:
    train, test = load_dataset("mnist", fallback=True)  # not quiet: one line, no server answered
    assert train.name == "mnist-sample/train" and len(test) == 3000
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "could not download MNIST (1 mirror failed: " in lines[0] and "mnist-sample" in lines[0]
    assert "--data-dir" in lines[0]


def test_the_fallback_line_says_the_cached_copy_was_corrupt(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: only "could not download MNIST (1 mirror failed)", the corrupt cache unsaid."""
    folder = isolated_cache / "mnist"
    make_idx_dir(folder)
    trust_cache(monkeypatch, folder, "MNIST_MD5")
    bad = folder / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-1] + b"!")
    train, _ = load_dataset("mnist", fallback=True)  # the mirrors are dead: the sample stands in
    assert train.name == "mnist-sample/train"
    (line,) = capsys.readouterr().err.splitlines()
    assert "could not download MNIST (1 mirror failed: " in line
    assert f"the cached {bad} is corrupt (MD5 " in line


def test_fallback_when_download_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = load_dataset("mnist", download=False, fallback=True)
    assert train.name == "mnist-sample/train"
    assert "download is off" in capsys.readouterr().err


def test_no_fallback_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Asked for mnist, the library never hands back the sample quietly: it says what to do."""
    with pytest.raises(DownloadError, match="could not download MNIST") as info:
        load_dataset("mnist", quiet=True)
    assert "data_dir" in str(info.value) and "mnist-sample" in str(info.value)
    with pytest.raises(DatasetError, match=r"download is off.*data_dir.*mnist-sample"):
        load_dataset("mnist", download=False)
    assert capsys.readouterr().err == ""


def test_fallback_without_sample_explains_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(datasets_module, "MNIST_SAMPLE_DIR", tmp_path / "gone")
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", quiet=True, fallback=True)
    message = str(info.value)
    assert "could not download MNIST" in message and "reinstall tinygrad_edu" in message


def test_mnist_download_into_cache(
    file_server: FileServer,
    isolated_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dead_url: Callable[[], str],
) -> None:
    served = make_idx_dir(file_server.root, n_train=9, n_test=4)
    md5s = {f"{stem}.gz": file_md5(served / f"{stem}.gz") for stem in STEMS}
    monkeypatch.setattr(download_module, "MNIST_MD5", md5s)
    monkeypatch.setattr(download_module, "MNIST_MIRRORS", (dead_url(), file_server.url()))
    train, test = load_dataset("mnist", quiet=True)
    assert len(train) == 9 and len(test) == 4 and train.name == "mnist/train"
    assert sorted(p.name for p in (isolated_cache / "mnist").iterdir()) == sorted(md5s)
