"""DeletePanel: stock ipywidgets only (ipywidgets 7.6+ and 8), rendering a DeleteFlow.

The panel holds no rules: buttons call the flow, and every flow change re-renders the widgets
in place (from the watch thread too: setting widget traits is thread-safe, unlike ``with out:``).
Displayed, the panel also carries a plain-text and HTML copy of its state, so a notebook opened
without widget state (nbconvert, GitHub) still shows what was shown — and, where the frontend
supports display updates, the final outcome.
"""

from __future__ import annotations

import logging
from typing import Any

import ipywidgets as widgets

from .display import Acknowledgement, StaticCopy
from .flow import DeleteFlow, Step
from .render import (
    confirm_prompt_html,
    flow_html,
    flow_text,
    header_html,
    impact_html,
    pool_html,
    pool_text,
    tables_html,
)

__all__ = ["DeletePanel"]

log = logging.getLogger("modelarts_nb")


def _button(description: str, style: str, css: str, **kw: Any) -> widgets.Button:
    button = widgets.Button(description=description, button_style=style, **kw)
    button.add_class(css)
    return button


class DeletePanel(StaticCopy, widgets.VBox):
    """Review → type the name → Delete → watch until gone, for one pool."""

    def __init__(self, flow: DeleteFlow, *, region: str | None = None) -> None:
        self.flow = flow
        self.region = region
        self.header = widgets.HTML()
        self.tables = widgets.HTML()
        self.consequences = widgets.HTML()
        self.refusal = widgets.HTML()
        self.impact = widgets.HTML()
        self.impact.add_class("mnb-impact-box")
        self.acknowledgement = Acknowledgement("mnb-ack")
        self.ack = self.acknowledgement.box
        self.typed = widgets.Text(
            placeholder="type the pool's display name or id to confirm",
            layout=widgets.Layout(width="420px"),
        )
        self.typed.add_class("mnb-confirm")
        self.delete_button = _button(
            "Delete pool", "danger", "mnb-delete", disabled=True, icon="trash"
        )
        self.cancel_button = _button("Cancel", "", "mnb-cancel")
        self.refresh_button = _button("Refresh", "info", "mnb-refresh", icon="refresh")
        self.stop_button = _button("Stop", "warning", "mnb-stop", icon="stop")
        self.status = widgets.HTML()
        self.status.add_class("mnb-status-line")
        self.confirm_row = widgets.HBox([self.typed, self.delete_button, self.cancel_button])
        self.watch_row = widgets.HBox([self.refresh_button, self.stop_button])
        self.typed.observe(self._on_typed, names="value")
        self.ack.observe(self._on_typed, names="value")
        self.delete_button.on_click(self._on_delete)
        self.cancel_button.on_click(lambda _: self.flow.cancel())
        self.refresh_button.on_click(self._on_refresh)
        self.stop_button.on_click(lambda _: self.flow.stop())
        super().__init__(layout=widgets.Layout(border="1px solid #ccc", padding="6px"))
        self.add_class("mnb-panel")
        flow.subscribe(self._on_flow)
        self._render()

    # -- handlers ------------------------------------------------------------------------

    def _on_typed(self, _change: dict[str, Any]) -> None:
        self.delete_button.disabled = not self.flow.can_confirm(self.typed.value, self.ack.value)

    def _on_delete(self, _button: widgets.Button) -> None:
        self.delete_button.disabled = True  # first, before anything can go wrong
        self.typed.disabled = True
        if not self.flow.confirm(self.typed.value, acknowledged=self.ack.value):
            self._render()  # wrong name or already started: nothing was sent

    def _on_refresh(self, _button: widgets.Button) -> None:
        self.refresh_button.disabled = True
        try:
            self.flow.refresh()
        finally:
            self.refresh_button.disabled = False

    def _on_flow(self, flow: DeleteFlow) -> None:
        self._render()
        if flow.step.final:
            self._update_static_copy()

    # -- rendering -----------------------------------------------------------------------

    def _render(self) -> None:
        flow, pool = self.flow, self.flow.pool
        endpoint = flow.client.settings.endpoint
        gone = flow.step is Step.DELETED
        self.header.value = header_html(
            pool, region=self.region, endpoint=endpoint, phase="Deleted" if gone else None
        )
        note = "The pool is gone; its resources as last seen before it disappeared:" if gone else ""
        self.tables.value = tables_html(pool, note=note)
        self.status.value = flow_html(flow)
        busy = flow.step.busy
        self.typed.disabled = flow.step is not Step.REVIEW
        self.delete_button.disabled = not flow.can_confirm(self.typed.value, self.ack.value)
        self.cancel_button.disabled = flow.step is not Step.REVIEW
        self.stop_button.disabled = not busy
        self.children = self._children(flow.step)

    def _children(self, step: Step) -> tuple[widgets.Widget, ...]:
        top: tuple[widgets.Widget, ...] = (self.header, self.tables)
        if step is Step.REFUSED:
            self.refusal.value = (
                "<div class='mnb-refused' style='color:#c62828'><b>This pool cannot be deleted "
                f"here.</b> {flow_text(self.flow)}</div>"
            )
            return (*top, self.refusal, self.status)
        flow = self.flow
        self.impact.value = impact_html(flow.impact, flow.impact_pending)
        if step in (Step.REVIEW, Step.CANCELLED):
            self.consequences.value = confirm_prompt_html(flow.pool, flow.impact)
            if not flow.needs_ack:
                return (*top, self.impact, self.consequences, self.confirm_row, self.status)
            assert flow.impact is not None
            self.acknowledgement.say(f"Stop {flow.impact.stops()}")
            self.ack.disabled = step is not Step.REVIEW
            return (*top, self.impact, self.consequences, self.acknowledgement.row,
                    self.confirm_row,
                    self.status)
        return (*top, self.status, self.watch_row)

    def _static_copy(self) -> tuple[str, str]:
        flow = self.flow
        text = f"{flow_text(flow)}\n\n{_last_seen(flow)}{pool_text(flow.pool)}"
        html = flow_html(flow) + pool_html(
            flow.pool,
            region=self.region,
            endpoint=flow.client.settings.endpoint,
            phase="Deleted" if flow.step is Step.DELETED else None,
        )
        return text, html

    def close(self) -> None:
        """Closing the panel stops its watch (never the deletion)."""
        self.flow.stop()
        super().close()


def _last_seen(flow: DeleteFlow) -> str:
    return "As last seen before it disappeared:\n" if flow.step is Step.DELETED else ""
