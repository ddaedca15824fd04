"""One stop per run: every piece of work that reads or waits registers its stop event here.

A deletion run, a panel's check of what pools carry, a Refresh, a listing, a completion read:
each works under one ``threading.Event`` (its Stop button and its panel's close set it) and,
while it works, that event is listed here. A kernel interrupt between cells and kernel exit
(``interrupts``, ``display``) then reach every one of them with ``stop_everything()``: waits end
within the client's next check (``PoolsApi._pause``) and no request follows.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol

__all__ = ["stop_everything", "working"]


class _Cancellable(Protocol):  # PoolsApi, without importing the HTTP layer
    def cancelled_by(self, event: threading.Event) -> contextlib.AbstractContextManager[None]:
        ...


_live: dict[threading.Event, int] = {}  # the events of work under way (count: nested blocks)
_lock = threading.Lock()


@contextlib.contextmanager
def working(api: _Cancellable, event: threading.Event) -> Iterator[threading.Event]:
    """The block's requests obey ``event`` (``api.cancelled_by``), and an interrupt or kernel
    exit sets it; a KeyboardInterrupt inside (Ctrl-C in the foreground) sets it too, so reads
    other threads make for the same work stop as well."""
    with _lock:
        _live[event] = _live.get(event, 0) + 1
    try:
        with api.cancelled_by(event):
            yield event
    except KeyboardInterrupt:
        event.set()
        raise
    finally:
        with _lock:
            left = _live.pop(event, 1) - 1
            if left:
                _live[event] = left


def stop_everything() -> int:
    """Set the stop event of every piece of work under way; how many there were."""
    with _lock:
        events = list(_live)
    for event in events:
        event.set()
    return len(events)
