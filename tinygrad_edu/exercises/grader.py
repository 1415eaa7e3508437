"""Grade a student's file, part by part: in this process (:func:`grade_part`, for tests and the
mutation library) or each part in its own process with a time limit (:func:`grade_isolated`,
for ``tinygrad-edu exercise check``), so that an endless loop or a crash is one report line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np

from ..check import CheckReport, Diagnosis, Tolerance, diagnose
from ..check.diagnose import EXACT, Clues
from ..check.student import StudentError, diagnosis_of, student_frame
from .exercise import Exercise, Outcome, Part

__all__ = [
    "compare",
    "grade_isolated",
    "grade_module",
    "grade_part",
    "load_student",
    "named",
    "need",
]

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def load_student(path: str | Path) -> ModuleType:
    """Import the student's file as a fresh module; an error in it is a StudentError."""
    path = Path(path)
    name = f"student_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StudentError(Diagnosis("raised", f"{path.name} cannot be imported"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would (dataclasses, pickle look it up there)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        message = f"{path.name}, line {e.lineno}: SyntaxError: {e.msg}"
        raise StudentError(Diagnosis("raised", message)) from None
    except Exception as e:
        where = student_frame(e.__traceback__)
        message = f"importing {path.name} raised {type(e).__name__}: {e} ({where})"
        raise StudentError(Diagnosis("raised", message)) from None
    return module


def need(module: ModuleType, name: str) -> object:
    """The student's function (or class) ``name``, ``A.b`` for a method; a StudentError if
    it is missing."""
    obj: object = module
    for part in name.split("."):
        if not hasattr(obj, part):
            where = getattr(module, "__file__", None) or "the student's module"
            raise StudentError(Diagnosis("missing", f"{Path(where).name} defines no {name}"))
        obj = getattr(obj, part)
    return obj


def named(fn: Callable[..., Any], name: str, wrap: Callable[[Any], Any]) -> Callable[..., Any]:
    """``lambda *args: wrap(fn(*args))``, called ``name`` in reports."""

    def call_student(*args: Any) -> Any:
        return wrap(fn(*args))

    call_student.__qualname__ = name
    return call_student


def named_diagnosis(report: CheckReport) -> Diagnosis | None:
    """The report's diagnosis, its message starting with the wrong gradient's name."""
    wrong, d = report.first_wrong, report.diagnosis
    if d is None or wrong is None:
        return d
    return Diagnosis(d.kind, f"{wrong.name}: {d.message}", d.factor)


def compare(
    got: object,
    expected: np.ndarray,
    tol: Tolerance = EXACT,
    sizes: tuple[int, ...] = (),
    fallback: str = "wrong_value",
) -> Diagnosis | None:
    """:func:`~tinygrad_edu.check.diagnose` for a value computed by the student."""
    return diagnose(
        got, np.asarray(expected, dtype=np.float64), tol, Clues(batch_sizes=sizes), fallback
    )


def grade_part(part: Part, module: ModuleType) -> Outcome:
    """Grade one part on an imported module: the student's bugs become the outcome."""
    try:
        diagnosis, note = part.grade(module)
    except StudentError as e:
        diagnosis, note = e.diagnosis, ""
    except Exception as e:  # the student's answer broke the grading itself
        diagnosis, note = diagnosis_of(e, "the code"), ""
    if diagnosis is None:
        return Outcome(part.name, True, note=note)
    located = ".py, line " in diagnosis.message or diagnosis.kind == "not_trained"
    if not located:  # no traceback: point at the student's function itself
        where = defined_at(module, part.functions)
        message = f"{diagnosis.message} ({where})" if where else diagnosis.message
        diagnosis = Diagnosis(diagnosis.kind, message, diagnosis.factor)
    return Outcome(part.name, False, diagnosis, part.hint(diagnosis.kind), note)


def defined_at(module: ModuleType, names: tuple[str, ...]) -> str:
    """'file.py, line 12: def fn' for the first of ``names`` defined in the student's file."""
    for name in names:
        try:
            fn = need(module, name)
            file = inspect.getsourcefile(fn)  # type: ignore[arg-type]
            _, line = inspect.getsourcelines(fn)  # type: ignore[arg-type]
        except (StudentError, TypeError, OSError):
            continue
        if file is not None:
            return f"{Path(file).name}, line {line}: {name}"
    return ""


def grade_module(exercise: Exercise, module: ModuleType) -> list[Outcome]:
    """Every part of ``exercise``, in this process."""
    return [grade_part(p, module) for p in exercise.parts]


def grade_in_process(exercise: Exercise, path: Path, part: str) -> Outcome:
    """One part of the student's file at ``path``, in this process."""
    p = exercise.part(part)
    try:
        module = load_student(path)
    except StudentError as e:
        return Outcome(p.name, False, e.diagnosis, p.hint(e.diagnosis.kind))
    return grade_part(p, module)


def grade_isolated(
    exercise: Exercise, path: Path, timeout: float | None = None, only: str | None = None
) -> list[Outcome]:
    """Every part (or part ``only``), each in a child process killed after its time limit
    (``timeout`` overrides each part's own); as many children at once as there are cores
    (a child spends about 0.3 s just starting Python and numpy: ``exercise check`` of the
    derivative table's eight parts took 2.8-2.9 s one after another, 2.0-2.1 s two at a time
    on 2 cores). The outcomes come in the parts' order. Interrupted (Ctrl-C), the children
    still running are killed."""
    parts = [exercise.part(only)] if only else exercise.parts
    children = _Children()
    pool = ThreadPoolExecutor(min(len(parts), _cores()))
    try:
        return list(
            pool.map(lambda p: _run_child(exercise, path, p, timeout or p.timeout, children), parts)
        )
    finally:  # interrupted: kill the children first, or the pool would wait for them
        children.kill_all()
        pool.shutdown(cancel_futures=True)


def _cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class _Children:
    """The child processes running now, so that an interrupted check can kill them all (each
    runs in a session of its own, out of reach of the terminal's Ctrl-C)."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def start(
        self, command: list[str], out: IO[bytes], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._stopped:  # interrupted while this part waited for a free core
                raise KeyboardInterrupt
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
            )
            self._running.add(child)
        return child

    def kill(self, child: subprocess.Popen[bytes]) -> None:
        """Kill ``child`` and any process it started, unless it has ended and been waited for
        (its process id may then belong to another process); wait for it."""
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    def done(self, child: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(child)

    def kill_all(self) -> None:
        with self._lock:
            self._stopped, running = True, list(self._running)
        for child in running:
            self.kill(child)


def _run_child(
    exercise: Exercise, path: Path, part: Part, limit: float, children: _Children
) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        result, log = Path(tmp) / "outcome.json", Path(tmp) / "output.log"
        command = [sys.executable, "-m", "tinygrad_edu.exercises.run_part"]
        command += [exercise.name, str(path), part.name, str(result)]
        status = _run_with_limit(command, log, limit, children)
        if status is None:
            d = Diagnosis("timeout", f"{path.name} did not finish within {limit:g} s")
            return Outcome(part.name, False, d, part.hint("timeout"))
        if result.exists():
            return Outcome.from_json(json.loads(result.read_text()))
        last = (_tail(log).strip().splitlines() or [f"exit status {status}"])[-1]
        d = Diagnosis("crashed", f"running {path.name} ended the process: {last}")
        return Outcome(part.name, False, d, part.hint("crashed"))


def _run_with_limit(command: list[str], log: Path, limit: float, children: _Children) -> int | None:
    """Run ``command`` (its output into ``log``) in a session of its own; its exit status, or
    None if it ran out of time (then it is killed, with any process it started)."""
    env = {**os.environ, "PYTHONPATH": _pythonpath(), "MPLBACKEND": "Agg"}
    with log.open("wb") as out:
        child = children.start(command, out, env)
        try:
            return child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            children.kill(child)
            return None
        finally:
            children.done(child)


def _tail(log: Path, size: int = 4096) -> str:
    """The last ``size`` bytes of the child's output."""
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - size))
        return f.read().decode("utf-8", "replace")


def _pythonpath() -> str:
    old = os.environ.get("PYTHONPATH")
    return str(_PACKAGE_PARENT) + (os.pathsep + old if old else "")
