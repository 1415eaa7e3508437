"""``train``'s settings table (cli/settings.py): the arguments of ``train`` and ``sweep``, a fresh
run's settings, the resume check, old runs, and the text of ``summary`` and the curves' titles
all come from its rows; adding a row adds a flag everywhere."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path
from typing import Any

import pytest
from toy_digits import patch_load_dataset

from tinygrad_edu import cli
from tinygrad_edu.cli import settings as table
from tinygrad_edu.cli.errors import CLIError
from tinygrad_edu.cli.figures import run_title
from tinygrad_edu.training import History, read_metadata

#: The options of train that are not settings of a run: where it goes and what it draws.
FOLDER_OPTIONS = {
    "--out",
    "--resume",
    "--overwrite",
    "--plots",
    "--x",
    "--tensorboard",
    "--offline",
}
#: sweep's own options, beside the base settings it takes from the table.
SWEEP_OPTIONS = {
    "--table",
    "--out",
    "--hidden",
    "--quick",
    "--tensorboard",
    "--log-loss",
    "--repeat",
}


def options_of(command: str) -> set[str]:
    parser = cli.build_parser()
    assert parser.commands is not None
    sub = parser.commands[1][command]
    found = {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
    return found - {"--help", "--debug"}


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """load_dataset replaced by toy digits (300 train, 100 test)."""
    return patch_load_dataset(monkeypatch, 300, 100)


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The Markdown table's rows, each a dict by column name."""
    lines = [line for line in text.splitlines() if line.startswith("|") and "---" not in line]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]


# ----------------------------------------------------------------------------- the table
def test_every_option_of_train_and_sweep_is_a_row_of_the_table() -> None:
    """Before: the options lived in three modules, and sweep had four of train's."""
    rows = {row.option for row in table.SETTINGS}
    assert options_of("train") - FOLDER_OPTIONS == rows
    swept = {row.option for row in table.SETTINGS if row.sweep}
    assert options_of("sweep") - SWEEP_OPTIONS - {"--offline"} == swept
    assert {
        "--lr",
        "--epochs",
        "--batch-size",
        "--init-std",
        "--momentum",
        "--weight-decay",
    } < swept
    assert {"--dropout", "--augment", "--dataset", "--data-dir", "--train-size"} < swept


def test_a_fresh_run_and_its_checks() -> None:
    s = table.fresh_settings({})
    assert s["arch"] == [784, 64, 10] and s["lr"] == 0.5 and s["momentum"] == 0.9
    assert (s["epochs"], s["batch_size"], s["init"], s["init_std"]) == (20, 256, "normal", 0.1)
    cnn = table.fresh_settings({"model": "cnn", "optimizer": "adam", "digit": 3})
    assert (cnn["arch"], cnn["init"], cnn["lr"], cnn["momentum"]) == (None, None, 0.002, None)
    assert table.fresh_settings({"digit": 3, "arch": "784,16,1"})["arch"] == [784, 16, 1]
    assert table.fresh_settings({"init": "kaiming"})["init"] == "he"
    for given, words in [
        ({"model": "cnn", "arch": "784,10", "init": "he"}, "--arch, --init are for --model mlp"),
        ({"optimizer": "adam", "momentum": 0.5}, "--momentum goes with --optimizer momentum or"),
        ({"init": "he", "init_std": 0.5}, "--init-std goes with --init normal, not he"),
    ]:
        with pytest.raises(CLIError, match=words):
            table.fresh_settings(given)


def test_resume_keeps_every_setting_but_epochs_and_the_data_folder() -> None:
    run = table.fresh_settings({"lr_decay": 0.5})
    table.check_resumed(run, {"epochs": 40, "data_dir": "/elsewhere", "lr_decay": 0.5})
    for given, words in [
        ({"lr_decay": 0.7}, "--lr-decay 0.7 conflicts with the run's 0.5"),
        ({"augment": True}, "--augment True conflicts with the run's False"),
        ({"arch": "784,32,10"}, "--arch 784-32-10 conflicts with the run's 784-64-10"),
    ]:
        with pytest.raises(CLIError, match=words):
            table.check_resumed(run, given)


def test_settings_read_back_are_checked_and_old_runs_get_what_they_did() -> None:
    old = {k: v for k, v in table.fresh_settings({}).items() if k not in ("dropout", "augment")}
    filled = table.with_old_run_defaults(old)
    assert filled["dropout"] == 0.0 and filled["augment"] is False
    table.check_settings(filled, "run")
    with pytest.raises(CLIError, match=r'run has lr "abc", expected a number > 0 \(was it'):
        table.check_settings({**filled, "lr": "abc"}, "run")
    with pytest.raises(CLIError, match="run has batch_size nothing, expected a positive integer"):
        table.check_settings({k: v for k, v in filled.items() if k != "batch_size"}, "run")
    entries = table.config_entries(filled)
    assert entries["optimizer_name"] == "momentum" and "optimizer" not in entries
    assert table.settings_from_config({**entries, "optimizer": "SGD(...)"}) == filled


def test_adding_a_flag_is_one_row(
    monkeypatch: pytest.MonkeyPatch, fake_data: list, tmp_path: Path, capsys: Any
) -> None:
    """A new row: train and sweep take the option, a fresh run gets its default, a resumed run
    must keep it, an older run gets its old value, and the summary text shows it."""
    row = table.Setting(
        "label_smoothing",
        "mix each one-hot target with the uniform one",
        0.0,
        table.number(0, 1, high_open=True, metavar="E"),
        old_runs=0.0,
        sweep=True,
        shown=lambda v: f", label smoothing {v:g}" if v else "",
    )
    monkeypatch.setattr(table, "SETTINGS", (*table.SETTINGS, row))
    monkeypatch.setattr(table, "BY_KEY", {**table.BY_KEY, row.key: row})
    assert "--label-smoothing" in options_of("train") & options_of("sweep")
    args = cli.build_parser().parse_args(["train", "--label-smoothing", "0.1"])
    settings = table.fresh_settings(table.given_settings(args))
    assert settings["label_smoothing"] == 0.1 and table.fresh_settings({})["label_smoothing"] == 0
    assert "label smoothing 0.1" in table.training_text(settings)
    assert "--label-smoothing 0.1" in table.command_line(settings)
    with pytest.raises(CLIError, match=r"--label-smoothing 0\.2 conflicts with the run's 0\.1"):
        table.check_resumed(settings, {"label_smoothing": 0.2})
    assert table.with_old_run_defaults({})["label_smoothing"] == 0.0
    with pytest.raises(CLIError, match=r"label_smoothing 2, expected a number in \[0, 1\)"):
        table.check_settings({**settings, "label_smoothing": 2}, "run")
    assert cli.main(["train", "--label-smoothing", "2"]) == 2
    assert (
        "argument --label-smoothing: expected a number in [0, 1), got 2" in capsys.readouterr().err
    )


# ----------------------------------------------------------------------------- sweep's base
def test_sweep_takes_trains_base_settings(fake_data: list, capsys: Any) -> None:
    """Before: `sweep --table hidden --lr 2` was refused (unrecognized arguments: --lr)."""
    assert cli.main(["sweep", "--table", "hidden", "--lr", "2", "--quick", "--epochs", "1"]) == 0
    rows = markdown_rows(capsys.readouterr().out)
    assert [(r["hidden units"], r["learning rate"]) for r in rows] == [
        ("50", "2"), ("20", "2"), ("5", "2"),
    ]  # fmt: skip
    argv = ["sweep", "--table", "lr", "--quick", "--epochs", "1", "--optimizer", "momentum"]
    argv += ["--momentum", "0.8", "--weight-decay", "0.001", "--lr-decay", "0.5"]
    argv += ["--dropout", "0.2", "--augment", "--init", "he", "--batch-size", "50"]
    assert cli.main([*argv, "--train-size", "300", "--test-size", "80"]) == 0
    out = capsys.readouterr().out
    rows = markdown_rows(out)
    assert {(r["optimiser"], r["batch size"]) for r in rows} == {("momentum 0.8", "50")}
    assert [r["learning rate"] for r in rows] == ["0.005", "0.05", "0.5", "2"]  # the table's own
    for words in ("lr x0.5/epoch", "weight decay 0.001", "he init", "dropout 0.2", "augmented"):
        assert words in out
    assert "(300 images)" in out and "(80 images)" in out


def test_sweeps_base_is_checked_as_trains_settings(fake_data: list, capsys: Any) -> None:
    for argv, words in [
        (["--table", "lr", "--momentum", "0.5"], "--momentum goes with --optimizer momentum"),
        (["--init", "xavier", "--init-std", "0.01"], "--init-std goes with --init normal"),
        (["--lr", "0"], "argument --lr: expected a number > 0, got 0"),
    ]:
        assert cli.main(["sweep", "--quick", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tinygrad-edu sweep: error: ") and words in err
    assert cli.main(["sweep", "--table", "optimizer", "--quick", "--epochs", "1", "--momentum",
                     "0.5"]) == 0  # fmt: skip
    assert "momentum 0.5" in capsys.readouterr().out  # the table's momentum row


def subcommand_argvs(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    """Each (sub)command's argv with a dummy value for each positional argument."""
    commands = getattr(parser, "commands", None)
    if commands is None:
        positionals = [a for a in parser._actions if not a.option_strings and a.nargs != 0]
        return [[*prefix, *(["x"] * len(positionals))]]
    subs = {id(p): (name, p) for name, p in commands[1].items()}.values()  # aliases: once
    return [argv for name, p in subs for argv in subcommand_argvs(p, [*prefix, name])]


def test_an_unknown_argument_points_at_its_commands_help(capsys: Any) -> None:
    """Before: `tinygrad-edu sweep --lr 2` said `see tinygrad-edu --help`."""
    argvs = subcommand_argvs(cli.build_parser(), [])
    assert ["sweep"] in argvs and ["exercise", "check", "x"] in argvs
    for argv in argvs:
        assert cli.main([*argv, "--no-such-option"]) == 2
        err = capsys.readouterr().err
        command = " ".join(a for a in argv if a != "x")
        assert err == (
            f"tinygrad-edu {command}: error: unrecognized arguments: --no-such-option "
            f"(see tinygrad-edu {command} --help)\n"
        ), argv


# ----------------------------------------------------------------------------- the text
HANDOUT_CNN = ["--model", "cnn", "--lr-decay", "0.7", "--augment", "--batch-size", "32"]


def test_summary_reports_every_setting_that_changes_the_result(tmp_path: Path, capsys: Any) -> None:
    """Before: `summary` said `momentum lr 0.05, batch 32, 1 epoch` for the 99 % CNN's recipe,
    without its learning-rate decay or its augmentation."""
    tiny = ["--dataset", "mnist-sample", "--train-size", "64", "--test-size", "32"]
    argv = ["train", *tiny, *HANDOUT_CNN, "--epochs", "1", "--seed", "2", "--dropout", "0.25"]
    argv += ["--weight-decay", "0.0005", "--momentum", "0.8", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    announced = capsys.readouterr().out.splitlines()[0]
    assert cli.main(["summary", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    trained = next(line for line in lines if line.startswith("Trained on: "))
    for words in (
        "mnist-sample, first 64 training images, first 32 test images",
        "cnn 32-64-128-10 relu, dropout 0.25",
        "momentum lr 0.05 (momentum 0.8) x0.7/epoch, weight decay 0.0005, batch 32, 1 epoch, "
        "seed 2, augmented",
    ):
        assert words in trained and (words in announced or words.startswith("mnist"))
    again = lines[-1].removeprefix("Again: ")
    assert again.startswith("tinygrad-edu train ") and "--lr " not in again  # 0.05: the default
    args = cli.build_parser().parse_args(shlex.split(again)[1:])
    saved = read_metadata(tmp_path / "model.npz")["config"]
    assert table.fresh_settings(table.given_settings(args)) == table.settings_from_config(saved)


def test_the_curves_title_reports_every_setting_that_changes_the_result() -> None:
    settings = table.fresh_settings(
        {"model": "cnn", "lr_decay": 0.7, "augment": True, "weight_decay": 1e-4, "epochs": 15}
    )
    history = History(epoch_end_iterations=[10] * 15)
    title = run_title(history, {**settings, "dataset": "mnist"})
    first, second = title.split("\n")
    assert first == "cnn 32-64-128-10 relu on mnist: 15/15 epochs"
    assert second == (
        "momentum lr 0.05 (momentum 0.9) x0.7/epoch, weight decay 0.0001, batch 256, seed 0, "
        "augmented"
    )


def test_sweeps_base_is_a_run_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every base setting sweep takes is a RunConfig field (the data, seed and epochs aside)."""
    from tinygrad_edu.course.runs import RunConfig

    fields = {f.name for f in dataclasses.fields(RunConfig)}
    outside = {"dataset", "data_dir", "train_size", "test_size", "seed", "epochs"}
    assert {row.key for row in table.SETTINGS if row.sweep} - outside <= fields
