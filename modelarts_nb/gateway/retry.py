"""Retry and polling cadence, kept apart: retry is for a failed request, polling for progress.

Only idempotent GETs are retried, on transport errors and 429/502/503/504, with capped exponential
backoff and full jitter, honouring ``Retry-After``. 401 is never retried (Huawei locks an AK/SK
for 5 minutes after more than 5 failed signatures); DELETE has its own rules in the client.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

__all__ = [
    "DECAY_SECONDS",
    "MAX_INTERVAL",
    "QUIET_SECONDS",
    "RETRYABLE_STATUS",
    "RetryPolicy",
    "Throttle",
    "parse_rate_limit",
    "parse_retry_after",
    "poll_delay",
]

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
QUIET_SECONDS = 60.0  # a minute without a 429 and requests are no longer paced
DECAY_SECONDS = 10.0  # each 10 s without a 429 halves the spacing
# The widest spacing a 429 that names no limit can cause. Such a 429 only says "slower":
# 2 s between requests is 30 a minute, half the "60 calls per minute per user" another
# Huawei service documents, and the 2-5 s Huawei advises waiting after APIG.0308
# (docs/modelarts-api.md §5.3). Whatever a gateway wants beyond that it says with Retry-After,
# which pauses everyone anyway.
MAX_INTERVAL = 2.0
_MIN_INTERVAL = 0.05  # the spacing after a first 429 that names no limit


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, for one GET: the first try plus three retries
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0  # never sleep longer than this on a server's say-so
    # Seconds one GET (or one DELETE's resends) may take from its first try, waits included:
    # a retry whose wait would end later is not made. One full Retry-After (60 s) still fits;
    # three in a row (3 min of a busy kernel) do not.
    budget: float = 90.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def affords(self, spent: float, wait: float) -> bool:
        """Whether a retry after ``wait`` more seconds ends within the budget, ``spent``
        seconds after the first try started."""
        return spent + wait <= self.budget

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


_MAX_RETRY_AFTER = 86400.0  # a day: a longer Retry-After is clamped (the policy waits less)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` is either seconds or a date (one without a time zone is UTC); None when
    absent or unreadable, else between 0 and ``_MAX_RETRY_AFTER``. Never raises: it is read
    after a DELETE left, where an exception would hide the answer."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _date(value.strip())
        if when is None:
            return None
        seconds = (when - _aware(now or datetime.now(timezone.utc))).total_seconds()
    # "nan", "inf", "1e999": not a number of seconds anyone can wait
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def _date(value: str) -> datetime | None:
    """An HTTP date (or, from a sloppy server, ISO 8601) as an aware datetime; None if neither."""
    try:
        return _aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def poll_delay(elapsed: float, *, minimum: float = 2.0, maximum: float = 60.0) -> float:
    """Adaptive watch cadence: quick at first, then ~10 % of the time already spent.

    The lag between a pool disappearing and us noticing stays within max(2 s, 10 % of the
    elapsed time) while long deletions cost few GETs.
    """
    return min(maximum, max(minimum, elapsed * 0.1))


_LIMIT = re.compile(r"limit:\s*(\d+)\s*,\s*time:\s*1\s*(second|minute)", re.IGNORECASE)


def parse_rate_limit(message: str | None) -> float | None:
    """Requests per second from APIG's "policy user over ratelimit,limit:N,time:1 minute"."""
    match = _LIMIT.search(message or "")
    if not match or int(match.group(1)) <= 0:
        return None
    per_unit = float(match.group(1))
    return per_unit if match.group(2).lower() == "second" else per_unit / 60.0


class Throttle:
    """One gate for every request of a client, so a 429 slows the whole batch down.

    After a 429 nobody sends before ``Retry-After`` has passed, and from then on requests are
    spaced to 90 % of the limit the gateway named (or, when it named none, twice as far apart
    as before, up to ``MAX_INTERVAL``) instead of each worker hammering the API on its own
    schedule. Every ``DECAY_SECONDS`` without a 429 halve the spacing (never below what a
    named limit asks for: that one the gateway enforces), and after
    ``QUIET_SECONDS`` the pacing ends, so one busy minute does not slow the client down for
    the rest of its life. No turn is ever further away than ``max_pause`` (the policy's
    ``max_retry_after``): the server's numbers are data, not orders.
    """

    def __init__(self, sleep: Callable[[float], object], clock: Callable[[], float],
                 max_pause: float = 60.0) -> None:
        self._sleep = sleep
        self._clock = clock
        self._max_pause = max_pause
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._next_slot = 0.0
        self._last_429: float | None = None
        self._calm_since = 0.0  # the last 429, or the last halving since
        self.interval = 0.0  # seconds between two requests; 0 until the first 429
        self._named = 0.0  # the spacing a limit the gateway named asks for: no decay below it

    def wait(self) -> None:
        """Block until this request's turn."""
        with self._lock:
            now = self._clock()
            self._relax(now)
            turn = min(max(now, self._resume_at, self._next_slot), now + self._max_pause)
            self._next_slot = turn + self.interval
        if turn > now:
            self._sleep(turn - now)

    def pending(self) -> float:
        """Seconds until the next request may leave (0 when it may leave now)."""
        with self._lock:
            now = self._clock()
            return min(max(0.0, self._resume_at - now, self._next_slot - now), self._max_pause)

    def throttled(self, retry_after: float, rate_limit: float | None) -> None:
        """Record a 429: pause everyone for ``retry_after`` s and pace from then on."""
        with self._lock:
            now = self._clock()
            self._last_429 = self._calm_since = now
            pause = min(max(retry_after, 0.0), self._max_pause)
            self._resume_at = min(max(self._resume_at, now + pause), now + self._max_pause)
            if rate_limit:
                paced = min(1.0 / (0.9 * rate_limit), self._max_pause)
                self._named = max(self._named, paced)
            else:
                paced = min(max(_MIN_INTERVAL, self.interval * 2), MAX_INTERVAL)
            self.interval = max(self.interval, paced)

    def _relax(self, now: float) -> None:
        """Halve the spacing for each ``DECAY_SECONDS`` without a 429, and end it after
        ``QUIET_SECONDS``: a gateway that stopped refusing gets our speed back step by step."""
        if self._last_429 is None:
            return
        if now - self._last_429 > QUIET_SECONDS:
            self.interval, self._named, self._last_429 = 0.0, 0.0, None  # calm again
            return
        steps = int((now - self._calm_since) // DECAY_SECONDS)
        if steps > 0:
            # steps <= 6 (QUIET_SECONDS / DECAY_SECONDS); never faster than a named limit
            self.interval = max(self._named, self.interval / 2.0 ** steps)
            self._calm_since += steps * DECAY_SECONDS
