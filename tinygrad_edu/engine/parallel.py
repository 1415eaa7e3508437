"""Work split over the cores: a small pool of threads running numpy's and BLAS's kernels.

numpy releases the GIL inside its ufunc loops, copies and BLAS calls on large arrays, so two
threads can each run a piece of one elementwise pass (ReLU's, a pooling's, im2col's copy) or of
one matrix product at the same time. A training step that splits them (``fit`` with the pool's
threads, ``training/threads.py``) runs BLAS on one thread: OpenBLAS's own idle threads spin
for a while after each product and would hold the cores the passes need.

* :func:`run_pieces` runs ``body(lo, hi)`` over pieces of ``range(count)``: the calling thread
  and the pool's threads take the pieces one by one from a shared counter, so a thread that
  waits for a busy core takes fewer of them instead of holding up the others.
* :func:`split_outer`, :func:`elementwise`, :func:`copy` split a pass along the outermost axis
  in memory; :func:`matmul` a product along the free axis of its larger factor.
* :func:`width` is how many threads (the caller's included) a split uses: 1 unless set for a
  block of code by :func:`splitting` (as ``fit`` does). It is a context variable, like the
  grad mode: each thread has its own.

Results are bit for bit those of one thread: each element of a pass is computed by the same
ufunc loop, whichever piece holds it; each entry of a split product is summed over K in the
same blocks (with BLAS on one thread); nothing here splits a sum. ``benchmarks/speed_helpers.py``
times each split against one thread.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

import numpy as np

Array = np.ndarray

#: Elements below which a pass runs on the calling thread alone. Measured on a 2-core VM: a
#: split costs about 100 microseconds (waking a thread, handing the GIL back and forth), and
#: saves about 0.25 ns per float of a memory-bound pass (a 64 MB copy: 8.0 ms on one thread,
#: 4.5 on two; a 1 MB copy: 0.045 ms on one, 0.15 split): it pays from about 400k floats.
MIN_SPLIT = 2**20
#: Pieces per thread: more than one, so that a thread slowed by another process takes fewer,
#: and few, since each piece hands the GIL from thread to thread.
PIECES_PER_THREAD = 2

_width: ContextVar[int | None] = ContextVar("tinygrad_edu_split_width", default=None)
_pool: list[ThreadPoolExecutor] = []  # at most one, started at the first split
_pool_lock = threading.Lock()
_splits = [0]  # passes and products split so far (split_count)


@functools.lru_cache(maxsize=1)
def usable_cores() -> int:
    """The number of cores this process may run on (its CPU affinity where the system tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@functools.lru_cache(maxsize=1)
def _blas_libraries() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded (numpy's OpenBLAS), found once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas").lib_controllers


def blas_threads() -> int:
    """The threads BLAS runs on now (the fewest, if numpy loaded several libraries; the usable
    cores if none is found): what ``OPENBLAS_NUM_THREADS`` or ``threadpool_limits`` set."""
    return min((lib.num_threads for lib in _blas_libraries()), default=usable_cores())


def width() -> int:
    """How many threads, the caller's included, a split uses here: :func:`splitting`'s count,
    else 1 (no split outside ``fit`` and :func:`splitting`)."""
    count = _width.get()
    return 1 if count is None else count


def set_width(count: int) -> Token[int | None]:
    """From now on, splits in this thread (and its context) use ``count`` threads (1: none);
    :func:`reset_width` with the token returned undoes it (and every later call)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"split width must be an integer >= 1, got {count!r}")
    return _width.set(count)


def reset_width(token: Token[int | None]) -> None:
    """The width from before the :func:`set_width` call that returned ``token``."""
    _width.reset(token)


@contextmanager
def splitting(count: int) -> Iterator[None]:
    """Within the block, splits in this thread use ``count`` threads (1: none)."""
    token = set_width(count)
    try:
        yield
    finally:
        reset_width(token)


def split_count() -> int:
    """How many passes and products have been split over threads so far, in this process: a
    step that splits none runs on one thread whatever :func:`width` says."""
    return _splits[0]


def run_pieces(count: int, body: Callable[[int, int], Any], threads: int | None = None) -> None:
    """``body(lo, hi)`` for consecutive pieces [lo, hi) covering ``range(count)``, on ``threads``
    threads (default :func:`width`), the caller's included; returns when every piece is done,
    raising the first exception a piece raised. Pieces must write disjoint memory."""
    threads = min(width() if threads is None else threads, count)
    pieces = min(count, threads * PIECES_PER_THREAD)
    if threads <= 1 or pieces <= 1:
        body(0, count)
        return
    bounds = [count * i // pieces for i in range(pieces + 1)]
    claim = itertools.count()  # next() on it is atomic under the GIL
    finished, errors = [0], []
    lock, all_done = threading.Lock(), threading.Event()

    def work() -> None:
        while (i := next(claim)) < pieces:
            try:
                body(bounds[i], bounds[i + 1])
            except BaseException as e:  # handed to the caller, which re-raises it
                errors.append(e)
            with lock:
                finished[0] += 1
                if finished[0] == pieces:
                    all_done.set()

    _splits[0] += 1
    _hand_out(work, threads - 1)
    work()
    all_done.wait()  # only for pieces another thread has begun: unclaimed ones the caller took
    if errors:
        raise errors[0]


def _hand_out(work: Callable[[], None], helpers: int) -> None:
    """Ask ``helpers`` threads of the pool to run ``work``; if no thread can be started (a
    sandbox's process limit), the caller does all the work alone."""
    try:
        pool = _the_pool()
        for _ in range(helpers):
            pool.submit(work)
    except RuntimeError:  # can't start a new thread, or the interpreter is shutting down
        pass


def _the_pool() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            helpers = max(1, usable_cores() - 1)
            _pool.append(ThreadPoolExecutor(helpers, thread_name_prefix="tinygrad_edu-split"))
        return _pool[0]


def _forget_pool_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts a pool of its own."""
    _pool.clear()
    usable_cores.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def outer_axis(a: Array, axes: Sequence[int] | None = None) -> int:
    """The axis of ``a`` (one of ``axes``, default any) with the largest stride among those
    longer than 1: the outermost in memory, so that pieces along it are contiguous blocks."""
    axes = range(a.ndim) if axes is None else axes
    longer = [i for i in axes if a.shape[i] > 1] or [axes[0]]
    return max(longer, key=lambda i: abs(a.strides[i]))


def threads_for(size: int) -> int:
    """Threads for a pass over ``size`` elements: :func:`width`, but at least ``MIN_SPLIT / 2``
    elements each (1 below ``MIN_SPLIT``)."""
    return max(1, min(width(), size // (MIN_SPLIT // 2))) if size >= MIN_SPLIT else 1


def split_outer(
    a: Array, body: Callable[[tuple[slice, ...]], Any], axes: Sequence[int] | None = None
) -> None:
    """``body(at)`` for index tuples ``at`` that select consecutive pieces of ``a``'s outermost
    axis in memory (one of ``axes``), together all of ``a``; split over :func:`threads_for`
    threads, or one call ``body((...,))`` for a small ``a``."""
    threads = threads_for(a.size)
    if threads == 1 or a.ndim == 0:
        body((...,))
        return
    axis = outer_axis(a, axes)
    lead = (slice(None),) * axis
    run_pieces(a.shape[axis], lambda lo, hi: body((*lead, slice(lo, hi))), threads)


def elementwise(ufunc: np.ufunc, *args: Any, out: Array) -> Array:
    """``ufunc(*args, out=out)`` split along ``out``'s outermost axis in memory
    (:func:`split_outer`); each argument is an array of ``out``'s shape or a scalar."""
    arrays = [a for a in args if isinstance(a, np.ndarray) and a.ndim]
    if any(a.shape != out.shape for a in arrays):
        return ufunc(*args, out=out)

    def piece(at: tuple[slice, ...]) -> None:
        ufunc(*(a[at] if isinstance(a, np.ndarray) and a.ndim else a for a in args), out=out[at])

    split_outer(out, piece)
    return out


def copy(dst: Array, src: Array) -> Array:
    """``np.copyto(dst, src)``, ``src`` of ``dst``'s shape (a view such as im2col's windows),
    split along ``dst``'s outermost axis in memory (:func:`split_outer`)."""
    if src.shape != dst.shape:
        np.copyto(dst, src)
    else:
        split_outer(dst, lambda at: np.copyto(dst[at], src[at]))
    return dst


#: Multiply-adds (M N K) below which a product is not split: handing half of it to another
#: thread costs about 100 microseconds, what a single thread needs for some 10 million.
MIN_MATMUL = 2**25
#: A product is split only if its larger factor is this many times the other's size
#: (:func:`matmul`).
LOPSIDED = 4


def matmul(a: Array, b: Array, out: Array | None = None) -> Array:
    """a @ b for 2-D a (M, K) and b (K, N), into ``out`` (C-contiguous) if given. With
    :func:`width` > 1 threads, BLAS on one thread, and at least ``MIN_MATMUL`` multiply-adds,
    split over the threads along the free axis of the larger factor: rows of a (``M``) or
    columns of b (``N``), each thread packing its part of that factor and all of the other, which
    must be at most 1 / ``LOPSIDED`` of its size (else, as for the first convolution's dL/dW
    over a long K, both threads read a large factor whole: split, the CNN's step was no faster).

    Why not BLAS's own threads: OpenBLAS's idle threads spin for a while after each product,
    holding the other cores, so the elementwise passes between products cannot be split over
    them. With BLAS on one thread, this split gives the same bits as one product (OpenBLAS sums
    each entry over K in the same blocks whatever the M and N of the call), and the elementwise
    splits keep the other cores."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    threads, by_rows = width(), a.size >= b.size
    both_large = min(a.size, b.size) * LOPSIDED > max(a.size, b.size)
    if threads == 1 or m * n * k < MIN_MATMUL or both_large or blas_threads() > 1:
        return np.dot(a, b, out=out)
    if by_rows:
        run_pieces(m, lambda lo, hi: np.dot(a[lo:hi], b, out=out[lo:hi]), threads)
    else:
        run_pieces(n, lambda lo, hi: np.matmul(a, b[:, lo:hi], out=out[:, lo:hi]), threads)
    return out
