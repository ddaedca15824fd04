"""The deletion engine: one runner that deletes one pool or many, and watches them go.

A ``Deletion`` owns everything that outlives a single request: the worker thread (or the
caller's, in the foreground), Stop, the listeners, the kernel-interrupt hook and the process-wide
one-DELETE registry. Its steps are ``steps.Step``; its waiting is ``waiter.wait``; its requests
are ``api.PoolsApi``'s. The panel (one pool, a typed name) and ``%pools`` (N pools, "delete N
pools") are views of it, so one server story gives one verdict whatever started it.

Guarantees:

* right before sending, the pools are read once more (a GET for one, a LIST for many) and
  prepaid, frozen, unknown or vanished pools get no DELETE; a pool deleted from a reviewed
  ``plan.Plan`` also has its work (and, for tag filters, its tags) read again, and is left out,
  saying what changed, when ``plan.drift`` finds it is not what was reviewed; then
  ``policy.decide`` — the one rule — says whether it may go;
* one confirmed intent sends at most one DELETE per pool, in this process, whoever asks (a
  double click, a rerun, two panels, a panel and a batch): a claim on (endpoint, project, pool id)
  is held while a DELETE is in flight or accepted, and released when nothing was sent, the
  deletion failed or the pool is gone;
* a lost answer is followed by a GET before anything else, and by at most one more DELETE;
* Stop (the button, closing a view, a kernel interrupt, Ctrl-C in the foreground) ends every
  wait of the run within a second and sends nothing more: a DELETE already on the wire completes
  on the server (said as such), one not yet sent is never sent (said as "nothing was sent");
* a 401 ends the batch: nothing further is sent with credentials the gateway refused.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ..gateway import errors, stops
from ..gateway.api import PoolsApi
from ..gateway.fanout import fan_out
from ..gateway.models import DEFAULT_WORKSPACE, Pool
from ..gateway.names import check_display_name, check_pool_id, endpoint_key, looks_like_pool_id
from ..gateway.text import one_line
from . import receipts, rules
from .impact import read_impact
from .listeners import Listeners
from .lookup import match
from .plan import Plan, PlanItem, drift
from .policy import Verdict as Decided
from .policy import decide
from .selection import current_tags
from .steps import Step
from .waiter import Cadence, Verdict, Watch, wait

if TYPE_CHECKING:
    from .impact import Impact
    from .selection import Filters

__all__ = [
    "NOTHING_SENT",
    "WATCH_STOPPED",
    "Deletion",
    "Target",
    "delete_once",
    "stop_all",
]

log = logging.getLogger("modelarts_nb")
WATCH_STOPPED = "Stopped watching; the deletion continues on the server."
NOTHING_SENT = "Stopped before the DELETE was sent: nothing was deleted."
_GONE = "The pool is gone."
NOT_ACKNOWLEDGED = ("not acknowledged (tick the acknowledgement, or add --force / force=True); "
                    "nothing was sent")
_ACCEPTED = "Deletion accepted; watching until the pool is gone."
T = TypeVar("T")
D = TypeVar("D", bound="Deletion")


@dataclass(eq=False)
class Target:
    """One pool of a deletion: what was asked, what happened, and why."""

    name: str
    pool: Pool | None = None
    step: Step = Step.REVIEW
    message: str = ""
    error: errors.ModelArtsError | None = None
    sent: bool = False  # a DELETE may have left (answered or not)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    last_poll: datetime | None = None
    watch: Watch | None = field(default=None, repr=False)
    impact: Impact | None = field(default=None, repr=False)  # what it runs, if checked
    receipt: receipts.Receipt | None = field(default=None, repr=False)  # its DELETE's record
    planned: PlanItem | None = field(default=None, repr=False)  # what was reviewed, if any

    @property
    def label(self) -> str:
        return self.pool.label if self.pool else self.name

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def phase(self) -> str:
        if self.step is Step.DELETED:
            return "Deleted"
        return (self.pool.phase if self.pool else None) or "unknown"


def _planned(item: PlanItem) -> Target:
    """A plan's pool as a target: to delete (re-checked first), or already decided."""
    target = Target(item.facts.id, planned=item)
    why = item.detail or item.reason
    if item.verdict is Decided.REFUSED:
        target.step, target.message = Step.REFUSED, f"{why}; nothing was sent"
    elif item.verdict is Decided.KEPT:
        target.step, target.message = Step.LEFT_OUT, f"{why}; nothing was sent"
    elif item.verdict is Decided.ACKNOWLEDGE:
        target.step, target.message = Step.LEFT_OUT, f"{why}: {NOT_ACKNOWLEDGED}"
    return target


def _left_out(changes: list[str]) -> str:
    """What ``drift`` found, as the one line a left-out pool shows."""
    unknown = all(change.startswith("could not") for change in changes)
    head = "could not be checked again" if unknown else "changed since you reviewed it"
    return f"{head}: {'; '.join(changes)} — review it again; nothing was sent"


def _workspace(target: Target) -> str:
    if target.pool is not None:
        return target.pool.workspace_id
    return target.planned.facts.workspace if target.planned is not None else ""


def delete_once(
    api: PoolsApi, pool: Pool, *, on_wire: Callable[[bool], None] | None = None,
    on_answer: Callable[[str | None], None] | None = None,
) -> Pool | None:
    """Send the DELETE for a pool just read: the pool as accepted, or None if already gone.

    Refuses prepaid/frozen/unknown pools; a pool already Deleting is returned without sending.
    When the answer is lost, the pool is read back first: gone or Deleting means accepted; still
    there means at most one more DELETE. ``on_wire`` and ``on_answer`` (each answer's request
    id) are what a receipt records: the caller keeps it (a run, or ``PoolsClient.delete_pool``).
    """
    reason = rules.refusal(pool)
    if reason:
        raise errors.DeletionRefused(reason + "; nothing was deleted", pool=pool)
    if pool.phase == rules.DELETING:
        return pool
    for first in (True, False):
        accepted = api.send_delete(pool.id, first=first, on_wire=on_wire, on_answer=on_answer)
        if accepted is not None:
            return accepted
        try:
            current = api.get_pool(pool.id)
        except errors.PoolNotFound:
            return None
        if rules.underway(current):
            return current
        log.debug("DELETE %s: answer lost and pool still %s", pool.id, current.phase)
    raise errors.ConnectionFailed(
        f"the answers to two DELETEs of pool {pool.id} were lost and it is still "
        f"{current.phase}; nothing more was sent — check the connection, then try again"
    )


class Deletion:
    """Delete (or only watch) ``targets``: ``concurrency`` requests at a time, listeners told
    about every change. ``clock`` and ``sleep`` are seams for a simulated clock; ``sleep`` must
    return True when the watch was stopped (as ``threading.Event.wait`` does). Every DELETE
    that leaves gets a receipt (``receipts.py``) saying ``via`` what it was asked."""

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
        self._listeners: Listeners[Deletion] = Listeners(on_error=self._view_failed)

    @classmethod
    def for_names(cls, api: PoolsApi, names: Iterable[str], **kw: object) -> Deletion:
        """Pools named by id or display name (checked here: InvalidName before anything is
        read); resolved with one LIST when the run starts, each pool kept once."""
        checked = [check_pool_id(n) if looks_like_pool_id(n) else check_display_name(n)
                   for n in dict.fromkeys(names)]
        return cls(api, [Target(name) for name in checked], **kw)  # type: ignore[arg-type]

    @classmethod
    def from_plan(cls, api: PoolsApi, plan: Plan, **kw: object) -> Deletion:
        """The pools ``plan`` deletes, each re-checked against what was reviewed before its
        DELETE; PlanError when the plan was made for another endpoint or project."""
        plan.check_for(api.settings.endpoint, api.settings.project_id)
        run = cls(api, [_planned(item) for item in plan.items], **kw)  # type: ignore[arg-type]
        run.filters, run.force, run.via = plan.selection(), plan.force, plan.via
        return run

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
        if send:
            self._reread()
            self._each(self._send_one, [t for t in self.targets if t.step.confirmable
                                        or t.step is Step.SENDING])
        if wait:
            self._watch()
            return
        for target in self.targets:
            if target.step is Step.WATCHING:
                self._set(target, Step.ACCEPTED, "Deletion accepted; not watching (--no-wait)."
                          if target.sent else "Being deleted (not by this run); not watching.")

    def _reread(self) -> None:
        """Read the pools once more right before deleting: one GET for one pool, one LIST for
        many (ids and display names matched there, each pool kept once)."""
        todo = [t for t in self.targets if t.step.confirmable or t.step is Step.SENDING]
        if len(self.targets) == 1 and todo and todo[0].pool is not None:
            self._decide(todo[0], self.api.get_pool(todo[0].pool.id))
            return
        listed = self._listed(todo)
        seen: set[str] = set()
        for target in todo:
            pool, why = match(listed, target.pool.id if target.pool else target.name)
            if pool is None:
                self._set(target, Step.FAILED, f"{why}: nothing was sent")
            elif pool.id in seen:
                with self._lock:
                    self.targets.remove(target)  # named twice: deleted once
            else:
                seen.add(pool.id)
                self._decide(target, pool)

    def _listed(self, todo: list[Target]) -> list[Pool]:
        """One LIST, plus one per other workspace the targets' pools live in (a list without
        ``workspaceId`` may show workspace "0" only)."""
        others = sorted({_workspace(t) for t in todo} - {DEFAULT_WORKSPACE, ""})
        listed = self.api.list_pools()
        for workspace in others:
            listed += self.api.list_pools(workspace=workspace)
        return listed

    def _decide(self, target: Target, pool: Pool) -> None:
        """The pool as read just now: watched if already Deleting (and left out if it was
        deleting when reviewed but is not now); else the policy's verdict on the pool alone.
        A planned pool's work and tags are read in ``_recheck``, right before its DELETE."""
        target.pool = pool
        if pool.phase == rules.DELETING and rules.refusal(pool) is None:
            self._start_watch(target, "Already being deleted; watching until it is gone.")
        elif target.planned is not None and target.planned.verdict is Decided.UNDERWAY:
            self._set(target, Step.LEFT_OUT, f"was being deleted when reviewed, now "
                      f"{pool.phase or 'unknown'} — review it again; nothing was sent")
        else:
            self._judge(target, pool, None)

    def _halted(self, target: Target) -> bool:
        """Stop or a 401 came first: this pool is neither re-read nor sent."""
        if not (self._stop.is_set() or self._refused_401):
            return False
        why = "the batch stopped after a 401" if self._refused_401 else "stopped"
        self._set(target, Step.CANCELLED, f"not sent: {why}; nothing was deleted")
        return True

    def _recheck(self, target: Target) -> bool:
        """For a pool from a reviewed plan: read its work (and, for tag filters, its tags)
        now, and in a batch the pool itself once more (the run's LIST may be minutes old);
        leave it out if ``drift`` finds it is not what was reviewed, then ask the policy. In
        the worker that sends its DELETE: the window between is one round trip."""
        planned, pool = target.planned, target.pool
        if planned is None or pool is None:
            return True
        pool, impact = self._fresh(target, pool)
        target.impact = impact
        pool = current_tags(self.api, pool, self.filters)
        if pool.phase == rules.DELETING:  # someone else's DELETE came first
            self._start_watch(target, "Already being deleted; watching until it is gone.")
            return False
        changes = drift(planned, pool, impact, self.filters)
        if changes:
            self._set(target, Step.LEFT_OUT, _left_out(changes))
            return False
        return self._judge(target, pool, impact)

    def _checked(self, target: Target) -> bool:
        """``_recheck``, with a read that fails said for this pool alone (nothing was sent)."""
        try:
            return self._recheck(target)
        except errors.PoolNotFound:
            self._set(target, Step.FAILED, "The pool no longer exists (or you lost access to "
                                           "it): nothing was sent.")
        except errors.AuthenticationError:
            self._refused_401 = True  # the credentials are refused: nothing more is sent
            self._halted(target)
        except errors.Cancelled:
            raise
        except errors.ModelArtsError as exc:
            self._fail(target, exc)
        return False

    def _fresh(self, target: Target, pool: Pool) -> tuple[Pool, Impact]:
        """What the pool runs and, in a batch, the pool itself as a GET says now (a run of one
        pool read it with a GET just before), both in one round trip; a pool gone meanwhile
        raises PoolNotFound (said as such by the caller)."""
        if len(self.targets) == 1:
            return pool, read_impact(self.api, pool)
        # one round trip; fan_out: a Ctrl-C returns at once and stops both reads
        reads: list[Callable[[], Any]] = [lambda: self.api.get_pool(pool.id),
                                          lambda: read_impact(self.api, pool)]
        again, impact = fan_out(self.api, lambda read: read(), reads, workers=2,
                                name="modelarts-nb-reread")
        target.pool = again
        return again, impact

    def _judge(self, target: Target, pool: Pool, impact: Impact | None) -> bool:
        """The policy's verdict: False (and the target refused or left out) unless it may go."""
        planned = target.planned
        decision = decide(pool, impact, acknowledged=bool(planned and planned.acknowledged),
                          force=self.force)
        if decision.verdict is Decided.REFUSED:
            self._set(target, Step.REFUSED, decision.detail or decision.reason)
        elif not decision.deletes and impact is not None:
            self._set(target, Step.LEFT_OUT,
                      f"{decision.detail or decision.reason}: {NOT_ACKNOWLEDGED}")
        return decision.deletes

    def _send_one(self, target: Target) -> None:
        """Re-check a planned pool, claim it, then one DELETE (``delete_once``); or watch the
        claim's owner's."""
        assert target.pool is not None
        if self._halted(target) or not self._checked(target):
            return
        key = self._key(target)
        with self._lock:
            stopped = self._stop.is_set() or self._refused_401
            owner = None if stopped else _REGISTRY.claim(key, self)
        if stopped:  # between the re-check and the claim
            self._halted(target)
            return
        if (owner is not None and not rules.underway(target.pool) and not owner._sending(key)
                and not self._underway_now(target)):
            owner = _REGISTRY.take_over(key, self, owner)  # stale: its pool is not deleting
        if owner is not None:
            self._start_watch(target, "Another panel already sent the DELETE for this pool; "
                                      "watching it.")
            return
        target.started = time.monotonic()
        self._set(target, Step.SENDING, "Sending the DELETE request…")

        wired: list[bool] = []
        answers: list[str | None] = []

        def on_wire(sent: bool) -> None:
            wired.append(sent)
            target.sent = receipts.left(wired)  # a resend never sent does not unsend the first

        try:
            try:
                accepted = delete_once(self.api, target.pool, on_wire=on_wire,
                                       on_answer=answers.append)
            finally:  # the receipt, before any outcome is set
                target.receipt = receipts.sent(self, target, answers) if receipts.left(wired) \
                    else None
        except errors.Cancelled:
            self._end(target)
        except errors.AuthenticationError as exc:
            self._refused_401 = True
            self._fail(target, exc)
        except errors.DeletionRefused as exc:
            self._release(target)
            self._set(target, Step.REFUSED, str(exc))
        except errors.ModelArtsError as exc:
            self._fail(target, exc)
        except Exception:
            if not answers:  # a bug before any answer: no claim may outlive it (see _guard)
                self._release(target)
            raise
        else:
            if accepted is None:
                self._set(target, Step.DELETED, _GONE)
            else:
                target.pool = accepted
                self._start_watch(target, _ACCEPTED)

    def _watch(self) -> None:
        """Poll every pool being deleted until it is gone, failed, timed out — or Stop."""
        targets = [t for t in self.targets if t.step in (Step.WATCHING, Step.ACCEPTED)]
        if self._stop.is_set():
            self._end_unfinished()
            return
        start = self.clock()
        for target in targets:
            self._start_watch(target, target.message or _ACCEPTED)
            assert target.pool is not None
            target.watch = Watch(target.pool.id, pool=target.pool, start=start,
                                 timeout=self.timeout, requested=target.sent)
        watches = {id(t.watch): t for t in targets}

        def poll(waiting: list[Watch]) -> None:
            self._each(lambda w: self._check(watches[id(w)], w), waiting)

        sleep = self._sleep or self._stop.wait
        done = wait([t.watch for t in targets if t.watch], poll, sleep=sleep,
                    clock=self.clock, cadence=self.cadence)
        if not done:
            self._end_unfinished()

    def _check(self, target: Target, watch: Watch) -> None:
        verdict = watch.check(self.api.get_pool, self.clock())
        if watch.seen is not None:
            target.pool, target.last_poll = watch.seen, datetime.now(timezone.utc)
        if verdict is Verdict.GONE:
            self._set(target, Step.DELETED, _GONE)
        elif verdict is Verdict.BLIND:
            self._set(target, Step.STOPPED, f"Stopped watching: {watch.error}; the deletion "
                                            "continues on the server.")
        elif verdict is Verdict.FAILED:  # whoever sent it: a rerun may try again
            _REGISTRY.release(self._key(target), None)
            self._fail(target, watch.error or errors.DeletionFailed(target.label))
        elif watch.error is not None:  # timed out: it may still finish, the claim stays
            self._fail(target, watch.error, release=False)
        else:
            self._set(target, Step.WATCHING, watch.problem or _ACCEPTED)

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

    def _key(self, target: Target) -> tuple[str, str, str]:
        settings = self.api.settings
        assert target.pool is not None
        return endpoint_key(settings.endpoint), settings.project_id, target.pool.id

    def _release(self, target: Target) -> None:
        if target.pool is not None:
            _REGISTRY.release(self._key(target), self)

    def _underway_now(self, target: Target) -> bool:
        """The pool read once more (another run may have sent since it was read): whether
        it is being deleted — or may be (a read that fails), so no claim is taken blindly."""
        assert target.pool is not None
        try:
            target.pool = self.api.get_pool(target.pool.id)
        except errors.ModelArtsError:
            return True
        return rules.underway(target.pool)

    def _sending(self, key: tuple[str, str, str]) -> bool:
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


class _Registry:
    """Process-wide: who sent the DELETE for which pool, and which runs are active."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[tuple[str, str, str], Deletion] = {}
        self._active: set[Deletion] = set()

    def claim(self, key: tuple[str, str, str], run: Deletion) -> Deletion | None:
        """None if ``run`` may send the DELETE for ``key``; else the run that already did."""
        with self._lock:
            owner = self._senders.setdefault(key, run)
            return None if owner is run else owner

    def take_over(self, key: tuple[str, str, str], run: Deletion, owner: Deletion
                  ) -> Deletion | None:
        """``claim``, in place of ``owner``'s stale claim (its pool shows no deletion and it
        is not sending): None if ``run`` now holds it, else whoever claimed it meanwhile."""
        with self._lock:
            if self._senders.get(key) is owner:
                del self._senders[key]
            current = self._senders.setdefault(key, run)
            return None if current is run else current

    def release(self, key: tuple[str, str, str], run: Deletion | None) -> None:
        """Forget ``run``'s claim on ``key`` (any run's, when ``run`` is None)."""
        with self._lock:
            if run is None or self._senders.get(key) is run:
                self._senders.pop(key, None)

    def started(self, run: Deletion) -> None:
        with self._lock:
            self._active.add(run)

    def ended(self, run: Deletion) -> None:
        with self._lock:
            self._active.discard(run)

    def in_use(self, api: PoolsApi) -> bool:
        """Whether an active run sends with ``api`` (then its connections must stay)."""
        with self._lock:
            return any(run.api is api for run in self._active)

    def active(self) -> list[Deletion]:
        with self._lock:
            return list(self._active)


_REGISTRY = _Registry()


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
