"""Review: pools as listed → what each carries → a ``Plan`` the person can acknowledge.

The reads views must not make themselves live here: the ``%pools`` panel is handed a
``Reviewer`` and never calls the API; ``--delete`` (dry run or ``--yes``), ``delete_many`` and
``PoolsClient.plan`` call ``review`` directly. What each pool may become is the policy's
(``policy.decide``); what is deleted later is exactly the plan, re-checked (``engine``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..gateway import stops
from ..gateway.api import PoolsApi
from ..gateway.fanout import fan_out
from ..gateway.models import DEFAULT_WORKSPACE, Pool
from .engine import Deletion
from .idle import keep_busy
from .impact import Impact, read_impact
from .plan import Plan, PlanItem, drift, filters_json
from .policy import Verdict, decide
from .selection import Filters, current_tags, list_selected

__all__ = ["PlanReviewer", "Reviewer", "drifted", "review"]


def review(api: PoolsApi, pools: list[Pool], *, filters: Filters | None = None,
           kept: Mapping[str, str] | None = None, force: bool = False, via: str = "python",
           concurrency: int = 8, stop: threading.Event | None = None,
           read_work: bool = True) -> Plan:
    """Read what each pool that may go carries (``concurrency`` at once), then decide each:
    the plan of what a person is shown and asked to confirm. ``kept``: pool id → why a keep
    rule protects it. Sends nothing. Without ``read_work`` (a script that names pools and
    applies at once) the work is read only when the plan is applied, where the policy asks
    for ``force`` if there is any."""
    kept = kept or {}
    candidates = [pool for pool in pools if read_work
                  and decide(pool, kept=kept.get(pool.id)).deletes]

    def read(pool: Pool) -> Impact:
        return read_impact(api, pool)

    with stops.working(api, stop or api.stop_event() or threading.Event()):
        # closing a panel, Stop, an interrupt or kernel exit ends the check
        found = fan_out(api, read, candidates, workers=concurrency, name="modelarts-nb-check")
    impacts = {pool.id: impact for pool, impact in zip(candidates, found)}
    items = tuple(PlanItem.of(pool, impacts.get(pool.id), kept=kept.get(pool.id), force=force)
                  for pool in pools)
    settings = api.settings
    return Plan(items, settings.endpoint, settings.project_id,
                None if filters is None else filters_json(filters), force, via)


def drifted(api: PoolsApi, plan: Plan, concurrency: int = 8
            ) -> list[tuple[PlanItem, list[str]]]:
    """For each pool ``plan`` deletes, what changed since it was made — the check its
    application makes, without sending anything (``["gone"]`` for a pool no longer listed)."""
    _, changes = _now(api, plan, concurrency)
    return [(item, changes[item.facts.id]) for item in plan.deletable()]


def _now(api: PoolsApi, plan: Plan, concurrency: int
         ) -> tuple[dict[str, Pool], dict[str, list[str]]]:
    """The plan's pools as listed now (by id) and, for each it deletes, what changed."""
    items = plan.deletable()
    spaces = sorted({item.facts.workspace for item in plan.items} - {DEFAULT_WORKSPACE})
    listed = [*api.list_pools(), *(p for w in spaces for p in api.list_pools(workspace=w))]
    found = {pool.id: pool for pool in listed}
    filters = plan.selection()

    def check(item: PlanItem) -> list[str]:
        pool = found.get(item.facts.id)
        if pool is None:
            return ["gone (or no longer listed)"]
        pool = current_tags(api, pool, filters)
        return drift(item, pool, read_impact(api, pool), filters)

    checked = fan_out(api, check, items, workers=concurrency, name="modelarts-nb-check")
    return found, {item.facts.id: changes for item, changes in zip(items, checked)}


@dataclass
class Reviewer:
    """What a ``%pools`` panel may ask of the API, and nothing else: list (with the line's
    filters), review a frozen selection, and apply a reviewed plan."""

    api: PoolsApi
    filters: Filters
    options: Mapping[str, Any]  # concurrency, timeout, interval of the run
    first: list[Any] | None = None  # a listing already made (the panel shows it first)
    idle: bool = False  # --idle: pools with work are kept (idle.keep_busy), also on Refresh

    @property
    def project_id(self) -> str:
        return self.api.settings.project_id

    def listing(self, stop: threading.Event | None = None) -> tuple[list[Pool], dict[str, str]]:
        """The pools the filters select and, by id, why a keep rule protects some; ``stop``
        (the panel's close, an interrupt) ends the reads."""
        if self.first:
            listing = self.first.pop()
        else:
            with stops.working(self.api, stop or threading.Event()):
                listing = list_selected(self.api, self.filters)
                if self.idle:
                    keep_busy(self.api, listing,
                              concurrency=int(self.options.get("concurrency", 8)))
        return listing.pools, dict(listing.kept)

    def check(self, pools: list[Pool], kept: Mapping[str, str],
              stop: threading.Event | None = None) -> Plan:
        return review(self.api, pools, filters=self.filters, kept=kept, via="panel",
                      concurrency=int(self.options.get("concurrency", 8)), stop=stop)

    def apply(self, plan: Plan, listener: Callable[[Deletion], None] | None = None,
              *, background: bool = True) -> Deletion:
        run = Deletion.from_plan(self.api, plan, **self.options)
        if listener is not None:
            run.subscribe(listener)
        run.run(send=True, wait=True, background=background)
        return run

    def close(self) -> None:
        self.api.close()


@dataclass
class PlanReviewer(Reviewer):
    """A saved plan in a ``%pools`` panel (``%pools --apply FILE``): its pools as listed now,
    those that changed since the plan (or that it keeps or refuses) shown with why and not
    tickable; a click applies the plan for the ticked ones, each checked against it again."""

    saved: Plan | None = None

    def listing(self, stop: threading.Event | None = None) -> tuple[list[Pool], dict[str, str]]:
        assert self.saved is not None
        with stops.working(self.api, stop or threading.Event()):
            found, changes = _now(self.api, self.saved, int(self.options.get("concurrency", 8)))
        held = {item.facts.id: item.reason for item in self.saved.items
                if not (item.deletes or item.verdict is Verdict.ACKNOWLEDGE)}
        held |= {pid: f"kept: changed since the plan — {'; '.join(why)}"
                 for pid, why in changes.items() if why}
        pools = [found[item.facts.id] for item in self.saved.items if item.facts.id in found]
        return pools, held

    def check(self, pools: list[Pool], kept: Mapping[str, str],
              stop: threading.Event | None = None) -> Plan:
        """The saved plan for the ticked pools: what was reviewed when it was made."""
        assert self.saved is not None
        return dataclasses.replace(self.saved.only(pool.id for pool in pools), via="panel")
