"""Experiments: sweep tables (Markdown/CSV), ``tinygrad-edu sweep``, overfitting, single neuron."""

from __future__ import annotations

import csv
import importlib.util
import io
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import tinygrad_edu.data as data_module
from tinygrad_edu import cli, optim
from tinygrad_edu.cli.sweep import add_sweep_command
from tinygrad_edu.course import experiments as ex
from tinygrad_edu.data import Dataset, load_mnist

REPO = Path(__file__).resolve().parents[2]


def blobs(n: int, seed: int = 0, classes: int = 10) -> Dataset:
    """Toy 28x28 "digits": class k lights up a horizontal band at row 2k + 3."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    images = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 3 : 2 * k + 6, 4:24] = 230
    return Dataset(images, labels, "blobs", [str(c) for c in range(classes)])


@pytest.fixture(scope="module")
def toy() -> tuple[Dataset, Dataset]:
    return blobs(300), blobs(100, seed=1)


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch):
    """``tinygrad-edu sweep ARGS`` through cli.main, registered if cli.py does not yet."""
    if add_sweep_command not in cli.COMMANDS:
        monkeypatch.setattr(cli.app, "COMMANDS", [*cli.app.COMMANDS, add_sweep_command])
    return lambda *argv: cli.main(["sweep", *map(str, argv)])


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """load_dataset replaced by toy data (1,200 train, 600 test); records the calls."""
    calls: list[tuple] = []

    def fake_load(name, data_dir=None, download=True, quiet=False, fallback=True):
        calls.append((name, data_dir, download))
        return blobs(1200), blobs(600, seed=1)

    monkeypatch.setattr(data_module, "load_dataset", fake_load)
    return calls


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's rows (header first, the --- line skipped)."""
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows if not set("".join(r)) <= set("-: ")]


def assert_agree(md: str, csv_text: str) -> None:
    """The Markdown table and the CSV hold the same runs, up to the Markdown's rounding."""
    md_rows = markdown_rows(md)
    records = list(csv.DictReader(io.StringIO(csv_text)))
    assert md_rows[0] == [name for _, name in ex.COLUMNS]
    assert list(records[0]) == [name for name, _ in ex.COLUMNS]
    assert len(md_rows) - 1 == len(records) > 0
    names = {"SGD": "sgd", "momentum 0.9": "momentum", "Adam": "adam"}
    for cells, rec in zip(md_rows[1:], records, strict=True):
        m = dict(zip((name for name, _ in ex.COLUMNS), cells, strict=True))
        assert int(m["hidden"]) == int(rec["hidden"])
        assert names[m["optimizer"]] == rec["optimizer"]
        assert float(m["lr"]) == float(rec["lr"])
        for key in ("batch_size", "epochs", "updates"):
            assert int(m[key].replace(",", "")) == int(rec[key])
        for key in ("train_acc", "test_acc"):
            assert abs(float(m[key]) - 100 * float(rec[key])) <= 0.005 + 1e-9
        assert abs(float(m["train_seconds"]) - float(rec["train_seconds"])) <= 0.005 + 1e-9


# ------------------------------------------------------------------------------ configurations
def test_table_configs_vary_one_setting_from_the_base() -> None:
    base = ex.BASE_CONFIG
    assert (base.sizes, base.optimizer, base.lr, base.batch_size, base.epochs) == (
        [784, 64, 10],
        "sgd",
        0.5,
        200,
        10,
    )
    assert [c.lr for c in ex.table_configs("lr")] == [0.005, 0.05, 0.5, 2.0]
    assert [c.hidden for c in ex.table_configs("hidden")] == [50, 20, 5]
    assert [(c.batch_size, c.epochs) for c in ex.table_configs("batch")] == [
        (200, 10),
        (20000, 10),
        (20000, 100),
    ]
    assert [c.optimizer for c in ex.table_configs("optimizer")] == ["sgd", "momentum", "adam"]
    for table in ex.TABLES:
        for c in ex.table_configs(table):
            changed = {k for k in ("hidden", "optimizer", "lr", "batch_size", "epochs")}
            changed = {k for k in changed if getattr(c, k) != getattr(base, k)}
            allowed = {
                "lr": {"lr"},
                "hidden": {"hidden"},
                "batch": {"batch_size", "epochs"},
                "optimizer": {"optimizer", "lr"},
            }[table]
            assert changed <= allowed


def test_epochs_override_keeps_the_batch_tables_ratio() -> None:
    assert {c.epochs for c in ex.table_configs("lr", epochs=3)} == {3}
    assert [c.epochs for c in ex.table_configs("batch", epochs=2)] == [2, 2, 20]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ex.table_configs("width"), "unknown table 'width'"),
        (lambda: ex.table_configs("lr", epochs=0), "epochs must be a positive integer"),
        (lambda: ex.RunConfig(hidden=0), "hidden must be a positive integer"),
        (lambda: ex.RunConfig(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (lambda: ex.RunConfig(lr=-1.0), "lr must be a number > 0"),
    ],
)
def test_bad_settings_raise_errors_that_name_them(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ tables
def test_sweep_table_markdown_and_csv_agree(toy, tmp_path: Path) -> None:
    train, test = toy
    table = ex.run_sweep("optimizer", train, test, seed=0, epochs=2)
    assert [r.config.optimizer for r in table.results] == ["sgd", "momentum", "adam"]
    for r in table.results:
        assert 0 <= r.train_acc <= 1 and 0 <= r.test_acc <= 1 and r.train_seconds > 0
        assert r.updates == 2 * math.ceil(len(train) / 200)
    md, csv_text = table.to_markdown(), table.to_csv()
    assert md.startswith("### Optimiser\n")
    assert "full training set (300 images)" in md and "training only" in md
    assert_agree(md, csv_text)
    md_path, csv_path = table.write(tmp_path / "out")
    assert md_path.name == "optimizer.md" and md_path.read_text() == md
    assert csv_path.name == "optimizer.csv" and csv_path.read_text() == csv_text


def test_build_makes_the_configured_network_and_optimiser() -> None:
    model, optimizer = ex.RunConfig(hidden=7, optimizer="momentum", lr=0.1).build(seed=0)
    assert [p.shape for p in model.parameters()] == [(7, 784), (7,), (10, 7), (10,)]
    assert isinstance(optimizer, optim.SGD) and (optimizer.lr, optimizer.momentum) == (0.1, 0.9)


def test_runs_repeat_with_the_same_seed(toy) -> None:
    train, test = toy
    config = ex.RunConfig(epochs=2, batch_size=50)
    a, b = (ex.run_config(config, train, test, seed=3) for _ in range(2))
    assert (a.train_acc, a.test_acc, a.train_loss) == (b.train_acc, b.test_acc, b.train_loss)


def test_a_full_batch_is_said_in_the_caption(toy) -> None:
    train, test = toy
    table = ex.run_sweep("batch", train, test, epochs=1)
    assert [r.updates for r in table.results] == [2, 1, 10]  # 300 images: batches 200 + 100
    assert "whole training set (full batch)" in table.caption()


# ------------------------------------------------------------------------------ the command
def test_sweep_command_prints_and_writes_the_tables(
    sweep, fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "tables"
    assert sweep("--table", "all", "--quick", "--out", out, "--offline") == 0
    stdout = capsys.readouterr().out
    assert fake_data == [("mnist", None, False)]
    for name in ex.TABLES:
        md, csv_text = (out / f"{name}.md").read_text(), (out / f"{name}.csv").read_text()
        assert md in stdout
        assert_agree(md, csv_text)
        assert "(1,000 images)" in md  # --quick: the first 1,000 training images
    assert len(markdown_rows((out / "batch.md").read_text())) == 4
    batch = list(csv.DictReader(io.StringIO((out / "batch.csv").read_text())))
    assert [int(r["epochs"]) for r in batch] == [2, 2, 20]


def test_sweep_epochs_and_seed(sweep, fake_data: list, capsys: pytest.CaptureFixture) -> None:
    assert sweep("--table", "hidden", "--quick", "--epochs", "1", "--seed", "5") == 0
    rows = markdown_rows(capsys.readouterr().out)
    assert [r[0] for r in rows[1:]] == ["50", "20", "5"]
    assert {r[4] for r in rows[1:]} == {"1"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--table", "depth"], "argument --table: invalid choice: 'depth'"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got 0"),
        (["--epochs", "ten"], "argument --epochs: expected a positive integer, got 'ten'"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
        (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
        (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder does not exist"),
    ],
)
def test_sweep_argument_errors_are_one_line(
    sweep, fake_data: list, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert sweep(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-edu sweep: error: ") and message in err
    assert err.count("\n") == 1
    assert fake_data == []  # nothing was loaded or trained


def test_sweep_out_must_be_a_folder(
    sweep, fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    assert sweep("--quick", "--out", afile) == 2
    err = capsys.readouterr().err
    assert err == f"tinygrad-edu sweep: error: --out {afile} exists and is not a folder\n"


def test_sweep_rejects_data_it_cannot_train_on(
    sweep, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(data_module, "load_dataset", lambda *a, **k: (blobs(50, 0, 3),) * 2)
    assert sweep("--quick") == 2
    err = capsys.readouterr().err
    assert "takes 28x28 images in 10 classes, got 28x28 in 3" in err and err.count("\n") == 1


def test_sweep_on_real_mnist(sweep, mnist_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert sweep("--table", "optimizer", "--quick", "--data-dir", mnist_dir) == 0
    rows = markdown_rows(capsys.readouterr().out)
    accs = {r[1]: float(r[7]) for r in rows[1:]}
    assert accs["momentum 0.9"] > 50 and accs["Adam"] > 50  # 1,000 images, 2 epochs


# ------------------------------------------------------------------------------ overfitting
def test_overfitting_study_returns_one_value_per_epoch(toy) -> None:
    train, validation = toy
    config = ex.RunConfig(optimizer="momentum", lr=0.5, batch_size=50, epochs=4)
    runs = ex.overfitting_study(train, validation, sizes=(100, None), config=config)
    assert [r.n_train for r in runs] == [100, 300]
    for r in runs:
        assert r.epochs == 4
        for values in (r.train_acc, r.val_acc, r.train_loss, r.val_loss):
            assert len(values) == 4 and all(math.isfinite(v) for v in values)
        assert r.updates == 4 * math.ceil(r.n_train / 50)
        assert 1 <= r.best_epoch <= 4
        assert r.gap == pytest.approx(r.train_acc[-1] - r.val_acc[-1])
    low, high = ex.shared_ylim(runs)
    assert low <= 100 * min(min(r.train_acc + r.val_acc) for r in runs) and high >= 100
    table = markdown_rows(ex.overfitting_table(runs))
    assert len(table) == 3 and table[1][0] == "100" and table[2][0] == "300"


def test_overfitting_rejects_a_bad_size(toy) -> None:
    with pytest.raises(ValueError, match=r"n_train must be in 1\.\.300"):
        ex.overfitting_run(*toy, n_train=301)


# ------------------------------------------------------------------------------ single neuron
def test_binary_metrics() -> None:
    assert ex.binary_metrics(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])) == (0.5, 0.5)
    precision, recall = ex.binary_metrics(np.array([1, 0]), np.array([0, 0]))
    assert math.isnan(precision) and recall == 0.0


def test_single_neuron_beats_the_trivial_baseline(mnist_dir: Path) -> None:
    train, test = load_mnist(mnist_dir)
    train, test = train.subset(2000), test.subset(2000)
    r = ex.train_single_neuron(train, test, epochs=5, lr=0.5, batch_size=100)
    zeros = int(np.sum(test.labels == 0))
    assert r.baseline_acc == pytest.approx(1 - zeros / len(test))
    assert r.test_acc > r.baseline_acc + 0.05 and r.test_acc > 0.97
    assert r.precision > 0.8 and r.recall > 0.8
    assert r.confusion.sum() == len(test) and r.confusion[1].sum() == zeros
    assert r.weight.shape == (28, 28) and np.all(r.weight[0] == 0)  # blank border rows keep w=0
    assert "| one sigmoid neuron |" in r.to_markdown()


# ------------------------------------------------------------------------------ examples
def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_run_quick(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    neuron = load_example("single_neuron")
    assert neuron.main(["--data-dir", str(mnist_dir), "--out", str(tmp_path), "--quick"]) == 0
    assert (tmp_path / "single_neuron.md").exists()
    assert (tmp_path / "single_neuron_weights.png").stat().st_size > 1000
    study = load_example("overfitting")
    assert study.main(["--data-dir", str(mnist_dir), "--out", str(tmp_path), "--quick"]) == 0
    assert sorted(p.name for p in tmp_path.glob("overfitting_*.png")) == [
        "overfitting_1000.png",
        "overfitting_200.png",
    ]
    assert len(markdown_rows((tmp_path / "overfitting.md").read_text())) == 3
