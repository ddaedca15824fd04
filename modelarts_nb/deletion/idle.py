"""``--idle``: only the pools nobody is using, decided on what the API says they run.

Why a module of its own: the command and the magics select idle pools the same way, and a
keep rule (``Listing.kept``) is how a selected pool is shown but never deleted — so a person
sees *why* a busy pool stays ("kept: not idle — runs 1 notebook").

What the API gives (docs/modelarts-api.md §6): the workload statistics count workloads per type and
status; the workload list gives each one's status, creation time and running or pending
duration. Neither says when work last *ended* (no end time, no last-activity field), so "idle
for 2 h" cannot be told and there is no ``--idle-for``. A pool is idle when its statistics and
its workload list were both read and show no running or waiting work (``impact.ACTIVE``), and
it has no sub-pools (their work stops with it). A pool whose work or sub-pools cannot be read
is not idle: this fails closed.
"""

from __future__ import annotations

from ..gateway.api import PoolsApi
from ..gateway.fanout import fan_out
from ..gateway.models import Pool
from .impact import ACTIVE, Impact, read_impact
from .policy import decide
from .selection import Listing

__all__ = ["READS", "busy", "keep_busy"]

READS = ("workload counts", "workloads", "sub-pools")  # read_impact's checks --idle needs


def busy(impact: Impact) -> str | None:
    """Why a pool is not idle (a few words), or None when it is."""
    unread = [check for check in READS if check in impact.unchecked]
    if unread:
        return f"its {' and '.join(unread)} could not be read"
    counted = sum(n for by_status in (impact.counts or {}).values()
                  for status, n in by_status.items() if status in ACTIVE)
    if impact.active or impact.subpools:
        return f"runs {impact.stops()}"
    if counted:  # the list shows none, the statistics some: believe the one that says busy
        return f"the statistics count {counted} running or waiting workload(s)"
    return None


def keep_busy(api: PoolsApi, listing: Listing, *, concurrency: int = 8) -> None:
    """Mark every selected pool that is not idle as kept (``listing.kept``), saying why.

    Only pools the policy would otherwise delete are read (what each carries: four reads at
    once, ``concurrency`` pools at a time); kept, refused and already-deleting ones are not.
    """
    candidates = [pool for pool in listing.pools
                  if decide(pool, kept=listing.kept.get(pool.id)).deletes]

    def why(pool: Pool) -> str | None:
        return busy(read_impact(api, pool))

    for pool, reason in zip(candidates, fan_out(api, why, candidates, workers=concurrency,
                                                name="modelarts-nb-idle")):
        if reason:
            listing.kept[pool.id] = f"kept: not idle — {reason} (--idle)"
