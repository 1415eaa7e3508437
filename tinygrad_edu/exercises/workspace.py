"""A student's workspace: the folder ``tinygrad-edu exercise start NAME DIR`` writes.

It holds the student's file (the stubs, or with ``solution=True`` the reference solution), a
README (with the hints the teacher chose: :mod:`.hints`), a test file the student runs with
pytest (one test per part) and ``exercise.json``, which tells ``tinygrad-edu exercise check DIR``
which exercise it is and records the hints shown.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..training.files import atomic_write, parse_json
from .exercise import Exercise, Outcome, Part
from .grader import grade_isolated
from .hints import DEFAULT, HintError, HintState, readme_hints

__all__ = [
    "WorkspaceError",
    "check_part",
    "grade_workspace",
    "read_hints",
    "read_workspace",
    "reveal_hint",
    "start_workspace",
]

METADATA = "exercise.json"
_HERE = Path(__file__).resolve().parent


class WorkspaceError(ValueError):
    """A folder is not a workspace, or a workspace would be overwritten."""


def template(exercise: Exercise, solution: bool = False) -> Path:
    """The stub file (or the reference solution) of ``exercise``."""
    return _HERE / ("solutions" if solution else "stubs") / f"{exercise.module}.py"


def start_workspace(
    exercise: Exercise,
    folder: str | Path,
    solution: bool = False,
    force: bool = False,
    hints: str = DEFAULT,
) -> list[Path]:
    """Write the workspace of ``exercise`` into ``folder``; returns the files written. A file
    already there (the student's, README.md, exercise.json, the test file) is kept unless
    ``force``; a folder that holds another exercise's workspace is refused even then. ``hints``
    (none, some, all) is how many hint levels the workspace shows (:mod:`.hints`)."""
    folder = Path(folder)
    try:
        state = HintState.start(exercise, hints)
    except HintError as e:
        raise WorkspaceError(str(e)) from None
    metadata = {"exercise": exercise.name, "file": f"{exercise.module}.py", **state.to_json()}
    files = {
        folder / f"{exercise.module}.py": template(exercise, solution).read_text(),
        folder / "README.md": readme(exercise, state),
        folder / f"test_{exercise.module}.py": tests(exercise),
        folder / METADATA: json.dumps(metadata) + "\n",
    }
    _refuse_other_exercise(folder, exercise)
    there = [path.name for path in files if path.exists()]
    if there and not force:
        them = "it" if len(there) == 1 else "them"
        raise WorkspaceError(
            f"{folder} already holds {', '.join(there)}; pass --force to overwrite {them}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def _refuse_other_exercise(folder: Path, exercise: Exercise) -> None:
    """A WorkspaceError if ``folder`` is the workspace of an exercise other than ``exercise``."""
    if not (folder / METADATA).exists():
        return
    try:
        other, _ = read_workspace(folder)
    except WorkspaceError:
        other = None
    if other is None or other.name != exercise.name:
        name = f"the exercise {other.name}" if other else f"an unreadable {METADATA}"
        raise WorkspaceError(f"{folder} holds {name}; start {exercise.name} in a folder of its own")


def read_workspace(folder: str | Path) -> tuple[Exercise, Path]:
    """(the exercise, the student's file) of a workspace. ``exercise.json`` is the student's to
    edit, so it is read as untrusted: its ``"file"`` must be a plain file name in the folder."""
    exercise, path, _ = _read(folder)
    return exercise, path


def _read(folder: str | Path) -> tuple[Exercise, Path, dict]:
    """(the exercise, the student's file, exercise.json's object) of a workspace."""
    from . import get_exercise

    meta = Path(folder) / METADATA
    try:
        text = meta.read_bytes()[: 1 << 16]
    except FileNotFoundError:
        raise WorkspaceError(
            f"{folder} is not an exercise workspace (no {METADATA}); "
            "create one with: tinygrad-edu exercise start NAME DIR"
        ) from None
    except OSError as e:
        raise WorkspaceError(f"{meta}: cannot read it ({e.strerror})") from None
    data = parse_json(text, WorkspaceError, str(meta))
    if not isinstance(data, dict) or not isinstance(data.get("exercise"), str):
        raise WorkspaceError(f'{meta}: not a workspace description (no "exercise" name)')
    try:
        exercise = get_exercise(data["exercise"])
    except KeyError as e:
        raise WorkspaceError(f"{meta}: {e.args[0]}") from None
    path = Path(folder) / _plain_file_name(data.get("file", f"{exercise.module}.py"), meta)
    if not path.is_file():
        raise WorkspaceError(f"{path} is missing: the workspace has no student file")
    return exercise, path, data


def _plain_file_name(name: object, meta: Path) -> str:
    """``name`` if it names a Python file directly in the workspace (no folder, no ``..``)."""
    plain = (
        isinstance(name, str)
        and name.endswith(".py")
        and not name.startswith(".")
        and Path(name).name == name
        and not any(c in name for c in "\\/\x00:")
    )
    if not plain:
        shown = json.dumps(name)[:60] if isinstance(name, str) else type(name).__name__
        raise WorkspaceError(
            f'{meta}: "file" must be the name of a .py file in the workspace, got {shown}'
        )
    return name  # type: ignore[return-value]


def grade_workspace(folder: str | Path, timeout: float | None = None) -> list[Outcome]:
    """Every part of the workspace's exercise, each in its own process with a time limit;
    without the hints after the mistakes in a workspace started with ``--hints none``."""
    exercise, path = read_workspace(folder)
    return _as_chosen(read_hints(folder), grade_isolated(exercise, path, timeout))


def check_part(folder: str | Path, part: str, timeout: float | None = None) -> Outcome:
    """One part of the workspace, in its own process (what the workspace's tests run)."""
    exercise, path = read_workspace(folder)
    return _as_chosen(read_hints(folder), grade_isolated(exercise, path, timeout, only=part))[0]


def _as_chosen(hints: HintState, outcomes: list[Outcome]) -> list[Outcome]:
    if hints.choice != "none":
        return outcomes
    return [dataclasses.replace(o, hint="") for o in outcomes]


def read_hints(folder: str | Path) -> HintState:
    """The hints of a workspace: the teacher's choice and the levels shown (:mod:`.hints`); a
    WorkspaceError for hint fields of ``exercise.json`` that are not valid."""
    _, _, data = _read(folder)
    return _hints_in(data, folder)


def _hints_in(data: dict, folder: str | Path) -> HintState:
    try:
        return HintState.from_json(data, str(Path(folder) / METADATA))
    except HintError as e:
        raise WorkspaceError(str(e)) from None


def reveal_hint(folder: str | Path, part: str) -> tuple[Part, int, str]:
    """(the part, the number of its next hint level counting from 1, its text), recorded in
    ``exercise.json`` as shown; a WorkspaceError if there is none to give (no hints chosen, an
    unknown part, no level left) or exercise.json is not valid or cannot be written."""
    exercise, _, data = _read(folder)
    meta = Path(folder) / METADATA
    try:
        state, level, text = _hints_in(data, folder).reveal(exercise, part)
    except HintError as e:
        raise WorkspaceError(str(e)) from None
    updated = json.dumps({**data, **state.to_json()}) + "\n"
    try:
        atomic_write(meta, lambda f: f.write(updated.encode()))
    except OSError as e:
        raise WorkspaceError(f"{meta}: cannot record the hint ({e.strerror or e})") from None
    return exercise.part(part), level, text


def readme(exercise: Exercise, hints: HintState | None = None) -> str:
    """The workspace's README: the task, its parts, how to check, and the hints ``hints``
    shows (by default those of ``--hints some``)."""
    hints = hints or HintState.start(exercise)
    parts = "\n".join(
        f"| `{p.name}` | {', '.join(f'`{f}`' for f in p.functions)} | {p.what} |"
        for p in exercise.parts
    )
    and_hint = "" if hints.choice == "none" else " and a hint"
    return f"""# {exercise.title}

{exercise.summary}

Open `{exercise.module}.py`: each function's docstring says what to compute, from what, and the
shapes; the derivatives are yours to find.

| part | write | what |
| --- | --- | --- |
{parts}

Check your work, one line per part (passed, or what is wrong{and_hint}):

```console
tinygrad-edu exercise check .
python -m pytest             # the same parts, as tests
```

{readme_hints(exercise, hints)}"""


def tests(exercise: Exercise) -> str:
    names = ", ".join(repr(p.name) for p in exercise.parts)
    return f'''"""The parts of {exercise.name} as tests: run ``python -m pytest`` in this folder."""

from pathlib import Path

import pytest

from tinygrad_edu.exercises.workspace import check_part

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("part", [{names}])
def test_part(part: str) -> None:
    outcome = check_part(HERE, part)
    assert outcome.passed, outcome.line()
'''
