"""The sweep tables: their configurations, Markdown and CSV, and ``tinygrad-edu sweep``."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest
from course_testing import markdown_rows
from toy_digits import blobs, patch_load_dataset

import tinygrad_edu.data as data_module
from tinygrad_edu import cli
from tinygrad_edu.course import runs, sweeps


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch):
    """``tinygrad-edu sweep ARGS`` through cli.main."""
    return lambda *argv: cli.main(["sweep", *map(str, argv)])


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """load_dataset replaced by toy digits (1,200 train, 600 test); records the calls."""
    return patch_load_dataset(monkeypatch, 1200, 600)


def assert_agree(md: str, csv_text: str) -> None:
    """The Markdown table and the CSV hold the same runs, up to the Markdown's rounding."""
    md_rows = markdown_rows(md)
    records = list(csv.DictReader(io.StringIO(csv_text)))
    assert md_rows[0] == [name for _, name in sweeps.COLUMNS]
    assert list(records[0]) == [name for name, _ in sweeps.COLUMNS]
    assert len(md_rows) - 1 == len(records) > 0
    names = {"SGD": "sgd", "momentum 0.9": "momentum", "Adam": "adam"}
    for cells, rec in zip(md_rows[1:], records, strict=True):
        m = dict(zip((name for name, _ in sweeps.COLUMNS), cells, strict=True))
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
    base = sweeps.BASE_CONFIG
    assert (base.sizes, base.optimizer, base.lr, base.batch_size, base.epochs) == (
        [784, 64, 10],
        "sgd",
        0.5,
        200,
        10,
    )
    assert [c.lr for c in sweeps.table_configs("lr")] == [0.005, 0.05, 0.5, 2.0]
    assert [c.hidden for c in sweeps.table_configs("hidden")] == [50, 20, 5]
    assert [(c.batch_size, c.epochs) for c in sweeps.table_configs("batch")] == [
        (200, 10),
        (20000, 10),
        (20000, 100),
    ]
    assert [c.optimizer for c in sweeps.table_configs("optimizer")] == ["sgd", "momentum", "adam"]
    for table in sweeps.TABLES:
        for c in sweeps.table_configs(table):
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
    assert {c.epochs for c in sweeps.table_configs("lr", epochs=3)} == {3}
    assert [c.epochs for c in sweeps.table_configs("batch", epochs=2)] == [2, 2, 20]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sweeps.table_configs("width"), "unknown table 'width'"),
        (lambda: sweeps.table_configs("lr", epochs=0), "epochs must be a positive integer"),
    ],
)
def test_bad_table_settings_raise_errors_that_name_them(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------ tables
def test_sweep_table_markdown_and_csv_agree(toy, tmp_path: Path) -> None:
    train, test = toy
    table = sweeps.run_sweep("optimizer", train, test, seed=0, epochs=2)
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


def test_a_full_batch_is_said_in_the_caption(toy) -> None:
    train, test = toy
    table = sweeps.run_sweep("batch", train, test, epochs=1)
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
    for name in sweeps.TABLES:
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
    monkeypatch.setattr(data_module, "load_dataset", lambda *a, **k: (blobs(50, 0, classes=3),) * 2)
    assert sweep("--quick") == 2
    err = capsys.readouterr().err
    assert "takes 28x28 images in 10 classes, got 28x28 in 3" in err and err.count("\n") == 1


def test_sweep_on_real_mnist(sweep, mnist_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert sweep("--table", "optimizer", "--quick", "--data-dir", mnist_dir) == 0
    rows = markdown_rows(capsys.readouterr().out)
    accs = {r[1]: float(r[7]) for r in rows[1:]}
    assert accs["momentum 0.9"] > 50 and accs["Adam"] > 50  # 1,000 images, 2 epochs


# ------------------------------------------------------------------------------ base and curves
def test_the_base_of_every_table_can_change() -> None:
    """Handout 003, section 2.2: the batch x epochs table with Adam and 20 hidden units."""
    base = sweeps.base_config("adam", hidden=20, activation="relu", batch_size=100)
    assert (base.optimizer, base.lr, base.hidden, base.activation, base.batch_size) == (
        "adam", 0.003, 20, "relu", 100,
    )  # fmt: skip
    rows = sweeps.table_configs("batch", base=base)
    assert [(c.batch_size, c.epochs) for c in rows] == [(200, 10), (20000, 10), (20000, 100)]
    assert {(c.optimizer, c.hidden, c.activation) for c in rows} == {("adam", 20, "relu")}
    assert [c.lr for c in sweeps.table_configs("lr", base=base)] == list(sweeps.LR_VALUES)
    assert sweeps.base_config("nesterov").lr == 0.5
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        sweeps.base_config("rmsprop")


def test_curve_runs_are_seed_003s() -> None:
    runs = [(c.batch_size, c.epochs) for c in sweeps.curve_configs()]
    assert runs == [(500, 20), (30000, 20), (200, 250)]
    assert [(c.batch_size, c.epochs) for c in sweeps.curve_configs(2)] == [
        (500, 2), (30000, 2), (200, 25),
    ]  # fmt: skip


def test_sweep_with_another_base(sweep, capsys: pytest.CaptureFixture[str]) -> None:
    """On the offline sample: the batch table from Adam, 20 ReLU units, batch 100."""
    try:
        data_module.load_dataset("mnist-sample")
    except data_module.DatasetError as e:
        pytest.skip(str(e))
    argv = ["--dataset", "mnist-sample", "--table", "batch", "--quick", "--epochs", "1"]
    argv += ["--optimizer", "adam"]
    assert sweep(*argv, "--hidden", "20", "--activation", "relu", "--batch-size", "100") == 0
    out = capsys.readouterr().out
    rows = markdown_rows(out)[1:]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("20", "Adam", "0.003", "200"), ("20", "Adam", "0.003", "20,000"),
        ("20", "Adam", "0.003", "20,000"),
    ]  # fmt: skip
    assert "784-H-10 (relu," in out and "A batch of 20,000 >= N is the whole training set" in out


def test_sweep_curves_draws_three_figures(
    sweep, fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        sweep("--table", "curves", "--quick", "--epochs", "1", "--log-loss", "--out", tmp_path) == 0
    )
    captured = capsys.readouterr()
    rows = markdown_rows(captured.out)[1:]
    assert [(r[3], r[4]) for r in rows] == [("500", "1"), ("30,000", "1"), ("200", "12")]
    assert "batch 30,000 >= the 1,000 training images: full batch" in captured.err
    for name in ("curves_500x1.png", "curves_30000x1.png", "curves_200x12.png", "curves.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert sweep("--table", "curves", "--quick") == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "--table curves draws figures: give the folder with --out" in err
    )


# ------------------------------------------------------------------------------ time and threads
def test_a_given_thread_count_and_repeats_are_in_the_table(
    sweep, fake_data: list, capsys: pytest.CaptureFixture
) -> None:
    """Before: no --threads, no --repeat; the time column named neither."""
    assert (
        sweep("--table", "hidden", "--quick", "--epochs", "1", "--threads", 2, "--repeat", 3) == 0
    )
    out = capsys.readouterr().out
    rows = markdown_rows(out)
    assert rows[0][-2:] == ["time (s)", "threads"] and {r[-1] for r in rows[1:]} == {"2"}
    assert "the median of 3 runs" in out and "**Threads**" in out and "2 threads, given" in out


def test_the_time_is_the_median_of_the_repeats(toy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row trained ``repeat`` times: its time is the median, its accuracies the first's."""
    train, test = toy
    seconds = iter([5.0, 1.0, 3.0] * 3)
    real = sweeps.run_config

    def timed(*args, **kwargs):
        result = real(*args, **kwargs)
        result.train_seconds = next(seconds)
        return result

    monkeypatch.setattr(sweeps, "run_config", timed)
    table = sweeps.run_sweep("hidden", train, test, epochs=1, repeat=3)
    assert [r.train_seconds for r in table.results] == [3.0, 3.0, 3.0]
    with pytest.raises(ValueError, match="repeat"):
        sweeps.run_sweep("hidden", train, test, epochs=1, repeat=0)


@pytest.mark.parametrize("load, busy", [(1.5, False), (6.0, True)])
def test_a_busy_machine_is_said_in_the_caption(
    toy, monkeypatch: pytest.MonkeyPatch, load: float, busy: bool
) -> None:
    """A load average above the cores while the rows trained: the caption says the times are
    slower and noisier (before: nothing said it)."""
    train, test = toy
    monkeypatch.setattr(sweeps, "usable_cores", lambda: 2)
    monkeypatch.setattr(runs, "load_average", lambda: load)
    caption = sweeps.run_sweep("hidden", train, test, epochs=1).caption()
    assert ("The machine was busy" in caption) == busy
    assert ("load average up to 6.0 on 2 cores" in caption) == busy
