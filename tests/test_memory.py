"""engine/memory.py: glibc keeps freed memory only when asked (by fit and the command line, never
at import), scratch arrays are reused per name and thread, and an op's saved buffer is reused
only once its backward has freed it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu.engine import memory

ROOT = Path(__file__).resolve().parents[1]

#: Page faults for 20 reuses of 40 MB (freed and allocated again, then touched), printed by a
#: fresh interpreter after ``setup``: glibc maps 40 MB afresh each time by default (10,240
#: pages), and reuses it once ``keep_freed_memory()`` ran.
FAULTS = """
import resource, numpy as np
{setup}
def touch():
    a = np.empty(40 * 2**20, np.uint8)
    a.fill(1)
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults_after(setup: str) -> int:
    code = FAULTS.format(setup=textwrap.dedent(setup))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return int(done.stdout.split()[-1])


@pytest.fixture(scope="module")
def glibc() -> None:
    if not sys.platform.startswith("linux") or faults_after("") < 5000:
        pytest.skip("not Linux with glibc's default allocator: nothing to change")


def test_importing_the_package_leaves_the_allocator_alone(glibc: None) -> None:
    assert faults_after("import tinygrad_edu, tinygrad_edu.nn, tinygrad_edu.training") > 5000


def test_keep_freed_memory_reuses_freed_memory_without_page_faults(glibc: None) -> None:
    setup = "from tinygrad_edu.engine.memory import keep_freed_memory\nassert keep_freed_memory()"
    assert faults_after(setup) < 200


def test_fit_keeps_freed_memory(glibc: None) -> None:
    setup = """
    from tinygrad_edu import nn, optim
    from tinygrad_edu.training import fit
    x, y = np.zeros((8, 3), np.float32), np.zeros(8, np.int64)
    model = nn.Linear(3, 2)
    fit(model, (x, y), None, "cross_entropy", optim.SGD(model.parameters(), lr=0.1))
    """
    assert faults_after(setup) < 200


def test_the_command_line_keeps_freed_memory(glibc: None) -> None:
    setup = """
    import contextlib, io
    from tinygrad_edu.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["exercise", "list"]) == 0
    """
    assert faults_after(setup) < 200


def test_scratch_is_one_array_per_name_and_thread() -> None:
    a = memory.scratch("test_a", (3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    smaller = memory.scratch("test_a", (2, 2), np.float64)
    assert np.shares_memory(a, smaller)  # the same buffer, viewed anew
    assert not np.shares_memory(a, memory.scratch("test_b", (3, 4), np.float32))
    other: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: other.append(memory.scratch("test_a", (3, 4), "f4")))
    thread.start()
    thread.join()
    assert not np.shares_memory(a, other[0])
    bigger = memory.scratch("test_a", (100, 100), np.float64)  # grown
    assert bigger.shape == (100, 100) and not np.shares_memory(a, bigger)


class Op:
    """An op's context as the pool sees it: ``saved`` is None once backward freed it."""

    saved: object = ()


def test_a_saved_buffer_is_reused_only_once_its_owner_no_longer_needs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "_reusable", [])  # a pool of its own: no other test's buffers
    first = Op()
    a = memory.reused_array((64, 64), np.float64, first)
    second = Op()
    b = memory.reused_array((64, 64), np.float64, second)
    assert not np.shares_memory(a, b)  # the first op still needs its array
    first.saved = None  # its backward freed it
    third = Op()
    c = memory.reused_array((32, 32), np.float64, third)
    assert np.shares_memory(a, c)
    assert memory.no_longer_needed(None) and not memory.no_longer_needed(second)
    assert memory.kept_buffers() <= memory.KEEP_BUFFERS
