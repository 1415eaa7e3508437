"""``eval``: the data recorded in the model file (dataset and folder), the refusal of test images
the model was trained on, and ``--first K`` with its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from toy_digits import blobs

from tinygrad_edu import cli
from tinygrad_edu.data import Dataset, write_idx


def idx_folder(folder: Path, train: Dataset, test: Dataset) -> Path:
    """``folder`` holding ``train`` and ``test`` as MNIST's four IDX files."""
    folder.mkdir(parents=True)
    for prefix, split in (("train", train), ("t10k", test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", split.images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", split.labels.astype("uint8"))
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Dataset]:
    """A model trained on an IDX folder of toy digits (300 train, 100 test; trained on the
    first 200 of its training images): (model file, data folder, training images)."""
    root = tmp_path_factory.mktemp("eval")
    train = blobs(300)
    folder = idx_folder(root / "data", train, blobs(100, seed=1))
    argv = ["train", "--data-dir", str(folder), "--train-size", "200", "--epochs", "2"]
    assert cli.main([*argv, "--batch-size", "50", "--out", str(root / "run")]) == 0
    return root / "run" / "model.npz", folder, train


def test_eval_uses_the_recorded_data_folder(
    trained: tuple[Path, Path, Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    model, folder, _ = trained
    capsys.readouterr()
    assert cli.main(["eval", str(model)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{model} on mnist/test from {folder} (100 test images): loss ")


def test_a_run_folder_stands_for_its_model(
    trained: tuple[Path, Path, Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    """``eval RUN`` and ``summary RUN`` read RUN/model.npz, as ``plot RUN`` reads the run."""
    model, _, _ = trained
    for command, first in (("eval", f"{model} on mnist/test"), ("summary", f"{model}:")):
        capsys.readouterr()
        assert cli.main([command, str(model.parent)]) == 0
        assert capsys.readouterr().out.startswith(first)
    capsys.readouterr()


@pytest.mark.parametrize("command", ["eval", "summary", "predict"])
def test_a_folder_without_a_model_is_refused_saying_why(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that has not finished (a checkpoint, no model yet) is told to resume; any other
    folder is not a model. One line, exit status 2."""
    extra = [str(tmp_path / "digit.png")] if command == "predict" else []
    for checkpoint, says in ((True, "train --resume"), (False, "is a folder without model.npz")):
        folder = tmp_path / f"run-{checkpoint}"
        folder.mkdir()
        if checkpoint:
            (folder / "checkpoint.npz").write_bytes(b"")
        assert cli.main([command, str(folder), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"tinygrad-edu {command}: error: ") and err.count("\n") == 1
        assert says in err and str(folder) in err


def test_eval_refuses_test_images_it_was_trained_on(
    trained: tuple[Path, Path, Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test split of 30 images the model was trained on and 20 past its --train-size 200 is
    refused; with --allow-overlap it is evaluated, with a warning and the accuracy on the 20."""
    model, _, train = trained
    seen, unseen = train.subset(range(170, 200)), train.subset(range(200, 220))
    mixed = Dataset(
        np.concatenate([seen.images, unseen.images]),
        np.concatenate([seen.labels, unseen.labels]),
        "mixed",
    )
    other = idx_folder(tmp_path / "other", blobs(50, seed=7), mixed)
    capsys.readouterr()
    assert cli.main(["eval", str(model), "--data-dir", str(other)]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "30 of the 50 test images of mnist/test are among the 200" in err
    )
    assert "--allow-overlap" in err
    assert cli.main(["eval", str(model), "--data-dir", str(other), "--allow-overlap"]) == 0
    captured = capsys.readouterr()
    assert "WARNING: 30 of the 50 test images" in captured.out and "WARNING" in captured.err
    assert "on the 20 images it was not trained on: " in captured.out


def test_eval_first_k_and_figure(
    trained: tuple[Path, Path, Dataset],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    drawn: dict[Path, Any],
) -> None:
    """The figure titles each image with the probability the terminal prints, to the digit."""
    model, _, _ = trained
    figure = tmp_path / "first.png"
    capsys.readouterr()
    assert cli.main(["eval", str(model), "--first", "3", "--figure", str(figure)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("first 3 test images:")
    rows = lines[start + 2 : start + 5]
    test = blobs(100, seed=1)
    titles = drawn[figure].text
    for i, row in enumerate(rows):
        index, true, predicted, probability = row.split()[:4]
        assert int(index) == i and true == str(test.labels[i]) and predicted in test.classes
        assert 0 < float(probability.rstrip("%")) <= 100
        assert f"true {true}\npred {predicted} {probability}" in titles
    assert lines[start + 5] == f"saved {figure}" and figure.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--first", "0"], "argument --first: expected a positive integer, got 0"),
        (["--figure", "f.png"], "--figure saves the images of --first K: give --first too"),
    ],
)
def test_eval_bad_options(
    trained: tuple[Path, Path, Dataset],
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    assert cli.main(["eval", str(trained[0]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_eval_when_the_recorded_folder_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = idx_folder(tmp_path / "data", blobs(100), blobs(40, seed=1))
    run = tmp_path / "run"
    assert cli.main(["train", "--data-dir", str(folder), "--epochs", "1", "--out", str(run)]) == 0
    folder.rename(tmp_path / "moved")
    capsys.readouterr()
    assert cli.main(["eval", str(run / "model.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "which is no longer a folder: give its new place" in err
    assert cli.main(["eval", str(run / "model.npz"), "--data-dir", str(tmp_path / "moved")]) == 0


def test_eval_never_stands_the_sample_in_for_mnist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model trained on MNIST, evaluated offline without MNIST at hand: one line with the
    remedy and status 2 (before, it quietly evaluated on the offline sample instead)."""
    from tinygrad_edu import nn
    from tinygrad_edu.training import save

    path = save(nn.MLP([784, 10], seed=0), tmp_path / "m.npz", metadata={"dataset": "mnist"})
    assert cli.main(["eval", str(path), "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tinygrad-edu eval: error: mnist: ")
    assert "--data-dir DIR" in err and "mnist-sample" in err
    assert cli.main(["eval", str(path), "--dataset", "mnist-sample"]) == 0  # test digits only
    out = capsys.readouterr().out
    assert "on mnist-sample/test (3000 test images)" in out and "WARNING" not in out
