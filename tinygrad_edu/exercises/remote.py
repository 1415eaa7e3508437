"""The grader's side of the sandbox: one child per part (:mod:`.sandbox`), and the student's
module as the grader sees it, a :class:`Remote` whose attribute reads, assignments and calls
are requests to that child.

The grading code runs here, in the grader's process: it draws the inputs, calls the student's
functions through :class:`Remote` (arrays go over, arrays come back), computes the expected
values, compares and diagnoses. The child never sees an expected value or a verdict, and
nothing it answers is more than data: numbers, arrays, text, or handles to its own objects.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import wire

__all__ = [
    "PartCrashed",
    "PartEnded",
    "PartTimeout",
    "Remote",
    "SandboxLimits",
    "Session",
    "StudentException",
    "clean_output",
    "where_defined",
]

SANDBOX = Path(__file__).resolve().with_name("sandbox.py")
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
#: What the child may send in one answer (a course network's arrays are a few MB).
ANSWER_LIMITS = wire.Limits(header_bytes=1 << 20, array_bytes=256 << 20, depth=32, values=50_000)
#: How much of the child's printed output is kept (its end).
OUTPUT_TAIL = 4096


@dataclass(frozen=True)
class SandboxLimits:
    """The child's resource limits: its address space (the course's networks need well under
    1 GB: numpy alone maps about 100 MB), file size, and how many more processes it may start."""

    memory_bytes: int = 2 << 30
    file_bytes: int = 16 << 20
    extra_processes: int = 64


class PartEnded(BaseException):
    """The part cannot go on (a BaseException, so that no check mistakes it for the student's
    exception): its child ran out of time or ended."""


class PartTimeout(PartEnded):
    """The child did not answer within the part's time limit."""


class PartCrashed(PartEnded):
    """The child ended (or answered nonsense) before the part was graded; ``output`` is the end
    of what it printed, cleaned of terminal escape codes."""

    def __init__(self, reason: str, output: str = "") -> None:
        super().__init__(reason)
        self.reason, self.output = reason, output


class StudentException(Exception):
    """An exception the student's code raised in the child: ``type_name`` and ``where`` (the
    student's file and line). Builtin types come back as subclasses of themselves, so that
    ``except NotImplementedError`` still catches a stub's."""

    type_name: str = "Exception"
    where: str = ""


_EXCEPTION_TYPES: dict[tuple[str, type], type[StudentException]] = {}


def student_exception(info: dict[str, Any]) -> StudentException:
    """The exception the child described (its type, message and place)."""
    name = str(info.get("type", "Exception"))
    base = getattr(builtins, name, None) if info.get("builtin") else None
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    kind = _EXCEPTION_TYPES.setdefault((name, base), type(name, (StudentException, base), {}))
    try:
        error = kind(str(info.get("message", "")))
    except TypeError:  # a type whose constructor wants more than a message
        error = type(name, (StudentException,), {})(str(info.get("message", "")))
    error.type_name, error.where = name, str(info.get("where", ""))
    return error


def clean_output(text: str) -> str:
    """``text`` without terminal escape sequences and other control characters (but newlines)."""
    text = re.sub(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])", "", text)
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "", text)


class Session:
    """One sandboxed child for one part, from start to kill: its requests, its deadline (the
    part's time limit, counted from the start) and the end of its printed output."""

    def __init__(
        self,
        file: Path,
        seconds: float,
        limits: SandboxLimits = SandboxLimits(),
        started: Callable[[Session], object] | None = None,
    ):
        """Start the child and have it import ``file``; ``started(self)`` is called as soon as
        the child runs, before the import (so that an import that never ends can be killed).
        If the import fails, the child is ended before the exception leaves."""
        self.file = Path(file).resolve()
        self.seconds, self.limits = seconds, limits
        self.ends = time.monotonic() + seconds
        self.sandbox = ""  # what the platform allowed, as the child says
        self._tail = bytearray()
        self._closed = False
        self._scratch = Path(tempfile.mkdtemp(prefix="tinygrad-edu-part-"))
        self._process, self._requests, self._answers = self._start()
        self._reader = threading.Thread(target=self._keep_output, daemon=True)
        self._reader.start()
        try:
            if started is not None:
                started(self)
            self.sandbox = self.request("hello")
            self.request("load")
        except BaseException:  # else the child would wait for requests until this process ends
            self.close()
            raise

    def _start(self) -> tuple[subprocess.Popen[bytes], int, int]:
        requests_in, requests_out = _wide_pipe()
        answers_in, answers_out = _wide_pipe()
        settings = {
            **asdict(self.limits),
            "cpu_seconds": int(self.seconds) + 2,
            "scratch": str(self._scratch),
            "fds": [requests_in, answers_out],
        }
        command = [sys.executable, "-P", "-s", str(SANDBOX), str(self.file.parent)]
        command += [str(self.file), json.dumps(settings)]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(requests_in, answers_out),
                start_new_session=True,
                cwd=self.file.parent,
                env=self._environment(),
            )
        finally:
            os.close(requests_in)
            os.close(answers_out)
        os.set_blocking(requests_out, False)
        return process, requests_out, answers_in

    def _environment(self) -> dict[str, str]:
        scratch = str(self._scratch)
        keep = {
            k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ
        }
        old = os.environ.get("PYTHONPATH")
        return {
            **keep,
            "HOME": scratch,
            "TMPDIR": scratch,
            "MPLCONFIGDIR": scratch,
            "MPLBACKEND": "Agg",
            "PYTHONUNBUFFERED": "1",  # a crash must not lose what was printed
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(_PACKAGE_PARENT) + (os.pathsep + old if old else ""),
        }

    def _keep_output(self) -> None:
        assert self._process.stdout is not None
        for chunk in iter(lambda: self._process.stdout.read1(65536), b""):  # type: ignore[union-attr]
            self._tail += chunk
            del self._tail[:-OUTPUT_TAIL]

    def output(self) -> str:
        """The end of what the child printed, cleaned of terminal escape codes."""
        return clean_output(bytes(self._tail).decode("utf-8", "replace"))

    def _left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def request(self, op: str, target: Any = None, **fields: Any) -> Any:
        """Send one request and return the child's answer; the student's exception is raised as
        a :class:`StudentException`, the end of the child as :class:`PartEnded`."""
        try:
            if op != "hello":
                message = wire.encode({"op": op, "target": target, **fields}, self._handle)
                wire.write_message(self._requests, message, self._left)
            data = wire.read_message(self._answers, ANSWER_LIMITS, self._left)
            answer = wire.decode(data, ANSWER_LIMITS, lambda h: Remote(self, h))
        except TimeoutError:
            self.kill()
            raise PartTimeout(f"did not finish within {self.seconds:g} s") from None
        except (EOFError, BrokenPipeError, wire.WireError) as e:
            reason = self._ended(e)  # how the child ended, before it is killed
            self.kill()
            raise PartCrashed(reason, self.output()) from None
        if "error" in answer and isinstance(answer["error"], dict):
            raise student_exception(answer["error"])
        if "ok" not in answer:
            self.kill()
            raise PartCrashed("the child answered something that is not an answer", self.output())
        return answer["ok"]

    def _handle(self, value: Any) -> wire.Handle:
        if isinstance(value, Remote) and value._session is self:
            return value._handle
        raise wire.WireError(f"cannot send a {type(value).__name__} to the student's code")

    def _ended(self, error: BaseException) -> str:
        if isinstance(error, wire.WireError):
            return f"its answer was malformed ({error})"
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=2)
        status = self._process.poll()
        if status is None:
            return "it stopped answering"
        return _status_text(status)

    def module(self) -> Remote:
        """The student's module, as loaded in the child."""
        return Remote(self, wire.Handle(0, "module"))

    def kill(self) -> None:
        """End the child and everything it started: SIGTERM to the supervisor (which kills the
        whole tree), then SIGKILL to its session as a last resort."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()

    def close(self) -> None:
        """The part is over: close the requests (the child ends), kill whatever is left. Once:
        a second call does nothing (its file descriptors may belong to another child by then)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.close(self._requests)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=1)
        self.kill()
        self._reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self._answers)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wide_pipe() -> tuple[int, int]:
    """A pipe holding 1 MiB where Linux allows it (64 KiB by default): a course network's
    arrays then cross in one write instead of sixteen, each waiting for the other side to read
    (the derivative table's training part, 1,750 calls with arrays of up to 400 kB, spent
    0.58 s in those writes)."""
    read_end, write_end = os.pipe()
    with contextlib.suppress(ImportError, AttributeError, OSError):  # not Linux, or too big
        import fcntl  # POSIX only

        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
    return read_end, write_end


def _status_text(status: int) -> str:
    """How the child ended, in words."""
    if status > 128:
        signum = status - 128
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        why = {
            "SIGKILL": " (out of memory, or killed)",
            "SIGXCPU": " (its CPU time ran out)",
            "SIGXFSZ": " (it wrote a file over the size limit)",
            "SIGSEGV": " (a crash inside compiled code)",
        }.get(name, "")
        return f"it was killed by {name}{why}"
    return f"it exited with status {status}"


class Remote:
    """An object of the student's that lives in the child: reading an attribute, assigning one
    and calling it are requests; data comes back as data, anything else as another Remote."""

    __slots__ = ("_handle", "_session")

    def __init__(self, session: Session, handle: wire.Handle) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)

    def __getattr__(self, name: str) -> Any:
        if name in ("__qualname__", "__name__") and self._handle.name:
            return self._handle.name  # what reports call the student's function
        if name.startswith("__") and name.endswith("__"):  # numpy and copy probe for these
            raise AttributeError(name)
        return self._session.request("get", self._handle, name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._session.request("set", self._handle, name=name, value=value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.request("call", self._handle, args=args, kwargs=kwargs)

    def __repr__(self) -> str:
        return f"<the student's {self._handle.type_name} {self._handle.name}>".replace(" >", ">")


def where_defined(obj: Any) -> str:
    """'file.py, line 12' where the student's function or class ``obj`` is defined ('' if not
    known, or if ``obj`` is not the student's)."""
    if not isinstance(obj, Remote):
        return ""
    try:
        return str(obj._session.request("where", obj._handle) or "")
    except StudentException:
        return ""
