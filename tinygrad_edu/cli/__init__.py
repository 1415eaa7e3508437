"""The ``tinygrad-edu`` command line: ``main`` and one module per command."""

from .app import COMMANDS, FIGURES, CLIError, build_parser, main

__all__ = ["COMMANDS", "FIGURES", "CLIError", "build_parser", "main"]
