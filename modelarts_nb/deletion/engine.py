"""The deletion engine: what a run does to delete one pool or many, and watch them go.

A ``Deletion`` is a ``runner.Runner`` (its thread, Stop, listeners and endings) whose steps are
here: read the pools once more, re-check each planned pool, claim it, send one DELETE, watch.
Its steps are ``steps.Step``; its waiting is ``waiter.wait``; its requests are
``api.PoolsApi``'s; its claims ``claims.Claims``. The panel (one pool, a typed name) and
``%pools`` (N pools, "delete N pools") are views of it, so one server story gives one verdict
whatever started it.

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
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..gateway import errors
from ..gateway.api import PoolsApi
from ..gateway.fanout import fan_out
from ..gateway.models import DEFAULT_WORKSPACE, Pool
from ..gateway.names import check_display_name, check_pool_id, looks_like_pool_id
from . import receipts, rules
from .impact import read_impact
from .lookup import match
from .plan import Plan, drift
from .policy import Verdict as Decided
from .policy import decide
from .runner import _REGISTRY, NOTHING_SENT, WATCH_STOPPED, Runner, stop_all
from .selection import current_tags
from .steps import Step
from .target import NOT_ACKNOWLEDGED, Target, left_out, planned_target, workspace_of
from .waiter import Verdict, Watch, wait

if TYPE_CHECKING:
    from .impact import Impact

__all__ = [
    "NOTHING_SENT",
    "WATCH_STOPPED",
    "Deletion",
    "Target",
    "delete_once",
    "stop_all",
]

log = logging.getLogger("modelarts_nb")
_GONE = "The pool is gone."
_ACCEPTED = "Deletion accepted; watching until the pool is gone."


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


class Deletion(Runner):
    """Delete (or only watch) ``targets`` (see ``Runner`` for the run itself): each pool read
    again, re-checked against what was reviewed, claimed, sent one DELETE and watched."""

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
        targets = [planned_target(item) for item in plan.items]
        run = cls(api, targets, **kw)  # type: ignore[arg-type]
        run.filters, run.force, run.via = plan.selection(), plan.force, plan.via
        return run

    # -- the run's steps -------------------------------------------------------------------------

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
        others = sorted({workspace_of(t) for t in todo} - {DEFAULT_WORKSPACE, ""})
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
            self._set(target, Step.LEFT_OUT, left_out(changes))
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
        if self._halted(target) or not self._checked(target) or not self._claimed(target):
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

    def _claimed(self, target: Target) -> bool:
        """Whether this run now holds the pool's claim and may send its DELETE; if not, the
        pool is halted (Stop or a 401 came after the re-check) or watched (another run sent
        the DELETE: its claim stands unless it is stale)."""
        assert target.pool is not None
        key = self._key(target)
        with self._lock:
            stopped = self._stop.is_set() or self._refused_401
            owner = None if stopped else _REGISTRY.claim(key, self)
        if stopped:  # between the re-check and the claim
            self._halted(target)
            return False
        if (owner is not None and not rules.underway(target.pool) and not owner._sending(key)
                and not self._underway_now(target)):
            owner = _REGISTRY.take_over(key, self, owner)  # stale: its pool is not deleting
        if owner is not None:
            self._start_watch(target, "Another panel already sent the DELETE for this pool; "
                                      "watching it.")
            return False
        return True

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
        """One poll of one watched pool: its step, from what a GET says now."""
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

    def _underway_now(self, target: Target) -> bool:
        """The pool read once more (another run may have sent since it was read): whether
        it is being deleted — or may be (a read that fails), so no claim is taken blindly."""
        assert target.pool is not None
        try:
            target.pool = self.api.get_pool(target.pool.id)
        except errors.ModelArtsError:
            return True
        return rules.underway(target.pool)

