"""The ``%pools`` table as HTML: a pool's row, the column headers, twin names, what the search
looks in, and a running batch's table, pool by pool.

Why it exists: each row is the whole description of one ``Checkbox`` (see ``pools_panel``),
a string built 500 times at class size, so it is built here, fast, with every server string
escaped and on one line (long ones cut with ``…``, whole in the cell's tooltip). These are
functions of a pool and nothing else: the widgets only set what they return. Column widths,
colours and the phase badge are the theme's (``theme.COLUMNS``, ``theme.POOLS_STYLE``,
``theme.phase_badge``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..deletion.steps import Step
from ..gateway.models import Pool
from ..gateway.text import one_line
from .tables import age_text
from .theme import COLUMNS, html_text, phase_badge

__all__ = ["haystack", "head_html", "row_html", "status_table", "tooltip", "twins_css"]

_TAIL = 4  # characters of the id at least, after a display name that several pools share
# The outcome column in words: a pool whose turn has not come is "waiting", not "review".
_OUTCOMES = {Step.REVIEW: "waiting"}


def _flat(value: object, limit: int) -> str:
    """``text.one_line``, with a fast path for the usual printable, short string (500 rows)."""
    text = str(value)
    return text if len(text) <= limit and text.isprintable() else one_line(text, limit)


def tooltip(value: object) -> str:
    """A ``title`` attribute's value: escaped, and no ``$`` in the source either (see
    ``theme.html_text``)."""
    escaped = html.escape(_flat(value, 500), quote=True)
    return escaped.replace("$", "&#36;").replace("\\", "&#92;")


def _cell(column: str, content: str, title: str = "") -> str:
    tip = f' title="{tooltip(title)}"' if title else ""
    return f'<span class="mnb-c mnb-c-{column}"{tip}>{content}</span>'


def _flavors(pool: Pool) -> str:
    return ", ".join(f"{line.flavor}×{'?' if line.count is None else line.count}"
                     for line in pool.spec_resources)


def _note(note: str, work: str) -> str:
    """The note cell: why the pool cannot be ticked (red), what deleting it stops (orange)."""
    notes = []
    if note:
        notes.append(f'<span class="mnb-why">{html_text(note, 160)}</span>')
    if work:
        notes.append(f'<span class="mnb-work">runs {html_text(work, 160)}</span>')
    title = "; ".join(filter(None, [note, work and f"runs {work}"]))
    return _cell("note", " · ".join(notes), title)


def _tags(pool: Pool) -> str:
    if pool.tags is None:
        return _cell("tags", "<i>not read</i>", _tags_unread(pool))
    tags = pool.tag_text()
    return _cell("tags", html_text(tags, 120), tags)


def _tags_unread(pool: Pool) -> str:
    """Why a row says its tags were "not read" (never a bare "?")."""
    why = ("its tag annotation could not be read" if pool.annotated else
           "the listing carries no tag annotation for this pool")
    return (f"Tags not read: {why}. Filters on tags (--tag, --keep-tag) ask the tag API "
            "instead, and never take unread tags as none.")


def row_html(pool: Pool, note: str = "", work: str = "", now: datetime | None = None) -> str:
    """One pool's row. ``note``: why it cannot be ticked; ``work``: what deleting it stops,
    once read."""
    now = now or datetime.now(timezone.utc)
    name = pool.display_name or ""
    nodes = f"{pool.node_count} · {_flavors(pool)}" if pool.spec_resources else str(
        pool.node_count)
    cells = [
        _cell("name", html_text(name, 80), name if len(name) > 16 else ""),
        _cell("phase", phase_badge(pool.phase), pool.phase or ""),
        _note(note, work),
        _tags(pool),
        _cell("age", html.escape(age_text(now, pool.created))),
        _cell("nodes", html_text(nodes, 120), nodes if len(nodes) > 18 else ""),
        _cell("billing", html_text(pool.billing_label, 40)),
        _cell("type", html_text(pool.type or "", 20)),
        _cell("id", html_text(pool.id, 80), pool.id),
    ]
    return f'<span class="mnb-row" title="{tooltip(pool.label)}">{"".join(cells)}</span>'


def head_html() -> str:
    """The column headers, as wide as the cells under them."""
    return '<span class="mnb-row">' + "".join(
        f'<span class="mnb-c mnb-c-{name}">{header}</span>' for name, header, _ in COLUMNS
    ) + "</span>"


def twins_css(scope: str, pools: Sequence[Pool]) -> str:
    """A display name several listed pools share (two ``team-shared``) gets the end of each
    one's id beside it in its row (``team-shared · 4dba``), as short as still tells them
    apart: the rows differ at a glance, not only in the id column far to the right. Drawn by
    the panel's stylesheet (``::after`` on row ``mnb-r<index>`` of ``scope``), so the rows
    themselves stay as sent; only letters and digits of the id reach the CSS."""
    groups: dict[str, list[int]] = {}
    for index, pool in enumerate(pools):
        if pool.display_name:
            groups.setdefault(pool.display_name, []).append(index)
    rules = [rule for indexes in groups.values() if len(indexes) > 1
             for rule in _twin_rules(scope, pools, indexes)]
    return f"<style>{''.join(rules)}</style>" if rules else ""


def _twin_rules(scope: str, pools: Sequence[Pool], indexes: list[int]) -> list[str]:
    """The ``::after`` rules of one group of twins: the shortest id tails that differ."""
    ids = {i: "".join(c for c in pools[i].id if c.isascii() and c.isalnum()) for i in indexes}
    size = _TAIL
    while size < max(map(len, ids.values())) and len(
            {ident[-size:] for ident in ids.values()}) < len(ids):
        size += 1
    return [f'.{scope} .mnb-r{i} .mnb-c-name::after{{content:" · {ids[i][-size:]}";'
            "font-weight:400}" for i in indexes if ids[i]]


def haystack(pool: Pool) -> str:
    """What the search looks in: names, id, tags, phase, type and billing, lower case."""
    return "\n".join([pool.display_name or "", pool.id, pool.tag_text(), pool.phase or "unknown",
                      pool.type or "", pool.billing_label]).casefold()


def status_table(items: list[Any]) -> str:
    """The batch, pool by pool (``engine.Target``s), in a box that scrolls both ways inside the
    panel."""
    rows = "".join(
        f"<tr><td title='{tooltip(item.label)}'>{html_text(item.label, 120)}</td>"
        f"<td>{phase_badge(item.phase)}</td>"
        f"<td>{item.elapsed:.0f} s</td><td>{_OUTCOMES.get(item.step, item.step.value)}</td>"
        f"<td title='{tooltip(item.message)}'>{html_text(item.message, 300)}</td></tr>"
        for item in items
    )
    return (
        "<div class='mnb-status-scroll' style='max-height:320px;max-width:100%;overflow:auto'>"
        "<table class='mnb-table'><thead><tr><th>pool</th><th>phase</th><th>elapsed</th>"
        f"<th>outcome</th><th>details</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
