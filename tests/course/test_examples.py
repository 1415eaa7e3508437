"""The course's example scripts run (``--quick``) and write their tables and figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from course_testing import markdown_rows

REPO = Path(__file__).resolve().parents[2]


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_run_quick(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    neuron = load_example("single_neuron")
    assert neuron.main(["--data-dir", str(mnist_dir), "--out", str(tmp_path), "--quick"]) == 0
    assert (tmp_path / "single_neuron.md").exists()
    assert (tmp_path / "single_neuron_weights.png").stat().st_size > 1000
    study = load_example("overfitting")
    assert study.main(["--data-dir", str(mnist_dir), "--out", str(tmp_path), "--quick"]) == 0
    assert sorted(p.name for p in tmp_path.glob("overfitting_*.png")) == [
        "overfitting_1000.png",
        "overfitting_200.png",
        "overfitting_mlp.png",
    ]
    assert len(markdown_rows((tmp_path / "overfitting.md").read_text())) == 3
