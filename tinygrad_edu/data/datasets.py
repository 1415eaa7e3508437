"""Datasets of 28x28 greyscale images with integer labels, and their loaders.

A :class:`Dataset` holds ``images`` (uint8, ``(N, H, W)``) and ``labels`` (int64, ``(N,)``).
Loaders return ``(train, test)``: MNIST and Fashion-MNIST from a folder of the four standard IDX
files, a PNG folder ``root/{train,test}/{0..9}/*.png``, and ``mnist-sample``, real MNIST digits
that ship inside this package (``data/mnist_sample/``, checked against their SHA-256 sums).
:func:`load_dataset` picks one by name, looking in ``data_dir``, the cache and the network.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from .download import (
    FASHION_MNIST_MD5,
    MNIST_MD5,
    DownloadError,
    cache_dir,
    download_fashion_mnist,
    download_mnist,
    file_md5,
)
from .idx import IDXError, read_idx

__all__ = [
    "DATASETS",
    "DIGIT_CLASSES",
    "FASHION_CLASSES",
    "FASHION_MNIST_SYSTEM_DIR",
    "IDX_FILES",
    "Dataset",
    "DatasetError",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_sample",
    "load_png_folder",
]

DIGIT_CLASSES: list[str] = [str(d) for d in range(10)]
FASHION_CLASSES: list[str] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
#: Where Debian's ``dataset-fashion-mnist`` package installs the four files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The four standard IDX files, by role (each may also end in ``.gz``).
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: The folder of the MNIST sample shipped in the package (built by
#: ``scripts/make_mnist_sample.py``; its README.md says what it holds and its licence).
MNIST_SAMPLE_DIR = Path(__file__).resolve().parent / "mnist_sample"
#: The SHA-256 of each file of the sample, as the script printed them.
MNIST_SAMPLE_SHA256: dict[str, str] = {
    "t10k-images-idx3-ubyte.gz": (
        "36cae66ce38a73889feed6527c95183cbeed328cb72f320a9180e2af01525ab4"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "dd46c783a6606fee662bd288504ec3e6042feb2f4bc4e1cadc11083c02c3b017"
    ),
    "train-images-idx3-ubyte.gz": (
        "f4e3fccbc3e830c8cdde9959510f8f7f71780eb146aaea311030860e36edd855"
    ),
    "train-labels-idx1-ubyte.gz": (
        "74353187bcc21d351aa8cb539b9b6b06eb26aebd21aa5a1059985f66e05fa6db"
    ),
}
DATASETS = ("mnist", "fashion-mnist", "mnist-sample", "png")


class DatasetError(ValueError):
    """A dataset cannot be found or is malformed; the message says where and what."""


class Dataset:
    """``N`` greyscale images ``images[i]`` (uint8, ``(H, W)``) with labels ``labels[i]`` in
    ``0 .. len(classes) - 1`` (int64)."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        name: str = "dataset",
        classes: Sequence[str] | None = None,
    ) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise DatasetError(
                f"{name}: images must be uint8 of shape (N, H, W), got {images.dtype} "
                f"{images.shape}"
            )
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(
                f"{name}: labels must be integers of shape (N,), got {labels.dtype} {labels.shape}"
            )
        if len(images) != len(labels):
            raise DatasetError(f"{name}: {len(images)} images but {len(labels)} labels")
        self.classes: list[str] = list(classes) if classes is not None else list(DIGIT_CLASSES)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DatasetError(
                f"{name}: labels span {labels.min()}..{labels.max()}, outside the "
                f"{len(self.classes)} classes 0..{len(self.classes) - 1}"
            )
        self.images: np.ndarray = images
        self.labels: np.ndarray = labels.astype(np.int64, copy=False)
        self.name = name

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """The pair ``(images[i], labels[i])``."""
        return self.images[i], int(self.labels[i])

    def __repr__(self) -> str:
        h, w = self.images.shape[1:]
        return f"Dataset({self.name!r}, {len(self)} images {h}x{w}, {len(self.classes)} classes)"

    @property
    def shape(self) -> tuple[int, int]:
        """The image size ``(H, W)``."""
        return self.images.shape[1], self.images.shape[2]

    def subset(self, n_or_indices: int | Sequence[int] | np.ndarray) -> Dataset:
        """The first ``n`` samples (an int), or the samples at the given indices / mask."""
        if isinstance(n_or_indices, (int, np.integer)) and not isinstance(n_or_indices, bool):
            n = int(n_or_indices)
            if not 0 <= n <= len(self):
                raise DatasetError(f"{self.name}: subset({n}) outside 0..{len(self)}")
            index: np.ndarray | slice = slice(0, n)
        else:
            index = np.asarray(n_or_indices)
            if index.dtype == np.bool_:
                if index.shape != (len(self),):
                    raise DatasetError(
                        f"{self.name}: boolean mask of shape {index.shape}, need ({len(self)},)"
                    )
            elif not np.issubdtype(index.dtype, np.integer) and index.size:
                raise DatasetError(
                    f"{self.name}: subset indices must be integers, got {index.dtype}"
                )
            else:
                index = index.astype(np.intp).reshape(-1)
                if index.size and (index.min() < -len(self) or index.max() >= len(self)):
                    raise DatasetError(
                        f"{self.name}: subset index out of range for {len(self)} samples"
                    )
        return Dataset(self.images[index], self.labels[index], self.name, self.classes)

    def one_vs_rest(self, digit: int) -> Dataset:
        """The same images relabelled 1 for class ``digit`` and 0 for every other class;
        classes ``["not K", "K"]``, name ``"<name> (K vs rest)"``."""
        if not 0 <= digit < len(self.classes):
            raise DatasetError(
                f"{self.name}: class {digit} is not one of its classes 0..{len(self.classes) - 1}"
            )
        labels = (self.labels == digit).astype(np.int64)
        return Dataset(
            self.images, labels, f"{self.name} ({digit} vs rest)", ["not " + str(digit), str(digit)]
        )


# ----------------------------------------------------------------------------- IDX folders


def _find_idx_file(directory: Path, stem: str) -> Path | None:
    """``stem.gz`` or ``stem`` in ``directory`` (also Kaggle's ``train-images.idx3-ubyte``)."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (directory / name).is_file():
            return directory / name
    return None


def _missing_idx_files(directory: Path) -> list[str]:
    stems = IDX_FILES.values()
    return [stem + "[.gz]" for stem in stems if _find_idx_file(directory, stem) is None]


def _load_split(images_path: Path, labels_path: Path, name: str, classes: list[str]) -> Dataset:
    try:
        images, labels = read_idx(images_path), read_idx(labels_path)
    except IDXError as err:
        raise DatasetError(f"{name}: {err}") from None
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} "
            f"{images.shape}"
        )
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) == 0:
        raise DatasetError(f"{name}: {images_path} holds no images")
    if len(images) != len(labels):
        raise DatasetError(
            f"{name}: {images_path.name} holds {len(images)} images but {labels_path.name} "
            f"holds {len(labels)} labels"
        )
    if labels.size and labels.max() >= len(classes):
        raise DatasetError(f"{labels_path}: label {labels.max()} outside 0..{len(classes) - 1}")
    return Dataset(images, labels, name, classes)


def _load_idx_dir(
    data_dir: str | os.PathLike[str], name: str, classes: list[str]
) -> tuple[Dataset, Dataset]:
    directory = Path(data_dir).expanduser()
    if not directory.is_dir():
        raise DatasetError(f"{name}: data directory {directory} does not exist")
    missing = _missing_idx_files(directory)
    if missing:
        raise DatasetError(f"{name}: {directory} is missing {', '.join(missing)}")
    paths = {role: _find_idx_file(directory, stem) for role, stem in IDX_FILES.items()}
    train = _load_split(paths["train_images"], paths["train_labels"], f"{name}/train", classes)
    test = _load_split(paths["test_images"], paths["test_labels"], f"{name}/test", classes)
    return train, test


def load_mnist(data_dir: str | os.PathLike[str]) -> tuple[Dataset, Dataset]:
    """MNIST ``(train, test)`` from a folder holding the four standard IDX files (raw or .gz)."""
    return _load_idx_dir(data_dir, "mnist", DIGIT_CLASSES)


def _fashion_candidates() -> list[Path]:
    return [FASHION_MNIST_SYSTEM_DIR, cache_dir() / "fashion-mnist"]


def load_fashion_mnist(data_dir: str | os.PathLike[str] | None = None) -> tuple[Dataset, Dataset]:
    """Fashion-MNIST ``(train, test)`` from ``data_dir``, or else from the first complete one of
    ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``) and
    ``cache_dir()/"fashion-mnist"``."""
    if data_dir is not None:
        return _load_idx_dir(data_dir, "fashion-mnist", FASHION_CLASSES)
    problems = []
    for candidate in _fashion_candidates():
        if not candidate.is_dir():
            problems.append(f"{candidate} does not exist")
        elif missing := _missing_idx_files(candidate):
            problems.append(f"{candidate} is missing {', '.join(missing)}")
        else:
            if candidate != FASHION_MNIST_SYSTEM_DIR:  # Debian's files are gzipped anew
                _verify_cached(candidate, FASHION_MNIST_MD5, "fashion-mnist")
            return _load_idx_dir(candidate, "fashion-mnist", FASHION_CLASSES)
    raise DatasetError(
        "fashion-mnist: not found (" + "; ".join(problems) + "). Install Debian's "
        "dataset-fashion-mnist, pass data_dir, or use load_dataset('fashion-mnist') to download it"
    )


# ----------------------------------------------------------------------------- PNG folders


def _read_png(path: Path, image_module: ModuleType) -> np.ndarray:
    """The 28x28 greyscale pixels of one image file; its size is checked from the header before
    anything is decoded (a 20000x20000 PNG is refused at once)."""
    try:
        with image_module.open(path) as img:
            mode, size = img.mode, img.size
            if size != (28, 28):
                raise DatasetError(f"{path}: image is {size[0]}x{size[1]} pixels, expected 28x28")
            img.load()
            if mode in ("L", "1", "LA"):
                pixels = np.asarray(img.convert("L"))
            elif mode in ("RGB", "RGBA", "P"):
                pixels = np.asarray(img.convert("RGB"))
            else:
                pixels = None
    except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as err:
        if isinstance(err, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read image ({err})") from None
    if pixels is None:
        raise DatasetError(f"{path}: unsupported image mode {mode}; expected 8-bit greyscale")
    if pixels.ndim == 3:
        if not (
            np.array_equal(pixels[..., 0], pixels[..., 1])
            and np.array_equal(pixels[..., 1], pixels[..., 2])
        ):
            raise DatasetError(f"{path}: colour image (mode {mode}); expected greyscale")
        pixels = pixels[..., 0]
    return pixels


def _load_png_split(split_dir: Path, name: str, image_module: ModuleType) -> Dataset:
    if not split_dir.is_dir():
        raise DatasetError(f"png: {split_dir} does not exist (expected {split_dir}/0..9/*.png)")
    files: list[tuple[Path, int]] = []
    for entry in sorted(split_dir.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.name not in DIGIT_CLASSES:
            raise DatasetError(f"png: unexpected folder {entry}; class folders are named 0..9")
        pngs = sorted(p for p in entry.iterdir() if p.suffix.lower() == ".png" and p.is_file())
        files.extend((p, int(entry.name)) for p in pngs)
    if not files:
        raise DatasetError(f"png: no PNG files under {split_dir}/0..9/")
    images = np.empty((len(files), 28, 28), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        images[i] = _read_png(path, image_module)
    labels = np.fromiter((label for _, label in files), dtype=np.int64, count=len(files))
    return Dataset(images, labels, name, DIGIT_CLASSES)


def load_png_folder(root: str | os.PathLike[str]) -> tuple[Dataset, Dataset]:
    """``(train, test)`` from ``root/train/<digit>/*.png`` and ``root/test/<digit>/*.png``.

    Images must be 28x28 greyscale (RGB with equal channels is accepted); the label is the
    class folder's name ``0 .. 9``. Samples are ordered by class, then by file name.
    Needs Pillow.
    """
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError("png: reading PNG folders needs Pillow: pip install pillow") from None
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"png: data directory {root} does not exist")
    return (
        _load_png_split(root / "train", "png/train", Image),
        _load_png_split(root / "test", "png/test", Image),
    )


# ----------------------------------------------------------------------------- mnist-sample


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_mnist_sample() -> tuple[Dataset, Dataset]:
    """The real MNIST digits bundled in the package: ``train`` holds the first 2,000 images of
    each digit in the official training set (20,000), ``test`` 300 of each digit spread evenly
    over the official test set (3,000), each in the official files' order, so no test image is
    a training image of any MNIST split. Each file is checked against its SHA-256 first."""
    for file, digest in MNIST_SAMPLE_SHA256.items():
        path = MNIST_SAMPLE_DIR / file
        if not path.is_file():
            raise DatasetError(f"mnist-sample: {path} is missing; reinstall tinygrad_edu")
        if (got := _sha256(path)) != digest:
            raise DatasetError(
                f"mnist-sample: {path} is corrupt (SHA-256 {got[:12]}..., expected "
                f"{digest[:12]}...); reinstall tinygrad_edu"
            )
    return _load_idx_dir(MNIST_SAMPLE_DIR, "mnist-sample", DIGIT_CLASSES)


# ----------------------------------------------------------------------------- by name


def _fallback_to_sample(reason: str) -> tuple[Dataset, Dataset]:
    try:
        datasets = load_mnist_sample()
    except DatasetError as err:
        raise DatasetError(f"mnist: {reason}, and the bundled sample failed too: {err}") from None
    train, test = datasets
    print(
        f"tinygrad_edu: {reason}; using the bundled mnist-sample instead ({len(train):,} "
        f"training and {len(test):,} test digits of real MNIST; for full MNIST pass "
        "--data-dir DIR with the four MNIST files, or run once online)",
        file=sys.stderr,
    )
    return datasets


def _verify_cached(directory: Path, md5s: dict[str, str], name: str) -> None:
    """Every file of ``md5s`` in the cache folder ``directory`` has its MD5 (a DatasetError
    saying how to fix it otherwise); files under other names are not the cache's own."""
    if found := _corrupt_cached(directory, md5s):
        raise _corrupt_error(name, found)


def _corrupt_error(name: str, found: tuple[Path, str]) -> DatasetError:
    path, what = found
    return DatasetError(
        f"{name}: {what}; delete it (rm {path}) and run again with the network on to download "
        "it afresh"
    )


def _corrupt_cached(directory: Path, md5s: dict[str, str]) -> tuple[Path, str] | None:
    """The first file of ``md5s`` in ``directory`` whose MD5 differs, and the words for it."""
    for file, md5 in md5s.items():
        path = directory / file
        if path.is_file() and (got := file_md5(path)) != md5:
            return path, f"the cached {path} is corrupt (MD5 {got}, expected {md5})"
    return None


#: What to do when MNIST cannot be had, for the messages of the library and the command line.
MNIST_REMEDY = (
    "pass a folder with MNIST's four files (data_dir=, or --data-dir DIR), go online once to "
    "download it into the cache, or use the bundled sample (mnist-sample)"
)


def _load_mnist_auto(download: bool, quiet: bool, fallback: bool) -> tuple[Dataset, Dataset]:
    cached, corrupt = cache_dir() / "mnist", ""
    if cached.is_dir() and not _missing_idx_files(cached):
        if not (found := _corrupt_cached(cached, MNIST_MD5)):
            return load_mnist(cached)
        if not download:
            raise _corrupt_error("mnist", found)
        corrupt = f"; {found[1]}"  # the download below replaces the corrupt file
    if not download:
        reason = f"MNIST is not in the cache ({cached}) and download is off"
        if fallback:
            return _fallback_to_sample(reason)
        raise DatasetError(f"mnist: {reason}; {MNIST_REMEDY}")
    try:
        download_mnist(cached, quiet=quiet)
    except DownloadError as err:
        n = len(err.errors)
        last = f": {err.errors[-1][1]}" if err.errors else ""
        reason = (
            f"could not download MNIST ({'all ' if n > 1 else ''}{n} "
            f"mirror{'s' if n > 1 else ''} failed{last}){corrupt}"
        )
        if fallback:
            return _fallback_to_sample(reason)
        raise DownloadError(f"mnist: {reason}; {MNIST_REMEDY}", err.errors) from None
    return load_mnist(cached)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    quiet: bool = False,
    fallback: bool = False,
) -> tuple[Dataset, Dataset]:
    """``(train, test)`` for ``name`` in ``mnist``, ``fashion-mnist``, ``mnist-sample``, ``png``.

    ``mnist``: from ``data_dir`` if given (it must hold the four files), else the cache, else
    downloaded into the cache. If it cannot be had (offline, or not cached with
    ``download=False``), a DatasetError or DownloadError says how to get it; with ``fallback``
    (what ``tinygrad-edu train`` does when no dataset is named) the bundled ``mnist-sample`` is
    returned instead and one line on stderr says so. ``fashion-mnist``: ``data_dir``, else
    Debian's system folder or the cache, else downloaded. ``png``: needs ``data_dir``.
    ``quiet`` hides download progress.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if key == "png":
        if data_dir is None:
            raise DatasetError("png: data_dir is required (a folder with train/0..9 and test/0..9)")
        return load_png_folder(data_dir)
    if key == "mnist-sample":
        if data_dir is not None:
            raise DatasetError("mnist-sample: ships inside the package, so data_dir is not used")
        return load_mnist_sample()
    if key == "fashion-mnist":
        if data_dir is not None:
            return load_fashion_mnist(data_dir)
        try:
            return load_fashion_mnist()
        except DatasetError:
            if not download:
                raise
        try:
            download_fashion_mnist(cache_dir() / "fashion-mnist", quiet=quiet)
        except DownloadError as err:
            raise DownloadError(
                f"fashion-mnist: {err}\nOffline? Install Debian's dataset-fashion-mnist "
                "or pass data_dir",
                err.errors,
            ) from None
        return load_fashion_mnist(cache_dir() / "fashion-mnist")
    if data_dir is not None:
        return load_mnist(data_dir)
    return _load_mnist_auto(download, quiet, fallback)
