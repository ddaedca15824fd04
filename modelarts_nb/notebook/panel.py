"""DeletePanel: stock ipywidgets only (ipywidgets 7.6+ and 8), rendering a DeleteFlow.

The panel holds no rules: buttons call the flow, and every flow change re-renders the widgets
in place (from the watch thread too: setting widget traits is thread-safe, unlike ``with out:``).
Displayed, the panel also carries a plain-text and HTML copy of its state, so a notebook opened
without widget state (nbconvert, GitHub) still shows what was shown — and, where the frontend
supports display updates, the final outcome.

Why it exists: it is the one place a person confirms the deletion of one pool by typing its
name; what it shows is ``render``'s, how it looks ``theme``'s.
"""

from __future__ import annotations

import logging
from typing import Any

import ipywidgets as widgets

from ..deletion.flow import DeleteFlow, Step
from ..gateway.text import known_secrets, masked
from .display import Acknowledgement, StaticCopy
from .render import (
    confirm_prompt_html,
    details_html,
    flow_html,
    flow_text,
    header_html,
    impact_html,
    pool_html,
    pool_text,
    refusal_html,
    stale_phase,
    tables_html,
)
from .theme import ACK_WORDS, PANEL_STYLE, html_text, kernel_gone_html

__all__ = ["DeletePanel"]

log = logging.getLogger("modelarts_nb")


def _button(description: str, style: str, css: str, **kw: Any) -> widgets.Button:
    """A button whose label is never cut ("D…"): as wide as its text, not shrunk by its row."""
    layout = widgets.Layout(width="auto", min_width="max-content", flex="0 0 auto")
    button = widgets.Button(description=description, button_style=style, layout=layout, **kw)
    button.add_class(css)
    return button


def _row(children: list[widgets.Widget]) -> widgets.HBox:
    """A row that wraps at narrow widths (a cell ~450 px wide) instead of cutting labels."""
    row = widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap", width="100%"))
    row.add_class("mnb-row")
    return row


class DeletePanel(StaticCopy, widgets.VBox):
    """Review → type the name (Enter or Delete) → watch until gone, for one pool; after the
    outcome, only what still means something stays (the panel then reads as a record)."""

    def __init__(self, flow: DeleteFlow, *, region: str | None = None) -> None:
        self.flow = flow
        flow.via = "panel"  # what its receipt says sent the DELETE (receipts.py)
        self.region = region
        self.header = widgets.HTML()
        self.tables = widgets.HTML()
        self.details = widgets.HTML()  # folded: every documented field (render.details_html)
        self.details.add_class("mnb-details-box")
        self.consequences = widgets.HTML()
        self.refusal = widgets.HTML()
        self.impact = widgets.HTML()
        self.impact.add_class("mnb-impact-box")
        self.acknowledgement = Acknowledgement("mnb-ack")
        self.ack = self.acknowledgement.box
        self.typed = widgets.Text(
            placeholder="type the pool's display name or id to confirm",
            layout=widgets.Layout(width="420px", max_width="100%"),
        )
        self.typed.add_class("mnb-confirm")
        self.delete_button = _button(
            "Delete pool", "danger", "mnb-delete", disabled=True, icon="trash"
        )
        self.cancel_button = _button("Cancel", "", "mnb-cancel")
        self.retry_button = _button("Retry delete", "danger", "mnb-retry", icon="repeat")
        self.refresh_button = _button("Refresh", "info", "mnb-refresh", icon="refresh")
        self.stop_button = _button("Stop", "warning", "mnb-stop", icon="stop")
        self.missing = widgets.HTML()  # what still stands between the person and Delete
        self.missing.add_class("mnb-missing")
        self.status = widgets.HTML()
        self.status.add_class("mnb-status-line")
        self.confirm_row = _row([self.typed, self.delete_button, self.cancel_button])
        self.watch_row = _row([self.refresh_button, self.stop_button])
        self.typed.observe(self._on_typed, names="value")
        self.typed.on_msg(self._on_text_msg)  # Enter: ipywidgets 7 and 8 both send "submit"
        self.ack.observe(self._on_typed, names="value")
        self.delete_button.on_click(self._on_delete)
        self.cancel_button.on_click(lambda _: self.flow.cancel())
        self.retry_button.on_click(self._on_retry)
        self.refresh_button.on_click(self._on_refresh)
        self.stop_button.on_click(lambda _: self.flow.stop())
        self._copied: tuple[Step, tuple[str, str] | None] | None = None
        super().__init__(layout=widgets.Layout(padding="6px"))
        self.add_class("mnb-panel")
        self.add_class("mnb-gone-aware")  # theme: the gone rules of PANEL_STYLE
        flow.subscribe(self._on_flow)
        self._render()

    # -- handlers ------------------------------------------------------------------------

    def _on_typed(self, _change: dict[str, Any]) -> None:
        self.delete_button.disabled = not self.flow.can_confirm(self.typed.value, self.ack.value)
        self.missing.value = self._safe(self._missing())

    def _on_text_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Enter in the box confirms when everything is done, else says what is missing."""
        if isinstance(content, dict) and content.get("event") == "submit":
            if self.flow.can_confirm(self.typed.value, self.ack.value):
                self._on_delete(self.delete_button)
            elif self.flow.step is Step.REVIEW:
                self.missing.value = self._safe(self._missing(enter=True))

    def _missing(self, enter: bool = False) -> str:
        """Every step still missing before Delete, in one line (HTML)."""
        flow = self.flow
        if flow.step is not Step.REVIEW:
            return ""
        if flow.impact_pending:
            return "Checking what the pool runs… Delete is enabled once that is known."
        steps = []
        if not flow.can_confirm(self.typed.value, True):  # the name, the acknowledgement aside
            name = flow.pool.display_name or flow.pool.id
            steps.append(f"type <code>{html_text(name, 200)}</code> (or the pool id) in the box")
        if flow.needs_ack and not self.ack.value:
            steps.append(f"tick “{ACK_WORDS} …” above")
        if not steps:
            return "Ready: press Enter or click <b>Delete pool</b>."
        said = "Enter: nothing was sent. " if enter else ""
        return f"<span class='mnb-why'>{said}</span>To enable Delete, " + " and ".join(
            steps) + "."

    def _on_delete(self, _button: widgets.Button) -> None:
        self.delete_button.disabled = True  # first, before anything can go wrong
        self.typed.disabled = True
        if not self.flow.confirm(self.typed.value, acknowledged=self.ack.value):
            self._render()  # wrong name or already started: nothing was sent

    def _on_retry(self, _button: widgets.Button) -> None:
        self.retry_button.disabled = True  # a double click is one intent
        if not self.flow.retry():
            self._render()

    def _on_refresh(self, _button: widgets.Button) -> None:
        """A check in the background: the kernel stays free, and Stop or closing ends it."""
        self.refresh_button.disabled = True
        self.flow.refresh(background=True)

    def _on_flow(self, flow: DeleteFlow) -> None:
        """Redraw; the saved copies (and the note a reopened notebook shows) follow each new
        step — so a kernel that dies mid-watch leaves "WATCHING", not "REVIEW" — and each new
        outcome, never each poll."""
        self._render()
        if flow.step.final and flow.running:
            return  # the outcome is copied once the run has settled
        copy = self._static_copy() if flow.step.final else None
        if (flow.step, copy) != self._copied:
            self._copied = (flow.step, copy)
            self._update_static_copy()

    # -- rendering -----------------------------------------------------------------------

    def _render(self) -> None:
        with self._redraw_lock:
            if not self._kernel_gone:  # a redraw that waited for the kernel-exit hook
                self._draw()

    def _draw(self) -> None:
        flow, pool = self.flow, self.flow.pool
        endpoint = flow.client.settings.endpoint
        gone = flow.step is Step.DELETED
        nodes = None if flow.impact is None or flow.impact.nodes is None or gone else len(
            flow.impact.nodes)
        self.header.value = self._safe(
            PANEL_STYLE
            + header_html(pool, region=self.region, endpoint=endpoint,
                          phase="Deleted" if gone else None, stale=stale_phase(flow),
                          nodes=nodes)
            + kernel_gone_html()
        )
        note = "The pool is gone; its resources as last seen before it disappeared:" if gone else ""
        self.tables.value = self._safe(tables_html(pool, note=note))
        self.details.value = self._safe(details_html(pool))
        self.status.value = self._safe(flow_html(flow))
        busy = flow.step.busy
        self.typed.disabled = flow.step is not Step.REVIEW
        self.delete_button.disabled = not flow.can_confirm(self.typed.value, self.ack.value)
        self.missing.value = self._safe(self._missing())
        self.cancel_button.disabled = flow.step is not Step.REVIEW
        self.stop_button.disabled = not (busy or flow.refreshing)
        self.refresh_button.disabled = flow.refreshing
        self.retry_button.disabled = not flow.can_retry
        self.children = self._children(flow.step)

    def _buttons(self, step: Step) -> list[widgets.Widget]:
        """The buttons that still do something at this step (none once it is all over)."""
        if step.busy:
            return [self.refresh_button, self.stop_button]
        if step is Step.FAILED:
            return ([self.retry_button] if self.flow.can_retry else []) + (
                [] if self.flow.vanished else [self.refresh_button])
        if step in (Step.STOPPED, Step.ACCEPTED):
            return [self.refresh_button]  # the deletion goes on: a check still tells
        return []  # deleted, cancelled, refused: a record

    def _children(self, step: Step) -> tuple[widgets.Widget, ...]:
        top: tuple[widgets.Widget, ...] = (self.header, self.tables, self.details)
        flow = self.flow
        if step is Step.REFUSED:
            self.refusal.value = self._safe(refusal_html(flow))
            return (*top, self.refusal)
        if step is Step.REVIEW:
            self.impact.value = self._safe(impact_html(flow.impact, flow.impact_pending))
            self.consequences.value = self._safe(confirm_prompt_html(flow.pool, flow.impact))
            if not flow.needs_ack:
                return (*top, self.impact, self.consequences, self.confirm_row, self.missing,
                        self.status)
            assert flow.impact is not None
            self.acknowledgement.say(self._safe(f"{ACK_WORDS} {flow.stops}"))
            self.ack.disabled = False
            return (*top, self.impact, self.consequences, self.acknowledgement.row,
                    self.confirm_row, self.missing, self.status)
        buttons = self._buttons(step)
        if self.flow.refreshing and self.stop_button not in buttons:
            buttons.append(self.stop_button)  # a Refresh under way can be stopped
        if list(self.watch_row.children) != buttons:
            self.watch_row.children = tuple(buttons)
        return (*top, self.status, self.watch_row) if buttons else (*top, self.status)

    def _safe(self, text: str) -> str:
        """What a view shows never holds a credential, even one a server echoed back."""
        current = self.flow.client.settings.credentials.secrets()
        return masked(text, (*known_secrets(), *current))  # renewed keys: older ones too

    def _static_copy(self) -> tuple[str, str]:
        flow = self.flow
        text = f"{flow_text(flow)}\n\n{_last_seen(flow)}{pool_text(flow.pool)}"
        html = flow_html(flow) + pool_html(
            flow.pool,
            region=self.region,
            endpoint=flow.client.settings.endpoint,
            phase="Deleted" if flow.step is Step.DELETED else None,
            warn=flow.step is Step.REVIEW,
        )
        return self._safe(text), self._safe(html)

    def close(self) -> None:
        """Closing the panel stops its watch (never the deletion)."""
        self.flow.stop()
        super().close()


def _last_seen(flow: DeleteFlow) -> str:
    return "As last seen before it disappeared:\n" if flow.step is Step.DELETED else ""
