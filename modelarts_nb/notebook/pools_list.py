"""The ``%pools`` panel's list: its rows, built in chunks, the search, Select all/none, Refresh.

Why it exists: the list is half of what the panel does, and the half that must stay quick at
class size (500 pools). Each pool is ONE widget model: a ``Checkbox`` whose description is the
whole row (``pools_rows.row_html``; ipywidgets 7 renders a description as HTML, 8 does with
``description_allow_html``, through JupyterLab's inline sanitizer, which keeps ``span``/``b``
with ``class``/``style``/``title``), sharing one ``Layout`` and one style model with every
other row. The first 20 rows come with the panel and the others 100 at a time, each chunk once
the browser has shown the previous one. The search hides rows with one ``<style>`` (one message,
no view rebuilt). Prepaid, frozen, already-deleting and kept pools cannot be ticked and say why
in their row: ``policy.decide`` says so, as for every view.

``PoolsList`` is a base of ``pools_panel.PoolsPanel``, which makes the widgets named below;
``pools_batch.PoolsBatch`` builds the confirmation and the deletion on top of it.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from typing import Any

import ipywidgets as widgets

from ..deletion.plan import Plan
from ..deletion.policy import decide
from ..gateway.models import Pool
from .pools_rows import haystack, head_html, row_html, twins_css
from .pools_words import Review, Run, could_not, list_title
from .tables import pools_table
from .theme import POOLS_STYLE

__all__ = ["PoolsList"]

FIRST_ROWS = 20  # rows built with the panel (the box shows 14); then CHUNK at a time
CHUNK = 100


class PoolsList:
    """The list half of the ``%pools`` panel: what is listed, what is built, what is shown."""

    reviewer: Review
    pools: list[Pool]  # as listed, each once, in table order
    kept: dict[str, str]  # id → why a keep rule protects it (from the listing)
    notes: dict[str, str]  # id → why it cannot be ticked (or its nodes' refusal)
    work: dict[str, str]  # id → what deleting it stops, once checked
    checks: dict[str, widgets.Checkbox]  # the rows built so far, in table order
    shown: set[str]  # ids the search lets through
    built: threading.Event  # every row is built (see _grow)
    loaded: threading.Event  # the list shown is read (see reload)
    loading: bool  # a Refresh is reading the list
    _scope: str  # this panel's CSS class: its rows, for the search's and the twins' rules
    # the batch half's (pools_batch): the list does not change under a check or a run
    run: Run | None
    plan: Plan | None
    checking: bool
    _frozen: list[str] | None
    # the widgets (made by pools_panel.PoolsPanel)
    title: widgets.HTML
    search: widgets.Text
    select_all: widgets.Button
    select_none: widgets.Button
    refresh_button: widgets.Button
    head: widgets.HTML
    rows: widgets.VBox
    hint: widgets.HTML
    typed: widgets.Text

    def _init_list(self) -> None:
        self.pools, self.kept, self.notes, self.work = [], {}, {}, {}
        self.checks, self.shown = {}, set()
        self.built, self.loaded = threading.Event(), threading.Event()
        self.loading = False
        self._reads_stop = threading.Event()  # a Refresh's list: set by close()
        self._rows_lock = threading.RLock()
        self._generation = 0  # bumped by every (re)load: rows of an older list never come
        self._built = 0  # rows made so far: self.pools[:self._built]
        self._haystacks: dict[str, str] = {}  # id → what the search looks in
        self._index: dict[str, int] = {}  # id → its row's number (its CSS class mnb-r<n>)
        self._quiet = False  # while Select all/none set many boxes: one sync at the end
        self._row_layout = widgets.Layout()  # one of each for every row (see the module doc)
        self._row_style = widgets.Checkbox.class_traits()["style"].klass()
        self._html_rows = (
            {"description_allow_html": True}
            if "description_allow_html" in widgets.Checkbox.class_trait_names() else {}
        )

    # -- what the other parts provide ------------------------------------------------------

    def _sync_delete(self) -> None:
        """The confirmation follows the selection (``pools_batch``)."""
        raise NotImplementedError

    def _unacknowledge(self) -> None:
        """A changed selection is acknowledged anew (``pools_batch``)."""
        raise NotImplementedError

    def _release_connections(self) -> None:
        """Nothing stays connected while nothing is read or sent (``pools_batch``)."""
        raise NotImplementedError

    def _show_list(self) -> None:
        """The list and the confirmation on screen (``pools_panel``)."""
        raise NotImplementedError

    # -- the list ----------------------------------------------------------------------------

    @property
    def table(self) -> Any:
        """The listed pools as a pandas DataFrame (tags as columns), to keep working with."""
        return pools_table(self.pools)

    def _load(self, stop: threading.Event | None = None) -> None:
        """Show ``pools``: the first rows at once, the others in chunks, each chunk once the
        browser has put the previous one on the page (its last row's ``_view_count`` says so).
        A browser shows 100 rows in a third of the time 500 take, and the kernel is never
        ahead of what the page can take in."""
        listed, self.kept = self.reviewer.listing(stop)
        pools = _once(listed)
        reasons = {pool.id: self._reason(pool) for pool in pools}
        with self._rows_lock:
            self._generation += 1
            old = list(self.checks.values())
            self.built.clear()
            self.pools = pools
            self.work, self.plan = {}, None  # a refresh reviews anew
            self.notes = {pid: reason for pid, reason in reasons.items() if reason}
            self._haystacks = {pool.id: haystack(pool) for pool in pools}
            self._index = {pool.id: index for index, pool in enumerate(pools)}
            self.checks = {}
            self._built = 0
            self.rows.children = (self.head,)
            self._grow(self._generation, 0, FIRST_ROWS)
        for check in old:  # a refresh must not leak the old rows' widget models
            check.close()
        self.title.value = POOLS_STYLE + twins_css(self._scope, pools) + list_title(
            len(pools), self.reviewer.project_id, held=len(self.notes))
        self._filter()
        self._show_list()
        self._sync_delete()

    def build_rows(self) -> None:
        """Every row, now (Select all needs them; a panel never shown gets them here)."""
        with self._rows_lock:
            self._grow(self._generation, self._built, len(self.pools))

    def _grow(self, generation: int, start: int, stop: int) -> None:
        """Rows ``start:stop``, unless a (re)load or an earlier call got there first."""
        with self._rows_lock:
            if generation != self._generation or self._built != start:
                return
            now = datetime.now(timezone.utc)
            end = min(stop, len(self.pools))
            made = {self.pools[index].id: self._row(index, end, generation, now)
                    for index in range(start, end)}
            self.checks = {**self.checks, **made}  # a new dict: nobody sees one grow
            self._built = end
            self.rows.children = (*self.rows.children, *made.values())
            if end >= len(self.pools):
                self.built.set()

    def _row(self, index: int, end: int, generation: int, now: datetime) -> widgets.Checkbox:
        """Row ``index``; the last of a chunk (``end``) asks for the next once it is shown."""
        pool = self.pools[index]
        reason = self.notes.get(pool.id, "")
        # more to come: the browser counts the views of the chunk's last row (in its first
        # state, before any view exists), and its first view is the cue
        cue = {"_view_count": 0} if index == end - 1 < len(self.pools) - 1 else {}
        check = widgets.Checkbox(
            value=False, indent=False, disabled=bool(reason),
            description=row_html(pool, reason, now=now),
            layout=self._row_layout, style=self._row_style,
            _dom_classes=(f"mnb-r{index}",), **self._html_rows, **cue,
        )
        check.observe(self._on_selection, names="value")
        if cue:
            check.observe(partial(self._on_row_shown, generation, end), names="_view_count")
        return check

    def _on_row_shown(self, generation: int, end: int, change: dict[str, Any]) -> None:
        if change["new"]:
            self._grow(generation, end, end + CHUNK)

    def _reason(self, pool: Pool) -> str:
        """Why ``pool`` cannot be ticked ("" if it can), as the policy says."""
        decision = decide(pool, kept=self.kept.get(pool.id))
        return "" if decision.deletes else decision.reason

    def _render_row(self, pool: Pool) -> None:
        self.checks[pool.id].description = row_html(pool, self.notes.get(pool.id, ""),
                                                     self.work.get(pool.id, ""))

    # -- search and selection ----------------------------------------------------------------

    def _on_search(self) -> None:
        if self.run is None:
            self._filter()
            self._sync_delete()

    def _filter(self) -> None:
        """Rows that do not match every word of the search are hidden by one ``<style>``."""
        terms = self.search.value.casefold().split()
        self.shown = {pid for pid, hay in self._haystacks.items()
                      if all(term in hay for term in terms)}
        scope = self._scope
        hidden = [f".{scope} .mnb-r{self._index[pid]}" for pid in self._haystacks
                  if pid not in self.shown]
        css = f"<style>{','.join(hidden)}{{display:none!important}}</style>" if hidden else ""
        self.head.value = css + head_html()
        self.select_all.description = (f"Select all {len(self.shown)} shown" if terms
                                       else "Select all")
        self.select_all.tooltip = ("Ticks every pool the search shows; hidden pools keep "
                                   "their tick" if terms else "Ticks every pool that can be")

    def _on_selection(self, _change: dict[str, Any]) -> None:
        if self._quiet or self._frozen is not None:
            return
        self._unacknowledge()  # a changed selection is acknowledged anew
        self._sync_delete()

    @contextmanager
    def _many(self) -> Iterator[None]:
        """Many boxes change at once: one sync (and one acknowledgement reset) at the end."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False
            self._unacknowledge()
            self._sync_delete()

    def _on_all(self, _button: widgets.Button) -> None:
        if self.run is not None or self.checking:
            return
        self.build_rows()  # rows still to come are ticked too
        with self._many():
            for pid in self.shown:
                check = self.checks.get(pid)
                if check is not None and not check.disabled:
                    check.value = True

    def _on_none(self, _button: widgets.Button) -> None:
        if self.run is not None or self.checking:
            return
        with self._many():
            for check in self.checks.values():
                check.value = False

    # -- reading the list again --------------------------------------------------------------

    def _on_refresh(self, _button: widgets.Button) -> None:
        if self.run is None and not self.checking:  # the checks' answers need their rows
            self.typed.value = ""
            self.reload()

    def _selectors(self) -> tuple[widgets.Widget, ...]:
        """What changes the selection or its confirmation: off while it is read or checked."""
        return (self.select_all, self.select_none, self.refresh_button, self.typed)

    def reload(self, *, background: bool = True) -> None:
        """Read the list again, in the background: the kernel stays free, and closing the
        panel or an interrupt ends the reads (nothing is sent after)."""
        with self._rows_lock:
            if self.loading:  # a double click is one read
                return
            self.loading = True
            self.loaded.clear()
            for widget in self._selectors():
                widget.disabled = True
        self.hint.value = "Reading the pools again…"
        if background:
            threading.Thread(target=self._reload, daemon=True,
                             name="modelarts-nb-pools-refresh").start()
        else:
            self._reload()

    def _reload(self) -> None:
        try:
            self._load(self._reads_stop)
        except Exception as exc:  # noqa: BLE001 - said in the panel; the old list stays
            self.hint.value = html.escape(could_not("read the pools again", exc))
        finally:
            with self._rows_lock:
                self.loading = False
                for widget in self._selectors():
                    widget.disabled = False
            self._release_connections()
            self.loaded.set()


def _once(pools: list[Pool]) -> list[Pool]:
    """A listing that names a pool twice shows it once (where it first came)."""
    unique: dict[str, Pool] = {}
    for pool in pools:
        unique.setdefault(pool.id, pool)
    return list(unique.values())
