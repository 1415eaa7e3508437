"""The command line: train and eval, and one-line errors with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toy_digits import patch_load_dataset

from tinygrad_edu import cli
from tinygrad_edu.training import History, load, read_metadata

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """load_dataset replaced by toy digits (300 train, 100 test); records the calls."""
    return patch_load_dataset(monkeypatch, 300, 100)


def test_train_then_eval(fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "fashion-mnist",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--out",
        str(out),
        "--seed",
        "3",
        "--offline",
    ]
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0].startswith(
        "training 784-64-10 sigmoid on blobs (300 train, 100 test), "
        "momentum lr 0.5 (momentum 0.9), batch 50, 2 epochs, seed 3, init normal (std 0.1)"
    )
    assert stdout[1].startswith("epoch 1/2  train loss") and stdout[2].startswith("epoch 2/2")
    assert stdout[3].startswith("final test accuracy: ")
    assert fake_data == [("fashion-mnist", None, False)]
    model = load(out / "model.npz")
    assert model.sizes == [784, 64, 10] and model.activation == "sigmoid"
    meta = read_metadata(out / "model.npz")
    assert meta["dataset"] == "fashion-mnist" and meta["config"]["lr"] == 0.5
    history = History.load(out / "history.json")
    assert len(history.iterations) == 12 and history.epoch_end_iterations == [6, 12]
    accuracy = float(stdout[3].split()[3].rstrip("%"))
    assert accuracy == pytest.approx(100 * history.final_test_acc, abs=0.01)

    assert cli.main(["eval", str(out / "model.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert fake_data[-1][0] == "fashion-mnist"  # the dataset the model was trained on
    assert lines[0].endswith(f"accuracy {accuracy:.2f}%")
    assert lines[1].split()[:4] == ["true", "\\", "predicted", "0"]
    rows = [line.split() for line in lines[2:12]]
    counts = np.array([[int(v) for v in r[1:11]] for r in rows])
    assert counts.sum() == 100 and len(lines) == 12


def test_train_options(fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [
        "train",
        "--arch",
        "784,16,16,10",
        "--activation",
        "relu",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--epochs",
        "1",
        "--init",
        "he",
        "--eval-every",
        "2",
        "--batch-size",
        "50",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(argv) == 0
    assert "adam lr 0.01" in capsys.readouterr().out
    assert load(tmp_path / "model.npz").sizes == [784, 16, 16, 10]
    assert History.load(tmp_path / "history.json").test_iterations == [0, 2, 4, 6]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["train", "--arch", "785,64,10"], "--arch must start at 784"),
        (["train", "--arch", "784,64,9"], "--arch must end at 10"),
        (["train", "--arch", "784,x,10"], "--arch: expected comma-separated layer widths"),
        (["train", "--arch", "784"], "need at least two positive widths"),
        (["train", "--lr", "-0.1"], "argument --lr: expected a number > 0, got -0.1"),
        (["train", "--lr", "fast"], "argument --lr: expected a number"),
        (["train", "--batch-size", "0"], "expected a positive integer, got 0"),
        (["train", "--epochs", "two"], "expected a positive integer, got 'two'"),
        (["train", "--activation", "gelu"], "invalid choice: 'gelu'"),
        (["train", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "--data-dir", "/no/such/dir"], "--data-dir /no/such/dir does not exist"),
        (["train", "--dataset", "png"], "png: data_dir is required"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["eval"], "the following arguments are required: model"),
        (["eval", "/no/such/model.npz"], "no model file at /no/such/model.npz"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_errors_are_one_line_with_status_2(
    argv: list[str], message: str, fake_data: list, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tinygrad-edu") and ": error: " in err
    assert message in err


def test_eval_of_a_corrupt_or_mismatched_model(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 100)
    assert cli.main(["eval", str(junk)]) == 2
    assert "is not a model file" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path)]) == 2
    assert "is a folder without model.npz" in capsys.readouterr().err
    from tinygrad_edu import nn
    from tinygrad_edu.training import save

    save(nn.MLP([784, 5], seed=0), tmp_path / "five.npz")
    assert cli.main(["eval", str(tmp_path / "five.npz"), "--dataset", "mnist"]) == 2
    assert "the model has 5 outputs but blobs has 10 classes" in capsys.readouterr().err


def test_commands_are_registered_from_a_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def add_hello_command(subparsers) -> None:
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}") or 0)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, add_hello_command])
    assert cli.main(["hello", "--name", "you"]) == 0
    assert capsys.readouterr().out == "hello you\n"
    assert cli.main([]) == 2  # no command: the help, on stderr
    assert "hello" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0


def test_real_mnist_sample_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The default network on the bundled sample, 3 epochs: well above chance."""
    assert (
        cli.main(["train", "--dataset", "mnist-sample", "--epochs", "3", "--out", str(tmp_path)])
        == 0
    )
    final = capsys.readouterr().out.splitlines()[-2]
    assert final.startswith("final test accuracy: ")
    assert float(final.split()[3].rstrip("%")) > 80


def test_train_with_no_dataset_falls_back_to_the_sample_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """No --dataset and MNIST not at hand (offline, nothing cached): the bundled sample, with
    one line saying so."""
    argv = ["train", "--offline", "--epochs", "1", "--train-size", "500", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "using the bundled mnist-sample instead" in err
    assert "on mnist-sample/train" in out
    assert read_metadata(tmp_path / "model.npz")["dataset"] == "mnist-sample"  # eval reads it


@pytest.mark.parametrize("offline", [True, False])
def test_train_dataset_mnist_that_cannot_be_had_fails_with_the_remedy(
    tmp_path: Path, capsys: pytest.CaptureFixture, offline: bool
) -> None:
    """An explicit --dataset mnist never trains on the sample: status 2, one line, the remedy."""
    argv = ["train", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert cli.main([*argv, "--offline"] if offline else argv) == 2
    _out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("tinygrad-edu train: error: mnist: ")
    assert "--data-dir DIR" in err and "mnist-sample" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def run_module(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def test_python_dash_m_entry_point() -> None:
    done = run_module("train", "--help")
    assert done.returncode == 0 and "--arch" in done.stdout and "--optimizer" in done.stdout
    done = run_module("train", "--dataset", "mnist-sample", "--arch", "784,64")
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr == "tinygrad-edu train: error: --arch must end at 10 (one logit per "
        "class), got '784,64'\n"
    )


def test_unusable_out_folder_fails_before_training(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["train", "--out", str(blocker)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert cli.main(["train", "--out", str(blocker / "sub")]) == 2
    captured = capsys.readouterr()
    assert "cannot create the folder" in captured.err and "epoch" not in captured.out


def test_a_diverging_run_stops_saves_and_says_why(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A loss that becomes NaN stops training at once (StopOnNonFinite): the history so far is
    saved but no model.npz (its weights are NaN), no figures are drawn, and the reason is one
    line with status 1 (the run itself failed)."""
    run, plots = tmp_path / "run", tmp_path / "plots"
    argv = ["train", "--activation", "relu", "--optimizer", "sgd", "--lr", "1e30"]
    argv += ["--epochs", "3", "--batch-size", "50", "--out", str(run), "--plots", str(plots)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("tinygrad-edu train: error: ")
    assert "training diverged; try a smaller learning rate" in captured.err
    assert "no epoch finished before, so there is no checkpoint" in captured.err
    assert "(no figures drawn)" in captured.err and not plots.exists()
    assert f"saved {run / 'history.json'}" in captured.out and not (run / "model.npz").exists()
    assert not (run / "checkpoint.npz").exists()
    history = History.load(run / "history.json")
    assert history.epochs == 1 and not np.isfinite(history.train_loss[-1])
    assert len(history.train_loss) < 6  # stopped within the first epoch's 6 updates


def test_a_run_diverging_later_keeps_its_last_good_checkpoint(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the epoch that diverged was checkpointed, NaN weights and all, and the command
    exited 2 as for a user's error."""
    from tinygrad_edu.cli import train as train_command
    from tinygrad_edu.training import StopOnNonFinite, load_checkpoint, read_metrics

    class ExplodeAt8(StopOnNonFinite):
        def on_batch_end(self, state) -> None:
            if state.iteration == 8:  # the 3rd update of epoch 2: weights infinite
                for p in state.model.parameters():
                    p.data[...] = np.inf
            super().on_batch_end(state)

    monkeypatch.setattr(train_command, "StopOnNonFinite", ExplodeAt8)
    run = tmp_path / "run"
    argv = ["train", "--epochs", "3", "--batch-size", "50", "--out", str(run)]
    with np.errstate(invalid="ignore", over="ignore"):
        assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "loss is nan at update 9 (epoch 2)" in err
    assert f"the checkpoint of epoch 1 is kept in {run / 'checkpoint.npz'}" in err
    ckpt = load_checkpoint(run)
    assert ckpt.epoch == 1 and all(np.isfinite(v).all() for v in ckpt.model_state.values())
    assert read_metrics(run)[-1]["event"] == "stop" and not (run / "model.npz").exists()
    monkeypatch.setattr(train_command, "StopOnNonFinite", StopOnNonFinite)
    assert cli.main(["train", "--resume", str(run)]) == 0  # and it resumes from there
    assert load_checkpoint(run).epoch == 3


def test_names_come_from_the_library() -> None:
    """The commands offer the library's datasets, optimisers, activations and inits."""
    from tinygrad_edu import nn, optim
    from tinygrad_edu.cli.network import MODEL_LR
    from tinygrad_edu.data import DATASETS
    from tinygrad_edu.nn.init import INITS

    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    choices = {
        (name, a.dest): list(a.choices)
        for name, p in commands.items()
        for a in p._actions
        if a.choices is not None
    }
    for name in ("train", "eval", "plot", "sweep"):
        assert choices[name, "dataset"] == list(DATASETS)
    assert choices["train", "optimizer"] == list(optim.OPTIMIZERS) == list(MODEL_LR["mlp"])
    assert choices["train", "activation"] == list(nn.ACTIVATIONS)
    assert choices["train", "init"] == list(INITS)


def test_the_folders_a_run_writes_by_default_are_ignored_by_git() -> None:
    """train's runs/<date-time>, the logs/ of --tensorboard in the docs, the sweep tables'
    tables/ (before: only runs/ was in .gitignore)."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["runs/20250101-120000/model.npz", "logs/mlp/events.out", "tables/hidden.md"]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True
    )
    assert result.stdout.split() == paths
