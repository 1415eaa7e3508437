"""``train``'s handout settings on the offline sample: ``--model cnn`` (smoke test through
train, resume, eval, predict, summary and plots), ``--init-std``, ``--dropout``, ``--digit``,
``--optimizer nesterov``/``--momentum``, ``--lr-decay``, ``--weight-decay``, ``--augment``, and
their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

from tinygrad_edu import cli, nn
from tinygrad_edu.data import load_dataset
from tinygrad_edu.training import History, load, load_checkpoint, read_metadata

#: A tiny slice of the offline sample: every run here takes well under a second.
TINY_SAMPLE = ["--dataset", "mnist-sample", "--train-size", "200", "--test-size", "100"]


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a failed command wrote on stderr."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_cnn_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--model cnn: 64 images, one epoch with its figures, then resumed for a second; its model
    goes through eval, predict and summary."""
    run = tmp_path / "cnn"
    tiny = ["--dataset", "mnist-sample", "--train-size", "64", "--test-size", "32"]
    argv = ["train", *tiny, "--model", "cnn", "--epochs", "1", "--batch-size", "32"]
    assert cli.main([*argv, "--out", str(run), "--plots", str(run / "plots")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("training cnn 32-64-128-10 relu on mnist-sample/train (64 train")
    assert "momentum lr 0.05" in out and (run / "plots" / "curves.png").exists()
    assert (run / "plots" / "weights.png").exists()  # the first convolution's filters
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert History.load(run / "history.json").epochs == 2
    model = load(run / "model.npz")
    assert isinstance(model[0], nn.Conv2d) and model.num_parameters() == 184_586
    assert read_metadata(run / "model.npz")["config"]["model"] == "cnn"
    capsys.readouterr()
    assert cli.main(["eval", str(run / "model.npz"), "--first", "2"]) == 0
    out = capsys.readouterr().out
    assert "on mnist-sample/test (3000 test images)" in out and "first 2 test images" in out
    digit = tmp_path / "digit.png"
    Image.fromarray(load_dataset("mnist-sample")[1].images[0]).save(digit)
    assert cli.main(["predict", str(run / "model.npz"), str(digit), "--top", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{digit}: ")
    assert cli.main(["summary", str(run / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "Conv2d" in out and "stride 1x1, padding 0x0" in out and "184,586" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "cnn", "--arch", "784,10"], "--model cnn has its own layers"),
        (["--model", "cnn", "--init-std", "0.01"], "--init-std is for --model mlp"),
        (["--digit", "12"], "argument --digit: expected an integer 0..9, got 12"),
        (["--digit", "3", "--arch", "784,10"], "--arch must end at 1 (one output for --digit)"),
        (["--optimizer", "sgd", "--momentum", "0.5"], "--momentum goes with --optimizer momentum"),
        (
            ["--init", "xavier", "--init-std", "0.01"],
            "--init-std goes with --init normal, not xavier",
        ),
        (["--dropout", "1"], "argument --dropout: expected a number in [0, 1), got 1"),
        (["--lr-decay", "0"], "argument --lr-decay: expected a number in (0, 1], got 0"),
        (["--weight-decay", "-1"], "argument --weight-decay: expected a number >= 0, got -1"),
    ],
)
def test_bad_settings_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", *TINY_SAMPLE, "--out", str(tmp_path / "r"), *argv]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_init_std_and_dropout(tmp_path: Path) -> None:
    """--init-std 0.01 draws the seed-001 weights N(0, 0.01^2); --dropout keeps its p in the
    model file."""
    argv = ["train", *TINY_SAMPLE, "--init-std", "0.01", "--dropout", "0.25", "--lr", "1e-9"]
    assert cli.main([*argv, "--epochs", "1", "--out", str(tmp_path)]) == 0
    model = load(tmp_path / "model.npz")
    assert model.dropout == 0.25 and isinstance(model[2], nn.Dropout)
    assert model[0].weight.data.std() == pytest.approx(0.01, rel=0.05)
    config = read_metadata(tmp_path / "model.npz")["config"]
    assert config["init_std"] == 0.01 and config["dropout"] == 0.25


def test_digit_trains_one_vs_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--digit 0 --arch 784,1: handout 004's single neuron, one sigmoid output and BCE; it beats
    always saying "not 0"."""
    argv = ["train", *TINY_SAMPLE, "--digit", "0", "--arch", "784,1", "--optimizer", "sgd"]
    assert cli.main([*argv, "--lr", "0.5", "--epochs", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "784-1 sigmoid, 0 vs rest on mnist-sample/train (0 vs rest)" in out
    assert "binary_cross_entropy_with_logits" in (tmp_path / "history.json").read_text()
    model = load(tmp_path / "model.npz")
    assert model.sizes == [784, 1]
    meta = read_metadata(tmp_path / "model.npz")
    assert meta["classes"] == ["not 0", "0"] and meta["config"]["digit"] == 0
    test = load_dataset("mnist-sample")[1].subset(100)
    always_not = float(np.mean(test.labels != 0))
    assert meta["test_accuracy"] > always_not
    assert cli.main(["eval", str(tmp_path / "model.npz")]) == 0
    assert "on mnist-sample/test (0 vs rest) (3000 test images)" in capsys.readouterr().out


def test_the_single_neuron_draws_its_weights_beside_the_mean_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], drawn: dict[Path, Any]
) -> None:
    """--digit 0 --arch 784,1 --plots: weights.png is the single neuron's figure (the mean 0,
    the mean of the rest, the weights), not one template captioned "unit 0"."""
    argv = ["train", *TINY_SAMPLE, "--digit", "0", "--arch", "784,1", "--optimizer", "sgd"]
    plots = tmp_path / "plots"
    argv += ["--lr", "0.5", "--epochs", "2", "--out", str(tmp_path / "run"), "--plots", str(plots)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    accuracy = out.split("final test accuracy: ")[1].split("%")[0]
    figure = drawn[plots / "weights.png"]
    assert 900 <= figure.width <= 1000 and 2.5 < figure.aspect < 3.2
    for text in (
        "mean image of the 0s",
        "mean image of the other digits",
        "weights w (bias b = ",
        f"One sigmoid neuron: 0 or not 0; test accuracy {accuracy}%",
        "pixel column",
    ):
        assert text in figure.text
    assert "unit 0" not in figure.text and figure.overlaps == []


def test_optimizer_settings_and_resume_with_augment(tmp_path: Path) -> None:
    """Nesterov momentum 0.8, weight decay and a per-epoch lr decay are what the optimiser
    gets; a run with --augment and --lr-decay resumed after epoch 1 ends bit for bit where an
    uninterrupted one does."""
    settings = ["--optimizer", "nesterov", "--momentum", "0.8", "--lr", "0.4"]
    settings += ["--weight-decay", "1e-3", "--lr-decay", "0.5", "--augment", "--seed", "2"]
    settings += ["--batch-size", "50"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    common = ["train", *TINY_SAMPLE, *settings]
    with threadpool_limits(1, "blas"):  # one thread, so train's choice of threads is the same
        assert cli.main([*common, "--epochs", "2", "--out", str(whole)]) == 0
        assert cli.main([*common, "--epochs", "1", "--out", str(parts)]) == 0
        assert cli.main(["train", "--resume", str(parts), "--epochs", "2"]) == 0
    a, b = load(whole / "model.npz"), load(parts / "model.npz")
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    optimizer = load_checkpoint(whole).optimizer_state
    hyper = optimizer["hyperparameters"]
    assert optimizer["type"] == "SGD" and hyper["nesterov"] is True
    assert hyper["momentum"] == 0.8 and hyper["weight_decay"] == 1e-3
    assert hyper["lr"] == pytest.approx(0.4 * 0.5**2)
    settings_kept = json.loads((whole / "history.json").read_text())["config"]
    assert settings_kept["augment"] is True and settings_kept["lr_decay"] == 0.5


def test_resume_refuses_another_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", *TINY_SAMPLE, "--epochs", "1", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(tmp_path), "--model", "cnn"]) == 2
    assert "--model cnn conflicts with the run's mlp" in error_line(capsys)


def test_runs_and_models_from_before_the_new_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint whose settings lack the new keys resumes as the MLP it was; a model file
    with the old metadata is evaluated on its recorded dataset, and summarised."""
    from tinygrad_edu.cli.settings import ALWAYS, SETTINGS
    from tinygrad_edu.training import CHECKPOINT_FILE, save
    from tinygrad_edu.training.checkpoint import save_checkpoint

    run = tmp_path / "old"
    assert (
        cli.main(["train", *TINY_SAMPLE, "--epochs", "1", "--batch-size", "50", "--out", str(run)])
        == 0
    )
    checkpoint = load_checkpoint(run)
    for row in SETTINGS:
        if row.old_runs is not ALWAYS:  # a setting added after the first release
            del checkpoint.info["settings"][row.key]
    save_checkpoint(run / CHECKPOINT_FILE, checkpoint)
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert "training 784-64-10 sigmoid on mnist-sample/train" in capsys.readouterr().out
    old = save(
        nn.MLP([784, 64, 10], seed=0),
        tmp_path / "old.npz",
        metadata={"dataset": "mnist-sample", "classes": [str(i) for i in range(10)]},
    )
    assert cli.main(["eval", str(old)]) == 0
    assert "on mnist-sample/test (3000 test images)" in capsys.readouterr().out
    assert cli.main(["summary", str(old)]) == 0
