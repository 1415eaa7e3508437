"""``grader.grade_many``: many students' files on one pool of children, each part still in a
sandboxed child of its own under its time limit, a part that needs others only once they pass,
a file that cannot be imported not imported again for every part, and every child killed when
grading is interrupted or a file's import fails."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest
from processes import alive

from tinygrad_edu.check import Diagnosis
from tinygrad_edu.exercises import EXERCISES, Exercise, Part, grade_isolated, grader
from tinygrad_edu.exercises.grader import grade_many, need
from tinygrad_edu.exercises.remote import Session, StudentException


def grade_value(module: ModuleType) -> tuple[Diagnosis | None, str]:
    got = need(module, "value")()
    return (None if got == 1 else Diagnosis("wrong_value", f"value() gave {got}")), ""


def grade_twice(module: ModuleType) -> tuple[Diagnosis | None, str]:
    got = need(module, "value")() * 2
    return (None if got == 2 else Diagnosis("wrong_value", f"2 value() gave {got}")), ""


#: A tiny exercise: ``value()`` must return 1; ``twice`` needs ``value`` to pass first.
TINY = Exercise(
    "tiny",
    "Tiny",
    "tiny",
    "Return 1.",
    (
        Part("value", ("value",), "1", grade_value, timeout=20),
        Part("twice", ("value",), "2", grade_twice, timeout=20, needs=("value",)),
    ),
)


def student(folder: Path, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.py").write_text(code)
    return folder / "tiny.py"


def test_each_file_keeps_its_parts_order_and_needs(tmp_path: Path) -> None:
    right = student(tmp_path / "right", "def value():\n    return 1\n")
    wrong = student(tmp_path / "wrong", "def value():\n    return 3\n")
    graded = grade_many([(TINY, wrong), (TINY, right), (TINY, wrong)])
    lines = [[o.line() for o in g.outcomes] for g in graded]
    assert (
        lines[0]
        == lines[2]
        == [
            "value: FAILED, wrong_value: value() gave 3 (tiny.py, line 1: value) -- hint: "
            "compare your formula with the one in the docstring",
            "twice: not run (needs value)",
        ]
    )
    assert lines[1] == ["value: passed", "twice: passed"]
    assert all(g.unloadable is None for g in graded)
    assert grade_many([]) == []


#: Waits for the other student's part to leave a file in that student's folder.
WAITS = """
import os, time


def value():
    for _ in range(100):
        if os.path.exists(OTHER):
            return 1
        time.sleep(0.05)
    return 0
"""


def test_the_students_parts_share_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first student's part waits (5 s at most) for a file the second student's part
    writes: one student after the other, it would fail; on one pool of two, both pass."""
    monkeypatch.setattr(grader, "_cores", lambda: 2)
    marker = tmp_path / "second" / "marker"
    first = student(tmp_path / "first", f"OTHER = {str(marker)!r}\n" + WAITS)
    second = student(
        tmp_path / "second",
        "def value():\n    open('marker', 'w').close()\n    return 1\n",
    )
    one_part = Exercise("tiny", "Tiny", "tiny", "", TINY.parts[:1])
    graded = grade_many([(one_part, first), (one_part, second)], timeout=20)
    assert [g.outcomes[0].passed for g in graded] == [True, True]


def test_a_file_whose_import_fails_is_imported_once_and_is_unloadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grader, "_cores", lambda: 1)
    pids = tmp_path / "broken" / "pids"
    code = f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n1 / 0\n"
    broken = student(tmp_path / "broken", code)
    fine = student(tmp_path / "fine", "def value():\n    return 1\n")
    three = Exercise(
        "three", "", "tiny", "", tuple(Part(n, ("value",), "1", grade_value) for n in "abc")
    )
    graded = grade_many([(three, broken), (TINY, fine)])
    why = graded[0].unloadable
    assert why is not None and why.kind == "raised" and "ZeroDivisionError" in why.message
    assert [o.diagnosis for o in graded[0].outcomes] == [why, why, why]
    assert len(pids.read_text().split()) == 1, "imported once, not once per part"
    assert graded[1].unloadable is None and graded[1].outcomes[1].passed


def test_a_file_that_fails_in_one_part_only_is_graded(tmp_path: Path) -> None:
    path = student(tmp_path / "s", "def value():\n    raise ValueError('no')\n")
    (graded,) = grade_many([(TINY, path)])
    assert graded.unloadable is None
    assert graded.outcomes[0].diagnosis.kind == "raised"


def test_a_child_whose_import_raised_is_ended_at_once(tmp_path: Path) -> None:
    """Before: the child waited for requests until the grader's process ended."""
    pids = tmp_path / "ws" / "pids"
    code = f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n1 / 0\n"
    path = student(tmp_path / "ws", code)
    with pytest.raises(StudentException):
        Session(path, 10)
    (outcome,) = grade_isolated(Exercise("tiny", "", "tiny", "", TINY.parts[:1]), path)
    assert outcome.diagnosis.kind == "raised"
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 2 and not any(alive(pid) for pid in started)


def test_an_interrupt_kills_a_child_still_importing_the_file(tmp_path: Path) -> None:
    """The import never ends (60 s limit); SIGINT after 1.5 s: KeyboardInterrupt within a few
    seconds (before: only once the time limit ran out), and the child is gone."""
    pids = tmp_path / "ws" / "pids"
    code = (
        f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\nwhile True:\n    pass\n"
    )
    path = student(tmp_path / "ws", code)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            grade_many([(TINY, path), (EXERCISES["jacobians"], path)], timeout=60)
    finally:  # grading that failed at once must not leave the signal to stop the test run
        timer.cancel()
    assert time.monotonic() - start < 10
    started = [int(line) for line in pids.read_text().split()]
    assert started and not any(alive(pid) for pid in started)
