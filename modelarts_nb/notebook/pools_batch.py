"""The ``%pools`` panel's batch: the typed confirmation, the check, the deletion, live counts.

Why it exists: this is the half of the panel that can delete, so its state is kept in one place
and says what it allows. The confirmation is the sentence ``delete N pools`` for exactly the
number ticked, beside a text that names what will go (hidden by the search or not), so that a
changed selection can never ride on an earlier confirmation and nobody deletes what they cannot
see. The first click freezes the ticked pools (no row can change while they are checked) and
has them reviewed into a ``plan.Plan`` (``Review.check``); the deletion applies exactly that
plan (``Review.apply``), each pool re-checked against it; changing the selection afterwards
means a new review. The panel never calls the API itself.

``PoolsBatch`` builds on ``pools_list.PoolsList`` and is a base of ``pools_panel.PoolsPanel``,
which makes the widgets; the words it shows are ``pools_words``'.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..deletion.plan import Plan
from ..deletion.policy import Verdict
from ..deletion.steps import Step
from .display import Acknowledgement
from .pools_list import PoolsList
from .pools_rows import status_table
from .pools_words import (
    Run,
    busy_sentence,
    confirm_phrase,
    confirmation_html,
    could_not,
    count_html,
    deleting_title,
    ended_title,
    ending,
    hint_html,
    missing_html,
    progress_text,
    stop_text,
)
from .theme import POOLS_STYLE

__all__ = ["PoolsBatch"]

_RENDER_EVERY = 0.25  # seconds between two renders of the counts (a batch must not flood)
_TABLE_EVERY = 200  # pools per second of delay between two renders of the per-pool table


class PoolsBatch(PoolsList):
    """The batch half of the ``%pools`` panel: from the ticked pools to their deletion."""

    options: Any  # the line's options (concurrency, …)
    # the widgets (made by pools_panel.PoolsPanel)
    count: widgets.HTML
    confirmation: widgets.HTML
    delete_button: widgets.Button
    confirm_row: widgets.HBox
    progress: widgets.IntProgress
    progress_text: widgets.HTML
    progress_row: widgets.HBox
    stop_button: widgets.Button
    stop_note: widgets.HTML
    back_button: widgets.Button
    status: widgets.HTML
    # the panel's (pools_panel, display.StaticCopy)
    _show: Callable[..., None]
    _update_static_copy: Callable[[], None]

    def _init_batch(self) -> None:
        self.run = None
        self.plan = None  # the reviewed selection, once checked
        self.checking = False
        self._frozen = None  # the ticked pools while they are checked
        self._check_stop = threading.Event()
        self._start_lock = threading.Lock()
        self._ack: Acknowledgement | None = None  # made when a selected pool runs work
        self._rendered_at = 0.0
        self._table_at = 0.0

    # -- the selection and what it needs -----------------------------------------------------

    def selected(self) -> list[str]:
        """The ticked pools; while they are checked, those ticked at the click (frozen)."""
        if self._frozen is not None:
            return list(self._frozen)
        return [pid for pid, check in self.checks.items() if check.value and not check.disabled]

    def busy(self) -> dict[str, str]:
        """Selected pools whose deletion stops running work or sub-pools: id → what."""
        pending = {item.facts.id for item in self.plan.pending()} if self.plan else set()
        return {pid: self.work.get(pid, "") for pid in self.selected() if pid in pending}

    def _reviewed(self, ids: list[str]) -> bool:
        """Whether ``ids`` is exactly the selection the current plan reviewed."""
        return self.plan is not None and set(ids) == {
            item.facts.id for item in self.plan.items if item.deletes
            or item.verdict is Verdict.ACKNOWLEDGE}

    def _sync_delete(self) -> None:
        """The button, the count, the confirmation and the hint follow the selection."""
        ids = self.selected()
        count = len(ids)
        phrase = confirm_phrase(count)
        self.typed.placeholder = f"type: {phrase}" if count else "tick at least one pool"
        busy = self.busy()
        self.delete_button.disabled = (
            self.run is not None or not count or (self.typed.value != phrase) or self.checking
            or bool(busy and not self.busy_ack.value)
        )
        self._show_busy(busy)
        hidden = sum(1 for pid in ids if pid not in self.shown)
        self.count.value = count_html(count, len(self.pools), len(self.shown), hidden)
        listed = {pool.id: pool for pool in self.pools}
        self.confirmation.value = confirmation_html([listed[pid] for pid in ids], hidden)
        self.hint.value = self._hint(ids, busy)

    def _hint(self, ids: list[str], busy: dict[str, str], *, enter: bool = False) -> str:
        missing = missing_html(len(ids), self.typed.value, enter=enter,
                               unacknowledged=bool(busy and not self.busy_ack.value))
        changed = self.plan is not None and not self._reviewed(ids)
        return hint_html(len(ids), missing, changed=changed)

    def _on_submit(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Enter in the box acts as the button when it is enabled, else says what is missing."""
        if not (isinstance(content, dict) and content.get("event") == "submit"):
            return
        if not self.delete_button.disabled:
            self._on_delete(self.delete_button)
        elif self.run is None and not self.checking and self.selected():
            self.hint.value = self._hint(self.selected(), self.busy(), enter=True)

    # -- the acknowledgement of the work deleting stops ---------------------------------------

    @property
    def acknowledgement(self) -> Acknowledgement:
        """The checkbox that names the work deleting stops (made the first time it is needed:
        a panel whose pools run nothing never sends its models)."""
        if self._ack is None:
            self._ack = Acknowledgement("mnb-bulk-ack")
            self._ack.box.observe(lambda _change: self._sync_delete(), names="value")
        return self._ack

    @property
    def busy_ack(self) -> widgets.Checkbox:
        return self.acknowledgement.box

    def _unacknowledge(self) -> None:
        if self._ack is not None:
            self._ack.box.value = False

    def _show_busy(self, busy: dict[str, str]) -> None:
        row = [self.typed, self.delete_button]
        if not busy:
            self.confirm_row.children = tuple(row)
            return
        names = {pool.id: pool.display_name or pool.id for pool in self.pools}
        self.acknowledgement.say(busy_sentence(busy, names))
        self.confirm_row.children = (self.acknowledgement.row, *row)

    # -- the check -----------------------------------------------------------------------------

    def _on_delete(self, _button: widgets.Button) -> None:
        """First click: freeze the ticked pools and have them reviewed (``_check``). Once
        reviewed, a click applies exactly that plan; another selection is reviewed anew."""
        self.delete_button.disabled = True  # first
        ids = self.selected()
        if self.checking:  # a second click while the pools are being checked
            return
        if self.run is not None or self.typed.value != confirm_phrase(len(ids)) or not ids:
            self._sync_delete()
            return
        if not self._reviewed(ids):
            self._freeze(ids)
            self.hint.value = (f"Checking what the {len(ids)} selected pool(s) run… The "
                               "selection is frozen until then: this is what gets deleted.")
            threading.Thread(target=self._check, args=(ids,), daemon=True,
                             name="modelarts-nb-bulk-check").start()
            return
        if self.busy() and not self.busy_ack.value:
            self._sync_delete()
            return
        self._apply()

    def _freeze(self, ids: list[str]) -> None:
        """No row can change while its pools are checked: what is applied is what was ticked."""
        with self._rows_lock:
            self._frozen = list(ids)
            self.checking = True
            for widget in (*self.checks.values(), *self._selectors()):
                widget.disabled = True
        self._check_stop = threading.Event()

    def _unfreeze(self) -> None:
        with self._rows_lock:
            self._frozen = None
            for pid, check in self.checks.items():
                check.disabled = bool(self.notes.get(pid))
            for widget in self._selectors():
                widget.disabled = False
            self.checking = False

    def _check(self, ids: list[str]) -> None:
        """Review the frozen selection into a plan; pools the policy refuses (yearly/monthly
        nodes) are unticked with the reason; then the person confirms what the plan stops.
        Without anything to acknowledge or refuse, the plan is applied at once."""
        listed = {pool.id: pool for pool in self.pools}
        try:
            plan = self.reviewer.check([listed[pid] for pid in ids], self.kept,
                                       stop=self._check_stop)
        except Exception as exc:  # noqa: BLE001 - said in the panel; nothing is sent
            self._unfreeze()
            self._sync_delete()
            self.hint.value = html.escape(could_not("check the selected pools", exc)
                                          + " Nothing was deleted.")
            self._release_connections()
            return
        self._take(plan)
        self._unacknowledge()  # a new review is acknowledged anew
        self._sync_delete()  # the acknowledgement names the work (the button stays disabled)
        self._unfreeze()  # only now: rows, ticks and acknowledgement say what was found
        self._sync_delete()
        if plan.deletable() and not plan.pending() and len(plan.deletable()) == len(ids) \
                and self._reviewed(self.selected()) and not self.delete_button.disabled:
            self._apply()
        self._release_connections()  # unless the plan is being applied

    def _take(self, plan: Plan) -> None:
        """The review's answer in the rows: what each pool runs, why one is refused (unticked)."""
        listed = {pool.id: pool for pool in self.pools}
        for item in plan.items:
            pid = item.facts.id
            if item.verdict is Verdict.ACKNOWLEDGE:
                self.work[pid] = item.reason.removeprefix("runs ")
            elif not item.deletes:
                self.notes[pid] = item.reason
                self.checks[pid].value = False
            if not item.deletes:
                self._render_row(listed[pid])
        self.plan = plan

    # -- the deletion --------------------------------------------------------------------------

    def _apply(self) -> None:
        plan = self.plan
        if plan is None:
            return
        plan = plan.only(self.selected())  # refused pools were unticked
        if self._ack is not None and self._ack.box.value:
            plan = plan.acknowledge()
        self.start(plan, background=True)

    def start(self, plan: Plan, *, background: bool) -> Run:
        """Apply ``plan`` (the typed confirmation already given); once: a second call (a
        click racing the end of the checks) returns the run already started."""
        with self._start_lock:
            if self.run is not None:
                return self.run
            count = len(plan.deletable())
            self.typed.disabled = True
            self.progress.value, self.progress.max = 0, max(count, 1)
            self.progress.bar_style = ""
            self.progress_text.value = html.escape(f"0/{count} deleted, {count} waiting")
            self.stop_button.disabled = False
            self.stop_note.value = self.status.value = ""
            self.title.value = POOLS_STYLE + deleting_title(
                count, self.reviewer.project_id, self.options["concurrency"])
            self.progress_row.children = (self.progress, self.progress_text, self.stop_button)
            self._show(self.title, self.progress_row, self.stop_note, self.status)
            # looked up late: see _redraws
            self.run = self.reviewer.apply(plan, lambda run: self._on_progress(run),
                                           background=background)
            return self.run

    def _on_stop(self, _button: widgets.Button) -> None:
        if self.run is not None and not self.run.finished.is_set():
            self.run.stop()
            self.stop_note.value = html.escape(stop_text(self.run))

    def _on_back(self, _button: widgets.Button) -> None:
        """After a batch: the list again, read anew (what was deleted is gone from it)."""
        run = self.run
        if run is None or not run.finished.is_set():
            return
        with self._start_lock:
            self.run = None
        self.search.value = ""
        self.typed.value = ""
        self.typed.disabled = False
        self._unacknowledge()
        self.reload()

    def _on_progress(self, run: Run) -> None:
        """The counts at most every 0.25 s, the table less often the bigger the batch, and
        the ending once."""
        now = time.monotonic()
        finished = run.finished.is_set()
        if not finished and now - self._rendered_at < _RENDER_EVERY:
            return
        self._rendered_at = now
        self.progress.value = min(run.counts()[Step.DELETED], self.progress.max)
        self.progress_text.value = html.escape(progress_text(run))
        if finished or now - self._table_at >= len(run.targets) / _TABLE_EVERY:
            self._table_at = now
            self.status.value = status_table(run.targets) + (
                f"<pre class='mnb-summary'>{html.escape(run.summary())}</pre>"
                if finished
                else ""
            )
        if finished:
            self._ended(run)

    def _ended(self, run: Run) -> None:
        self.stop_button.disabled = True
        counts = run.counts()
        self.progress.bar_style = ending(run)[1]
        if counts[Step.STOPPED] or counts[Step.CANCELLED]:  # Stop, Ctrl-C or a 401
            self.stop_note.value = html.escape(stop_text(run))
        self.title.value = POOLS_STYLE + ended_title(run, self.reviewer.project_id)
        self.progress_row.children = (self.progress, self.progress_text)  # nothing to stop
        self._show(self.title, self.progress_row, self.stop_note, self.status, self.back_button)
        self._update_static_copy()

    def _release_connections(self) -> None:
        """No connection stays open while nothing is read or sent (a run closes its own when
        it ends: closing them under a DELETE on the wire would lose its answer)."""
        if self.run is None or self.run.finished.is_set():
            self.reviewer.close()
