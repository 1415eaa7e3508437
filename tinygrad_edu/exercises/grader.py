"""Grade a student's file, part by part.

:func:`grade_isolated` (``tinygrad-edu exercise check``) is the trusted grader: the student's
code runs in a sandboxed child per part (:mod:`.remote`, :mod:`.sandbox`) that only calls the
student's functions and hands back arrays, while this process draws the inputs, computes the
expected values, compares, diagnoses and writes the verdict, so that an endless loop, a crash or
a hostile file is one report line and never a pass. :func:`grade_part` grades a module already
imported in this process: for trusted code (the reference solutions, the mutation library).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..check import CheckReport, Diagnosis, Tolerance, diagnose
from ..check.diagnose import EXACT, Clues
from ..check.student import StudentError, diagnosis_of, student_frame
from .exercise import Exercise, Outcome, Part
from .integrity import verify_installation
from .remote import PartCrashed, PartEnded, PartTimeout, Session, StudentException, where_defined

__all__ = [
    "FileGrade",
    "compare",
    "grade_isolated",
    "grade_many",
    "grade_module",
    "grade_part",
    "load_student",
    "named",
    "need",
]


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
    details: tuple[str, ...] = ()
    try:
        diagnosis, note, *more = part.grade(module)
        details = tuple(more[0]) if more else ()
    except StudentError as e:
        diagnosis, note = e.diagnosis, ""
    except Exception as e:  # the student's answer broke the grading itself
        diagnosis, note = diagnosis_of(e, "the code"), ""
    if diagnosis is None:
        return Outcome(part.name, True, note=note, details=details)
    located = ".py, line " in diagnosis.message or diagnosis.kind in ("not_trained", "not_run")
    if not located:  # no traceback: point at the student's function itself
        where = defined_at(module, part.functions)
        message = f"{diagnosis.message} ({where})" if where else diagnosis.message
        diagnosis = Diagnosis(diagnosis.kind, message, diagnosis.factor)
    return Outcome(part.name, False, diagnosis, part.hint(diagnosis), note, details)


def defined_at(module: ModuleType, names: tuple[str, ...]) -> str:
    """'file.py, line 12: def fn' for the first of ``names`` defined in the student's file."""
    for name in names:
        try:
            fn = need(module, name)
            if where := where_defined(fn):
                return f"{where}: {name}"
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


def grade_isolated(
    exercise: Exercise, path: Path, timeout: float | None = None, only: str | None = None
) -> list[Outcome]:
    """Every part (or part ``only``) of the student's file at ``path``, each with the student's
    code in a sandboxed child of its own (:mod:`.remote`) and the grading here; ``timeout``
    overrides each part's own time limit. First the grader's own files are checked
    (:func:`~.integrity.verify_installation`). A part that needs others (training on the
    student's gradients) starts with them, and is stopped and "not run" as soon as one of them
    fails (it counts only once they pass); ``only`` grades the parts it needs too. As many
    children at once as the cores this process may run on; the outcomes come in the parts'
    order. Interrupted (Ctrl-C, SIGTERM), every child is killed."""
    verify_installation()
    wanted = [exercise.part(only)] if only else list(exercise.parts)
    outcomes = _Runner(exercise, Path(path), timeout).run(_with_needs(exercise, wanted))
    return [outcomes[p.name] for p in wanted]


@dataclass(frozen=True)
class FileGrade:
    """The grade of one student's file in :func:`grade_many`: every part's outcome, in the
    exercise's order, and ``unloadable``, the diagnosis (``raised``, ``timeout``, ``crashed``)
    when no part got past importing the file (every part that ran failed with it; the parts
    that need them are not run)."""

    outcomes: list[Outcome]
    unloadable: Diagnosis | None = None


def grade_many(
    files: Sequence[tuple[Exercise, Path]], timeout: float | None = None
) -> list[FileGrade]:
    """Every part of each ``(exercise, student file)``, as :func:`grade_isolated` grades one
    (each part in its own sandboxed child, under its time limit; a part that needs others
    counts only once they pass), all on one pool of as many children at once as there are
    cores: a class of 30 costs about the sum of its parts divided by the cores, not 30 checks
    one after the other. A file whose import fails is not imported again for its parts not yet
    started: they get the same diagnosis. The grades come in the order of ``files``.
    Interrupted, every child is killed."""
    verify_installation()
    if not files:
        return []
    children = _Children()
    runners = [_Runner(e, Path(p), timeout, children, give_up=True) for e, p in files]
    coordinators = ThreadPoolExecutor(min(len(runners), 4 * _cores()))  # they only wait
    try:
        with _grading(_cores(), children) as pool:
            graded = list(
                coordinators.map(lambda r: r.run_on(pool, list(r.exercise.parts)), runners)
            )
    finally:  # after the pool: the coordinators waiting for cancelled parts end
        coordinators.shutdown(cancel_futures=True)
    grades = []
    for runner, outcomes in zip(runners, graded, strict=True):
        in_order = [outcomes[p.name] for p in runner.exercise.parts]
        grades.append(FileGrade(in_order, None if runner.loaded_any else _first_failure(in_order)))
    return grades


def _first_failure(outcomes: list[Outcome]) -> Diagnosis | None:
    """The diagnosis of the first part that ran (in the exercise's order, not the order the
    parts ended in: the same on every run)."""
    return next((o.diagnosis for o in outcomes if o.ran and o.diagnosis), None)


def _with_needs(exercise: Exercise, parts: list[Part]) -> list[Part]:
    """``parts`` and the parts they need, in the exercise's order."""
    names = {p.name for p in parts}
    names |= {n for p in parts for n in p.needs}
    return [p for p in exercise.parts if p.name in names]


def _cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class _Children:
    """The sandboxed children running now, killed together when grading is interrupted."""

    def __init__(self) -> None:
        self.sessions: set[Session] = set()
        self.lock = threading.Lock()
        self.stopped = False

    @contextlib.contextmanager
    def session(self, path: Path, limit: float) -> Iterator[Session]:
        with self.lock:
            if self.stopped:  # interrupted while this part waited for a free core
                raise KeyboardInterrupt
        started: list[Session] = []
        try:
            session = Session(path, limit, started=lambda s: self._add(s, started))
            yield session
        finally:
            for session in started:
                session.close()
                with self.lock:
                    self.sessions.discard(session)

    def _add(self, session: Session, started: list[Session]) -> None:
        """Known from its start, so that :meth:`stop` kills a child still importing the file."""
        started.append(session)
        with self.lock:
            self.sessions.add(session)
            if self.stopped:
                raise KeyboardInterrupt

    def stop(self) -> None:
        """Kill every child still running (after an interrupt; a no-op when all ended)."""
        with self.lock:
            self.stopped, running = True, list(self.sessions)
        for session in running:
            session.kill()


@contextlib.contextmanager
def _grading(workers: int, children: _Children) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``workers`` threads with BLAS on one thread; at the end, interrupted or not,
    the children still running are killed first, or the pool would wait for them."""
    pool = ThreadPoolExecutor(workers)
    blas = one_blas_thread()
    try:
        yield pool
    finally:
        children.stop()
        pool.shutdown(cancel_futures=True)
        blas.restore_original_limits()


class _Runner:
    """The parts of one student's file, graded in threads, each with a child of its own (a
    child spends about 0.1 s starting; the derivative table's parts take 0.1-1.5 s each).
    With ``give_up``, once the file fails to import, its parts not yet started are not run
    again but get that diagnosis (:func:`grade_many`)."""

    def __init__(
        self,
        exercise: Exercise,
        path: Path,
        timeout: float | None,
        children: _Children | None = None,
        give_up: bool = False,
    ) -> None:
        self.exercise, self.path, self.timeout = exercise, path, timeout
        self.children = children or _Children()
        self.give_up = give_up
        self.unloadable: Diagnosis | None = None  # why the file did not import
        self.loaded_any = False  # some part's child imported it
        self.sessions: dict[str, Session] = {}  # each part's child, to stop a part
        self.stopped_parts: set[str] = set()  # parts whose needs failed

    def run(self, parts: list[Part]) -> dict[str, Outcome]:
        """Grade ``parts`` on a pool of their own (as many threads as cores, at most)."""
        with _grading(min(len(parts), _cores()), self.children) as pool:
            return self.run_on(pool, parts)

    def run_on(self, pool: Executor, parts: list[Part]) -> dict[str, Outcome]:
        """Grade ``parts`` on ``pool``, all at once, those that need others first (training
        parts take longest): a part whose needs fail is stopped at once and is not run."""
        later = [p for p in parts if p.needs]
        futures = {p.name: pool.submit(self.grade, p) for p in later}
        for part in (p for p in parts if not p.needs):
            futures[part.name] = pool.submit(self.grade, part)
            for waiting in (p for p in later if part.name in p.needs):
                futures[part.name].add_done_callback(self._stop_if_failed(waiting))
        outcomes = {name: future.result() for name, future in futures.items()}
        for part in later:
            if failed := _failed_needs(part, outcomes):
                outcomes[part.name] = _not_run(part, f"needs {', '.join(failed)}")
        return outcomes

    def _stop_if_failed(self, waiting: Part) -> Callable[[Future[Outcome]], None]:
        """A callback for a needed part's future: if it failed, ``waiting`` is stopped (its
        child killed, or never started): its outcome will be "not run" whatever it gives."""

        def stop(future: Future[Outcome]) -> None:
            if future.cancelled() or future.exception() is not None or not future.result().passed:
                with self.children.lock:
                    self.stopped_parts.add(waiting.name)
                    session = self.sessions.get(waiting.name)
                if session is not None:
                    session.kill()

        return stop

    def grade(self, part: Part) -> Outcome:
        """One part: a fresh child with the student's file loaded, graded here."""
        limit = self.timeout or part.timeout
        if self.give_up and self.unloadable is not None:
            return self._not_loaded(part, self.unloadable)
        if part.name in self.stopped_parts:  # a part it needs failed before it started
            return _not_run(part, "a part it needs failed")
        loaded = False
        try:
            with self._session(limit) as session:
                with self.children.lock:
                    self.sessions[part.name] = session
                    stopped = part.name in self.stopped_parts
                if stopped:
                    return _not_run(part, "a part it needs failed")
                loaded = self.loaded_any = True
                return grade_part(part, session.module())
        except StudentException as e:  # importing the student's file failed
            return self._not_loaded(part, diagnosis_of(e, self.path.name))
        except PartEnded as e:  # its child timed out or ended, maybe while importing the file
            outcome = _ended(part, e, self.path, limit)
            return outcome if loaded else self._not_loaded(part, outcome.diagnosis)

    def _not_loaded(self, part: Part, why: Diagnosis) -> Outcome:
        self.unloadable = self.unloadable or why
        return Outcome(part.name, False, why, part.hint(why))

    def _session(self, limit: float) -> contextlib.AbstractContextManager[Session]:
        return self.children.session(self.path, limit)

    def stop(self) -> None:
        """Kill every child still running (after an interrupt; a no-op when all ended)."""
        self.children.stop()


def one_blas_thread() -> threadpool_limits:
    """BLAS on one thread while grading (undone by ``restore_original_limits()``): the parts'
    arrays are small and run in threads of their own, and OpenBLAS's threads waiting for a busy
    core made the derivative table's training part 2.8 times slower (3.1 s against 8.5 s for
    the whole check beside other work: ``OPENBLAS_NUM_THREADS=1`` against 2)."""
    return threadpool_limits(limits=1, user_api="blas")


def _failed_needs(part: Part, outcomes: dict[str, Outcome]) -> list[str]:
    return [n for n in part.needs if not outcomes[n].passed]


def _not_run(part: Part, why: str) -> Outcome:
    return Outcome(part.name, False, Diagnosis("not_run", why), part.hint("not_run"))


def _ended(part: Part, ended: PartEnded, path: Path, limit: float) -> Outcome:
    if isinstance(ended, PartTimeout):
        d = Diagnosis("timeout", f"{path.name} did not finish within {limit:g} s")
        return Outcome(part.name, False, d, part.hint("timeout"))
    assert isinstance(ended, PartCrashed)
    last = (ended.output.strip().splitlines() or [""])[-1][:300]
    printed = f"; its last output: {last}" if last else ""
    d = Diagnosis("crashed", f"running {path.name} ended the process: {ended.reason}{printed}")
    return Outcome(part.name, False, d, part.hint("crashed"))
