"""Reading the receipts back: one row per DELETE (its ``sent`` and ``final`` events merged),
newest first, as plain rows (``read_history``) or a DataFrame (``history``, ``frame``).

Why apart from ``receipts``: the reader trusts nothing it reads (a line may be cut, corrupt or
not ours, and is skipped and counted) and serves the faces (``--history``, the history view),
while writing serves the engine. Stdlib only; ``history()`` and ``frame()`` import pandas when
called.
"""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..gateway.text import one_line
from .receipts_file import CAP, ENV, host, location, shown

if TYPE_CHECKING:
    import pandas

__all__ = ["COLUMNS", "NO_FINAL", "frame", "history", "last_sent", "parse_since",
           "read_history"]

NO_FINAL = "sent; no final state recorded"
COUNTS = ("flavor_count", "workload_count")  # in each row of read_history; not frame columns
COLUMNS = ["time", "pool", "name", "outcome", "phase", "phase_seen", "server_deletion", "via",
           "host", "project", "tenant", "flavors", "nodes", "workloads", "billing", "request_id",
           "detail", "receipt"]


def read_history(pool: str | None = None, since: str | datetime | None = None,
                 path: str | Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The receipts as rows (merged per receipt id, newest first) and notes to show."""
    start = parse_since(since) if since is not None else None
    opened = _opened(path)
    if isinstance(opened, str):
        return [], [opened]
    where, handle = opened
    merged: dict[str, dict[str, Any]] = {}
    skipped = 0
    with handle:
        for raw in handle:
            found, bad = _events(raw)
            skipped += bad
            for event in found:
                _merge(merged, event)
    wanted = None if pool is None else pool.strip()
    rows = [_row(r) for r in merged.values() if wanted is None
            or wanted in [_flat(v) for v in (r.get("pool"), r.get("name")) if isinstance(v, str)]]
    if start is not None:
        rows = [r for r in rows if r["time"] is not None and r["time"] >= start]
    rows.sort(key=lambda r: r["time"] or datetime.min.replace(tzinfo=timezone.utc),
              reverse=True)
    notes = [f"Skipped {skipped} unreadable line(s) in {shown(where)}."] * bool(
        skipped)
    return rows, notes


def _opened(path: str | Path | None) -> tuple[Path, BinaryIO] | str:
    """The receipts file and its handle, or the note that says why it cannot be read. Read
    line by line: a long history never sits in memory twice."""
    try:
        where = Path(path).expanduser() if path is not None else location()
    except (OSError, RuntimeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"Cannot read the receipts: {shown(why)}."
    try:
        if not stat.S_ISREG(where.stat().st_mode):  # a FIFO or a terminal would block forever
            raise OSError(0, "not a regular file")
        return where, where.open("rb")
    except FileNotFoundError:
        return f"No receipts yet: they are kept in {shown(where)} (set {ENV} to use another file)."
    except OSError as exc:
        return (f"Cannot read the receipts in {shown(where)}: "
                f"{one_line(exc.strerror or type(exc).__name__, 100)}.")


def last_sent(name: str, endpoint: str, project_id: str | None) -> dict[str, Any] | None:
    """The newest receipt of a DELETE sent from here for the pool ``name`` (its id or display
    name) to this endpoint's host and this project, as a ``read_history`` row; None when
    there is none or the receipts cannot be read. Reads the local file only: when the
    server says it has no such pool, this tells whether it was deleted from here."""
    try:
        rows, _ = read_history(name)
    except (OSError, ValueError):  # read_history says what it cannot read; here: not known
        return None
    host_, project = host(endpoint), None if project_id is None else _flat(str(project_id))
    for row in rows:  # newest first
        if row.get("host") == host_ and row.get("project") == project:
            return row
    return None


def _merge(merged: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """Add one event to its receipt's row: ``sent`` gives the time, ``final`` the outcome."""
    row = merged.setdefault(event["receipt"], {"outcome": NO_FINAL})
    if event["event"] == "sent":
        row.update({k: v for k, v in event.items() if k != "time"}, time=event["time"])
    else:
        row.update({k: v for k, v in event.items() if k != "time" and v is not None})
        row.setdefault("time", event["time"])


def history(pool: str | None = None, since: str | datetime | None = None,
            path: str | Path | None = None) -> pandas.DataFrame:
    """The receipts as a DataFrame, newest first: every DELETE sent and how it ended.

    ``pool`` matches a pool id or display name; ``since`` takes a date (``2026-11-30``, UTC),
    an ISO time or an age (``3d``, ``8h``); ``path`` reads another receipts file. Unreadable
    lines are skipped and counted; a missing file gives an empty frame. Notes are printed.
    """
    rows, notes = read_history(pool, since, path)
    for note in notes:
        print(note)
    return frame(rows)


def frame(rows: list[dict[str, Any]]) -> pandas.DataFrame:
    """Rows of ``read_history`` as a DataFrame with every column, times as UTC timestamps."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("time", "phase_seen", "server_deletion"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    return frame


def parse_since(since: str | datetime) -> datetime:
    """A date (``2026-11-30``: from 00:00 UTC), an ISO time (naive: UTC) or an age (``3d``)."""
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    text = str(since).strip()
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    elif re.match(r"\d{4}-\d\d-\d\d[T ]", text):
        moment = _parse_iso(text)
        if moment is not None:
            return moment
    else:
        from .selection import parse_age

        try:
            return datetime.now(timezone.utc) - parse_age(text)
        except ValueError:
            pass
    raise ValueError(f"--since {one_line(text, 40)!r}: expected a date (2026-11-30), an ISO time "
                     "(2026-11-30T08:00Z) or an age such as 3d or 8h")


def _parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(re.sub(r"Z$", "+00:00", text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_START = b'{"v": '  # how every event ``receipts._write`` makes starts; never inside a JSON string


def _events(raw: bytes) -> tuple[list[dict[str, Any]], int]:
    """The events of one line, and how many unreadable pieces it held. A line is one event;
    one that is not may be a fragment with a whole event glued after it (by a version that
    did not start each event on a line of its own): it is cut where each event starts."""
    if not raw.strip():
        return [], 0
    event = _event(raw)
    if event is not None:
        return [event], 0
    head, *tails = raw.split(_START)
    pieces = [p for p in (head, *(_START + tail for tail in tails)) if p.strip()]
    found = [e for e in map(_event, pieces) if e is not None]
    return found, len(pieces) - len(found)


def _event(raw: bytes) -> dict[str, Any] | None:
    """One line as an event, or None when it is partial, corrupt or not ours."""
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if (not isinstance(event, dict) or not isinstance(event.get("receipt"), str)
            or event.get("event") not in ("sent", "final") or not isinstance(event.get("v"), int)
            or not isinstance(event.get("time"), str)):
        return None
    return event


def _row(merged: dict[str, Any]) -> dict[str, Any]:
    """One receipt as a frame row: server strings on one line, lists as short text; and, not
    a column, how many flavors and workloads it held (``COUNTS``: the joined text is capped,
    so it cannot be counted back; None when not recorded)."""
    row: dict[str, Any] = {column: merged.get(column) for column in COLUMNS}
    for count, key in zip(COUNTS, ("flavors", "workloads")):
        row[count] = len(merged[key]) if isinstance(merged.get(key), list) else None
    row["time"] = _parse_iso(merged["time"]) if isinstance(merged.get("time"), str) else None
    for key in ("pool", "name", "outcome", "phase", "via", "host", "project", "tenant",
                "billing", "request_id", "detail", "receipt", "server_deletion"):
        if row[key] is not None:
            row[key] = _flat(str(row[key]))
    row["flavors"] = _joined(merged.get("flavors"), lambda f: f"{f.get('flavor')}×{f.get('count')}")
    row["workloads"] = _joined(merged.get("workloads"),
                               lambda w: f"{w.get('type')} {w.get('name')} ({w.get('status')})")
    if row["nodes"] is not None and not isinstance(row["nodes"], int):
        row["nodes"] = None
    return row


def _joined(items: Any, text: Any) -> str | None:
    if not isinstance(items, list):
        return None  # not known
    if not items:
        return "none"
    return _flat(", ".join(text(i) for i in items if isinstance(i, dict)))


def _flat(text: str) -> str:
    """``one_line`` (capped at 300), without its cost for the usual plain text."""
    if len(text) <= CAP and text.isprintable() and "  " not in text and text == text.strip():
        return text
    return one_line(text, CAP)

