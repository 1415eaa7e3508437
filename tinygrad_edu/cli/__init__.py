"""The ``tinygrad-edu`` command line (also ``python -m tinygrad_edu``): :func:`main`.

One module per command (``train``, ``evaluate`` for ``eval``, ``predict``, ``summary``, ``plot``,
``sweep``, ``overfit``, ``graph``, ``trace``, ``exercise``), each with
``add_<name>_command(subparsers)``, which adds the subparser and sets its handler
``func(args) -> exit status``; :data:`COMMANDS` lists them. Shared pieces: ``errors``
(:class:`CLIError`), ``options`` (argparse types, the data arguments), ``rundata`` (loading a
run's data), ``figures`` (a run's figures), ``network`` (the network and optimiser ``train``
builds).

A handler signals a user's error by raising :class:`CLIError` (or lets the library's own, e.g.
a DatasetError, propagate); :func:`run_command` alone reports it: one line
``tinygrad-edu <command>: error: <message>`` on stderr and exit status 2, like argparse's own
errors; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..engine.memory import keep_freed_memory
from .errors import EXIT_USER_ERROR, USER_ERRORS, CLIError, messages
from .evaluate import add_eval_command
from .exercise import add_exercise_command
from .figures import FIGURES
from .graph import add_graph_command
from .options import PROG
from .overfit import add_overfit_command
from .plot import add_plot_command
from .predict import add_predict_command
from .summary import add_summary_command
from .sweep import add_sweep_command
from .trace import add_trace_command
from .train import add_train_command

__all__ = ["COMMANDS", "FIGURES", "CLIError", "build_parser", "main", "run_command"]

#: Functions that each add one subcommand: ``fn(subparsers) -> None``.
COMMANDS: list[Callable[[Any], None]] = [
    add_train_command,
    add_eval_command,
    add_predict_command,
    add_summary_command,
    add_graph_command,
    add_trace_command,
    add_sweep_command,
    add_overfit_command,
    add_plot_command,
    add_exercise_command,
]
EXIT_OK, EXIT_INTERRUPTED = 0, 130
_DEBUG_HELP = "on an error, show the traceback instead of one line"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but an error is one line (``prog: error: message``), without the usage block,
    and names the help of the command it is about: an unknown argument too, which argparse
    reports from the top parser (``see tinygrad-edu sweep --help``, not ``tinygrad-edu
    --help``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: tuple[str, dict[str, Any]] | None = None  # (dest, name -> parser)

    def add_subparsers(self, **kwargs: Any) -> Any:
        action = super().add_subparsers(**kwargs)
        self.commands = (kwargs.get("dest") or "", action.choices)
        return action

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.chosen(parsed).error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed

    def chosen(self, parsed: argparse.Namespace) -> ArgumentParser:
        """The innermost (sub)command ``parsed`` chose: ``tinygrad-edu exercise check``."""
        parser = self
        while parser.commands is not None:
            dest, choices = parser.commands
            inner = choices.get(getattr(parsed, dest, None) or "")
            if not isinstance(inner, ArgumentParser):
                break
            parser = inner
        return parser

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    """The parser of every command in :data:`COMMANDS`; ``--debug`` goes before or after the
    command."""
    parser = ArgumentParser(
        prog=PROG,
        description="tinygrad_edu: train and inspect small networks on MNIST.",
        epilog="Exit status: 0 done, 2 a user's error (one line on stderr), 1 the run itself "
        "failed (training diverged; one line on stderr), 130 interrupted.",
    )
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    for command in {id(p): p for p in subparsers.choices.values()}.values():  # aliases: once
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 a user's error, 1 a failed run,
    130 Ctrl-C)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, message already printed)
        return e.code if isinstance(e.code, int) else EXIT_USER_ERROR
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    keep_freed_memory()  # training and evaluation reuse big arrays (engine/memory.py)
    return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command ``args.func(args)``; report a user's error (:data:`USER_ERRORS`)
    in one line per message, or with ``args.debug`` as a traceback, and return 2 (1 for
    :class:`~tinygrad_edu.cli.errors.RunFailed`)."""
    prog = f"{PROG} {args.command}"
    try:
        return int(args.func(args) or EXIT_OK)
    except BrokenPipeError:  # e.g. `tinygrad-edu eval m.npz | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except USER_ERRORS as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        else:
            for message in messages(e):
                print(f"{prog}: error: {message}", file=sys.stderr)
        return e.status if isinstance(e, CLIError) else EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
