"""engine/parallel.py: pieces of a pass run on a few threads, every piece exactly once, and the
split passes give the one-thread results bit for bit (``MIN_SPLIT`` is lowered so that small
arrays drawn by hypothesis are split too)."""

from __future__ import annotations

import threading
import time
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import arrays, shapes

from tinygrad_edu.engine import parallel, speed


def split_small() -> Any:
    """Within the block, arrays are split from 4 elements up."""
    return mock.patch.object(parallel, "MIN_SPLIT", 4)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 300), threads=st.integers(1, 5))
def test_every_index_is_run_exactly_once(count: int, threads: int) -> None:
    seen = np.zeros(count, np.int64)
    ran_in = set()

    def body(lo: int, hi: int) -> None:
        ran_in.add(threading.get_ident())
        seen[lo:hi] += 1

    parallel.run_pieces(count, body, threads)
    assert (seen == 1).all()
    assert len(ran_in) <= max(1, min(threads, count))


def test_pieces_run_on_other_threads_too() -> None:
    """Each piece waits until two threads are inside one: it ends only if they are shared."""
    inside, both = [0], threading.Event()
    lock = threading.Lock()

    def body(lo: int, hi: int) -> None:
        with lock:
            inside[0] += 1
            if inside[0] == 2:
                both.set()
        assert both.wait(timeout=20), "the pieces never ran at the same time"

    parallel.run_pieces(2, body, 2)


def test_a_slow_helper_thread_does_not_hold_up_the_pieces_it_did_not_take() -> None:
    """The piece another thread took sleeps; the caller takes every other piece meanwhile."""
    caller, where = threading.get_ident(), {}

    def body(lo: int, hi: int) -> None:
        where[lo] = threading.get_ident()
        if where[lo] != caller:
            time.sleep(0.2)

    parallel.run_pieces(40, body, 2)
    others = [lo for lo, ident in where.items() if ident != caller]
    assert (
        len(where) == 2 * parallel.PIECES_PER_THREAD and len(others) <= 1
    )  # the caller did the rest


def test_an_exception_in_a_piece_reaches_the_caller() -> None:
    def body(lo: int, hi: int) -> None:
        if lo > 0:
            raise ZeroDivisionError(f"piece {lo}")

    for _ in range(5):  # whichever thread hits it
        with pytest.raises(ZeroDivisionError, match="piece"):
            parallel.run_pieces(8, body, 2)


def test_without_threads_to_start_the_caller_does_all(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_threads() -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(parallel, "_the_pool", no_threads)
    seen = np.zeros(100, np.int64)
    parallel.run_pieces(100, lambda lo, hi: seen.__setitem__(slice(lo, hi), seen[lo:hi] + 1), 4)
    assert (seen == 1).all()


def test_splitting_sets_the_width_of_this_thread_only() -> None:
    default = parallel.width()
    assert default == 1  # no split outside fit and splitting()
    seen_elsewhere = []
    with parallel.splitting(3):
        assert parallel.width() == 3
        other = threading.Thread(target=lambda: seen_elsewhere.append(parallel.width()))
        other.start()
        other.join()
        token = parallel.set_width(1)
        assert parallel.width() == 1
        parallel.reset_width(token)
        assert parallel.width() == 3
    assert parallel.width() == default and seen_elsewhere == [default]
    for bad in (0, -2, 1.0, True):
        with pytest.raises(ValueError, match="split width must be an integer >= 1"):
            parallel.set_width(bad)  # type: ignore[arg-type]


def test_small_passes_and_one_thread_are_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(parallel, "run_pieces", lambda *a: calls.append(a))
    a = np.ones(parallel.MIN_SPLIT - 1, np.float32)
    parallel.elementwise(np.negative, a, out=np.empty_like(a))
    big = np.ones(parallel.MIN_SPLIT * 2, np.float32)
    with parallel.splitting(1):
        parallel.elementwise(np.negative, big, out=np.empty_like(big))
    assert calls == [] and parallel.threads_for(len(big)) == min(2, parallel.width())


def layouts(a: np.ndarray) -> list[np.ndarray]:
    """a, a transposed view, a copy in reversed memory order, and a strided view."""
    views = [a, a.T, np.ascontiguousarray(a.T).T]
    return views + ([a[::2]] if a.ndim and a.shape[0] > 1 else [])


@settings(max_examples=40, deadline=None)
@given(a=arrays(shapes(1, 4, 1, 5), lo=-3.0, hi=3.0), width=st.integers(2, 4))
def test_split_passes_are_the_one_thread_passes_bit_for_bit(a: np.ndarray, width: int) -> None:
    for x in layouts(a.astype(np.float32)):
        g = np.cos(x * 7)
        with parallel.splitting(1):
            expected = (np.maximum(x, 0), x > 0, g * (x > 0), x * g, x.copy())
        with parallel.splitting(width), split_small():
            out, positive = speed.relu(x)
            masked = speed.masked(g, positive)
            product = parallel.elementwise(np.multiply, x, g, out=np.empty_like(x))
            copied = parallel.copy(np.empty_like(x), x)
        for got, want in zip((out, positive, masked, product, copied), expected, strict=True):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        assert out.strides == np.empty_like(x).strides  # x's memory layout


def test_broadcast_arguments_are_not_split() -> None:
    a, row = np.ones((6, 5), np.float32), np.arange(5, dtype=np.float32)
    with split_small():
        out = parallel.elementwise(np.add, a, row, out=np.empty_like(a))
    np.testing.assert_array_equal(out, a + row)
    assert parallel.outer_axis(np.ones((1, 7, 3))) == 1
    assert parallel.outer_axis(np.ones((4, 3)).T) == 1
    assert parallel.outer_axis(np.ones((4, 3)), axes=(1,)) == 1


def test_products_split_over_threads_are_the_one_thread_product_bit_for_bit() -> None:
    """The course CNN's products (and one with rows split), BLAS on one thread: split over 2 to
    4 threads they are the same bits as one product; they are split (the pieces are counted)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    shapes = [((64, 801), (801, 8192)), ((64, 8192), (8192, 801)), ((160, 64), (64, 8192))]
    shapes += [((32, 26), (26, 73728)), ((8192, 801), (801, 64))]
    pieces = []
    run_pieces = parallel.run_pieces
    with (
        threadpool_limits(1, "blas"),
        mock.patch.object(
            parallel,
            "run_pieces",
            lambda n, body, t=None: pieces.append(t) or run_pieces(n, body, t),
        ),
    ):
        for a_shape, b_shape in shapes:
            a = rng.standard_normal(a_shape, dtype=np.float32)
            b = rng.standard_normal(b_shape[::-1], dtype=np.float32).T  # as im2col's X^T
            expected = np.dot(a, b)
            for width in (2, 3, 4):
                with parallel.splitting(width):
                    np.testing.assert_array_equal(parallel.matmul(a, b), expected)
    assert pieces == [2, 3, 4] * len(shapes)


def test_products_not_split() -> None:
    """Small products, products whose other factor is large too (a long K), and products
    while BLAS runs its own threads are one np.dot."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(1)
    small = rng.random((256, 784), dtype=np.float32), rng.random((784, 64), dtype=np.float32)
    long_k = rng.random((32, 73728), dtype=np.float32), rng.random((73728, 26), dtype=np.float32)
    big = rng.random((64, 801), dtype=np.float32), rng.random((801, 8192), dtype=np.float32)
    with mock.patch.object(parallel, "run_pieces", side_effect=AssertionError("split")):
        with parallel.splitting(2), threadpool_limits(1, "blas"):
            for a, b in (small, long_k):
                np.testing.assert_array_equal(parallel.matmul(a, b), np.dot(a, b))
        with parallel.splitting(2), threadpool_limits(2, "blas"):
            np.testing.assert_array_equal(parallel.matmul(*big), np.dot(*big))
        out = np.empty((64, 8192), np.float32)
        assert parallel.matmul(*big, out=out) is out  # width 1 outside splitting()
