"""The package's layering, checked from its source: imports point down only, no import cycle but
inside the engine, and no module imports another module's private names.

Layers, bottom up (docs/architecture.md draws the same picture)::

    engine      engine/: errors, grad_mode, rule_math, speed, memory, parallel below tensor,
                function, ops, backprop (these four may import each other)
    fused ops   fused, conv
    gradcheck   gradcheck, autograd/
    nn, data    nn/ | data/                  (data is pure numpy: it imports nothing else)
    optim       optim                        (its state is allocated by nn.init)
    viz, check  viz/ | check/
    training    training/
    course      course/
    exercises   exercises/
    cli         cli/
    __main__    python -m tinygrad_edu

A module may import its own package and any layer below its own, never one above; two packages
of one layer do not import each other. Imports inside functions and under ``TYPE_CHECKING``
count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tinygrad_edu
import tinygrad_edu.data

PACKAGE = Path(tinygrad_edu.__file__).parent
NAME = "tinygrad_edu"
ENGINE = {"tensor", "function", "ops", "backprop"}  # engine/'s modules that import each other
#: engine/'s modules below them
BELOW_ENGINE = {"errors", "grad_mode", "rule_math", "speed", "memory", "parallel"}

#: Each layer: the top-level names (modules or subpackages) it holds; bottom first.
LAYERS: list[set[str]] = [
    {"engine"},
    {"fused", "conv"},
    {"gradcheck", "autograd"},
    {"nn", "data"},
    {"optim"},
    {"viz", "check"},
    {"training"},
    {"course"},
    {"exercises"},
    {"cli"},
    {"__main__"},
]
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(module: str) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import in ``module``'s file."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            # `from pkg import submodule` imports that module
            modules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            rest = [n for n in names if f"{target}.{n}" not in MODULES]
            found += [(node.lineno, m, []) for m in modules]
            if rest or not modules:
                found.append((node.lineno, target, rest))
    return [(line, m, names) for line, m, names in found if m.split(".")[0] == NAME]


def top(module: str) -> str:
    """The top-level name a module belongs to: ``tinygrad_edu.nn.layers`` -> ``nn``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({top(m) for m in MODULES if top(m) and top(m) not in LAYER_OF})
    assert unplaced == [], f"add these to LAYERS (and to docs/architecture.md): {unplaced}"


def test_imports_point_down() -> None:
    offenders = []
    for module in MODULES:
        here = top(module)
        if not here:  # the package's __init__ re-exports from below
            continue
        for line, target, _ in imports(module):
            there = top(target)
            if not there or there == here:
                continue
            if LAYER_OF[there] >= LAYER_OF[here]:
                offenders.append(f"{module}:{line} imports {target} ({there} is not below {here})")
    assert offenders == []


def test_data_is_pure_numpy() -> None:
    offenders = [
        f"{m}:{line} imports {t}"
        for m in MODULES
        if top(m) == "data"
        for line, t, _ in imports(m)
        if top(t) != "data"
    ]
    assert offenders == []


def test_no_module_imports_private_names() -> None:
    """`from .x import _y` and imports of a private module reach into another module's insides."""
    offenders = []
    for module in MODULES:
        for line, target, names in imports(module):
            private_module = any(part.startswith("_") for part in target.split(".")[1:])
            private_names = [n for n in names if n.startswith("_") and n != "__version__"]
            if private_module and target != f"{NAME}.__main__":
                offenders.append(f"{module}:{line} imports the private module {target}")
            if private_names:
                offenders.append(f"{module}:{line} imports {private_names} from {target}")
    assert offenders == []


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.add(m)
                    if m == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def test_no_import_cycle_outside_the_engine() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for _, target, _ in imports(module):
            while target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            is_child = MODULES[module].name == "__init__.py" and target.startswith(module + ".")
            if target in MODULES and target != module and not is_child:
                graph[module].add(target)
    engine = {f"{NAME}.engine.{m}" for m in ENGINE}
    cycles = [c for c in strongly_connected(graph) if not c <= engine]
    assert cycles == []


def test_inside_the_engine_the_helpers_are_below() -> None:
    """errors.py, grad_mode.py and the helpers (rule_math.py, speed.py, memory.py, parallel.py)
    import none of tensor, function, ops and backprop (they may use each other)."""
    offenders = [
        f"{m}:{line} imports {t}"
        for m in (f"{NAME}.engine.{b}" for b in BELOW_ENGINE)
        for line, t, _ in imports(m)
        if t.rsplit(".", 1)[-1] in ENGINE
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "cycle",
    [{"a": {"b"}, "b": {"a"}}, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}],
)
def test_the_cycle_finder_finds_cycles(cycle: dict[str, set[str]]) -> None:
    assert strongly_connected(cycle) == [{"a", "b", "c"} & set(cycle)]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_the_engine_reads_in_one_sitting() -> None:
    """engine/tensor.py + function.py + ops.py: at most 800 lines (the redesign's limit); the
    reverse walk, backprop.py, at most 250 more. The autodiff issue put each op's tangent rule
    beside its backward, Scatter and create_graph's walk into the engine (about 230 lines); the
    walk then moved out of tensor.py into its own file, as minitorch's autodiff.py."""
    lines = {m: len((PACKAGE / "engine" / f"{m}.py").read_text().splitlines()) for m in ENGINE}
    assert lines["tensor"] + lines["function"] + lines["ops"] <= 800
    assert lines["backprop"] <= 250


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > 80:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert long == []


def test_data_public_names() -> None:
    expected = {
        "DATASETS",
        "read_idx",
        "write_idx",
        "IDXError",
        "Dataset",
        "DatasetError",
        "load_dataset",
        "load_mnist",
        "load_fashion_mnist",
        "load_png_folder",
        "load_mnist_sample",
        "download_mnist",
        "download_file",
        "DownloadError",
        "DataLoader",
        "cache_dir",
    }
    assert expected <= set(tinygrad_edu.data.__all__)
    for name in tinygrad_edu.data.__all__:
        assert hasattr(tinygrad_edu.data, name)


def test_the_library_says_what_network_it_means() -> None:
    """ "the seeds' MLP" meant the course's 784-64-10 sigmoid MLP to its authors only; a reader
    of the library is told which network (the handouts' own names, such as handout 003, stay)."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in MODULES.values()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "seeds'" in line
    ]
    assert offenders == []


def test_what_a_reader_holds_names_the_handouts_not_the_seeds() -> None:
    """The README, docs, examples, notebooks and scripts say "the course's MLP" and "handout
    003", never the authors' "the seeds' MLP" or "seed 003"."""
    root = PACKAGE.parent
    texts = [root / "README.md", *sorted(root.glob("docs/*.md"))]
    for folder in ("examples", "notebooks", "scripts", "benchmarks"):
        texts += sorted(p for p in (root / folder).glob("*") if p.suffix in (".py", ".ipynb"))
    jargon = re.compile(r"seeds'|\b[Ss]eed 00[0-4]\b")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in texts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if jargon.search(line)
    ]
    assert offenders == []
