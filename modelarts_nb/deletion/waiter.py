"""One waiter for every watched deletion, in the spirit of botocore's waiters.

What an observation means comes from ``rules``; how often to look is data (``Cadence``); how to
read a pool, what time it is and how to sleep are injected, so the same loop runs one pool in a
panel, a hundred in a batch, and any number on a simulated clock in the tests. ``sleep`` is an
interruptible wait (``threading.Event.wait``): it returns True when the watch was stopped, and
then the loop ends at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..gateway.errors import Cancelled, DeletionFailed, ModelArtsError, PoolNotFound, WaitTimeout
from ..gateway.models import Pool
from ..gateway.retry import poll_delay
from . import rules

__all__ = ["Cadence", "Verdict", "Watch", "wait"]


class Verdict(str, Enum):
    WAITING = "waiting"
    GONE = "gone"  # GET answered 404 after the deletion was requested
    FAILED = "failed"  # a failure phase: it will not finish by itself
    TIMED_OUT = "timed out"
    BLIND = "blind"  # the pool could not be read, even after retries: the deletion goes on


@dataclass(frozen=True)
class Cadence:
    """Fixed ``interval`` seconds, or adaptive (2 s at first, ~10 % of the elapsed time, ≤ 60 s)."""

    interval: float | None = None

    def delay(self, elapsed: float) -> float:
        return self.interval if self.interval is not None else poll_delay(elapsed)


class Watch:
    """One pool whose deletion is being watched, and what its observations mean so far."""

    def __init__(
        self, pool_id: str, *, start: float, timeout: float, requested: bool,
        pool: Pool | None = None,
    ) -> None:
        self.pool_id = pool_id
        self.pool = pool  # the last observation
        self.seen: Pool | None = None  # what the latest check read (None: nothing)
        self.start = start
        self.timeout = timeout
        # once a deletion is known to be underway, Abnormal may mean it is going wrong
        self.underway = requested or (pool is not None and rules.underway(pool))
        self.verdict = Verdict.WAITING
        self.error: ModelArtsError | None = None
        self.problem = ""  # why the latest observation is worrying, shown while waiting
        self._abnormal_since: float | None = None

    @property
    def label(self) -> str:
        return self.pool.label if self.pool is not None else self.pool_id

    @property
    def done(self) -> bool:
        return self.verdict is not Verdict.WAITING

    def check(self, get_pool: Callable[[str], Pool], now: float) -> Verdict:
        """Read the pool once and decide. ``Cancelled`` (Stop) is not a verdict: it propagates."""
        self.seen = None
        try:
            self.seen = get_pool(self.pool_id)
        except PoolNotFound:
            self.verdict = Verdict.GONE
        except Cancelled:
            raise
        except ModelArtsError as exc:
            self.error, self.verdict = exc, Verdict.BLIND
        else:
            self.observe(self.seen, now)
            if not self.done and now - self.start >= self.timeout:
                self._timed_out(now)
        return self.verdict

    def observe(self, pool: Pool, now: float) -> None:
        self.pool, self.problem = pool, ""
        self.underway = self.underway or rules.underway(pool)
        failing = rules.failing(pool, underway=self.underway)
        if failing is None:
            self._abnormal_since = None
            return
        if self._abnormal_since is None:
            self._abnormal_since = now
        since = self._abnormal_since
        if not failing:
            self.problem = (f"{pool.phase} during the deletion; counted as failed if it lasts "
                            f"{rules.ABNORMAL_GRACE:.0f} s")
        if failing or now - since >= rules.ABNORMAL_GRACE:
            detail = f": {pool.message}" if pool.message else ""
            self.verdict = Verdict.FAILED
            self.error = DeletionFailed(
                f"deleting pool {pool.label} failed: it is now {pool.phase}{detail}; "
                "check the pool in the ModelArts console",
                last=pool,
            )

    def next_delay(self, cadence: Cadence, now: float) -> float:
        elapsed = now - self.start
        return max(0.0, min(cadence.delay(elapsed), self.timeout - elapsed))

    def _timed_out(self, now: float) -> None:
        self.verdict = Verdict.TIMED_OUT
        phase = self.pool.phase if self.pool is not None else "unknown"
        self.error = WaitTimeout(
            f"pool {self.label} still exists after {now - self.start:.0f} s (phase {phase}); "
            "the deletion may still finish — watch it again or check the console",
            last=self.pool,
        )


def wait(
    watches: list[Watch],
    poll: Callable[[list[Watch]], None],
    *,
    sleep: Callable[[float], bool],
    clock: Callable[[], float],
    cadence: Cadence,
) -> bool:
    """Poll the watches that are still waiting, round after round, until none is; False if
    ``sleep`` reported a stop first. ``poll`` checks each of the given watches once."""
    while True:
        waiting = [w for w in watches if not w.done]
        if not waiting:
            return True
        poll(waiting)
        waiting = [w for w in waiting if not w.done]
        if not waiting:
            return True
        now = clock()
        if sleep(min(w.next_delay(cadence, now) for w in waiting)):
            return False
