"""DeleteFlow: the confirmation rules and the deletion state machine — no widgets, no printing.

The panel and the magic render a flow; the flow talks to the client. Its guarantees:

* the typed name must equal the pool's id or display name exactly, and prepaid/frozen pools
  never reach ``REVIEW``;
* one confirmed intent sends at most one DELETE, even on a double click, a re-run of the cell or
  two panels for the same pool (a process-wide registry remembers who already sent it);
* the watch runs in one daemon thread that ends when the pool is gone, fails, times out or is
  stopped; stopping the watch never stops the deletion.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum

from . import rules
from .client import PoolsClient
from .errors import Cancelled, ModelArtsError, PoolNotFound
from .listeners import Listeners
from .models import Pool

__all__ = ["DeleteFlow", "Step", "stop_all_watches"]

log = logging.getLogger("modelarts_nb")


class Step(str, Enum):
    REVIEW = "review"  # waiting for the typed name
    REFUSED = "refused"  # prepaid/frozen: never deletable here
    SENDING = "sending"  # DELETE in flight
    WATCHING = "watching"  # polling until GET answers 404
    ACCEPTED = "accepted"  # DELETE accepted, not watched (--no-wait)
    DELETED = "deleted"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STOPPED = "stopped"  # the watch was stopped; the deletion goes on


BUSY = frozenset({Step.SENDING, Step.WATCHING})
WATCH_STOPPED = "Stopped watching; the deletion continues on the server."
NOTHING_SENT = "Stopped before the DELETE was sent: nothing was deleted."
Listener = Callable[["DeleteFlow"], None]


class DeleteFlow:
    """Deletion of one pool, from confirmation to "gone"; listeners hear every change."""

    def __init__(
        self,
        client: PoolsClient,
        pool: Pool,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.timeout = timeout
        self.interval = interval
        reason = rules.refusal(pool)
        self.step = Step.REFUSED if reason else Step.REVIEW
        self.message = reason or ""
        self.error: ModelArtsError | None = None
        self.started: float | None = None
        self.last_poll: datetime | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listeners: Listeners[DeleteFlow] = Listeners()
        self._thread: threading.Thread | None = None
        self.sent = False  # a DELETE may have left (answered or not)
        _REGISTRY.register(self)

    @property
    def key(self) -> tuple[str, str, str]:
        settings = self.client.settings
        return settings.endpoint, settings.project_id, self.pool.id

    @property
    def elapsed(self) -> float | None:
        return None if self.started is None else time.monotonic() - self.started

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.add(listener)

    # -- user intents ------------------------------------------------------------------------

    def can_confirm(self, typed: str) -> bool:
        """Exactly the pool id or its display name, and only while waiting for confirmation."""
        names = {self.pool.id} | ({self.pool.display_name} if self.pool.display_name else set())
        return self.step is Step.REVIEW and typed in names

    def confirm(self, typed: str, *, background: bool = True) -> bool:
        """Start the deletion if ``typed`` matches; False (and nothing sent) otherwise."""
        with self._lock:
            if not self.can_confirm(typed):
                return False
            self._begin(Step.SENDING, "Sending the DELETE request…")
        self._launch(self._delete_and_watch, background, wait=True)
        return True

    def delete_now(self, *, wait: bool = True, background: bool = False) -> None:
        """``--yes``: delete without a typed name (prepaid/frozen pools are still refused)."""
        with self._lock:
            if self.step is not Step.REVIEW:
                return
            self._begin(Step.SENDING, "Sending the DELETE request…")
        self._launch(self._delete_and_watch, background, wait=wait)

    def watch(self, *, background: bool = True) -> None:
        """Watch a pool that is already being deleted, sending nothing but GETs."""
        with self._lock:
            if self.step in BUSY or self.running:
                return
            self._begin(Step.WATCHING, "Already being deleted; watching until it is gone.")
        self._launch(self._watch_only, background)

    def cancel(self, message: str = "Cancelled: nothing was deleted.") -> None:
        with self._lock:
            if self.step is Step.REVIEW:
                self._set(Step.CANCELLED, message)

    def stop(self) -> None:
        """Stop watching (never the deletion itself); the worker thread ends within a second,
        even in a retry back-off or a throttle pause, and sends nothing more."""
        self._stop.set()
        if self.step is Step.WATCHING:  # a confirmed DELETE still goes out (see _watch_only)
            self.client.cancel.set()

    def refresh(self) -> None:
        """Read the pool once now and report it (a manual check, e.g. after Stop)."""
        if not self.running:
            self.client.cancel.clear()
        try:
            self._refresh()
        finally:
            if not self.running:
                self.client.close()

    def _refresh(self) -> None:
        try:
            pool = self.client.get_pool(self.pool.id)
        except PoolNotFound:
            if self.step in (Step.STOPPED, Step.ACCEPTED, Step.WATCHING, Step.DELETED):
                self._set(Step.DELETED, "The pool is gone.")
            else:
                self._fail_message("The pool no longer exists (or you lost access to it).")
            return
        except ModelArtsError as exc:
            self._fail(exc)
            return
        self._observe(pool)

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the worker ------------------------------------------------------------------------

    def _launch(self, target: Callable[..., None], background: bool, **kw: object) -> None:
        if not background:
            self._guard(target, **kw)
            return
        self._thread = threading.Thread(
            target=self._guard, args=(target,), kwargs=kw,
            name=f"modelarts-nb-watch-{self.pool.id}", daemon=True,
        )
        self._thread.start()

    def _guard(self, target: Callable[..., None], **kw: object) -> None:
        """Every outcome becomes a state: API errors and even bugs, never a lost traceback.

        Whatever happens, the client's connections are dropped when the work ends.
        """
        try:
            target(**kw)
        except Cancelled:
            self._stopped_early()
        except ModelArtsError as exc:
            _REGISTRY.release(self)  # a failed deletion may be retried by a rerun
            self._fail(exc)
        except KeyboardInterrupt:
            self._stopped_early()
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must still be shown, not vanish
            log.exception("modelarts-nb: unexpected error while deleting %s", self.pool.id)
            self._fail_message(f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            self.client.close()

    def _stopped_early(self) -> None:
        """Stop or an interrupt ended the work: say truthfully whether a DELETE had left."""
        if self.sent:
            self._set(Step.STOPPED, WATCH_STOPPED)
        else:
            _REGISTRY.release(self)
            self._set(Step.CANCELLED, NOTHING_SENT)

    def _delete_and_watch(self, wait: bool) -> None:
        owner = _REGISTRY.claim(self)
        if owner is None:
            accepted = self._send_delete()
            if accepted is None:
                self._set(Step.DELETED, "The pool is gone.")
                return
            self.message = "Deletion accepted; watching until the pool is gone."
            self._observe(accepted)
        else:
            self.message = "Another panel already sent the DELETE for this pool; watching it."
        if not wait:
            self._set(Step.ACCEPTED, "Deletion accepted; not watching (--no-wait).")
            return
        self._watch_only()

    def _send_delete(self) -> Pool | None:
        """Read the pool, then send the DELETE; ``sent`` tells ``_guard`` whether a DELETE may
        be on its way (an interrupt before that leaves no claim on the pool)."""
        self.sent = False
        current = self.client.get_pool(self.pool.id)
        self.sent = True
        return self.client.delete_listed(current)

    def _watch_only(self) -> None:
        self._set(Step.WATCHING, self.message)
        if self._stop.is_set():  # Stop came while the DELETE was being sent
            self.client.cancel.set()
        watch = self.client.watch_deletion(
            self.pool.id, timeout=self.timeout, interval=self.interval, sleep=self._stop.wait
        )
        try:
            for pool in watch:
                self._observe(pool)
                if self._stop.is_set():
                    break
        finally:
            watch.close()
        if self._stop.is_set():
            self._set(Step.STOPPED, WATCH_STOPPED)
        else:
            self._set(Step.DELETED, "The pool is gone.")

    # -- state changes -------------------------------------------------------------------

    def _begin(self, step: Step, message: str) -> None:
        self.started = time.monotonic()
        self._stop.clear()
        self.client.cancel.clear()
        self._set(step, message)

    def _observe(self, pool: Pool) -> None:
        with self._lock:
            self.pool = pool
            self.last_poll = datetime.now(timezone.utc)
        self._notify()

    def _fail(self, exc: ModelArtsError) -> None:
        with self._lock:
            self.error = exc
            last = getattr(exc, "last", None)
            if isinstance(last, Pool):
                self.pool = last
        self._fail_message(str(exc))

    def _fail_message(self, message: str) -> None:
        self._set(Step.FAILED, message)

    def _set(self, step: Step, message: str) -> None:
        with self._lock:
            self.step = step
            self.message = message
        self._notify()

    def _notify(self) -> None:
        self._listeners.notify(self)


class _Registry:
    """Process-wide memory of which flow sent the DELETE for a pool, and which panels review it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[tuple[str, str, str], DeleteFlow] = {}
        self._flows: weakref.WeakSet[DeleteFlow] = weakref.WeakSet()

    def register(self, flow: DeleteFlow) -> None:
        """A new flow for a pool retires older ones still waiting for confirmation."""
        with self._lock:
            older = [f for f in self._flows if f.key == flow.key and f is not flow]
            self._flows.add(flow)
        for old in older:
            old.cancel("Superseded by a newer panel for this pool: use that one.")

    def claim(self, flow: DeleteFlow) -> DeleteFlow | None:
        """None if ``flow`` may send the DELETE; else the flow that already sent it."""
        with self._lock:
            owner = self._senders.get(flow.key)
            if owner is None or owner is flow:
                self._senders[flow.key] = flow
                return None
            return owner

    def release(self, flow: DeleteFlow) -> None:
        with self._lock:
            if self._senders.get(flow.key) is flow:
                del self._senders[flow.key]

    def watching(self) -> list[DeleteFlow]:
        with self._lock:
            return [f for f in self._flows if f.running]


_REGISTRY = _Registry()


def stop_all_watches(join_timeout: float = 5.0) -> int:
    """Stop every running watch (e.g. on kernel interrupt); returns how many were stopped."""
    flows = _REGISTRY.watching()
    for flow in flows:
        flow.stop()
    for flow in flows:
        flow.join(join_timeout)
    return len(flows)
