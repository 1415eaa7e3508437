"""Training: the loop (``fit``, sending events to callbacks), ``evaluate`` and ``predict``,
``History``, model files and run folders.

Modules, bottom up: ``files`` (atomic writes, .npz with JSON metadata), ``metricslog``
(metrics.jsonl), ``checkpoint`` (checkpoint.npz), ``modelfile`` (save / load a model),
``metrics`` (accuracy, confusion matrix), ``evaluation`` (evaluate, predict, batches, losses),
``history`` (History), ``callbacks`` (the events and the ready-made callbacks), ``runfolder``
(RunFolder: log, checkpoints, resume), ``tensorboard`` (TensorBoard: event files for TensorBoard,
an optional extra), ``loop`` (fit).
"""

from .callbacks import (
    Callback,
    EarlyStopping,
    EpochLog,
    EvalEvery,
    LambdaCallback,
    LRDecay,
    ProgressBar,
    StopOnNonFinite,
    TrainingState,
)
from .checkpoint import CHECKPOINT_FILE, Checkpoint, CheckpointError, load_checkpoint
from .evaluation import LOSSES, evaluate, predict
from .history import History
from .loop import fit
from .metrics import accuracy, confusion_matrix
from .metricslog import METRICS_FILE, MetricsLogError, read_metrics
from .modelfile import MODEL_FORMAT, ModelFileError, describe, load, read_metadata, save
from .runfolder import (
    MODEL_FILE,
    FolderLock,
    RunFolder,
    RunFolderError,
    check_same_run,
    existing_run,
    new_run_id,
)
from .tensorboard import TensorBoard, TensorBoardNotInstalled, claim_log_folder

__all__ = [
    "CHECKPOINT_FILE",
    "LOSSES",
    "METRICS_FILE",
    "MODEL_FILE",
    "MODEL_FORMAT",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "EpochLog",
    "EvalEvery",
    "FolderLock",
    "History",
    "LRDecay",
    "LambdaCallback",
    "MetricsLogError",
    "ModelFileError",
    "ProgressBar",
    "RunFolder",
    "RunFolderError",
    "StopOnNonFinite",
    "TensorBoard",
    "TensorBoardNotInstalled",
    "TrainingState",
    "accuracy",
    "check_same_run",
    "claim_log_folder",
    "confusion_matrix",
    "describe",
    "evaluate",
    "existing_run",
    "fit",
    "load",
    "load_checkpoint",
    "new_run_id",
    "predict",
    "read_metadata",
    "read_metrics",
    "save",
]
