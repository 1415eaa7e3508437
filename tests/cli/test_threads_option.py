"""``--threads N`` on train, sweep (tests/course/test_sweeps.py), eval and overfit: the count
each run's steps use, kept in the run and reported by summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinygrad_edu import cli
from tinygrad_edu.training import History, read_metadata

TINY_SAMPLE = ["--dataset", "mnist-sample", "--train-size", "200", "--test-size", "100"]


def test_train_threads_is_kept_and_summarised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", *TINY_SAMPLE, "--epochs", "2", "--threads", "2", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    history = History.load(tmp_path / "history.json")
    assert history.config["threads"] == 2 and history.epoch_threads == [2, 2]
    assert read_metadata(tmp_path / "model.npz")["config"]["threads"] == 2
    capsys.readouterr()
    assert cli.main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ", 2 threads; test accuracy" in out  # (not in the command again: the same numbers)


def test_a_resumed_run_may_use_another_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every count trains to the same numbers, so --threads may differ on --resume."""
    argv = ["train", *TINY_SAMPLE, "--epochs", "1", "--threads", "1", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert cli.main(["train", "--resume", str(tmp_path), "--epochs", "2", "--threads", "2"]) == 0
    assert History.load(tmp_path / "history.json").epoch_threads == [1, 2]


@pytest.mark.parametrize("command", ["train", "eval", "overfit", "sweep"])
def test_a_bad_count_is_one_line(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.npz"
    if command == "eval":
        assert cli.main(["train", *TINY_SAMPLE, "--epochs", "1", "--out", str(tmp_path)]) == 0
        capsys.readouterr()
    argv = {"eval": ["eval", str(model)], "overfit": ["overfit"], "sweep": ["sweep"]}
    assert cli.main([*argv.get(command, ["train"]), "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --threads: expected a positive integer, got 0" in err


def test_eval_and_overfit_take_threads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", *TINY_SAMPLE, "--epochs", "1", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    assert cli.main(["eval", str(tmp_path / "r" / "model.npz"), "--threads", "2"]) == 0
    assert "accuracy" in capsys.readouterr().out
    argv = ["overfit", "--dataset", "mnist-sample", "--quick", "--threads", "1"]
    argv += ["--epochs", "1", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 0
    assert ", 1 thread." in capsys.readouterr().out
