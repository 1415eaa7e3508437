"""Run the course's notebooks top to bottom, each in a fresh kernel, and time them.

    python scripts/run_notebooks.py [NOTEBOOK ...] [--data-dir DIR] [--out DIR] [--timeout S]

With no NOTEBOOK, every ``notebooks/*.ipynb``. Each runs with nbclient in a new temporary
working folder (files it writes land there), with the repository on ``PYTHONPATH``.
``--data-dir DIR`` first sets the notebook's ``DATA_DIR = None`` line to ``DATA_DIR = "DIR"``
(an absolute path), so that it trains on MNIST's four IDX files from DIR instead of the digits
bundled in the package. ``--out DIR`` keeps each executed notebook, with its outputs and
figures, as ``DIR/<name>.ipynb``. Prints one line per notebook (its seconds, or its first error)
and exits with status 1 if any failed. The kernels use one BLAS thread unless
``OPENBLAS_NUM_THREADS`` says otherwise: the timing the notebooks state, and steady on a busy
machine (where two OpenBLAS threads made the notebooks ten times slower).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
#: The line of a notebook that chooses its data.
DATA_DIR_LINE = re.compile(r"^DATA_DIR = None\b.*$", re.M)
#: Seconds any one cell may take before the run fails (the longest takes about 60 s alone).
CELL_TIMEOUT = 600


def set_data_dir(nb: Any, data_dir: str | os.PathLike[str]) -> None:
    """Point the notebook's ``DATA_DIR = None`` line at ``data_dir`` (ValueError if it has no
    such line, or more than one)."""
    hits = [c for c in nb.cells if c.cell_type == "code" and DATA_DIR_LINE.search(c.source)]
    if len(hits) != 1:
        raise ValueError(f"expected one code cell with a `DATA_DIR = None` line, found {len(hits)}")
    value = str(Path(data_dir).resolve())
    hits[0].source = DATA_DIR_LINE.sub(lambda _: f"DATA_DIR = {value!r}", hits[0].source)


def execute(
    path: str | os.PathLike[str],
    workdir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    timeout: int = CELL_TIMEOUT,
) -> tuple[Any, float]:
    """Run the notebook at ``path`` in a fresh ``python3`` kernel whose working folder is
    ``workdir``; return the executed notebook and its wall-clock seconds (kernel start
    included). A cell that raises stops the run with ``nbclient``'s ``CellExecutionError``."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if data_dir is not None:
        set_data_dir(nb, data_dir)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    start = time.perf_counter()
    client.execute(env=_kernel_env())
    return nb, time.perf_counter() - start


def _kernel_env() -> dict[str, str]:
    """The kernel's environment: this one, with the repository first on PYTHONPATH and one
    OpenBLAS thread unless OPENBLAS_NUM_THREADS is set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--data-dir", type=Path, help="a folder with MNIST's four IDX files")
    parser.add_argument("--out", type=Path, help="keep the executed notebooks in this folder")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    for path in paths:
        with tempfile.TemporaryDirectory() as work:
            try:
                nb, seconds = execute(path, work, args.data_dir, args.timeout)
                print(f"{path.name}: {seconds:.1f} s", flush=True)
            except Exception as e:  # a failing cell: report it and go on with the others
                failed += 1
                print(f"{path.name}: FAILED: {type(e).__name__}: {str(e)[-300:]}", flush=True)
                continue
        if args.out is not None:
            import nbformat

            args.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, args.out / path.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
