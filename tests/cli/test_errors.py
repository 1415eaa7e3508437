"""One error convention: commands raise, ``main`` alone reports (one line, status 2), --debug
shows the traceback, Ctrl-C is status 130."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from tinygrad_edu import cli
from tinygrad_edu.cli.errors import USER_ERRORS, CLIError
from tinygrad_edu.course.preprocess import ImageError
from tinygrad_edu.data import DatasetError, DownloadError
from tinygrad_edu.training import CheckpointError, MetricsLogError, ModelFileError


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> Callable[[BaseException], None]:
    """Registers a command ``boom`` whose handler raises the error given."""
    raised: list[BaseException] = []

    def add_boom_command(subparsers: argparse._SubParsersAction) -> None:
        p = subparsers.add_parser("boom")

        def handler(args: argparse.Namespace) -> int:
            raise raised[-1]

        p.set_defaults(func=handler)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, add_boom_command])
    return raised.append


LIBRARY_ERRORS = [
    CLIError("--lr   conflicts\nwith the run's"),
    DatasetError("png: data_dir is required"),
    DownloadError("all 3 mirrors failed"),
    ModelFileError("load: m.npz is not a model file"),
    CheckpointError("not a readable checkpoint"),
    MetricsLogError("metrics.jsonl: line 2 is not valid JSON"),
    ImageError("blank.png: no digit found"),
    FileNotFoundError(2, "No such file or directory", "missing.npz"),
    PermissionError("cannot write runs/a"),
]


@pytest.mark.parametrize("error", LIBRARY_ERRORS, ids=lambda e: type(e).__name__)
def test_a_users_error_is_one_line_with_status_2(
    error: Exception, boom: Callable, capsys: pytest.CaptureFixture
) -> None:
    assert isinstance(error, USER_ERRORS)
    boom(error)
    assert cli.main(["boom"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("tinygrad-edu boom: error: ") and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1
    message = captured.err.removeprefix("tinygrad-edu boom: error: ").strip()
    if isinstance(error, OSError):
        assert message in ("No such file or directory: missing.npz", "cannot write runs/a")
    else:
        assert message == " ".join(str(error).split())


def test_several_messages_are_one_line_each(boom: Callable, capsys: pytest.CaptureFixture) -> None:
    boom(CLIError("a.png: no digit found", "b.jpg: not an image"))
    assert cli.main(["boom"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "tinygrad-edu boom: error: a.png: no digit found",
        "tinygrad-edu boom: error: b.jpg: not an image",
    ]


@pytest.mark.parametrize("argv", [["--debug", "boom"], ["boom", "--debug"]])
def test_debug_shows_the_traceback(
    argv: list[str], boom: Callable, capsys: pytest.CaptureFixture
) -> None:
    boom(DatasetError("png: data_dir is required"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in handler" in err and "raise raised[-1]" in err
    assert err.splitlines()[-1].endswith("DatasetError: png: data_dir is required")
    assert "error: png" not in err


def test_debug_on_a_real_command(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["eval", "/no/such/model.npz"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["eval", "/no/such/model.npz", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "run_eval" in err and "no model file at" in err


def test_ctrl_c_is_status_130(boom: Callable, capsys: pytest.CaptureFixture) -> None:
    boom(KeyboardInterrupt())
    assert cli.main(["boom"]) == 130
    assert capsys.readouterr().err == "tinygrad-edu boom: interrupted\n"


def test_a_bug_is_not_hidden(boom: Callable) -> None:
    """Only a user's errors become one line: anything else is a bug and keeps its traceback."""
    boom(ZeroDivisionError("division by zero"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])


def test_argparse_errors_are_one_line_too(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--debug", "train", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "tinygrad-edu train: error: argument --epochs: expected a positive integer, got 0 "
        "(see tinygrad-edu train --help)\n"
    )
