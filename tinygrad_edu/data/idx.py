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


def _decompress(raw: bytes, path: Path) -> bytes:
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return _gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: corrupt gzip data ({err})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array of shape ``(n_1, ..., n_D)``.

    The element type follows the header's type code (``0x08`` -> uint8 for MNIST); the result
    is a fresh, writable array in native byte order. Raises :class:`IDXError` on a bad magic,
    an unknown type code, a short header, a truncated payload or trailing bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IDXError(f"{path}: no such IDX file") from None
    data = _decompress(raw, path)
    if len(data) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(data)} bytes, need at least 4)")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(
            f"{path}: bad IDX magic {data[:4].hex(' ')}: an IDX file starts with two zero bytes"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02X} (known: {_CODE_NAMES})")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(
            f"{path}: truncated header: {ndim} dimensions need {header} header bytes, "
            f"file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        raise IDXError(
            f"{path}: truncated: shape {dims} of {dtype.name} needs {expected} payload bytes, "
            f"got {got}"
        )
    if got > expected:
        raise IDXError(
            f"{path}: {got - expected} trailing bytes after the {expected}-byte payload "
            f"of shape {dims}"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="))


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
