"""training/threads.py: the thread count of each training step, chosen by timing the steps on a
simulated machine whose step time depends on the count set (a fake clock), or given."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from tinygrad_edu.engine import parallel
from tinygrad_edu.training import threads
from tinygrad_edu.training.threads import ThreadChoice, candidate_counts


def blas_count() -> int:
    return parallel.blas_threads()


class Machine:
    """A fake clock; ``step(choice)`` runs one training step whose seconds are ``cost[count]``
    for the count set (read back from BLAS and from the engine's split width, which must agree)."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.now, self.cost, self.counts = 0.0, cost, []

    def clock(self) -> float:
        return self.now

    def step(self, choice: ThreadChoice) -> None:
        choice.step_begins()
        count = parallel.width()
        assert blas_count() == count
        self.counts.append(count)
        self.now += self.cost[count]
        choice.step_ended()

    def train(self, steps: int, cost: dict[int, float] | None = None) -> ThreadChoice:
        """``steps`` steps under a fresh choice, which is returned (closed)."""
        self.cost = cost or self.cost
        with ThreadChoice(None, clock=self.clock) as choice:
            for _ in range(steps):
                self.step(choice)
        return choice


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch):
    """Two cores and BLAS allowed two threads, whatever the machine running the tests."""
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    with threadpool_limits(2, "blas"):
        yield


def test_candidate_counts() -> None:
    assert candidate_counts(1) == [1] and candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6] and candidate_counts(8) == [1, 2, 4, 8]


def test_two_threads_are_kept_where_they_are_faster() -> None:
    machine = Machine({1: 0.02, 2: 0.012})
    choice = machine.train(40)
    assert choice.kept == 2 and choice.changes == [(0, 1), (7, 2)]
    assert machine.counts[:7] == [1, 1, 2, 2, 1, 1, 2]  # warm-up, then interleaved
    assert set(machine.counts[7:]) == {2} and choice.epoch_count() == 2


def test_beside_a_busy_process_one_thread_is_kept_and_two_timed_once() -> None:
    """Two threads 3x slower: after one time of theirs, the trial times them no more."""
    machine = Machine({1: 0.02, 2: 0.06})
    choice = machine.train(30)
    assert choice.kept == 1 and choice.changes == [(0, 1)]
    assert machine.counts.count(2) == 1


def test_more_threads_must_be_a_margin_faster() -> None:
    assert Machine({1: 0.02, 2: 0.02 / threads.MARGIN * 1.01}).train(20).kept == 1
    assert Machine({1: 0.02, 2: 0.02 / threads.MARGIN * 0.99}).train(20).kept == 2


def test_short_steps_are_timed_in_slots_of_many() -> None:
    """1 ms steps: each time taken averages SLOT_SECONDS of steps (10 here)."""
    machine = Machine({1: 0.001, 2: 0.0005})
    choice = machine.train(200)
    assert choice.kept == 2
    assert machine.counts[:30] == [1] * 20 + [2] * 10  # warm-up slot, slot of 1, slot of 2


def test_a_machine_that_gets_busy_is_noticed_at_once() -> None:
    machine = Machine({1: 0.02, 2: 0.012})
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(20):
            machine.step(choice)
        assert choice.kept == 2
        machine.cost = {1: 0.02, 2: 0.06}  # a process starts on the other core
        for _ in range(threads.WATCH_STEPS + 10):
            machine.step(choice)
    assert choice.kept == 1 and choice.changes[:2] == [(0, 1), (7, 2)]
    step, count = choice.changes[2]  # within two groups of watched steps, and a short trial
    assert count == 1 and 20 < step <= 20 + 2 * threads.WATCH_STEPS + 5


def test_a_machine_that_gets_quiet_is_timed_again_when_due() -> None:
    """The kept count's steps do not get slower when the other core frees up: the periodic
    trial finds it."""
    machine = Machine({1: 0.02, 2: 0.06})
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(20):
            machine.step(choice)
        assert choice.kept == 1
        machine.cost = {1: 0.02, 2: 0.012}
        for _ in range(int(threads.RECHECK_SECONDS / 0.02)):  # not due yet: one thread
            machine.step(choice)
        assert set(machine.counts[20:]) == {1}
        for _ in range(500):  # 10 s: the trial is due (after 1 / TRIAL_SHARE its length)
            machine.step(choice)
    assert choice.kept == 2 and len(choice.changes) == 2


def test_a_given_count_is_used_throughout_and_blas_restored() -> None:
    before = blas_count()
    machine = Machine({1: 0.02, 3: 0.01})
    with ThreadChoice(3, clock=machine.clock) as choice:
        assert blas_count() == 3 and parallel.width() == 3
        for _ in range(20):
            machine.step(choice)
    assert set(machine.counts) == {3} and choice.epoch_count() == 3
    assert blas_count() == before and parallel.width() == 2  # the width from before


def test_one_core_or_blas_on_one_thread_means_no_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    with threadpool_limits(1, "blas"):  # as OPENBLAS_NUM_THREADS=1 would
        machine = Machine({1: 0.02, 2: 0.001})
        assert machine.train(20).kept == 1 and set(machine.counts) == {1}
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    machine = Machine({1: 0.02, 2: 0.001})
    assert machine.train(20).kept == 1 and set(machine.counts) == {1}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_count_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="fit: threads must be None or an integer >= 1"):
        ThreadChoice(bad)  # type: ignore[arg-type]


def test_epoch_count_is_the_count_most_steps_ran_at() -> None:
    machine = Machine({1: 0.02, 2: 0.012})
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(10):
            machine.step(choice)
        assert choice.epoch_count() == 2  # 7 of 10 at two threads (trial included)
        assert choice.epoch_count() == 2  # none since: the kept count
