"""Claims: one confirmed intent sends at most one DELETE per pool, in this process.

A claim on (endpoint, project, pool id) is held while a DELETE is in flight or accepted, and
released when nothing was sent, the deletion failed or the pool is gone (the engine decides
when). The registry also knows which runs are active, so that a kernel interrupt can stop them
all and a client's connections are closed only when no run still sends with it.

Why apart from the engine: it is process-wide state with a lock of its own, shared by every
run (a double click, a rerun, two panels, a panel and a batch); the engine's steps only ask it.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar

__all__ = ["Claims", "Key"]

Key = tuple[str, str, str]  # (canonical endpoint, project id, pool id)


class _Run(Protocol):
    @property
    def api(self) -> object: ...


R = TypeVar("R", bound=_Run)


class Claims(Generic[R]):
    """Process-wide: who sent the DELETE for which pool, and which runs are active."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[Key, R] = {}
        self._active: set[R] = set()

    def claim(self, key: Key, run: R) -> R | None:
        """None if ``run`` may send the DELETE for ``key``; else the run that already did."""
        with self._lock:
            owner = self._senders.setdefault(key, run)
            return None if owner is run else owner

    def take_over(self, key: Key, run: R, owner: R) -> R | None:
        """``claim``, in place of ``owner``'s stale claim (its pool shows no deletion and it
        is not sending): None if ``run`` now holds it, else whoever claimed it meanwhile."""
        with self._lock:
            if self._senders.get(key) is owner:
                del self._senders[key]
            current = self._senders.setdefault(key, run)
            return None if current is run else current

    def release(self, key: Key, run: R | None) -> None:
        """Forget ``run``'s claim on ``key`` (any run's, when ``run`` is None)."""
        with self._lock:
            if run is None or self._senders.get(key) is run:
                self._senders.pop(key, None)

    def started(self, run: R) -> None:
        with self._lock:
            self._active.add(run)

    def ended(self, run: R) -> None:
        with self._lock:
            self._active.discard(run)

    def in_use(self, api: object) -> bool:
        """Whether an active run sends with ``api`` (then its connections must stay)."""
        with self._lock:
            return any(run.api is api for run in self._active)

    def active(self) -> list[R]:
        with self._lock:
            return list(self._active)
