"""A class's results (``tinygrad-edu exercise report``): many students' workspaces graded on one
pool, then aggregated per exercise and part.

Each workspace folder is one student, named by the folder (with as many parent folders as it
takes to tell equal names apart). :func:`grade_class` is the one function here that grades:
it reads each workspace, parses the student's file without running it (a file that does not
parse, or a workspace that cannot be read, is ``broken``; a file that imports
``tinygrad_edu.exercises`` is flagged, and so is one that imports an autodiff library where the
gradients are to be written by hand), and grades the rest with
:func:`~.grader.grade_many`. Everything else is a pure function of the :class:`ClassReport`:
:func:`part_stats`, :func:`summary_text`, :func:`csv_rows` / :func:`csv_text`,
:func:`outcome_json`; the HTML dashboard is in :mod:`.classpage`. Nothing depends on timing or
on the order the folders were given in: students are sorted by name, parts come in the
exercise's order.
"""

from __future__ import annotations

import ast
import csv
import io
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..check import Diagnosis
from ..training.files import atomic_write, parse_json
from ..training.history import plural
from .exercise import Exercise, Outcome
from .grader import grade_many
from .remote import clean_output
from .workspace import METADATA, WorkspaceError, read_workspace

__all__ = [
    "AUTODIFF_PACKAGES",
    "BROKEN",
    "CSV_COLUMNS",
    "SOLUTIONS_PACKAGE",
    "ClassReport",
    "PartStats",
    "StudentResult",
    "autodiff_imports",
    "class_report",
    "csv_rows",
    "csv_text",
    "grade_class",
    "import_notes",
    "mistake_counts",
    "outcome_json",
    "outcome_of",
    "part_stats",
    "solution_imports",
    "student_names",
    "summary_text",
    "write_text",
]

#: The diagnosis of a workspace that could not be graded at all (one row, with no part).
BROKEN = "broken"
#: The CSV's columns, in order.
CSV_COLUMNS = ("student", "exercise", "part", "passed", "diagnosis")
#: The package whose import the report flags (it ships the reference solutions).
SOLUTIONS_PACKAGE = "tinygrad_edu.exercises"
#: Libraries that compute gradients: every exercise asks for them in numpy, by hand, so a
#: student file that imports one of these (or a module in it) is flagged for the teacher.
AUTODIFF_PACKAGES = ("tinygrad_edu", "torch", "jax", "autograd", "tensorflow")
#: The largest student file the report parses (a student's file is a few kB).
MAX_FILE_BYTES = 4 << 20


@dataclass(frozen=True)
class StudentResult:
    """One student's workspace: ``name``; ``exercise`` ('' when its exercise.json could not be
    read); the ``outcomes`` of its parts in the exercise's order, or ``broken``, why it could
    not be graded (then no outcomes); ``solution_imports``, where its file imports
    ``tinygrad_edu.exercises`` ('file.py, line 3: from tinygrad_edu.exercises... import ...');
    and ``autodiff_imports``, where it imports another of :data:`AUTODIFF_PACKAGES`."""

    name: str
    exercise: str
    outcomes: tuple[Outcome, ...] = ()
    broken: str = ""
    solution_imports: tuple[str, ...] = ()
    autodiff_imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassReport:
    """The class: its students sorted by name, and each exercise's part names in order (the
    exercises in course order, then any others by name)."""

    students: tuple[StudentResult, ...]
    parts: dict[str, tuple[str, ...]]

    def exercises(self) -> list[str]:
        """The exercises some student works on, in course order."""
        return list(self.parts)

    def of(self, exercise: str) -> list[StudentResult]:
        """The students working on ``exercise`` (broken ones included), by name."""
        return [s for s in self.students if s.exercise == exercise]


@dataclass(frozen=True)
class PartStats:
    """One part across the class: ``passed`` of ``total`` students; the ``mistakes`` (kinds of
    the failures that ran, most frequent first, with counts); ``not_run`` parts; and the
    students ``failing`` it (broken workspaces included), by name."""

    exercise: str
    part: str
    passed: int
    total: int
    mistakes: tuple[tuple[str, int], ...]
    not_run: int
    failing: tuple[str, ...]

    @property
    def rate(self) -> float:
        """passed / total (0 for no students)."""
        return self.passed / self.total if self.total else 0.0


def class_report(students: Iterable[StudentResult]) -> ClassReport:
    """The :class:`ClassReport` of ``students`` (any order). Each exercise's parts come in the
    order its students' outcomes give them (the exercise's own order when every student of it
    is broken)."""
    from . import EXERCISES

    ordered = tuple(sorted(students, key=lambda s: s.name))
    parts: dict[str, tuple[str, ...]] = {}
    for s in ordered:
        if s.exercise:
            known = parts.get(s.exercise, ())
            parts[s.exercise] = known + tuple(o.part for o in s.outcomes if o.part not in known)
    for exercise, names in parts.items():
        if not names and exercise in EXERCISES:
            parts[exercise] = tuple(p.name for p in EXERCISES[exercise].parts)
    course = {name: i for i, name in enumerate(EXERCISES)}
    in_order = sorted(parts, key=lambda e: (course.get(e, len(course)), e))
    return ClassReport(ordered, {e: parts[e] for e in in_order})


def outcome_of(student: StudentResult, part: str) -> Outcome | None:
    """The student's outcome of ``part`` (None when broken, or without that part)."""
    return next((o for o in student.outcomes if o.part == part), None)


def part_stats(report: ClassReport, exercise: str, part: str) -> PartStats:
    """How the class did on one part."""
    students = report.of(exercise)
    outcomes = [(s, outcome_of(s, part)) for s in students]
    mistakes = Counter(
        o.diagnosis.kind for _, o in outcomes if o and not o.passed and o.ran and o.diagnosis
    )
    return PartStats(
        exercise,
        part,
        passed=sum(1 for _, o in outcomes if o and o.passed),
        total=len(students),
        mistakes=tuple(sorted(mistakes.items(), key=lambda kc: (-kc[1], kc[0]))),
        not_run=sum(1 for _, o in outcomes if o and not o.ran),
        failing=tuple(s.name for s, o in outcomes if not (o and o.passed)),
    )


def mistake_counts(report: ClassReport) -> list[tuple[str, int]]:
    """Every mistake kind across the class, most frequent first: the failures that ran, and
    ``broken`` once per broken workspace."""
    counts = Counter(
        o.diagnosis.kind
        for s in report.students
        for o in s.outcomes
        if not o.passed and o.ran and o.diagnosis
    )
    counts.update(BROKEN for s in report.students if s.broken)
    return sorted(counts.items(), key=lambda kc: (-kc[1], kc[0]))


def csv_rows(report: ClassReport) -> list[tuple[str, str, str, str, str]]:
    """One row per (student, exercise, part), as :data:`CSV_COLUMNS`: passed ``True`` or
    ``False``, the diagnosis kind ('' when passed; ``not_run``); a broken workspace is one row
    with no part and the diagnosis ``broken``. Sorted by student, exercise, then part order."""
    rows = []
    for s in report.students:
        if s.broken:
            rows.append((s.name, s.exercise, "", "False", BROKEN))
            continue
        for o in s.outcomes:
            kind = o.diagnosis.kind if o.diagnosis and not o.passed else ""
            rows.append((s.name, s.exercise, o.part, str(o.passed), kind))
    return rows


def csv_text(report: ClassReport) -> str:
    """The CSV file: a header of :data:`CSV_COLUMNS`, then :func:`csv_rows` (``\\n`` ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return out.getvalue()


def outcome_json(exercise: str, outcomes: Sequence[Outcome]) -> dict:
    """What ``exercise check --json`` writes: ``{"exercise", "passed", "parts": [{"part",
    "passed", "diagnosis" (the kind; null when passed; "not_run" for a part not run),
    "message" (the diagnosis's message; null when passed)}]}``."""
    parts = [
        {
            "part": o.part,
            "passed": o.passed,
            "diagnosis": None if o.passed or o.diagnosis is None else o.diagnosis.kind,
            "message": None if o.passed or o.diagnosis is None else o.diagnosis.message,
        }
        for o in outcomes
    ]
    return {"exercise": exercise, "passed": all(o.passed for o in outcomes), "parts": parts}


def summary_text(report: ClassReport) -> str:
    """The printed report: per exercise and part, the pass rate, the most frequent mistake
    kinds with their counts and the students still failing; then the broken workspaces, the
    files that import the reference solutions and those that import an autodiff library."""
    exercises = report.exercises()
    lines = [
        f"class report: {plural(len(report.students), 'workspace')}, "
        f"{plural(len(exercises), 'exercise')}"
    ]
    for exercise in exercises:
        lines += ["", f"{exercise} ({plural(len(report.of(exercise)), 'student')})"]
        for part in report.parts[exercise]:
            lines += _part_lines(part_stats(report, exercise, part))
    broken = [s for s in report.students if s.broken]
    if broken:
        lines += ["", f"broken workspaces ({len(broken)}):"]
        lines += [f"  {_who(s)}: {_plain(s.broken)}" for s in broken]
    flagged = [(s.name, s.solution_imports) for s in report.students if s.solution_imports]
    lines += _flagged_lines(f"imports the reference solutions ({SOLUTIONS_PACKAGE})", flagged)
    flagged = [(s.name, s.autodiff_imports) for s in report.students if s.autodiff_imports]
    lines += _flagged_lines("imports an autodiff library, gradients are by hand", flagged)
    return "\n".join(lines) + "\n"


def _flagged_lines(title: str, flagged: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """A blank line, ``title`` with the count of students, then each student's places ([] for
    none)."""
    if not flagged:
        return []
    places = [f"  {_plain(name)}: {_plain(w)}" for name, where in flagged for w in where]
    return ["", f"{title} ({len(flagged)}):", *places]


def _plain(text: str) -> str:
    """``text`` on one line, without terminal escape codes or other control characters: what a
    student chose (a folder name, an exception's message) cannot move the teacher's cursor."""
    return clean_output(text).replace("\n", " ").replace("\t", " ")


def _part_lines(stats: PartStats) -> list[str]:
    lines = [f"  {stats.part}: {stats.passed}/{stats.total} passed ({stats.rate:.0%})"]
    if stats.mistakes:
        lines.append("    mistakes: " + ", ".join(f"{k} {n}" for k, n in stats.mistakes))
    if stats.not_run:
        lines.append(f"    not run: {stats.not_run}")
    if stats.failing:
        lines.append("    still failing: " + ", ".join(map(_plain, stats.failing)))
    return lines


def _who(student: StudentResult) -> str:
    name = _plain(student.name)
    return f"{name} ({student.exercise})" if student.exercise else name


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8, atomically: a reader sees the old file or the whole
    new one, never a half-written report."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


# ----------------------------------------------------------------------------- the files
def student_names(folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Each folder's name, with as many parent folders ('alice/ex1') as it takes for the names
    to differ (the folders must differ as absolute paths)."""
    paths = [Path(os.path.abspath(f)).parts[1:] or ("/",) for f in folders]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(paths, depth, strict=True)]
        seen = Counter(names)
        clashing = [i for i, n in enumerate(names) if seen[n] > 1 and depth[i] < len(paths[i])]
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1


def solution_imports(source: str | bytes | ast.AST, file: str = "the file") -> list[str]:
    """Where ``source`` imports ``tinygrad_edu.exercises`` (which ships the reference solutions),
    found without running it: ``import`` and ``from ... import`` (``from tinygrad_edu import
    exercises`` too), and ``importlib.import_module`` / ``__import__`` called with the name as a
    string. Each place as 'file, line N: the statement'. A SyntaxError (or ValueError) if the
    source is not Python. A name built at run time is not found."""
    return _imports_where(source, file, lambda names: any(map(_is_solutions, names)))


def autodiff_imports(source: str | bytes | ast.AST, file: str = "the file") -> list[str]:
    """Where ``source`` imports one of :data:`AUTODIFF_PACKAGES` (or a module in it), found as
    :func:`solution_imports` finds its imports, leaving out the places that one lists."""

    def autodiff(names: list[str]) -> bool:
        tops = {name.split(".")[0] for name in names}
        return bool(tops & set(AUTODIFF_PACKAGES)) and not any(map(_is_solutions, names))

    return _imports_where(source, file, autodiff)


def _imports_where(
    source: str | bytes | ast.AST, file: str, chosen: Callable[[list[str]], bool]
) -> list[str]:
    """'file, line N: the statement' for each import whose modules (:func:`_imported`) are
    ``chosen``, in line order."""
    tree = source if isinstance(source, ast.AST) else ast.parse(source)
    found = []
    for node in ast.walk(tree):
        names = _imported(node)
        if names and chosen(names):
            code = ast.unparse(node)
            code = code if len(code) <= 120 else code[:117] + "..."
            line = getattr(node, "lineno", 0)
            found.append((line, f"{file}, line {line}: {code}"))
    return [where for _, where in sorted(found)]


def _is_solutions(name: object) -> bool:
    return isinstance(name, str) and (
        name == SOLUTIONS_PACKAGE or name.startswith(SOLUTIONS_PACKAGE + ".")
    )


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement or call may import: ``import a.b`` -> a.b; ``from a
    import b`` -> a and a.b (b may be a module); ``import_module`` / ``__import__`` called with
    a string name (made absolute) -> it, and name.x for each x of a ``fromlist``. [] for
    anything else, and for ``from . import x`` (the student's own files)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return []
        return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    if not isinstance(node, ast.Call) or not node.args:
        return []
    called = node.func.attr if isinstance(node.func, ast.Attribute) else None
    called = node.func.id if isinstance(node.func, ast.Name) else called
    if called not in ("import_module", "__import__"):
        return []
    strings = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    strings += [k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)]
    name, package = strings[0], _at(strings, 1)
    if not isinstance(name, str):
        return []
    if name.startswith(".") and isinstance(package, str):
        name = _absolute(name, package)  # import_module(".exercises", "tinygrad_edu")
    return [name, *(f"{name}.{x}" for x in _lists(node) if isinstance(x, str))]


def _absolute(name: str, package: str) -> str:
    """A relative module name made absolute, as ``importlib.import_module`` does."""
    rest = name.lstrip(".")
    up = len(name) - len(rest) - 1
    base = package.split(".")[: len(package.split(".")) - up] if up else package.split(".")
    return ".".join([*base, rest] if rest else base)


def _at(values: list[object], i: int) -> object:
    return values[i] if i < len(values) else None


def _lists(node: ast.Call) -> list[object]:
    """The string constants in the call's list or tuple arguments (``fromlist``)."""
    values = [*node.args, *(k.value for k in node.keywords)]
    return [
        e.value
        for v in values
        if isinstance(v, ast.List | ast.Tuple)
        for e in v.elts
        if isinstance(e, ast.Constant)
    ]


# ----------------------------------------------------------------------------- grading
def grade_class(
    folders: Sequence[str | os.PathLike[str]], timeout: float | None = None
) -> ClassReport:
    """Grade every workspace in ``folders`` (one student each; a folder given twice counts
    once) on one pool (:func:`~.grader.grade_many`); ``timeout`` overrides each part's time
    limit. A workspace that cannot be read, a file that does not parse, or one that cannot be
    imported (it raised, ran out of time or killed its process) is one broken result, and
    never stops the others. A GraderChanged if the grader's own files changed."""
    unique = list({os.path.abspath(f): f for f in folders}.values())
    results: list[StudentResult] = []
    to_grade: list[tuple[str, Exercise, Path, tuple[tuple[str, ...], tuple[str, ...]]]] = []
    for folder, name in zip(unique, student_names(unique), strict=True):
        try:
            exercise, path = read_workspace(folder)
        except WorkspaceError as e:
            why = _shorter(str(e), folder, name)
            results.append(StudentResult(name, _exercise_named(folder), broken=why))
            continue
        try:
            tree = _parse(path)
        except WorkspaceError as e:
            results.append(StudentResult(name, exercise.name, broken=str(e)))
            continue
        flagged = (
            tuple(solution_imports(tree, path.name)),
            tuple(autodiff_imports(tree, path.name)),
        )
        to_grade.append((name, exercise, path, flagged))
    graded = grade_many([(exercise, path) for _, exercise, path, _ in to_grade], timeout)
    for (name, exercise, path, flagged), grade in zip(to_grade, graded, strict=True):
        if grade.unloadable is not None:
            why = _not_imported(path, grade.unloadable)
            results.append(StudentResult(name, exercise.name, (), why, *flagged))
        else:
            outcomes = tuple(grade.outcomes)
            results.append(StudentResult(name, exercise.name, outcomes, "", *flagged))
    return class_report(results)


def import_notes(path: Path) -> list[str]:
    """What the class report flags in the student's file at ``path``, one line each, for
    ``exercise check`` to tell the student ([] when the file cannot be parsed: grading says
    why)."""
    try:
        tree = _parse(path)
    except WorkspaceError:
        return []
    solutions = "imports the reference solutions"
    autodiff = "an autodiff library, where the exercise asks for the gradients by hand"
    return [
        f"{_plain(where)} ({what}; the class report lists it)"
        for finder, what in ((solution_imports, solutions), (autodiff_imports, autodiff))
        for where in finder(tree, path.name)
    ]


def _parse(path: Path) -> ast.AST:
    """The student's file as a syntax tree; a WorkspaceError saying why it is not Python."""
    try:
        with open(path, "rb") as f:
            source = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise WorkspaceError(f"{path.name} cannot be read ({e.strerror})") from None
    if len(source) > MAX_FILE_BYTES:
        raise WorkspaceError(f"{path.name} is over {MAX_FILE_BYTES >> 20} MiB: not graded")
    try:
        return ast.parse(source, path.name)
    except SyntaxError as e:
        raise WorkspaceError(f"{path.name}, line {e.lineno}: SyntaxError: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise WorkspaceError(f"{path.name} cannot be parsed ({type(e).__name__})") from None


def _exercise_named(folder: str | os.PathLike[str]) -> str:
    """The exercise a workspace that cannot be graded names in its exercise.json, if it names
    one that exists ('' otherwise): its student is counted as failing that exercise."""
    from . import EXERCISES

    try:
        text = (Path(folder) / METADATA).read_bytes()[: 1 << 16]
        data = parse_json(text, WorkspaceError, METADATA)
    except (OSError, WorkspaceError):
        return ""
    name = data.get("exercise") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name in EXERCISES else ""


def _not_imported(path: Path, why: Diagnosis) -> str:
    return f"importing {path.name} failed: {why.kind}: {why.message}"


def _shorter(message: str, folder: str | os.PathLike[str], name: str) -> str:
    """A workspace error with the folder's path written as the student's name."""
    return message.replace(str(Path(folder)), name)
