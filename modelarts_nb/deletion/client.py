"""``PoolsClient``: the pool API plus the few calls a script needs, all documented in the README.

The HTTP verbs are ``api.PoolsApi``'s (which never imports the engine); the rest are one-line
doors into ``lookup`` (names → pools) and ``engine`` (deleting and waiting), so a script gets
exactly what the panel and ``%pools`` do.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..gateway.api import DEFAULT_TIMEOUT, PoolsApi
from ..gateway.errors import Cancelled
from ..gateway.models import Pool
from ..gateway.names import check_display_name, check_pool_id, looks_like_pool_id
from . import engine, lookup, receipts
from .engine import Deletion
from .plan import Plan
from .review import review
from .selection import Filters, list_selected
from .steps import Step
from .target import Target
from .waiter import Cadence, Watch, wait

__all__ = ["DEFAULT_TIMEOUT", "PoolsClient"]


class PoolsClient(PoolsApi):
    """Client for the ModelArts v2 pool API of one project (see ``PoolsApi`` for the options).

    Use as a context manager, or call ``close()``: afterwards no connection stays open.
    """

    def resolve(self, name_or_display: str) -> Pool:
        """The pool whose id is ``name_or_display``, else the one whose display name is."""
        return lookup.resolve(self, name_or_display)

    def delete_pool(self, name: str) -> Pool | None:
        """Read the pool, refuse prepaid/frozen pools, then send one DELETE.

        Returns the pool as the server reported it after accepting the deletion (or as it was,
        if already Deleting: nothing is sent then), or None when it was gone by then.
        """
        pool = self.get_pool(name)
        with receipts.Call(self, pool) as call:  # a DELETE outside any run: its own receipt
            return call.ended(engine.delete_once(self, pool, on_wire=call.wire,
                                                 on_answer=call.answer))

    def wait_until_deleted(
        self,
        name: str,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[Pool], None] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Pool | None:
        """Block until GET answers 404; report each observation to ``on_update``.

        Returns the last pool observed (None if it was already gone). Raises DeletionFailed on a
        failure phase, WaitTimeout after ``timeout`` seconds, and the read's own error when the
        pool cannot be read even after retries. ``interval`` fixes the cadence (default:
        adaptive); ``sleep`` replaces the client's (interruptible) pause.
        """
        watch = Watch(check_pool_id(name), start=self._clock(), timeout=timeout, requested=False)

        def poll(_watches: list[Watch]) -> None:
            watch.check(self.get_pool, self._clock())
            if watch.seen is not None and on_update is not None:
                on_update(watch.seen)

        def pause(seconds: float) -> bool:
            if sleep is None:
                self._pause(seconds)
            else:
                sleep(seconds)
            return False

        wait([watch], poll, sleep=pause, clock=self._clock, cadence=Cadence(interval))
        if watch.error is not None:
            raise watch.error
        return watch.pool

    def plan(self, names: Iterable[str] | Any = None, *, filters: Filters | None = None,
             force: bool = False, concurrency: int = 8) -> Plan:
        """Review pools into a ``Plan``, sending no DELETE: the pools ``names`` (ids or display
        names), or those ``filters`` select; each pool's work is read and ``policy.decide``
        says what may go; names that match no pool (or several) are not in it
        (``plan_names`` says why). A ``%pools`` DataFrame gives the plan it was made from,
        narrowed to its rows marked ``delete``."""
        shown = frame_plan(names)
        if shown is not None:
            return dataclasses.replace(shown, force=shown.force or force)
        if filters is not None:
            listing = list_selected(self, filters, confirm=True)
            return review(self, listing.pools, filters=filters, kept=listing.kept,
                          force=force, concurrency=concurrency)
        pools, _missing = self.plan_names(names)
        return review(self, pools, force=force, concurrency=concurrency)

    def plan_names(self, names: Iterable[str] | Any) -> tuple[list[Pool], dict[str, str]]:
        """The pools ``names`` mean (one LIST), each once, and name → why for the others."""
        found = lookup.resolve_many(self, _names(names))
        return ([pool for _, pool, _ in found if pool is not None],
                {name: why for name, pool, why in found if pool is None})

    def apply(self, plan: Plan, *, concurrency: int = 8, wait: bool = True,
              timeout: float = 3600.0, on_update: Callable[[Target], None] | None = None,
              stop: threading.Event | None = None) -> list[Target]:
        """Delete exactly what ``plan`` reviewed: each pool is read again and left out, saying
        why, if it changed (``plan.drift``); then one DELETE each, watched until gone unless
        ``wait=False``. PlanError when the plan is for another endpoint or project."""
        run = Deletion.from_plan(self, plan, concurrency=concurrency, timeout=timeout,
                                 stop=stop)
        run.on_target = on_update
        run.run(send=True, wait=wait, background=False)
        _raise_if_nothing_sent(run)
        return run.targets

    def delete_many(
        self,
        names: Iterable[str] | Any,
        *,
        concurrency: int = 8,
        force: bool = False,
        on_update: Callable[[Target], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Target]:
        """Delete many pools (ids or display names, or a ``%pools`` DataFrame: only its rows
        marked ``delete``): reviewed (``plan``), then applied without watching.

        Pools with running or waiting work or sub-pools are left out unless ``force``. Never
        raises for a single pool: each ``Target`` says what happened (its ``step`` and
        ``message``); a 401 stops the batch. Raises only when a LIST itself fails.
        """
        shown = frame_plan(names)
        if shown is not None:  # what the frame showed, re-checked against what is there now
            run = Deletion.from_plan(self, dataclasses.replace(shown, force=shown.force or force),
                                     concurrency=concurrency, stop=stop)
            return _finish(run, on_update, send=True)
        names = _names(names)
        pools, missing = self.plan_names(names)
        plan = review(self, pools, force=force, read_work=False)  # read once, when applied
        run = Deletion.from_plan(self, plan, concurrency=concurrency, stop=stop)
        _name_targets(run.targets, pools, names)
        for name, why in missing.items():
            run.targets.append(Target(name, step=Step.FAILED, message=f"{why}: nothing was sent"))
        return _finish(run, on_update, send=True)

    def watch_many(
        self,
        items: list[Target],
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[Target], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Target]:
        """Watch the pools ``delete_many`` had accepted until each is gone, failed or timed out."""
        run = Deletion(self, items, concurrency=8, timeout=timeout, interval=interval, stop=stop)
        return _finish(run, on_update, send=False)


PLAN_ATTR = "modelarts_nb.plan"  # a %pools DataFrame's plan (JSON), in DataFrame.attrs


def frame_plan(frame: Any) -> Plan | None:
    """The plan a ``%pools`` DataFrame was made from, narrowed to its rows marked
    ``delete``; None for anything that is not a DataFrame. A hand edit of the decision
    column can only narrow it: a kept or left-out pool's verdict comes from the plan."""
    columns = getattr(frame, "columns", None)
    if columns is None:
        return None
    text = getattr(frame, "attrs", {}).get(PLAN_ATTR)
    if "decision" not in columns or "id" not in columns or not isinstance(text, str):
        raise ValueError("this DataFrame carries no plan of what was shown (a frame that "
                         "%pools returned has one; some pandas operations drop it): pass that "
                         "frame, or a row selection of it; nothing was deleted")
    ids = [str(pid) for pid, decision in zip(frame["id"], frame["decision"])
           if decision == "delete"]
    return Plan.from_json(text).only(ids)


def _names(names: Iterable[str]) -> list[str]:
    """Names as given, checked (InvalidName before any request)."""
    return [check_pool_id(n) if looks_like_pool_id(n) else check_display_name(n)
            for n in dict.fromkeys(names)]


def _name_targets(targets: list[Target], pools: list[Pool], names: list[str]) -> None:
    """Each target named as the caller named its pool (an id or a display name)."""
    given: dict[str, str] = {}
    for name in names:
        for pool in pools:
            if name in (pool.id, pool.display_name):
                given.setdefault(pool.id, name)
    for target in targets:
        target.name = given.get(target.name, target.name)


def _raise_if_nothing_sent(run: Deletion) -> None:
    if run.run_error is not None and not isinstance(run.run_error, Cancelled):
        if not any(t.sent for t in run.targets):
            raise run.run_error


def _finish(
    run: Deletion, on_update: Callable[[Target], None] | None, *, send: bool
) -> list[Target]:
    """Delete without watching (``send``), or only watch; in this thread."""
    run.on_target = on_update
    run.run(send=send, wait=not send, background=False)
    _raise_if_nothing_sent(run)
    return run.targets
