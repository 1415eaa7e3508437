"""The command line's layout: one module per command, command modules import only the shared
ones, and only ``main`` writes error lines (tests/test_layering.py checks that nothing imports
the command line and that no module borrows private names)."""

from __future__ import annotations

import ast
from pathlib import Path

import tinygrad_edu
from tinygrad_edu import cli

PACKAGE = Path(tinygrad_edu.__file__).parent
CLI = PACKAGE / "cli"
SHARED = {"errors", "options", "rundata", "figures", "network", "settings"}


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names imported from it) for each import in ``path``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
    return found


def code_strings(path: Path) -> list[str]:
    """The string constants of ``path``, docstrings left out."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_commands_import_only_the_shared_modules() -> None:
    """A command's module imports the shared pieces, never another command or the entry."""
    commands = {f.__module__.rsplit(".", 1)[1] for f in cli.COMMANDS}
    assert len(commands) == len(cli.COMMANDS)  # one module per command
    for name in sorted(commands | SHARED):
        for line, module, _ in imports(CLI / f"{name}.py"):
            if module.startswith("tinygrad_edu.cli"):
                inside = module.removeprefix("tinygrad_edu.cli").lstrip(".")
                assert inside in SHARED - {name}, f"cli/{name}.py:{line} imports {module}"


def test_only_main_reports_errors() -> None:
    """No command prints ``error:`` itself: it raises CLIError and ``main`` prints."""
    writers = [p.name for p in CLI.glob("*.py") if any(": error: " in s for s in code_strings(p))]
    assert sorted(writers) == ["__init__.py"]
