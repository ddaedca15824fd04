"""Displaying a panel together with a static text/HTML copy of its state.

Where widgets do not render (nbconvert, GitHub, a notebook opened without widget state, a
mismatched ipywidgets frontend), viewers fall back to the ``text/plain``/``text/html`` of the same
output. Panels keep that copy current through a display id when their work finishes.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from .text import one_line

__all__ = ["Acknowledgement", "StaticCopy", "html_text"]

log = logging.getLogger("modelarts_nb")


def html_text(value: object, limit: int = 300) -> str:
    """A server string inside widget HTML: one line, capped, escaped — and no maths. ipywidgets
    typesets descriptions and HTML values with MathJax, and ipywidgets 8 first pairs up every
    ``$`` of a description's source (across tags) as maths: so ``$`` and ``\\`` become
    character references (no ``$`` in the source) each in its own span (no two in one text run
    when MathJax reads the page)."""
    text = str(value)
    flat = text if len(text) <= limit and text.isprintable() else one_line(text, limit)
    escaped = html.escape(flat)
    if "$" in escaped or "\\" in escaped:
        escaped = escaped.replace("$", "<span>&#36;</span>").replace("\\", "<span>&#92;</span>")
    return escaped


def html_plain(value: str) -> str:
    """What an HTML value built with ``html_text`` reads as (tags out, references decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", value))


class StaticCopy:
    """Mixin for a widget: ``_static_copy()`` returns (text, html) describing its state now."""

    model_id: str
    _handle: Any = None
    _displayed_at: int | None = None

    def _static_copy(self) -> tuple[str, str]:
        raise NotImplementedError

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

        self._displayed_at = getattr(get_ipython(), "execution_count", None)
        self._handle = display(self.mimebundle(), raw=True, display_id=True)

    def _ipython_display_(self, **kwargs: Any) -> None:
        from IPython import get_ipython

        count = getattr(get_ipython(), "execution_count", -1)
        if self._displayed_at is not None and count == self._displayed_at:
            return  # already shown in this very cell
        self.show()

    def _update_static_copy(self) -> None:
        if self._handle is None:
            return
        try:
            self._handle.update(self.mimebundle(), raw=True)
        except Exception:  # noqa: BLE001 - a frontend without display updates keeps the widget
            log.debug("modelarts-nb: display update failed", exc_info=True)


class Acknowledgement:
    """A checkbox whose words come from the server (job and pool names): they live in an
    escaped HTML label beside it, never in ``description``, which ipywidgets 7 renders as
    HTML."""

    def __init__(self, css: str) -> None:
        import ipywidgets as widgets  # only views that ask for one import the widget library

        self.box = widgets.Checkbox(value=False, indent=False, layout=widgets.Layout(width="28px"))
        self.label = widgets.HTML()
        self.row = widgets.HBox([self.box, self.label])
        self.row.add_class(css)

    def say(self, text: str) -> None:
        self.label.value = html_text(text, 2000)

    @property
    def text(self) -> str:
        return html_plain(self.label.value)
