"""The figures of ``train --plots`` and ``plot``: the curves' x-axis (``--x``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from toy_digits import patch_load_dataset

from tinygrad_edu import cli
from tinygrad_edu.cli.figures import X_AXES


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    return patch_load_dataset(monkeypatch, 300, 100)


def test_the_x_option_of_train_and_plot(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture[str], drawn: dict[Path, Any]
) -> None:
    """6 epochs would count epochs; --x iterations counts updates, with the training curve and
    the test points every --eval-every k; plot --x epochs redraws them against epochs."""
    run, plots = tmp_path / "run", tmp_path / "plots"
    argv = ["train", "--epochs", "6", "--batch-size", "50", "--eval-every", "3"]
    argv += ["--out", str(run), "--plots", str(plots), "--x", "iterations"]
    assert cli.main(argv) == 0
    curves = drawn[plots / "curves.png"]
    assert (curves.width, curves.height) == (1100, 420) and curves.overlaps == []
    assert "iteration (minibatch); train and test every 3" in curves.text
    assert "train (mean of each 3 minibatches)" in curves.text
    assert "end of epoch" in curves.text
    redrawn = tmp_path / "again"
    argv = ["plot", str(run), "--curves-only", "--out", str(redrawn), "--x", "epochs"]
    assert cli.main(argv) == 0
    labels = drawn[redrawn / "curves.png"].text.splitlines()
    assert "epoch" in labels and "end of epoch" not in labels
    assert not any(label.startswith("iteration") for label in labels)
    assert "train (minibatch, centred mean of 2)" in labels
    capsys.readouterr()
    assert cli.main(["plot", str(run), "--x", "minibatch"]) == 2
    assert "argument --x: invalid choice: 'minibatch'" in capsys.readouterr().err


def test_the_axes_offered_are_the_library_s() -> None:
    from tinygrad_edu.viz import plots

    assert X_AXES == plots.X_AXES
