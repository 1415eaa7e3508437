"""Grad mode is per thread: no_grad() in one thread never changes another thread's mode, and one
no_grad object can be re-entered (nested, or by several threads at once)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from tinygrad_edu import Tensor, is_grad_enabled, no_grad


def _in_threads(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(i) in n threads started together; return the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_no_grad_in_one_thread_leaves_another_threads_ops_recording() -> None:
    inside, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def hold_no_grad() -> None:
        with no_grad():
            inside.set()
            done.wait(timeout=30)

    holder = threading.Thread(target=hold_no_grad)
    holder.start()
    assert inside.wait(timeout=30)
    x = Tensor(np.ones(3), requires_grad=True)
    for _ in range(1000):  # the other thread is inside no_grad all this time
        seen.append((x * 2.0).requires_grad)
    seen.append(is_grad_enabled())
    done.set()
    holder.join(timeout=30)
    assert all(seen)


def test_threads_entering_and_leaving_no_grad_together_keep_their_own_mode() -> None:
    def work(i: int) -> None:
        x = Tensor(np.ones(2), requires_grad=True)
        for _ in range(2000):
            if i % 2:
                with no_grad():
                    assert not (x + 1.0).requires_grad
            else:
                assert (x + 1.0).requires_grad, "a graph went missing in a grad-enabled thread"

    assert _in_threads(4, work) == []
    assert is_grad_enabled()


def test_one_no_grad_object_shared_by_threads_restores_each_threads_mode() -> None:
    shared = no_grad()

    def work(i: int) -> None:
        for _ in range(2000):
            with shared:
                assert not is_grad_enabled()
            assert is_grad_enabled()

    assert _in_threads(4, work) == []
    assert is_grad_enabled()


def test_reentering_the_same_no_grad_object_restores_the_mode() -> None:
    ng = no_grad()
    with ng:
        with ng:
            assert not is_grad_enabled()
        assert not is_grad_enabled()  # the inner exit restores the outer no_grad's mode
    assert is_grad_enabled()


def test_the_decorator_works_in_threads_and_returns_the_functions_value() -> None:
    @no_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2.0

    x = Tensor(np.ones(2), requires_grad=True)

    def work(i: int) -> None:
        for _ in range(500):
            assert not double(x).requires_grad
            assert (x * 2.0).requires_grad

    assert _in_threads(3, work) == []
    assert double.__name__ == "double"
