"""How many threads a training step uses, BLAS's and the engine's elementwise splits': chosen by
timing the steps themselves (``fit(..., threads=None)``), or given (``threads=N``).

Why measure: on two free cores, two threads make the course's MLP step a little faster and its
CNN step much faster; beside one busy process, OpenBLAS's threads wait for the busy core and one
thread is several times faster (``benchmarks/busy_machine.py`` times ``tinygrad-edu train``
both ways). No fixed count wins both ways, and the machine's state changes while a run trains.
So, as cuDNN's benchmark mode times its algorithms on the real layer, :class:`ThreadChoice`
times a few training steps at each count, keeps the fastest, and times them again now and then,
or at once when the steps it keeps get slower. The timed steps are ordinary training steps.

The count changes how OpenBLAS splits a long matrix product, and so the last bits of float32
results: runs agree bit for bit when they train on the same count (give ``threads=N``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from threadpoolctl import ThreadpoolController

from ..engine import parallel

__all__ = ["ThreadChoice", "candidate_counts"]

#: Times taken at each count in one trial, interleaved (1, 2, 2, 1, 1, 2): enough to see a
#: slowdown of 1.3x and more through the noise of a shared machine.
TRIAL_ROUNDS = 3
#: Each time taken is the mean step of consecutive steps lasting at least this long together
#: (one CNN step, ten MLP steps): a single short step is at the mercy of one scheduler tick.
SLOT_SECONDS = 0.01
#: More threads are kept only if their median step is this much faster: fewer threads leave
#: cores to the rest of the machine, suffer less when a process wakes up on one, and steps that
#: a trial cannot tell apart stay on the same count (the same bits) run after run.
MARGIN = 1.1
#: A count whose time taken is this many times another count's best is timed no more in the
#: trial: it cannot be kept.
GIVE_UP = 2.0
#: Trials take about this share of the training time at most: the next one comes (1 / share)
#: times the last one's seconds later, and at least ``RECHECK_SECONDS`` later.
TRIAL_SHARE = 0.03
RECHECK_SECONDS = 2.0
#: The kept count's steps are watched in groups of ``WATCH_STEPS``: a group whose median is
#: ``SLOWER`` times the trial's means the machine got busier, and a trial starts at once.
WATCH_STEPS, SLOWER = 8, 1.5


def candidate_counts(most: int) -> list[int]:
    """The counts a trial times: 1, 2, 4, ... below ``most``, then ``most`` (a machine with many
    cores is not timed at every count)."""
    counts, n = [], 1
    while n < most:
        counts.append(n)
        n *= 2
    return [*counts, most]


class ThreadChoice:
    """The thread count of each training step, as a context manager around training: it sets
    the count (BLAS through threadpoolctl, and ``engine.parallel``'s splits) and at the end
    restores BLAS's own. ``fit`` calls :meth:`step_begins` and :meth:`step_ended` around each
    update, and records :meth:`epoch_count` in the History at each epoch end.

    ``threads``: an int, that count throughout; None: chosen by timing (the module's docstring)
    among the :func:`candidate_counts` of the cores this process may use, at most BLAS's own
    count when training starts (so ``OPENBLAS_NUM_THREADS=1`` is respected). ``clock`` gives
    the seconds that steps are timed with."""

    def __init__(self, threads: int | None, clock: Callable[[], float] = time.perf_counter) -> None:
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ValueError(f"fit: threads must be None or an integer >= 1, got {threads!r}")
        self.given, self.clock = threads, clock
        self.kept = threads or 1  # the count steps use outside trials
        self.changes: list[tuple[int, int]] = []  # (step, count) whenever the kept one changed
        self.steps_at: dict[int, int] = {}  # steps run at each count since epoch_count()
        self._controller: Any = None
        self._restore: Any = None  # threadpoolctl's limit that restores BLAS's count
        self._width: Any = None  # the token that restores the splits' width
        self._count = 0  # the count set now
        self._steps, self._started, self._kept_median, self._next_trial = 0, 0.0, 0.0, 0.0
        self._trial: list[int] = []  # the counts of the trial's next slots (0: warm-up)
        self._slot: list[Any] = [0.0, 0]  # seconds and steps of the slot running
        self._trial_seconds = 0.0  # the steps' seconds in this trial
        self._times: dict[int, list[float]] = {}  # the trial's seconds per count
        self._watched: list[float] = []

    def __enter__(self) -> ThreadChoice:
        self._controller = ThreadpoolController()
        if self.given is None:
            counts = candidate_counts(min(parallel.usable_cores(), parallel.blas_threads()))
            self.kept, self._times = counts[0], {n: [] for n in counts}
            if len(counts) > 1:
                self._trial = [0, *_interleaved(counts, TRIAL_ROUNDS)]  # 0: untimed warm-up
        self._use(self.kept)
        self.changes.append((0, self.kept))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._width is not None:
            parallel.reset_width(self._width)
        if self._restore is not None:
            self._restore.restore_original_limits()

    def epoch_count(self) -> int:
        """The count most steps since the last call ran at (the kept one if none ran): what
        ``History.epoch_threads`` records for each epoch."""
        most = max(self.steps_at, key=self.steps_at.__getitem__) if self.steps_at else self.kept
        self.steps_at = {}
        return most

    def step_begins(self) -> None:
        """Set the count for the step about to run, and start its clock."""
        if self._trial:
            self._use(self._trial[0] or self.kept)
        self._started = self.clock()

    def step_ended(self) -> None:
        """Stop the step's clock: the time goes to the trial, or watches the count kept."""
        seconds = self.clock() - self._started
        self.steps_at[self._count] = self.steps_at.get(self._count, 0) + 1
        self._steps += 1
        if self._trial:
            self._slot[0] += seconds
            self._slot[1] += 1
            self._trial_seconds += seconds
            if self._slot[0] >= SLOT_SECONDS:  # one time taken: the slot's mean step
                if self._trial.pop(0):  # 0: the untimed warm-up
                    self._took(self._slot[0] / self._slot[1])
                self._slot = [0.0, 0]
                if not self._trial:
                    self._end_trial()
        elif len(self._times) > 1:
            self._watch(seconds)

    def _took(self, seconds: float) -> None:
        """Record a time of the count set now; if it is ``GIVE_UP`` times another count's best,
        this trial times it no more (beside a busy process, two threads can be 20 times
        slower, and each of their steps would cost 20 fast ones)."""
        self._times[self._count].append(seconds)
        others = [min(ts) for n, ts in self._times.items() if ts and n != self._count]
        if others and seconds > GIVE_UP * min(others):
            self._trial = [n for n in self._trial if n != self._count]

    def _end_trial(self) -> None:
        """Keep the fewest threads whose median step is within ``MARGIN`` of the fastest."""
        medians = {n: statistics.median(ts) for n, ts in self._times.items()}
        fastest = min(medians.values())
        kept = min(n for n, m in medians.items() if m <= fastest * MARGIN)
        if kept != self.kept:
            self.changes.append((self._steps, kept))
        self.kept, self._kept_median = kept, medians[kept]
        self._use(kept)
        spent, self._trial_seconds = self._trial_seconds, 0.0
        self._next_trial = self.clock() + max(RECHECK_SECONDS, spent / TRIAL_SHARE)
        self._watched = []

    def _watch(self, seconds: float) -> None:
        """Start a trial when one is due, or when the kept count's steps got ``SLOWER``."""
        self._watched.append(seconds)
        if len(self._watched) < WATCH_STEPS and self.clock() < self._next_trial:
            return
        slower = statistics.median(self._watched) > SLOWER * self._kept_median
        self._watched = []
        if slower or self.clock() >= self._next_trial:
            self._trial = _interleaved(list(self._times), TRIAL_ROUNDS)
            self._times = {n: [] for n in self._times}

    def _use(self, count: int) -> None:
        """BLAS and the elementwise splits on ``count`` threads (BLAS's limit: the process's)."""
        if count == self._count:
            return
        limit = self._controller.limit(limits=count, user_api="blas")
        width = parallel.set_width(count)
        if self._restore is None:  # the first ones restore BLAS's count and the width from before
            self._restore, self._width = limit, width
        self._count = count


def _interleaved(counts: list[int], rounds: int) -> list[int]:
    """Each count ``rounds`` times, the order reversed every other round: 1, 2, 2, 1, 1, 2."""
    return [n for r in range(rounds) for n in (counts if r % 2 == 0 else counts[::-1])]
