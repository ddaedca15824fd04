"""The steps of a pool's deletion, as one table every view reads.

A deletion of one pool (the panel, ``--yes``) and each pool of a batch (``%pools``) go through
the same steps. Views never keep their own sets of steps: they ask a step whether it is busy,
final, whether a DELETE may have left, and what the user may still do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Step", "TRANSITIONS"]


@dataclass(frozen=True)
class _Traits:
    busy: bool = False  # work in progress: Stop applies
    final: bool = False  # nothing more happens by itself
    confirmable: bool = False  # the typed name (or --yes) may start the deletion


class Step(str, Enum):
    REVIEW = "review"  # nothing sent: waiting for a confirmation (or, in a batch, its turn)
    REFUSED = "refused"  # prepaid, frozen or unknown: never deletable here
    LEFT_OUT = "left out"  # changed since it was reviewed (or kept now): nothing sent
    SENDING = "sending"  # reading the pool once more, then the DELETE
    WATCHING = "watching"  # DELETE accepted (or already deleting): polling until GET says 404
    ACCEPTED = "accepted"  # DELETE accepted, not watched (--no-wait)
    DELETED = "deleted"
    FAILED = "failed"
    CANCELLED = "cancelled"  # ended before any DELETE was sent
    STOPPED = "stopped"  # the watch was stopped; the deletion goes on on the server

    @property
    def busy(self) -> bool:
        return _TRAITS[self].busy

    @property
    def final(self) -> bool:
        return _TRAITS[self].final

    @property
    def confirmable(self) -> bool:
        return _TRAITS[self].confirmable

    def may_become(self, other: Step) -> bool:
        return other in TRANSITIONS[self]


_TRAITS = {
    Step.REVIEW: _Traits(confirmable=True),
    Step.REFUSED: _Traits(final=True),
    Step.LEFT_OUT: _Traits(final=True),
    Step.SENDING: _Traits(busy=True),
    Step.WATCHING: _Traits(busy=True),
    Step.ACCEPTED: _Traits(final=True),
    Step.DELETED: _Traits(final=True),
    Step.FAILED: _Traits(final=True),
    Step.CANCELLED: _Traits(final=True),
    Step.STOPPED: _Traits(final=True),
}

_ENDED = frozenset({Step.DELETED, Step.FAILED, Step.STOPPED, Step.WATCHING})
# Where each step may go. A Refresh may turn any outcome into what the server now says
# (deleted, failed, still there); a failed deletion may be confirmed again by a rerun.
TRANSITIONS: dict[Step, frozenset[Step]] = {
    Step.REVIEW: frozenset({Step.SENDING, Step.WATCHING, Step.REFUSED, Step.CANCELLED,
                            Step.FAILED, Step.LEFT_OUT}),
    Step.REFUSED: frozenset(),
    Step.LEFT_OUT: frozenset(),
    Step.SENDING: frozenset({Step.WATCHING, Step.ACCEPTED, Step.DELETED, Step.FAILED,
                             Step.CANCELLED, Step.STOPPED, Step.REFUSED, Step.LEFT_OUT}),
    Step.WATCHING: _ENDED | {Step.ACCEPTED},  # --no-wait: accepted, then not watched
    Step.ACCEPTED: _ENDED,
    Step.DELETED: frozenset({Step.DELETED}),
    Step.FAILED: _ENDED,
    Step.CANCELLED: frozenset({Step.FAILED, Step.DELETED}),
    Step.STOPPED: _ENDED,
}
