"""The messages between the grader and the sandboxed child that runs a student's code.

A message is a 4-byte big-endian length, a JSON header of that many bytes, then the raw bytes
of the arrays it holds: plain numbers and text, never pickle, so that nothing the child sends
can run code in the grader. The header's ``"arrays"`` lists each array's size in bytes; a value
in the header is JSON, or one of:

* ``{"a": i, "dtype": "<f8", "shape": [3, 4]}`` the i-th array, its dtype (numbers only) and
  shape (``"ro": true``: read-only); with ``"s"`` for ``"a"``, a numpy scalar;
* ``{"t": [...]}`` a tuple, ``{"l": [...]}`` a list, ``{"d": [[key, value], ...]}`` a dict;
* ``{"f": "nan" | "inf" | "-inf"}`` a float JSON cannot write, ``{"i": "123..."}`` an integer
  beyond 2**53 (as text, so that no JSON reader rounds it);
* ``{"h": n, "type": name, "name": qualname}`` an object that stays in the child (a network, a
  function), referred to by its number.

Whatever arrives is checked against :class:`Limits` (sizes, nesting, numeric dtypes) before it
is used; a message that breaks them is a :class:`WireError`. This module needs only the
standard library and numpy: the child runs it before it imports anything of the student's.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Handle", "Limits", "WireError", "decode", "encode", "read_message", "write_message"]

_LENGTH = struct.Struct(">I")
#: The dtype kinds an array may have: booleans, integers, unsigned, floats, complex numbers.
NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A message that is malformed or breaks the limits."""


@dataclass(frozen=True)
class Limits:
    """What one message may hold: header bytes, bytes of all arrays, nesting depth, values."""

    header_bytes: int = 8 << 20
    array_bytes: int = 1 << 30
    depth: int = 32
    values: int = 100_000


@dataclass(frozen=True)
class Handle:
    """An object that stays in the child, by its number there, its type's name and its own
    (a function's or class's qualified name, else '')."""

    number: int
    type_name: str
    name: str = ""


class _Encoder:
    """A value as a JSON-ready tree, its arrays set aside as ``.npy`` bytes."""

    def __init__(self, handle_of: Any) -> None:
        self.blobs: list[bytes] = []
        self.handle_of = handle_of  # value -> Handle, for values that are not data

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > Limits.depth:
            raise WireError(f"nested deeper than {Limits.depth} levels")
        if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in NUMERIC_KINDS:
            return self._array(value)  # before float: np.float64 is a float too
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**53 else {"i": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"f": repr(value)}
        if isinstance(value, tuple | list):
            items = [self.encode(v, depth + 1) for v in value]
            return {"t": items} if isinstance(value, tuple) else {"l": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"d": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        stand_in = value if isinstance(value, Handle) else self.handle_of(value)
        if isinstance(stand_in, Handle):  # else data to send instead
            return {"h": stand_in.number, "type": stand_in.type_name, "name": stand_in.name}
        return self.encode(stand_in, depth + 1)

    def _array(self, value: np.ndarray | np.generic) -> dict[str, Any]:
        array = np.asarray(value)
        self.blobs.append(array.tobytes())
        key = "s" if isinstance(value, np.generic) else "a"
        tree = {key: len(self.blobs) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}
        if key == "a" and not array.flags.writeable:
            tree["ro"] = True
        return tree


def _no_handles(value: Any) -> Handle:
    raise WireError(f"cannot send a {type(value).__name__}")


def encode(message: dict[str, Any], handle_of: Any = _no_handles) -> bytes:
    """The bytes of ``message``; ``handle_of(value)`` names each value that is not data (by
    default such a value is a WireError)."""
    encoder = _Encoder(handle_of)
    tree = encoder.encode(message)
    header = json.dumps(
        {"body": tree, "arrays": [len(b) for b in encoder.blobs]}, allow_nan=False
    ).encode()
    return _LENGTH.pack(len(header)) + header + b"".join(encoder.blobs)


class _Decoder:
    def __init__(self, blobs: list[bytes], limits: Limits, resolve: Any) -> None:
        self.blobs, self.limits, self.resolve = blobs, limits, resolve
        self.count = 0

    def decode(self, tree: Any, depth: int = 0) -> Any:
        self.count += 1
        if depth > self.limits.depth or self.count > self.limits.values:
            raise WireError("message nested too deep or holding too many values")
        if tree is None or isinstance(tree, bool | int | float | str):
            return tree
        if not isinstance(tree, dict) or not tree:
            raise WireError("malformed value")
        key, body = next(iter(tree.items()))
        if key in ("t", "l") and isinstance(body, list) and len(tree) == 1:
            items = [self.decode(v, depth + 1) for v in body]
            return tuple(items) if key == "t" else items
        if key == "d" and isinstance(body, list) and len(tree) == 1:
            return {self._key(pair): self.decode(pair[1], depth + 1) for pair in body}
        if key == "f" and body in ("nan", "inf", "-inf") and len(tree) == 1:
            return float(body)
        if key == "i" and isinstance(body, str) and len(body) < 1000 and len(tree) == 1:
            try:
                return int(body)
            except ValueError:
                raise WireError("malformed integer") from None
        if key in ("a", "s") and isinstance(body, int):
            return self._array(tree, body, key == "s")
        if key == "h" and isinstance(body, int) and isinstance(tree.get("type"), str):
            return self.resolve(Handle(body, tree["type"], str(tree.get("name", ""))[:200]))
        raise WireError(f"malformed value with key {key!r}")

    @staticmethod
    def _key(pair: Any) -> str:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise WireError("malformed dict entry")
        return pair[0]

    def _array(self, tree: dict[str, Any], index: int, scalar: bool) -> Any:
        if not 0 <= index < len(self.blobs):
            raise WireError(f"array {index} is not in the message")
        dtype, shape = _dtype(tree.get("dtype")), tree.get("shape")
        if not (
            isinstance(shape, list)
            and len(shape) <= 32
            and all(isinstance(n, int) and n >= 0 for n in shape)
            and math.prod(shape) * dtype.itemsize == len(self.blobs[index])
        ):
            raise WireError(f"array {index}: shape {shape} does not fit its {dtype} bytes")
        array = np.frombuffer(self.blobs[index], dtype).reshape(shape).copy()
        if scalar:
            return array[()] if array.ndim == 0 else array
        array.flags.writeable = tree.get("ro") is not True
        return array


def _dtype(text: Any) -> np.dtype:
    """The dtype a header names, if it is a plain number type (``<f8``, ``|b1``, ...)."""
    if not (isinstance(text, str) and len(text) <= 4 and text[:1] in "<>|="):
        raise WireError(f"array dtype {text!r} is not a plain number type")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise WireError(f"array dtype {text!r} is not a plain number type") from None
    if dtype.kind not in NUMERIC_KINDS:
        raise WireError(f"array dtype {text!r} is not a number type")
    return dtype


def _handles_refused(handle: Handle) -> Any:
    raise WireError("no objects may be sent this way")


def decode(
    data: bytes, limits: Limits = Limits(), resolve: Any = _handles_refused
) -> dict[str, Any]:
    """The message in ``data`` (a length, a header, arrays); ``resolve(handle)`` gives the value
    a handle stands for."""
    if len(data) < _LENGTH.size:
        raise WireError("message shorter than its length field")
    (size,) = _LENGTH.unpack_from(data)
    header = _parse_header(data[_LENGTH.size : _LENGTH.size + size], limits)
    blobs, offset = [], _LENGTH.size + size
    for n in header["arrays"]:
        blobs.append(data[offset : offset + n])
        offset += n
    if offset != len(data):
        raise WireError("message length does not match its arrays")
    body = _Decoder(blobs, limits, resolve).decode(header["body"])
    if not isinstance(body, dict):
        raise WireError("a message is a dict")
    return body


def _parse_header(text: bytes, limits: Limits) -> dict[str, Any]:
    if len(text) > limits.header_bytes:
        raise WireError(f"header of {len(text)} bytes, over {limits.header_bytes}")
    try:
        header = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise WireError(f"header is not JSON ({type(e).__name__})") from None
    arrays = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(arrays, list) or not all(isinstance(n, int) and n >= 0 for n in arrays):
        raise WireError("header without a list of array sizes")
    if sum(arrays) > limits.array_bytes:
        raise WireError(f"arrays of {sum(arrays)} bytes, over {limits.array_bytes}")
    return header


Deadline = Callable[[], float] | None  # the seconds left to wait; None waits for ever


def write_message(fd: int, data: bytes, deadline: Deadline = None) -> None:
    """Send the bytes of one message (from :func:`encode`) on file descriptor ``fd``; with a
    ``deadline``, a TimeoutError when the other side stops reading."""
    view = memoryview(data)
    while view:
        _wait(fd, deadline, writing=True)
        try:
            view = view[os.write(fd, view[: 1 << 20]) :]
        except BlockingIOError:  # a non-blocking pipe that filled up meanwhile
            continue


def read_message(fd: int, limits: Limits = Limits(), deadline: Deadline = None) -> bytes:
    """The bytes of one message from file descriptor ``fd``: its length field, then as many
    bytes as the header and arrays need. A TimeoutError when ``deadline()`` runs out first, an
    EOFError at the end of the stream."""
    head = _read_exact(fd, _LENGTH.size, deadline)
    (size,) = _LENGTH.unpack(head)
    if size > limits.header_bytes:
        raise WireError(f"header of {size} bytes, over {limits.header_bytes}")
    header = _read_exact(fd, size, deadline)
    sizes = _parse_header(header, limits)["arrays"]
    return head + header + _read_exact(fd, sum(sizes), deadline)


def _read_exact(fd: int, n: int, deadline: Deadline) -> bytes:
    chunks, left = [], n
    while left:
        _wait(fd, deadline, writing=False)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _wait(fd: int, deadline: Deadline, writing: bool) -> None:
    """Return when ``fd`` is ready; a TimeoutError when the deadline passes first."""
    if deadline is None:
        return
    left = deadline()
    ready = (
        select.select([], [fd], [], max(left, 0))
        if writing
        else select.select([fd], [], [], max(left, 0))
    )
    if not (ready[1] if writing else ready[0]):
        raise TimeoutError("no answer within the time limit")
