"""Training and evaluation: ``fit`` -> ``History``, ``evaluate``, ``predict``, confusion matrix,
and ``save``/``load`` of models as ``.npz`` files (from :mod:`tinygrad_edu.modelfile`).

Data for ``fit``/``evaluate`` may be a :class:`~tinygrad_edu.data.Dataset` (batched here by a
:class:`~tinygrad_edu.data.DataLoader`, shuffled with ``seed`` for training), a ``DataLoader``
(used as it is: its own batch size, order and seed), or a pair ``(x, y)`` of arrays: x float
(N, 784) or (N, 28, 28) (uint8 images are scaled by 1/255), y (N,) integer labels.

Iterations count parameter updates. The minibatch loss recorded at iteration i is computed on
the i-th minibatch *before* its update, i.e. with the parameters after i updates, so
``iterations[0] == 0`` is the loss before the first step; test metrics at ``test_iterations[j]``
are measured after that many updates (0 = before training).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn
from ..data import DataLoader, Dataset
from ..function import ShapeError, no_grad
from ..nn import functional as F
from ..optim import Optimizer
from ..tensor import Tensor
from . import runlog

# model files live in modelfile.py; re-exported so `from .train import save, load` still works
from .modelfile import MODEL_FORMAT, ModelFileError, load, read_metadata, save
from .modelfile import MODEL_FORMAT_VERSION as MODEL_FORMAT_VERSION
from .runfolder import RunRecorder
from .runlog import atomic_write as _atomic_write

__all__ = [
    "MODEL_FORMAT",
    "History",
    "ModelFileError",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load",
    "predict",
    "read_metadata",
    "save",
]

EVAL_BATCH_SIZE = 4096

LossFn = Callable[[Tensor, np.ndarray], Tensor]
Data = Any  # Dataset | DataLoader | tuple[np.ndarray, np.ndarray]

#: Loss names accepted wherever a loss is asked for, and their functions.
LOSSES: dict[str, LossFn] = {
    "cross_entropy": F.cross_entropy,
    "nll": F.nll_loss,
    "mse": lambda out, y: F.mse_loss(out, F.one_hot(y, out.shape[-1], out.dtype)),
    "bce": F.binary_cross_entropy,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


# =============================================================================== History
@dataclass
class History:
    """What ``fit`` measured; every list is in the order it was recorded.

    * ``iterations``, ``train_loss``, ``train_acc``: one entry per update: the minibatch loss
      and accuracy (fraction in [0, 1]) just before update ``iterations[i] + 1``.
    * ``test_iterations``, ``test_loss``, ``test_acc``: the test set, before the first update
      (iteration 0), every ``eval_every`` updates and at the end of every epoch.
    * ``epoch_end_iterations[e]``: updates done at the end of epoch e + 1;
      ``epoch_times[e]``: its wall-clock seconds of training (loading batches, forward, backward,
      update, bookkeeping), test evaluation excluded; ``epoch_eval_times[e]``: its seconds of
      test evaluation.
    * ``config``: how it was trained (model, optimiser, loss, batch size, seed, data, ...).
    """

    iterations: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_iterations: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    epoch_eval_times: list[float] = field(default_factory=list)
    epoch_end_iterations: list[int] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    _GROUPS = (
        ("iterations", "train_loss", "train_acc"),
        ("test_iterations", "test_loss", "test_acc"),
        ("epoch_times", "epoch_eval_times", "epoch_end_iterations"),
    )

    @property
    def epochs(self) -> int:
        """Completed epochs."""
        return len(self.epoch_end_iterations)

    @property
    def final_test_acc(self) -> float:
        """The last measured test accuracy (nan if none)."""
        return self.test_acc[-1] if self.test_acc else math.nan

    @property
    def final_test_loss(self) -> float:
        return self.test_loss[-1] if self.test_loss else math.nan

    def epoch_train_loss(self) -> list[float]:
        """Mean minibatch loss over each epoch."""
        out, start = [], 0
        for end in self.epoch_end_iterations:
            chunk = self.train_loss[start:end]
            out.append(float(np.mean(chunk)) if chunk else math.nan)
            start = end
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, numbers and strings (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing lists are empty.

        Raises ValueError if a field has the wrong type or parallel lists differ in length.
        """
        if not isinstance(d, dict):
            raise ValueError(f"History.from_dict: expected a dict, got {type(d).__name__}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            if f.name == "config":
                if not isinstance(value, dict):
                    raise ValueError(f"History.from_dict: 'config' must be a dict, got {value!r}")
                kwargs[f.name] = dict(value)
                continue
            if not isinstance(value, list):
                raise ValueError(
                    f"History.from_dict: {f.name!r} must be a list, got {type(value).__name__}"
                )
            cast = int if "iterations" in f.name else float
            try:
                kwargs[f.name] = [cast(v) if v is not None else math.nan for v in value]
            except (TypeError, ValueError):
                raise ValueError(f"History.from_dict: {f.name!r} holds non-numbers") from None
        history = cls(**kwargs)
        history._check()
        return history

    def _check(self) -> None:
        for group in self._GROUPS:
            lengths = {name: len(getattr(self, name)) for name in group}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"History: lists of different lengths: {lengths}")

    def to_json(self) -> str:
        """The :meth:`to_dict` form as a JSON string."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> History:
        """Inverse of :meth:`to_json`."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ValueError(f"History: not valid JSON ({e})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write JSON to ``path`` atomically (temp file + rename)."""
        text = self.to_json()
        _atomic_write(Path(path), lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        """Read a History written by :meth:`save`."""
        try:
            return cls.from_json(Path(path).read_text())
        except ValueError as e:
            raise ValueError(f"History.load: {path}: {e}") from None

    @classmethod
    def from_metrics(cls, source: str | os.PathLike[str] | list[dict[str, Any]]) -> History:
        """The history recorded in a metrics log (``metrics.jsonl``, a run folder holding one, or
        its records from :func:`~tinygrad_edu.runlog.read_metrics`), as far as it goes.

        Minibatch values come from ``epoch`` records, so a run still in its first epoch has
        only test evaluations; a killed run gives what was logged before it died. Raises
        :class:`~tinygrad_edu.runlog.MetricsLogError` for a missing, empty or corrupt log.
        """
        records = source if isinstance(source, list) else runlog.read_metrics(source)
        h = cls()
        for r in records:
            event = r.get("event")
            if event == "config" and not h.config:
                h.config = dict(r.get("config") or {})
                h.config.setdefault("epochs", r.get("epochs"))
            elif event == "resume":  # drop anything logged after the checkpoint it resumed from
                epoch, iteration = int(r["epoch"]), int(r["iteration"])
                if h.config:
                    h.config["epochs"] = r.get("epochs", h.config.get("epochs"))
                keep = sum(1 for i in h.test_iterations if i <= iteration)
                for name in ("test_iterations", "test_loss", "test_acc"):
                    del getattr(h, name)[keep:]
                for name in ("epoch_times", "epoch_eval_times", "epoch_end_iterations"):
                    del getattr(h, name)[epoch:]
                for name in ("iterations", "train_loss", "train_acc"):
                    del getattr(h, name)[iteration:]
            elif event == "eval":
                h.test_iterations.append(int(r["iteration"]))
                h.test_loss.append(_float(r.get("test_loss")))
                h.test_acc.append(_float(r.get("test_acc")))
            elif event == "epoch":
                losses, accs = r.get("batch_loss") or [], r.get("batch_acc") or []
                end = int(r["iteration"])
                h.iterations.extend(range(end - len(losses), end))
                h.train_loss.extend(_float(v) for v in losses)
                h.train_acc.extend(_float(v) for v in accs)
                h.epoch_times.append(_float(r.get("seconds")))
                h.epoch_eval_times.append(_float(r.get("eval_seconds")))
                h.epoch_end_iterations.append(end)
        try:
            h._check()
        except ValueError as e:
            raise runlog.MetricsLogError(f"inconsistent metrics log: {e}") from None
        return h

    def summary(self) -> str:
        """One line: epochs, final minibatch and test metrics, total training seconds."""
        parts = [
            f"{self.epochs} epochs, {self.iterations[-1] + 1 if self.iterations else 0} updates"
        ]
        if self.test_acc:
            parts.append(
                f"test loss {self.final_test_loss:.4f} acc {100 * self.final_test_acc:.2f}%"
            )
        parts.append(f"{sum(self.epoch_times):.2f} s training")
        return ", ".join(parts)


def _float(value: Any) -> float:
    """A logged number (null for NaN/inf) as a float."""
    return math.nan if value is None else float(value)


# =============================================================================== data
class _ArrayLoader:
    """Minibatches of in-memory arrays ``(x, y)``, optionally shuffled with a seeded generator."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int | None
    ) -> None:
        self.x, self.y = x, y
        self.batch_size, self.shuffle = batch_size, shuffle
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n, b = len(self.y), self.batch_size
        if not self.shuffle:
            for s in range(0, n, b):
                yield self.x[s : s + b], self.y[s : s + b]
            return
        order = self._rng.permutation(n)
        for s in range(0, n, b):
            idx = order[s : s + b]
            yield self.x[idx], self.y[idx]


def _as_features(x: Any) -> np.ndarray:
    """Model input as floats: uint8 images are scaled to [0, 1] float32."""
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) * np.float32(1 / 255)
    if x.dtype.kind not in "f":
        raise TypeError(f"expected float or uint8 inputs, got dtype {x.dtype}")
    return x


def _loader(
    data: Data,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    who: str,
    flatten: bool = True,
) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """A re-iterable source of ``(x, y)`` batches for ``data`` (see the module docstring)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"{who}: batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, Dataset):
        if len(data) == 0:
            raise ValueError(f"{who}: dataset {data.name!r} is empty")
        return DataLoader(data, batch_size, shuffle=shuffle, seed=seed, flatten=flatten)
    if isinstance(data, tuple) and len(data) == 2:
        x, y = _as_features(data[0]), np.asarray(data[1])
        if not flatten and x.ndim == 3:
            x = x[:, None]  # (N, H, W) -> (N, 1, H, W) for a convolution
        if len(x) != len(y):
            raise ShapeError(f"{who}: {len(x)} inputs but {len(y)} labels")
        if len(y) == 0:
            raise ValueError(f"{who}: no samples")
        return _ArrayLoader(x, y, batch_size, shuffle, seed)
    raise TypeError(
        f"{who}: expected a Dataset, a DataLoader or a pair (x, y) of arrays, got "
        f"{type(data).__name__}"
    )


def _data_name(data: Data) -> str | None:
    if isinstance(data, DataLoader):
        data = data.dataset
    return getattr(data, "name", None)


# =============================================================================== metrics
def _is_probability_loss(loss: Any) -> bool:
    return loss is F.binary_cross_entropy or isinstance(loss, nn.BCELoss) or loss == "bce"


def _labels_from_outputs(out: np.ndarray, probabilities: bool = False) -> np.ndarray:
    """Predicted labels: argmax over classes for (N, C>1); for one output per sample, class 1
    where the logit is > 0 (the probability > 1/2 if ``probabilities``)."""
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    flat = out.reshape(out.shape[0]) if out.ndim else out.reshape(1)
    return (flat > (0.5 if probabilities else 0.0)).astype(np.int64)


def accuracy(outputs: Any, labels: Any, probabilities: bool = False) -> float:
    """Fraction of samples whose predicted label (argmax of (N, C) outputs, or a threshold for one
    output per sample: logit > 0, or probability > 1/2) equals the label."""
    out = np.asarray(outputs.data if isinstance(outputs, Tensor) else outputs)
    y = np.asarray(labels)
    if len(out) != len(y):
        raise ShapeError(f"accuracy: {len(out)} outputs but {len(y)} labels")
    if len(y) == 0:
        return math.nan
    return float(np.mean(_labels_from_outputs(out, probabilities) == y.reshape(len(y))))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int = 10) -> np.ndarray:
    """M (C, C) int64 with M[i, j] = number of samples of true class i predicted as class j.

    Computed in one ``np.bincount`` of ``i * C + j``. Labels must be integers in [0, C).
    """
    t = np.asarray(y_true).reshape(-1) if np.ndim(y_true) else np.asarray([y_true])
    p = np.asarray(y_pred).reshape(-1) if np.ndim(y_pred) else np.asarray([y_pred])
    if t.shape != p.shape:
        raise ShapeError(f"confusion_matrix: {t.size} true labels but {p.size} predictions")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise ValueError(
            f"confusion_matrix: num_classes must be a positive int, got {num_classes!r}"
        )
    for name, a in (("y_true", t), ("y_pred", p)):
        if a.size and a.dtype.kind not in "iub":
            raise TypeError(f"confusion_matrix: {name} must be integer labels, got {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix: {name} spans {a.min()}..{a.max()}, outside 0..{num_classes - 1}"
            )
    c = num_classes
    flat = t.astype(np.int64) * c + p.astype(np.int64)
    return np.bincount(flat, minlength=c * c).reshape(c, c)


def _resolve_loss(loss: Any, who: str) -> LossFn:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"{who}: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(
            f"{who}: loss must be a callable (out, y) -> Tensor or a name, got "
            f"{type(loss).__name__}"
        )
    return loss


def _default_loss(out: Tensor, y: np.ndarray) -> Tensor:
    """Cross-entropy for (N, C>1) logits, binary cross-entropy from logits for one output."""
    if out.ndim == 2 and out.shape[1] > 1:
        return F.cross_entropy(out, y)
    return F.binary_cross_entropy_with_logits(out, y)


# =============================================================================== evaluate
def evaluate(
    model: nn.Module,
    dataset: Data,
    loss: LossFn | str | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` over ``dataset``, in eval mode under ``no_grad``.

    ``loss`` (a mean over its batch) defaults to cross-entropy for (N, C>1) outputs and to
    binary cross-entropy from logits for one output per sample. The mean is over samples.
    """
    flat = not _wants_images(model)
    return _evaluate(model, _loader(dataset, batch_size, False, None, "evaluate", flat), loss)


def _evaluate(
    model: nn.Module, batches: Iterable[tuple[np.ndarray, np.ndarray]], loss: Any
) -> tuple[float, float]:
    loss_fn = _default_loss if loss is None else _resolve_loss(loss, "evaluate")
    probabilities = _is_probability_loss(loss)
    was_training = model.training
    model.eval()
    total = correct = 0.0
    n = 0
    try:
        with no_grad():
            for x, y in batches:
                out = model(Tensor(x))
                b = len(y)
                total += float(loss_fn(out, y).data) * b
                correct += float(np.sum(_labels_from_outputs(out.data, probabilities) == y))
                n += b
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: no samples")
    return total / n, correct / n


def _first_layer(model: nn.Module) -> nn.Module | None:
    """The first module that reads the input: a Linear (``in_features``) or a convolution
    (``in_channels``)."""
    for m in model.modules():
        if hasattr(m, "in_features") or hasattr(m, "in_channels"):
            return m
    return None


def _wants_images(model: nn.Module) -> bool:
    """True if the model starts with a convolution, so takes (N, C, H, W) images."""
    first = _first_layer(model)
    return first is not None and hasattr(first, "in_channels")


def _shape_input(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Reshape x to what the model's first layer reads: (N, d) for a Linear, (N, C, H, W) for a
    convolution; one sample without a batch axis becomes a batch of one."""
    first = _first_layer(model)
    if first is None:
        return x
    if hasattr(first, "in_channels"):
        c = first.in_channels
        if x.ndim == 4:
            return x
        if x.ndim == 3:  # (N, H, W) greyscale images, or one (C, H, W) image
            return x[None] if c > 1 and x.shape[0] == c else x.reshape(len(x), c, *x.shape[1:])
        if x.ndim <= 2:
            flat = x.reshape(1, -1) if x.ndim == 1 else x
            side = math.isqrt(flat.shape[1] // c) if flat.shape[1] % c == 0 else 0
            if side and c * side * side == flat.shape[1]:  # (N, C*H*W) rows of square images
                return flat.reshape(len(flat), c, side, side)
            return x.reshape(1, c, *x.shape) if x.ndim == 2 and c == 1 else x  # one (H, W)
        return x
    d = first.in_features
    if x.ndim == 1 or (x.ndim >= 2 and x.size == d and math.prod(x.shape[1:]) != d):
        return x.reshape(1, -1)  # one sample, e.g. (784,) or (28, 28)
    if x.ndim > 2 and math.prod(x.shape[1:]) == d:
        return x.reshape(len(x), d)
    return x


def predict(
    model: nn.Module,
    x: Any,
    batch_size: int = EVAL_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) for inputs x, in eval mode under ``no_grad``.

    x: float (N, 784), (N, 28, 28) or (N, 1, 28, 28), reshaped to what the model's first layer
    reads; uint8 images are scaled by 1/255; one image (784,) or (28, 28) is a batch of one; a
    Dataset gives its images. For (N, C>1) logits the probabilities are softmax (N, C) and the
    labels their argmax; for one logit per sample, sigmoid (the output's shape) and labels 1
    where it is > 1/2.
    """
    if isinstance(x, Dataset):
        x = x.images
    x = _shape_input(model, _as_features(x))
    was_training = model.training
    model.eval()
    outs = []
    try:
        with no_grad():
            for s in range(0, len(x), batch_size):
                outs.append(np.asarray(model(Tensor(x[s : s + batch_size])).data))
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: no inputs")
    z = np.concatenate(outs)
    if z.ndim == 2 and z.shape[1] > 1:
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p, p.argmax(axis=1)
    with np.errstate(over="ignore"):
        p = 1 / (1 + np.exp(-z))
    return p, (p.reshape(len(p)) > 0.5).astype(np.int64)


# =============================================================================== fit
def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but training must not need it
        return None
    return tqdm(total=total, desc=desc, leave=False, unit="it", dynamic_ncols=True)


def fit(
    model: nn.Module,
    train: Data,
    test: Data | None,
    loss: LossFn | str,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 256,
    eval_every: int | None = None,
    seed: int | None = None,
    shuffle: bool = True,
    eval_batch_size: int = EVAL_BATCH_SIZE,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    on_epoch_end: Callable[[int, History], None] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` by minibatch gradient descent; return the :class:`History`.

    Each step: ``out = model(x)``, ``l = loss(out, y)`` (``loss`` is a callable such as
    ``nn.cross_entropy`` or ``nn.CrossEntropyLoss()``, or a name in ``LOSSES``),
    ``optimizer.zero_grad()``, ``l.backward()``, ``optimizer.step()``.

    * ``train``/``test``: Dataset, DataLoader or (x, y) (module docstring); ``test`` may be None.
      A Dataset is batched with ``batch_size`` and, if ``shuffle``, reshuffled every epoch from
      ``seed``; a DataLoader keeps its own settings.
    * ``eval_every``: also evaluate on ``test`` every k updates (besides before the first update
      and at every epoch end); None or 0 for epoch ends only.
    * ``seed`` fixes the batch order and Dropout masks: with the same seed (and the same initial
      parameters) two runs give the same numbers bit for bit.
    * ``progress``: a tqdm bar per epoch; ``log``: called with one summary line per epoch;
      ``on_epoch_end(epoch, history)``: called after each epoch (e.g. to decay ``optimizer.lr``).
    * ``run_dir``: a folder for ``metrics.jsonl`` (one JSON line per evaluation and per epoch,
      flushed as written) and ``checkpoint.npz`` (model, optimiser, batch-order and Dropout RNG
      states, history; replaced atomically after every epoch); see :mod:`tinygrad_edu.runlog`.
      ``run_info`` (JSON-ready) is kept in both.
    * ``resume=True`` continues the run in ``run_dir`` from its checkpoint up to ``epochs``:
      build ``model`` and ``optimizer`` as before (their state is loaded) and pass the same data,
      loss, batch size and seed; the result is bit for bit that of an uninterrupted run (the
      timings aside). Raises FileNotFoundError without a checkpoint and
      :class:`~tinygrad_edu.runlog.CheckpointError` if it is corrupt or does not fit.
    """
    who = "fit"
    if not isinstance(model, nn.Module):
        raise TypeError(f"{who}: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{who}: optimizer must be a tinygrad_edu.optim optimiser, got "
            f"{type(optimizer).__name__}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"{who}: epochs must be an integer >= 0, got {epochs!r}")
    if eval_every is not None and (
        isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0
    ):
        raise ValueError(f"{who}: eval_every must be None or an integer >= 0, got {eval_every!r}")
    if resume and run_dir is None:
        raise ValueError(f"{who}: resume=True needs the run_dir to resume")
    loss_fn = _resolve_loss(loss, who)
    probabilities = _is_probability_loss(loss)
    flat = not _wants_images(model)  # a Dataset is batched as (B, 784), or (B, 1, 28, 28)
    train_batches = _loader(train, batch_size, shuffle, seed, who, flat)
    test_batches = None if test is None else _loader(test, eval_batch_size, False, None, who, flat)
    if seed is not None:
        _reseed_dropout(model, seed)

    history = History(
        config={
            "model": repr(model),
            "optimizer": repr(optimizer),
            "loss": loss
            if isinstance(loss, str)
            else getattr(loss, "__name__", type(loss).__name__),
            "epochs": epochs,
            "batch_size": getattr(train_batches, "batch_size", batch_size),
            "eval_every": eval_every or None,
            "seed": seed,
            "train": _data_name(train),
            "test": _data_name(test),
        }
    )
    recorder: RunRecorder | None = None
    start_epoch = iteration = 0
    if run_dir is not None:
        recorder = RunRecorder(Path(run_dir), model, optimizer, train_batches, run_info)
        if resume:
            history = recorder.resume(history, epochs, _data_size(train), _data_size(test))
            start_epoch, iteration = history.epochs, recorder.iteration
        else:
            recorder.start(history, epochs, _data_size(train), _data_size(test))
    last_eval = 0  # index in history.train_loss where the minibatches since the last eval start

    def run_test(iteration: int, epoch: int) -> None:
        nonlocal last_eval
        if test_batches is not None:
            test_loss, test_acc = _evaluate(model, test_batches, loss)
            history.test_iterations.append(iteration)
            history.test_loss.append(test_loss)
            history.test_acc.append(test_acc)
            if recorder is not None:
                recorder.log_eval(history, epoch, last_eval)
            last_eval = len(history.train_loss)

    try:
        if not resume:
            run_test(0, 0)
        last_eval = len(history.train_loss)
        iters, losses, accs = history.iterations, history.train_loss, history.train_acc
        for epoch in range(start_epoch + 1, epochs + 1):
            model.train()
            n_batches = len(train_batches) if hasattr(train_batches, "__len__") else 0
            bar = _progress_bar(n_batches, f"epoch {epoch}/{epochs}", progress)
            eval_seconds = 0.0
            start = time.perf_counter()
            for x, y in train_batches:
                out = model(Tensor(x))
                l = loss_fn(out, y)
                optimizer.zero_grad()
                l.backward()
                optimizer.step()
                iters.append(iteration)
                losses.append(float(l.data))
                hits = _labels_from_outputs(out.data, probabilities) == y
                accs.append(np.count_nonzero(hits) / hits.size)
                iteration += 1
                if bar is not None:
                    bar.update()
                    if iteration % 20 == 0:
                        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
                if eval_every and iteration % eval_every == 0:
                    t0 = time.perf_counter()
                    run_test(iteration, epoch)
                    eval_seconds += time.perf_counter() - t0
            train_seconds = time.perf_counter() - start - eval_seconds
            if bar is not None:
                bar.close()
            if not (history.test_iterations and history.test_iterations[-1] == iteration):
                t0 = time.perf_counter()
                run_test(iteration, epoch)
                eval_seconds += time.perf_counter() - t0
            history.epoch_times.append(train_seconds)
            history.epoch_eval_times.append(eval_seconds)
            history.epoch_end_iterations.append(iteration)
            if recorder is not None:
                recorder.log_epoch(history)
            if log is not None:
                log(_epoch_line(history, epoch, epochs))
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
            if recorder is not None:
                recorder.checkpoint(history, epochs)
    finally:
        if recorder is not None:
            recorder.close()
    return history


def _data_size(data: Data | None) -> int | None:
    """Number of samples in ``data`` (None if unknown)."""
    if isinstance(data, DataLoader):
        data = data.dataset
    if isinstance(data, Dataset):
        return len(data)
    if isinstance(data, tuple) and len(data) == 2:
        return len(data[1])
    return None


def _epoch_line(history: History, epoch: int, epochs: int) -> str:
    width = len(str(epochs))
    line = f"epoch {epoch:>{width}}/{epochs}  train loss {history.epoch_train_loss()[-1]:.4f}"
    start = history.epoch_end_iterations[-2] if len(history.epoch_end_iterations) > 1 else 0
    accs = history.train_acc[start:]
    if accs:
        line += f" acc {100 * float(np.mean(accs)):6.2f}%"
    if history.test_acc:
        line += (
            f"  test loss {history.final_test_loss:.4f} acc {100 * history.final_test_acc:6.2f}%"
        )
    return line + f"  {history.epoch_times[-1]:.2f} s"


def _reseed_dropout(model: nn.Module, seed: int) -> None:
    """Give every Dropout layer its own generator derived from ``seed``."""
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    children = np.random.SeedSequence(seed).spawn(len(dropouts))
    for m, child in zip(dropouts, children, strict=True):
        m.rng = np.random.default_rng(child)
