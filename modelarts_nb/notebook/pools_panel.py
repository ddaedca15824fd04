"""PoolsPanel: a table of pools to tick, a search, one typed confirmation, live counts.

Why it exists: this is the ``%pools`` panel as a widget — its parts, the models they share, what
is on screen when, closing it, and its static copy. What it does lives in its two bases:
``pools_list.PoolsList`` (the rows, the search, Select all/none, Refresh) and
``pools_batch.PoolsBatch`` (the confirmation, the check, the deletion, the live counts); what
it draws in ``pools_rows`` and ``pools_words``; how it looks in ``theme.POOLS_STYLE`` (colours
from JupyterLab's CSS variables with fallbacks, so light, dark, VS Code and classic all read).

Built to stay readable and quick at class size (500 pools): every model costs a comm message
(~0.5 ms in a kernel), so the parts share their layouts and style models, and each row is one
``Checkbox`` (see ``pools_list``). The panel never calls the API: a ``Review``
(``review.Reviewer``) lists, checks and applies for it.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .display import StaticCopy
from .pools_batch import PoolsBatch
from .pools_words import Review
from .tables import pools_table
from .theme import kernel_gone_html

__all__ = ["PoolsPanel"]

_STATIC_ROWS = 50  # pools in the static copy (text/plain, text/html) of the panel


class PoolsPanel(StaticCopy, PoolsBatch, widgets.VBox):
    """A table of pools with a checkbox each, search, select all/none, refresh, one typed
    confirmation naming what goes, then live counts, Stop and a way back to the list."""

    _redraws = ("_on_progress", "_sync_delete", "_show_busy")

    def __init__(self, reviewer: Review) -> None:
        """``reviewer.listing()`` lists (and filters) the pools, now and on Refresh, with why
        a keep rule protects some; ``check`` reviews a selection; ``apply`` deletes a plan."""
        self.reviewer = reviewer
        self.options = reviewer.options
        self._scope = f"mnb-pp-{secrets.token_hex(4)}"  # this panel's rows, for the search CSS
        self._init_list()
        self._init_batch()
        self._make_models()
        self._make_list_parts()
        self._make_batch_parts()
        super().__init__(layout=self._plain)
        self.add_class("mnb-pools-panel")
        self.add_class("mnb-gone-aware")
        self.add_class(self._scope)
        self._load()
        self.loaded.set()

    # -- the parts ---------------------------------------------------------------------------

    def _make_models(self) -> None:
        """The layouts and style models every part shares (see the module doc)."""
        self._plain = widgets.Layout()
        self._wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        self._auto = widgets.Layout(width="auto")
        self._styles: dict[type, widgets.Widget] = {}

    def _make_list_parts(self) -> None:
        # shown only once the kernel is gone (theme: the gone rules); the exit hook writes here
        self.gone = self._html("mnb-gone-line")
        self.gone.value = kernel_gone_html()
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
        self.toolbar = widgets.HBox([self.search, self.select_all, self.select_none,
                                     self.refresh_button, self.count], layout=self._wrap)

    def _make_batch_parts(self) -> None:
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
        self.confirm_row = widgets.HBox([self.typed, self.delete_button], layout=self._wrap)
        self.progress_row = widgets.HBox([self.progress, self.progress_text, self.stop_button],
                                         layout=self._wrap)

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

    # -- on screen ---------------------------------------------------------------------------

    def _show(self, *children: widgets.Widget) -> None:
        """The panel's parts, after the line that says so once its kernel is gone."""
        self.children = (self.gone, *children)

    def _show_list(self) -> None:
        self._show(self.title, self.toolbar, self.rows, self.confirmation, self.confirm_row,
                   self.hint)

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

    # -- where widgets do not render ---------------------------------------------------------

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
