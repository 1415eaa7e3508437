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
    assert "| engine calls |" in out and "engine bookkeeping (loop - engine calls)" in out


def test_op_overhead_runs_and_its_rows_do_the_same_work(mnist_dir: Path, capsys) -> None:
    import op_overhead

    args = ["--data-dir", str(mnist_dir), "--rounds", "1", "--batch-sizes", "256"]
    assert op_overhead.main(args) == 0
    assert "| 256 |" in capsys.readouterr().out


def test_a_missing_data_folder_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    import overhead_split

    assert overhead_split.main(["--data-dir", str(tmp_path), "--rounds", "1"]) == 2
    assert "overhead_split:" in capsys.readouterr().err
