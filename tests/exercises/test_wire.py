"""The messages between the grader and a part's child: what goes over comes back equal, and
whatever a hostile child could send is refused before it is used."""

from __future__ import annotations

import json
import math
import os
import struct
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.exercises import wire

arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex128]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | arrays,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, True)
    if isinstance(a, float):
        return isinstance(b, float) and (a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(values)
def test_a_value_comes_back_equal(value: object) -> None:
    back = wire.decode(wire.encode({"ok": value}))["ok"]
    assert same(value, back)


def test_numpy_scalars_stay_numpy_scalars_and_read_only_stays_read_only() -> None:
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    back = wire.decode(wire.encode({"ok": (np.float64(2.5), np.int32(3), frozen, np.ones(2))}))
    f, i, ro, rw = back["ok"]
    assert type(f) is np.float64 and type(i) is np.int32
    assert not ro.flags.writeable and rw.flags.writeable


def test_objects_travel_as_handles() -> None:
    class Net:
        pass

    data = wire.encode({"ok": Net()}, lambda value: wire.Handle(7, "Net", "Net"))
    handle = wire.decode(data, resolve=lambda h: h)["ok"]
    assert handle == wire.Handle(7, "Net", "Net")
    with pytest.raises(wire.WireError, match="cannot send a Net"):
        wire.encode({"ok": Net()})
    with pytest.raises(wire.WireError, match="no objects"):
        wire.decode(data)


def message(header: dict, *blobs: bytes) -> bytes:
    """A message with ``header``, its body ``{"ok": X}`` written as the encoder writes a dict."""
    if isinstance(header.get("body"), dict) and "ok" in header["body"]:
        header = {**header, "body": {"d": [["ok", header["body"]["ok"]]]}}
    text = json.dumps(header).encode()
    return struct.pack(">I", len(text)) + text + b"".join(blobs)


@pytest.mark.parametrize(
    "data, why",
    [
        (message({"body": {"ok": 1}, "arrays": [8]}, b"\0" * 7), "length does not match"),
        (
            message(
                {"body": {"ok": {"a": 0, "dtype": "|O", "shape": [1]}}, "arrays": [8]}, b"\0" * 8
            ),
            "not a",
        ),
        (
            message(
                {"body": {"ok": {"a": 0, "dtype": "<f8", "shape": [2]}}, "arrays": [8]}, b"\0" * 8
            ),
            "does not fit",
        ),
        (
            message({"body": {"ok": {"a": 3, "dtype": "<f8", "shape": []}}, "arrays": []}),
            "not in the message",
        ),
        (message({"body": {"ok": {"x": 1}}, "arrays": []}), "malformed"),
        (message({"body": [1, 2], "arrays": []}), "malformed"),
        (message({"arrays": "no"}), "array sizes"),
        (struct.pack(">I", 5) + b"[[[[[", "not JSON"),
        (struct.pack(">I", 100_001) + b"[" * 100_001, "not JSON|over"),
        (b"\0\0", "shorter"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(wire.WireError, match=why):
        wire.decode(data)


def test_deep_nesting_and_too_many_values_are_refused() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested"):
        wire.encode({"ok": deep})
    many = message({"body": {"ok": {"l": [1] * 200}}, "arrays": []})
    with pytest.raises(wire.WireError, match="too many values"):
        wire.decode(many, wire.Limits(values=100))


def test_a_reader_waits_no_longer_than_its_deadline() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(TimeoutError):
            wire.read_message(read_end, deadline=lambda: 0.05)
        data = wire.encode({"ok": np.arange(300_000.0)})  # bigger than a pipe's buffer
        writer = threading.Thread(target=wire.write_message, args=(write_end, data))
        writer.start()
        assert wire.read_message(read_end, deadline=lambda: 5.0) == data
        writer.join()
    finally:
        os.close(read_end)
        os.close(write_end)
