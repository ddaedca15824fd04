"""Reads of many pools at once, that a Ctrl-C or a Stop ends promptly.

A plain ``ThreadPoolExecutor`` in a ``with`` block makes Ctrl-C wait for every queued read; here
the queued ones are cancelled and the running ones' retries and back-offs end (their stop event
is set), so the cell is free again after at most the requests already on the wire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .api import PoolsApi

__all__ = ["fan_out"]

T = TypeVar("T")
R = TypeVar("R")


def fan_out(api: PoolsApi, read: Callable[[T], R], items: Iterable[T], *, workers: int = 8,
            name: str = "modelarts-nb-read") -> list[R]:
    """``[read(item) for item in items]``, ``workers`` at a time, results in order; the first
    exception (or a KeyboardInterrupt of the caller) stops the rest and is raised."""
    items = list(items)
    if not items:
        return []
    stop = api.stop_event() or threading.Event()  # a run's Stop reaches these reads too
    own = api.stop_event() is None

    def one(item: T) -> R:
        with api.cancelled_by(stop):
            return read(item)

    pool = ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix=name)
    try:
        results = list(pool.map(one, items))
    except BaseException as exc:
        if own or isinstance(exc, KeyboardInterrupt):  # Ctrl-C stops the whole run
            stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
