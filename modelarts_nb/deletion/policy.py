"""The one rule of what may be deleted, for one pool and many alike.

Every view asks ``decide``: the single-pool panel and its text path, the ``%pools`` panel,
``--delete --yes``, ``delete_many``, a saved plan and the DataFrame's decision column. None keeps
a copy of its own, so a hole in one view cannot be a hole in another. Pure: no request, no
widget — what the pool, its work and its tags say, and what the person acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..gateway.models import Pool
from . import rules

if TYPE_CHECKING:
    from .impact import Impact

__all__ = ["Decision", "Verdict", "decide"]


class Verdict(str, Enum):
    DELETE = "delete"  # may go now
    ACKNOWLEDGE = "needs acknowledgement"  # stops running work or sub-pools: say so first
    KEPT = "kept"  # a keep rule (--keep-tag) protects it
    UNDERWAY = "being deleted"  # already Deleting: nothing to send, only to watch
    REFUSED = "refused"  # prepaid, frozen, unknown, or yearly/monthly nodes: never here


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""  # a few words, for a row or a column
    detail: str = ""  # the whole sentence with what to do instead, for one pool's view

    @property
    def deletes(self) -> bool:
        return self.verdict is Verdict.DELETE

    @property
    def column(self) -> str:
        """The DataFrame's decision: ``delete``, or ``kept: why`` / ``left out: why``."""
        if self.deletes:
            return "delete"
        if self.verdict is Verdict.KEPT:
            return self.reason if self.reason.startswith("kept") else f"kept: {self.reason}"
        return f"left out: {self.reason}"


def decide(pool: Pool, impact: Impact | None = None, *, kept: str | None = None,
           acknowledged: bool = False, force: bool = False) -> Decision:
    """What may happen to ``pool``: refused (billing, control mode, yearly/monthly nodes),
    already being deleted, kept, needs the acknowledgement of the work it stops, or delete.

    ``impact`` is what it carries (None: not read, judged on the pool alone); ``kept`` why a
    keep rule protects it; ``acknowledged`` the person confirmed stopping the work shown;
    ``force`` the same for every pool of a line (``--force``).
    """
    refusal = rules.refusal_parts(pool, f"pool {pool.label}")
    if refusal is not None:
        return Decision(Verdict.REFUSED, rules.exclusion(pool) or refusal[0], "; ".join(refusal))
    if pool.phase == rules.DELETING:
        return Decision(Verdict.UNDERWAY, "already being deleted")
    if kept:
        return Decision(Verdict.KEPT, kept, kept)
    if impact is None:
        return Decision(Verdict.DELETE)
    prepaid = [node.name for node in impact.prepaid_nodes(pool)]
    nodes = rules.node_refusal_parts(pool, prepaid, f"pool {pool.label}")
    if nodes is not None:
        return Decision(Verdict.REFUSED, "yearly/monthly nodes: unsubscribe them first",
                        ": ".join(nodes))
    unknown = _unknown(impact)
    if (impact.needs_force or unknown) and not (acknowledged or force):
        stops = impact.stops() or unknown
        return Decision(Verdict.ACKNOWLEDGE, f"runs {stops}",
                        f"deleting pool {pool.label} stops {stops}")
    return Decision(Verdict.DELETE)


def _unknown(impact: Impact) -> str:
    """What deleting may stop that could not be read — never taken as "nothing": work whose
    list and counts both failed, or sub-pools that could not be listed."""
    parts = []
    if impact.workloads is None and impact.counts is None:
        parts.append("workloads that could not be checked")
    if impact.subpools is None:
        parts.append("sub-pools that could not be checked")
    return " and ".join(parts)
