"""PoolsPanel: browse pools, tick the ones to delete, confirm once with the count, watch them go.

Stock ipywidgets only. Prepaid, frozen and already-deleting pools get no checkbox tick (disabled,
with the reason). The confirmation is the sentence ``delete N pools`` for exactly the number
ticked, so that a changed selection can never ride on an earlier confirmation.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets

from . import rules
from .api import PoolsApi
from .display import Acknowledgement, StaticCopy
from .engine import Deletion, Target
from .impact import Impact, read_impact
from .models import Pool
from .render import phase_badge
from .tables import age_text

__all__ = ["PoolsPanel", "confirm_phrase"]

_RENDER_EVERY = 0.25  # seconds: a 100-pool batch must not flood the frontend


def confirm_phrase(count: int) -> str:
    return f"delete {count} pool" + ("" if count == 1 else "s")


def _row_html(pool: Pool, reason: str | None, work: str = "") -> str:
    """One pool's line; ``work``: what deleting it stops, once read."""
    flavors = ", ".join(f"{line.flavor}×{line.count}" for line in pool.spec_resources)
    why = f" <span style='color:#c62828'>— {html.escape(reason)}</span>" if reason else ""
    why += f" · <b class='mnb-work'>runs {html.escape(work)}</b>" if work else ""
    return (
        f"<span style='display:inline-block;width:150px'><b>{html.escape(pool.display_name or '')}"
        f"</b></span> {phase_badge(pool.phase)} <code>{html.escape(pool.id)}</code> · "
        f"{html.escape(pool.type or '')} · {html.escape(flavors)} · "
        f"{html.escape(pool.billing_label)} · "
        f"age {age_text(datetime.now(timezone.utc), pool.created)}{why}"
    )


class PoolsPanel(StaticCopy, widgets.VBox):
    """A checkbox per pool, select all/none, refresh, one typed confirmation, live progress."""

    def __init__(
        self,
        client: PoolsApi,
        lister: Callable[[], list[Pool]],
        *,
        concurrency: int = 8,
        timeout: float = 3600.0,
        interval: float | None = None,
    ) -> None:
        self.client = client
        self.lister = lister
        self.options = {"concurrency": concurrency, "timeout": timeout, "interval": interval}
        self.run: Deletion | None = None
        self._rendered_at = 0.0
        self.title = widgets.HTML()
        self.select_all = self._button("Select all", "", "mnb-all", self._on_all)
        self.select_none = self._button("Select none", "", "mnb-none", self._on_none)
        self.refresh_button = self._button("Refresh", "info", "mnb-refresh", self._on_refresh)
        self.rows = widgets.VBox(layout=widgets.Layout(max_height="420px", overflow="auto"))
        self.typed = widgets.Text(layout=widgets.Layout(width="260px"))
        self.typed.add_class("mnb-bulk-confirm")
        self.typed.observe(lambda _change: self._sync_delete(), names="value")
        self.delete_button = self._button(
            "Delete selected", "danger", "mnb-bulk-delete", self._on_delete
        )
        self.hint = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="done")
        self.progress.add_class("mnb-progress")
        self.stop_button = self._button("Stop", "warning", "mnb-stop", self._on_stop)
        self.status = widgets.HTML()
        self.status.add_class("mnb-bulk-status")
        self.checks: dict[str, widgets.Checkbox] = {}
        self.lines: dict[str, widgets.HTML] = {}  # each pool's row text
        self.impacts: dict[str, Impact] = {}  # what the selected pools carry, once read
        self.checking = False
        self._start_lock = threading.Lock()
        self.acknowledgement = Acknowledgement("mnb-bulk-ack")
        self.busy_ack = self.acknowledgement.box
        self.busy_ack.observe(lambda _change: self._sync_delete(), names="value")
        self.toolbar = widgets.HBox([self.select_all, self.select_none, self.refresh_button])
        self.confirm_row = widgets.HBox([self.typed, self.delete_button])
        super().__init__(layout=widgets.Layout(border="1px solid #ccc", padding="6px"))
        self.add_class("mnb-pools-panel")
        self._load(lister())

    @staticmethod
    def _button(text: str, style: str, css: str, handler: Callable[[Any], Any]) -> widgets.Button:
        button = widgets.Button(description=text, button_style=style)
        button.add_class(css)
        button.on_click(handler)
        return button

    # -- selection -------------------------------------------------------------------------

    def _load(self, pools: list[Pool]) -> None:
        for row in self.rows.children:  # a refresh must not leak the old rows' widget models
            for child in row.children:
                child.close()
            row.close()
        self.pools = pools
        self.checks, self.lines, self.impacts, rows = {}, {}, {}, []  # a refresh reads anew
        for pool in pools:
            reason = rules.exclusion(pool)
            check = widgets.Checkbox(
                value=False,
                indent=False,
                disabled=bool(reason),
                layout=widgets.Layout(width="28px"),
            )
            check.add_class("mnb-check")
            check.observe(self._on_selection, names="value")
            self.checks[pool.id] = check
            self.lines[pool.id] = widgets.HTML(_row_html(pool, reason))
            rows.append(widgets.HBox([check, self.lines[pool.id]]))
        self.rows.children = rows
        self.title.value = (
            f"<b>{len(pools)} pools</b> in project <code>{self.client.settings.project_id}"
            "</code>. Tick pools, then type the sentence shown to delete them."
        )
        self._show(self.title, self.toolbar, self.rows, self.confirm_row, self.hint)
        self._sync_delete()

    def selected(self) -> list[str]:
        return [pid for pid, check in self.checks.items() if check.value and not check.disabled]

    def busy(self) -> dict[str, str]:
        """Selected pools whose deletion stops running work or sub-pools: id → what."""
        return {pid: self.impacts[pid].stops() for pid in self.selected()
                if pid in self.impacts and self.impacts[pid].needs_force}

    def _on_selection(self, _change: dict[str, Any]) -> None:
        self.busy_ack.value = False  # a changed selection is acknowledged anew
        self._sync_delete()

    def _sync_delete(self) -> None:
        count = len(self.selected())
        phrase = confirm_phrase(count)
        self.typed.placeholder = f"type: {phrase}" if count else "tick at least one pool"
        busy = self.busy()
        self.delete_button.disabled = (
            self.run is not None or not count or (self.typed.value != phrase) or self.checking
            or bool(busy and not self.busy_ack.value)
        )
        self._show_busy(busy)
        self.hint.value = (
            f"<span style='color:#b71c1c'>Deleting stops every notebook, training job and "
            f"inference service on the {count} selected pool(s); pools and disks cannot be "
            f"restored.</span> Type <code>{phrase}</code> to enable the button."
            if count
            else ""
        )

    def _on_all(self, _button: widgets.Button) -> None:
        for check in self.checks.values():
            check.value = not check.disabled

    def _on_none(self, _button: widgets.Button) -> None:
        for check in self.checks.values():
            check.value = False

    def _on_refresh(self, _button: widgets.Button) -> None:
        if self.run is None:
            self._load(self.lister())
            self.typed.value = ""

    # -- deletion --------------------------------------------------------------------------

    def _on_delete(self, _button: widgets.Button) -> None:
        self.delete_button.disabled = True  # first
        ids = self.selected()
        if self.checking:  # a second click while the pools are being checked
            return
        if self.run is not None or self.typed.value != confirm_phrase(len(ids)) or not ids:
            self._sync_delete()
            return
        unread = [pid for pid in ids if pid not in self.impacts]
        if unread:  # first read what they carry; the user then confirms what stops
            self.checking = True
            self.hint.value = f"Checking what the {len(unread)} selected pool(s) run…"
            threading.Thread(target=self._check, args=(unread,), daemon=True,
                             name="modelarts-nb-bulk-check").start()
            return
        if self.busy() and not self.busy_ack.value:
            self._sync_delete()
            return
        self.start(ids, background=True)

    def _check(self, ids: list[str]) -> None:
        """Read what the selected pools carry, 8 at a time; refuse those with yearly/monthly
        nodes (unticked, with the reason); then ask again."""
        listed = {pool.id: pool for pool in self.pools}
        try:
            with ThreadPoolExecutor(8, thread_name_prefix="modelarts-nb-check") as ex:
                found = dict(zip(ids, ex.map(lambda pid: read_impact(self.client, listed[pid]),
                                             ids)))
        except Exception as exc:  # noqa: BLE001 - said in the panel; nothing is sent
            self.checking = False
            self._sync_delete()
            self.hint.value = html.escape(f"Could not check the selected pools "
                                          f"({type(exc).__name__}); nothing was deleted.")
            return
        self.checking = False
        self.impacts.update(found)
        for pid, impact in found.items():
            prepaid = rules.node_refusal(listed[pid], [n.name for n in
                                                       impact.prepaid_nodes(listed[pid])])
            if prepaid:
                self.checks[pid].value, self.checks[pid].disabled = False, True
            self.lines[pid].value = _row_html(listed[pid], prepaid and "yearly/monthly nodes: "
                                              "unsubscribe them first", impact.stops())
        self._sync_delete()
        if not self.busy() and not self.delete_button.disabled:
            self.start(self.selected(), background=True)

    def _show_busy(self, busy: dict[str, str]) -> None:
        names = {pool.id: pool.display_name or pool.id for pool in self.pools}
        shown = [f"{names[pid]} ({what})" for pid, what in list(busy.items())[:10]]
        more = f" and {len(busy) - 10} more" if len(busy) > 10 else ""
        self.acknowledgement.say(f"Also stop the work on {len(busy)} pool(s): "
                                 + "; ".join(shown) + more)
        row = [self.typed, self.delete_button]
        self.confirm_row.children = (self.acknowledgement.row, *row) if busy else tuple(row)

    def start(self, ids: list[str], *, background: bool) -> Deletion:
        """Delete ``ids`` (the typed confirmation, or ``--yes``, already given); once: a second
        call (a click racing the end of the checks) returns the run already started."""
        with self._start_lock:
            if self.run is not None:
                return self.run
            listed = {pool.id: pool for pool in self.pools}
            run = Deletion(self.client, [Target(pid, listed.get(pid)) for pid in ids],
                           **self.options)  # type: ignore[arg-type]
            for check in self.checks.values():
                check.disabled = True
            self.typed.disabled = True
            self.progress.max = len(ids)
            self._show(self.title, self.progress, self.stop_button, self.status)
            run.subscribe(self._on_progress)
            run.run(send=True, wait=True, background=background)
            self.run = run  # once running: whoever sees it may join it
            return run

    def _on_stop(self, _button: widgets.Button) -> None:
        if self.run is not None:
            self.run.stop()

    def _show(self, *children: widgets.Widget) -> None:
        self.children = children

    def _on_progress(self, run: Deletion) -> None:
        now = time.monotonic()
        if not run.finished.is_set() and now - self._rendered_at < _RENDER_EVERY:
            return
        self._rendered_at = now
        done = sum(n for step, n in run.counts().items() if step.final)
        self.progress.value = min(done, self.progress.max)
        self.stop_button.disabled = run.finished.is_set()
        if run.finished.is_set():
            self._update_static_copy()
        self.status.value = _status_table(run.targets) + (
            f"<pre class='mnb-summary'>{html.escape(run.summary())}</pre>"
            if run.finished.is_set()
            else ""
        )

    def close(self) -> None:
        if self.run is not None:
            self.run.stop()
        super().close()

    def _static_copy(self) -> tuple[str, str]:
        from .tables import pools_table

        table = pools_table(self.pools)
        text = table.to_string(index=False) if len(table) else "(no pools)"
        html_table = table.to_html(index=False, border=0)
        if self.run is not None:
            text += "\n\n" + self.run.summary()
            html_table += f"<pre>{html.escape(self.run.summary())}</pre>"
        return text, html_table


def _status_table(items: list[Target]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(item.label)}</td><td>{phase_badge(item.phase)}</td>"
        f"<td>{item.elapsed:.0f} s</td><td>{item.step.value}</td>"
        f"<td>{html.escape(item.message)}</td></tr>"
        for item in items
    )
    return (
        "<div style='max-height:360px;overflow:auto'><table class='mnb-table'><tr><th>pool</th>"
        f"<th>phase</th><th>elapsed</th><th>outcome</th><th>details</th></tr>{rows}</table></div>"
    )
