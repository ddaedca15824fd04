"""Deleting and watching many pools at once, on the single-pool semantics.

One LIST is the preflight for the whole batch (ids and display names are matched against it, and
prepaid, frozen or already-deleting pools are set aside with the reason); then each remaining pool
gets exactly one DELETE (with the client's GET-then-decide on a lost answer) from a bounded pool of
workers. Failures never stop the others, except a 401, which stops the batch at once: every
further signed request would count towards Huawei's AK/SK lockout. The client's shared throttle
slows the whole batch down on a 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from . import rules
from .errors import AuthenticationError, ModelArtsError, PoolNotFound
from .listeners import Listeners
from .models import Pool
from .retry import poll_delay

if TYPE_CHECKING:
    from .client import PoolsClient

__all__ = [
    "BulkDeletion",
    "BulkItem",
    "ItemState",
    "delete_many",
    "preflight",
    "send_deletes",
    "watch_many",
]


class ItemState(str, Enum):
    PENDING = "pending"
    EXCLUDED = "excluded"  # prepaid, frozen or unknown: nothing sent
    SKIPPED = "skipped"  # not sent because the batch stopped (401) or was stopped
    DELETING = "deleting"  # DELETE accepted (or already deleting); not gone yet
    DELETED = "deleted"
    FAILED = "failed"


DONE = frozenset({ItemState.EXCLUDED, ItemState.SKIPPED, ItemState.DELETED, ItemState.FAILED})


@dataclass
class BulkItem:
    """One pool of a batch: what was asked, what happened, and why."""

    name: str
    pool: Pool | None = None
    state: ItemState = ItemState.PENDING
    message: str = ""
    error: ModelArtsError | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def label(self) -> str:
        return self.pool.label if self.pool else self.name

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def phase(self) -> str:
        if self.state is ItemState.DELETED:
            return "Deleted"
        return (self.pool.phase if self.pool else None) or "unknown"


Report = Callable[[BulkItem], None]


def delete_many(
    client: PoolsClient,
    names: Iterable[str],
    *,
    concurrency: int = 8,
    on_update: Report | None = None,
    stop: threading.Event | None = None,
) -> list[BulkItem]:
    """Send one DELETE per deletable pool, ``concurrency`` at a time; never raises per pool."""
    items = preflight(client, names, on_update)
    send_deletes(client, items, concurrency=concurrency, on_update=on_update, stop=stop)
    return items


def send_deletes(
    client: PoolsClient,
    items: list[BulkItem],
    *,
    concurrency: int = 8,
    on_update: Report | None = None,
    stop: threading.Event | None = None,
) -> None:
    """One DELETE per PENDING item, ``concurrency`` at a time; a 401 stops the rest."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    report = on_update or (lambda item: None)
    stop = stop or threading.Event()
    todo = [item for item in items if item.state is ItemState.PENDING]
    auth_failed = threading.Event()

    def work(item: BulkItem) -> None:
        if auth_failed.is_set() or stop.is_set():
            why = "the batch stopped after a 401" if auth_failed.is_set() else "stopped"
            _finish(item, ItemState.SKIPPED, f"not sent: {why}", report)
            return
        try:
            _delete_one(client, item, report)
        except AuthenticationError as exc:
            auth_failed.set()
            _fail(item, exc, report)

    with ThreadPoolExecutor(concurrency, thread_name_prefix="modelarts-nb-bulk") as workers:
        list(workers.map(work, todo))


def watch_many(
    client: PoolsClient,
    items: list[BulkItem],
    *,
    timeout: float = 3600.0,
    interval: float | None = None,
    concurrency: int = 8,
    on_update: Report | None = None,
    stop: threading.Event | None = None,
) -> list[BulkItem]:
    """Poll every DELETING item until it is gone, fails or times out; one round at a time."""
    report = on_update or (lambda item: None)
    stop = stop or threading.Event()
    started = time.monotonic()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="modelarts-nb-bulk") as workers:
        while not stop.is_set():
            waiting = [item for item in items if item.state is ItemState.DELETING]
            elapsed = time.monotonic() - started
            if not waiting:
                break
            if elapsed >= timeout:
                for item in waiting:
                    _finish(
                        item,
                        ItemState.FAILED,
                        f"still {item.phase} after {elapsed:.0f} s; it may still finish",
                        report,
                    )
                break
            list(workers.map(lambda item: _poll_one(client, item, report), waiting))
            stop.wait(interval if interval is not None else poll_delay(elapsed))
    return items


def preflight(
    client: PoolsClient, names: Iterable[str], on_update: Report | None = None
) -> list[BulkItem]:
    """One LIST; each name becomes an item: PENDING, DELETING (already) or EXCLUDED (why)."""
    report = on_update or (lambda item: None)
    names = list(dict.fromkeys(names))
    listed = client.list_pools()
    by_id = {pool.id: pool for pool in listed}
    items = []
    for name in names:
        item = BulkItem(name)
        matches = [by_id[name]] if name in by_id else [p for p in listed if p.display_name == name]
        if len(matches) != 1:
            why = "no such pool" if not matches else f"{len(matches)} pools share this name"
            _finish(item, ItemState.EXCLUDED, f"{why}: nothing sent", report)
        else:
            item.pool = matches[0]
            reason = rules.refusal(item.pool)
            if reason:
                _finish(item, ItemState.EXCLUDED, reason, report)
            elif item.pool.phase == rules.DELETING:
                item.state, item.message = ItemState.DELETING, "already being deleted"
                report(item)
        items.append(item)
    return items


def _delete_one(client: PoolsClient, item: BulkItem, report: Report) -> None:
    assert item.pool is not None
    item.started = time.monotonic()
    try:
        accepted = client.delete_listed(item.pool)
    except AuthenticationError:
        raise
    except ModelArtsError as exc:
        _fail(item, exc, report)
        return
    if accepted is None:
        _finish(item, ItemState.DELETED, "gone", report)
        return
    item.pool, item.state, item.message = accepted, ItemState.DELETING, "deletion accepted"
    report(item)


def _poll_one(client: PoolsClient, item: BulkItem, report: Report) -> None:
    assert item.pool is not None
    try:
        pool = client.get_pool(item.pool.id)
    except PoolNotFound:
        _finish(item, ItemState.DELETED, "gone", report)
        return
    except ModelArtsError as exc:
        item.message = f"could not check: {exc}"
        report(item)
        return
    item.pool = pool
    if pool.phase in rules.FAILED_PHASES or pool.phase in rules.FAILED_AFTER_DELETING:
        detail = f": {pool.message}" if pool.message else ""
        _finish(item, ItemState.FAILED, f"deletion failed, now {pool.phase}{detail}", report)
    else:
        report(item)


def _fail(item: BulkItem, exc: ModelArtsError, report: Report) -> None:
    item.error = exc
    _finish(item, ItemState.FAILED, str(exc), report)


def _finish(item: BulkItem, state: ItemState, message: str, report: Report) -> None:
    item.state, item.message, item.finished = state, message, time.monotonic()
    report(item)


class BulkDeletion:
    """A confirmed batch: DELETEs, then the watch, in one worker thread; listeners hear each
    change. ``stop_watching`` ends the watch only: every confirmed DELETE is still sent."""

    def __init__(
        self,
        client: PoolsClient,
        names: list[str],
        *,
        concurrency: int = 8,
        timeout: float = 3600.0,
        interval: float | None = None,
    ) -> None:
        self.client = client
        self.names = names
        self.concurrency = concurrency
        self.timeout = timeout
        self.interval = interval
        self.items: list[BulkItem] = []
        self.stopped = threading.Event()
        self.finished = threading.Event()
        self.error: ModelArtsError | None = None  # what stopped the whole batch, if anything
        self._listeners: Listeners[BulkDeletion] = Listeners()
        self._thread: threading.Thread | None = None
        self._watching = threading.Event()

    def subscribe(self, listener: Callable[[BulkDeletion], None]) -> None:
        self._listeners.add(listener)

    def run(self, *, background: bool = True) -> None:
        if not background:
            self._work()
            return
        self._thread = threading.Thread(
            target=self._work, name="modelarts-nb-bulk-run", daemon=True
        )
        self._thread.start()

    def stop_watching(self) -> None:
        """End the watch within a second (even mid back-off); confirmed DELETEs still go out."""
        self.stopped.set()
        if self._watching.is_set():
            self.client.cancel.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def counts(self) -> dict[ItemState, int]:
        return {state: sum(item.state is state for item in self.items) for state in ItemState}

    def summary(self) -> str:
        """``12 deleted, 1 failed, 2 excluded`` plus one line per failure (code, request id)."""
        counts = self.counts()
        head = ", ".join(f"{n} {state.value}" for state, n in counts.items() if n)
        lines = [head or "nothing done"]
        if self.error is not None:
            lines.append(f"  the batch stopped: {self.error}")
        lines += [
            f"  {item.label}: {item.message}"
            for item in self.items
            if item.state in (ItemState.FAILED, ItemState.EXCLUDED, ItemState.SKIPPED)
        ]
        return "\n".join(lines)

    def _work(self) -> None:
        """Per-pool failures live in the items; a failure of the batch itself (the LIST, say)
        is kept in ``error`` so that a background run never loses it."""
        def changed(_item: BulkItem) -> None:
            self._listeners.notify(self)

        try:
            self.items = preflight(self.client, self.names)
            self._listeners.notify(self)
            send_deletes(self.client, self.items, concurrency=self.concurrency, on_update=changed)
            self._watching.set()
            if self.stopped.is_set():
                self.client.cancel.set()
            watch_many(
                self.client,
                self.items,
                timeout=self.timeout,
                interval=self.interval,
                concurrency=self.concurrency,
                on_update=changed,
                stop=self.stopped,
            )
        except ModelArtsError as exc:
            self.error = exc
        finally:
            self.client.close()
            self.client.cancel.clear()  # the panel's Refresh lists with this client again
            self.finished.set()
            self._listeners.notify(self)
