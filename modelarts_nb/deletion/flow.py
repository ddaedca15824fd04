"""DeleteFlow: the engine with one pool, plus the typed name that confirms it — no widgets.

The panel and the magic render a flow. On top of ``engine.Deletion`` it adds only what is
particular to one reviewed pool: the typed name must equal the pool's id or display name
(surrounding spaces aside; prepaid/frozen pools never reach ``REVIEW``); a newer panel for the
same pool retires older ones still waiting for a confirmation; a manual Refresh that replaces a
stale error with what the server says now; and Retry, which is a new confirmed intent only while
no DELETE has left (one DELETE per confirmed intent: never resent once it may have left).
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime, timezone

from ..gateway import stops
from ..gateway.api import PoolsApi
from ..gateway.errors import ApiError, AuthenticationError, Cancelled, ModelArtsError, PoolNotFound
from ..gateway.models import Pool
from . import rules
from .engine import Deletion
from .impact import Impact, read_impact
from .plan import PlanItem
from .policy import Verdict, decide
from .runner import NOTHING_SENT, WATCH_STOPPED, stop_all
from .steps import Step
from .target import Target

__all__ = ["NOTHING_SENT", "WATCH_STOPPED", "DeleteFlow", "Step", "stop_all_watches"]

stop_all_watches = stop_all  # the name earlier versions exported


class DeleteFlow(Deletion):
    """Deletion of one pool, from confirmation to "gone"; listeners hear every change."""

    def __init__(
        self,
        client: PoolsApi,
        pool: Pool,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        retire: bool = True,
    ) -> None:
        """``retire=False`` for a flow that only reads (``--no-widgets`` without ``--yes``):
        it leaves older panels for the pool as they are."""
        super().__init__(client, [Target(pool.id, pool)], timeout=timeout, interval=interval)
        self.target = self.targets[0]
        self.begun: float | None = None
        self.impact: Impact | None = None  # what deleting breaks, once read (check_impact)
        self.impact_pending = False
        self.impact_checked = threading.Event()  # set once the answers arrived or failed
        self.read_at = datetime.now(timezone.utc)  # the pool was read just before this flow
        self.vanished = False  # a Refresh found the pool gone although we sent nothing
        self.rechecked = False  # after a failure, a Refresh found the pool there, not deleting
        self.refreshing = False  # a Refresh is reading the pool
        decision = decide(pool)  # the one policy; a Deleting pool is watched, not refused
        if decision.verdict is Verdict.REFUSED:
            self.target.step, self.target.message = Step.REFUSED, decision.detail
        if retire:
            _retire_older(self)

    # -- the one pool's state, as views read it ------------------------------------------------

    @property
    def client(self) -> PoolsApi:
        return self.api

    @property
    def pool(self) -> Pool:
        assert self.target.pool is not None
        return self.target.pool

    @property
    def step(self) -> Step:
        return self.target.step

    @property
    def message(self) -> str:
        return self.target.message

    @property
    def error(self) -> ModelArtsError | None:
        return self.target.error or self.run_error

    @property
    def sent(self) -> bool:
        return self.target.sent

    @property
    def last_poll(self) -> datetime | None:
        return self.target.last_poll

    @property
    def checked(self) -> datetime:
        """When the server last answered about this pool (a poll, a Refresh, or the read that
        opened the flow)."""
        return self.last_poll or self.read_at

    @property
    def elapsed(self) -> float | None:
        """Seconds since the confirmation; frozen once the outcome is final, so a Refresh of a
        deleted pool does not turn "after 6 s" into "after 15 s"."""
        if self.begun is None:
            return None
        end = self.target.finished if self.step.final and self.target.finished else None
        return max(0.0, (end or time.monotonic()) - self.begun)

    @property
    def refused_by_server(self) -> bool:
        """The DELETE left and the service answered with a refusal (4xx): nothing started."""
        error = self.error
        return (self.sent and isinstance(error, ApiError) and error.from_server
                and 400 <= error.status < 500)

    @property
    def can_retry(self) -> bool:
        """Retry is offered only after a failure that sent no DELETE, for a pool still there."""
        return (self.step is Step.FAILED and not self.sent and not self.running
                and self.begun is not None and not self.vanished
                # refused credentials stay refused (and Huawei locks an AK/SK after repeated
                # signature failures); a pool that answers 404 is not there to delete
                and not isinstance(self.error, (AuthenticationError, PoolNotFound)))

    def refusal_parts(self) -> tuple[str, str]:
        """Why the pool is refused and what to do, naming it "this pool" (views show its
        names once, in their header)."""
        parts = rules.refusal_parts(self.pool)
        if parts is None and self.impact is not None:
            prepaid = [n.name for n in self.impact.prepaid_nodes(self.pool)]
            parts = rules.node_refusal_parts(self.pool, prepaid)
        return parts or (self.message, "")

    @property
    def key(self) -> tuple[str, str, str]:
        return self._key(self.target)

    # -- user intents ------------------------------------------------------------------------

    # -- what deleting breaks (impact.py) ------------------------------------------------------

    def check_impact(self, *, background: bool = False) -> None:
        """Read what the pool carries (workloads, nodes, sub-pools). Until the answers arrive,
        nothing can be confirmed; a pay-per-use pool with yearly/monthly nodes is refused."""
        with self._lock:
            self.impact_pending = True
            self.impact_checked.clear()
        self._notify()  # views say "checking…" and keep Delete disabled
        if background:
            threading.Thread(target=self._check_impact, daemon=True,
                             name=f"modelarts-nb-impact-{self.pool.id}").start()
        else:
            self._check_impact()

    def _check_impact(self) -> None:
        try:
            # closing the panel ends the reads too, and an interrupt or kernel exit (stops)
            with stops.working(self.api, self._stop):
                impact = read_impact(self.api, self.pool)
        except Exception as exc:  # noqa: BLE001 - the generic warning stays; say why
            impact = Impact(unchecked={"what deleting breaks": f"{type(exc).__name__}"})
        finally:
            self._close_if_idle()
        decision = decide(self.pool, impact)
        with self._lock:
            self.impact, self.impact_pending = impact, False
            if decision.verdict is Verdict.REFUSED and self.step is Step.REVIEW:
                self.target.step, self.target.message = Step.REFUSED, decision.detail
        self._notify()
        self.impact_checked.set()  # after the views were told

    @property
    def needs_ack(self) -> bool:
        """Deleting stops running work or sub-pools: an explicit acknowledgement is needed."""
        return self.impact is not None and (
            decide(self.pool, self.impact).verdict is Verdict.ACKNOWLEDGE)

    @property
    def stops(self) -> str:
        """What deleting stops, as the acknowledgement names it ("3 training jobs", or work
        that could not be checked); "" when nothing needs acknowledging."""
        if self.impact is None:
            return ""
        decision = decide(self.pool, self.impact)
        return decision.reason.removeprefix("runs ") if decision.verdict is \
            Verdict.ACKNOWLEDGE else ""

    def can_confirm(self, typed: str, acknowledged: bool = False) -> bool:
        """Exactly the pool id or its display name, only while waiting for confirmation, once
        what deleting breaks is known, and acknowledged when it stops anything."""
        typed = typed.strip()
        names = {self.pool.id.strip(), (self.pool.display_name or "").strip()} - {""}
        return (self.step is Step.REVIEW and typed in names and not self.impact_pending
                and (acknowledged or not self.needs_ack))

    def confirm(self, typed: str, *, background: bool = True, acknowledged: bool = False) -> bool:
        """Start the deletion if ``typed`` matches; False (and nothing sent) otherwise."""
        with self._lock:
            if not self.can_confirm(typed, acknowledged):
                return False
            self._review(acknowledged)
            self._starting(Step.SENDING, "Sending the DELETE request…")
        self.run(send=True, wait=True, background=background)
        return True

    def retry(self, *, background: bool = True) -> bool:
        """Send the DELETE again after a failure that sent none (``can_retry``): the click is
        a new confirmed intent. False (and nothing sent) otherwise."""
        with self._lock:
            if not self.can_retry:
                return False
            self.target.error, self.run_error = None, None
            self._starting(Step.SENDING, "Sending the DELETE request again…")
        self.run(send=True, wait=True, background=background)
        return True

    def delete_now(self, *, wait: bool = True, background: bool = False,
                   acknowledged: bool = False) -> None:
        """``--yes``: delete without a typed name (prepaid/frozen pools are still refused;
        work the pool runs needs ``acknowledged``, i.e. ``--force``)."""
        with self._lock:
            if self.step is not Step.REVIEW:
                return
            self._review(acknowledged)
            self._starting(Step.SENDING, "Sending the DELETE request…")
        self.run(send=True, wait=wait, background=background)

    def watch(self, *, background: bool = True) -> None:
        """Watch a pool that is already being deleted, sending nothing but GETs."""
        with self._lock:
            if self.step.busy or self.running:
                return
            self._starting(Step.WATCHING, "Already being deleted; watching until it is gone.")
        self.run(send=False, wait=True, background=background)

    def cancel(self, message: str = "Cancelled: nothing was deleted.") -> None:
        with self._lock:
            if self.step is Step.REVIEW:
                self._set(self.target, Step.CANCELLED, message)

    def refresh(self, *, background: bool = False) -> None:
        """Read the pool once now and show it (a manual check, e.g. after Stop or a failure).
        A read that fails changes only the message; a good one replaces a stale error with
        what the server says now. A deleted pool stays deleted, its elapsed time frozen.
        It obeys the flow's Stop, the panel's close and interrupts (``stops``): in the
        background (a panel's button) the kernel stays free meanwhile."""
        with self._lock:
            if self.refreshing:  # a double click is one check
                return
            self.refreshing = True
            stop = self._stop_for_more()
        self._notify()  # views show the check under way (and Stop for it)
        if background:
            threading.Thread(target=self._refresh, args=(stop,), daemon=True,
                             name=f"modelarts-nb-refresh-{self.pool.id}").start()
        else:
            self._refresh(stop)

    def _refresh(self, stop: threading.Event) -> None:
        try:
            self._check_now(stop)
        finally:  # only once its outcome is shown: "not refreshing" means "done"
            self.refreshing = False
            self._close_if_idle()
            self._notify()

    def _check_now(self, stop: threading.Event) -> None:
        try:
            with stops.working(self.api, stop):
                pool = self.api.get_pool(self.pool.id)
        except PoolNotFound:
            self._gone()
            return
        except Cancelled:
            self._say("Check stopped; nothing more was read.")
            return
        except ModelArtsError as exc:
            self._say(f"Could not check: {exc}")
            return
        self._read_again(pool)

    def _read_again(self, pool: Pool) -> None:
        """What a Refresh read, shown."""
        with self._lock:
            self.target.pool, self.target.last_poll = pool, datetime.now(timezone.utc)
        if self.step is Step.DELETED:  # 200 after a 404: say what the server says
            self._notify()
        elif self.step in (Step.FAILED, Step.STOPPED) and rules.underway(pool) and not (
                rules.failing(pool, underway=True)):
            self._set(self.target, Step.STOPPED, f"Still being deleted (phase {pool.phase}); "
                                                 "not watched — Refresh to check again.")
        elif self.step is Step.FAILED:
            self.rechecked = True
            self._say(f"Checked again: the pool is still there ({pool.phase or 'unknown'}).")
        elif self.step in (Step.STOPPED, Step.ACCEPTED):  # an earlier line may be stale
            self._say(_checked_again(pool))
        else:
            self._notify()

    def _say(self, message: str) -> None:
        """A new message for the same step (its time unchanged)."""
        with self._lock:
            self.target.message = message
        self._notify()

    def _gone(self) -> None:
        with self._lock:
            self.target.last_poll = datetime.now(timezone.utc)
        if self.step is Step.DELETED:
            self._notify()  # checked again: still gone; the outcome and its time stay
            return
        if self.sent or self.step in (Step.STOPPED, Step.ACCEPTED, Step.WATCHING):
            self._set(self.target, Step.DELETED, "The pool is gone.")
            return
        self.vanished = True
        self._set(self.target, Step.FAILED,
                  "The pool no longer exists (or you lost access to it); this panel sent no "
                  "DELETE.")

    def _review(self, acknowledged: bool) -> None:
        """The confirmation binds the pool as shown, with the work shown: the run re-reads
        both and leaves the pool out if it is not what was reviewed (``plan.drift``)."""
        stops = self.stops if acknowledged else ""
        self.target.planned = PlanItem.of(self.pool, self.impact,
                                          acknowledged=stops or ("yes" if acknowledged else ""))

    def _starting(self, step: Step, message: str) -> None:
        """Set before the run starts, told to views by the run itself (see ``_guard``)."""
        self.begun = time.monotonic()
        self.target.started = self.begun
        self.target.step, self.target.message = step, message


def _checked_again(pool: Pool) -> str:
    """A stopped watch's line, from what a Refresh read now: never an earlier error (an outage
    that has passed) next to a phase that contradicts it."""
    phase = pool.phase or "unknown"
    if rules.underway(pool):  # failing while being deleted (the watchable case is above)
        return f"Checked again: the deletion is failing on the server (phase {phase})."
    return (f"Checked again: the pool is still there ({phase}) and not being deleted; run "
            "the cell again to review it anew.")


_REVIEWING: weakref.WeakSet[DeleteFlow] = weakref.WeakSet()
_REVIEWING_LOCK = threading.Lock()


def _retire_older(flow: DeleteFlow) -> None:
    """A new flow for a pool retires older ones still waiting for confirmation."""
    with _REVIEWING_LOCK:
        older = [f for f in _REVIEWING if f.key == flow.key and f is not flow]
        _REVIEWING.add(flow)
    for old in older:
        old.cancel("Superseded by a newer panel for this pool: use that one.")
