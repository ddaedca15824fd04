"""DeleteFlow: the engine with one pool, plus the typed name that confirms it — no widgets.

The panel and the magic render a flow. On top of ``engine.Deletion`` it adds only what is
particular to one reviewed pool: the typed name must equal the pool's id or display name
exactly (prepaid/frozen pools never reach ``REVIEW``); a newer panel for the same pool retires
older ones still waiting for a confirmation; and a manual Refresh.
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime, timezone

from . import rules
from .api import PoolsApi
from .engine import NOTHING_SENT, WATCH_STOPPED, Deletion, Target, stop_all
from .errors import ModelArtsError, PoolNotFound
from .impact import Impact, read_impact
from .models import Pool
from .steps import Step

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
    ) -> None:
        super().__init__(client, [Target(pool.id, pool)], timeout=timeout, interval=interval)
        self.target = self.targets[0]
        self.begun: float | None = None
        self.impact: Impact | None = None  # what deleting breaks, once read (check_impact)
        self.impact_pending = False
        self.impact_checked = threading.Event()  # set once the answers arrived or failed
        reason = rules.refusal(pool)
        if reason:
            self.target.step, self.target.message = Step.REFUSED, reason
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
    def elapsed(self) -> float | None:
        return None if self.begun is None else time.monotonic() - self.begun

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
            impact = read_impact(self.api, self.pool)
        except Exception as exc:  # noqa: BLE001 - the generic warning stays; say why
            impact = Impact(unchecked={"what deleting breaks": f"{type(exc).__name__}"})
        finally:
            self._close_if_idle()
        prepaid = [n.name for n in impact.prepaid_nodes(self.pool)]
        reason = rules.node_refusal(self.pool, prepaid)
        with self._lock:
            self.impact, self.impact_pending = impact, False
            if reason and self.step is Step.REVIEW:
                self.target.step, self.target.message = Step.REFUSED, reason
        self._notify()
        self.impact_checked.set()  # after the views were told

    @property
    def needs_ack(self) -> bool:
        """Deleting stops running work or sub-pools: an explicit acknowledgement is needed."""
        return self.impact is not None and self.impact.needs_force

    def can_confirm(self, typed: str, acknowledged: bool = False) -> bool:
        """Exactly the pool id or its display name, only while waiting for confirmation, once
        what deleting breaks is known, and acknowledged when it stops anything."""
        names = {self.pool.id} | ({self.pool.display_name} if self.pool.display_name else set())
        return (self.step is Step.REVIEW and typed in names and not self.impact_pending
                and (acknowledged or not self.needs_ack))

    def confirm(self, typed: str, *, background: bool = True, acknowledged: bool = False) -> bool:
        """Start the deletion if ``typed`` matches; False (and nothing sent) otherwise."""
        with self._lock:
            if not self.can_confirm(typed, acknowledged):
                return False
            self._starting(Step.SENDING, "Sending the DELETE request…")
        self.run(send=True, wait=True, background=background)
        return True

    def delete_now(self, *, wait: bool = True, background: bool = False) -> None:
        """``--yes``: delete without a typed name (prepaid/frozen pools are still refused)."""
        with self._lock:
            if self.step is not Step.REVIEW:
                return
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

    def refresh(self) -> None:
        """Read the pool once now and show it (a manual check, e.g. after Stop). A read that
        fails changes only the message; a good one lets the step follow the server."""
        try:
            pool = self.api.get_pool(self.pool.id)
        except PoolNotFound:
            gone = self.sent or self.step in (Step.STOPPED, Step.ACCEPTED, Step.WATCHING)
            self._set(self.target, Step.DELETED if gone else Step.FAILED,
                      "The pool is gone." if gone else
                      "The pool no longer exists (or you lost access to it).")
            return
        except ModelArtsError as exc:
            self._set(self.target, self.step, f"Could not check: {exc}")
            return
        finally:
            self._close_if_idle()
        with self._lock:
            self.target.pool, self.target.last_poll = pool, datetime.now(timezone.utc)
        if self.step is Step.FAILED and rules.underway(pool) and not rules.failing(
                pool, underway=True):
            self._set(self.target, Step.STOPPED, f"Still being deleted (phase {pool.phase}); "
                                                 "not watched — Refresh to check again.")
        else:
            self._notify()

    def _starting(self, step: Step, message: str) -> None:
        """Set before the run starts, told to views by the run itself (see ``_guard``)."""
        self.begun = time.monotonic()
        self.target.started = self.begun
        self.target.step, self.target.message = step, message


_REVIEWING: weakref.WeakSet[DeleteFlow] = weakref.WeakSet()
_REVIEWING_LOCK = threading.Lock()


def _retire_older(flow: DeleteFlow) -> None:
    """A new flow for a pool retires older ones still waiting for confirmation."""
    with _REVIEWING_LOCK:
        older = [f for f in _REVIEWING if f.key == flow.key and f is not flow]
        _REVIEWING.add(flow)
    for old in older:
        old.cancel("Superseded by a newer panel for this pool: use that one.")
