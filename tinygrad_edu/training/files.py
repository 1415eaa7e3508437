"""Files that are never half-written: atomic writes, and ``.npz`` archives of arrays with a
JSON metadata entry (models and checkpoints), read back without pickle.

Files are created with mode 0666 minus the user's umask (as ``open`` does; not the 0600 of
``tempfile.mkstemp``), so a teaching assistant can read a student's ``model.npz``. A temp file
is named ``.<name>.<pid>.<random>.tmp``: one left by a killed process is removed by the next
write to the same file. An archive is read one entry at a time, each entry's shape and dtype
first checked against the bytes it holds (:class:`NpzReader`), so a file declaring sizes it
does not hold is refused before anything is allocated. JSON read from a file goes through
:func:`parse_json`, which turns every way the text can be bad (not JSON, not UTF-8, nested
deeper than Python's parser goes) into the caller's error naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..data.download import remove_stale_temp_files

__all__ = [
    "MAX_METADATA_BYTES",
    "NpzReader",
    "atomic_write",
    "jsonable",
    "one_line",
    "parse_json",
    "read_npz",
    "why_not_writable",
]

#: The largest JSON metadata entry read from an archive (a long run's history is a few MB).
MAX_METADATA_BYTES = 64 << 20


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
    """Write ``path`` via a temp file in the same folder, fsync and ``os.replace``: readers see
    the old file or the complete new one, never a partial one. The file gets mode 0666 minus
    the umask; temp files of ``path`` left by killed processes are removed first."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path, ".tmp")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:
            raise _naming(e, path) from None  # e.g. a full disk: the file, not the temp file
        raise
    _fsync_dir(path.parent)


def why_not_writable(folder: str | os.PathLike[str]) -> str | None:
    """Why files cannot be written in ``folder`` (or in the folders that would be made for
    it), in words; None if they can. Checked by making and removing an empty folder in the
    nearest existing one (``os.access`` says yes to root on a read-only file system): nothing
    is left behind."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tinygrad_edu-probe-", dir=existing))
    except OSError as e:
        return f"cannot create a folder in {existing} ({e.strerror or one_line(e)})"
    return None


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` (an OSError with an errno) about ``path`` rather than a temp file."""
    return type(error)(error.errno, error.strerror, str(path))


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def parse_json(text: str | bytes, error: type[Exception], where: str) -> Any:
    """The JSON value in ``text`` (read from a file the user may have edited or broken).

    Invalid JSON, bytes that are not UTF-8, and nesting too deep for Python's parser (a 100k-deep
    ``[``: a RecursionError, which no caller expects) raise ``error`` with a one-line message
    beginning with ``where`` (the file, and the line or entry): ``<where> is not valid JSON
    (...)`` or ``<where> is JSON nested too deeply``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{where} is JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise error(f"{where} is not valid JSON ({one_line(e)})") from None


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


class NpzReader:
    """An ``.npz`` archive opened for reading without pickle, one entry at a time.

    ``entries`` maps each array's name to its ``(shape, dtype)``, read from the entry's header
    alone; opening checks that every entry holds exactly the bytes its header declares, so
    nothing is allocated for sizes a file does not hold. ``read(name, out)`` reads one array
    (into ``out`` when given: no second copy). Errors raise ``error`` naming the file.
    """

    def __init__(self, path: Path, error: type[Exception], what: str, prefix: str = "") -> None:
        self.path, self.error, self.what, self.prefix = Path(path), error, what, prefix
        self.entries: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self._members: dict[str, tuple[zipfile.ZipInfo, bool, int]] = {}
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
            raise self._fail(f"is not a readable {what} ({one_line(e)})") from None
        try:
            for info in self._zip.infolist():
                self._add(info)
        except BaseException:
            self.close()
            raise

    def _fail(self, message: str) -> Exception:
        return self.error(f"{self.prefix}{self.path} {message}")

    def _add(self, info: zipfile.ZipInfo) -> None:
        """Check one entry's header against its size; remember its shape and dtype."""
        name = info.filename.removesuffix(".npy")
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f, max_header_size=1 << 16)
                offset = f.tell()
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError) as e:
            raise self._fail(f"has a corrupt entry {name!r} ({one_line(e)})") from None
        if dtype.hasobject:
            raise self._fail(f"entry {name!r} holds Python objects (refused: no pickle)")
        if math.prod(shape) * dtype.itemsize != info.file_size - offset:
            raise self._fail(
                f"entry {name!r} declares shape {shape} of {dtype} but holds "
                f"{info.file_size - offset} bytes"
            )
        self.entries[name] = (tuple(shape), dtype)
        self._members[name] = (info, fortran, offset)

    def read(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """The array ``name``, read into ``out`` if given (its shape and dtype must match)."""
        info, fortran, offset = self._members[name]
        shape, dtype = self.entries[name]
        direct = out is not None and out.dtype == dtype and out.flags.c_contiguous
        array = (
            out if direct and not fortran else np.empty(shape[::-1] if fortran else shape, dtype)
        )
        try:
            with self._zip.open(info) as f:
                f.seek(offset)
                _read_exactly(f, memoryview(array.reshape(-1)).cast("B"))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError) as e:
            raise self._fail(f"has a corrupt entry {name!r} ({one_line(e)})") from None
        if fortran:
            array = array.T
        if out is not None and array is not out:
            np.copyto(out, array, casting="unsafe")
            return out
        return array

    def metadata(self, key: str, fmt: str) -> dict[str, Any]:
        """The JSON entry ``key``, which must be an object whose "format" is ``fmt``."""
        what = self.what
        if key not in self.entries:
            raise self._fail(f"has no {key} entry: not a tinygrad_edu {what}")
        shape, dtype = self.entries[key]
        if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * MAX_METADATA_BYTES:
            raise self._fail(f"has a malformed {key} entry ({dtype} {shape})")
        where = f"{self.prefix}{self.path}: its {what} metadata"
        meta = parse_json(str(self.read(key)), self.error, where)
        if not isinstance(meta, dict) or meta.get("format") != fmt:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise self._fail(f"is not a tinygrad_edu {what} (format {found!r})")
        return meta

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_exactly(f: BinaryIO, buffer: memoryview) -> None:
    """Fill ``buffer`` from ``f`` (an EOFError if it ends first)."""
    done = 0
    while done < len(buffer):
        n = f.readinto(buffer[done:])
        if not n:
            raise EOFError(f"ends after {done} of {len(buffer)} bytes")
        done += n


def read_npz(
    path: Path, meta_key: str, fmt: str, error: type[Exception], what: str, prefix: str = ""
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, arrays) of an .npz holding a JSON entry ``meta_key`` whose "format" is ``fmt``
    (models and checkpoints); anything else raises ``error`` with a message naming the file."""
    with NpzReader(path, error, what, prefix) as npz:
        meta = npz.metadata(meta_key, fmt)
        arrays = {name: npz.read(name) for name in npz.entries if name != meta_key}
    return meta, arrays


def one_line(error: BaseException) -> str:
    """The error's message on one line: a KeyError's key without its quotes, an OSError
    without a message as its reason and file name, a MemoryError as "not enough memory"; with
    no message at all, the error's type."""
    text = str(error)
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    if (
        isinstance(error, OSError)
        and error.filename is not None
        and (not error.args or error.errno)
    ):
        text = f"{error.strerror or type(error).__name__}: {error.filename}"
    if isinstance(error, MemoryError):
        text = f"not enough memory ({text or 'MemoryError'})"
    return " ".join(text.split()) or type(error).__name__


def brief(value: Any, width: int = 40, as_json: bool = False) -> str:
    """``value`` on one line as Python writes it (``repr``; ``as_json``: as JSON, for a value
    read from a file), cut to ``width`` characters."""
    text = " ".join((json.dumps(value, default=repr) if as_json else repr(value)).split())
    return text if len(text) <= width else text[: width - 3] + "..."
