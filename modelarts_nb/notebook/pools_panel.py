"""PoolsPanel: a table of pools to tick, a search, one typed confirmation, live counts.

Built to stay readable and quick at class size (500 pools). Each pool is ONE widget model: a
``Checkbox`` whose description is the whole row (escaped spans, see ``display.html_text``;
ipywidgets 7 renders a description as HTML, 8 does with ``description_allow_html``, through
JupyterLab's inline sanitizer, which keeps ``span``/``b`` with ``class``/``style``/``title``),
sharing one ``Layout`` and one style model with every other row — instead of an HBox, a
Checkbox and an HTML per row with a Layout and a style each (≈ 8 models a row). The first 20
rows come with the panel and the others 100 at a time, each chunk once the browser has shown the
previous one. Column widths come from classes in a ``<style>`` block shipped once; the search
hides rows with a second ``<style>`` (one message, no view rebuilt); colours come from
JupyterLab's CSS variables with fallbacks, so light, dark, VS Code and classic all read.

Prepaid, frozen, already-deleting and kept (e.g. ``--keep-tag``) pools cannot be ticked and say
why in their row: ``policy.decide`` says so, as for every view. The confirmation is the sentence
``delete N pools`` for exactly the number ticked, beside a text that names what will go (hidden
by the search or not), so that a changed selection can never ride on an earlier confirmation and
nobody deletes what they cannot see.

The panel never calls the API: a ``Review`` (``review.Reviewer``) lists, checks and applies for
it. The first click freezes the ticked pools (no row can change while they are checked) and has
them reviewed into a ``plan.Plan``; the deletion applies exactly that plan, each pool re-checked
against it; changing the selection afterwards means a new review.
"""

from __future__ import annotations

import html
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial
from typing import Any, Protocol

import ipywidgets as widgets

from ..deletion.plan import Plan
from ..deletion.policy import Verdict, decide
from ..deletion.steps import Step
from ..gateway.models import Pool
from ..gateway.text import one_line
from .display import ACK_WORDS, GONE_STYLE, Acknowledgement, StaticCopy, html_text
from .render import PHASE_COLOURS, button_colours, kernel_gone_html, on_dark, table_rules
from .tables import age_text, pools_table

__all__ = ["PoolsPanel", "confirm_phrase", "confirmation_lines", "ending", "progress_text",
           "row_html", "twins_css"]

log = logging.getLogger("modelarts_nb")
_FIRST_ROWS = 20  # rows built with the panel (the box shows 14); then _CHUNK at a time
_CHUNK = 100
_STATIC_ROWS = 50  # pools in the static copy (text/plain, text/html) of the panel
_RENDER_EVERY = 0.25  # seconds between two renders of the counts (a batch must not flood)
_TABLE_EVERY = 200  # pools per second of delay between two renders of the per-pool table
_NAMED = 10  # the confirmation names this many pools, then says "and K more"
# (class, header, width in px): the row cells and the column headers share them. The note and
# the tags are wide enough for what they usually say ("runs 3 training jobs and 1 sub-pool
# (infer-cpu)", "course=ml101, student=s42"); longer ones end in "…", whole in the tooltip.
COLUMNS = (
    ("name", "pool", 170), ("phase", "phase", 136), ("note", "note", 340), ("tags", "tags", 220),
    ("age", "age", 84), ("nodes", "nodes", 170), ("billing", "billing", 112),
    ("type", "type", 80), ("id", "id", 330),
)
_ROW_PX = 24
_BORDER = "var(--jp-border-color2, rgba(128, 128, 128, 0.35))"
# Below this panel width the note (why a row cannot be ticked, what deleting it stops) would be
# off to the right of pool and phase: it goes under them instead (see _NARROW).
_NARROW_PX = 700
_P = ".mnb-pools-panel"
# Text colours, each at least 4.5:1 (WCAG AA) on the panel's backgrounds, a hovered row's
# included, in JupyterLab's light and dark themes (tests/browser/test_browser_themes.py measures
# them): no single theme red or orange reads on both white and #212121, so each theme gets its
# own (render.on_dark); no theme orange reaches 4.5:1 on white at all (--jp-warn-color0 is
# 3.8:1), so the light one is a fixed burnt orange (6.1:1 on white, 5.3:1 on a hovered row).
_COLOURS = (
    f"{_P} .mnb-why{{color:var(--jp-error-color0,#b71c1c)}}"
    f"{on_dark(f'{_P} .mnb-why')}{{color:var(--jp-error-color2,#e57373)}}"
    f"{_P} .mnb-work{{color:#a84300;font-weight:600}}"
    f"{on_dark(f'{_P} .mnb-work')}{{color:var(--jp-warn-color2,#ffb74d)}}"
    f"{_P} .mnb-muted{{color:var(--jp-ui-font-color2,inherit)}}"
    + button_colours(_P)
)
# The panel is as wide as its cell and never wider (inline-size containment, as a container of
# the query below): its rows scroll sideways inside their own box, the texts wrap. In a narrow
# one (a 700 px window with the file browser open leaves ~330 px) each row puts its note on a
# line of its own under the pool's name, as wide as the panel, so why a pool cannot be ticked
# is in sight without scrolling; the other cells stay on the first line.
_NARROW = (
    f"@container mnb-pools (max-width:{_NARROW_PX}px){{"
    f"{_P} .mnb-rows>.widget-checkbox{{height:auto!important;min-height:{_ROW_PX}px}}"
    f"{_P} .mnb-rows .widget-label-basic{{height:auto;align-items:flex-start}}"
    f"{_P} .mnb-rows input[type=checkbox]{{margin-top:5px;align-self:flex-start}}"
    f"{_P} .mnb-row{{display:grid;grid-template-columns:repeat({len(COLUMNS) - 1},max-content);"
    "align-items:center}"
    f"{_P} .mnb-row>.mnb-c{{grid-row:1}}"
    f"{_P} .mnb-c-name{{width:160px}}{_P} .mnb-c-phase{{width:126px}}"
    f"{_P} .mnb-row>.mnb-c-note{{grid-row:2;grid-column:1/-1;width:auto;"
    "max-width:calc(100cqw - 52px);white-space:normal;overflow-wrap:anywhere;"
    "line-height:1.35;padding-bottom:4px}"
    f"{_P} .mnb-row>.mnb-c-note:empty{{display:none}}"
    f"{_P} .mnb-head .mnb-c-note{{display:none}}"
    "}"
)
_STYLE = (
    "<style>"
    f"{_P}{{color:var(--jp-ui-font-color1,inherit);"
    f"border:1px solid {_BORDER};padding:6px;box-sizing:border-box;width:100%;max-width:100%;"
    "container-type:inline-size;container-name:mnb-pools}"
    # (not the column headers: they are as wide as the rows, inside the rows' box)
    f"{_P} .widget-html:not(.mnb-head),{_P} .widget-html:not(.mnb-head)>.widget-html-content"
    "{min-width:0;max-width:100%}"
    f"{_P} .mnb-pools-title .widget-html-content,{_P} .mnb-hint .widget-html-content,"
    f"{_P} .mnb-bulk-confirmation .widget-html-content,{_P} .mnb-stop-note .widget-html-content"
    "{white-space:normal;overflow-wrap:anywhere}"
    f"{_P} .mnb-rows{{border:1px solid {_BORDER};"
    "background:var(--jp-layout-color1,transparent)}"
    f"{_P} .mnb-rows>.widget-checkbox{{flex:0 0 auto!important;"
    f"width:max-content!important;min-width:100%;height:{_ROW_PX}px!important;margin:0;"
    f"padding:0;line-height:{_ROW_PX}px}}"
    f"{_P} .mnb-rows>.widget-checkbox:hover{{background:rgba(128,128,128,.12)}}"
    f"{_P} .mnb-rows .widget-label-basic{{display:flex;align-items:center;"
    f"overflow:visible;height:{_ROW_PX}px;line-height:{_ROW_PX}px;color:inherit;"
    "font-size:var(--jp-ui-font-size1,13px);cursor:pointer}"
    # the checkbox's tooltip is the raw description: hovering goes to the row's own title
    # instead; a click on the box still reaches it through its label
    f"{_P} .mnb-rows input[type=checkbox]{{pointer-events:none;flex:0 0 14px;"
    "width:14px;height:14px;margin:0 8px 0 6px}"
    f"{_P} .mnb-row{{display:flex;align-items:center;white-space:nowrap}}"
    f"{_P} .mnb-c{{display:inline-block;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap;padding-right:10px;box-sizing:border-box;flex:0 0 auto}"
    + "".join(f"{_P} .mnb-c-{name}{{width:{px}px}}" for name, _, px in COLUMNS)
    + f"{_P} .mnb-row .mnb-c-name{{font-weight:600}}"
    f"{_P} .mnb-c-id{{font-family:var(--jp-code-font-family,monospace);font-size:12px}}"
    f"{_P} .mnb-head{{position:sticky;top:0;z-index:2;flex:0 0 auto!important;"
    "width:max-content!important;min-width:100%;margin:0!important;"
    f"background:var(--jp-layout-color2,Canvas);border-bottom:1px solid {_BORDER}}}"
    f"{_P} .mnb-head .mnb-row{{padding-left:28px;font-weight:600;"
    f"line-height:{_ROW_PX}px}}"
    f"{_P} .mnb-phase{{color:#fff;border-radius:8px;padding:1px 7px;font-weight:600;"
    "font-size:12px;line-height:18px}"
    + _COLOURS
    + f"{_P} .mnb-table{{border-collapse:collapse;font-size:12px;margin:2px 0 8px;"
    "color:inherit}"
    + table_rules((_P,), "th,td")
    + f"{{padding:2px 8px;border-bottom:1px solid {_BORDER};text-align:left;white-space:nowrap;"
    "max-width:420px;overflow:hidden;text-overflow:ellipsis;vertical-align:middle}"
    + table_rules((_P,), "th")
    + "{background:var(--jp-layout-color2,Canvas);position:sticky;top:0}"
    f"{_P} .mnb-status-scroll{{max-height:320px;max-width:100%;overflow:auto}}"
    f"{_P} .mnb-summary{{white-space:pre-wrap;overflow-wrap:anywhere}}"
    f"{_P} .widget-button{{width:auto;min-width:max-content}}"
    f"{_P} .mnb-progress{{max-width:100%}}"
    # texts that wrap (title, confirmation, hints) read better at a line height of their own
    f"{_P} .widget-html-content{{line-height:1.5;padding:2px 0}}"
    f"{_P} .mnb-head .widget-html-content{{padding:0}}"
    + _NARROW
    + "</style>"
)


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


def confirm_phrase(count: int) -> str:
    return f"delete {count} pool" + ("" if count == 1 else "s")


def _flat(value: object, limit: int) -> str:
    """``text.one_line``, with a fast path for the usual printable, short string (500 rows)."""
    text = str(value)
    return text if len(text) <= limit and text.isprintable() else one_line(text, limit)


_text = html_text  # a server string as widget HTML: escaped, one line, capped, no maths


def _attr(value: object) -> str:
    """A tooltip: escaped, and no ``$`` in the source either (see ``display.html_text``)."""
    escaped = html.escape(_flat(value, 500), quote=True)
    return escaped.replace("$", "&#36;").replace("\\", "&#92;")


def _badge(phase: str | None) -> str:
    colour = PHASE_COLOURS.get(phase or "", "#616161")
    return (f'<span class="mnb-phase" style="background:{colour}">'
            f'{_text(phase or "unknown", 40)}</span>')


def _cell(column: str, content: str, title: str = "") -> str:
    tip = f' title="{_attr(title)}"' if title else ""
    return f'<span class="mnb-c mnb-c-{column}"{tip}>{content}</span>'


def _flavors(pool: Pool) -> str:
    return ", ".join(f"{line.flavor}×{'?' if line.count is None else line.count}"
                     for line in pool.spec_resources)


def row_html(pool: Pool, note: str = "", work: str = "", now: datetime | None = None) -> str:
    """One pool's row: every server string escaped and on one line, long ones cut with ``…``
    (the full text is the cell's tooltip). ``note``: why it cannot be ticked; ``work``: what
    deleting it stops, once read."""
    now = now or datetime.now(timezone.utc)
    name = pool.display_name or ""
    notes = []
    if note:
        notes.append(f'<span class="mnb-why">{_text(note, 160)}</span>')
    if work:
        notes.append(f'<span class="mnb-work">runs {_text(work, 160)}</span>')
    note_title = "; ".join(filter(None, [note, work and f"runs {work}"]))
    nodes = f"{pool.node_count} · {_flavors(pool)}" if pool.spec_resources else str(
        pool.node_count)
    tags = pool.tag_text()
    cells = [
        _cell("name", _text(name, 80), name if len(name) > 16 else ""),
        _cell("phase", _badge(pool.phase), pool.phase or ""),
        _cell("note", " · ".join(notes), note_title),
        _cell("tags", "<i>not read</i>", _tags_unread(pool)) if pool.tags is None else
        _cell("tags", _text(tags, 120), tags),
        _cell("age", html.escape(age_text(now, pool.created))),
        _cell("nodes", _text(nodes, 120), nodes if len(nodes) > 18 else ""),
        _cell("billing", _text(pool.billing_label, 40)),
        _cell("type", _text(pool.type or "", 20)),
        _cell("id", _text(pool.id, 80), pool.id),
    ]
    return f'<span class="mnb-row" title="{_attr(pool.label)}">{"".join(cells)}</span>'


def _tags_unread(pool: Pool) -> str:
    """Why a row says its tags were "not read" (never a bare "?")."""
    why = ("its tag annotation could not be read" if pool.annotated else
           "the listing carries no tag annotation for this pool")
    return (f"Tags not read: {why}. Filters on tags (--tag, --keep-tag) ask the tag API "
            "instead, and never take unread tags as none.")


_TAIL = 4  # characters of the id at least, after a display name that several pools share


def twins_css(scope: str, pools: list[Pool]) -> str:
    """A display name several listed pools share (two ``team-shared``) gets the end of each
    one's id beside it in its row (``team-shared · 4dba``), as short as still tells them
    apart: the rows differ at a glance, not only in the id column far to the right. Drawn by
    the panel's stylesheet (``::after`` on row ``mnb-r<index>`` of ``scope``), so the rows
    themselves stay as sent; only letters and digits of the id reach the CSS."""
    groups: dict[str, list[int]] = {}
    for index, pool in enumerate(pools):
        if pool.display_name:
            groups.setdefault(pool.display_name, []).append(index)
    rules = []
    for indexes in groups.values():
        if len(indexes) < 2:
            continue
        ids = {i: "".join(c for c in pools[i].id if c.isascii() and c.isalnum())
               for i in indexes}
        size = _TAIL
        while size < max(map(len, ids.values())) and len(
                {ident[-size:] for ident in ids.values()}) < len(ids):
            size += 1
        rules += [f'.{scope} .mnb-r{i} .mnb-c-name::after{{content:" · {ids[i][-size:]}";'
                  "font-weight:400}" for i in indexes if ids[i]]
    return f"<style>{''.join(rules)}</style>" if rules else ""


def _row_html(pool: Pool, reason: str | None, work: str = "") -> str:
    """Kept for callers of the former name."""
    return row_html(pool, reason or "", work)


def _head_html() -> str:
    return '<span class="mnb-row">' + "".join(
        f'<span class="mnb-c mnb-c-{name}">{header}</span>' for name, header, _ in COLUMNS
    ) + "</span>"


def _haystack(pool: Pool) -> str:
    """What the search looks in: names, id, tags, phase, type and billing, lower case."""
    return "\n".join([pool.display_name or "", pool.id, pool.tag_text(), pool.phase or "unknown",
                      pool.type or "", pool.billing_label]).casefold()


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
        f"This deletes {len(chosen)} pool{'s' * (len(chosen) != 1)}: {', '.join(shown)}{more}.",
        "By phase: " + ", ".join(f"{n} {phase}" for phase, n in phases.most_common())
        + ". By billing: " + ", ".join(f"{n} {mode}" for mode, n in billing.most_common()) + ".",
    ]
    if hidden:
        lines.append(f"{hidden} of them {'is' if hidden == 1 else 'are'} hidden by the current "
                     "search and will be deleted too.")
    return lines


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


class PoolsPanel(StaticCopy, widgets.VBox):
    """A table of pools with a checkbox each, search, select all/none, refresh, one typed
    confirmation naming what goes, then live counts, Stop and a way back to the list."""

    _redraws = ("_on_progress", "_sync_delete", "_show_busy")

    def __init__(self, reviewer: Review) -> None:
        """``reviewer.list()`` lists (and filters) the pools, now and on Refresh, with why a
        keep rule protects some; ``check`` reviews a selection; ``apply`` deletes a plan."""
        self.reviewer = reviewer
        self.options = reviewer.options
        self.run: Run | None = None
        self.plan: Plan | None = None  # the reviewed selection, once checked
        self.kept: dict[str, str] = {}
        self._frozen: list[str] | None = None  # the ticked pools while they are checked
        self._check_stop = threading.Event()
        self._reads_stop = threading.Event()  # a Refresh's list: set by close()
        self.loaded = threading.Event()  # the list shown is read (see reload)
        self.loading = False
        self.pools: list[Pool] = []
        self._rendered_at = 0.0
        self._table_at = 0.0
        self._quiet = False  # while Select all/none set many boxes: one sync at the end
        self._scope = f"mnb-pp-{secrets.token_hex(4)}"  # this panel's rows, for the search CSS
        self._row_layout = widgets.Layout()  # one of each for every row (see the module doc)
        self._row_style = widgets.Checkbox.class_traits()["style"].klass()
        self._html_rows = (
            {"description_allow_html": True}
            if "description_allow_html" in widgets.Checkbox.class_trait_names() else {}
        )
        # every model costs a comm message (~0.5 ms in a kernel): layouts and styles are shared
        self._plain = widgets.Layout()
        self._wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        self._auto = widgets.Layout(width="auto")
        self._styles: dict[type, widgets.Widget] = {}
        # shown only once the kernel is gone (display.GONE_STYLE); the exit hook writes here
        self.gone = self._html("mnb-gone-line")
        self.gone.value = GONE_STYLE + kernel_gone_html()
        self.title = self._html("mnb-pools-title")
        self.search = self._text("mnb-search", "220px", placeholder="search name, id, tag, phase")
        self.search.observe(lambda _change: self._on_search(), names="value")
        self.select_all = self._button("Select all", "", "mnb-all", self._on_all)
        self.select_none = self._button("Select none", "", "mnb-none", self._on_none)
        self.refresh_button = self._button("Refresh", "info", "mnb-refresh", self._on_refresh)
        self.count = self._html("mnb-selected-count")
        self.head = self._html("mnb-head")
        self.rows = widgets.VBox(layout=widgets.Layout(max_height="360px", overflow="auto"))
        self.rows.add_class("mnb-rows")
        self.confirmation = self._html("mnb-bulk-confirmation")
        self.typed = self._text("mnb-bulk-confirm", "240px")
        self.typed.observe(lambda _change: self._sync_delete(), names="value")
        self.typed.on_msg(self._on_submit)  # Enter: ipywidgets 7 and 8 both send "submit"
        self.delete_button = self._button(
            "Delete selected", "danger", "mnb-bulk-delete", self._on_delete
        )
        self.hint = self._html("mnb-hint")
        self.progress = widgets.IntProgress(value=0, min=0, max=1)
        self.progress.add_class("mnb-progress")
        self.progress_text = self._html("mnb-progress-text")
        self.stop_button = self._button("Stop", "warning", "mnb-stop", self._on_stop)
        self.stop_note = self._html("mnb-stop-note")
        self.back_button = self._button("Back to the list", "info", "mnb-back", self._on_back,
                                        widgets.Layout(width="auto", align_self="flex-start"))
        self.status = self._html("mnb-bulk-status")
        self.checks: dict[str, widgets.Checkbox] = {}  # the rows built so far, in table order
        self.built = threading.Event()  # every row is built (see _load)
        self._rows_lock = threading.RLock()
        self._generation = 0  # bumped by every (re)load: rows of an older list never come
        self._built = 0
        self.notes: dict[str, str] = {}  # why a pool cannot be ticked (or its nodes' refusal)
        self.work: dict[str, str] = {}  # what deleting a checked pool stops, by id
        self.shown: set[str] = set()  # ids the search lets through
        self.checking = False
        self._start_lock = threading.Lock()
        self._ack: Acknowledgement | None = None  # made when a selected pool runs work
        self.toolbar = widgets.HBox([self.search, self.select_all, self.select_none,
                                     self.refresh_button, self.count], layout=self._wrap)
        self.confirm_row = widgets.HBox([self.typed, self.delete_button], layout=self._wrap)
        self.progress_row = widgets.HBox([self.progress, self.progress_text, self.stop_button],
                                         layout=self._wrap)
        super().__init__(layout=self._plain)
        self.add_class("mnb-pools-panel")
        self.add_class("mnb-gone-aware")
        self.add_class(self._scope)
        self._load()
        self.loaded.set()

    def _style(self, kind: type[widgets.Widget]) -> Any:
        """The one style model of this kind of widget (HTMLStyle, ButtonStyle, …)."""
        klass = kind.class_traits()["style"].klass
        if klass not in self._styles:
            self._styles[klass] = klass()
        return self._styles[klass]

    def _html(self, css: str) -> widgets.HTML:
        return widgets.HTML(layout=self._plain, style=self._style(widgets.HTML),
                            _dom_classes=(css,))

    def _text(self, css: str, width: str, **kw: Any) -> widgets.Text:
        return widgets.Text(layout=widgets.Layout(width=width), style=self._style(widgets.Text),
                            _dom_classes=(css,), **kw)

    def _button(self, text: str, style: str, css: str, handler: Callable[[Any], Any],
                layout: widgets.Layout | None = None) -> widgets.Button:
        button = widgets.Button(description=text, button_style=style, layout=layout or self._auto,
                                style=self._style(widgets.Button), _dom_classes=(css,))
        button.on_click(handler)
        return button

    # -- the table -------------------------------------------------------------------------

    @property
    def table(self) -> Any:
        """The listed pools as a pandas DataFrame (tags as columns), to keep working with."""
        return pools_table(self.pools)

    def _load(self, stop: threading.Event | None = None) -> None:
        """Show ``pools``: the first rows at once, the others in chunks, each chunk once the
        browser has put the previous one on the page (its last row's ``_view_count`` says so).
        A browser shows 100 rows in a third of the time 500 take, and the kernel is never
        ahead of what the page can take in."""
        pools, self.kept = self.reviewer.listing(stop)
        unique: dict[str, Pool] = {}
        for pool in pools:  # a listing that names a pool twice shows it once
            unique.setdefault(pool.id, pool)
        pools = list(unique.values())
        reasons = {pool.id: self._reason(pool) for pool in pools}
        with self._rows_lock:
            self._generation += 1
            old = list(self.checks.values())
            self.built.clear()
            self.pools = pools
            self.work, self.plan = {}, None  # a refresh reviews anew
            self.notes = {pid: reason for pid, reason in reasons.items() if reason}
            self._haystacks = {pool.id: _haystack(pool) for pool in pools}
            self._index = {pool.id: index for index, pool in enumerate(pools)}
            self.checks = {}
            self._built = 0  # rows made so far: self.pools[:self._built]
            self.rows.children = (self.head,)
            self._grow(self._generation, 0, _FIRST_ROWS)
        for check in old:  # a refresh must not leak the old rows' widget models
            check.close()
        held = len(self.notes)
        self.title.value = _STYLE + twins_css(self._scope, pools) + (
            f"<b>{len(pools)} pool{'s' * (len(pools) != 1)}</b> in project "
            f"<code>{html.escape(self.reviewer.project_id)}</code>"
            + (f" <span class='mnb-muted'>({held} cannot be ticked: see their note)</span>"
               if held else "")
            + ". Tick pools (or search, then Select all), then type the sentence shown.")
        self._filter()
        self._show(self.title, self.toolbar, self.rows, self.confirmation, self.confirm_row,
                   self.hint)
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
            made = {}
            for index in range(start, end):
                pool = self.pools[index]
                reason = self.notes.get(pool.id, "")
                # more to come: the browser counts the views of the chunk's last row (in its
                # first state, before any view exists), and its first view is the cue
                cue = {"_view_count": 0} if index == end - 1 < len(self.pools) - 1 else {}
                check = widgets.Checkbox(
                    value=False, indent=False, disabled=bool(reason),
                    description=row_html(pool, reason, now=now),
                    layout=self._row_layout, style=self._row_style,
                    _dom_classes=(f"mnb-r{index}",), **self._html_rows, **cue,
                )
                check.observe(self._on_selection, names="value")
                if cue:
                    check.observe(partial(self._on_row_shown, generation, end),
                                  names="_view_count")
                made[pool.id] = check
            self.checks = {**self.checks, **made}  # a new dict: nobody sees one grow
            self._built = end
            self.rows.children = (*self.rows.children, *made.values())
            if end >= len(self.pools):
                self.built.set()

    def _on_row_shown(self, generation: int, end: int, change: dict[str, Any]) -> None:
        if change["new"]:
            self._grow(generation, end, end + _CHUNK)

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
        hidden = [f".{self._scope} .mnb-r{self._index[pid]}" for pid in self._haystacks
                  if pid not in self.shown]
        css = f"<style>{','.join(hidden)}{{display:none!important}}</style>" if hidden else ""
        self.head.value = css + _head_html()
        self.select_all.description = (f"Select all {len(self.shown)} shown" if terms
                                       else "Select all")
        self.select_all.tooltip = ("Ticks every pool the search shows; hidden pools keep "
                                   "their tick" if terms else "Ticks every pool that can be")

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

    def _on_refresh(self, _button: widgets.Button) -> None:
        if self.run is None and not self.checking:  # the checks' answers need their rows
            self.typed.value = ""
            self.reload()

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
            self.hint.value = html.escape(_could_not("read the pools again", exc))
        finally:
            with self._rows_lock:
                self.loading = False
                for widget in self._selectors():
                    widget.disabled = False
            self._release_connections()
            self.loaded.set()

    def _sync_delete(self) -> None:
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
        searching = len(self.shown) != len(self.pools)
        self.count.value = (
            f"<b>{count} of {len(self.pools)} selected</b>"
            + (f" · {len(self.shown)} shown by the search" if searching else "")
            + (f" · <span class='mnb-why'>{hidden} selected but hidden by the search</span>"
               if hidden else "")
        )
        listed = {pool.id: pool for pool in self.pools}
        lines = confirmation_lines([listed[pid] for pid in ids], hidden)
        self.confirmation.value = "<br>".join(
            f"<b>{_text(line, 2000)}</b>" if n == 0 else _text(line, 2000)
            for n, line in enumerate(lines))
        self.hint.value = (
            f"<span class='mnb-why'>Deleting stops every notebook, training job and inference "
            f"service on the {count} selected pool{'s' * (count != 1)}; pools and disks cannot "
            f"be restored.</span> {self._missing(ids, busy)}"
            + (" The selection changed since it was checked: the button checks it again."
               if self.plan is not None and not self._reviewed(ids) else "")
            if count
            else ""
        )

    def _missing(self, ids: list[str], busy: dict[str, str], enter: bool = False) -> str:
        """Every step still missing before the button acts, in one line (HTML)."""
        phrase = confirm_phrase(len(ids))
        steps = []
        if self.typed.value != phrase:
            steps.append(f"type <code>{phrase}</code>")
        if busy and not self.busy_ack.value:
            steps.append(f"tick “{ACK_WORDS} the work …” above")
        if not steps:
            return "Ready: press Enter or click <b>Delete selected</b>."
        said = "<b>Enter: nothing was sent.</b> " if enter else ""
        return f"{said}To enable the button, {' and '.join(steps)}."

    def _on_submit(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Enter in the box acts as the button when it is enabled, else says what is missing."""
        if not (isinstance(content, dict) and content.get("event") == "submit"):
            return
        if not self.delete_button.disabled:
            self._on_delete(self.delete_button)
        elif self.run is None and not self.checking and self.selected():
            self.hint.value = self.hint.value.replace(
                self._missing(self.selected(), self.busy()),
                self._missing(self.selected(), self.busy(), enter=True))

    # -- deletion --------------------------------------------------------------------------

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

    def _selectors(self) -> tuple[widgets.Widget, ...]:
        """What changes the selection or its confirmation: off while a selection is checked."""
        return (self.select_all, self.select_none, self.refresh_button, self.typed)

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
            self.hint.value = html.escape(_could_not("check the selected pools", exc)
                                          + " Nothing was deleted.")
            self._release_connections()
            return
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
        self._unacknowledge()  # a new review is acknowledged anew
        self._sync_delete()  # the acknowledgement names the work (the button stays disabled)
        self._unfreeze()  # only now: rows, ticks and acknowledgement say what was found
        self._sync_delete()
        if plan.deletable() and not plan.pending() and len(plan.deletable()) == len(ids) \
                and self._reviewed(self.selected()) and not self.delete_button.disabled:
            self._apply()
        self._release_connections()  # unless the plan is being applied

    def _apply(self) -> None:
        plan = self.plan
        if plan is None:
            return
        plan = plan.only(self.selected())  # refused pools were unticked
        if self._ack is not None and self._ack.box.value:
            plan = plan.acknowledge()
        self.start(plan, background=True)

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
        shown = [f"{names[pid]} ({what})" for pid, what in list(busy.items())[:10]]
        more = f" and {len(busy) - 10} more" if len(busy) > 10 else ""
        self.acknowledgement.say(f"{ACK_WORDS} the work on {len(busy)} pool(s): "
                                 + "; ".join(shown) + more)
        self.confirm_row.children = (self.acknowledgement.row, *row)

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
            self.title.value = _STYLE + (
                f"<b>Deleting {count} pool{'s' * (count != 1)}</b> in project "
                f"<code>{html.escape(self.reviewer.project_id)}</code>: "
                f"{self.options['concurrency']} DELETEs at a time, each pool checked against "
                "what you reviewed, then watched until it is gone.")
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

    def _show(self, *children: widgets.Widget) -> None:
        """The panel's parts, after the line that says so once its kernel is gone."""
        self.children = (self.gone, *children)

    def _on_progress(self, run: Run) -> None:
        now = time.monotonic()
        finished = run.finished.is_set()
        if not finished and now - self._rendered_at < _RENDER_EVERY:
            return
        self._rendered_at = now
        self.progress.value = min(run.counts()[Step.DELETED], self.progress.max)
        self.progress_text.value = html.escape(progress_text(run))
        if finished or now - self._table_at >= len(run.targets) / _TABLE_EVERY:
            self._table_at = now
            self.status.value = _status_table(run.targets) + (
                f"<pre class='mnb-summary'>{html.escape(run.summary())}</pre>"
                if finished
                else ""
            )
        if not finished:
            return
        self.stop_button.disabled = True
        counts = run.counts()
        said, self.progress.bar_style = ending(run)
        if counts[Step.STOPPED] or counts[Step.CANCELLED]:  # Stop, Ctrl-C or a 401
            self.stop_note.value = html.escape(stop_text(run))
        self.title.value = _STYLE + (
            f"<b>{said}: {html.escape(progress_text(run))}</b> in project "
            f"<code>{html.escape(self.reviewer.project_id)}</code>.")
        self.progress_row.children = (self.progress, self.progress_text)  # nothing to stop
        self._show(self.title, self.progress_row, self.stop_note, self.status, self.back_button)
        self._update_static_copy()

    def close(self) -> None:
        """Stop the run and close every model the panel made (no live box keeps a closed
        child, which would break saving the widget state); a check under way ends too."""
        self._check_stop.set()
        self._reads_stop.set()
        if self.run is not None:
            self.run.stop()
        self._release_connections()
        with self._rows_lock:
            self._generation += 1  # rows still to come never come
            checks, self.checks = list(self.checks.values()), {}
        super().close()
        boxes = [self.rows, self.toolbar, self.confirm_row, self.progress_row]
        parts = [self.gone, self.title, self.search, self.select_all, self.select_none,
                 self.refresh_button, self.count, self.head, self.confirmation, self.typed,
                 self.delete_button, self.hint, self.progress, self.progress_text,
                 self.stop_button, self.stop_note, self.back_button, self.status]
        if self._ack is not None:
            boxes.append(self._ack.row)
            parts.append(self._ack.box)
        for widget in [*boxes, *checks, *parts]:
            widget.close()
        for model in [self._plain, self._wrap, self._auto, self._row_layout, self._row_style,
                      *self._styles.values()]:
            model.close()

    def _release_connections(self) -> None:
        """No connection stays open while nothing is read or sent (a run closes its own when
        it ends: closing them under a DELETE on the wire would lose its answer)."""
        if self.run is None or self.run.finished.is_set():
            self.reviewer.close()

    def _static_copy(self) -> tuple[str, str]:
        """The first pools as a table (where widgets do not render): 500 would weigh ~300 kB
        in every display message and saved notebook, and cost the browser half a second."""
        table = pools_table(self.pools[:_STATIC_ROWS])
        text = table.to_string(index=False) if len(table) else "(no pools)"
        html_table = table.to_html(index=False, border=0)
        more = len(self.pools) - _STATIC_ROWS
        if more > 0:
            note = f"… and {more} more pools ({len(self.pools)} in all: panel.table has them)"
            text += "\n" + note
            html_table += f"<p>{html.escape(note)}</p>"
        if self.run is not None:
            text += "\n\n" + self.run.summary()
            html_table += f"<pre>{html.escape(self.run.summary())}</pre>"
        return text, html_table

    def _note_line(self) -> str:
        if self.run is not None:
            return f"Last seen by this cell: {self.run.summary().splitlines()[0]}."
        return f"Last seen by this cell: {len(self.pools)} pools listed."


def _could_not(what: str, exc: Exception) -> str:
    """One line: stopped (Stop, close, interrupt) or failed, and why."""
    if type(exc).__name__ == "Cancelled":
        return f"Stopped before it could {what}."
    return f"Could not {what}: {one_line(str(exc), 300) or type(exc).__name__}."


# The outcome column in words: a pool whose turn has not come is "waiting", not "review".
_OUTCOMES = {Step.REVIEW: "waiting"}


def _status_table(items: list[Any]) -> str:
    """The batch, pool by pool, in a box that scrolls (both ways) inside the panel."""
    rows = "".join(
        f"<tr><td title='{_attr(item.label)}'>{_text(item.label, 120)}</td>"
        f"<td>{_badge(item.phase)}</td>"
        f"<td>{item.elapsed:.0f} s</td><td>{_OUTCOMES.get(item.step, item.step.value)}</td>"
        f"<td title='{_attr(item.message)}'>{_text(item.message, 300)}</td></tr>"
        for item in items
    )
    return (
        "<div class='mnb-status-scroll' style='max-height:320px;max-width:100%;overflow:auto'>"
        "<table class='mnb-table'><thead><tr><th>pool</th><th>phase</th><th>elapsed</th>"
        f"<th>outcome</th><th>details</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
