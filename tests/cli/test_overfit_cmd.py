"""``tinygrad-edu overfit``: the overfitting study from the command line, on the offline
sample (``--quick``: 1,000 training and 1,000 validation images, 3 epochs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinygrad_edu import cli
from tinygrad_edu.cli.overfit import HANDOUT_EPOCHS, SETTING_KEYS

QUICK = ["overfit", "--dataset", "mnist-sample", "--quick"]


def table_rows(out: str) -> list[list[str]]:
    rows = [line.strip("|").split("|") for line in out.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # header and --- left out


def test_the_mlp_study_prints_its_table_and_draws_accuracy_and_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], drawn: dict[Path, Any]
) -> None:
    assert cli.main([*QUICK, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(
        "784-64-10 sigmoid, sgd lr 2, batch 256, 3 epochs, seed 0, threads chosen by timing."
    )
    rows = table_rows(captured.out)
    assert [row[:3] for row in rows] == [["200", "3", "3"], ["1,000", "3", "12"]]
    assert (tmp_path / "overfitting.md").read_text() == captured.out.rstrip("\n") + "\n"
    assert "200 images, epoch   1: train" in captured.err
    figure = drawn[tmp_path / "overfitting_mlp.png"]
    assert (figure.width, figure.height) == (1040, 760) and figure.overlaps == []
    for text in (
        "the first 200 training images (3 updates)",
        "all 1,000 training images (12 updates)",
        "accuracy (%)",
        "cross-entropy loss",
        "lowest validation loss: epoch",
        "validation: the 1,000-image test split",
    ):
        assert text in figure.text


def test_the_cnn_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*QUICK, "--model", "cnn", "--epochs", "1", "--small", "100", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "the small CNN, sgd lr 0.1, batch 256, 1 epoch, seed 0, threads chosen by timing."
    )
    assert [row[:3] for row in table_rows(out)] == [["100", "1", "1"], ["1,000", "1", "4"]]
    assert (tmp_path / "overfitting_cnn.png").stat().st_size > 5_000
    assert HANDOUT_EPOCHS == {"mlp": 30, "cnn": 15}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--small", "1000"], "--small 1,000 must be below the 1,000 training images"),
        (["--small", "0"], "argument --small: expected a positive integer, got 0"),
        (["--lr", "0"], "argument --lr: expected a number > 0, got 0"),
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer, got 0"),
        (["--momentum", "0.5"], "--momentum goes with --optimizer momentum or nesterov, not sgd"),
        (["--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
    ],
)
def test_bad_options_are_one_line_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*QUICK, *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_an_out_that_is_a_file_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("")
    assert cli.main([*QUICK, "--out", str(tmp_path / "f")]) == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err and "is not a folder" in captured.err
    assert "epoch" not in captured.err


def test_the_settings_options_are_rows_of_trains_table() -> None:
    """--optimizer, --lr, --momentum, --batch-size, --epochs, --seed: train's rows (one type
    and check each), with the handout's defaults in the help."""
    from tinygrad_edu.cli.settings import BY_KEY

    parser = cli.build_parser()
    assert parser.commands is not None
    actions = {a.dest: a for a in parser.commands[1]["overfit"]._actions}
    for key in SETTING_KEYS:
        row = BY_KEY[key]
        assert actions[key].option_strings == [row.option] and actions[key].default is None
        assert actions[key].help.startswith(row.help)
        assert {"type": actions[key].type, "choices": actions[key].choices} == {
            "type": row.kind.argument.get("type"),
            "choices": row.kind.argument.get("choices"),
        }
    assert "(default sgd)" in actions["optimizer"].help
    assert "(default mlp 30, cnn 15; 3 with --quick)" in actions["epochs"].help


def test_momentum_is_used_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*QUICK, "--epochs", "1", "--optimizer", "momentum", "--momentum", "0.5"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("784-64-10 sigmoid, momentum lr 0.5 (momentum 0.5), batch 256, 1 epoch")
