"""Displaying a panel together with a static text/HTML copy of its state.

Where widgets do not render (nbconvert, GitHub, a notebook opened without widget state, a
mismatched ipywidgets frontend), viewers fall back to the ``text/plain``/``text/html`` of the same
output. Panels keep that copy current through a display id when their work finishes.

JupyterLab, Notebook 7 and VS Code always pick the widget view, so a notebook reopened without
its kernel and without saved widget state shows "Error displaying widget: model not found" and
never that copy. So a panel is followed by a one-line *note* output of its own: a ``<style>``
hides it while the panel's view is on the page (``body:has(.mnb-live-<model id>)``), and it
shows when the view cannot be drawn: what the cell showed last and where the receipts are.

Why it exists: both panels are shown, copied and noted the same way (``StaticCopy``), turn
inert the same way when their kernel exits (``_on_kernel_exit``), and ask for an
acknowledgement with the same checkbox (``Acknowledgement``); the words and the look they use
for it are ``theme``'s.
"""

from __future__ import annotations

import atexit
import html
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..gateway.text import one_line
from .theme import NOTE_HELP, html_plain, html_text, kernel_stopped_html

__all__ = ["Acknowledgement", "StaticCopy"]

log = logging.getLogger("modelarts_nb")


class StaticCopy:
    """Mixin for a widget: ``_static_copy()`` returns (text, html) describing its state now."""

    model_id: str
    _shown_in: tuple[tuple[Any, Any], ...] = ()  # (panel, note) display handles, one per cell
    _displayed_at: int | None = None
    _kernel_gone = False
    _redraws: tuple[str, ...] = ("_render",)  # what may turn controls live again
    # held by a redraw from another thread while it sets controls, and by the kernel-exit hook
    # while it disables them: a redraw already under way cannot turn them live again after it
    _redraw_lock = threading.RLock()

    def _static_copy(self) -> tuple[str, str]:
        raise NotImplementedError

    def _note_line(self) -> str:
        """The one line the note repeats: the first line of the text copy, as last seen."""
        return "Last seen by this cell: " + self._static_copy()[0].split("\n", 1)[0]

    def note_bundle(self) -> dict[str, Any]:
        """The note shown only where the widget view is not: the last state this cell saw."""
        line = one_line(self._note_line(), 300)
        live, css = f"mnb-live-{self.model_id}", f"mnb-note-{self.model_id}"
        return {
            "text/plain": f"{line}\n{NOTE_HELP}",
            "text/html": (
                f"<style>body:has(.{live}) .{css}{{display:none}}</style>"
                f"<div class='mnb-note {css}' style='color:var(--jp-ui-font-color1,inherit)'>"
                f"<b>{html_text(line, 300)}</b><br>{html.escape(NOTE_HELP)}</div>"
            ),
        }

    def mimebundle(self) -> dict[str, Any]:
        """The widget view plus the static copy."""
        text, html = self._static_copy()
        view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
        return {
            "application/vnd.jupyter.widget-view+json": view,
            "text/plain": text,
            "text/html": html,
        }

    def show(self) -> None:
        """Display now (a magic does this before a foreground run); at most once per cell."""
        from IPython import get_ipython
        from IPython.display import display

        from .interrupts import watch

        watch()  # a kernel interrupt between cells stops what this panel reads or waits for
        self._displayed_at = getattr(get_ipython(), "execution_count", None)
        self.add_class(f"mnb-live-{self.model_id}")  # type: ignore[attr-defined]
        _shown.add(self)
        handles = (display(self.mimebundle(), raw=True, display_id=True),
                   display(self.note_bundle(), raw=True, display_id=True))
        self._shown_in = (*self._shown_in, handles)

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython import get_ipython

        count = getattr(get_ipython(), "execution_count", -1)
        if self._displayed_at is not None and count == self._displayed_at:
            return  # already shown in this very cell
        self.show()

    def _update_static_copy(self) -> None:
        """Rewrite every output that shows this panel (a panel shown again in a later cell has
        one per cell). The frontends route a display update to the last run of each cell that
        showed it, also after a click when the cell has long finished, and save it."""
        if not self._shown_in:
            return
        bundle, note = self.mimebundle(), self.note_bundle()
        try:
            for panel, note_handle in self._shown_in:
                panel.update(bundle, raw=True)
                note_handle.update(note, raw=True)
        except Exception:  # noqa: BLE001 - a frontend without display updates keeps the widget
            log.debug("modelarts-nb: display update failed", exc_info=True)

    def _kernel_exiting(self) -> None:
        """Disable every control and say why, in the first HTML of the panel (its header):
        the views outlive a restarted kernel, and buttons that look clickable but do nothing
        would lie. No new widget: the frontend drops models opened while the kernel goes."""
        import ipywidgets as widgets

        with self._redraw_lock:
            self._inert(widgets)

    def _inert(self, widgets: Any) -> None:
        if self._kernel_gone:
            return  # said once, however many times the hook runs
        self._kernel_gone = True
        # nothing may redraw live controls afterwards (an impact check answering late, a run
        # ending): the panel's redraws become no-ops for this instance
        for name in self._redraws:
            if callable(getattr(self, name, None)):
                setattr(self, name, _nothing)
        stack: list[Any] = [self]
        first_html = None
        while stack:
            widget = stack.pop(0)
            stack.extend(getattr(widget, "children", ()))
            if isinstance(widget, widgets.HTML) and first_html is None:
                first_html = widget
            elif hasattr(widget, "disabled") and widget is not self:
                widget.disabled = True
        # and the controls a run ending this moment may still put in the tree (a %pools
        # panel's "Back to the list": its thread may be past the redraw's lookup)
        for value in vars(self).values():
            if isinstance(value, widgets.DOMWidget) and hasattr(value, "disabled"):
                value.disabled = True
        if first_html is not None:
            first_html.value = kernel_stopped_html() + first_html.value


def _nothing(*_args: object, **_kwargs: object) -> None:
    """A redraw of a panel whose kernel is going."""


_shown: weakref.WeakSet[StaticCopy] = weakref.WeakSet()


def _on_kernel_exit() -> None:
    """Runs when the kernel shuts down or restarts, while its IOPub thread still sends: every
    read and wait of ours ends (no request after), then every panel still displayed turns
    inert. Jupyter kills a kernel that has not exited 5 s after it was asked to, so nothing
    here may wait for a request."""
    from ..deletion.engine import stop_all
    from ..gateway.api import stop_every_client
    from ..gateway.stops import stop_everything

    stop_everything()
    stop_every_client()  # every client's waits end and its connections close
    panels = [panel for panel in list(_shown) if getattr(panel, "comm", None) is not None]
    if not panels:
        return
    stop_all(join_timeout=0.5)  # no watch may redraw live buttons after they are disabled
    for panel in panels:
        try:
            panel._kernel_exiting()
        except Exception:  # noqa: BLE001 - the kernel is going away; never block its exit
            log.debug("modelarts-nb: could not mark a panel inert", exc_info=True)
    time.sleep(0.2)  # let the IOPub thread send the updates before the process ends


def _at_exit_before_threads_join(hook: Callable[[], None]) -> None:
    """Python joins non-daemon threads before it runs ``atexit`` handlers, and
    ``concurrent.futures`` joins its workers there too: a read in back-off in a worker kept
    the kernel from reaching our hook until Jupyter killed it. ``threading._register_atexit``
    (3.9+) runs before those joins, in reverse order of registration: registered after
    ``concurrent.futures.thread``'s, ours runs first. ``atexit`` stays as the fallback."""
    import concurrent.futures.thread  # noqa: F401 - its exit hook must be registered before ours

    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(hook)
    except RuntimeError:  # the interpreter is already shutting down
        pass
    atexit.register(hook)  # idempotent: a panel turns inert once; a second stop is a no-op


_at_exit_before_threads_join(_on_kernel_exit)


class Acknowledgement:
    """A checkbox whose whole sentence toggles it (a click on the words, not only the square).
    Its words come from the server (job and pool names), so its description is escaped HTML
    (``html_text``): ipywidgets 7 renders a description as HTML, and ipywidgets 8 does with
    ``description_allow_html``, so both show the same text and neither runs markup."""

    def __init__(self, css: str) -> None:
        import ipywidgets as widgets  # only views that ask for one import the widget library

        html_ok = "description_allow_html" in widgets.Checkbox.class_trait_names()
        self.box = widgets.Checkbox(value=False, indent=False,
                                    layout=widgets.Layout(width="auto", max_width="100%"),
                                    **({"description_allow_html": True} if html_ok else {}))
        self.box.add_class("mnb-ack-box")
        self.row = widgets.HBox([self.box])
        self.row.add_class(css)

    def say(self, text: str) -> None:
        self.box.description = html_text(text, 2000)

    @property
    def text(self) -> str:
        return html_plain(self.box.description)
