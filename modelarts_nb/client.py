"""``PoolsClient``: the pool API plus the few calls a script needs, all documented in the README.

The HTTP verbs are ``api.PoolsApi``'s (which never imports the engine); the rest are one-line
doors into ``lookup`` (names → pools) and ``engine`` (deleting and waiting), so a script gets
exactly what the panel and ``%pools`` do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from . import engine, lookup, receipts
from .api import DEFAULT_TIMEOUT, PoolsApi
from .engine import Deletion, Target
from .errors import Cancelled
from .models import Pool
from .names import check_pool_id
from .waiter import Cadence, Watch, wait

__all__ = ["DEFAULT_TIMEOUT", "PoolsClient"]


class PoolsClient(PoolsApi):
    """Client for the ModelArts v2 pool API of one project (see ``PoolsApi`` for the options).

    Use as a context manager, or call ``close()``: afterwards no connection stays open.
    """

    def resolve(self, name_or_display: str) -> Pool:
        """The pool whose id is ``name_or_display``, else the one whose display name is."""
        return lookup.resolve(self, name_or_display)

    def delete_pool(self, name: str) -> Pool | None:
        """Read the pool, refuse prepaid/frozen pools, then send one DELETE.

        Returns the pool as the server reported it after accepting the deletion (or as it was,
        if already Deleting: nothing is sent then), or None when it was gone by then.
        """
        pool = self.get_pool(name)
        with receipts.Call(self, pool) as call:  # a DELETE outside any run: its own receipt
            return call.ended(engine.delete_once(self, pool, on_wire=call.wire,
                                                 on_answer=call.answer))

    def wait_until_deleted(
        self,
        name: str,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[Pool], None] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Pool | None:
        """Block until GET answers 404; report each observation to ``on_update``.

        Returns the last pool observed (None if it was already gone). Raises DeletionFailed on a
        failure phase, WaitTimeout after ``timeout`` seconds, and the read's own error when the
        pool cannot be read even after retries. ``interval`` fixes the cadence (default:
        adaptive); ``sleep`` replaces the client's (interruptible) pause.
        """
        watch = Watch(check_pool_id(name), start=self._clock(), timeout=timeout, requested=False)

        def poll(_watches: list[Watch]) -> None:
            watch.check(self.get_pool, self._clock())
            if watch.seen is not None and on_update is not None:
                on_update(watch.seen)

        def pause(seconds: float) -> bool:
            if sleep is None:
                self._pause(seconds)
            else:
                sleep(seconds)
            return False

        wait([watch], poll, sleep=pause, clock=self._clock, cadence=Cadence(interval))
        if watch.error is not None:
            raise watch.error
        return watch.pool

    def delete_many(
        self,
        names: Iterable[str],
        *,
        concurrency: int = 8,
        on_update: Callable[[Target], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Target]:
        """Delete many pools (ids or display names): one LIST, then one DELETE each.

        Never raises for a single pool: each ``Target`` says what happened (its ``step`` and
        ``message``); a 401 stops the batch. Raises only when the LIST itself fails.
        """
        run = Deletion.for_names(self, names, concurrency=concurrency, stop=stop)
        return _finish(run, on_update, send=True)

    def watch_many(
        self,
        items: list[Target],
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[Target], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Target]:
        """Watch the pools ``delete_many`` had accepted until each is gone, failed or timed out."""
        run = Deletion(self, items, concurrency=8, timeout=timeout, interval=interval, stop=stop)
        return _finish(run, on_update, send=False)


def _finish(
    run: Deletion, on_update: Callable[[Target], None] | None, *, send: bool
) -> list[Target]:
    """Delete without watching (``send``), or only watch; in this thread."""
    run.on_target = on_update
    run.run(send=send, wait=not send, background=False)
    if run.run_error is not None and not isinstance(run.run_error, Cancelled):
        if not any(t.sent for t in run.targets):
            raise run.run_error
    return run.targets
