"""``tinygrad-edu exercise list | start NAME DIR | check DIR``: the course's exercises.

``list`` prints one exercise a line, name first; ``start`` writes a student's workspace (stubs,
README, tests; ``--solution`` the reference solution instead); ``check`` grades a workspace,
one line per part, each part in its own process with a time limit: exit status 0 when every
part passes, 1 when any fails.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from ..exercises import EXERCISES, get_exercise
from ..exercises.integrity import GraderChanged
from ..exercises.workspace import WorkspaceError, grade_workspace, start_workspace
from .errors import CLIError
from .options import PROG

__all__ = ["add_exercise_command", "run_check", "run_list", "run_start"]


def add_exercise_command(subparsers: Any) -> None:
    """Add ``exercise`` with its subcommands ``list``, ``start`` and ``check``."""
    p = subparsers.add_parser(
        "exercise",
        help="the course's exercises: list them, start one in a folder, check your work",
        description="Derive gradients by hand and check them: each exercise is a Python file "
        "of stubs whose docstrings give the maths and the shapes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"examples:\n  {PROG} exercise list\n  {PROG} exercise start "
        f"softmax-cross-entropy ex1\n  {PROG} exercise check ex1",
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
    start.set_defaults(func=run_start)
    check = actions.add_parser("check", help="grade the workspace in DIR, one line per part")
    check.add_argument("dir", metavar="DIR", help="a folder written by exercise start")
    check.add_argument(
        "--timeout", type=float, default=None, help="seconds per part (default: each part's own)"
    )
    check.set_defaults(func=run_check)
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
        files = start_workspace(exercise, args.dir, solution=args.solution, force=args.force)
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
            outcomes = grade_workspace(args.dir, timeout=args.timeout)
    except (WorkspaceError, GraderChanged) as e:
        raise CLIError(str(e)) from None
    for outcome in outcomes:
        print("\n".join(outcome.lines()), flush=True)
    return 0 if all(o.passed for o in outcomes) else 1


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
