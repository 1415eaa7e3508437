"""The docs cannot go stale: run every ```python block of docs/*.md and README.md, and every
notebook in examples/.

Blocks of one file run in order in one namespace (in a temporary working directory, so files
they write land there). A block whose lines start with ``>>>`` is a doctest: its expected output
is compared (ELLIPSIS and NORMALIZE_WHITESPACE on). Mark a block that must not run with another
fence: ```text, ```console.
"""

from __future__ import annotations

import doctest
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from tinygrad_edu.training.tensorboard import INSTALL_HINT

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md")) + [p for p in [REPO / "README.md"] if p.exists()]
NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))

_BLOCK = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the first code line, code) for each ```python block."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


def run_block(code: str, namespace: dict, path: Path, lineno: int) -> None:
    where = f"{path.relative_to(REPO)}:{lineno}"
    if re.search(r"^\s*>>> ", code, re.M):
        test = doctest.DocTestParser().get_doctest(code, namespace, where, str(path), lineno - 1)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        runner = doctest.DocTestRunner(optionflags=flags)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        namespace.update(test.globs)  # DocTest ran in a copy: later blocks see its names
        if runner.failures:
            pytest.fail(f"doctest block at {where} failed:\n{report.getvalue()}", pytrace=False)
    else:
        exec(compile(code, where, "exec"), namespace)


def test_block_parser_sees_only_python_fences():
    text = "a\n```python\nx = 1\n```\n```console\n$ ls\n```\n```py\ny = 2\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = 2\n")]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_python_blocks_run(path: Path, tmp_path, monkeypatch):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{path.name} has no python blocks")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{path.stem}"}
    for lineno, code in blocks:
        try:
            run_block(code, namespace, path, lineno)
        except ImportError as e:  # the TensorBoard section, where its extra is not installed
            if e.name != "tensorboard":
                raise
            pytest.skip(f"{path.name}:{lineno} uses TensorBoard: {INSTALL_HINT}")


def test_docs_images_exist():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for image in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            if not image.startswith(("http://", "https://")):
                assert (path.parent / image).exists(), f"{path.name} shows missing {image}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_are_stripped(path: Path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: commit notebooks without outputs (clear them before saving)"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    work = tmp_path / path.name
    shutil.copy(path, work)
    # the kernel is a fresh process: let it import this checkout even if it is not installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(work, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors


def test_ci_runs_the_readme_test_command():
    """The README's second command is the tests; .ci/run must run exactly that line."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"^```console\n(.*?)^```", readme, re.M | re.S)
    assert first_block, "README.md must start with a console block of the two commands"
    install_and_run, tests = first_block.group(1).strip().splitlines()[:2]
    assert "pytest" in tests and "tinygrad-edu train" in install_and_run
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in [line.strip() for line in ci], f".ci/run does not run {tests!r}"


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_links_point_to_files_inside_the_repo(path: Path) -> None:
    """Every relative link (and image) of the docs names a file or folder of the repository."""
    for target in _LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(REPO), f"{path.name}: {target} is outside the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"
