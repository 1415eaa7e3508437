"""A student's workspace: the folder ``tinygrad-edu exercise start NAME DIR`` writes.

It holds the student's file (the stubs, or with ``solution=True`` the reference solution), a
README, a test file the student runs with pytest (one test per part) and ``exercise.json``,
which tells ``tinygrad-edu exercise check DIR`` which exercise it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from .exercise import Exercise, Outcome
from .grader import grade_isolated

__all__ = ["WorkspaceError", "check_part", "grade_workspace", "read_workspace", "start_workspace"]

METADATA = "exercise.json"
_HERE = Path(__file__).resolve().parent


class WorkspaceError(ValueError):
    """A folder is not a workspace, or a workspace would be overwritten."""


def template(exercise: Exercise, solution: bool = False) -> Path:
    """The stub file (or the reference solution) of ``exercise``."""
    return _HERE / ("solutions" if solution else "stubs") / f"{exercise.module}.py"


def start_workspace(
    exercise: Exercise, folder: str | Path, solution: bool = False, force: bool = False
) -> list[Path]:
    """Write the workspace of ``exercise`` into ``folder``; returns the files written. An
    existing student file is kept unless ``force``."""
    folder = Path(folder)
    student = folder / f"{exercise.module}.py"
    if student.exists() and not force:
        raise WorkspaceError(f"{student} exists; pass --force to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        student: template(exercise, solution).read_text(),
        folder / "README.md": readme(exercise),
        folder / f"test_{exercise.module}.py": tests(exercise),
        folder / METADATA: json.dumps({"exercise": exercise.name, "file": student.name}) + "\n",
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def read_workspace(folder: str | Path) -> tuple[Exercise, Path]:
    """(the exercise, the student's file) of a workspace."""
    from . import get_exercise

    meta = Path(folder) / METADATA
    try:
        data = json.loads(meta.read_text())
        exercise = get_exercise(data["exercise"])
    except FileNotFoundError:
        raise WorkspaceError(
            f"{folder} is not an exercise workspace (no {METADATA}); "
            "create one with: tinygrad-edu exercise start NAME DIR"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise WorkspaceError(f"{meta}: not a valid workspace description ({e})") from None
    path = Path(folder) / data.get("file", f"{exercise.module}.py")
    if not path.exists():
        raise WorkspaceError(f"{path} is missing: the workspace has no student file")
    return exercise, path


def grade_workspace(folder: str | Path, timeout: float | None = None) -> list[Outcome]:
    """Every part of the workspace's exercise, each in its own process with a time limit."""
    exercise, path = read_workspace(folder)
    return grade_isolated(exercise, path, timeout)


def check_part(folder: str | Path, part: str, timeout: float | None = None) -> Outcome:
    """One part of the workspace, in its own process (what the workspace's tests run)."""
    exercise, path = read_workspace(folder)
    return grade_isolated(exercise, path, timeout, only=part)[0]


def readme(exercise: Exercise) -> str:
    parts = "\n".join(
        f"| `{p.name}` | {', '.join(f'`{f}`' for f in p.functions)} | {p.what} |"
        for p in exercise.parts
    )
    return f"""# {exercise.title}

{exercise.summary}

Open `{exercise.module}.py`: each function's docstring gives the maths to derive and the shapes.

| part | write | what |
| --- | --- | --- |
{parts}

Check your work, one line per part (passed, or what is wrong and a hint):

```console
tinygrad-edu exercise check .
python -m pytest             # the same parts, as tests
```
"""


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
