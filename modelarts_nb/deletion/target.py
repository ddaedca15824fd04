"""``Target``: one pool of a deletion — what was asked, what happened to it, and why.

Why apart from the engine: views, the command line and receipts read a target without running
anything; a reviewed plan's pool becomes one here (``planned_target``), already decided when
the review kept or refused it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..gateway import errors
from ..gateway.models import Pool
from . import receipts
from .plan import PlanItem
from .policy import Verdict as Decided
from .steps import Step
from .waiter import Watch

if TYPE_CHECKING:
    from .impact import Impact

__all__ = ["NOT_ACKNOWLEDGED", "Target", "left_out", "planned_target", "workspace_of"]

NOT_ACKNOWLEDGED = ("not acknowledged (tick the acknowledgement, or add --force / force=True); "
                    "nothing was sent")


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


def planned_target(item: PlanItem) -> Target:
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


def left_out(changes: list[str]) -> str:
    """What ``drift`` found, as the one line a left-out pool shows."""
    unknown = all(change.startswith("could not") for change in changes)
    head = "could not be checked again" if unknown else "changed since you reviewed it"
    return f"{head}: {'; '.join(changes)} — review it again; nothing was sent"


def workspace_of(target: Target) -> str:
    """The workspace the target's pool lives in, as last read or as reviewed ("" unknown)."""
    if target.pool is not None:
        return target.pool.workspace_id
    return target.planned.facts.workspace if target.planned is not None else ""
