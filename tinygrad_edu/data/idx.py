"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic ``00 00 T D`` (``T`` the element type code, ``D`` the number of
dimensions), then ``D`` big-endian uint32 sizes ``n_1 .. n_D``, then exactly
``n_1 * ... * n_D`` elements, big-endian, in C order. Files may be gzip-compressed; gzip is
detected by its magic bytes ``1f 8b``, never by the file name.
"""

from __future__ import annotations

import gzip as _gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO, NoReturn

import numpy as np

__all__ = ["IDX_DTYPES", "IDXError", "read_idx", "write_idx"]

#: IDX element type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_NAMES = ", ".join(f"0x{code:02X} {dt.name}" for code, dt in IDX_DTYPES.items())
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file is malformed; the message names the file and what is wrong."""


#: The most a deflate stream expands (1032:1): a gzip file of n bytes holds at most about
#: 1032 n bytes, so a header declaring more is refused before anything is decompressed.
GZIP_MAX_RATIO = 1032
#: Trailing bytes counted (then "more than" this many) before giving up on a file.
_TRAILING_COUNTED = 1 << 20
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array of shape ``(n_1, ..., n_D)``.

    The element type follows the header's type code (``0x08`` -> uint8 for MNIST); the result
    is a fresh, writable array in native byte order. The header is read first and its sizes
    checked against the file's size, so no more than the declared payload is ever decompressed
    or allocated (a small gzip file declaring a huge array, or holding gigabytes after a small
    one, fails at once). Raises :class:`IDXError` on a bad magic, an unknown type code, a short
    header, a truncated payload or trailing bytes.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise IDXError(f"{path}: no such IDX file") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        gzipped = f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if not gzipped:
            return _read_stream(f, path, size, size)
        try:
            with _gzip.GzipFile(fileobj=f) as stream:
                return _read_stream(stream, path, None, size * GZIP_MAX_RATIO)
        except (OSError, EOFError, zlib.error) as err:
            raise IDXError(f"{path}: corrupt gzip data ({err})") from None


def _read_stream(f: BinaryIO, path: Path, size: int | None, most: int) -> np.ndarray:
    """The array in the IDX stream ``f`` (``size``: its exact length if known; ``most``: the
    most it can hold)."""
    head = f.read(4)
    if len(head) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(head)} bytes, need at least 4)")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(
            f"{path}: bad IDX magic {head.hex(' ')}: an IDX file starts with two zero bytes"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02X} (known: {_CODE_NAMES})")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    sizes = f.read(4 * ndim)
    header = 4 + len(sizes)
    if len(sizes) < 4 * ndim:
        raise IDXError(
            f"{path}: truncated header: {ndim} dimensions need {4 + 4 * ndim} header bytes, "
            f"file has {header}"
        )
    dims = tuple(int(d) for d in np.frombuffer(sizes, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    if size is not None and size - header != expected:
        _wrong_size(path, dims, dtype, expected, size - header)
    if header + expected > most:
        raise IDXError(
            f"{path}: its header declares shape {dims} ({expected} bytes), more than the "
            f"file can hold"
        )
    payload = bytearray(expected)
    view, got = memoryview(payload), 0
    while got < expected and (n := f.readinto(view[got : got + _CHUNK])):  # no 2nd copy
        got += n
    if got < expected:
        _wrong_size(path, dims, dtype, expected, got)
    if size is None and (trailing := _count_trailing(f)):
        _wrong_size(path, dims, dtype, expected, expected + trailing)
    array = np.frombuffer(payload, dtype=dtype).reshape(dims)
    if dtype.byteorder == ">":  # swapped in place: the payload is the only copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _count_trailing(f: BinaryIO) -> int:
    """The bytes left in ``f`` (counted up to just past :data:`_TRAILING_COUNTED`)."""
    count = 0
    while count <= _TRAILING_COUNTED and (chunk := f.read(1 << 16)):
        count += len(chunk)
    return count


def _wrong_size(
    path: Path, dims: tuple[int, ...], dtype: np.dtype, expected: int, got: int
) -> NoReturn:
    if got < expected:
        raise IDXError(
            f"{path}: truncated: shape {dims} of {dtype.name} needs {expected} payload bytes, "
            f"got {got}"
        )
    count = (
        f"more than {_TRAILING_COUNTED}" if got - expected > _TRAILING_COUNTED else got - expected
    )
    raise IDXError(
        f"{path}: {count} trailing bytes after the {expected}-byte payload of shape {dims}"
    )


def write_idx(path: str | os.PathLike[str], array: np.ndarray, gzip: bool = True) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed unless ``gzip=False``); return the path.

    The type code follows ``array.dtype`` (uint8, int8, int16, int32, float32, float64); the
    gzip header carries no time stamp, so equal arrays give byte-identical files.
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise IDXError(f"{path}: cannot write dtype {array.dtype} as IDX (known: {_CODE_NAMES})")
    if not 1 <= array.ndim <= 255:
        raise IDXError(f"{path}: IDX needs 1 to 255 dimensions, array has {array.ndim}")
    if any(n >= 2**32 for n in array.shape):
        raise IDXError(f"{path}: dimension sizes {array.shape} do not fit in uint32")
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    blob = header + payload
    if gzip:
        blob = _gzip.compress(blob, compresslevel=6, mtime=0)
    path.write_bytes(blob)
    return path
