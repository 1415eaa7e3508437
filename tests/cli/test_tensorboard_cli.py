"""``train --tensorboard DIR`` and ``sweep --tensorboard DIR``: one TensorBoard run per run (per
sweep row), resumed runs going on in theirs, and one line with exit status 2 without the extra."""

from __future__ import annotations

import errno
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from toy_digits import patch_load_dataset

from tinygrad_edu import cli
from tinygrad_edu.training import History, load_checkpoint
from tinygrad_edu.training.tensorboard import OWNER_FILE

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
    assert len(list((logs / "first").glob("events.out.tfevents.*"))) == 1
    assert sorted(p.name for p in (logs / "first").iterdir())[0] == OWNER_FILE  # and its owner


def test_two_runs_with_one_name_get_folders_of_their_own(
    fake_data: list, reader: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: --out alice/exp and --out bob/exp both wrote B/exp, and bob's run deleted
    alice's events. Now bob's go to B/exp-2; each resumed run goes on in its own folder, and
    --overwrite of a run keeps to that run's folder."""
    logs, alice, bob = tmp_path / "B", tmp_path / "alice" / "exp", tmp_path / "bob" / "exp"

    def train(run: Path, *more: str) -> int:
        return cli.main([*TRAIN_ARGS, "--out", str(run), "--tensorboard", str(logs), *more])

    assert train(alice, "--epochs", "1") == 0
    alices = {p.name: p.read_bytes() for p in (logs / "exp").iterdir()}
    assert train(bob, "--epochs", "1") == 0
    assert sorted(p.name for p in logs.iterdir()) == ["exp", "exp-2"]
    assert {p.name: p.read_bytes() for p in (logs / "exp").iterdir()} == alices
    assert cli.main(["train", "--resume", str(alice), "--epochs", "2"]) == 0
    assert cli.main(["train", "--resume", str(bob), "--epochs", "2"]) == 0
    for folder, run in ((logs / "exp", alice), (logs / "exp-2", bob)):
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1
        ends = History.load(run / "history.json").epoch_end_iterations
        assert steps(reader(folder), "epoch") == ends == [24, 48]
    assert train(bob, "--epochs", "1", "--overwrite") == 0
    assert sorted(p.name for p in logs.iterdir()) == ["exp", "exp-2"]
    assert steps(reader(logs / "exp-2"), "epoch") == [24]
    assert steps(reader(logs / "exp"), "epoch") == [24, 48]
    capsys.readouterr()


def test_a_damaged_event_record_on_resume_is_one_line(
    fake_data: list, reader: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: `train --resume` ended in a DecodeError traceback. Now the event file is cut
    before the damaged record, a warning line says so, and the run goes on."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    run, logs = tmp_path / "run", tmp_path / "logs"
    argv = [*TRAIN_ARGS, "--epochs", "1", "--out", str(run), "--tensorboard", str(logs)]
    assert cli.main(argv) == 0
    (path,) = (logs / "run").glob("events.out.tfevents.*")
    blob = bytearray(path.read_bytes())
    start, end = list(record_spans(bytes(blob)))[5]
    blob[start + 12 : end - 4] = b"\xff" * (end - start - 16)  # data that does not decode
    blob[end - 4 : end] = struct.pack("<I", masked_crc32c(bytes(blob[start + 12 : end - 4])))
    path.write_bytes(bytes(blob))
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert capsys.readouterr().err == (
        f"tinygrad-edu train: warning: {path}: a damaged event record at byte {start}; the "
        "events from there on are dropped\n"
    )
    assert steps(reader(logs / "run"), "epoch") == [48]  # epoch 1's mark came after the damage


def record_spans(blob: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each record of an event file (uint64 length, CRC, data, CRC)."""
    at = 0
    while at + 12 <= len(blob):
        end = at + 12 + struct.unpack_from("<Q", blob, at)[0] + 4
        yield at, end
        at = end


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot create folders in (as root: /sys, where even root cannot)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    elif Path("/sys/kernel").is_dir():
        yield Path("/sys")
    else:
        pytest.skip("no folder that root cannot write in")


@pytest.mark.parametrize("kind", ["file", "inside-a-file", "unwritable"])
def test_an_unusable_log_folder_is_refused_before_anything_is_created(
    kind: str, fake_data: list, unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: found only once the run folder existed (the data loaded, training started)."""
    file = tmp_path / "B"
    file.write_text("")
    board, expected = {
        "file": (file, f"{file} is a file, not a folder"),
        "inside-a-file": (file / "logs", f"{file} is a file, not a folder"),
        "unwritable": (unwritable / "logs", f"cannot create a folder in {unwritable} ("),
    }[kind]
    out = tmp_path / "run"
    assert cli.main([*TRAIN_ARGS, "--out", str(out), "--tensorboard", str(board)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"tinygrad-edu train: error: argument --tensorboard: {board}: ")
    assert expected in err
    assert not out.exists() and fake_data == [] and not (unwritable / "logs").exists()


def test_a_resumed_runs_log_folder_now_a_file_is_refused_before_training(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run, logs = tmp_path / "run", tmp_path / "logs"
    argv = [*TRAIN_ARGS, "--epochs", "1", "--out", str(run), "--tensorboard", str(logs)]
    assert cli.main(argv) == 0
    for path in sorted(logs.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    logs.rmdir()
    logs.write_text("")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    calls = len(fake_data)
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    assert capsys.readouterr().err == (
        f"tinygrad-edu train: error: --resume {run}: its --tensorboard {logs}: {logs} is a "
        "file, not a folder\n"
    )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert len(fake_data) == calls  # no data loaded


def test_a_full_disk_while_writing_events_names_the_file_and_keeps_the_model(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: an OSError ("[Errno 28] No space left on device", no file named), exit 2, and no
    model.npz. The full disk is simulated: the event writer raises ENOSPC from step 30 on."""
    from tinygrad_edu.training.tensorboard import EventFile

    real_write = EventFile.write

    def write(self: EventFile, event: Any) -> None:
        if event.step >= 30:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, event)

    monkeypatch.setattr(EventFile, "write", write)
    run, logs = tmp_path / "run", tmp_path / "logs"
    argv = [*TRAIN_ARGS, "--epochs", "2", "--out", str(run), "--tensorboard", str(logs)]
    capsys.readouterr()
    assert cli.main(argv) == 0
    (path,) = (logs / "run").glob("events.out.tfevents.*")
    assert capsys.readouterr().err == (
        f"tinygrad-edu train: warning: cannot write the TensorBoard events {path} (No space "
        "left on device): they stop at update 31; training goes on\n"
    )
    assert (run / "model.npz").exists() and load_checkpoint(run).epoch == 2


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


def test_a_sweep_whose_events_cannot_be_written_goes_on(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the first row's OSError ended the sweep. Now a warning line per row."""
    from tinygrad_edu.training.tensorboard import EventFile

    def full(self: EventFile, event: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(EventFile, "write", full)
    argv = ["sweep", "--table", "lr", "--quick", "--epochs", "1", "--tensorboard", str(tmp_path)]
    assert cli.main(argv) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 4 and all(
        line.startswith("tinygrad-edu sweep: warning: cannot write the TensorBoard events ")
        for line in warnings
    )


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
