"""The TensorBoard callback: its event files read back with TensorBoard's own reader and checked
against the run's History; the probe of each layer; resumed and killed runs; the real server;
and what happens without the extra."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from killed_runs import kill_after_first_checkpoint, train_args
from threadpoolctl import threadpool_limits
from toy_digits import blobs

from tinygrad_edu import cli, nn, optim
from tinygrad_edu.training import (
    Callback,
    CheckpointError,
    EvalEvery,
    History,
    LambdaCallback,
    RunFolder,
    TensorBoard,
    TensorBoardNotInstalled,
    TrainingState,
    fit,
    load_checkpoint,
)
from tinygrad_edu.training.tensorboard import (
    INSTALL_HINT,
    OWNER_FILE,
    EventFile,
    claim_log_folder,
    probe_layers,
)

REPO = Path(__file__).resolve().parents[2]
TRAIN, TEST = blobs(240), blobs(60, seed=1)  # 8 updates per epoch at batch 32
EVERYTHING = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}


@pytest.fixture
def reader() -> Any:
    """TensorBoard's EventAccumulator (skips where tensorboard is not installed)."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    return accumulator.EventAccumulator


def load(reader: Any, folder: Path) -> Any:
    events = reader(str(folder), size_guidance=EVERYTHING)
    events.Reload()
    return events


def scalars(events: Any, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in events.Scalars(tag)]


def event_file(folder: Path) -> Path:
    (path,) = folder.glob("events.out.tfevents.*")  # one run, one file
    return path


def raw_events(folder: Path) -> list[Any]:
    """Every event of the folder's one file, in order, by TensorBoard's own file loader."""
    loader = pytest.importorskip("tensorboard.backend.event_processing.event_file_loader")
    return list(loader.EventFileLoader(str(event_file(folder))).Load())


def f32(values: list[float]) -> list[float]:
    """Values as a scalar summary keeps them (float32)."""
    return [float(np.float32(v)) for v in values]


def run(
    folder: Path | None,
    epochs: int,
    board: TensorBoard | None = None,
    activation: str = "sigmoid",
    dropout: float = 0.0,
    resume: bool = False,
    extra: list[Callback] | None = None,
    lr: float = 0.5,
) -> tuple[nn.MLP, History]:
    """A seeded run on the blobs with a test every 3 updates; ``board`` before the RunFolder
    (in ``folder``, if given), ``extra`` between them. On one thread, so that a probe computed
    after it (:func:`probe_of`) runs its products as the callback's did."""
    model = nn.MLP([784, 16, 10], activation=activation, dropout=dropout, seed=0)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    callbacks: list[Callback] = [EvalEvery(3), *([board] if board else []), *(extra or [])]
    if folder is not None:
        callbacks.append(RunFolder(folder, resume=resume))
    history = fit(model, TRAIN, TEST, "cross_entropy", opt, epochs, 32, 0, callbacks, threads=1)
    return model, history


# --------------------------------------------------------------------------- what is written
def test_scalars_match_the_history(reader: Any, tmp_path: Path) -> None:
    """Minibatch scalars every k updates at History.iterations' steps, test scalars at every
    evaluation, the learning rate, and an ``epoch`` mark at every epoch end."""
    _, h = run(None, 3, TensorBoard(tmp_path / "run", every=2))
    events = load(reader, tmp_path / "run")
    assert set(events.Tags()["scalars"]) == {
        "train/loss",
        "train/accuracy",
        "train/learning_rate",
        "test/loss",
        "test/accuracy",
        "epoch",
        "grad_norm/layer1",
        "grad_norm/layer2",
        "saturated/layer1",
    }
    assert scalars(events, "train/loss") == list(
        zip(h.iterations[::2], f32(h.train_loss[::2]), strict=True)
    )
    assert scalars(events, "train/accuracy") == list(
        zip(h.iterations[::2], f32(h.train_acc[::2]), strict=True)
    )
    assert scalars(events, "train/learning_rate") == [(i, 0.5) for i in h.iterations[::2]]
    assert scalars(events, "test/loss") == list(
        zip(h.test_iterations, f32(h.test_loss), strict=True)
    )
    assert scalars(events, "test/accuracy") == list(
        zip(h.test_iterations, f32(h.test_acc), strict=True)
    )
    assert scalars(events, "epoch") == [(8, 1.0), (16, 2.0), (24, 3.0)]
    assert h.epoch_end_iterations == [8, 16, 24]


def probe_of(model: nn.MLP) -> list[Any]:
    """probe_layers on the callback's probe batch: the first 256 (here all 240) training inputs,
    BLAS on one thread as in :func:`run`."""
    x = TRAIN.images.reshape(len(TRAIN), -1).astype(np.float32) / 255
    with threadpool_limits(1, "blas"):  # as fit(threads=1): BLAS sums in the same blocks
        return probe_layers(model, nn.cross_entropy, x, TRAIN.labels)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_layer_summaries_every_histogram_freq_epochs(
    reader: Any, tmp_path: Path, activation: str
) -> None:
    """Per layer, at every 2nd epoch end: histograms of W, b, their gradients and z; the gradient
    norm; saturated sigmoid units or dead ReLUs; the last ones equal a probe of the final model."""
    model, h = run(None, 4, TensorBoard(tmp_path, histogram_freq=2), activation=activation)
    events = load(reader, tmp_path)
    steps = h.epoch_end_iterations[1::2]
    assert steps == [16, 32]
    histograms = {
        f"{group}/layer{i}{bias}"
        for group in ("weights", "gradients")
        for i in (1, 2)
        for bias in ("", ".bias")
    }
    histograms |= {"preactivations/layer1", "preactivations/layer2"}
    assert set(events.Tags()["histograms"]) == histograms
    for tag in histograms:
        assert [e.step for e in events.Histograms(tag)] == steps, tag
    health = "saturated" if activation == "sigmoid" else "dead_relu"
    other = "dead_relu" if activation == "sigmoid" else "saturated"
    assert [s for s, _ in scalars(events, f"{health}/layer1")] == steps
    assert f"{other}/layer1" not in events.Tags()["scalars"]
    assert f"{health}/layer2" not in events.Tags()["scalars"]  # the logits feed no activation

    final = probe_of(model)
    for i, probe in enumerate(final, start=1):
        norm = scalars(events, f"grad_norm/layer{i}")[-1]
        assert norm == (32, float(np.float32(np.linalg.norm(probe.weight_grad))))
        w = events.Histograms(f"weights/layer{i}")[-1].histogram_value
        assert w.num == probe.weight.size and w.min == probe.weight.min()
        assert w.max == probe.weight.max() and w.sum == pytest.approx(probe.weight.sum())
        assert sum(w.bucket) == probe.weight.size
        z = events.Histograms(f"preactivations/layer{i}")[-1].histogram_value
        assert z.num == probe.z.size == 240 * probe.weight.shape[0]
    health_value = final[0].saturated if activation == "sigmoid" else final[0].dead
    assert scalars(events, f"{health}/layer1")[-1] == (32, float(np.float32(health_value)))


def test_end_images(reader: Any, tmp_path: Path) -> None:
    """At the end: the first layer's 16 weight templates (8 per row, 29 pixels a cell, drawn
    twice as large) and up to max_images misclassified test digits."""
    _, h = run(None, 1, TensorBoard(tmp_path, max_images=10), lr=0.05)
    events = load(reader, tmp_path)
    assert set(events.Tags()["images"]) == {"images/first_layer_weights", "images/misclassified"}
    (weights,) = events.Images("images/first_layer_weights")
    assert (weights.step, weights.width, weights.height) == (8, 2 * (8 * 29 + 1), 2 * (2 * 29 + 1))
    (wrong,) = events.Images("images/misclassified")
    assert wrong.step == 8 and h.final_test_acc < 0.8  # at least 10 wrong of 60
    from PIL import Image

    png = Image.open(io.BytesIO(wrong.encoded_image_string))
    assert png.size == (wrong.width, wrong.height) and png.mode == "RGB"
    assert wrong.width == 8 * 30 * 2.5 and wrong.height == 2 * 40 * 2.5  # 10 digits: 8 + 2


def test_nothing_written_breaks_training_bit_for_bit(tmp_path: Path) -> None:
    """The probe draws nothing random and puts the gradients and modes back: with Dropout,
    training with the callback gives the same weights and History as without it."""
    pytest.importorskip("tensorboard")
    plain, h_plain = run(None, 2, dropout=0.3)
    watched, h_watched = run(None, 2, TensorBoard(tmp_path, every=1), dropout=0.3)
    for a, b in zip(plain.parameters(), watched.parameters(), strict=True):
        assert np.array_equal(a.data, b.data) and np.array_equal(a.grad, b.grad)
    times = ("epoch_times", "epoch_eval_times", "epoch_threads")  # measured, not computed
    assert {k: v for k, v in h_plain.to_dict().items() if k not in times} == {
        k: v for k, v in h_watched.to_dict().items() if k not in times
    }


def test_a_new_run_replaces_the_folders_events(reader: Any, tmp_path: Path) -> None:
    run(None, 2, TensorBoard(tmp_path))
    first = event_file(tmp_path)
    (tmp_path / "events.out.tfevents.1.other").write_bytes(b"")  # not ours: left alone
    run(None, 1, TensorBoard(tmp_path))
    assert not first.exists()
    assert len(list(tmp_path.glob("*.tinygrad_edu"))) == 1
    assert scalars(load(reader, tmp_path), "epoch") == [(8, 1.0)]


# --------------------------------------------------------------------------- the probe
def test_probe_finds_saturated_and_dead_units() -> None:
    """|z| > 4 in front of a sigmoid, |z| > 2 in front of a tanh; a ReLU unit is dead when z <= 0
    for every input; the model's gradients, modes and Dropout generator are left as they were."""
    x = np.ones((5, 4), np.float32)
    y = np.zeros(5, np.int64)
    for activation, rows, expected in [
        ("sigmoid", [[10, 0, 0, 0], [0, 0, 0, 0], [-2, -2, -1, -1], [1, 1, 1, 0]], 2 / 4),
        ("tanh", [[10, 0, 0, 0], [0, 0, 0, 0], [-2, -2, -1, -1], [1, 1, 1, 0]], 3 / 4),
    ]:
        model = nn.MLP([4, 4, 2], activation=activation, dropout=0.5, seed=0)
        model.layers[0].weight.data[:] = rows
        sentinel = [np.full_like(p.data, 7.0) for p in model.parameters()]
        for p, g in zip(model.parameters(), sentinel, strict=True):
            p.grad = g
        rng_state = model.layers[2].rng.bit_generator.state
        probes = probe_layers(model, nn.cross_entropy, x, y)
        assert probes[0].activation == activation and probes[1].activation is None
        assert probes[0].saturated == expected and probes[0].dead is None
        assert probes[1].saturated is None and probes[1].z.shape == (5, 2)
        assert all(p.grad is g for p, g in zip(model.parameters(), sentinel, strict=True))
        assert model.training and model.layers[2].training
        assert model.layers[2].rng.bit_generator.state == rng_state
    relu = nn.MLP([4, 3, 2], activation="relu", seed=0)
    relu.layers[0].weight.data[:] = [[1, 1, 1, 1], [-1, -1, -1, -1], [0, 0, 0, 0]]
    relu.layers[0].bias.data[:] = [0, 0, 0.5]
    probe = probe_layers(relu, nn.cross_entropy, x, y)[0]
    assert probe.dead == 1 / 3 and probe.saturated is None
    assert np.array_equal(probe.z, np.tile([4, -4, 0.5], (5, 1)).astype(np.float32))


def test_probe_gradients_are_a_fresh_backward_in_eval_mode() -> None:
    model = nn.MLP([784, 8, 10], dropout=0.5, seed=0)
    x = TRAIN.images[:32].reshape(32, -1).astype(np.float32) / 255
    y = TRAIN.labels[:32]
    probes = probe_layers(model, nn.cross_entropy, x, y)
    model.eval()
    nn.cross_entropy(model(x), y).backward()
    assert np.array_equal(probes[0].weight_grad, model.layers[0].weight.grad)
    assert np.array_equal(probes[1].bias_grad, model.layers[3].bias.grad)


def test_bad_settings(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    for kwargs, message in [
        ({"every": 0}, "every must be a positive integer, got 0"),
        ({"histogram_freq": -1}, "histogram_freq must be an integer >= 0"),
        ({"probe_size": 2.5}, "probe_size must be a positive integer"),
    ]:
        with pytest.raises(ValueError, match=message):
            TensorBoard(tmp_path, **kwargs)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        TensorBoard(tmp_path / "file")


# --------------------------------------------------------------------------- resuming
class Killed(Exception):
    pass


def kill_at(iteration: int, event: str = "on_batch_end") -> LambdaCallback:
    def die(state: TrainingState) -> None:
        if state.iteration >= iteration:
            raise Killed

    return LambdaCallback(**{event: die})


def assert_same_events(reader: Any, a: Path, b: Path) -> None:
    """The same tags, steps and values (wall times aside), and no (tag, step) twice."""
    ea, eb = load(reader, a), load(reader, b)
    assert ea.Tags() == eb.Tags()
    for tag in ea.Tags()["scalars"]:
        assert scalars(ea, tag) == scalars(eb, tag), tag
    for tag in ea.Tags()["histograms"]:
        ha, hb = ea.Histograms(tag), eb.Histograms(tag)
        assert [(h.step, h.histogram_value) for h in ha] == [
            (h.step, h.histogram_value) for h in hb
        ], tag
    for tag in ea.Tags()["images"]:
        ia, ib = ea.Images(tag), eb.Images(tag)
        assert [(i.step, i.encoded_image_string) for i in ia] == [
            (i.step, i.encoded_image_string) for i in ib
        ]
    for folder in (a, b):
        seen = Counter(
            (v.tag, e.step)
            for e in raw_events(folder)
            if e.HasField("summary")
            for v in e.summary.value
        )
        assert [key for key, n in seen.items() if n > 1] == []


@pytest.mark.parametrize(
    "killer",
    [
        kill_at(13),  # in epoch 2, after the checkpoint of epoch 1
        kill_at(16, "on_epoch_end"),  # after TensorBoard's epoch 2 end, before its checkpoint
    ],
    ids=["mid-epoch", "between-tensorboard-and-checkpoint"],
)
def test_resume_continues_the_same_file(
    reader: Any, tmp_path: Path, killer: LambdaCallback
) -> None:
    """A run dies after its epoch-1 checkpoint with events of epoch 2 written; resumed, the file
    is cut after epoch 1's end and continued: the events equal an uninterrupted run's."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run(straight / "run", 3, TensorBoard(straight / "tb", every=1))
    with pytest.raises(Killed):
        run(killed / "run", 3, TensorBoard(killed / "tb", every=1), extra=[killer])
    assert load_checkpoint(killed / "run").epoch == 1
    before = event_file(killed / "tb")
    written = {e.step for e in raw_events(killed / "tb")}
    assert max(written) > 8  # it had gone on past the checkpoint
    run(killed / "run", 3, TensorBoard(killed / "tb", every=1), resume=True)
    assert not before.exists()  # renamed, so that a watching TensorBoard reads it again
    assert_same_events(reader, killed / "tb", straight / "tb")


def test_resume_without_the_epoch_mark_drops_that_step(reader: Any, tmp_path: Path) -> None:
    """Placed after the RunFolder, the callback may die between the checkpoint and its own
    epoch end: then the resumed file keeps what came before the checkpoint's step, and only
    that step's epoch-end records are missing (nothing is doubled)."""

    def train(board: Path, epochs: int, resume: bool = False, die: bool = False) -> None:
        model = nn.MLP([784, 16, 10], seed=0)
        opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        callbacks: list[Callback] = [RunFolder(board.with_suffix(".run"), resume=resume)]
        callbacks += [kill_at(16, "on_epoch_end")] if die else []
        callbacks.append(TensorBoard(board, every=1))
        fit(model, TRAIN, TEST, "cross_entropy", opt, epochs, 32, 0, callbacks)

    train(tmp_path / "straight", 3)
    with pytest.raises(Killed):
        train(tmp_path / "killed", 3, die=True)
    train(tmp_path / "killed", 3, resume=True)
    straight, killed = load(reader, tmp_path / "straight"), load(reader, tmp_path / "killed")
    assert scalars(killed, "train/loss") == scalars(straight, "train/loss")
    assert scalars(killed, "epoch") == [(8, 1.0), (24, 3.0)]
    assert [s for s, _ in scalars(killed, "test/loss")] == [
        s for s, _ in scalars(straight, "test/loss") if s != 16
    ]
    seen = Counter(
        (v.tag, e.step) for e in raw_events(tmp_path / "killed") for v in e.summary.value
    )
    assert max(seen.values()) == 1


def test_a_resume_that_fails_leaves_the_events_alone(tmp_path: Path) -> None:
    """A resume refused by the RunFolder (here: another batch size) opens no event file, so the
    run's events are left as they were."""
    pytest.importorskip("tensorboard")
    run(tmp_path / "run", 2, TensorBoard(tmp_path / "tb"))
    before = {p.name: p.read_bytes() for p in (tmp_path / "tb").iterdir()}
    model = nn.MLP([784, 16, 10], seed=0)
    callbacks = [TensorBoard(tmp_path / "tb"), RunFolder(tmp_path / "run", resume=True)]
    with pytest.raises(CheckpointError, match="batch_size"):
        fit(
            model,
            TRAIN,
            TEST,
            "cross_entropy",
            optim.SGD(model.parameters(), 0.5),
            3,
            16,
            0,
            callbacks,
        )
    assert {p.name: p.read_bytes() for p in (tmp_path / "tb").iterdir()} == before


def test_resuming_a_finished_run_writes_nothing_twice(reader: Any, tmp_path: Path) -> None:
    run(tmp_path / "run", 2, TensorBoard(tmp_path / "tb"))
    run(tmp_path / "run", 2, TensorBoard(tmp_path / "tb"), resume=True)
    run(tmp_path / "straight-run", 2, TensorBoard(tmp_path / "straight"))
    assert_same_events(reader, tmp_path / "tb", tmp_path / "straight")


def test_killed_process_leaves_readable_events_and_resumes(
    reader: Any, mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """SIGKILL `python -m tinygrad_edu train --tensorboard` once a checkpoint is on disk: the
    event file reads up to its last flush, its values are the logged History's; `--resume`
    (which remembers --tensorboard) finishes it with the events of an uninterrupted run."""
    run_dir, boards = tmp_path / "killed", tmp_path / "boards"
    tensorboard = ["--tensorboard", str(boards)]
    args = train_args(mnist_dir)
    kill_after_first_checkpoint([*args, "--out", str(run_dir), *tensorboard], run_dir, linger=0.02)
    assert not (run_dir / "model.npz").exists()

    events = load(reader, boards / "killed")  # the killed writer's last record may be cut
    logged = History.from_metrics(run_dir)  # the epochs in metrics.jsonl
    epochs = [step for step, _ in scalars(events, "epoch")]
    assert len(epochs) >= load_checkpoint(run_dir).epoch >= 1
    n = min(len(epochs), logged.epochs)
    assert epochs[:n] == logged.epoch_end_iterations[:n]
    losses = scalars(events, "train/loss")  # every 10 updates, the default
    expected = list(zip(logged.iterations[::10], f32(logged.train_loss[::10]), strict=True))
    n = min(len(losses), len(expected))
    assert n >= 1 and losses[:n] == expected[:n]

    assert cli.main(["train", "--resume", str(run_dir)]) == 0
    straight = tmp_path / "straight"
    assert cli.main([*args, "--out", str(straight), *tensorboard]) == 0
    capsys.readouterr()
    assert_same_events(reader, boards / "killed", boards / "straight")


# --------------------------------------------------------------------------- damaged or full
def record_spans(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record of an event file (uint64 length, CRC, data, CRC)."""
    spans, at = [], 0
    while at + 12 <= len(blob):
        end = at + 12 + struct.unpack_from("<Q", blob, at)[0] + 4
        spans.append((at, end))
        at = end
    return spans


def damage(path: Path, index: int, undecodable: bool) -> int:
    """Damage record ``index`` of an event file: its data made undecodable (with a CRC that
    matches it: only decoding fails) or one bit flipped (it may decode; its CRC fails). Returns
    the record's start."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    blob = bytearray(path.read_bytes())
    start, end = record_spans(bytes(blob))[index]
    if undecodable:
        blob[start + 12 : end - 4] = b"\xff" * (end - start - 16)
        blob[end - 4 : end] = struct.pack("<I", masked_crc32c(bytes(blob[start + 12 : end - 4])))
    else:
        blob[start + 12] ^= 1
    path.write_bytes(bytes(blob))
    return start


@pytest.mark.parametrize("undecodable", [True, False], ids=["undecodable", "bit-flip"])
def test_a_damaged_record_ends_what_a_resume_keeps(
    reader: Any, tmp_path: Path, undecodable: bool
) -> None:
    """Before: a DecodeError (or a record TensorBoard stops reading at) when resuming. Now the
    file is cut before the damaged record, said in one line, and the run goes on in it."""
    said: list[str] = []
    with pytest.raises(Killed):
        run(tmp_path / "run", 3, TensorBoard(tmp_path / "tb", every=1), extra=[kill_at(13)])
    path = event_file(tmp_path / "tb")
    start = damage(path, 5, undecodable)  # a record of epoch 1 (before the checkpoint's step 8)
    run(tmp_path / "run", 3, TensorBoard(tmp_path / "tb", every=1, say=said.append), resume=True)
    assert said == [
        f"{path}: a damaged event record at byte {start}; the events from there on are dropped"
    ]
    events = load(reader, tmp_path / "tb")
    assert scalars(events, "epoch") == [(16, 2.0), (24, 3.0)]  # epoch 1's came after the damage
    kept = [step for step, _ in scalars(events, "train/loss")]
    assert kept == sorted(set(kept)) and kept[-16:] == list(range(8, 24))


def test_events_that_cannot_be_written_stop_and_training_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (simulated: the event writer raises ENOSPC from step 10 on) failed the run
    with an OSError naming no file. Now it is said once (a RuntimeWarning by default), naming
    the file; nothing more is written, and training, checkpoints and all, is what it would be."""
    pytest.importorskip("tensorboard")
    real_write = EventFile.write

    def write(self: EventFile, event: Any) -> None:
        if event.step >= 10:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, event)

    monkeypatch.setattr(EventFile, "write", write)
    board = TensorBoard(tmp_path / "tb", every=1)
    with pytest.warns(RuntimeWarning) as warned:
        model, history = run(tmp_path / "run", 3, board)
    path = event_file(tmp_path / "tb")
    assert [str(w.message) for w in warned] == [f"TensorBoard: {board.failure}"]
    assert board.failure == (
        f"cannot write the TensorBoard events {path} ({os.strerror(errno.ENOSPC)}): they stop "
        "at update 11; training goes on"
    )
    plain, plain_history = run(None, 3)
    pairs = zip(model.parameters(), plain.parameters(), strict=True)
    assert all(np.array_equal(a.data, b.data) for a, b in pairs)
    assert history.test_acc == plain_history.test_acc
    assert load_checkpoint(tmp_path / "run").epoch == 3
    assert max(e.step for e in raw_events(tmp_path / "tb")) < 10


def test_a_log_dir_that_is_not_a_path_is_a_clear_type_error() -> None:
    """Before: pathlib's raw "expected str, bytes or os.PathLike object, not NoneType"."""
    for bad in (None, 3, ["logs"]):
        with pytest.raises(
            TypeError, match=r"TensorBoard: log_dir must be a folder's path \(a str"
        ):
            TensorBoard(bad)  # type: ignore[arg-type]


def test_claim_log_folder_gives_each_run_a_folder_of_its_own(tmp_path: Path) -> None:
    """Two runs named alike get name and name-2; a run gets its own back (resumed, even from a
    moved run folder); a folder of another or of no known owner is never taken, except a
    resumed older run's recorded one; ``replace`` (a new run in the same run folder) takes
    that run folder's."""
    logs, alice, bob = tmp_path / "logs", tmp_path / "alice" / "exp", tmp_path / "bob" / "exp"
    a = claim_log_folder(logs, "exp", "a1", alice)
    assert a == logs / "exp"
    owner = json.loads((a / OWNER_FILE).read_text())
    assert owner == {"run_id": "a1", "run_folder": str(alice.resolve())}
    b = claim_log_folder(logs, "exp", "b1", bob)
    assert b == logs / "exp-2"
    assert claim_log_folder(logs, "exp", "a1", alice) == a
    assert claim_log_folder(logs, "exp", "b1", tmp_path / "moved", prefer=b) == b
    assert claim_log_folder(logs, "exp", "a2", alice) == logs / "exp-3"
    assert claim_log_folder(logs, "exp", "a3", alice, replace=True) == a
    assert json.loads((a / OWNER_FILE).read_text())["run_id"] == "a3"
    (logs / "old").mkdir()  # an older run's folder, or another tool's: no owner file
    assert claim_log_folder(logs, "old", "c1", tmp_path / "c") == logs / "old-2"
    assert (
        claim_log_folder(logs, "old", "d1", tmp_path / "old", prefer=logs / "old") == logs / "old"
    )
    (logs / "file").write_text("")
    (logs / "bad").mkdir()
    (logs / "bad" / OWNER_FILE).write_text("[" * 100_000)
    assert claim_log_folder(logs, "file", "e1", tmp_path / "e") == logs / "file-2"
    assert claim_log_folder(logs, "bad", "e1", tmp_path / "e") == logs / "bad-2"


# --------------------------------------------------------------------------- the real server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    with opener.open(url, timeout=5) as response:
        return json.load(response)


def test_tensorboard_server_shows_the_run(tmp_path: Path) -> None:
    """The real `tensorboard` on 127.0.0.1 and a free port lists the run's scalar tags and
    serves its test accuracy as the History has it."""
    pytest.importorskip("tensorboard")
    _, h = run(None, 2, TensorBoard(tmp_path / "logs" / "toy"))
    where = ["--host", "127.0.0.1", "--port", str(free_port()), "--reload_interval", "1"]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path / "logs"), *where],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{where[3]}/data/plugin/scalars"
    try:
        deadline = time.monotonic() + 60
        tags: dict[str, Any] = {}
        while "toy" not in tags or "epoch" not in tags["toy"]:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, f"tensorboard shows no run after 60 s: {tags}"
            with contextlib.suppress(OSError):  # not listening yet
                tags = get_json(f"{base}/tags")
            time.sleep(0.2)
        assert {"train/loss", "test/accuracy", "grad_norm/layer1", "saturated/layer1"} <= set(
            tags["toy"]
        )
        query = urllib.parse.urlencode({"run": "toy", "tag": "test/accuracy"})
        points = get_json(f"{base}/scalars?{query}")
        assert [(step, value) for _, step, value in points] == list(
            zip(h.test_iterations, f32(h.test_acc), strict=True)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr:
            server.stderr.close()


# --------------------------------------------------------------------------- without the extra
@pytest.fixture
def no_tensorboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the tensorboard package were not installed."""
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)


def test_without_the_extra_the_error_says_what_to_install(
    no_tensorboard: None, tmp_path: Path
) -> None:
    with pytest.raises(TensorBoardNotInstalled, match=r'pip install "tinygrad_edu\[tensorboard\]"'):
        TensorBoard(tmp_path)
    assert issubclass(TensorBoardNotInstalled, ImportError)
    assert INSTALL_HINT == 'pip install "tinygrad_edu[tensorboard]"'
    assert not list(tmp_path.iterdir())


def test_unused_it_is_not_even_imported() -> None:
    """Importing the library and the command line loads no part of tensorboard: a run without
    the callback pays nothing for it."""
    code = (
        "import sys, tinygrad_edu.training, tinygrad_edu.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorboard'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
