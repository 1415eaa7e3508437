"""Smoke runs of the speed benchmarks: each runs end to end on a little real data, and its own
check that all rows do the same work (equal losses from equal weights) holds."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(autouse=True)
def benchmarks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_overhead_split_runs_and_its_rows_do_the_same_work(mnist_dir: Path, capsys) -> None:
    import overhead_split

    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--images", "768"]
    assert overhead_split.main(args) == 0
    out = capsys.readouterr().out
    assert "| engine calls |" in out and "| bare tape |" in out
    assert "engine bookkeeping (loop - engine calls)" in out


def test_overhead_split_takes_a_batch_size(mnist_dir: Path, capsys) -> None:
    import overhead_split

    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--images", "64", "--batch-size", "16"]
    assert overhead_split.main(args) == 0
    assert "batch 16, 4 steps a round" in capsys.readouterr().out


def test_the_bare_tape_computes_the_hand_written_gradients() -> None:
    """The floor row does the same work: after one step from the same weights, its weights
    equal the hand-written step's."""
    import numpy as np
    from epoch_time import HandNumpy
    from overhead_split import BareTape

    rng = np.random.default_rng(0)
    params = [
        rng.standard_normal((64, 784)).astype(np.float32) * 0.05,
        rng.standard_normal(64).astype(np.float32) * 0.05,
        rng.standard_normal((10, 64)).astype(np.float32) * 0.05,
        rng.standard_normal(10).astype(np.float32) * 0.05,
    ]
    x, y = rng.random((32, 784), dtype=np.float32), rng.integers(0, 10, 32)
    hand, tape = HandNumpy(params), BareTape(params)
    hand.step(x, y)
    loss = tape.step(x, y)
    np.testing.assert_allclose(loss, hand.losses[-1], rtol=1e-5)
    for ours, theirs in zip(tape.params(), hand.params(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_op_overhead_runs_and_its_rows_do_the_same_work(mnist_dir: Path, capsys) -> None:
    import op_overhead

    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--batch-sizes", "256"]
    assert op_overhead.main(args) == 0
    assert "| 256 |" in capsys.readouterr().out


def test_eval_batch_runs_and_marks_each_models_default(mnist_dir: Path, capsys) -> None:
    """Every batch size gives the same loss and accuracy (the benchmark checks), and the peak
    memory column is filled from the subprocesses."""
    import eval_batch

    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--images", "300"]
    assert eval_batch.main([*args, "--batch-sizes", "128,300", "--memory"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()]
    table = {
        (r[1].strip(), r[2].strip()): r for r in rows if r[0] == "" and r[1] in (" cnn ", " mlp ")
    }
    assert set(table) == {("cnn", "128 (default)"), ("cnn", "300"), ("mlp", "128"), ("mlp", "300")}
    assert all(float(r[5]) >= 0 for r in table.values())
    with pytest.raises(SystemExit) as exit_:
        eval_batch.main([*args, "--models", "mlp,gpt"])
    assert exit_.value.code == 2 and "--models: unknown gpt" in capsys.readouterr().err


def test_a_missing_data_folder_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    import overhead_split

    assert overhead_split.main(["--data-dir", str(tmp_path), "--rounds", "1"]) == 2
    assert "overhead_split:" in capsys.readouterr().err


def test_the_primitives_tape_computes_the_hand_written_gradients() -> None:
    """op_overhead's floor row does the same work: after three steps from the same weights on
    the same batches, its weights equal the hand-written numpy step's."""
    import numpy as np
    from op_overhead import NumpyMLP, TapeMLP

    rng = np.random.default_rng(1)
    hand, tape = NumpyMLP(), TapeMLP()
    for n in (1, 16, 5):
        x, y = rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)
        np.testing.assert_allclose(tape.step(x, y), hand.step(x, y), rtol=1e-5)
    hand_weights = (hand.W1, hand.b1, hand.W2, hand.b2)
    for ours, theirs in zip((p.data for p in tape.params), hand_weights, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("overhead_split", ["--batch-size", "0"]),
        ("overhead_split", ["--rounds", "-1"]),
        ("op_overhead", ["--batch-sizes", "1,0"]),
        ("op_overhead", ["--batch-sizes", "16,x"]),
        ("op_overhead", ["--rounds", "0"]),
        ("eval_batch", ["--batch-sizes", "128,0"]),
        ("eval_batch", ["--images", "0"]),
    ],
)
def test_bad_counts_are_usage_errors(module: str, args: list[str], capsys) -> None:
    bench = __import__(module)
    with pytest.raises(SystemExit) as exit_:
        bench.main(args)
    assert exit_.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_command_waits_runs_both_commands_against_another_checkout(
    mnist_dir: Path, tmp_path: Path, capsys
) -> None:
    """One round, no warm-up, this checkout against itself under another name (as --against
    would take a worktree of an older commit)."""
    import command_waits

    other = tmp_path / "other"
    other.symlink_to(BENCHMARKS.parent)
    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--epochs", "1", "--warmup", "0"]
    args += ["--against", str(other)]
    assert command_waits.main(args) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # the header, then 2 commands x 2 checkouts
    assert sum("| plot RUN |" in r for r in rows) == 2


def test_command_waits_refuses_a_folder_that_is_no_checkout(tmp_path: Path) -> None:
    import command_waits

    with pytest.raises(SystemExit):
        command_waits.main(["--against", str(tmp_path)])


def test_speed_helpers_runs_and_both_routes_of_each_row_agree(capsys) -> None:
    import speed_helpers

    assert speed_helpers.main(["--rounds", "1", "--target-ms", "0.1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and " us" not in line]
    assert len(rows) >= 18  # 16 helpers, 2 allocators
    assert "| sum_rows |" in out and "| keep_freed_memory() " in out


def test_busy_machine_times_trains_three_ways_beside_its_busy_process(
    tmp_path: Path, capsys
) -> None:
    """Tiny settings on the bundled sample (no MNIST folder given): each row a fresh `train`
    process; the fixed rows train on their count, the table and the ratio are printed."""
    import busy_machine

    args = ["--data-dir", str(tmp_path), "--epochs", "1", "--train-size", "300", "--rounds", "1"]
    assert busy_machine.main([*args, "--states", "busy"]) == 0
    out = capsys.readouterr().out
    rows = {
        r.split("|")[2].strip(): r.split("|") for r in out.splitlines() if r.startswith("| busy")
    }
    assert set(rows) == {"default", "1 thread", "2 threads, OpenBLAS", "2 threads, pool"}
    assert rows["1 thread"][5].strip() == "1" and rows["2 threads, pool"][5].strip() == "2"
    assert rows["2 threads, OpenBLAS"][5].strip() == "2"
    assert rows["default"][5].strip() in ("1", "2") and float(rows["default"][3]) > 0
    assert "- busy: default / the best fixed row = " in out and "mnist-sample" in out


def test_the_busy_process_is_gone_after_the_block() -> None:
    import busy_machine

    with busy_machine.BusyProcess() as busy:
        assert busy.proc.poll() is None
    assert busy.proc.poll() is not None


def test_busy_machine_refuses_an_unknown_state() -> None:
    import busy_machine

    with pytest.raises(SystemExit) as exit_:
        busy_machine.main(["--states", "quiet,idle"])
    assert exit_.value.code == 2
