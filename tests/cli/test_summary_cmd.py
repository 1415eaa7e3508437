"""``summary MODEL``, and models that a command cannot use: one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinygrad_edu import cli, nn
from tinygrad_edu.nn.models import build_cnn
from tinygrad_edu.training import save


def test_summary_of_a_saved_mlp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(nn.MLP([784, 32, 10], activation="relu", seed=0), tmp_path / "m.npz")
    assert cli.main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"{path}:", "MLP, input (N, 784)"]
    assert lines[5].split()[:3] == ["layers.0", "Linear", "784"] and "max(x, 0)" in lines[6]
    assert "Total parameters: 25,450" in lines and lines[-1].startswith("Output: 10 logits")


def test_summary_of_a_file_that_is_not_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.npz").write_text("not a model")
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    for name, message in (("notes.npz", "is not a model file"), ("arrays.npz", "")):
        assert cli.main(["summary", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tinygrad-edu summary: error: ") and err.count("\n") == 1
        assert message in err and "Traceback" not in err


def test_a_cnn_for_other_images_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CNN over 3-channel images cannot read MNIST digits: predict and eval say so."""
    model = build_cnn(seed=0)
    model.layers[0] = nn.Conv2d(3, 32, 5, seed=0)
    path = save(model, tmp_path / "rgb.npz", metadata={"dataset": "mnist-sample"})
    image = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    for argv in (["predict", str(path), str(image)], ["eval", str(path)]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "does not take" in err and "28x28" in err
