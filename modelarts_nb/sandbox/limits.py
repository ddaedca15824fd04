"""The gateway's rate limit: a token bucket answering 429 ``APIG.0308`` with ``Retry-After``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimiter", "throttled_body"]


class RateLimiter:
    """``rate`` requests per second, with a burst of up to one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None if the request may pass, else the seconds until it could."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / self.rate


def throttled_body(rate: float, request_id: str) -> dict[str, Any]:
    """The gateway's words, including the limit, as APIG writes them."""
    return {
        "error_code": "APIG.0308",
        "error_msg": "The throttling threshold has been reached: policy user over ratelimit,"
        f"limit:{math.floor(rate)},time:1 second",
        "request_id": request_id,
    }
