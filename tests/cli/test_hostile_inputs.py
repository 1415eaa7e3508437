"""The cases of issue 12 ("Hardening") against the whole command line: each expected error is
one line on stderr and exit status 2 (1 for a run that fails by itself), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_digits import blobs

from tinygrad_edu import cli, nn
from tinygrad_edu.data import write_idx
from tinygrad_edu.training import save


def one_line_error(capsys: pytest.CaptureFixture, command: str) -> str:
    """The single error line the last command printed (its message)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    prefix = f"tinygrad-edu {command}: error: "
    assert err.startswith(prefix), err
    return err.removeprefix(prefix).strip()


def idx_folder(folder: Path, n_train: int = 300, n_test: int = 100) -> Path:
    """The four IDX files of a toy dataset (``n_train``, ``n_test`` images) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        data = blobs(n, seed=seed) if n else None
        images = data.images if data else np.zeros((0, 28, 28), np.uint8)
        labels = data.labels.astype(np.uint8) if data else np.zeros(0, np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    return idx_folder(tmp_path / "toy")


# ----------------------------------------------------------------------------- model files
def test_predict_and_eval_refuse_a_model_with_non_finite_weights(
    tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: `predict` printed "0 nan%" and exited 0."""
    model = nn.MLP([784, 16, 10], seed=0)
    model.parameters()[2].data[0, 0] = np.nan
    path = save(model, tmp_path / "nan.npz")
    image = tmp_path / "one.png"
    Image.new("L", (60, 60), 255).save(image)
    assert cli.main(["predict", str(path), str(image)]) == 2
    assert "layers.2.weight holds NaN or infinite values" in one_line_error(capsys, "predict")
    assert cli.main(["eval", str(path), "--data-dir", str(toy_dir)]) == 2
    assert "cannot predict anything" in one_line_error(capsys, "eval")


def test_predict_and_eval_of_a_file_declaring_huge_sizes(
    tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    meta = {"format": "tinygrad_edu.model", "version": 1, "dtype": "float32", "class": "MLP"}
    meta["sizes"] = [784, 12000, 12000, 10]
    path = tmp_path / "huge.npz"
    np.savez(path, __meta__=np.array(json.dumps(meta)))
    assert cli.main(["predict", str(path), str(tmp_path / "x.png")]) == 2
    assert "parameters (the cap)" in one_line_error(capsys, "predict")
    assert cli.main(["eval", str(path), "--data-dir", str(toy_dir)]) == 2
    assert "parameters (the cap)" in one_line_error(capsys, "eval")


def test_eval_of_a_model_that_does_not_take_the_images(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: `eval` of a saved Sequential(Linear(100, 10)) on MNIST was a ShapeError
    traceback."""
    path = save(nn.Sequential([nn.Linear(100, 10, seed=0)]), tmp_path / "lin100.npz")
    assert cli.main(["eval", str(path), "--data-dir", str(mnist_dir)]) == 2
    message = one_line_error(capsys, "eval")
    assert message.startswith("the model does not take mnist/test's 28x28 images (linear:")
    path = save(nn.Sequential([nn.Linear(784, 3, seed=0)]), tmp_path / "three.npz")
    assert cli.main(["eval", str(path), "--data-dir", str(mnist_dir)]) == 2
    assert one_line_error(capsys, "eval") == "the model has 3 outputs but mnist/test has 10 classes"


# ----------------------------------------------------------------------------- data
def test_an_empty_dataset_folder_in_train_and_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: a ValueError traceback ("fit: no samples", "evaluate: no samples")."""
    empty = idx_folder(tmp_path / "empty", 0, 0)
    argv = ["train", "--data-dir", str(empty), "--epochs", "1", "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    assert one_line_error(capsys, "train").endswith("train-images-idx3-ubyte.gz holds no images")
    model = save(nn.MLP([784, 10], seed=0), tmp_path / "m.npz")
    assert cli.main(["eval", str(model), "--data-dir", str(empty)]) == 2
    assert "holds no images" in one_line_error(capsys, "eval")
    pngs = tmp_path / "pngs"
    for split in ("train", "test"):
        (pngs / split / "0").mkdir(parents=True)
    assert cli.main(["eval", str(model), "--dataset", "png", "--data-dir", str(pngs)]) == 2
    assert one_line_error(capsys, "eval").startswith("png: no PNG files under")


def test_a_huge_png_in_a_png_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Before: PIL's DecompressionBombError as a traceback. A 20000x20000 PNG (all black, 400 kB)
    is refused from its header, before it is decoded."""
    root = tmp_path / "pngs"
    for split in ("train", "test"):
        (root / split / "0").mkdir(parents=True)
        Image.new("L", (28, 28)).save(root / split / "0" / "a.png")
    Image.new("L", (20000, 20000)).save(root / "train" / "0" / "huge.png")
    argv = ["train", "--dataset", "png", "--data-dir", str(root), "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    message = one_line_error(capsys, "train")
    assert "huge.png: cannot read image" in message and "decompression bomb" in message
    Image.new("L", (300, 200)).save(root / "train" / "0" / "huge.png")
    assert cli.main(argv) == 2
    assert one_line_error(capsys, "train").endswith("is 300x200 pixels, expected 28x28")


# ----------------------------------------------------------------------------- graph, trace
@pytest.mark.parametrize(
    "argv, message",
    [
        (["graph", "-o", "x.bogus"], "-o x.bogus: cannot tell the format from .bogus"),
        (["graph", "--batch", "100000000"], "--batch: expected an integer 1..10000"),
        (["graph", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
        (["trace", "--seed", "-1", "--example", "mlp"], "--seed: expected an integer >= 0"),
        (["trace", "--values", "1e20"], "--values: expected an integer 0..10000, got '1e20'"),
        (["trace", "--values", "1" + "0" * 20], "--values: expected an integer 0..10000"),
    ],
)
def test_graph_and_trace_arguments(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Before: a ValueError for -o x.bogus and --seed -1, a MemoryError for --batch 100000000,
    a TypeError for --values 10**20: all tracebacks."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    assert message in one_line_error(capsys, argv[0])
    assert list(tmp_path.iterdir()) == []


def test_memory_and_validation_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tinygrad_edu.cli import graph

    def too_big(**kwargs: object) -> None:
        raise MemoryError("Unable to allocate 292. GiB for an array")

    monkeypatch.setattr(graph, "build", too_big)
    assert cli.main(["graph"]) == 2
    assert one_line_error(capsys, "graph") == (
        "not enough memory (Unable to allocate 292. GiB for an array)"
    )


# ----------------------------------------------------------------------------- run folders
def train_argv(toy_dir: Path, out: Path, *more: str) -> list[str]:
    return ["train", "--data-dir", str(toy_dir), "--batch-size", "100", "--out", str(out), *more]


def edit_checkpoint(run: Path, **changes: object) -> None:
    """Change the checkpoint's JSON: ``settings__lr="abc"`` edits the train settings."""
    path = run / "checkpoint.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["__checkpoint__"]))
    for key, value in changes.items():
        if key.startswith("settings__"):
            meta["info"]["settings"][key.removeprefix("settings__")] = value
        else:
            meta[key] = value
    arrays["__checkpoint__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"settings__lr": "abc"}, 'has lr "abc", expected a number > 0'),
        ({"settings__batch_size": 0}, "has batch_size 0, expected a positive integer"),
        ({"settings__epochs": -1}, "has epochs -1, expected a positive integer"),
        ({"settings__arch": [784, -3, 10]}, "has arch [784, -3, 10], expected a list"),
        ({"settings__train_size": "x"}, 'has train_size "x"'),
        ({"epochs": -1}, "epochs must be an integer >= 0, got -1"),
        ({"metrics_offset": -5}, "metrics_offset must be an integer >= 0, got -5"),
        ({"iteration": 1.5}, "iteration must be an integer >= 0, got 1.5"),
    ],
)
def test_resuming_a_checkpoint_whose_settings_were_edited(
    changes: dict, message: str, tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: TypeError (lr 'abc'), ValueError (batch_size 0) tracebacks, "[Errno 22] Invalid
    argument" (metrics_offset -5), and epochs -1 silently accepted."""
    run = tmp_path / "run"
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1")) == 0
    edit_checkpoint(run, **changes)
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    assert message in one_line_error(capsys, "train")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('"iteration": 3,', '"iteration": "three",', "expected an integer >= 0, got 'three'"),
        ('"batch_loss": [', '"batch_loss": [[1], ', "expected a number or null, got [1]"),
        ('"test_loss": ', '"test_loss": "low", "x": ', "expected a number or null, got 'low'"),
        ('"config": {', '"config": 7, "x": {', "config must be an object, got 7"),
        ('"lr": 0.5', '"lr": "abc"', 'the run\'s settings has lr "abc"'),
        ('"arch": [784, 64, 10]', '"arch": 5', "the run's settings has arch 5"),
    ],
)
def test_plot_of_a_log_whose_records_have_the_wrong_types(
    old: str, new: str, message: str, tmp_path: Path, toy_dir: Path, capsys
) -> None:
    """Before: ValueError and TypeError tracebacks."""
    run = tmp_path / "run"
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1")) == 0
    log = run / "metrics.jsonl"
    text = log.read_text()
    assert old in text
    log.write_text(text.replace(old, new, 1))
    capsys.readouterr()
    assert cli.main(["plot", str(run), "--curves-only"]) == 2
    error = one_line_error(capsys, "plot")
    assert error.startswith(f"{log}: ") and message in error


@pytest.mark.parametrize("last", [False, True], ids=["inside", "last"])
def test_plot_of_a_log_with_a_100k_deep_line(
    last: bool, tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: a RecursionError traceback. A deep line inside the log is one line naming it,
    exit 2; as the last line it is skipped, like a line cut short by a killed writer."""
    run = tmp_path / "run"
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1")) == 0
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines.insert(len(lines) if last else 1, "[" * 100_000 + "\n")
    log.write_text("".join(lines))
    capsys.readouterr()
    if not last:
        assert cli.main(["plot", str(run), "--curves-only"]) == 2
        assert one_line_error(capsys, "plot") == f"{log}: line 2 is JSON nested too deeply"
    else:
        assert cli.main(["plot", str(run), "--curves-only", "--out", str(tmp_path / "f")]) == 0


def test_train_out_refuses_a_folder_holding_a_run(
    tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: it emptied the old log and deleted its checkpoint without a word."""
    run = tmp_path / "run"
    assert cli.main(train_argv(toy_dir, run, "--epochs", "2")) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1", "--seed", "5")) == 2
    assert one_line_error(capsys, "train") == (
        f"--out {run} holds a run already (metrics.jsonl, checkpoint.npz, model.npz, "
        f"history.json): continue it with --resume {run}, replace it with --overwrite, or "
        "choose another folder"
    )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert cli.main(["train", "--resume", str(run), "--overwrite"]) == 2
    assert "cannot go with --resume" in one_line_error(capsys, "train")
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1", "--overwrite")) == 0
    assert sorted(p.name for p in run.iterdir()) == sorted(before)
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["epochs"] == 1


def test_a_second_run_in_a_locked_folder_exits_2(
    tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: both runs exited 0, one overwriting the other's log in place."""
    from tinygrad_edu.training import FolderLock

    run = tmp_path / "run"
    with FolderLock(run):  # another run is writing there
        assert cli.main(train_argv(toy_dir, run, "--epochs", "1")) == 2
        message = one_line_error(capsys, "train")
        assert message.startswith(f"--out {run}: {run} is in use by another run (process ")
        assert sorted(p.name for p in run.iterdir()) == [".lock"]
    assert cli.main(train_argv(toy_dir, run, "--epochs", "1")) == 0
    assert ".lock" not in [p.name for p in run.iterdir()]


def test_resume_refuses_a_checkpoint_copied_from_another_run(
    tmp_path: Path, toy_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Before: alice's --resume trained bob's 784-32-10 network from bob's checkpoint and cut
    alice's log at bob's offset. Now one line and exit 2, before any data is loaded, and
    alice's files are untouched; an old run (no run ids) is told apart by its model."""
    alice, bob = tmp_path / "alice" / "exp", tmp_path / "bob" / "exp"
    assert cli.main(train_argv(toy_dir, alice, "--epochs", "1", "--arch", "784,16,10")) == 0
    assert cli.main(train_argv(toy_dir, bob, "--epochs", "1", "--arch", "784,32,10")) == 0
    (alice / "checkpoint.npz").write_bytes((bob / "checkpoint.npz").read_bytes())
    before = {p.name: p.read_bytes() for p in alice.iterdir()}
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(alice), "--epochs", "2"]) == 2
    message = one_line_error(capsys, "train")
    assert message.startswith(f"--resume {alice}: {alice / 'checkpoint.npz'} is of another run")
    assert {p.name: p.read_bytes() for p in alice.iterdir()} == before

    for run in (alice, bob):  # as written before run ids
        lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
        config = json.loads(lines[0])
        del config["run_id"]
        (run / "metrics.jsonl").write_text(json.dumps(config) + "\n" + "".join(lines[1:]))
    edit_checkpoint(alice, run_id=None)
    assert cli.main(["train", "--resume", str(alice), "--epochs", "2"]) == 2
    assert "holds another model than the log metrics.jsonl beside it records" in one_line_error(
        capsys, "train"
    )
    edit_checkpoint(bob, run_id=None)  # an old run of its own: resumes
    assert cli.main(["train", "--resume", str(bob), "--epochs", "2"]) == 0
