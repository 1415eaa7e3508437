"""The command line's one error convention.

A command signals a user's error by raising :class:`CLIError`; the library's own errors a user
can cause (:data:`USER_ERRORS`) may simply propagate. ``main`` alone reports them: one line
``tinygrad-edu <command>: error: <message>`` on stderr and exit status 2 (with ``--debug``: the
traceback instead).
"""

from __future__ import annotations

from ..course.preprocess import ImageError
from ..data import DatasetError, DownloadError
from ..training import CheckpointError, MetricsLogError, ModelFileError

__all__ = ["USER_ERRORS", "CLIError", "messages", "one_line"]


class CLIError(Exception):
    """A user's error: each message is printed as one line on stderr, and the exit status is 2.

    Usually one message; several when a command reports more than one problem at once (e.g.
    ``predict``: every image it could not read).
    """

    def __init__(self, message: str, *more: str) -> None:
        super().__init__(message, *more)
        self.messages = (message, *more)

    def __str__(self) -> str:
        return "; ".join(self.messages)


#: What ``main`` reports as a user's error: the CLI's own and the library's errors a user can
#: cause (missing or bad data, model files, checkpoints, metrics logs, images, files).
USER_ERRORS: tuple[type[Exception], ...] = (
    CLIError,
    DatasetError,
    DownloadError,
    ModelFileError,
    CheckpointError,
    MetricsLogError,
    ImageError,
    OSError,
)


def one_line(error: BaseException) -> str:
    """The error's message on one line (an OSError without one: its reason and file name; no
    message at all: the error's type)."""
    text = str(error)
    if (
        isinstance(error, OSError)
        and error.filename is not None
        and (not error.args or error.errno)
    ):
        text = f"{error.strerror or type(error).__name__}: {error.filename}"
    return " ".join(text.split()) or type(error).__name__


def messages(error: BaseException) -> list[str]:
    """The lines that report ``error``: one per message of a CLIError, else one."""
    if isinstance(error, CLIError):
        return [" ".join(m.split()) for m in error.messages]
    return [one_line(error)]
