"""``train --tensorboard DIR`` and ``sweep --tensorboard DIR``: one TensorBoard run per run (per
sweep row), resumed runs going on in theirs, and one line with exit status 2 without the extra."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from toy_digits import patch_load_dataset

from tinygrad_edu import cli
from tinygrad_edu.training import History

TRAIN_ARGS = ["train", "--arch", "784,16,10", "--batch-size", "50", "--eval-every", "4"]
HINT = 'pip install "tinygrad_edu[tensorboard]"'


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """load_dataset replaced by toy digits (1,200 train, 600 test); records the calls."""
    return patch_load_dataset(monkeypatch, 1200, 600)


@pytest.fixture
def reader() -> Any:
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

    def load(folder: Path) -> Any:
        events = accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        return events

    return load


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in ``text`` (separator rows left out)."""
    lines = [line for line in text.splitlines() if line.startswith("|") and "---" not in line]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def steps(events: Any, tag: str) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


def test_train_writes_one_run_folder_named_like_the_run(
    fake_data: list, reader: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``--out runs/first`` with ``--tensorboard logs`` writes ``logs/first``; ``--resume``
    remembers the folder and goes on writing there."""
    logs, run = tmp_path / "logs", tmp_path / "runs" / "first"
    argv = [*TRAIN_ARGS, "--epochs", "1", "--out", str(run), "--tensorboard", str(logs)]
    assert cli.main(argv) == 0
    assert [p.name for p in logs.iterdir()] == ["first"]
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    capsys.readouterr()
    events = reader(logs / "first")
    history = History.load(run / "history.json")
    assert steps(events, "test/accuracy") == history.test_iterations
    assert steps(events, "epoch") == history.epoch_end_iterations == [24, 48]
    assert {"grad_norm/layer1", "saturated/layer1", "train/loss"} <= set(events.Tags()["scalars"])
    assert len(list((logs / "first").iterdir())) == 1


def test_sweep_writes_one_run_per_row(
    fake_data: list, reader: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``sweep --tensorboard DIR``: ``DIR/lr/<lr>`` per row, each with test curves; the table is
    the one a sweep without TensorBoard prints."""
    logs = tmp_path / "logs"
    argv = ["sweep", "--table", "lr", "--quick", "--epochs", "1"]
    assert cli.main(argv) == 0
    plain = markdown_rows(capsys.readouterr().out)
    assert cli.main([*argv, "--tensorboard", str(logs)]) == 0
    watched = markdown_rows(capsys.readouterr().out)
    accuracies = slice(6, 8)  # train acc, test acc (time differs)
    assert [r[accuracies] for r in watched] == [r[accuracies] for r in plain]
    assert sorted(p.name for p in (logs / "lr").iterdir()) == ["0.005", "0.05", "0.5", "2"]
    for lr in ("0.005", "2"):
        events = reader(logs / "lr" / lr)
        assert steps(events, "test/accuracy") == [0, 5]  # before training, after the epoch
        assert steps(events, "epoch") == [5]


@pytest.fixture
def no_tensorboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the tensorboard package were not installed."""
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)


@pytest.mark.parametrize("command", [TRAIN_ARGS, ["sweep", "--quick"]], ids=["train", "sweep"])
def test_without_the_extra_one_line_says_what_to_install(
    no_tensorboard: None,
    fake_data: list,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    command: list[str],
) -> None:
    out = tmp_path / "run"
    argv = [*command, "--out", str(out), "--tensorboard", str(tmp_path / "logs")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and HINT in err, err
    assert err.startswith(f"tinygrad-edu {command[0]}: error: argument --tensorboard: ")
    assert fake_data == [] and not out.exists()  # nothing loaded, nothing trained


def test_resuming_a_tensorboard_run_without_the_extra_is_one_line(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    argv = [*TRAIN_ARGS, "--epochs", "1", "--out", str(run), "--tensorboard", str(tmp_path)]
    assert cli.main(argv) == 0
    capsys.readouterr()
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and HINT in err and err.startswith("tinygrad-edu train: error: ")
