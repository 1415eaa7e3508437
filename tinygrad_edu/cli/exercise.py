"""``tinygrad-edu exercise list | start NAME DIR | check DIR | hint DIR PART | report DIR...``:
the course's exercises.

``list`` prints one exercise a line, name first; ``start`` writes a student's workspace (stubs,
README, tests; ``--solution`` the reference solution instead; ``--hints none|some|all`` how many
hint levels it shows); ``check`` grades a workspace, one line per part, each part in its own
process with a time limit: exit status 0 when every part passes, 1 when any fails (``--json
FILE`` also writes the outcome); ``hint`` prints a part's next hint level and records it in the
workspace; ``report`` grades a class, one workspace per student, and prints each part's pass
rate, mistakes and failing students (``--csv``, ``--html``:
:mod:`~tinygrad_edu.exercises.classreport`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from typing import Any

from ..exercises import EXERCISES, get_exercise
from ..exercises.classpage import html_page
from ..exercises.classreport import (
    csv_text,
    grade_class,
    import_notes,
    outcome_json,
    summary_text,
    write_text,
)
from ..exercises.hints import CHOICES, DEFAULT
from ..exercises.integrity import GraderChanged
from ..exercises.workspace import (
    WorkspaceError,
    grade_workspace,
    read_workspace,
    reveal_hint,
    start_workspace,
)
from .errors import CLIError
from .options import PROG, output_file

__all__ = [
    "add_exercise_command",
    "add_report_action",
    "run_check",
    "run_hint",
    "run_list",
    "run_report",
    "run_start",
]


def add_exercise_command(subparsers: Any) -> None:
    """Add ``exercise`` with its subcommands ``list``, ``start``, ``check``, ``hint`` and
    ``report``."""
    p = subparsers.add_parser(
        "exercise",
        help="the course's exercises: list them, start one in a folder, check your work",
        description="Derive gradients by hand and check them: each exercise is a Python file "
        "of stubs whose docstrings give the task and the shapes, with hints in levels.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n  {PROG} exercise list\n  {PROG} exercise start "
        f"softmax-cross-entropy ex1\n  {PROG} exercise check ex1\n  "
        f"{PROG} exercise hint ex1 gradient\n  {PROG} exercise report "
        "class/* --csv class.csv --html class.html",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="one exercise a line, name first").set_defaults(func=run_list)
    start = actions.add_parser("start", help="write an exercise's workspace into DIR")
    start.add_argument("name", metavar="NAME", help="the exercise (see: exercise list)")
    start.add_argument("dir", metavar="DIR", help="the folder to write (created if needed)")
    start.add_argument(
        "--solution", action="store_true", help="write the reference solution (for teachers)"
    )
    start.add_argument("--force", action="store_true", help="overwrite an existing file")
    start.add_argument(
        "--hints",
        choices=CHOICES,
        default=DEFAULT,
        help="the hint levels the workspace shows: none (and check names mistakes without a "
        "hint), some (each part's first level in the README, the next ones by exercise hint; "
        "the default) or all (every level in the README)",
    )
    start.set_defaults(func=run_start)
    check = actions.add_parser("check", help="grade the workspace in DIR, one line per part")
    check.add_argument("dir", metavar="DIR", help="a folder written by exercise start")
    check.add_argument(
        "--timeout", type=float, default=None, help="seconds per part (default: each part's own)"
    )
    check.add_argument(
        "--json",
        metavar="FILE",
        type=output_file,
        help='also write the outcome to FILE: {"exercise", "passed", "parts": [{"part", '
        '"passed", "diagnosis", "message"}]}',
    )
    check.set_defaults(func=run_check)
    hint = actions.add_parser("hint", help="print the next hint of a part, one level at a time")
    hint.add_argument("dir", metavar="DIR", help="a folder written by exercise start")
    hint.add_argument("part", metavar="PART", help="the part (as exercise check names it)")
    hint.set_defaults(func=run_hint)
    add_report_action(actions)
    for action in {id(a): a for a in actions.choices.values()}.values():  # `check DIR --debug`
        action.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``exercise list``."""
    width = max(len(name) for name in EXERCISES)
    for name, exercise in EXERCISES.items():
        print(f"{name:<{width}}  {exercise.title}")
    return 0


def run_start(args: argparse.Namespace) -> int:
    """Handler of ``exercise start``."""
    try:
        exercise = get_exercise(args.name)
        files = start_workspace(
            exercise, args.dir, solution=args.solution, force=args.force, hints=args.hints
        )
    except KeyError as e:
        raise CLIError(e.args[0]) from None
    except WorkspaceError as e:
        raise CLIError(str(e)) from None
    what = "the reference solution" if args.solution else "stubs"
    print(f"wrote {exercise.name} ({what}) into {args.dir}: {', '.join(f.name for f in files)}")
    print(f"next: edit {files[0]}, then run: {PROG} exercise check {args.dir}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Handler of ``exercise check``: 0 when every part passes, 1 when any fails or did not
    run. SIGTERM and SIGHUP stop it as Ctrl-C does: every part's processes are killed."""
    if args.timeout is not None and not args.timeout > 0:
        raise CLIError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    try:
        with stop_on_signals():
            exercise, path = read_workspace(args.dir)
            outcomes = grade_workspace(args.dir, timeout=args.timeout)
    except (WorkspaceError, GraderChanged) as e:
        raise CLIError(str(e)) from None
    for outcome in outcomes:
        print("\n".join(outcome.lines()), flush=True)
    for note in import_notes(path):
        print(f"note: {note}")
    if getattr(args, "json", None) is not None:
        write_text(args.json, json.dumps(outcome_json(exercise.name, outcomes), indent=1) + "\n")
    return 0 if all(o.passed for o in outcomes) else 1


def run_hint(args: argparse.Namespace) -> int:
    """Handler of ``exercise hint``: the part's next hint level, recorded as shown."""
    try:
        part, level, text = reveal_hint(args.dir, args.part)
    except WorkspaceError as e:
        raise CLIError(str(e)) from None
    print(f"{part.name}, hint {level} of {len(part.hint_levels)}: {text}")
    return 0


def add_report_action(actions: Any) -> None:
    """Add ``exercise report DIR... [--csv FILE] [--html FILE] [--timeout S]``."""
    report = actions.add_parser(
        "report",
        help="grade a class: many students' workspaces, one DIR each (for teachers)",
        description="Grade every workspace (one student each, named by its folder) and print, "
        "per exercise and part, the pass rate, the most frequent mistake kinds and the students "
        "still failing; a broken workspace is one line and never stops the report.",
    )
    report.add_argument("dirs", metavar="DIR", nargs="+", help="a student's workspace")
    report.add_argument(
        "--csv",
        metavar="FILE",
        type=output_file,
        help="write student,exercise,part,passed,diagnosis rows to FILE",
    )
    report.add_argument(
        "--html", metavar="FILE", type=output_file, help="write the class dashboard to FILE"
    )
    report.add_argument(
        "--timeout", type=float, default=None, help="seconds per part (default: each part's own)"
    )
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``exercise report``: 0 once the report is written (whatever the students'
    results); 2 for a user's error. SIGTERM and SIGHUP stop it as Ctrl-C does."""
    if args.timeout is not None and not args.timeout > 0:
        raise CLIError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.csv is not None and args.html is not None and args.csv.resolve() == args.html.resolve():
        raise CLIError(f"--csv and --html name the same file {args.csv}")
    try:
        with stop_on_signals():
            report = grade_class(args.dirs, timeout=args.timeout)
    except GraderChanged as e:
        raise CLIError(str(e)) from None
    print(summary_text(report), end="", flush=True)
    if args.csv is not None:
        write_text(args.csv, csv_text(report))
    if args.html is not None:
        write_text(args.html, html_page(report))
    return 0


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside: SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so that the
    grader kills its parts before the command ends (main thread only: elsewhere, nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    before = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
