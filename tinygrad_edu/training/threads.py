"""How many threads a training step uses, and whose: chosen by timing the steps themselves
(``fit(..., threads=None)``), or given (``threads=N``).

A step can use N threads in two ways (a :class:`Plan`): OpenBLAS's own N threads for its
matrix products, or BLAS on one thread and the engine's pool of N threads (``engine/parallel``)
splitting the big products and the big elementwise passes. The second is the one that also
splits the passes: OpenBLAS's idle threads spin for a while after each product and hold the
other cores. But it hands work to another thread at about 100 microseconds a time, so small
products (the MLP's) gain only from OpenBLAS's threads.

Why measure: on two free cores two threads make the MLP's step a little faster (OpenBLAS's)
and the CNN's much faster (the pool's); beside one busy process, OpenBLAS's threads wait for
the busy core and one thread is several times faster (``benchmarks/busy_machine.py`` times
``tinygrad-edu train`` each way). No fixed choice wins everywhere, and the machine's state
changes while a run trains. So, as cuDNN's benchmark mode times its algorithms on the real
layer, :class:`ThreadChoice` times a few training steps on each plan, keeps the fastest, and
times them again now and then, or at once when the steps it keeps get slower. The timed steps
are ordinary training steps.

The pool's splits give the one-thread results bit for bit; OpenBLAS's threads sum long
products in other blocks, so the last bits of float32 results change. So the plans ``fit``
chooses among (:func:`candidate_plans`) are one thread and the pool's, and a given
``threads=N`` uses the pool: every run trains to the same bits, chosen or given.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import Any, NamedTuple

from threadpoolctl import ThreadpoolController

from ..engine import parallel

__all__ = ["Plan", "ThreadChoice", "candidate_counts", "candidate_plans", "forget_choices"]

#: Times taken on each plan in one trial, interleaved (a, b, c, a, b, c, a, b, c): enough to see
#: a slowdown of 1.3x and more through the noise of a shared machine.
TRIAL_ROUNDS = 3
#: Each time taken is the mean step of consecutive steps lasting at least this long together
#: (one CNN step, six MLP steps): a single short step is at the mercy of one scheduler tick.
SLOT_SECONDS = 0.005
#: A plan later in the order of :func:`candidate_plans` is kept only if its median step is this
#: much faster: fewer threads leave cores to the rest of the machine and suffer less when a
#: process wakes up on one, the pool's threads keep the one-thread bits, and steps that a trial
#: cannot tell apart stay on the same plan (the same bits) run after run.
MARGIN = 1.05
#: A plan whose time taken is this many times another plan's best is timed no more in the
#: trial: it cannot be kept.
GIVE_UP = 2.0
#: Trials take about this share of the training time at most: the next one comes (1 / share)
#: times the last one's seconds later, and at least ``RECHECK_SECONDS`` later.
TRIAL_SHARE = 0.03
RECHECK_SECONDS = 2.0
#: The kept plan's steps are watched in groups of ``WATCH_STEPS``: a group whose median is
#: ``SLOWER`` times the trial's means the machine got busier, and a trial starts at once.
WATCH_STEPS, SLOWER = 8, 1.5


class Plan(NamedTuple):
    """How a step uses its threads: BLAS's own, and the engine's pool (``parallel.splitting``).
    One of them is 1."""

    blas: int
    pool: int

    @property
    def threads(self) -> int:
        return max(self.blas, self.pool)


def candidate_counts(most: int) -> list[int]:
    """The counts a trial times: 1, 2, 4, ... below ``most``, then ``most`` (a machine with many
    cores is not timed at every count)."""
    counts, n = [], 1
    while n < most:
        counts.append(n)
        n *= 2
    return [*counts, most]


def candidate_plans(most: int) -> list[Plan]:
    """The plans a trial times, in the order of preference: one thread, then the pool's
    threads at each count. Every one gives the one-thread bits, so a run trains to the same
    numbers whatever it chooses (a resumed run and an uninterrupted one agree bit for bit).
    OpenBLAS's own threads are left out for that reason: they change the last bits, and they
    gained only on the MLP on a quiet machine (1.65 s against the pool's 1.93 s for
    ``tinygrad-edu train``, while beside a busy process they took 5.01 s against 1.94 s:
    ``benchmarks/busy_machine.py``)."""
    return [Plan(1, 1)] + [Plan(1, n) for n in candidate_counts(most)[1:]]


class _Kept(NamedTuple):
    """What a trial kept for a workload: the plan, its median step, when the next trial is due
    (by ``clock``), and the plans it still times."""

    plan: Plan
    median: float
    due: float
    clock: Callable[[], float]
    timed: tuple[Plan, ...]


#: The plans kept by the last trials, per workload, at most ``RECENT_WORKLOADS`` of them: as
#: cuDNN's benchmark mode keeps its choice per layer, a ``fit`` of a workload timed moments ago
#: (the next epoch of a loop calling ``fit`` once an epoch, the next run of a sweep) starts
#: from its plan, and times the plans again when the trial is due, not at once.
_recent: dict[Hashable, _Kept] = {}
RECENT_WORKLOADS = 32


def forget_choices() -> None:
    """Forget the plans kept for recent workloads: the next ``fit`` of each times them anew."""
    _recent.clear()


class ThreadChoice:
    """The plan of each training step, as a context manager around training: it sets the plan
    (BLAS's threads through threadpoolctl, the pool's through ``parallel.set_width``) and at
    the end restores both. ``fit`` calls :meth:`step_begins` and :meth:`step_ended` around each
    update, and records :meth:`epoch_count` in the History at each epoch end.

    ``threads``: an int N, the pool's N threads throughout (BLAS on one); None: chosen by timing
    (the module's docstring) among the :func:`candidate_plans` of the cores this process may
    use, at most BLAS's own count when training starts (so ``OPENBLAS_NUM_THREADS=1`` means
    one). ``clock`` gives the seconds that steps are timed with. ``workload`` (e.g. the model's
    description and the batch size; None: none) names what is trained, so that the next
    choice for it within the recheck time starts from this one's plan (``_recent``)."""

    def __init__(
        self,
        threads: int | None,
        clock: Callable[[], float] = time.perf_counter,
        workload: Hashable | None = None,
    ) -> None:
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ValueError(f"fit: threads must be None or an integer >= 1, got {threads!r}")
        self.given, self.clock, self.workload = threads, clock, workload
        self._key: Hashable = None
        self.kept = Plan(1, threads or 1)  # the plan steps use outside trials
        self.changes: list[tuple[int, Plan]] = []  # (step, plan) whenever the kept one changed
        self.steps_at: dict[int, int] = {}  # steps run on each count since epoch_count()
        self._controller: Any = None
        self._restore: Any = None  # (threadpoolctl's limit, width token) from before training
        self._plan: Plan | None = None  # the plan set now
        self._steps, self._started, self._kept_median, self._next_trial = 0, 0.0, 0.0, 0.0
        self._splits = 0  # parallel.split_count() when the step began
        self._trial: list[Plan | None] = []  # the plans of the trial's next slots (None: warm-up)
        self._slot: list[Any] = [0.0, 0]  # seconds and steps of the slot running
        self._trial_seconds = 0.0  # the steps' seconds in this trial
        self._times: dict[Plan, list[float]] = {}  # the trial's seconds per plan
        self._watched: list[float] = []

    def __enter__(self) -> ThreadChoice:
        self._controller = ThreadpoolController()
        if self.given is None:
            plans = candidate_plans(min(parallel.usable_cores(), parallel.blas_threads()))
            self.kept, self._times = plans[0], {plan: [] for plan in plans}
            self._key = (self.workload, tuple(plans))
            recent = _recent.get(self._key)
            if recent is not None and recent.clock == self.clock and self.clock() < recent.due:
                self.kept, self._kept_median, self._next_trial = (
                    recent.plan,
                    recent.median,
                    recent.due,
                )
                self._times = {plan: [] for plan in recent.timed}
            elif len(plans) > 1:
                self._trial = [None, *_interleaved(plans, TRIAL_ROUNDS)]  # None: warm-up
        self._use(self.kept)
        self.changes.append((0, self.kept))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._restore is not None:
            limit, width = self._restore
            parallel.reset_width(width)
            limit.restore_original_limits()

    def epoch_count(self) -> int:
        """The thread count most steps since the last call ran on (the kept plan's if none
        ran): what ``History.epoch_threads`` records for each epoch."""
        counts = self.steps_at or {self.kept.threads: 1}
        self.steps_at = {}
        return max(counts, key=counts.__getitem__)

    def step_begins(self) -> None:
        """Set the plan for the step about to run, and start its clock."""
        if self._trial:
            self._use(self._trial[0] or self.kept)
        self._splits = parallel.split_count()
        self._started = self.clock()

    def step_ended(self) -> None:
        """Stop the step's clock: the time goes to the trial, or watches the plan kept."""
        seconds = self.clock() - self._started
        assert self._plan is not None
        self.steps_at[self._plan.threads] = self.steps_at.get(self._plan.threads, 0) + 1
        self._steps += 1
        if self._trial:
            self._slot[0] += seconds
            self._slot[1] += 1
            self._trial_seconds += seconds
            if self._trial[0] is None or self._slot[0] >= SLOT_SECONDS:  # warm-up: one step
                if self._trial.pop(0):
                    self._took(self._slot[0] / self._slot[1])
                self._slot = [0.0, 0]
                if not self._trial:
                    self._end_trial()
        elif len(self._times) > 1:
            self._watch(seconds)

    def _took(self, seconds: float) -> None:
        """Record a time of the plan set now; if it is ``GIVE_UP`` times another plan's best,
        this trial times it no more (beside a busy process, OpenBLAS's two threads can be 20
        times slower, and each of their steps would cost 20 fast ones)."""
        assert self._plan is not None
        if self._plan.pool > 1 and parallel.split_count() == self._splits:
            self._drop(self._plan)  # it split nothing: it is the one-thread plan
            return
        self._times[self._plan].append(seconds)
        others = [min(ts) for p, ts in self._times.items() if ts and p != self._plan]
        if others and seconds > GIVE_UP * min(others):
            self._trial = [p for p in self._trial if p != self._plan]

    def _drop(self, plan: Plan) -> None:
        """Time ``plan`` no more, in this trial or later ones."""
        self._trial = [p for p in self._trial if p != plan]
        del self._times[plan]

    def _end_trial(self) -> None:
        """Keep the first plan (in :func:`candidate_plans`' order) whose median step is within
        ``MARGIN`` of the fastest."""
        medians = {p: statistics.median(ts) for p, ts in self._times.items() if ts}
        fastest = min(medians.values())
        kept = next(p for p, m in medians.items() if m <= fastest * MARGIN)
        if kept != self.kept:
            self.changes.append((self._steps, kept))
        self.kept, self._kept_median = kept, medians[kept]
        self._use(kept)
        spent, self._trial_seconds = self._trial_seconds, 0.0
        self._next_trial = self.clock() + max(RECHECK_SECONDS, spent / TRIAL_SHARE)
        self._watched = []
        if self.workload is not None:  # the next fit of this workload starts from here
            _recent.pop(self._key, None)
            _recent[self._key] = _Kept(
                kept, medians[kept], self._next_trial, self.clock, tuple(self._times)
            )
            while len(_recent) > RECENT_WORKLOADS:
                del _recent[next(iter(_recent))]

    def _watch(self, seconds: float) -> None:
        """Start a trial when one is due, or when the kept plan's steps got ``SLOWER``."""
        self._watched.append(seconds)
        if len(self._watched) < WATCH_STEPS and self.clock() < self._next_trial:
            return
        slower = statistics.median(self._watched) > SLOWER * self._kept_median
        self._watched = []
        if slower or self.clock() >= self._next_trial:
            self._trial = list(_interleaved(list(self._times), TRIAL_ROUNDS))
            self._times = {p: [] for p in self._times}

    def _use(self, plan: Plan) -> None:
        """BLAS on ``plan.blas`` threads (a limit for the whole process) and the engine's
        splits on ``plan.pool``."""
        if plan == self._plan:
            return
        limit = self._controller.limit(limits=plan.blas, user_api="blas")
        width = parallel.set_width(plan.pool)
        if self._restore is None:  # the first ones restore what was there before training
            self._restore = (limit, width)
        self._plan = plan


def _interleaved(plans: list[Plan], rounds: int) -> list[Plan | None]:
    """Each plan ``rounds`` times, round after round, OpenBLAS's threads last in each round and
    one thread first: OpenBLAS's idle threads spin for about 0.1 s after a product, and would
    slow the pool's steps that came next, but not one thread's."""
    order = sorted(plans, key=lambda p: p.blas > 1)  # stable: one thread, the pool, OpenBLAS
    return [p for _ in range(rounds) for p in order]
