"""The metrics log of a run folder: ``metrics.jsonl``, one JSON record per line.

``RUN_DIR/metrics.jsonl`` holds one JSON object per line, in the order things happened (see
``docs/training.md`` for every field):

* ``{"event": "config", ...}`` first: how the run was set up;
* ``{"event": "eval", "iteration", "epoch", "train_loss", "train_acc", "test_loss",
  "test_acc", ...}`` at every test evaluation (train values: mean of the minibatches since the
  previous evaluation; null before the first update);
* ``{"event": "epoch", "epoch", "iteration", "seconds", "eval_seconds", "threads", ...,
  "batch_loss", "batch_acc"}`` at every epoch end, with the epoch's per-minibatch values;
* ``{"event": "resume", "epoch", "iteration", "epochs", ...}`` where a run was resumed.

Every line is flushed when written, and the file is fsync'ed at epoch ends, so a run can be
plotted while it trains. Non-finite numbers are written as null (strict JSON). Readers
(:func:`read_metrics`) skip a last line cut short by a killed writer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import jsonable, parse_json

__all__ = ["METRICS_FILE", "MetricsLogError", "MetricsWriter", "read_metrics"]

METRICS_FILE = "metrics.jsonl"


class MetricsLogError(ValueError):
    """A metrics log is missing, empty or corrupt (before its last line)."""


class MetricsWriter:
    """Append JSON lines to a metrics log; each line is flushed as it is written.

    ``truncate_at``: when resuming, cut the file to this many bytes first (the size it had at
    the checkpoint), dropping records of work that the resumed run repeats exactly; ``None``
    starts a new, empty log.
    """

    def __init__(self, path: str | os.PathLike[str], truncate_at: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if truncate_at is None:
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        else:
            self._file = open(self.path, "ab")  # noqa: SIM115
            size = self._file.seek(0, os.SEEK_END)
            if size > truncate_at:
                self._file.truncate(truncate_at)
            elif size < truncate_at:  # the log lost its end: keep what is there, whole lines
                self._cut_partial_line()
            self._file.seek(0, os.SEEK_END)

    def _cut_partial_line(self) -> None:
        self._file.flush()
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self._file.truncate(data.rfind(b"\n") + 1)

    @property
    def offset(self) -> int:
        """Bytes written so far (the file's size)."""
        return self._file.tell()

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one line (numpy numbers converted, NaN/inf as null); flush."""
        line = json.dumps(jsonable(record), allow_nan=False, separators=(", ", ": "))
        self._file.write(line.encode() + b"\n")
        self._file.flush()

    def sync(self) -> None:
        """Flush and fsync: what was written survives a crash of the machine."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a metrics log (a ``metrics.jsonl`` file or a run folder holding one).

    A last line without its newline or that is not valid JSON (a writer killed mid-line) is
    skipped; an invalid line before it (not JSON, not UTF-8, nested too deeply) raises
    :class:`MetricsLogError` naming the line. Raises MetricsLogError for a missing or empty log.
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MetricsLogError(f"no metrics log at {path}") from None
    except IsADirectoryError:
        raise MetricsLogError(f"{path} is a folder, not a metrics log") from None
    lines = data.split(b"\n")
    last_number = max((n for n, raw in enumerate(lines, 1) if raw.strip()), default=0)
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        last = number == last_number
        try:
            record = parse_json(raw, MetricsLogError, f"{path}: line {number}")
        except MetricsLogError:
            if last:
                break  # cut short by a killed writer
            raise
        if not isinstance(record, dict) or "event" not in record:
            if last:
                break
            raise MetricsLogError(f"{path}: line {number} is not a record with an 'event'")
        records.append(record)
    if not records:
        raise MetricsLogError(f"the metrics log {path} is empty")
    return records
