"""The command line's one error convention.

A command signals a user's error by raising :class:`CLIError`; the library's own errors a user
can cause (:data:`USER_ERRORS`) may simply propagate. ``main`` alone reports them: one line
``tinygrad-edu <command>: error: <message>`` on stderr and exit status 2 (with ``--debug``: the
traceback instead). A run that was set up correctly but failed by itself (training diverged)
raises :class:`RunFailed`: the same one line, and exit status 1.
"""

from __future__ import annotations

from ..course.preprocess import ImageError
from ..data import DatasetError, DownloadError
from ..training import CheckpointError, MetricsLogError, ModelFileError, RunFolderError
from ..training.files import one_line

__all__ = [
    "EXIT_RUN_FAILED",
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "CLIError",
    "RunFailed",
    "messages",
    "one_line",
]

#: Exit statuses: a user's error (bad arguments, data, files), and a run that failed by itself.
EXIT_USER_ERROR, EXIT_RUN_FAILED = 2, 1


class CLIError(Exception):
    """A user's error: each message is printed as one line on stderr, and the exit status is 2.

    Usually one message; several when a command reports more than one problem at once (e.g.
    ``predict``: every image it could not read).
    """

    status = EXIT_USER_ERROR

    def __init__(self, message: str, *more: str) -> None:
        super().__init__(message, *more)
        self.messages = (message, *more)

    def __str__(self) -> str:
        return "; ".join(self.messages)


class RunFailed(CLIError):
    """The run itself failed (e.g. training diverged) although it was set up correctly: one
    line, and exit status 1."""

    status = EXIT_RUN_FAILED


#: What ``main`` reports as a user's error: the CLI's own and the library's errors a user can
#: cause (missing or bad data, model files, checkpoints, metrics logs, images, files), the
#: library's validation errors (ValueError: ShapeError, InputError, ...), and running out of
#: memory. Anything else (TypeError, RecursionError, ...) is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    CLIError,
    DatasetError,
    DownloadError,
    ModelFileError,
    CheckpointError,
    MetricsLogError,
    RunFolderError,
    ImageError,
    OSError,
    ValueError,
    MemoryError,
)


def messages(error: BaseException) -> list[str]:
    """The lines that report ``error``: one per message of a CLIError, else one."""
    if isinstance(error, CLIError):
        return [" ".join(m.split()) for m in error.messages]
    return [one_line(error)]
