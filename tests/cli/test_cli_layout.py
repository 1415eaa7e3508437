"""The command line's layout: nothing imports it, command modules import only the shared ones,
no private names are borrowed, and only ``main`` writes error lines."""

from __future__ import annotations

import ast
from pathlib import Path

import tinygrad_edu
from tinygrad_edu import cli

PACKAGE = Path(tinygrad_edu.__file__).parent
CLI = PACKAGE / "cli"
SHARED = {"errors", "options", "rundata", "figures"}
#: viz/_format.py is being renamed on the viz branch; its new name replaces this one.
ALLOWED_PRIVATE = {"tinygrad_edu.viz._format"}


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


def test_nothing_imports_the_command_line() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if CLI in path.parents or path == PACKAGE / "__main__.py":
            continue
        for line, module, names in imports(path):
            cli_names = [n for n in names if f"{module}.{n}" == "tinygrad_edu.cli"]
            if module.startswith("tinygrad_edu.cli") or cli_names:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}")
    assert offenders == []


def test_commands_import_only_the_shared_modules() -> None:
    """A command's module imports the shared pieces, never another command or the entry."""
    commands = {f.__module__.rsplit(".", 1)[1] for f in cli.COMMANDS}
    assert len(commands) == len(cli.COMMANDS)  # one module per command
    for name in sorted(commands | SHARED):
        for line, module, _ in imports(CLI / f"{name}.py"):
            if module.startswith("tinygrad_edu.cli"):
                inside = module.removeprefix("tinygrad_edu.cli").lstrip(".")
                assert inside in SHARED - {name}, f"cli/{name}.py:{line} imports {module}"


def test_no_private_names_from_other_modules() -> None:
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        for line, module, names in imports(path):
            private = any(part.startswith("_") for part in module.split("."))
            if module in ALLOWED_PRIVATE or not module.startswith("tinygrad_edu"):
                continue
            if private or any(n.startswith("_") for n in names):
                offenders.append(f"cli/{path.name}:{line} {module} {names}")
    assert offenders == []


def test_only_main_reports_errors() -> None:
    """No command prints ``error:`` itself: it raises CLIError and ``main`` prints."""
    writers = [p.name for p in CLI.glob("*.py") if any(": error: " in s for s in code_strings(p))]
    assert sorted(writers) == ["__init__.py"]
