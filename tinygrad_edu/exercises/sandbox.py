"""The sandboxed child that runs a student's code for the grader, and nothing else.

    python -P -s sandbox.py WORKSPACE FILE LIMITS_JSON      (started by :mod:`.remote`)

The grader never imports a student's file: it starts this program, which forks in two.

* The **supervisor** (this process) becomes a sub-reaper, so every process the student's code
  starts, even one that leaves for a session of its own, stays its descendant; when the child
  ends, or the grader sends SIGTERM (the part is over), it kills every descendant and exits
  with the child's status.
* The **child** puts itself in the sandbox before it reads a line of the student's code:
  resource limits (address space, CPU seconds, file size, no core files, few new processes),
  no new privileges, Landlock (Linux 5.13 and later: files may be written only in the workspace
  and a scratch folder, no TCP, no signals to processes outside the sandbox), no capabilities;
  the workspace as its working directory and at the *end* of ``sys.path`` (a ``numpy.py`` there
  does not shadow numpy). Then it imports the student's file and answers the grader's requests
  on two pipes (their descriptors in the settings), in the format of :mod:`.wire`: get or set an
  attribute, call a function, say where a function is defined. It never sees an expected value
  or a verdict. The student's prints go to its stdout and stderr, which the grader keeps the end
  of.

Where the platform lacks a piece (macOS, an old kernel), the child goes on without it and says
which pieces it has in its first answer. This file needs only the standard library, numpy and
its sibling ``wire.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.util
import inspect
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

if __package__:
    from . import wire
else:  # run as a program: load the sibling by path, never by putting this folder on sys.path
    _spec = importlib.util.spec_from_file_location(
        "_grader_wire", Path(__file__).with_name("wire.py")
    )
    wire = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
    sys.modules["_grader_wire"] = wire  # its dataclasses look their module up there
    _spec.loader.exec_module(wire)  # type: ignore[union-attr]

_HERE = Path(__file__).resolve().parent

# prctl options and Landlock's constants (linux/prctl.h, linux/landlock.h)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_CAPBSET_DROP = 1, 38, 36, 24
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_RULE_PATH_BENEATH = 1
WRITE_FILE, REMOVE_DIR, REMOVE_FILE, MAKE_ALL, REFER, TRUNCATE = 2, 16, 32, 0x1FC0, 8192, 16384
BIND_TCP, CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)


LINUX = sys.platform == "linux"


def _prctl(option: int, value: int) -> bool:
    """Linux's prctl (False elsewhere, or when it fails)."""
    return LINUX and _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) == 0


# ----------------------------------------------------------------------------- the sandbox
def landlock(writable: list[Path]) -> str:
    """Allow writes only beneath ``writable`` (and to /dev/null); on new enough kernels also
    no TCP and no signals or abstract sockets outside the sandbox. Returns what it applied."""
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, 1)
    if abi < 1:
        return "no Landlock"
    fs = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_ALL
    fs |= (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    net = BIND_TCP | CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        return f"no Landlock ({os.strerror(ctypes.get_errno())})"
    try:
        for folder in writable:
            _allow(ruleset, folder, fs)
        _allow(ruleset, Path(os.devnull), WRITE_FILE | (TRUNCATE if abi >= 3 else 0))
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            return f"no Landlock ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return f"Landlock ABI {abi}"


def _allow(ruleset: int, path: Path, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneath(access, fd)
        if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                         ctypes.byref(rule), 0) != 0:  # fmt: skip
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def set_limits(limits: dict[str, Any]) -> None:
    """Address space, CPU seconds and file size as the grader asks; no core files; at most
    ``extra_processes`` more processes of this user than run now."""
    wanted = [
        ("RLIMIT_AS", limits["memory_bytes"]),
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        ("RLIMIT_FSIZE", limits["file_bytes"]),
        ("RLIMIT_CORE", 0),
    ]
    if os.path.isdir("/proc"):
        wanted.append(("RLIMIT_NPROC", _processes_of_this_user() + limits["extra_processes"]))
    for name, value in wanted:
        with contextlib.suppress(AttributeError, ValueError, OSError):  # not on this platform
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def _processes_of_this_user() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


def drop_capabilities() -> None:
    """No capabilities left, not even for a root user (nor after an exec); Linux only."""
    if not LINUX:
        return
    for cap in range(64):
        if not _prctl(PR_CAPBSET_DROP, cap) and ctypes.get_errno() == errno.EINVAL:
            break
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    _libc.capset(header, data)


def enter_sandbox(workspace: Path, scratch: Path, limits: dict[str, Any]) -> str:
    """Everything of the sandbox but the import; returns what the platform allowed."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.chdir(workspace)
    set_limits(limits)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    applied = landlock([workspace, scratch]) if LINUX else "no Landlock"
    drop_capabilities()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", str(_HERE))] + [str(workspace)]
    sys.dont_write_bytecode = True
    return applied


# ----------------------------------------------------------------------------- answering
class Server:
    """The child's side: the student's module and the objects the grader holds handles to."""

    def __init__(self, file: Path, requests: int, answers: int) -> None:
        self.file, self.requests, self.answers = file, requests, answers
        self.objects: dict[int, Any] = {}

    def load(self) -> None:
        name = f"student_{self.file.stem}"
        spec = importlib.util.spec_from_file_location(name, self.file)
        if spec is None or spec.loader is None:
            raise ImportError(f"{self.file.name} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import would (dataclasses look it up there)
        spec.loader.exec_module(module)
        self.objects[0] = module

    def handle_of(self, value: Any) -> Any:
        """A value that is not data stays here, as a handle (an array-like becomes an array)."""
        if hasattr(value, "__array__") and not isinstance(value, type):
            try:
                import numpy as np

                array = np.asarray(value)
                if array.dtype.kind in wire.NUMERIC_KINDS:
                    return array
            except Exception:
                pass
        number = len(self.objects)
        self.objects[number] = value
        name = getattr(value, "__qualname__", "") if callable(value) else ""
        return wire.Handle(number, type(value).__name__, name if isinstance(name, str) else "")

    def resolve(self, handle: Any) -> Any:
        if handle.number not in self.objects:
            raise wire.WireError(f"no object {handle.number}")
        return self.objects[handle.number]

    def perform(self, request: dict[str, Any]) -> Any:
        op, target = request.get("op"), request.get("target")
        if op == "load":
            return self.load()
        if op == "get":
            return getattr(target, request["name"])
        if op == "set":
            return setattr(target, request["name"], request["value"])
        if op == "call":
            return target(*request.get("args", ()), **request.get("kwargs", {}))
        if op == "where":
            return where_defined(target)
        raise wire.WireError(f"unknown request {op!r}")

    def serve(self) -> int:
        while True:
            try:
                data = wire.read_message(self.requests)
            except EOFError:
                return 0
            request = wire.decode(data, resolve=self.resolve)
            try:
                answer: dict[str, Any] = {"ok": self.perform(request)}
            except BaseException as error:  # the student's, reported as such
                answer = {"error": describe(error)}
            try:
                message = wire.encode(answer, self.handle_of)
            except (wire.WireError, ValueError, RecursionError) as error:
                message = wire.encode({"error": describe(error, "returned something that ")})
            wire.write_message(self.answers, message)


def where_defined(target: Any) -> str:
    """'file.py, line 12' of a function or class of the student's ('' when unknown)."""
    try:
        file = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (TypeError, OSError):
        return ""
    return f"{Path(file).name}, line {line}" if file else ""


def describe(error: BaseException, prefix: str = "") -> dict[str, Any]:
    """An exception as the grader reports it: its type, message and the deepest line of the
    student's code it passed through."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not _is_ours(f.filename)]
    where = f"{Path(frames[-1].filename).name}, line {frames[-1].lineno}" if frames else ""
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{Path(error.filename).name}, line {error.lineno}"
    return {
        "type": type(error).__name__,
        "builtin": type(error).__module__ == "builtins",
        "message": (prefix + (error.msg if isinstance(error, SyntaxError) else str(error)))[:2000],
        "where": where,
    }


_PACKAGE = _HERE.parent
_STUDENT_FILES = (_HERE / "stubs", _HERE / "solutions")  # a teacher may grade these in place


def _is_ours(filename: str) -> bool:
    """The grader's, numpy's and Python's own frames are not the student's code."""
    if filename.startswith("<"):
        return True
    path = Path(filename)
    if any(path.is_relative_to(folder) for folder in _STUDENT_FILES):
        return False
    return (
        path.is_relative_to(_PACKAGE)
        or "numpy" in path.parts
        or path.is_relative_to(sys.base_prefix)
        or path.is_relative_to(sys.prefix)
    )


# ----------------------------------------------------------------------------- the supervisor
def descendants(root: int) -> list[int]:
    """The processes below ``root``, from /proc."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
                parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    below, frontier = [], [root]
    while frontier:
        children = [pid for pid, ppid in parent.items() if ppid in frontier]
        below += children
        frontier = children
    return below


def kill_descendants() -> None:
    """SIGKILL every process below this one, again until none is left, and reap them (without
    /proc, the grader's SIGKILL to the part's process group is all there is)."""
    if not os.path.isdir("/proc"):
        _reap()
        return
    for _ in range(100):
        pids = descendants(os.getpid())
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def supervise(child: Any, pipes: list[int]) -> int:
    """Fork ``child()`` off, wait for it, then kill whatever it left behind; SIGTERM (the part
    is over) kills everything at once. The exit status is the child's (128 + signal)."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    pid = os.fork()
    if pid == 0:
        try:
            code = child()
        except BaseException:  # the sandbox itself failed
            traceback.print_exc()
            code = 70
        os._exit(code)
    for fd in pipes:  # only the child talks to the grader: its ends close when it ends
        os.close(fd)

    def stop(signum: int, frame: Any) -> None:
        kill_descendants()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    _, status = os.waitpid(pid, 0)
    kill_descendants()
    return os.waitstatus_to_exitcode(status) if status else 0


def main(argv: list[str]) -> int:
    workspace, file, settings = Path(argv[0]), Path(argv[1]), json.loads(argv[2])

    requests, answers = settings["fds"]

    def child() -> int:
        applied = enter_sandbox(workspace, Path(settings["scratch"]), settings)
        wire.write_message(answers, wire.encode({"ok": applied}))
        return Server(file, requests, answers).serve()

    code = supervise(child, [requests, answers])
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
