"""What the ``%pools`` panel may ask of a review and read of a run, and what it says of them.

Why it exists: the panel makes no request and holds no rule; these two protocols are all it
may ask (``review.Reviewer``) and read (``engine.Deletion``). And every sentence it shows of a
selection or a batch — the sentence to type, what a selection deletes, what is still missing
before the button acts, the counts of a running batch, how it ended, what Stop left — is a
function of a plan and a run, kept here, apart from the widgets: it reads (and is tested)
without a panel.
"""

from __future__ import annotations

import html
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..deletion.plan import Plan
from ..deletion.steps import Step
from ..gateway.models import Pool
from ..gateway.text import one_line
from .theme import ACK_WORDS, html_text

__all__ = ["Review", "Run", "busy_sentence", "confirm_phrase", "confirmation_html",
           "confirmation_lines", "could_not", "count_html", "deleting_title", "ended_title",
           "ending", "hint_html", "list_title", "missing_html", "progress_text", "stop_text"]

_NAMED = 10  # the confirmation names this many pools, then says "and K more"


class Run(Protocol):
    """What the panel reads of a running deletion (``engine.Deletion``)."""

    targets: list[Any]
    finished: threading.Event
    run_error: Any

    def counts(self) -> dict[Step, int]: ...
    def summary(self) -> str: ...
    def stop(self) -> None: ...


class Review(Protocol):
    """What the panel may ask for (``review.Reviewer``): it makes no request itself."""

    options: Mapping[str, Any]

    @property
    def project_id(self) -> str: ...
    def listing(self, stop: threading.Event | None = None
                ) -> tuple[list[Pool], dict[str, str]]: ...
    def check(self, pools: list[Pool], kept: Mapping[str, str],
              stop: threading.Event | None = None) -> Plan: ...
    def apply(self, plan: Plan, listener: Callable[[Any], None] | None = None, *,
              background: bool = True) -> Run: ...
    def close(self) -> None: ...


def _pools(count: int) -> str:
    return f"{count} pool" + ("" if count == 1 else "s")


def confirm_phrase(count: int) -> str:
    """The sentence to type for a selection of ``count`` pools."""
    return f"delete {_pools(count)}"


# -- a selection, before it is deleted ---------------------------------------------------------


def confirmation_lines(chosen: list[Pool], hidden: int) -> list[str]:
    """What the typed sentence deletes, in words: every name up to ten, then how many more;
    counts by phase and by billing mode; and how many of them the search hides."""
    if not chosen:
        return []
    names = [pool.display_name or pool.id for pool in chosen]
    twice = Counter(names)
    shown = [one_line(pool.label if twice[name] > 1 else name, 80)
             for pool, name in zip(chosen[:_NAMED], names)]
    more = f" and {len(chosen) - _NAMED} more" if len(chosen) > _NAMED else ""
    phases = Counter(one_line(pool.phase or "unknown", 40) for pool in chosen)
    billing = Counter(pool.billing_label for pool in chosen)
    lines = [
        f"This deletes {_pools(len(chosen))}: {', '.join(shown)}{more}.",
        "By phase: " + ", ".join(f"{n} {phase}" for phase, n in phases.most_common())
        + ". By billing: " + ", ".join(f"{n} {mode}" for mode, n in billing.most_common()) + ".",
    ]
    if hidden:
        lines.append(f"{hidden} of them {'is' if hidden == 1 else 'are'} hidden by the current "
                     "search and will be deleted too.")
    return lines


def confirmation_html(chosen: list[Pool], hidden: int) -> str:
    """``confirmation_lines`` as HTML, the first line in bold."""
    lines = confirmation_lines(chosen, hidden)
    return "<br>".join(f"<b>{html_text(line, 2000)}</b>" if n == 0 else html_text(line, 2000)
                       for n, line in enumerate(lines))


def count_html(count: int, listed: int, shown: int, hidden: int) -> str:
    """``3 of 40 selected · 12 shown by the search · 1 selected but hidden by the search``."""
    return (
        f"<b>{count} of {listed} selected</b>"
        + (f" · {shown} shown by the search" if shown != listed else "")
        + (f" · <span class='mnb-why'>{hidden} selected but hidden by the search</span>"
           if hidden else "")
    )


def hint_html(count: int, missing: str, *, changed: bool) -> str:
    """The line under the confirmation: what deleting ``count`` pools means, what is still
    ``missing`` (``missing_html``) and whether the selection changed since it was checked."""
    if not count:
        return ""
    return (
        "<span class='mnb-why'>Deleting stops every notebook, training job and inference "
        f"service on the {count} selected pool{'s' * (count != 1)}; pools and disks cannot "
        f"be restored.</span> {missing}"
        + (" The selection changed since it was checked: the button checks it again."
           if changed else "")
    )


def missing_html(count: int, typed: str, *, unacknowledged: bool, enter: bool = False) -> str:
    """Every step still missing before the button acts, in one line; ``enter``: said after
    Enter was pressed in the box too early."""
    phrase = confirm_phrase(count)
    steps = []
    if typed != phrase:
        steps.append(f"type <code>{phrase}</code>")
    if unacknowledged:
        steps.append(f"tick “{ACK_WORDS} the work …” above")
    if not steps:
        return "Ready: press Enter or click <b>Delete selected</b>."
    said = "<b>Enter: nothing was sent.</b> " if enter else ""
    return f"{said}To enable the button, {' and '.join(steps)}."


def busy_sentence(busy: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The acknowledgement's words: the work deleting the selection stops, pool by pool (ten
    named, then how many more)."""
    shown = [f"{names[pid]} ({what})" for pid, what in list(busy.items())[:10]]
    more = f" and {len(busy) - 10} more" if len(busy) > 10 else ""
    return f"{ACK_WORDS} the work on {len(busy)} pool(s): " + "; ".join(shown) + more


def list_title(count: int, project_id: str, held: int) -> str:
    """The panel's title over the list."""
    return (
        f"<b>{_pools(count)}</b> in project <code>{html.escape(project_id)}</code>"
        + (f" <span class='mnb-muted'>({held} cannot be ticked: see their note)</span>"
           if held else "")
        + ". Tick pools (or search, then Select all), then type the sentence shown.")


# -- a batch, once confirmed --------------------------------------------------------------------


def deleting_title(count: int, project_id: str, concurrency: object) -> str:
    """The panel's title while a batch runs."""
    return (f"<b>Deleting {_pools(count)}</b> in project "
            f"<code>{html.escape(project_id)}</code>: {concurrency} DELETEs at a time, each "
            "pool checked against what you reviewed, then watched until it is gone.")


def ended_title(run: Run, project_id: str) -> str:
    """The panel's title once a batch has ended: how (``ending``) and its counts."""
    return (f"<b>{ending(run)[0]}: {html.escape(progress_text(run))}</b> in project "
            f"<code>{html.escape(project_id)}</code>.")


def progress_text(run: Run) -> str:
    """``37/156 deleted, 2 failed, 117 being deleted``: what happened so far, in counts."""
    counts = run.counts()
    total = len(run.targets)
    parts = [f"{counts[Step.DELETED]}/{total} deleted"]
    words = {
        Step.FAILED: "failed", Step.REFUSED: "refused", Step.LEFT_OUT: "left out (changed)",
        Step.CANCELLED: "got no DELETE",
        Step.STOPPED: "continue on the server", Step.ACCEPTED: "accepted",
        Step.WATCHING: "being deleted", Step.SENDING: "sending", Step.REVIEW: "waiting",
    }
    singular = {Step.STOPPED: "continues on the server"}  # "1 continues", "2 continue"
    parts += [f"{n} {singular.get(step, word) if n == 1 else word}"
              for step, word in words.items() if (n := counts[step])]
    return ", ".join(parts)


def ending(run: Run) -> tuple[str, str]:
    """How a finished batch is titled, and the colour of its bar (which shows the pools
    deleted out of all): "Finished" only when it ran to its end, success (green) when every
    pool is gone, danger (red) when some failed or were refused; "Stopped" after Stop, Ctrl-C
    or an error that ended the batch (pools left unsent or unwatched), warning (orange)."""
    counts = run.counts()
    if run.run_error is not None:
        return "Stopped by an error", "danger"
    if counts[Step.STOPPED] or counts[Step.CANCELLED]:
        return "Stopped", "warning"
    if counts[Step.DELETED] == len(run.targets):
        return "Finished", "success"
    return "Finished", "danger" if counts[Step.FAILED] or counts[Step.REFUSED] else "warning"


def stop_text(run: Run) -> str:
    """What Stop left behind: deletions the server goes on with, pools that got no DELETE."""
    counts = run.counts()
    going, unsent = counts[Step.STOPPED] + counts[Step.ACCEPTED], counts[Step.CANCELLED]
    if not run.finished.is_set():
        return ("Stopping: no further DELETE is sent; those already sent continue on the "
                "server.")
    goes = "1 deletion continues" if going == 1 else f"{going} deletions continue"
    return (f"Stopped. {goes} on the server (no longer watched); "
            f"{unsent} pool{'s' * (unsent != 1)} got no DELETE.")


def could_not(what: str, exc: Exception) -> str:
    """One line: stopped (Stop, close, interrupt) or failed, and why."""
    if type(exc).__name__ == "Cancelled":
        return f"Stopped before it could {what}."
    return f"Could not {what}: {one_line(str(exc), 300) or type(exc).__name__}."
