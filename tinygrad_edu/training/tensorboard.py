"""Watch a run in TensorBoard: the :class:`TensorBoard` callback writes TensorBoard event files.

``fit(..., callbacks=[TensorBoard("logs/sigmoid")])``, then ``tensorboard --logdir logs``: each
run is one folder under ``logs``, so runs compare side by side. What is written, with the step
TensorBoard plots against (the number of updates done, as in :class:`History`):

* scalars ``train/loss``, ``train/accuracy`` (the minibatch, before its update, every ``every``
  updates: steps 0, k, 2k, ... like ``History.iterations``), ``train/learning_rate``;
  ``test/loss``, ``test/accuracy`` at every test evaluation (``History.test_iterations``);
  ``epoch`` at every epoch end;
* every ``histogram_freq`` epochs, per weighted layer ``layer1``, ``layer2``, ... (Linear or
  Conv2d, in order): histograms ``weights/``, ``gradients/`` (and ``.bias``), ``preactivations/``
  (z); scalars ``grad_norm/`` (||dL/dW||_F), ``saturated/`` (the fraction of z with |z| > 4 in
  front of a sigmoid, |z| > 2 in front of a tanh: where the derivative is below 7 % of its
  maximum) or ``dead_relu/`` (the fraction of units with z <= 0 on every probe input);
* at the end of training: ``images/first_layer_weights`` (28x28 templates) and
  ``images/misclassified`` (test digits, titled true and predicted).

The per-layer numbers come from :func:`probe_layers` on a fixed probe batch (the first
``probe_size`` training inputs) at the epoch's end: one forward pass through the layers, keeping
each z, and one fresh backward pass, in eval mode; the parameters' own ``.grad`` (the last
minibatch's, taken before the last update) are put back untouched. A fixed batch makes the
curves show the network changing, not the minibatch noise, and z and the gradients are those
of the same parameters. Nothing random is drawn, so training is bit for bit what it is without
the callback.

Files: ``log_dir`` holds one event file ``events.out.tfevents.<time>.<host>.tinygrad_edu``,
flushed at every test evaluation and epoch end and at least every 5 s, so a killed run leaves
the events up to its last flush readable (fsync'ed only at the end of training: a killed process
loses nothing it flushed, and an fsync would cost an epoch of the course's MLP 3-8 ms). A new
run (at iteration 0) removes the folder's older ``*.tinygrad_edu`` event files. A run resumed from a
:class:`~tinygrad_edu.training.runfolder.RunFolder` checkpoint (it starts at the checkpoint's
iteration c) keeps the file up to the ``epoch`` record of step c, drops what was written after
it (the work it repeats) and continues the same file, renamed so that a running TensorBoard
reads it again: no step appears twice. Put the callback before ``RunFolder``. A record that
does not check out (its CRC-32C or its decoding: a damaged file) ends what is kept there, and
``say`` is told in one line. When the events cannot be written (a full disk, a folder gone),
``say`` is told once, naming the file, and the callback writes nothing more: training goes on,
so the run's checkpoints and model are kept.

Two runs must not share a folder (the second would remove the first's file):
:func:`claim_log_folder` gives a run a folder of its own, ``<name>``, else ``<name>-2``, ...,
recording its owner in the folder's :data:`OWNER_FILE`, and gives a resumed run its folder back.

The writer is optional: ``pip install "tinygrad_edu[tensorboard]"`` installs the tensorboard
package, whose own event protos and record writer write the files (about 0.15 s to import, and
only when the callback is made) and whose server shows them. Without it, ``TensorBoard(...)``
raises :class:`TensorBoardNotInstalled`, an ImportError that says what to install.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import math
import os
import socket
import struct
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import nn
from ..data import DataLoader, Dataset
from ..engine.errors import check_integer
from ..engine.function import no_grad
from ..engine.tensor import Tensor
from .callbacks import Callback, TrainingState
from .evaluation import LossFn
from .files import atomic_write, one_line, parse_json
from .metrics import predicted_labels

__all__ = [
    "INSTALL_HINT",
    "OWNER_FILE",
    "LayerProbe",
    "TensorBoard",
    "TensorBoardNotInstalled",
    "claim_log_folder",
    "probe_layers",
]

INSTALL_HINT = 'pip install "tinygrad_edu[tensorboard]"'
#: The name ending of the event files this module writes (and may remove or continue).
SUFFIX = ".tinygrad_edu"
#: |z| above which a unit counts as saturated: sigmoid'(4) and tanh'(2) are 7 % of their maxima.
SATURATION = {"sigmoid": 4.0, "tanh": 2.0}
HISTOGRAM_BINS = 30  # what TensorBoard's histogram view shows
FLUSH_SECONDS = 5.0
#: The file of a log folder that says which run owns it (JSON: ``run_id``, ``run_folder``).
OWNER_FILE = ".tinygrad_edu_run.json"
Say = Callable[[str], object]


class TensorBoardNotInstalled(ImportError):
    """The TensorBoard extra is missing; the message says how to install it."""


def writer_modules() -> SimpleNamespace:
    """TensorBoard's own event protos and record writer (imported on first use only: about
    0.15 s), or :class:`TensorBoardNotInstalled`."""
    try:
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError as e:
        why = "" if e.name == "tensorboard" else f" ({e})"  # installed, but broken
        raise TensorBoardNotInstalled(
            f"TensorBoard event files need the tensorboard extra: {INSTALL_HINT}{why}"
        ) from e
    return SimpleNamespace(
        Event=Event,
        Summary=Summary,
        HistogramProto=HistogramProto,
        RecordWriter=RecordWriter,
        DecodeError=DecodeError,
        masked_crc32c=masked_crc32c,
    )


# ----------------------------------------------------------------------------- event files
def _records(blob: bytes, crc: Callable[[bytes], int]) -> Iterator[tuple[int, int, bytes | None]]:
    """(start, end offset, data) of each complete record of an event file (a TFRecord: uint64
    length, its masked CRC-32C ``crc``, the data, the data's CRC); data None for a record whose
    CRCs do not match (damaged: the last one yielded). Stops at a record cut short by a killed
    writer."""
    at = 0
    while at + 12 <= len(blob):
        (length,) = struct.unpack_from("<Q", blob, at)
        (length_crc,) = struct.unpack_from("<I", blob, at + 8)
        if crc(blob[at : at + 8]) != length_crc:
            yield at, at, None  # the length itself is damaged: nothing after it can be found
            return
        end = at + 12 + length + 4
        if end > len(blob):
            return
        data = blob[at + 12 : end - 4]
        if crc(data) != struct.unpack_from("<I", blob, end - 4)[0]:
            yield at, end, None
            return
        yield at, end, data
        at = end


class EventFile:
    """The one event file of a run folder, opened for a new run (``start=0``) or continued after
    the ``epoch`` record of step ``start`` (see the module's docstring); ``say`` is told of a
    damaged record dropped."""

    def __init__(self, folder: Path, start: int, tb: SimpleNamespace, say: Say) -> None:
        self.tb, self.say = tb, say
        folder.mkdir(parents=True, exist_ok=True)
        old = sorted(folder.glob(f"events.out.tfevents.*{SUFFIX}"))
        keep = old.pop() if old and start > 0 else None
        for path in old:  # an earlier run's (a new run), or older copies (resuming)
            path.unlink()
        self.path = folder / (
            f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}{SUFFIX}"
        )
        if keep is None:
            self.file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
            self.records = tb.RecordWriter(self.file)
            self.write(tb.Event(wall_time=time.time(), file_version="brain.Event:2"))
        else:
            with open(keep, "r+b") as f:
                f.truncate(self._cut(keep, start))
                os.fsync(f.fileno())
            os.replace(keep, self.path)  # a new name: a watching TensorBoard reads it afresh
            self.file = open(self.path, "ab")  # noqa: SIM115
            self.records = tb.RecordWriter(self.file)
        self.flushed = time.monotonic()

    def _cut(self, path: Path, step: int) -> int:
        """Where to cut a killed run's file resumed at ``step``: after its ``epoch`` record of
        that step; without one (the callback came after RunFolder), before the first record of a
        later or equal step; and at the latest before a damaged record (said in one line)."""
        blob = path.read_bytes()
        first_after = None
        for at, end, data in _records(blob, self.tb.masked_crc32c):
            event = self._decoded(data)
            if event is None:
                self.say(
                    f"{path}: a damaged event record at byte {at}; the events from there on are "
                    "dropped"
                )
                return first_after if first_after is not None else at
            tags = [v.tag for v in event.summary.value]
            if event.step == step and tags == ["epoch"]:
                return end
            if first_after is None and event.step >= step and tags:
                first_after = at
        return first_after if first_after is not None else len(blob)

    def _decoded(self, data: bytes | None) -> Any:
        """The Event in a record's data (None for a damaged record)."""
        if data is None:
            return None
        try:
            return self.tb.Event.FromString(data)
        except self.tb.DecodeError:
            return None

    def write(self, event: Any) -> None:
        self.records.write(event.SerializeToString())

    def flush(self, sync: bool = False) -> None:
        self.file.flush()
        if sync:
            os.fsync(self.file.fileno())
        self.flushed = time.monotonic()

    def close(self) -> None:
        if not self.file.closed:
            self.flush(sync=True)
            self.file.close()

    def abandon(self) -> None:
        """Close after a failed write, dropping what could not be written."""
        with contextlib.suppress(OSError):
            self.file.close()  # it tries to flush again, but closes the file whatever happens


# ----------------------------------------------------------------------------- the probe
@dataclass
class LayerProbe:
    """One weighted layer at a probe: its parameters, their gradients dL/dW, dL/db on the probe
    batch, its pre-activations z (probe size, units, ...) and the activation that reads z
    (``"sigmoid"``, ``"relu"``, ``"tanh"`` or None when unknown)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray | None
    weight_grad: np.ndarray | None
    bias_grad: np.ndarray | None
    z: np.ndarray | None
    activation: str | None

    @property
    def saturated(self) -> float | None:
        """Fraction of z with |z| above the activation's :data:`SATURATION` threshold."""
        if self.z is None or self.activation not in SATURATION:
            return None
        return float(np.count_nonzero(np.abs(self.z) > SATURATION[self.activation]) / self.z.size)

    @property
    def dead(self) -> float | None:
        """For a ReLU layer: fraction of units (axis 1) with z <= 0 for every probe input."""
        if self.z is None or self.activation != "relu":
            return None
        units = np.moveaxis(self.z, 1, 0).reshape(self.z.shape[1], -1)
        return float(np.mean(np.all(units <= 0, axis=1)))


def probe_layers(
    model: nn.Module, loss_fn: LossFn, x: np.ndarray, y: np.ndarray
) -> list[LayerProbe]:
    """Look inside ``model`` on the batch ``(x, y)``: one forward pass (through ``layers`` one by
    one when the model is a Sequential, keeping each weighted layer's output z) and one backward
    pass of ``loss_fn``, in eval mode. The model's modes and its parameters' ``.grad`` are
    restored afterwards, and nothing random is drawn."""
    params = model.parameters()
    saved_grads = [p.grad for p in params]
    modes = [(m, m.training) for m in model.modules()]
    layers = _weighted_layers(model)
    model.eval()
    try:
        zs: dict[int, np.ndarray] = {}
        out = _forward(model, Tensor(x), {id(m) for m, _ in layers}, zs)
        loss = loss_fn(out, y)
        for p in params:
            p.grad = None
        loss.backward()
        return [
            LayerProbe(
                name=f"layer{i}",
                weight=m.weight.data,
                bias=None if m.bias is None else m.bias.data,
                weight_grad=m.weight.grad,
                bias_grad=None if m.bias is None else m.bias.grad,
                z=zs.get(id(m)),
                activation=activation,
            )
            for i, (m, activation) in enumerate(layers, start=1)
        ]
    finally:
        for p, g in zip(params, saved_grads, strict=True):
            p.grad = g
        for m, mode in modes:
            m.training = mode


def _weighted_layers(model: nn.Module) -> list[tuple[nn.Module, str | None]]:
    """The modules with a ``weight`` Parameter (Linear, Conv2d) in order, each with the name of
    the activation that follows it in a Sequential (Dropout skipped), else None."""
    weighted = [m for m in model.modules() if isinstance(getattr(m, "weight", None), nn.Parameter)]
    follows: dict[int, str] = {}
    if isinstance(model, nn.Sequential):
        kinds = {v: k for k, v in nn.ACTIVATIONS.items()}
        seq = [m for m in model.layers if not isinstance(m, nn.Dropout)]
        for here, after in itertools.pairwise(seq):
            if type(after) in kinds:
                follows[id(here)] = kinds[type(after)]
    return [(m, follows.get(id(m))) for m in weighted]


def _forward(model: nn.Module, x: Tensor, watched: set[int], zs: dict[int, np.ndarray]) -> Any:
    """``model(x)``; for a Sequential layer by layer, keeping the outputs of ``watched`` ones."""
    if not isinstance(model, nn.Sequential):
        return model(x)
    if isinstance(model, nn.MLP) and x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    for layer in model.layers:
        x = layer(x)
        if id(layer) in watched:
            zs[id(layer)] = x.data
    return x


# ----------------------------------------------------------------------------- the callback
class TensorBoard(Callback):
    """Write TensorBoard event files in ``log_dir`` (one folder per run): minibatch scalars every
    ``every`` updates, test scalars at every evaluation, per-layer histograms and gradient
    health every ``histogram_freq`` epochs (0: never) on a probe of ``probe_size`` training
    inputs, and at the end up to ``max_images`` weight templates and misclassified test digits.
    ``say(line)`` is told of what goes wrong with the file (default: a RuntimeWarning); after a
    failed write, ``failure`` holds that line. See the module's docstring for the tags and the
    files."""

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        histogram_freq: int = 1,
        every: int = 10,
        probe_size: int = 256,
        max_images: int = 64,
        say: Say | None = None,
    ) -> None:
        if not isinstance(log_dir, str | os.PathLike):
            raise TypeError(
                f"TensorBoard: log_dir must be a folder's path (a str or os.PathLike), got "
                f"{type(log_dir).__name__} {log_dir!r}"
            )
        self.tb = writer_modules()
        for name, value, least in (
            ("histogram_freq", histogram_freq, 0),
            ("every", every, 1),
            ("probe_size", probe_size, 1),
            ("max_images", max_images, 0),
        ):
            check_integer("TensorBoard", name, value, least)
        self.log_dir = Path(log_dir)
        if self.log_dir.exists() and not self.log_dir.is_dir():
            raise NotADirectoryError(f"TensorBoard: {self.log_dir} exists and is not a folder")
        self.histogram_freq, self.every = histogram_freq, every
        self.probe_size, self.max_images = probe_size, max_images
        self.say: Say = say if say is not None else _warn
        self.events: EventFile | None = None
        self.failure: str | None = None
        self._probe: tuple[np.ndarray, np.ndarray] | None = None
        self._in_epoch = False

    @staticmethod
    def check_installed() -> None:
        """Raise :class:`TensorBoardNotInstalled` unless the writer can be imported."""
        writer_modules()

    # ----------------------------------------------------------------- events
    def on_train_begin(self, state: TrainingState) -> None:
        self._probe = None  # the file is opened at the first event after a RunFolder resumed

    def on_test_end(self, state: TrainingState) -> None:
        h = state.history
        values = {"test/loss": h.test_loss[-1], "test/accuracy": h.test_acc[-1]}
        self._scalars(state, h.test_iterations[-1], values)
        self._flush(state)

    def on_epoch_begin(self, state: TrainingState) -> None:
        self._file(state)
        self._in_epoch = True

    def on_batch_end(self, state: TrainingState) -> None:
        step = state.iteration - 1  # the minibatch's loss was measured before this update
        if step % self.every == 0:
            values = {"train/loss": state.loss, "train/accuracy": state.accuracy}
            lr = getattr(state.optimizer, "lr", None)
            if isinstance(lr, int | float):
                values["train/learning_rate"] = lr
            self._scalars(state, step, values)

    def on_epoch_end(self, state: TrainingState) -> None:
        if self.histogram_freq and state.epoch % self.histogram_freq == 0:
            self._layer_summaries(state)
        self._scalars(state, state.iteration, {"epoch": state.epoch})  # last: the resume mark
        self._flush(state)
        self._in_epoch = False

    def on_train_end(self, state: TrainingState) -> None:
        """The images, unless an error or Ctrl-C broke off an epoch; nothing at all if no event
        opened the file (training failed to start, or a resumed run had nothing left to do:
        its file is complete), so that a failed start never replaces an earlier run's file."""
        if self.events is None:
            return
        try:
            if not self._in_epoch:
                self._end_images(state)
        finally:
            if self.events is not None:
                try:
                    self.events.close()
                except OSError as e:
                    self._failed(e, state, self.events.path)
                self.events = None
            self._in_epoch = False

    # ----------------------------------------------------------------- writing
    def _file(self, state: TrainingState) -> EventFile | None:
        """The event file, opened at the first event; None once writing has failed."""
        if self.events is None and self.failure is None:
            try:
                self.events = EventFile(self.log_dir, state.iteration, self.tb, self.say)
            except OSError as e:
                self._failed(e, state, self.log_dir)
        return self.events

    def _write(self, state: TrainingState, step: int, summary: Any) -> None:
        """One event at ``step`` (flushed if the last flush is older than FLUSH_SECONDS)."""
        events = self._file(state)
        if events is None:
            return
        try:
            events.write(self.tb.Event(wall_time=time.time(), step=step, summary=summary))
            if time.monotonic() - events.flushed > FLUSH_SECONDS:
                events.flush()
        except OSError as e:
            self._failed(e, state, events.path)

    def _flush(self, state: TrainingState) -> None:
        events = self._file(state)
        if events is not None:
            try:
                events.flush()
            except OSError as e:
                self._failed(e, state, events.path)

    def _failed(self, error: OSError, state: TrainingState, path: Path) -> None:
        """Writing failed (a full disk, say): tell ``say`` once, naming the file; write no more."""
        reason = error.strerror or one_line(error)
        self.failure = (
            f"cannot write the TensorBoard events {error.filename or path} ({reason}): they stop "
            f"at update {state.iteration}; training goes on"
        )
        if self.events is not None:
            self.events.abandon()
            self.events = None
        self.say(self.failure)

    def _scalars(self, state: TrainingState, step: int, values: dict[str, float]) -> None:
        s = self.tb.Summary
        summary = s(value=[s.Value(tag=t, simple_value=float(v)) for t, v in values.items()])
        self._write(state, step, summary)

    def _summaries(self, state: TrainingState, step: int, values: list[Any]) -> None:
        """One event of summary values (histograms, images) at ``step``."""
        if values:
            self._write(state, step, self.tb.Summary(value=values))

    def _histogram(self, tag: str, values: np.ndarray | None) -> list[Any]:
        """A histogram of the finite values in :data:`HISTOGRAM_BINS` equal bins (none if there
        are none): TensorBoard's HistogramProto, ``bucket_limit`` the right edges."""
        if values is None:
            return []
        v = values.astype(np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            return []
        counts, edges = np.histogram(v, bins=HISTOGRAM_BINS)
        histogram = self.tb.HistogramProto(
            min=v.min(),
            max=v.max(),
            num=v.size,
            sum=v.sum(),
            sum_squares=v @ v,
            bucket_limit=edges[1:].tolist(),
            bucket=counts.tolist(),
        )
        return [self.tb.Summary.Value(tag=tag, histo=histogram)]

    def _image(self, tag: str, rgb: np.ndarray) -> Any:
        """An RGB uint8 (H, W, 3) image as a PNG summary value."""
        from PIL import Image

        png = io.BytesIO()
        Image.fromarray(rgb).save(png, format="PNG")
        h, w = rgb.shape[:2]
        image = self.tb.Summary.Image(
            height=h, width=w, colorspace=3, encoded_image_string=png.getvalue()
        )
        return self.tb.Summary.Value(tag=tag, image=image)

    def _layer_summaries(self, state: TrainingState) -> None:
        """Per weighted layer: histograms of W, b, dL/dW, dL/db and z; ||dL/dW||; saturation or
        dead ReLUs; all on the probe batch."""
        x, y = self._probe_batch(state)
        with np.errstate(all="ignore"):
            probes = probe_layers(state.model, state.loss_fn, x, y)
        histograms: list[Any] = []
        scalars: dict[str, float] = {}
        for p in probes:
            histograms += self._histogram(f"weights/{p.name}", p.weight)
            histograms += self._histogram(f"weights/{p.name}.bias", p.bias)
            histograms += self._histogram(f"gradients/{p.name}", p.weight_grad)
            histograms += self._histogram(f"gradients/{p.name}.bias", p.bias_grad)
            histograms += self._histogram(f"preactivations/{p.name}", p.z)
            if p.weight_grad is not None:
                scalars[f"grad_norm/{p.name}"] = float(np.linalg.norm(p.weight_grad))
            if p.saturated is not None:
                scalars[f"saturated/{p.name}"] = p.saturated
            if p.dead is not None:
                scalars[f"dead_relu/{p.name}"] = p.dead
        self._summaries(state, state.iteration, histograms)
        self._scalars(state, state.iteration, scalars)

    def _probe_batch(self, state: TrainingState) -> tuple[np.ndarray, np.ndarray]:
        """The first ``probe_size`` training inputs and labels, shaped like the minibatches."""
        if self._probe is None:
            loader = state.batches
            data = loader.dataset
            n = min(self.probe_size, len(loader.labels))
            head = data.subset(n) if isinstance(data, Dataset) else (data[0][:n], data[1][:n])
            self._probe = next(iter(DataLoader(head, n, flatten=loader.flatten)))
        return self._probe

    # ----------------------------------------------------------------- images
    def _end_images(self, state: TrainingState) -> None:
        """The first layer's weights as templates and the misclassified test digits."""
        if self.max_images == 0:
            return
        images = []
        layers = _weighted_layers(state.model)
        if layers:
            grid = weight_templates(layers[0][0].weight.data, self.max_images)
            if grid is not None:
                images.append(("images/first_layer_weights", grid))
        if state.test_batches is not None:
            wrong = _misclassified(state, self.max_images)
            if wrong is not None:
                images.append(("images/misclassified", misclassified_figure(*wrong)))
        self._summaries(state, state.iteration, [self._image(tag, rgb) for tag, rgb in images])


def _warn(line: str) -> None:
    """The default ``say`` of :class:`TensorBoard`: a RuntimeWarning."""
    warnings.warn(f"TensorBoard: {line}", RuntimeWarning, stacklevel=3)


# ----------------------------------------------------------------------------- log folders
def claim_log_folder(
    parent: str | os.PathLike[str],
    name: str,
    run_id: str,
    run_folder: str | os.PathLike[str],
    prefer: str | os.PathLike[str] | None = None,
    replace: bool = False,
) -> Path:
    """A log folder for the run ``run_id`` (kept in ``run_folder``) alone: ``prefer`` if given,
    else ``parent/name``, else ``parent/name-2``, ``-3``, ...: the first that is new (created
    here), or whose :data:`OWNER_FILE` names this run, or with ``replace`` (a new run replacing
    the old one in the same run folder) names ``run_folder``. ``prefer`` (a resumed run's
    recorded folder) is also taken when it has no owner file (written before there were any).
    Any other folder, a foreign run's or one of unknown owner, is never used, so a run never
    removes another's events. The owner file is (re)written for this run."""
    parent, run_folder = Path(parent), str(Path(run_folder).resolve())
    tried = [Path(prefer)] if prefer is not None else []
    tried += [parent / name, *(parent / f"{name}-{k}" for k in range(2, 1000))]
    for folder in tried:
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            owner = _owner(folder)
            ours = owner is not None and (
                owner.get("run_id") == run_id or (replace and owner.get("run_folder") == run_folder)
            )
            if not (ours or (owner is None and folder == tried[0] and prefer is not None)):
                continue
        text = json.dumps({"run_id": run_id, "run_folder": run_folder}) + "\n"
        atomic_write(folder / OWNER_FILE, lambda f, text=text: f.write(text.encode()))
        return folder
    raise FileExistsError(errno.EEXIST, "no free log folder (name-2 to name-999 are taken)", name)


def _owner(folder: Path) -> dict[str, Any] | None:
    """What ``folder``'s owner file says (None without one; {} when it is unreadable, or when
    ``folder`` is not a folder: an owner that is never this run)."""
    if not folder.is_dir():
        return {}
    try:
        owner = parse_json((folder / OWNER_FILE).read_bytes(), ValueError, str(folder))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _side(n: int) -> int | None:
    """The side of a square image of n pixels (None if n is not a square)."""
    side = math.isqrt(n)
    return side if side * side == n and side > 1 else None


def weight_templates(weight: np.ndarray, max_units: int = 64, cols: int = 8) -> np.ndarray | None:
    """The rows of a (units, side^2) weight matrix as side x side templates in a grid (RGB uint8,
    each template scaled to its own max|w|: red positive, blue negative, white 0); None when
    the inputs are not square images."""
    side = _side(weight.shape[1]) if weight.ndim == 2 else None
    if side is None:
        return None
    from matplotlib import colormaps

    w = np.nan_to_num(weight[:max_units].astype(np.float64)).reshape(-1, side, side)
    scale = np.abs(w).max(axis=(1, 2), keepdims=True)
    scaled = w / np.where(scale > 0, scale, 1.0)
    cols = min(cols, len(w))
    rows = math.ceil(len(w) / cols)
    grid = np.full((rows * (side + 1) + 1, cols * (side + 1) + 1), np.nan)
    for i, t in enumerate(scaled):
        r, c = divmod(i, cols)
        grid[
            1 + r * (side + 1) : (r + 1) * (side + 1), 1 + c * (side + 1) : (c + 1) * (side + 1)
        ] = t
    rgb = colormaps["RdBu_r"](0.5 + 0.5 * np.nan_to_num(grid))[..., :3]
    rgb[np.isnan(grid)] = 0.3  # grey lines between the templates
    return np.kron((255 * rgb).astype(np.uint8), np.ones((2, 2, 1), np.uint8))


def _misclassified(
    state: TrainingState, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Up to ``limit`` test inputs the model gets wrong: (images (n, side, side), true, said)."""
    assert state.test_batches is not None
    xs, ts, ps = [], [], []
    found = 0
    modes = [(m, m.training) for m in state.model.modules()]
    state.model.eval()
    try:
        with no_grad(), np.errstate(all="ignore"):
            for x, y in state.test_batches:
                said = predicted_labels(state.model(Tensor(x)).data, state.probabilities)
                wrong = np.flatnonzero(said != y)[: limit - found]
                xs.append(x[wrong])
                ts.append(y[wrong])
                ps.append(said[wrong])
                found += len(wrong)
                if found >= limit:
                    break
    finally:
        for m, mode in modes:
            m.training = mode
    x = np.concatenate(xs) if xs else np.zeros((0, 0))
    side = _side(x[0].size) if len(x) else None
    if side is None:
        return None
    return x.reshape(len(x), side, side), np.concatenate(ts), np.concatenate(ps)


def misclassified_figure(images: np.ndarray, true: np.ndarray, said: np.ndarray) -> np.ndarray:
    """The digits in a grid, each captioned ``<true> as <predicted>``: RGB uint8 (one matplotlib
    image and a text per digit, about 0.1 s for 64)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n, side = images.shape[:2]
    cols = min(8, n)
    rows = math.ceil(n / cols)
    cell_w, cell_h, top = side + 2, side + 12, 12  # 12 pixels above each digit for its caption
    grid = np.zeros((rows * cell_h, cols * cell_w))
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * cell_h + top : (r + 1) * cell_h, c * cell_w + 1 : c * cell_w + 1 + side] = image
    fig = Figure(figsize=(grid.shape[1] / 40, grid.shape[0] / 40), dpi=100)  # 2.5 px per pixel
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.imshow(np.clip(grid, 0, 1), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    for i, (t, p) in enumerate(zip(true, said, strict=True)):
        r, c = divmod(i, cols)
        x, y = c * cell_w + 1 + side / 2, r * cell_h + top / 2
        ax.text(x, y, f"{t} as {p}", ha="center", va="center", fontsize=11, color="firebrick")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
