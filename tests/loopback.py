"""Loopback helpers shared by the tests: nothing here reaches past 127.0.0.1."""

from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
