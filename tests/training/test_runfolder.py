"""Monitoring a run: the JSON-lines metrics log, atomic checkpoints, bit-for-bit resume (also of a
killed process), `train --plots` and the `plot` command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from killed_runs import kill_after_first_checkpoint, train_args
from toy_digits import blobs

import tinygrad_edu.data as data_module
from tinygrad_edu import cli, nn, optim
from tinygrad_edu.data import Dataset
from tinygrad_edu.training import (
    Callback,
    Checkpoint,
    CheckpointError,
    EarlyStopping,
    EvalEvery,
    FolderLock,
    History,
    LambdaCallback,
    LRDecay,
    MetricsLogError,
    RunFolder,
    RunFolderError,
    StopOnNonFinite,
    TrainingState,
    check_same_run,
    fit,
    load,
    load_checkpoint,
    read_metrics,
)
from tinygrad_edu.training.checkpoint import save_checkpoint
from tinygrad_edu.training.files import jsonable
from tinygrad_edu.training.metricslog import MetricsWriter

REPO = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIMES = ("epoch_times", "epoch_eval_times", "epoch_threads")  # measured, not computed


TRAIN, TEST = blobs(240), blobs(60, seed=1)


def train_run(
    run_dir: Path | None,
    epochs: int,
    resume: bool = False,
    optimizer: str = "momentum",
    dropout: float = 0.0,
    info: dict[str, Any] | None = None,
    on_epoch_end: Callable[[TrainingState], None] | None = None,
    after_run_folder: bool = False,
    overwrite: bool = False,
) -> tuple[nn.MLP, optim.Optimizer, History]:
    """A small seeded run on the blobs (8 updates per epoch, a test every 3), recorded in
    ``run_dir``; ``on_epoch_end`` runs before the RunFolder's epoch end (after it if
    ``after_run_folder``)."""
    model = nn.MLP([784, 16, 10], dropout=dropout, seed=0)
    if optimizer == "adam":
        opt: optim.Optimizer = optim.Adam(model.parameters(), lr=0.01)
    else:
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    callbacks: list[Callback] = [EvalEvery(3)]
    if run_dir is not None:
        callbacks.append(RunFolder(run_dir, resume=resume, info=info, overwrite=overwrite))
    if on_epoch_end is not None:
        where = len(callbacks) if after_run_folder else 1
        callbacks.insert(where, LambdaCallback(on_epoch_end=on_epoch_end))
    history = fit(
        model,
        TRAIN,
        TEST,
        nn.cross_entropy,
        opt,
        epochs=epochs,
        batch_size=32,
        seed=0,
        callbacks=callbacks,
    )
    return model, opt, history


def without_times(history: History) -> dict[str, Any]:
    return {k: v for k, v in history.to_dict().items() if k not in TIMES}


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def strict_json(line: str) -> Any:
    def no_constants(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(line, parse_constant=no_constants)


# --------------------------------------------------------------------------- the metrics log
def test_metrics_log_records_in_order(tmp_path: Path) -> None:
    _, _, history = train_run(tmp_path, epochs=2, info={"note": "hi"})
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [strict_json(line) for line in lines]  # strict JSON, one object per line
    assert records == read_metrics(tmp_path)
    events = [r["event"] for r in records]
    # before training; updates 3, 6, 8 (end of epoch 1); 9, 12, 15, 16 (end of epoch 2)
    assert events == ["config", *["eval"] * 4, "epoch", *["eval"] * 4, "epoch"]
    config = records[0]
    assert config["epochs"] == 2 and config["train_size"] == 240 and config["test_size"] == 60
    assert config["batches_per_epoch"] == 8 and config["info"] == {"note": "hi"}
    assert config["config"] == {**history.config}

    evals = [r for r in records if r["event"] == "eval"]
    assert [r["iteration"] for r in evals] == history.test_iterations == [0, 3, 6, 8, 9, 12, 15, 16]
    assert [r["epoch"] for r in evals] == [0, 1, 1, 1, 2, 2, 2, 2]
    assert [r["test_acc"] for r in evals] == history.test_acc
    assert [r["test_loss"] for r in evals] == history.test_loss
    assert evals[0]["train_loss"] is None and evals[0]["train_acc"] is None
    assert evals[1]["train_loss"] == pytest.approx(np.mean(history.train_loss[0:3]))
    assert evals[3]["train_acc"] == pytest.approx(np.mean(history.train_acc[6:8]))

    epochs = [r for r in records if r["event"] == "epoch"]
    for e, r in enumerate(epochs):
        assert r["epoch"] == e + 1 and r["iteration"] == 8 * (e + 1)
        assert r["seconds"] == history.epoch_times[e] > 0
        assert r["eval_seconds"] == history.epoch_eval_times[e]
        assert r["threads"] == history.epoch_threads[e] >= 1
        assert r["batch_loss"] == history.train_loss[8 * e : 8 * (e + 1)]
        assert r["batch_acc"] == history.train_acc[8 * e : 8 * (e + 1)]
        assert r["train_loss"] == pytest.approx(np.mean(r["batch_loss"]))
        assert r["test_acc"] == history.test_acc[4 * e + 3]
    times = [r["time"] for r in records]
    assert times == sorted(times)
    # the log holds the whole history, exactly
    assert History.from_metrics(tmp_path) == history
    assert History.from_metrics(tmp_path / "metrics.jsonl") == history


def test_fit_without_run_dir_writes_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, _, history = train_run(None, epochs=1)
    assert list(tmp_path.iterdir()) == [] and history.epochs == 1
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        RunFolder(tmp_path / "a-file")


def test_run_without_test_set(tmp_path: Path) -> None:
    model = nn.MLP([784, 16, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    history = fit(
        model, TRAIN, None, nn.cross_entropy, opt, 2, 64, seed=0, callbacks=[RunFolder(tmp_path)]
    )
    assert [r["event"] for r in read_metrics(tmp_path)] == ["config", "epoch", "epoch"]
    assert History.from_metrics(tmp_path) == history and not history.test_acc


def test_log_is_readable_while_training(tmp_path: Path) -> None:
    """At every epoch end, a callback after the RunFolder (or another process) already sees that
    epoch in the log and its checkpoint; one before it sees the previous checkpoint."""
    seen: list[tuple[int, int, int | None]] = []

    def peek(state: TrainingState) -> None:
        live = History.from_metrics(tmp_path)
        ckpt = (tmp_path / "checkpoint.npz").exists() and load_checkpoint(tmp_path)
        seen.append((state.epoch, live.epochs, ckpt.epoch if ckpt else None))
        assert without_times(live) == {**without_times(state.history), "config": live.config}

    train_run(tmp_path, epochs=3, on_epoch_end=peek, after_run_folder=True)
    assert seen == [(1, 1, 1), (2, 2, 2), (3, 3, 3)]

    def before(state: TrainingState) -> None:
        ckpt = (tmp_path / "checkpoint.npz").exists() and load_checkpoint(tmp_path)
        seen.append((state.epoch, -1, ckpt.epoch if ckpt else None))

    seen.clear()
    train_run(tmp_path, epochs=2, on_epoch_end=before, overwrite=True)
    assert seen == [(1, -1, None), (2, -1, 1)]
    assert load_checkpoint(tmp_path).epoch == 2


def test_read_metrics_tolerates_a_cut_last_line(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    with MetricsWriter(log) as writer:
        writer.write({"event": "config", "epochs": 1})
        writer.write({"event": "eval", "iteration": 0, "test_acc": np.float32(0.5)})
        writer.write({"event": "eval", "iteration": 1, "test_loss": float("nan")})
    whole = log.read_bytes()
    assert b"NaN" not in whole and b'"test_loss": null' in whole
    records = read_metrics(log)
    assert [r.get("iteration") for r in records] == [None, 0, 1]
    assert records[1]["test_acc"] == 0.5 and records[2]["test_loss"] is None
    log.write_bytes(whole + b'{"event": "eval", "iteration": 2, "te')  # killed mid-line
    assert read_metrics(log) == records
    log.write_bytes(whole + b'{"event": "eval", "iteration": 2}')  # complete, newline missing
    assert len(read_metrics(log)) == 4
    log.write_bytes(whole + b"\n\n")
    assert read_metrics(log) == records
    log.write_bytes(b'{"event": "config"}\n{"event": "ev\n{"event": "eval"}\n')
    with pytest.raises(MetricsLogError, match="line 2 is not valid JSON"):
        read_metrics(log)
    log.write_bytes(b"")
    with pytest.raises(MetricsLogError, match="is empty"):
        read_metrics(log)
    log.write_bytes(b'{"event": "conf')
    with pytest.raises(MetricsLogError, match="is empty"):
        read_metrics(log)
    with pytest.raises(MetricsLogError, match="no metrics log"):
        read_metrics(tmp_path / "missing.jsonl")


def test_read_metrics_and_history_load_guard_deep_json(tmp_path: Path) -> None:
    """A 100k-deep `[` line gave a RecursionError traceback: now it is the reader's error
    naming the line, or, as the last line, skipped like any line a killed writer cut short."""
    log = tmp_path / "metrics.jsonl"
    good = b'{"event": "config"}\n'
    log.write_bytes(good + b"[" * 100_000 + b'\n{"event": "eval"}\n')
    with pytest.raises(MetricsLogError, match=r"metrics.jsonl: line 2 is JSON nested too deeply"):
        read_metrics(log)
    log.write_bytes(good + b"[" * 100_000 + b"\n")
    assert read_metrics(log) == [{"event": "config"}]
    history = tmp_path / "history.json"
    history.write_text("[" * 100_000)
    with pytest.raises(ValueError, match=r"history.json: History is JSON nested too deeply"):
        History.load(history)


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_holds_the_state_after_each_epoch(tmp_path: Path) -> None:
    model, opt, history = train_run(tmp_path, epochs=2, optimizer="adam", info={"k": 1})
    ckpt = load_checkpoint(tmp_path / "checkpoint.npz")
    assert (ckpt.epoch, ckpt.iteration, ckpt.epochs) == (2, 16, 2)
    assert_same_weights(ckpt.model_state, model.state_dict())
    state = opt.state_dict()
    assert ckpt.optimizer_state["type"] == "Adam" and ckpt.optimizer_state["steps"] == 16
    for saved, live in zip(ckpt.optimizer_state["state"], state["state"], strict=True):
        assert saved["step"] == live["step"] == 16
        assert_same_weights(
            {k: saved[k] for k in opt.state_names}, {k: live[k] for k in opt.state_names}
        )
    assert History.from_dict(ckpt.history) == history
    assert ckpt.loader_rng is not None and ckpt.loader_rng["bit_generator"] == "PCG64"
    assert ckpt.info == {"k": 1} and ckpt.extra["train_size"] == 240
    assert ckpt.extra["model"]["class"] == "MLP"
    assert ckpt.metrics_offset == (tmp_path / "metrics.jsonl").stat().st_size


def test_the_history_in_a_checkpoint_comes_back_exactly(tmp_path: Path) -> None:
    """Its lists are stored as arrays (int64 counts, float64 values): NaN, infinities, the last
    bits of each float and int-ness come back; a version 1 checkpoint, with the lists in its
    JSON, still loads."""
    history = {
        "iterations": [0, 1, 2],
        "train_loss": [0.1 + 0.2, float("nan"), float("inf")],
        "train_acc": [1 / 3, 0.5, 1e-300],
        "test_iterations": [],
        "test_acc": [np.float64(0.25), np.float32(0.5)],  # numpy's numbers: as Python's
        "epoch_times": [2.5],
        "big": [2**64, 3],  # beyond int64: kept in the JSON
        "flags": [True],
        "config": {"model": "MLP", "sizes": [784, 10], "lr": 0.5},
    }
    path = save_checkpoint(tmp_path / "c.npz", Checkpoint(1, 3, 2, {}, {"state": []}, history))
    with np.load(path) as npz:
        assert npz["history/iterations"].dtype == np.int64
        assert npz["history/train_loss"].dtype == np.float64
        meta = json.loads(str(npz["__checkpoint__"]))
    kept = {k: history[k] for k in ("big", "flags", "config")}
    assert meta["history"] == kept and meta["version"] == 2
    back = load_checkpoint(path).history
    same = json.dumps(jsonable(history, nan=True), sort_keys=True)  # NaN and types included
    assert json.dumps(back, sort_keys=True) == same
    assert [type(v) for v in back["iterations"]] == [int] * 3
    meta["history"], meta["version"] = jsonable(history, nan=True), 1  # version 1: in the JSON
    np.savez(tmp_path / "v1.npz", __checkpoint__=np.array(json.dumps(meta)))
    assert json.dumps(load_checkpoint(tmp_path / "v1.npz").history, sort_keys=True) == same


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
)


@given(st.dictionaries(st.sampled_from(["iterations", "train_loss", "x"]), st.lists(numbers)))
@settings(deadline=None)
def test_any_history_lists_come_back_as_the_json_would_give_them(lists) -> None:
    """Whatever the lists hold (ints of any size, floats, NaN, bools, a mix), a checkpoint gives
    back what the JSON of version 1 gave: the arrays only where they hold the numbers exactly."""
    history = {**lists, "config": {}}
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(Path(folder) / "c.npz", Checkpoint(0, 0, 1, {}, {}, history))
        back = load_checkpoint(path).history
    want = json.loads(json.dumps(jsonable(history, nan=True)))
    assert json.dumps(back, sort_keys=True) == json.dumps(want, sort_keys=True)


def test_checkpoint_replacement_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that dies half-way leaves the previous checkpoint whole and no temp files."""
    real_savez = np.savez
    calls = 0

    def failing_savez(f: Any, **arrays: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second epoch's checkpoint: half a file, then the disk is full
            f.write(b"PK\x03\x04 half a zip")
            raise OSError(28, "No space left on device")
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        train_run(tmp_path, epochs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "metrics.jsonl"]
    assert load_checkpoint(tmp_path).epoch == 1
    assert History.from_metrics(tmp_path).epochs == 2  # the log got epoch 2 before the failure


def test_a_new_run_replaces_an_old_one_only_when_told(tmp_path: Path) -> None:
    train_run(tmp_path, epochs=2)
    (tmp_path / "model.npz").write_bytes(b"the old run's model")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RunFolderError, match=r"holds a run already \(metrics\.jsonl, checkpoint"):
        train_run(tmp_path, epochs=1)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing touched
    calls = []
    train_run(
        tmp_path,
        epochs=1,
        on_epoch_end=lambda state: calls.append((tmp_path / "checkpoint.npz").exists()),
        overwrite=True,
    )
    assert not (tmp_path / "model.npz").exists()  # no old model beside the new log
    assert calls == [False]  # the old run's checkpoint went when the new run started
    assert History.from_metrics(tmp_path).epochs == 1 and load_checkpoint(tmp_path).epoch == 1


# --------------------------------------------------------------------------- resume
@pytest.mark.parametrize(("optimizer", "dropout"), [("momentum", 0.0), ("adam", 0.3)])
def test_resume_is_bit_for_bit(tmp_path: Path, optimizer: str, dropout: float) -> None:
    """2 epochs straight == 1 epoch, then resume to 2 (batch order, Dropout masks, momentum/Adam
    state, history and log all continue exactly)."""
    straight, s_opt, s_hist = train_run(tmp_path / "a", 2, optimizer=optimizer, dropout=dropout)
    train_run(tmp_path / "b", 1, optimizer=optimizer, dropout=dropout)
    resumed, r_opt, r_hist = train_run(
        tmp_path / "b", 2, resume=True, optimizer=optimizer, dropout=dropout
    )
    assert_same_weights(resumed.state_dict(), straight.state_dict())
    assert r_opt.steps == s_opt.steps == 16
    for a, b in zip(r_opt.state, s_opt.state, strict=True):
        assert_same_weights(
            {k: v for k, v in a.items() if isinstance(v, np.ndarray)},
            {k: v for k, v in b.items() if isinstance(v, np.ndarray)},
        )
    assert without_times(r_hist) == without_times(s_hist)
    assert r_hist.epoch_times[0] == History.from_metrics(tmp_path / "b").epoch_times[0]
    events = [r["event"] for r in read_metrics(tmp_path / "b")]
    assert events.count("resume") == 1 and events.index("resume") == 6
    assert without_times(History.from_metrics(tmp_path / "b")) == without_times(s_hist)
    # and once more, from the finished 2-epoch checkpoint to 3
    s3 = train_run(tmp_path / "c", 3, optimizer=optimizer, dropout=dropout)
    r3 = train_run(tmp_path / "b", 3, resume=True, optimizer=optimizer, dropout=dropout)
    assert_same_weights(r3[0].state_dict(), s3[0].state_dict())
    assert without_times(r3[2]) == without_times(s3[2])


class Killed(Exception):
    """Stands in for a SIGKILL in the middle of an epoch."""


def test_resume_after_dying_mid_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records written after the last checkpoint (and a half-written line) are dropped on resume:
    the resumed run repeats that work exactly, and the log ends as an uninterrupted run's."""
    model = nn.MLP([784, 16, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    real_step, calls = opt.step, []

    def dying_step() -> None:
        calls.append(1)
        if len(calls) == 13:  # the 5th update of epoch 2, after the eval at update 12
            raise Killed
        real_step()

    monkeypatch.setattr(opt, "step", dying_step)
    run = tmp_path / "run"
    with pytest.raises(Killed):
        fit(
            model,
            TRAIN,
            TEST,
            nn.cross_entropy,
            opt,
            3,
            32,
            seed=0,
            callbacks=[EvalEvery(3), RunFolder(run)],
        )
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"event": "eval", "iteration": 13, "test_l')
    killed = read_metrics(run)
    assert [r["iteration"] for r in killed if r["event"] == "eval"][-2:] == [9, 12]
    assert load_checkpoint(run).epoch == 1

    _, _, history = train_run(run, 3, resume=True)
    _, _, straight = train_run(tmp_path / "straight", 3)
    assert without_times(history) == without_times(straight)
    records = read_metrics(run)
    assert [r["event"] for r in records].count("eval") == len(straight.test_iterations)
    assert (run / "metrics.jsonl").read_bytes().endswith(b"}\n")
    assert without_times(History.from_metrics(run)) == without_times(straight)


def resuming(folder: Path) -> list[Callback]:
    return [EvalEvery(3), RunFolder(folder, resume=True)]


def test_resume_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_run(tmp_path / "empty", 1, resume=True)
    train_run(tmp_path, 2)
    with pytest.raises(ValueError, match="already trained 2 epochs, more than epochs=1"):
        train_run(tmp_path, 1, resume=True)
    model = nn.MLP([784, 32, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    with pytest.raises(CheckpointError, match="it was trained with model"):
        fit(model, TRAIN, TEST, "cross_entropy", opt, 3, 32, 0, callbacks=resuming(tmp_path))
    with pytest.raises(CheckpointError, match="batch_size 32, this call has 16"):
        fit(
            nn.MLP([784, 16, 10], seed=0),
            TRAIN,
            TEST,
            nn.cross_entropy,
            optim.SGD(nn.MLP([784, 16, 10]).parameters(), lr=0.5),
            3,
            16,
            0,
            callbacks=resuming(tmp_path),
        )
    with pytest.raises(CheckpointError, match="240 train samples, this call has 100"):
        m = nn.MLP([784, 16, 10], seed=0)
        fit(
            m,
            TRAIN.subset(100),
            TEST,
            nn.cross_entropy,
            optim.SGD(m.parameters(), lr=0.5),
            3,
            32,
            0,
            callbacks=resuming(tmp_path),
        )
    with pytest.raises(CheckpointError, match="the state dict is for SGD"):
        train_run(tmp_path, 3, resume=True, optimizer="adam")
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        train_run(tmp_path, 3, resume=True)


def test_a_checkpoint_copied_from_another_run_is_refused(tmp_path: Path) -> None:
    """Before: the copied checkpoint was resumed, its model trained, and this run's log cut at
    the other run's offset. Each run has an id, in its log's config record and its
    checkpoints; a copy from another run folder differs in it (runs from before run ids: in
    the model the log records)."""
    mine, other = tmp_path / "mine", tmp_path / "other"
    train_run(mine, 1)
    train_run(other, 1)
    run_id = read_metrics(mine)[0]["run_id"]
    assert isinstance(run_id, str) and len(run_id) == 16
    assert load_checkpoint(mine).run_id == run_id != load_checkpoint(other).run_id
    log = (mine / "metrics.jsonl").read_bytes()
    (mine / "checkpoint.npz").write_bytes((other / "checkpoint.npz").read_bytes())
    with pytest.raises(CheckpointError, match=r"is of another run \(run id [0-9a-f]{16}\)"):
        train_run(mine, 2, resume=True)
    assert (mine / "metrics.jsonl").read_bytes() == log  # the log untouched

    wide = tmp_path / "wide"  # another architecture, and neither side has a run id
    model = nn.MLP([784, 32, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    fit(model, TRAIN, TEST, "cross_entropy", opt, 1, 32, 0, [RunFolder(wide)])
    checkpoint = load_checkpoint(wide)
    checkpoint.run_id = None
    save_checkpoint(mine / "checkpoint.npz", checkpoint)
    _drop_run_id(mine / "metrics.jsonl")
    with pytest.raises(
        CheckpointError, match=r"\"MLP\(784-32-10, .* where the log has \"MLP\(784-16"
    ):
        check_same_run(mine, load_checkpoint(mine))


def test_runs_from_before_run_ids_still_resume(tmp_path: Path) -> None:
    """An old run (no run id in its log or checkpoint) resumes, and gets an id from then on."""
    train_run(tmp_path, 1)
    _drop_run_id(tmp_path / "metrics.jsonl")
    checkpoint = load_checkpoint(tmp_path)
    checkpoint.run_id = None
    save_checkpoint(tmp_path / "checkpoint.npz", checkpoint)
    train_run(tmp_path, 2, resume=True)
    new_id = load_checkpoint(tmp_path).run_id
    assert isinstance(new_id, str)
    assert [r.get("run_id") for r in read_metrics(tmp_path) if r["event"] == "resume"] == [new_id]
    with pytest.raises(CheckpointError, match=f"it is of run {new_id}, not abc"):
        fit(*train_parts(), callbacks=[RunFolder(tmp_path, resume=True, run_id="abc")])


def train_parts() -> tuple[Any, ...]:
    """fit's arguments up to its callbacks for train_run's model (3 epochs)."""
    model = nn.MLP([784, 16, 10], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    return model, TRAIN, TEST, "cross_entropy", opt, 3, 32, 0


def _drop_run_id(log: Path) -> None:
    """The log as written before run ids: its config record without one."""
    lines = log.read_text().splitlines(keepends=True)
    config = json.loads(lines[0])
    del config["run_id"]
    log.write_text(json.dumps(config) + "\n" + "".join(lines[1:]))


# --------------------------------------------------------------------------- callbacks' state
def callback_run(
    folder: Path, epochs: int, extra: list[Callback], first: bool = False, die_at: int = 0
) -> tuple[nn.MLP, History]:
    """train_run's model with ``extra`` callbacks after the RunFolder (before it if ``first``);
    ``die_at``: raise Killed at that update, as a SIGKILL would stop the run."""
    model, _, _, loss, opt, _, batch, seed = train_parts()

    def die(state: TrainingState) -> None:
        if state.iteration == die_at:
            raise Killed

    folder_callback = RunFolder(folder, resume=(folder / "checkpoint.npz").exists())
    callbacks = [*extra, folder_callback] if first else [folder_callback, *extra]
    if die_at:
        callbacks.insert(0, LambdaCallback(on_batch_end=die))
    history = fit(model, TRAIN, TEST, loss, opt, epochs, batch, seed, callbacks=callbacks)
    return model, history


@pytest.mark.parametrize("first", [True, False])
def test_a_run_with_lr_decay_killed_and_resumed_is_the_straight_run(
    tmp_path: Path, first: bool
) -> None:
    """Before: with the RunFolder before the LRDecay, the checkpoint held the rate of the epoch
    before its decay, and the resumed run trained on at the undecayed rate. The decay's step is
    now in the checkpoint, so either order resumes exactly."""
    straight, s_hist = callback_run(tmp_path / "straight", 4, [LRDecay(0.5)], first)
    with pytest.raises(Killed):
        callback_run(tmp_path / "run", 4, [LRDecay(0.5)], first, die_at=19)  # in epoch 3
    assert load_checkpoint(tmp_path / "run").callbacks == {"LRDecay": {"decays": 2 if first else 1}}
    resumed, r_hist = callback_run(tmp_path / "run", 4, [LRDecay(0.5)], first)
    assert_same_weights(resumed.state_dict(), straight.state_dict())
    assert without_times(r_hist) == without_times(s_hist)


def test_early_stopping_resumes_with_its_best_loss(tmp_path: Path) -> None:
    """Killed after the best test loss but before it stops, the resumed run stops where the
    straight one did, for the same reason (before: its best and its count started again)."""

    def stops() -> list[Callback]:
        return [EarlyStopping(patience=3, min_delta=0.05)]

    straight, s_hist = callback_run(tmp_path / "straight", 30, stops())
    assert s_hist.stop_reason.startswith("early stop") and s_hist.epochs < 30
    with pytest.raises(Killed):
        callback_run(tmp_path / "run", 30, stops(), die_at=s_hist.epoch_end_iterations[-2] + 1)
    assert load_checkpoint(tmp_path / "run").callbacks["EarlyStopping"]["waited"] >= 1
    resumed, r_hist = callback_run(tmp_path / "run", 30, stops())
    assert r_hist.stop_reason == s_hist.stop_reason and r_hist.epochs == s_hist.epochs
    assert_same_weights(resumed.state_dict(), straight.state_dict())


def test_resume_checks_every_callbacks_config_and_state(tmp_path: Path) -> None:
    """Before: only eval_every among the callbacks' settings was compared, so a run resumed
    without its LRDecay (or with another factor) trained on silently."""

    class Warmup(Callback):
        """A setting of its own, and a state it keeps."""

        def __init__(self, updates: int) -> None:
            self.updates, self.seen = updates, 0

        def config(self) -> dict[str, Any]:
            return {"warmup": self.updates}

        def state_dict(self) -> dict[str, Any]:
            return {"seen": self.seen}

        def load_state_dict(self, state: dict[str, Any]) -> None:
            self.seen = state["seen"]

        def on_batch_end(self, state: TrainingState) -> None:
            self.seen += 1

    callback_run(tmp_path, 1, [LRDecay(0.5), Warmup(5)], first=True)
    assert load_checkpoint(tmp_path).callbacks["Warmup"] == {"seen": 8}
    for extra, words in [
        ([Warmup(5)], "it was trained with lr_decay 0.5, this call has None"),
        ([LRDecay(0.9), Warmup(5)], "lr_decay 0.5, this call has 0.9"),
        ([LRDecay(0.5), Warmup(6)], "warmup 5, this call has 6"),
    ]:
        with pytest.raises(CheckpointError, match=words):
            callback_run(tmp_path, 2, extra, first=True)
    warm = Warmup(5)
    callback_run(tmp_path, 2, [LRDecay(0.5), warm], first=True)
    assert warm.seen == 16  # 8 counted before the checkpoint, 8 after


# --------------------------------------------------------------------------- the command line
@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> list[Dataset]:
    """load_dataset returns the small blobs; the list's first item is the training set used."""
    train = [blobs(300)]

    def fake_load(name, data_dir=None, download=True, quiet=False, fallback=True):
        return train[0], blobs(100, seed=1)

    monkeypatch.setattr(data_module, "load_dataset", fake_load)
    return train


TRAIN_ARGS = [
    "train",
    "--dataset",
    "fashion-mnist",
    "--arch",
    "784,16,10",
    "--batch-size",
    "50",
    "--eval-every",
    "4",
]


def test_train_out_writes_a_run_folder(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert cli.main([*TRAIN_ARGS, "--epochs", "2", "--out", str(run)]) == 0
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.npz",
        "history.json",
        "metrics.jsonl",
        "model.npz",
    ]
    saved = History.load(run / "history.json")
    logged = History.from_metrics(run)
    assert {**saved.to_dict(), "config": {}} == {**logged.to_dict(), "config": {}}
    config = read_metrics(run)[0]
    assert config["info"]["command"] == "train"
    settings = config["info"]["settings"]
    assert settings["arch"] == [784, 16, 10] and settings["dataset"] == "fashion-mnist"
    assert settings["batch_size"] == 50 and settings["epochs"] == 2
    ckpt = load_checkpoint(run)
    assert ckpt.epoch == 2 and ckpt.info["settings"] == settings
    assert_same_weights(ckpt.model_state, load(run / "model.npz").state_dict())


def test_train_resume_is_bit_for_bit(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert cli.main([*TRAIN_ARGS, "--epochs", "2", "--out", str(straight), "--seed", "5"]) == 0
    assert cli.main([*TRAIN_ARGS, "--epochs", "1", "--out", str(resumed), "--seed", "5"]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(resumed), "--epochs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"resuming {resumed} after epoch 1 (iteration 6), up to epoch 2"
    assert out[2].startswith("epoch 2/2  train loss") and len(out) == 5
    assert_same_weights(
        load(resumed / "model.npz").state_dict(), load(straight / "model.npz").state_dict()
    )
    a, b = History.load(resumed / "history.json"), History.load(straight / "history.json")
    assert without_times(a) == without_times(b)
    # resuming a finished run trains nothing and changes nothing
    assert cli.main(["train", "--resume", str(resumed), "--batch-size", "50"]) == 0
    assert "nothing left to train" in capsys.readouterr().out
    assert without_times(History.load(resumed / "history.json")) == without_times(b)


def test_resume_errors_are_one_line(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert cli.main([*TRAIN_ARGS, "--epochs", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    (tmp_path / "no-checkpoint").mkdir()
    fit_run = tmp_path / "fit-run"
    train_run(fit_run, 1)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.npz").write_bytes(b"\x00" * 64)

    cases = [
        (["--resume", str(tmp_path / "nope")], "no such folder"),
        (["--resume", str(run / "metrics.jsonl")], "is not a folder"),
        (["--resume", str(tmp_path / "no-checkpoint")], "no checkpoint.npz in it"),
        (["--resume", str(corrupt)], "corrupt checkpoint"),
        (["--resume", str(fit_run)], "not written by `tinygrad-edu train`"),
        (
            ["--resume", str(run), "--arch", "784,32,10"],
            "--arch 784-32-10 conflicts with the run's 784-16-10",
        ),
        (["--resume", str(run), "--lr", "0.1"], "--lr 0.1 conflicts with the run's 0.5"),
        (["--resume", str(run), "--seed", "1"], "--seed 1 conflicts with the run's 0"),
        (["--resume", str(run), "--dataset", "mnist"], "--dataset mnist conflicts"),
        (["--resume", str(run), "--train-size", "10"], "conflicts with the run's all images"),
        (["--resume", str(run), "--out", str(tmp_path)], "continues in its own folder"),
        (["--resume", str(run), "--epochs", "1"], "has already trained 2 epochs"),
        (["--train-size", "1000"], "--train-size 1000: blobs has only 300 training images"),
    ]
    for extra, message in cases:
        assert cli.main(["train", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tinygrad-edu train: error: "), err
        assert message in err, (message, err)


def test_resume_notices_changed_data(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "run"
    assert cli.main([*TRAIN_ARGS, "--epochs", "1", "--out", str(run)]) == 0
    fake_data[0] = blobs(300, seed=7)
    assert cli.main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "the train images from fashion-mnist differ from the ones the run was trained" in err


def test_ctrl_c_then_resume(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in epoch 2 exits with 130 and says how to resume; resuming finishes the run."""
    calls = 0

    def cross_entropy(out: Any, y: np.ndarray) -> Any:
        nonlocal calls
        calls += out.requires_grad  # training steps only, not evaluations
        if calls == 9:  # the 3rd update of epoch 2
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)

    run, straight = tmp_path / "run", tmp_path / "straight"
    with monkeypatch.context() as patch:
        patch.setattr(nn, "cross_entropy", cross_entropy)
        assert cli.main([*TRAIN_ARGS, "--epochs", "3", "--out", str(run)]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"tinygrad-edu train: continue from the last checkpoint with "
        f"`tinygrad-edu train --resume {run}`",
        "tinygrad-edu train: interrupted",
    ]
    assert load_checkpoint(run).epoch == 1 and not (run / "model.npz").exists()
    assert cli.main(["train", "--resume", str(run)]) == 0
    assert cli.main([*TRAIN_ARGS, "--epochs", "3", "--out", str(straight)]) == 0
    assert_same_weights(
        load(run / "model.npz").state_dict(), load(straight / "model.npz").state_dict()
    )


def assert_pngs(folder: Path, names: list[str]) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name


ALL_FIGURES = sorted(cli.FIGURES.values())


def test_train_plots(fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plots = tmp_path / "figures"
    argv = [*TRAIN_ARGS, "--epochs", "1", "--out", str(tmp_path / "run"), "--plots", str(plots)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert_pngs(plots, ALL_FIGURES)
    assert out[-5:] == [f"saved {plots / name}" for name in cli.FIGURES.values()]
    from PIL import Image

    with Image.open(plots / "curves.png") as im:
        assert im.size == (1100, 420)


def test_plot_command(fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert cli.main([*TRAIN_ARGS, "--epochs", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert cli.main(["plot", str(run)]) == 0
    assert_pngs(run / "plots", ALL_FIGURES)
    assert capsys.readouterr().out.count("saved ") == 5
    log = run / "metrics.jsonl"
    assert cli.main(["plot", str(log), "--curves-only", "--out", str(tmp_path / "only")]) == 0
    assert_pngs(tmp_path / "only", ["curves.png"])
    argv = ["plot", str(log), "--curves-only", "--log-loss", "--out", str(tmp_path / "log")]
    assert cli.main(argv) == 0
    assert_pngs(tmp_path / "log", ["curves.png"])
    assert (tmp_path / "log" / "curves.png").read_bytes() != (
        tmp_path / "only" / "curves.png"
    ).read_bytes()


def test_plot_command_on_a_live_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`plot` while fit is between epochs (the log is open for writing) draws the curves so far;
    and on the folder of a run killed before its first checkpoint."""
    outs = []

    def plot_now(state: TrainingState) -> None:
        out = tmp_path / f"live{state.epoch}"
        assert cli.main(["plot", str(tmp_path / "run"), "--out", str(out)]) == 0
        outs.append(out)

    train_run(tmp_path / "run", 2, on_epoch_end=plot_now)
    for out in outs:
        assert_pngs(out, ["curves.png"])
    # a run killed in its first epoch: a config record and the first evaluations only
    records = (tmp_path / "run" / "metrics.jsonl").read_bytes().split(b"\n")
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "metrics.jsonl").write_bytes(b"\n".join(records[:3]) + b"\n" + records[3][:20])
    assert cli.main(["plot", str(killed)]) == 0
    assert_pngs(killed / "plots", ["curves.png"])


def test_plot_errors_are_one_line(
    fake_data: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "metrics.jsonl").write_text("")
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "metrics.jsonl").write_text('{"event": "config"}\n')
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.jsonl").write_text('{"event": "config"}\nxx\n{"event": "x"}\n')
    cases = [
        (tmp_path / "nope", "no such run folder"),
        (tmp_path / "empty", "has no metrics.jsonl"),
        (tmp_path / "blank", "is empty"),
        (tmp_path / "config-only", "nothing to plot"),
        (tmp_path / "bad", "line 2 is not valid JSON"),
    ]
    for folder, message in cases:
        assert cli.main(["plot", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tinygrad-edu plot: error: ")
        assert message in err, (message, err)


# --------------------------------------------------------------------------- a killed process
def test_killed_training_process_resumes_bit_for_bit(
    mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """SIGKILL `python -m tinygrad_edu train` once its first checkpoint is on disk: the log parses
    line by line, the checkpoint loads, `plot` draws it, and `--resume` finishes the run with
    the weights and history of an uninterrupted one."""
    run = tmp_path / "killed"
    args = train_args(mnist_dir)
    kill_after_first_checkpoint([*args, "--out", str(run)], run)
    assert not (run / "model.npz").exists()  # it really died before the end

    lines = (run / "metrics.jsonl").read_bytes().split(b"\n")
    for line in lines[:-1]:  # every complete line parses; the last may be cut short
        assert json.loads(line)["event"] in ("config", "eval", "epoch")
    records = read_metrics(run)
    ckpt = load_checkpoint(run)
    assert 1 <= ckpt.epoch < 40
    assert sum(r["event"] == "epoch" for r in records) >= ckpt.epoch
    assert cli.main(["plot", str(run)]) == 0
    assert_pngs(run / "plots", ["curves.png"])

    assert cli.main(["train", "--resume", str(run)]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "straight")]) == 0
    assert_same_weights(
        load(run / "model.npz").state_dict(), load(tmp_path / "straight" / "model.npz").state_dict()
    )
    resumed, straight = (History.load(p / "history.json") for p in (run, tmp_path / "straight"))
    assert without_times(resumed) == without_times(straight)
    assert resumed.epochs == 40 and resumed.epoch_end_iterations[-1] == 40 * 10
    logged = History.from_metrics(run)
    assert without_times(logged) == {**without_times(straight), "config": logged.config}


# --------------------------------------------------------------------------- lock, failure
HOLD_LOCK = """
import sys, time
from tinygrad_edu.training import FolderLock
lock = FolderLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    """A process that holds ``folder``'s lock (until killed)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_a_folder_lock_excludes_a_second_run_and_dies_with_its_process(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(
            RunFolderError, match=rf"in use by another run \(process {holder.pid}\)"
        ):
            train_run(tmp_path, epochs=1)
        assert list(tmp_path.iterdir()) == [tmp_path / ".lock"]  # the second run wrote nothing
    finally:
        holder.kill()  # SIGKILL: no clean-up; the lock file stays behind, unlocked
        holder.wait()
    assert (tmp_path / ".lock").read_text() == f"{holder.pid}\n"
    train_run(tmp_path, epochs=1)  # the stale lock is taken over
    assert load_checkpoint(tmp_path).epoch == 1 and not (tmp_path / ".lock").exists()


def test_a_folder_lock_in_one_process(tmp_path: Path) -> None:
    with FolderLock(tmp_path / "run") as lock:
        assert (tmp_path / "run" / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunFolderError, match="in use by another run"):
            FolderLock(tmp_path / "run").acquire()
        lock.acquire()  # already held by this object: nothing happens
    assert list((tmp_path / "run").iterdir()) == []
    with FolderLock(tmp_path / "run"):  # free again
        pass


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_failed_run_keeps_its_last_good_checkpoint(tmp_path: Path) -> None:
    """Before: the loop finished the diverged epoch's bookkeeping and RunFolder checkpointed
    the NaN model."""

    def explode(state: TrainingState) -> None:
        if state.iteration == 11:  # the 4th update of epoch 2
            for p in state.model.parameters():
                p.data[...] = np.inf

    model = nn.MLP([784, 16, 10], seed=0)  # as train_run does, to resume with it
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    explode_then_stop = [LambdaCallback(on_batch_end=explode), StopOnNonFinite()]
    callbacks = [EvalEvery(3), *explode_then_stop, RunFolder(tmp_path)]
    history = fit(model, TRAIN, TEST, nn.cross_entropy, opt, 3, 32, seed=0, callbacks=callbacks)
    assert history.epochs == 2 and not np.isfinite(history.train_loss[-1])
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.epoch == 1 and all(np.isfinite(a).all() for a in ckpt.model_state.values())
    stop = read_metrics(tmp_path)[-1]
    assert stop["event"] == "stop" and stop["checkpoint_kept"] is True
    assert "loss is nan at update 12 (epoch 2)" in stop["reason"]
    _, _, resumed = train_run(tmp_path, 3, resume=True)
    _, _, straight = train_run(tmp_path / "straight", 3)
    assert without_times(resumed) == without_times(straight)


def test_run_folder_files_keep_the_users_umask(tmp_path: Path) -> None:
    """Before: checkpoint.npz (and model.npz) were 0600 whatever the umask."""
    old = os.umask(0o022)
    try:
        train_run(tmp_path, epochs=1)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"checkpoint.npz": 0o644, "metrics.jsonl": 0o644}
