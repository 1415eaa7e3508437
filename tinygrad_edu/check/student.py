"""Calling a student's code: an exception, or an answer of the wrong form, becomes a
:class:`Diagnosis` naming the student's file and line, never a traceback from inside the check."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .diagnose import Diagnosis

_PACKAGE = Path(__file__).resolve().parents[1]
_NUMPY = Path(np.__file__).resolve().parent
_STUDENT_CODE = (_PACKAGE / "exercises" / "stubs", _PACKAGE / "exercises" / "solutions")


class StudentError(Exception):
    """The student's code failed in a way that ends the check; ``diagnosis`` says how."""

    def __init__(self, diagnosis: Diagnosis, error: Exception | None = None) -> None:
        super().__init__(str(diagnosis))
        self.diagnosis = diagnosis
        self.error = error  # the student's exception, where there was one


def name_of(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; an exception becomes a StudentError ("raised", with the file
    and line where it happened in the student's code). Floating-point warnings are silenced:
    a NaN in the answer is diagnosed instead."""
    return call_as(name_of(fn), fn, *args, **kwargs)


def call_as(who: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """:func:`call`, its diagnosis naming the student's function ``who``."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except Exception as e:
        raise StudentError(diagnosis_of(e, who), e) from None


def read_only(a: Any) -> Any:
    """A read-only copy of the array ``a`` (anything else as it is): writing into it raises."""
    if not isinstance(a, np.ndarray):
        return a
    copy = a.copy()
    copy.flags.writeable = False
    return copy


def _wrote(error: Exception | None) -> bool:
    """numpy's error for a write into a read-only array ('assignment destination is read-only',
    'output array is read-only')."""
    return isinstance(error, ValueError) and "read-only" in str(error)


def call_backward(run: Callable[[np.ndarray, bool], Any], g: np.ndarray, who: str) -> Any:
    """``run(g, True)``, the student's backward on a read-only copy of g with read-only inputs
    (``run(g, False)`` gives it writeable ones). A write into g or an input is diagnosed, with
    its file and line: ``writes_upstream`` if the call goes through once g may be written (the
    engine hands the same g to other ops), ``writes_input`` if it does once the inputs may be;
    a write into a read-only array of the student's own stays ``raised``."""
    try:
        return call_as(who, run, read_only(g), True)
    except StudentError as e:
        if not _wrote(e.error):
            raise
        first = e
    try:
        call_as(who, run, g.copy(), True)
    except StudentError as again:
        if _wrote(again.error):
            _raise_write_into_input(run, g, who, again)
    message = (
        f"{who} wrote into the incoming gradient g in place{_at(first.error)}: the engine hands "
        "the same array to other ops (Add gives it to both branches), so their gradients "
        "change; compute a new array (g * x, not g *= x)"
    )
    raise StudentError(Diagnosis("writes_upstream", message))


def _raise_write_into_input(
    run: Callable[[np.ndarray, bool], Any], g: np.ndarray, who: str, error: StudentError
) -> None:
    """Raise ``writes_input`` if ``run`` goes through with writeable inputs, else ``error``."""
    try:
        call_as(who, run, g.copy(), False)
    except StudentError as last:
        if _wrote(last.error):
            raise error from None
    message = (
        f"{who} wrote into an input or an array saved for backward in place{_at(error.error)}: "
        "that changes the caller's arrays (x itself); compute a new array instead (x * 2, not "
        "x *= 2)"
    )
    raise StudentError(Diagnosis("writes_input", message))


def _at(error: Exception | None) -> str:
    where = student_frame(error.__traceback__) if error is not None else ""
    return f" ({where})" if where else ""


def diagnosis_of(error: Exception, who: str) -> Diagnosis:
    """``not_written`` for a NotImplementedError, else ``raised``, with the file and line."""
    where = getattr(error, "where", None) or student_frame(error.__traceback__)  # the sandbox's
    at = f" ({where})" if where else ""
    if isinstance(error, NotImplementedError):
        return Diagnosis("not_written", f"{who} is not written yet{at}")
    return Diagnosis(
        "raised", f"{who} raised {type(error).__name__}: {error}{at}{_transposed(error)}"
    )


def _transposed(error: Exception) -> str:
    """A remark when numpy's message names two shapes that are each other's transpose."""
    shapes = re.findall(r"\((\d+),\s*(\d+)\)", str(error))
    pairs = {(a, b) for a, b in shapes}
    if any((b, a) in pairs and a != b for a, b in pairs):
        return " -- one matrix is the transpose of the other"
    return ""


def student_frame(tb: TracebackType | None) -> str:
    """'file.py, line 12' of the deepest frame in the student's code, outside numpy and this
    package ('' if there is none: the error arose in the checks, from the student's answer)."""
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if not _is_ours(f.filename)]
    return f"{Path(mine[-1].filename).name}, line {mine[-1].lineno}" if mine else ""


def _is_ours(filename: str) -> bool:
    """numpy's and this package's files, but for the exercises' stubs and solutions (the
    student's code when a teacher grades them in place)."""
    if any(_is_under(filename, d) for d in _STUDENT_CODE):
        return False
    return _is_under(filename, _NUMPY) or _is_under(filename, _PACKAGE)


def _is_under(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except OSError:
        return False


def as_gradients(result: Any, names: list[str], all_names: list[str], who: str) -> list[Any]:
    """The student's gradients, one per name in ``names`` (the differentiated inputs): ``result``
    is one array (one input), or a tuple in input order, over ``names`` or over every input in
    ``all_names`` (the entries of integer inputs are then ignored)."""
    arrays = isinstance(result, list) and all(isinstance(a, np.ndarray) for a in result)
    many = isinstance(result, tuple) or (isinstance(result, list) and (len(names) > 1 or arrays))
    answers = list(result) if many else [result]
    if len(answers) == len(all_names) and len(all_names) != len(names):
        answers = [a for a, n in zip(answers, all_names, strict=True) if n in names]
    if len(answers) != len(names):
        got = f"{len(answers)} gradients" if many else "one array"
        raise StudentError(
            Diagnosis(
                "wrong_count",
                f"{who} returned {got} for {len(names)} inputs ({', '.join(names)}): return "
                "one gradient per input, as a tuple in input order",
            )
        )
    return answers


def as_named(result: Any, wrt: list[str], who: str) -> list[Any]:
    """The student's gradients by name: from a dict name -> array, or a tuple in ``wrt`` order."""
    if isinstance(result, dict):
        missing = [n for n in wrt if n not in result]
        if missing:
            raise StudentError(
                Diagnosis(
                    "wrong_count",
                    f"{who} returned no gradient for {', '.join(missing)} (it returned "
                    f"{', '.join(map(str, result)) or 'an empty dict'})",
                )
            )
        return [result[n] for n in wrt]
    return as_gradients(result, wrt, wrt, who)
