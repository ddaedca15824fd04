"""The receipts at a glance: one short line per DELETE, and the one line for a pool deleted here.

Why: the full record of a receipt has eighteen fields; shown as they are (a DataFrame), each row
wraps to six lines in JupyterLab at 1400 px and 55 deletions fill 5,707 px (a terminal of 150
columns: 5 lines a row). What a person looks for first is
when, which pool, how it ended, what it held and how it was sent. This module says exactly that,
one line per receipt, as text (a terminal, ``text/plain``) and as HTML (a notebook, no cell
wrapping), and says where the full records are: ``r = %pools --history`` is still the whole
DataFrame (it only *displays* compactly), and ``modelarts_nb.history()`` returns it as well.

It also words what ``%pool_delete X`` says when the server has no pool ``X`` but the receipts
show it deleted from here (``deleted_line``).

Times are the kernel's local time with the zone's name. Everything shown passes ``text.clean``
(no control character, no credential this process knows), capped per column. pandas is
imported only by ``view_frame``: the command's ``history`` prints text without it.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..gateway.text import clean

if TYPE_CHECKING:
    import pandas

__all__ = ["Glance", "deleted_line", "glance", "how_sent", "html_view", "short_id", "text_view",
           "view_frame", "when"]

HEADERS = ("when", "pool", "outcome", "held", "sent by")
NAME_CAP, OUTCOME_CAP, SENT_CAP, WHERE_CAP = 20, 32, 40, 60
# ``via`` as a receipt records it → the words a person typed or clicked
_VIA = {"text": "%pool_delete --yes", "panel": "panel", "batch": "%pools --delete --yes",
        "python": "Python", "command": "modelarts-nb command"}
_TAIL = re.compile(r"-([0-9a-f]{32})$")  # a pool id: <display name>-<32 hex>
# the outcomes that say the pool was seen gone; every other one was sent and not seen gone
DELETED = "deleted"
# the receipts' longer outcomes, shortened for the glance (the DataFrame keeps them whole)
_SHORT = {"deletion accepted, watch stopped": "accepted, watch stopped",
          "deletion accepted, not watched": "accepted, not watched",
          "sent; no final state recorded": "sent, no final state"}


@dataclass(frozen=True)
class Glance:
    """One receipt as a person reads it first; ``where`` is the endpoint's host and project."""

    when: str
    zone: str
    pool: str
    outcome: str
    held: str
    sent: str
    where: str

    def cells(self, where: bool) -> tuple[str, ...]:
        return (self.when, self.pool, self.outcome, self.held, self.sent) + (
            (self.where,) if where else ())


def glance(rows: Sequence[Mapping[str, Any]]) -> list[Glance]:
    """``receipts.read_history`` rows (newest first) as glances, in the same order."""
    found = []
    for row in rows:
        moment = row.get("time")
        stamp, zone = when(moment) if isinstance(moment, datetime) else ("(no time)", "")
        found.append(Glance(
            when=stamp, zone=zone, pool=pool_label(row.get("name"), row.get("pool")),
            outcome=clean(_SHORT.get(str(row.get("outcome")), str(row.get("outcome") or "?")),
                          OUTCOME_CAP), held=held(row),
            sent=how_sent(row), where=_where(row)))
    return found


def when(moment: datetime) -> tuple[str, str]:
    """``("2026-12-06 18:03", "UTC")``: local time to the minute, and the zone's name."""
    local = moment.astimezone()
    return local.strftime("%Y-%m-%d %H:%M"), _zone(local)


def _zone(local: datetime) -> str:
    """The zone's short name (``UTC``, ``CET``), else its offset (``UTC+04:00``): some zones
    are named by their offset only (``+04``)."""
    name = local.tzname() or ""
    if re.fullmatch(r"[A-Za-z]{2,6}", name):
        return name
    offset = local.utcoffset()
    if offset is None:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def short_id(pool_id: str) -> str:
    """The first 8 hex digits of a pool id's tail (``pool-01-a81ad477…`` → ``a81ad477``);
    an id of another shape, capped."""
    tail = _TAIL.search(pool_id)
    return tail.group(1)[:8] if tail else clean(pool_id, 16)


def pool_label(name: object, pool_id: object) -> str:
    """``pool-01 (a81ad477)``: the display name and the short id; either alone if that is all
    the receipt holds."""
    shown_id = short_id(str(pool_id)) if pool_id else ""
    if not name:
        return shown_id or "(unknown pool)"
    label = clean(str(name), NAME_CAP)
    return f"{label} ({shown_id})" if shown_id else label


def held(row: Mapping[str, Any]) -> str:
    """``4 nodes · 2 flavors · 3 workloads``, from what the ``sent`` event recorded."""
    parts = []
    nodes, flavors, work = row.get("nodes"), row.get("flavor_count"), row.get("workload_count")
    if isinstance(nodes, int):
        parts.append(_count(nodes, "node"))
    if isinstance(flavors, int) and flavors:
        parts.append(_count(flavors, "flavor"))
    if isinstance(work, int):
        parts.append(_count(work, "workload") if work else "no workloads")
    elif parts:
        parts.append("work unread")  # the impact check did not run before the DELETE
    return " · ".join(parts) or "not recorded"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def how_sent(row: Mapping[str, Any]) -> str:
    """``%pools --delete --yes · tenant 9d18f8e8``: the path that sent it, and the start of
    the tenant id sent with it when one was (whole in the DataFrame's ``tenant``)."""
    via = str(row.get("via") or "?")
    sent = _VIA.get(via, via)
    tenant = row.get("tenant")
    if tenant:
        tenant = str(tenant)
        sent += f" · tenant {tenant[:8]}"  # enough to tell tenants apart at a glance
    return clean(sent, SENT_CAP)


def _where(row: Mapping[str, Any]) -> str:
    """``host, project 5a4db0c5…``; empty when the receipt names neither."""
    host, project = row.get("host"), row.get("project")
    if not host and not project:
        return ""
    project = str(project or "?")
    return clean(f"{host or '?'}, project {project[:8]}{'…' if len(project) > 8 else ''}",
                 WHERE_CAP)


# where the full records are, said under the view
FULL = ("Full records (request id, phase, flavors, workloads, detail): r = %pools --history "
        "is the DataFrame of every field (r.iloc[0]: one receipt); so is modelarts_nb.history()")
FULL_COMMAND = "Full records (request id, phase, flavors, workloads, detail): add --json"


def _footer(lines: list[Glance], where: bool, full: str) -> list[str]:
    """Two lines: how many and where to, then where the full records are."""
    count = f"{len(lines)} deletion{'' if len(lines) == 1 else 's'} (newest first)"
    place = "" if where or not lines or not lines[0].where else f", all to {lines[0].where}"
    return [f"{count}{place}", full]


def _zones(lines: list[Glance]) -> str:
    zones = sorted({line.zone for line in lines if line.zone})
    return "/".join(zones) or "local"


def text_view(rows: Sequence[Mapping[str, Any]], full: str = FULL) -> str:
    """The glances as an aligned text table, one line per receipt, and the footer."""
    lines = glance(rows)
    where = len({line.where for line in lines}) > 1
    headers = (f"when ({_zones(lines)})", *HEADERS[1:]) + (("sent to",) if where else ())
    table = [headers] + [line.cells(where) for line in lines]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(headers))]
    out = ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()
           for cells in table]
    return "\n".join(out + _footer(lines, where, full))


_CELL = ("padding:1px 8px 1px 0;text-align:left;white-space:nowrap;vertical-align:top;"
         "font-size:12px;line-height:1.35")
_LAST = _CELL.replace("padding:1px 8px 1px 0", "padding:1px 0")  # nothing to keep apart after it


def html_view(rows: Sequence[Mapping[str, Any]]) -> str:
    """The glances as an HTML table whose cells never wrap (one line per receipt), with the
    time in a ``<time>`` element, and the footer. Inline styles: the notebook's own table
    styles (right-aligned headers) must not apply."""
    lines = glance(rows)
    where = len({line.where for line in lines}) > 1
    headers = (f"when ({_zones(lines)})", *HEADERS[1:]) + (("sent to",) if where else ())
    styles = [_CELL] * (len(headers) - 1) + [_LAST]
    head = "".join(f"<th style='{style};font-weight:600'>{html.escape(h)}</th>"
                   for style, h in zip(styles, headers))
    body = []
    for row, line in zip(rows, lines):
        moment = row.get("time")
        stamp = html.escape(line.when)
        if isinstance(moment, datetime):
            iso = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
            stamp = f"<time datetime='{iso}'>{stamp}</time>"
        cells = [stamp] + [html.escape(cell) for cell in line.cells(where)[1:]]
        body.append("<tr>" + "".join(f"<td style='{style}'>{cell}</td>"
                                     for style, cell in zip(styles, cells)) + "</tr>")
    return ("<div class='mnb-history' style='font-size:12px;line-height:1.35;color:inherit'>"
            "<table style='border-collapse:collapse;margin:2px 0 6px;color:inherit'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + "".join(f"<div>{html.escape(said)}</div>" for said in _footer(lines, where, FULL))
            + "</div>")


def view_frame(rows: list[dict[str, Any]]) -> pandas.DataFrame:
    """The full receipts DataFrame (``receipts.frame``: every column), displayed as the
    glance. Anything derived from it (a column, a filter, ``.head()``) is a plain DataFrame
    that shows every field."""
    from ..deletion.receipts import frame

    full = _history_frame()(frame(rows))
    object.__setattr__(full, "_mnb_text", text_view(rows))
    object.__setattr__(full, "_mnb_html", html_view(rows))
    return full


@functools.lru_cache(maxsize=1)
def _history_frame() -> type:
    """The DataFrame subclass, made on first use (pandas is imported here, not at import)."""
    import pandas as pd

    class HistoryFrame(pd.DataFrame):
        """The receipts with every field; shown as one short line per deletion."""

        _metadata = ["_mnb_text", "_mnb_html"]

        @property
        def _constructor(self) -> type:
            return pd.DataFrame  # what is derived from it shows every field

        def __repr__(self) -> str:
            return str(getattr(self, "_mnb_text", None) or super().__repr__())

        def _repr_html_(self) -> str | None:
            shown = getattr(self, "_mnb_html", None)
            return shown if shown else getattr(super(), "_repr_html_", lambda: None)()

    return HistoryFrame


def deleted_line(name: str, row: Mapping[str, Any]) -> str:
    """What ``%pool_delete NAME`` says when the server has no such pool and ``row`` (the
    newest receipt of it, same endpoint and project) shows its DELETE sent from here."""
    moment = row.get("time")
    if isinstance(moment, datetime):
        stamp, zone = when(moment)
        day, clock = stamp.split(" ")
        at = f"at {clock} {zone} on {day}"
    else:
        at = "at a time not recorded"
    ref = _reference(row)
    shown = clean(name, 120)
    outcome = str(row.get("outcome") or "")
    if outcome == DELETED:
        return (f"pool {shown} was deleted from here {at} ({ref}); "
                "%pools --history shows it")
    return (f"pool {shown}: its DELETE was sent from here {at} ({ref}) but the receipts never "
            f"saw it gone ({clean(outcome or 'no outcome recorded', OUTCOME_CAP)}); the server "
            f"has no such pool now; %pools --history shows it")


def _reference(row: Mapping[str, Any]) -> str:
    receipt = clean(str(row.get("receipt") or "?"))[:8]
    request = row.get("request_id")
    if request:
        return f"receipt {receipt}, request id {clean(str(request), 64)}"
    return f"receipt {receipt}"
