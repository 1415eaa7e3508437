"""training/threads.py: the plan of each training step (OpenBLAS's threads or the engine's
pool), chosen by timing the steps on a simulated machine whose step time depends on the plan set
(read back from BLAS and from the engine's split width; a fake clock), or given."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from tinygrad_edu.engine import parallel
from tinygrad_edu.training import threads
from tinygrad_edu.training.threads import Plan, ThreadChoice, candidate_counts, candidate_plans

ONE, POOL, BLAS = Plan(1, 1), Plan(1, 2), Plan(2, 1)


class Machine:
    """A fake clock; ``step(choice)`` runs one training step of ``cost[plan]`` seconds, the plan
    read back from BLAS's thread count and the engine's split width."""

    def __init__(self, cost: dict[Plan, float], splits: bool = True) -> None:
        self.now, self.cost, self.plans, self.splits = 0.0, cost, [], splits

    def clock(self) -> float:
        return self.now

    def step(self, choice: ThreadChoice) -> None:
        choice.step_begins()
        plan = Plan(parallel.blas_threads(), parallel.width())
        if self.splits:  # a CNN's step splits its passes over the pool
            parallel.run_pieces(plan.pool, lambda lo, hi: None)
        self.plans.append(plan)
        self.now += self.cost[plan]
        choice.step_ended()

    def train(self, steps: int) -> ThreadChoice:
        """``steps`` steps under a fresh choice, which is returned (closed)."""
        with ThreadChoice(None, clock=self.clock) as choice:
            for _ in range(steps):
                self.step(choice)
        return choice


def costs(one: float, pool: float, blas: float) -> dict[Plan, float]:
    return {ONE: one, POOL: pool, BLAS: blas}


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch):
    """Two cores and BLAS allowed two threads, whatever the machine running the tests; and
    OpenBLAS's own threads among the plans timed (fit leaves them out, as they change the last
    bits: test_the_plans_fit_chooses_among_keep_the_one_thread_bits), so that the choice is
    tested on plans of both kinds."""
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    monkeypatch.setattr(threads, "candidate_plans", with_openblas_plans)
    with threadpool_limits(2, "blas"):
        yield


def with_openblas_plans(most: int) -> list[Plan]:
    """One thread, then at each count the pool's threads and OpenBLAS's."""
    counts = candidate_counts(most)
    return [ONE] + [p for n in counts[1:] for p in (Plan(1, n), Plan(n, 1))]


def test_candidates() -> None:
    assert candidate_counts(1) == [1] and candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6] and candidate_counts(8) == [1, 2, 4, 8]


def test_the_plans_fit_chooses_among_keep_the_one_thread_bits() -> None:
    """One thread and the pool's threads: every plan trains to the one-thread bits, so a run
    resumed after a kill agrees with an uninterrupted one, whatever each chose."""
    assert candidate_plans(1) == [ONE] and candidate_plans(2) == [ONE, POOL]
    assert candidate_plans(4) == [ONE, POOL, Plan(1, 4)]
    assert all(plan.blas == 1 for plan in candidate_plans(8))
    assert BLAS.threads == POOL.threads == 2


def test_the_pool_is_kept_where_it_is_fastest() -> None:
    machine = Machine(costs(0.02, 0.012, 0.015))
    choice = machine.train(40)
    assert choice.kept == POOL and choice.changes == [(0, ONE), (10, POOL)]
    assert machine.plans[:10] == [ONE, ONE, POOL, BLAS, ONE, POOL, BLAS, ONE, POOL, BLAS]  # warm-up
    assert set(machine.plans[10:]) == {POOL} and choice.epoch_count() == 2


def test_openblas_threads_are_kept_where_they_are_fastest() -> None:
    """The MLP's small products: only OpenBLAS's threads gain."""
    assert Machine(costs(0.02, 0.02, 0.015)).train(40).kept == BLAS


def test_beside_a_busy_process_one_thread_is_kept_and_the_slow_plans_timed_once() -> None:
    """Threads 3x slower: after one time of theirs, the trial times them no more."""
    machine = Machine(costs(0.02, 0.06, 0.07))
    choice = machine.train(30)
    assert choice.kept == ONE and choice.changes == [(0, ONE)]
    assert machine.plans.count(POOL) == machine.plans.count(BLAS) == 1


def test_more_threads_must_be_a_margin_faster_and_the_pool_goes_first() -> None:
    just_faster, not_enough = 0.02 / threads.MARGIN * 0.99, 0.02 / threads.MARGIN * 1.01
    assert Machine(costs(0.02, not_enough, not_enough)).train(30).kept == ONE
    assert Machine(costs(0.02, just_faster, 0.02)).train(30).kept == POOL
    assert Machine(costs(0.02, just_faster, just_faster * 0.98)).train(30).kept == POOL
    assert Machine(costs(0.02, 0.02, just_faster * 0.95)).train(30).kept == BLAS


def test_short_steps_are_timed_in_slots_of_many() -> None:
    """0.5 ms steps: each time taken averages SLOT_SECONDS of steps (10 of one thread)."""
    machine = Machine(costs(0.0005, 0.00025, 0.001))
    choice = machine.train(300)
    assert choice.kept == POOL
    assert machine.plans[:31] == [ONE] + [ONE] * 10 + [POOL] * 20  # warm-up step, slots


def test_a_machine_that_gets_busy_is_noticed_at_once() -> None:
    machine = Machine(costs(0.02, 0.012, 0.015))
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(30):
            machine.step(choice)
        assert choice.kept == POOL
        machine.cost = costs(0.02, 0.06, 0.07)  # a process starts on the other core
        for _ in range(threads.WATCH_STEPS * 2 + 10):
            machine.step(choice)
    assert choice.kept == ONE and choice.changes[:2] == [(0, ONE), (10, POOL)]
    step, plan = choice.changes[2]  # within two groups of watched steps, and a short trial
    assert plan == ONE and 30 < step <= 30 + 2 * threads.WATCH_STEPS + 5


def test_a_machine_that_gets_quiet_is_timed_again_when_due() -> None:
    """The kept plan's steps do not get slower when the other core frees up: the periodic
    trial finds it."""
    machine = Machine(costs(0.02, 0.06, 0.07))
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(20):
            machine.step(choice)
        assert choice.kept == ONE
        machine.cost = costs(0.02, 0.012, 0.015)
        for _ in range(int(threads.RECHECK_SECONDS / 0.02)):  # not due yet: one thread
            machine.step(choice)
        assert set(machine.plans[20:]) == {ONE}
        for _ in range(500):  # 10 s: the trial is due (after 1 / TRIAL_SHARE its length)
            machine.step(choice)
    assert choice.kept == POOL and len(choice.changes) == 2


def test_a_given_count_uses_the_pool_throughout_and_restores_blas() -> None:
    before = parallel.blas_threads()
    machine = Machine({Plan(1, 3): 0.02})
    with ThreadChoice(3, clock=machine.clock) as choice:
        assert parallel.blas_threads() == 1 and parallel.width() == 3
        for _ in range(20):
            machine.step(choice)
    assert set(machine.plans) == {Plan(1, 3)} and choice.epoch_count() == 3
    assert parallel.blas_threads() == before and parallel.width() == 1  # as before


def test_one_core_or_blas_on_one_thread_means_no_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    with threadpool_limits(1, "blas"):  # as OPENBLAS_NUM_THREADS=1 would
        machine = Machine(costs(0.02, 0.001, 0.001))
        assert machine.train(20).kept == ONE and set(machine.plans) == {ONE}
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    machine = Machine(costs(0.02, 0.001, 0.001))
    assert machine.train(20).kept == ONE and set(machine.plans) == {ONE}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_count_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="fit: threads must be None or an integer >= 1"):
        ThreadChoice(bad)  # type: ignore[arg-type]


def test_epoch_count_is_the_count_most_steps_ran_on() -> None:
    machine = Machine(costs(0.02, 0.012, 0.015))
    with ThreadChoice(None, clock=machine.clock) as choice:
        for _ in range(10):
            machine.step(choice)
        assert choice.epoch_count() == 2  # 6 of 10 on two threads (the trial's)
        assert choice.epoch_count() == 2  # none since: the kept plan's


def test_a_pool_that_splits_nothing_is_one_thread_and_timed_once() -> None:
    """The MLP's arrays are too small to split: the pool's plan is the one-thread plan, timed
    no more after one slot; OpenBLAS's threads are kept where faster."""
    machine = Machine(costs(0.02, 0.02, 0.015), splits=False)
    choice = machine.train(60)
    assert choice.kept == BLAS and machine.plans.count(POOL) == 1


def test_the_next_fit_of_a_workload_starts_from_its_kept_plan_until_a_trial_is_due() -> None:
    """As cuDNN keeps its choice per layer: a second choice for the same workload (the next
    epoch of a loop calling fit once an epoch) runs the kept plan at once; once the recheck is
    due, it times the plans again; another workload, or forget_choices(), starts a trial."""
    threads.forget_choices()
    machine = Machine(costs(0.02, 0.012, 0.015))

    def choose(workload: str, steps: int = 5) -> ThreadChoice:
        with ThreadChoice(None, clock=machine.clock, workload=workload) as choice:
            for _ in range(steps):
                machine.step(choice)
        return choice

    choose("cnn", 30)
    machine.plans.clear()
    assert choose("cnn").changes == [(0, POOL)] and set(machine.plans) == {POOL}
    assert choose("mlp").changes == [(0, ONE)]  # another workload: a trial of its own
    machine.now += threads.RECHECK_SECONDS * 100  # due
    machine.plans.clear()
    choose("cnn", 20)
    assert machine.plans[:4] == [ONE, ONE, POOL, BLAS]  # a trial anew (its warm-up step first)
    threads.forget_choices()
    machine.plans.clear()
    choose("cnn")
    assert machine.plans[:2] == [ONE, ONE]  # the warm-up step, then the trial
