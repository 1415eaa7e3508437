"""Processes seen from the tests: whether one is still alive, a few seconds after its end."""

from __future__ import annotations

import os
import time


def alive(pid: int, seconds: float = 3.0) -> bool:
    """True if process ``pid`` is still running ``seconds`` from now (False as soon as it is
    gone: a process just killed may take a moment to be reaped)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True
