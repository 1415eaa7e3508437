"""Grad mode: whether ops record the graph. ``no_grad()`` switches it off for the calling
thread only; ``Function.apply`` reads :data:`enabled`."""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

# The grad mode is a context variable: each thread (and each asyncio task) has its own, so
# no_grad() in one thread never switches gradients off in another.
enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)


class no_grad:
    """Context manager (or decorator, ``@no_grad()``) under which ops record no graph.

    Only the calling thread's mode changes. One object may be entered again while inside
    (``with ng: with ng:``) and by several threads at once: each exit restores the mode its own
    enter found.
    """

    def __init__(self) -> None:
        self._found = threading.local()  # per thread: the modes found on entering, a stack

    def __enter__(self) -> None:
        stack = self._found.__dict__.setdefault("stack", [])
        stack.append(enabled.get())
        enabled.set(False)

    def __exit__(self, *exc: object) -> None:
        enabled.set(self._found.stack.pop())

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def without_grad(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return without_grad


def is_grad_enabled() -> bool:
    """False inside ``no_grad()`` (in this thread)."""
    return enabled.get()
