"""Fixtures for the data tests: a loopback HTTP server and an isolated cache.

The real-MNIST folder fixture, ``mnist_dir``, and ``isolated_cache`` (autouse: no test reaches
past 127.0.0.1, the default mirrors are a closed loopback port) live in ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from loopback import closed_port


@pytest.fixture
def dead_url() -> Callable[[], str]:
    """Make base URLs ``http://127.0.0.1:PORT/`` of loopback ports where no server listens."""
    return lambda: f"http://127.0.0.1:{closed_port()}/"


class _Handler(BaseHTTPRequestHandler):
    """``GET /ok/NAME`` serves ``root/NAME``; ``/truncated/NAME`` announces the full
    Content-Length but sends half the bytes and closes; ``/trickle/NAME`` sends one byte every
    20 ms (at most 500 bytes, then closes); ``/endless/NAME`` sends 64 kB chunks without a
    Content-Length until the client hangs up (at most 64 MB or 10 s); anything else is a 404."""

    server: FileServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        path = self.server.root / name
        if mode in ("trickle", "endless"):
            self._stream(mode)
            return
        if mode not in ("ok", "truncated") or "/" in name or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.close_connection = True

    def _stream(self, mode: str) -> None:
        """A trickle or an endless body; bounded in bytes and time, it stops by itself."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "trickle":
            self.send_header("Content-Length", "1000000")
        self.end_headers()
        chunk, pause, most = (b"x", 0.02, 500) if mode == "trickle" else (bytes(1 << 16), 0, 1024)
        end = time.monotonic() + 10
        try:
            for _ in range(most):
                self.wfile.write(chunk)
                self.wfile.flush()
                if time.monotonic() > end:
                    break
                time.sleep(pause)
        except OSError:  # the client hung up, as it should
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.requests: list[str] = []

    def url(self, mode: str = "ok") -> str:
        """The base URL of a mirror: ``ok`` serves files whole, ``truncated`` cuts them short."""
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/"


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A loopback HTTP server over an empty temp folder ``file_server.root``."""
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def t10k_server(file_server: FileServer, mnist_dir: Path) -> FileServer:
    """The loopback server holding copies of the two official t10k files."""
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(mnist_dir / name, file_server.root / name)
    return file_server
