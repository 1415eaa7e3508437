"""Memory reused from one training step to the next, so that a step touches no fresh memory.

A training step frees and allocates the same multi-megabyte arrays again and again. Fresh
memory costs a page fault per 4 KB page the first time it is touched, and the kernel's time for
those faults can be a sizeable part of a convolutional network's step (PyTorch's allocator keeps
freed memory for this reason). Three tools, none of which changes a single number computed:

* :func:`keep_freed_memory` asks glibc to keep freed memory for the next allocation. It tunes
  the allocator of the whole process, so nothing calls it at import: ``training.fit`` and the
  command line do, before training; call it yourself in a training loop of your own.
* :func:`scratch`: one array per name and thread, for temporaries that die inside a call.
* :func:`reused_array`: an array that an op saves for backward, made in a buffer that an
  earlier op gave back once its backward had freed what it saved.

``benchmarks/speed_helpers.py`` measures the page faults with and without the first.
"""

from __future__ import annotations

import ctypes
import math
import sys
import threading
import weakref
from typing import Any, Protocol

import numpy as np

Array = np.ndarray

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_FREED = 256 * 2**20  # freed memory glibc keeps for reuse instead of returning it at once
HEAP_UP_TO = 64 * 2**20  # arrays up to this size come from the reusable heap, not fresh mmaps


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for the next allocation (mallopt), as PyTorch's allocator
    does; True if it could (Linux with glibc), else nothing changes. It lasts for the process.

    Why: by default glibc maps fresh memory for any block above 128 KB to 32 MB (adapting) and
    returns it to the system at free, so every step of a network with large activations pays
    page faults on arrays it had a moment ago. Kept, arrays up to ``HEAP_UP_TO`` (64 MB) come
    from the heap, and up to ``KEEP_FREED`` (256 MB) of freed memory stays at its top.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO)) and bool(
        mallopt(M_TRIM_THRESHOLD, KEEP_FREED)
    )


#: Buffers larger than this are not kept (an evaluation batch of 500 makes a 102 MB im2col matrix).
KEEP_BYTES = 64 * 2**20
#: At most this many buffers are kept for :func:`reused_array`.
KEEP_BUFFERS = 4

_scratch_arrays = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype: Any) -> Array:
    """A C-contiguous array of ``shape`` reused from call to call: one buffer per ``name`` and
    thread, grown when too small, none kept above ``KEEP_BYTES``. Its values are left over from
    the last call: for temporaries that are written before they are read and die in the call."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    buffer = getattr(_scratch_arrays, name, None)
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, dtype=np.uint8)
        if size <= KEEP_BYTES:
            setattr(_scratch_arrays, name, buffer)
    return buffer[:size].view(dtype).reshape(shape)


class Saver(Protocol):
    """An op's context: ``saved`` becomes None once backward has freed what it saved."""

    saved: Any


_reusable: list[tuple[Array, weakref.ref]] = []  # (byte buffer, its owner op), at most KEEP_BUFFERS
_reusable_lock = threading.Lock()


def reused_array(shape: tuple[int, ...], dtype: Any, owner: Saver) -> Array:
    """A C-contiguous array of ``shape`` that the op ``owner`` saves for backward, made in one
    of a few kept buffers that is no longer needed by its last owner (see
    :func:`no_longer_needed`), else fresh. A retained graph keeps its buffer. At most
    ``KEEP_BUFFERS`` buffers of at most ``KEEP_BYTES`` are kept.

    Why: a convolution's im2col matrix is the biggest array of a step (26 MB for the course's
    second convolution); fresh each step, it costs page faults, and making it again in backward
    instead of saving it would cost the copy again."""
    dtype = np.dtype(dtype)
    size = math.prod(shape) * dtype.itemsize
    with _reusable_lock:
        free = [
            i for i, (a, ref) in enumerate(_reusable) if a.size >= size and no_longer_needed(ref())
        ]
        if free:
            i = min(free, key=lambda i: _reusable[i][0].size)
            buffer = _reusable[i][0]
            _reusable[i] = (buffer, weakref.ref(owner))
        else:
            buffer = np.empty(size, dtype=np.uint8)
            if len(_reusable) < KEEP_BUFFERS and size <= KEEP_BYTES:
                _reusable.append((buffer, weakref.ref(owner)))
    return buffer[:size].view(dtype).reshape(shape)


def no_longer_needed(owner: Saver | None) -> bool:
    """True once an op no longer needs what it saved: its backward freed it, or the op is gone."""
    return owner is None or owner.saved is None


def kept_buffers() -> int:
    """How many buffers :func:`reused_array` keeps now (at most ``KEEP_BUFFERS``)."""
    return len(_reusable)
