"""``Runner``: the life of one run — its thread, Stop, listeners, and a truthful ending for
every pool — whatever the run does.

A run starts in a daemon thread (or the caller's, in the foreground: Ctrl-C then stops it),
obeys Stop (the button, closing a view, a kernel interrupt) within a second, turns every outcome
into a ``steps.Step`` — API errors and even bugs, never a lost traceback — and records each
final step before any view shows it (``receipts.final``). What a run *does* (re-read, re-check,
send, watch) is ``engine.Deletion``'s; this base class starts, stops and ends it.

Why apart from the engine: the engine's guarantees are about what is sent; these are about
threads and endings, and each reads better without the other. ``_REGISTRY`` (``claims.Claims``)
is the process-wide one-DELETE registry of every run.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from ..gateway import errors, stops
from ..gateway.api import PoolsApi
from ..gateway.models import Pool
from ..gateway.names import endpoint_key
from ..gateway.text import one_line
from . import receipts
from .claims import Claims, Key
from .listeners import Listeners
from .steps import Step
from .target import Target
from .waiter import Cadence

if TYPE_CHECKING:
    from .selection import Filters

__all__ = ["NOTHING_SENT", "WATCH_STOPPED", "Runner", "stop_all"]

log = logging.getLogger("modelarts_nb")
WATCH_STOPPED = "Stopped watching; the deletion continues on the server."
NOTHING_SENT = "Stopped before the DELETE was sent: nothing was deleted."
T = TypeVar("T")
D = TypeVar("D", bound="Runner")


class Runner:
    """Run over ``targets``: ``concurrency`` requests at a time, listeners told about every
    change. ``clock`` and ``sleep`` are seams for a simulated clock; ``sleep`` must return True
    when the watch was stopped (as ``threading.Event.wait`` does). Every DELETE that leaves gets
    a receipt (``receipts.py``) saying ``via`` what it was asked."""

    via = "python"  # or panel / text / batch: set by the view that runs it

    def __init__(
        self,
        api: PoolsApi,
        targets: list[Target],
        *,
        concurrency: int = 1,
        timeout: float = 3600.0,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], bool] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.api = api
        self.targets = list(targets)
        self.concurrency = concurrency
        self.timeout = timeout
        self.cadence = Cadence(interval)
        self.clock = clock
        self.run_error: errors.ModelArtsError | None = None  # what ended the whole run, if any
        self.interrupted = False  # a Ctrl-C ended it (said so in the receipts)
        self.view_error = ""  # a listener that failed: said once, in the summary
        self.finished = threading.Event()
        self.on_target: Callable[[Target], None] | None = None
        self.filters: Filters | None = None  # a plan's filters, re-checked on each pool
        self.force = False  # a plan's --force
        self._stop = stop or threading.Event()
        self._sleep = sleep  # default: the Stop event's wait
        self._lock = threading.RLock()
        self._refused_401 = False  # a 401: the batch sends nothing more
        self._ran = False
        self._active = False
        self._thread: threading.Thread | None = None
        self._listeners: Listeners[Runner] = Listeners(on_error=self._view_failed)

    # -- what views use ----------------------------------------------------------------------

    def subscribe(self: D, listener: Callable[[D], None]) -> None:
        self._listeners.add(listener)  # type: ignore[arg-type]  # called with self only

    @property
    def running(self) -> bool:
        return self._active

    def run(self, *, send: bool = True, wait: bool = True, background: bool = True) -> None:
        """Send the confirmed DELETEs (``send``), then watch until every pool is gone
        (``wait``); in a daemon thread, or in this one (Ctrl-C then stops it, see module)."""
        self._begin()
        if not background:
            self._guard(send, wait)
            return
        self._thread = threading.Thread(
            target=self._guard, args=(send, wait), daemon=True,
            name=f"modelarts-nb-{self.targets[0].name if len(self.targets) == 1 else 'batch'}",
        )
        self._thread.start()

    def _stop_for_more(self) -> threading.Event:
        """The stop event for more work between runs (a Refresh): a fresh one if the last
        Stop already ended the run, else the run's own (its Stop ends both). Under the lock."""
        if self._stop.is_set() and not self._active:
            self._stop = threading.Event()
        return self._stop

    def stop(self) -> None:
        """Stop the run: every wait ends within a second and nothing more is sent (a DELETE
        already on the wire completes on the server)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the run to end (and its thread to exit); at once if it never ran."""
        if not self._ran:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        self.finished.wait(timeout)
        thread = self._thread
        if thread is not None and thread.ident is not None:  # started
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def counts(self) -> dict[Step, int]:
        return {step: sum(t.step is step for t in self.targets) for step in Step}

    def summary(self) -> str:
        """``12 deleted, 1 failed, 2 refused`` plus one line per pool that did not go."""
        head = ", ".join(f"{n} {step.value}" for step, n in self.counts().items() if n)
        lines = [head or "nothing done"]
        if self.run_error is not None:
            lines.append(f"  the batch stopped: {self.run_error}")
        if self.view_error:
            lines.append(f"  {self.view_error}")
        lines += [
            f"  {one_line(t.label, 300)}: {one_line(t.message, 2000)}"
            for t in self.targets
            if t.step in (Step.FAILED, Step.REFUSED, Step.LEFT_OUT, Step.CANCELLED)
        ]
        return "\n".join(lines)

    # -- the run -------------------------------------------------------------------------------

    def _begin(self) -> None:
        with self._lock:
            if self._ran:  # a Stop ended the previous run, not this one
                self._stop = threading.Event()
            self._active = self._ran = True
            self.finished.clear()
        _REGISTRY.started(self)

    def _guard(self, send: bool, wait: bool) -> None:
        """Every outcome becomes a step: API errors and even bugs, never a lost traceback."""
        try:
            with stops.working(self.api, self._stop):  # an interrupt or kernel exit stops it
                self._notify()  # inside: a Ctrl-C while a view shows "sending" is handled
                self._run(send, wait)
        except errors.Cancelled:
            self._end_unfinished()
        except KeyboardInterrupt:
            self.stop()
            self.interrupted = True
            self._end_unfinished()
            raise
        except errors.ModelArtsError as exc:
            self.run_error = exc
            self._end_unfinished(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must still be shown, not vanish
            log.exception("modelarts-nb: unexpected error in a deletion")
            self.run_error = errors.ModelArtsError(
                f"unexpected {type(exc).__name__} in modelarts-nb (details in the log)"
            )
            self._end_unfinished(self.run_error)
        finally:
            with self._lock:
                self._active = False
            _REGISTRY.ended(self)
            self._close_if_idle()
            self.finished.set()
            self._notify()

    def _run(self, send: bool, wait: bool) -> None:
        """What the run does, in its thread (``engine.Deletion``: send, then watch)."""
        raise NotImplementedError

    # -- endings -------------------------------------------------------------------------------

    def _end_unfinished(self, exc: errors.ModelArtsError | None = None) -> None:
        """The run ended early: say truthfully, per pool, whether a DELETE had left."""
        for target in self.targets:
            if not target.step.final:
                self._end(target, exc)

    def _end(self, target: Target, exc: errors.ModelArtsError | None = None) -> None:
        if exc is not None and not target.sent:
            self._fail(target, exc)
        elif target.sent or target.step is Step.WATCHING:
            self._set(target, Step.STOPPED, WATCH_STOPPED)
        else:
            self._release(target)
            self._set(target, Step.CANCELLED, NOTHING_SENT)

    def _fail(self, target: Target, exc: errors.ModelArtsError, *, release: bool = True) -> None:
        if release:
            self._release(target)  # a failed deletion may be retried by a rerun
        target.error = exc
        last = getattr(exc, "last", None)
        if isinstance(last, Pool):
            target.pool = last
        self._set(target, Step.FAILED, str(exc))

    def _start_watch(self, target: Target, message: str) -> None:
        self._set(target, Step.WATCHING, message)

    def _set(self, target: Target, step: Step, message: str) -> None:
        with self._lock:
            if target.step is not step and not target.step.may_become(step):
                log.debug("ignored %s -> %s for %s", target.step, step, target.label)
                return
            target.step, target.message = step, message
            target.finished = time.monotonic() if step.final else None
        receipts.final(self, target)  # before any view says it: what is shown is recorded
        if step is Step.DELETED and target.pool is not None:  # nothing left to protect
            _REGISTRY.release(self._key(target), None)
        if self.on_target is not None:
            try:
                self.on_target(target)
            except Exception as exc:  # noqa: BLE001 - a view's bug never stops a deletion
                log.exception("modelarts-nb: on_update failed")
                self._view_failed(exc)
        self._notify()

    def _notify(self) -> None:
        self._listeners.notify(self)

    def _view_failed(self, exc: Exception) -> None:
        if not self.view_error:
            self.view_error = (f"a view of this deletion failed ({type(exc).__name__}) and may "
                               "be out of date; the deletion itself went on")
            print(f"modelarts-nb: {self.view_error}", file=sys.stderr)

    # -- helpers -------------------------------------------------------------------------------

    def _close_if_idle(self) -> None:
        """Drop the client's connections unless another run still sends with it."""
        if not _REGISTRY.in_use(self.api):
            self.api.close()

    def _key(self, target: Target) -> Key:
        settings = self.api.settings
        assert target.pool is not None
        return endpoint_key(settings.endpoint), settings.project_id, target.pool.id

    def _release(self, target: Target) -> None:
        if target.pool is not None:
            _REGISTRY.release(self._key(target), self)

    def _sending(self, key: Key) -> bool:
        """Whether this run is sending (or about to send) the DELETE for ``key`` right now."""
        return any(t.step is Step.SENDING and t.pool is not None and self._key(t) == key
                   for t in list(self.targets))

    def _each(self, work: Callable[[T], None], items: list[T]) -> None:
        """``work`` on every item, ``concurrency`` at a time; Ctrl-C sends nothing more."""
        if self.concurrency == 1 or len(items) <= 1:
            for item in items:
                work(item)
            return
        def in_run(item: T) -> None:
            with self.api.cancelled_by(self._stop):
                work(item)

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="modelarts-nb") as pool:
            try:
                list(pool.map(in_run, items))
            except KeyboardInterrupt:
                self.stop()  # queued items then return at once; in-flight ones finish
                raise


_REGISTRY: Claims[Runner] = Claims()


def stop_all(join_timeout: float = 1.0) -> int:
    """Stop every active run (a kernel interrupt, unloading the extension); waits at most
    ``join_timeout`` seconds in all for their threads, so the kernel is never held up."""
    runs = _REGISTRY.active()
    for run in runs:
        run.stop()
    deadline = time.monotonic() + join_timeout
    for run in runs:
        run.join(max(0.0, deadline - time.monotonic()))
    return len(runs)
