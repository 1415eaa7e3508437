"""Files that are never half-written: atomic writes, and ``.npz`` archives of arrays with a
JSON metadata entry (models and checkpoints), read back without pickle."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["atomic_write", "jsonable", "one_line", "read_npz"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` via a temp file in the same folder, fsync and ``os.replace``: readers see
    the old file or the complete new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def jsonable(value: Any, nan: bool = False) -> Any:
    """``value`` as JSON-ready data: numpy scalars/arrays as Python numbers/lists, tuples as
    lists, keys as strings; NaN and infinity become None unless ``nan`` (Python's json then
    writes and reads them back exactly, e.g. for a History that must round-trip)."""
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if nan or math.isfinite(v) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), nan)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, nan) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, nan) for v in value]
    return value


def read_npz(
    path: Path, meta_key: str, fmt: str, error: type[Exception], what: str, prefix: str = ""
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of an .npz holding a JSON entry ``meta_key`` whose "format" is ``fmt``
    (models and checkpoints); anything else raises ``error`` with a message naming the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise error(f"{prefix}{path} is not a readable {what} ({one_line(e)})") from None
    if meta_key not in arrays:
        raise error(f"{prefix}{path} has no {meta_key} entry: not a tinygrad_edu {what}")
    try:
        meta = json.loads(str(arrays.pop(meta_key)))
    except json.JSONDecodeError as e:
        raise error(f"{prefix}{path}: corrupt {what} metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise error(f"{prefix}{path} is not a tinygrad_edu {what} (format {found!r})")
    return meta, arrays


def one_line(e: BaseException) -> str:
    """An error's message on one line (its type's name if it has none)."""
    return " ".join(str(e).strip("'\"").split()) or type(e).__name__
