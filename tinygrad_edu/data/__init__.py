"""Data for tinygrad_edu: IDX files, MNIST-style datasets, downloads and mini-batches.

Pure numpy; nothing here imports the rest of tinygrad_edu.
"""

from .augment import AugmentedLoader, shift_and_rotate
from .datasets import (
    DATASETS,
    Dataset,
    DatasetError,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
    load_png_folder,
)
from .download import (
    DownloadError,
    cache_dir,
    download_fashion_mnist,
    download_file,
    download_mnist,
)
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, as_features
from .overlap import shared_images

__all__ = [
    "DATASETS",
    "AugmentedLoader",
    "DataLoader",
    "Dataset",
    "DatasetError",
    "DownloadError",
    "IDXError",
    "as_features",
    "cache_dir",
    "download_fashion_mnist",
    "download_file",
    "download_mnist",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_sample",
    "load_png_folder",
    "read_idx",
    "shared_images",
    "shift_and_rotate",
    "write_idx",
]
