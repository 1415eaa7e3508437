"""tinygrad_edu.data is pure numpy: it imports nothing else from tinygrad_edu."""

from __future__ import annotations

import ast
from pathlib import Path

import tinygrad_edu.data

PACKAGE = Path(tinygrad_edu.data.__file__).parent


def foreign(module: str) -> bool:
    return module.startswith("tinygrad_edu") and not module.startswith("tinygrad_edu.data")


def test_data_imports_only_itself() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
                if node.level > 1:  # "from .. import x" leaves the package
                    offenders.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno}" for m in modules if foreign(m)]
    assert offenders == []


def test_public_names() -> None:
    expected = {
        "read_idx",
        "write_idx",
        "IDXError",
        "Dataset",
        "DatasetError",
        "load_dataset",
        "load_mnist",
        "load_fashion_mnist",
        "load_png_folder",
        "load_mnist_sample",
        "download_mnist",
        "download_file",
        "DownloadError",
        "DataLoader",
        "cache_dir",
    }
    assert expected <= set(tinygrad_edu.data.__all__)
    for name in tinygrad_edu.data.__all__:
        assert hasattr(tinygrad_edu.data, name)
