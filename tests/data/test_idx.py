from __future__ import annotations

import gzip
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.data import IDXError, read_idx, write_idx

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def raw_idx(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(IDX_DTYPES),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
        elements={"allow_nan": False},
    ),
    compress=st.booleans(),
)
def test_round_trip(tmp_path: Path, array: np.ndarray, compress: bool) -> None:
    path = write_idx(tmp_path / "x.idx", array, gzip=compress)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_result_is_native_and_writable(tmp_path: Path) -> None:
    array = np.arange(12, dtype=">i4").reshape(3, 4)
    back = read_idx(write_idx(tmp_path / "a", array))
    assert back.dtype.isnative and back.flags.writeable
    back[0, 0] = 7  # no error: a fresh array
    np.testing.assert_array_equal(back[1:], array[1:])


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    gz_named_raw = write_idx(tmp_path / "plain.gz", array, gzip=False)
    raw_named_gz = write_idx(tmp_path / "packed.raw", array, gzip=True)
    assert raw_named_gz.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)


def test_write_is_deterministic(tmp_path: Path) -> None:
    array = np.arange(100, dtype=np.uint8)
    first, second = write_idx(tmp_path / "a", array), write_idx(tmp_path / "b", array)
    assert first.read_bytes() == second.read_bytes()


def test_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(IDXError, match=r"bad\.idx: bad IDX magic 01 02 08 01"):
        read_idx(path)


def test_unknown_type_code(tmp_path: Path) -> None:
    path = tmp_path / "code.idx"
    path.write_bytes(raw_idx(0x07, (1,), b"\x00"))
    with pytest.raises(IDXError, match=r"code\.idx: unknown IDX type code 0x07"):
        read_idx(path)


def test_zero_dimensions(tmp_path: Path) -> None:
    path = tmp_path / "zero.idx"
    path.write_bytes(bytes([0, 0, 8, 0]))
    with pytest.raises(IDXError, match="0 dimensions"):
        read_idx(path)


def test_too_short(tmp_path: Path) -> None:
    path = tmp_path / "empty.idx"
    path.write_bytes(b"\x00\x00")
    with pytest.raises(IDXError, match=r"empty\.idx: too short .*2 bytes"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "head.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">I", 10))
    with pytest.raises(
        IDXError, match="truncated header: 3 dimensions need 16 header bytes, file has 8"
    ):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_payload(tmp_path: Path, compress: bool) -> None:
    blob = raw_idx(0x08, (2, 28, 28), bytes(2 * 784 - 10))
    path = tmp_path / "short.idx"
    path.write_bytes(gzip.compress(blob) if compress else blob)
    with pytest.raises(
        IDXError,
        match=r"short\.idx: truncated: .*needs 1568 payload bytes, "
        "got 1558",
    ):
        read_idx(path)


def test_truncated_payload_multibyte(tmp_path: Path) -> None:
    path = tmp_path / "f32.idx"
    path.write_bytes(raw_idx(0x0D, (3,), bytes(10)))
    with pytest.raises(IDXError, match="needs 12 payload bytes, got 10"):
        read_idx(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "long.idx"
    path.write_bytes(raw_idx(0x08, (4,), bytes(7)))
    with pytest.raises(IDXError, match=r"long\.idx: 3 trailing bytes after the 4-byte payload"):
        read_idx(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    blob = gzip.compress(raw_idx(0x08, (1000,), np.arange(1000, dtype=np.uint8).tobytes()))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IDXError, match=r"cut\.gz: corrupt gzip"):
        read_idx(cut)
    flipped = bytearray(blob)
    flipped[20] ^= 0xFF
    bad = tmp_path / "flipped.gz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(IDXError, match=r"flipped\.gz: corrupt gzip"):
        read_idx(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match=r"nowhere\.idx: no such IDX file"):
        read_idx(tmp_path / "nowhere.idx")


def test_idx_error_is_value_error() -> None:
    assert issubclass(IDXError, ValueError)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float16, np.complex64])
def test_write_rejects_unsupported_dtype(tmp_path: Path, dtype: type) -> None:
    with pytest.raises(IDXError, match="cannot write dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x").exists()


def test_write_rejects_scalar(tmp_path: Path) -> None:
    with pytest.raises(IDXError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


def test_real_mnist_test_files(mnist_dir: Path) -> None:
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first ten


def peak_and_seconds(fn) -> tuple[BaseException | None, int, float]:
    tracemalloc.start()
    start = time.perf_counter()
    error = None
    try:
        fn()
    except IDXError as e:
        error = e
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, peak, seconds


def test_a_small_gzip_holding_a_gigabyte_after_its_payload(tmp_path: Path) -> None:
    """The issue: a 0.5 MB gzip file whose header says one 28x28 image used 1 GB."""
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(raw_idx(0x08, (1, 28, 28), bytes(784)))
        zeros = bytes(1 << 24)
        for _ in range(64):  # 1 GiB of zeros after the payload
            f.write(zeros)
    assert path.stat().st_size < 1_100_000
    error, peak, seconds = peak_and_seconds(lambda: read_idx(path))
    assert error is not None
    assert "more than 1048576 trailing bytes after the 784-byte payload" in str(error)
    assert peak < 4 << 20 and seconds < 1.0


@pytest.mark.parametrize("compress", [False, True])
def test_a_header_declaring_more_than_the_file_holds(tmp_path: Path, compress: bool) -> None:
    """60000 x 28 x 28 declared, 10 bytes held: refused before anything is allocated."""
    blob = raw_idx(0x08, (60000, 28, 28), bytes(10))
    path = tmp_path / "liar.idx"
    path.write_bytes(gzip.compress(blob) if compress else blob)
    error, peak, _ = peak_and_seconds(lambda: read_idx(path))
    message = "more than the file can hold" if compress else "needs 47040000 payload bytes, got 10"
    assert error is not None and message in str(error)
    assert peak < 1 << 20
