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


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, for one GET: the first try plus three retries
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0  # never sleep longer than this on a server's say-so
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

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
    as before) instead of each worker hammering the API on its own schedule. After
    ``QUIET_SECONDS`` without a 429 the pacing ends, so one busy minute does not slow the
    client down for the rest of its life.
    """

    def __init__(self, sleep: Callable[[float], object], clock: Callable[[], float]) -> None:
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0
        self._next_slot = 0.0
        self._last_429: float | None = None
        self.interval = 0.0  # seconds between two requests; 0 until the first 429

    def wait(self) -> None:
        """Block until this request's turn."""
        with self._lock:
            now = self._clock()
            if self._last_429 is not None and now - self._last_429 > QUIET_SECONDS:
                self.interval, self._last_429 = 0.0, None  # the gateway has calmed down
            turn = max(now, self._resume_at, self._next_slot)
            self._next_slot = turn + self.interval
        if turn > now:
            self._sleep(turn - now)

    def throttled(self, retry_after: float, rate_limit: float | None) -> None:
        """Record a 429: pause everyone for ``retry_after`` s and pace from then on."""
        with self._lock:
            self._last_429 = self._clock()
            self._resume_at = max(self._resume_at, self._clock() + retry_after)
            paced = 1.0 / (0.9 * rate_limit) if rate_limit else max(0.05, self.interval * 2)
            self.interval = max(self.interval, paced)
