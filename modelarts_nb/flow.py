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

    def can_confirm(self, typed: str) -> bool:
        """Exactly the pool id or its display name, and only while waiting for confirmation."""
        names = {self.pool.id} | ({self.pool.display_name} if self.pool.display_name else set())
        return self.step is Step.REVIEW and typed in names

    def confirm(self, typed: str, *, background: bool = True) -> bool:
        """Start the deletion if ``typed`` matches; False (and nothing sent) otherwise."""
        with self._lock:
            if not self.can_confirm(typed):
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
