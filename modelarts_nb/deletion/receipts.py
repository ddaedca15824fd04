"""Receipts: a durable record of every DELETE this package sends, and reading them back.

Why: a panel forgets when its kernel stops, and a saved notebook may not show how a deletion
ended; the receipts file keeps, per DELETE, what went, from where and how it ended.

Where: the file ``MODELARTS_NB_RECEIPTS`` names, else ``modelarts-nb/receipts.jsonl`` in the
user's data directory (``$XDG_DATA_HOME`` or ``~/.local/share``; ``~/Library/Application
Support`` on macOS; ``%LOCALAPPDATA%`` on Windows).

How: JSON Lines, appended, never rewritten. A ``sent`` event when a DELETE left (so a kernel
that dies mid-watch still leaves a record), a ``final`` event with each outcome; both carry the
receipt id. Each event is ONE ``os.write`` of one line on a file opened ``O_APPEND`` and never
through a symbolic link (kept 0o600, directories it creates 0o700), under ``flock`` where there
is one: two kernels appending at once never interleave (on a local file system; network file
systems may not honour either). Under that lock a line that would follow a fragment (a write
cut short by a full disk or a kill) starts with a newline, so the fragment costs only itself.
A receipt that cannot be written never stops a deletion: it is said once per file, in one
line, the path's credentials masked.

Never a secret: no key, token, header or URL is written, only the endpoint's host; server
strings are capped at 300 characters, and any credential value of the client is masked even
inside a message.

Stdlib only; ``history()`` imports pandas when called.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..gateway.errors import ModelArtsError, WaitTimeout
from ..gateway.text import known_secrets, masked, one_line
from .steps import Step

if TYPE_CHECKING:
    import pandas

    from ..gateway.api import PoolsApi
    from ..gateway.models import Pool
    from .impact import Impact

try:
    import fcntl
except ImportError:  # Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["COLUMNS", "ENV", "Receipt", "append", "frame", "history", "last_sent", "location",
           "parse_since", "read_history", "shown"]

log = logging.getLogger("modelarts_nb")
ENV = "MODELARTS_NB_RECEIPTS"
SCHEMA = 1
CAP = 300  # characters of any server string
NO_FINAL = "sent; no final state recorded"
COUNTS = ("flavor_count", "workload_count")  # in each row of read_history; not frame columns
COLUMNS = ["time", "pool", "name", "outcome", "phase", "phase_seen", "server_deletion", "via",
           "host", "project", "tenant", "flavors", "nodes", "workloads", "billing", "request_id",
           "detail", "receipt"]
_warned: set[str] = set()
_warned_lock = threading.Lock()
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: a FIFO named by mistake fails at once instead of holding the deletion
_FLAGS = (os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
          | _NOFOLLOW)


def location(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The receipts file: ``MODELARTS_NB_RECEIPTS``, else the user's data directory."""
    env = os.environ if env is None else env
    named = env.get(ENV, "").strip()
    try:
        if named:
            return Path(named).expanduser()
        home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    except (RuntimeError, KeyError) as exc:  # '~nosuchuser', or no HOME and no passwd entry
        raise OSError(0, f"no home directory for {named or '~'!r}") from exc
    platform = platform or sys.platform
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform.startswith("win"):
        local = env.get("LOCALAPPDATA", "")
        base = Path(local) if local else home / "AppData" / "Local"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"  # spec: absolute
    return base / "modelarts-nb" / "receipts.jsonl"


def append(event: Mapping[str, Any], path: Path | None = None) -> bool:
    """Append one event as one line in one ``os.write``; False (said once) if it failed."""
    line = (json.dumps(event, ensure_ascii=True, separators=(", ", ": "), allow_nan=False,
                       default=str) + "\n").encode("ascii")  # \n, U+2028 and HTML: escaped
    target = Path(os.environ.get(ENV, "").strip() or "receipts.jsonl")  # named in a warning
    try:
        target = path or location()
        _make_parents(target.parent)  # a file there: os.open says "Not a directory"
        fd = _open(target)
        try:
            try:
                _lock(fd)
            except KeyboardInterrupt:  # Ctrl-C while waiting: the line still goes in
                _add(fd, line)
                raise
            _add(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        _warn_once(target, _why(exc, target))
        return False
    return True


def _make_parents(directory: Path) -> None:
    """Create the missing directories, each 0700: receipts say what was deleted where, and
    ``mkdir`` leaves the mode to the umask (for the upper ones of ``parents=True`` entirely)."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:  # another writer made it first, or a dangling link: os.open says
            continue
        os.chmod(made, 0o700)


def _open(target: Path) -> int:
    """The file, to append to; never through a symbolic link (its target may be any file of
    the user's), never blocking (``O_NONBLOCK``: a FIFO with no reader fails at once). Read and
    write, so that ``_add`` can look at the last byte; a FIFO is opened again write-only, or
    one with no reader would swallow the line instead of saying ENXIO."""
    if not _NOFOLLOW and os.path.islink(target):  # no O_NOFOLLOW (Windows): looked at first
        raise OSError(errno.ELOOP, "a symbolic link")
    try:
        fd = os.open(target, _FLAGS | os.O_RDWR, 0o600)
    except PermissionError:  # writable, not readable: appended without a look at its end
        return os.open(target, _FLAGS | os.O_WRONLY, 0o600)
    try:
        fifo = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    if not fifo:
        return fd
    os.close(fd)
    return os.open(target, _FLAGS | os.O_WRONLY, 0o600)


def _add(fd: int, line: bytes) -> None:
    """Write ``line`` (under the lock): the file kept at 0600, and the line started on a line
    of its own. A write cut short (a full disk, a killed process) leaves a fragment with no
    newline; a line appended to it would be read as part of it, and lost."""
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode):  # not /dev/full or /dev/null: theirs to keep as they are
        _private(fd, info)
        if info.st_size and not _ends_a_line(fd):
            line = b"\n" + line
    while line:  # a short write goes on: the disk's own error (ENOSPC) is the one said
        done = os.write(fd, line)
        if done <= 0:
            raise OSError(errno.ENOSPC, "the disk took only part of the line (full?)")
        line = line[done:]


def _private(fd: int, info: os.stat_result) -> None:
    """0600, whatever the file had (an older version, a copy, a umask that took the owner's
    write bit): ``fchmod`` on the open file, so no link swapped in meanwhile is changed."""
    if info.st_mode & 0o777 == 0o600 or not hasattr(os, "fchmod"):
        return
    try:
        os.fchmod(fd, 0o600)
    except OSError:  # another user's file: the receipt still goes in
        log.debug("receipts: could not make the file 0600", exc_info=True)


def _ends_a_line(fd: int) -> bool:
    """Whether the (non-empty) file's last byte is a newline; True when it cannot be read."""
    try:
        os.lseek(fd, -1, os.SEEK_END)
        return os.read(fd, 1) in (b"\n", b"")
    except OSError:  # opened write-only (``_open``): appended as before
        return True


def _why(exc: OSError, target: Path) -> str:
    """The reason a warning gives; a link refused by ``O_NOFOLLOW`` said as one (its errno
    reads "Too many levels of symbolic links")."""
    if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(target):
        return "it is a symbolic link, and receipts are never written through one"
    return exc.strerror or type(exc).__name__


def _lock(fd: int) -> None:
    """``flock`` for at most a second (released by close); then O_APPEND alone: a lock held by
    a hung process, or a file system without locks (some NFS), never holds a deletion up."""
    if fcntl is None:
        return
    deadline = time.monotonic() + 1.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                log.debug("receipts: lock still held after 1 s; appending without it")
                return
            time.sleep(0.002)
        except OSError:
            return


def shown(path: str | Path, limit: int = 300) -> str:
    """A receipts path as printed: every credential this kernel has used masked (a user may
    name a file after a key), on one line, capped."""
    return one_line(masked(str(path), known_secrets()), limit)


def _warn_once(path: Path, why: str) -> None:
    with _warned_lock:
        if str(path) in _warned:
            return
        _warned.add(str(path))
    message = (f"modelarts-nb: could not write a deletion receipt to {shown(path, 200)}: "
               f"{shown(why, 100)}; the deletion goes on (set {ENV} to a writable file)")
    # unconfigured logging already prints it to stderr (its last resort): then once is enough;
    # configured logging sends it elsewhere, so the user is told here too
    by_logging = (not log.hasHandlers() and logging.lastResort is not None
                  and log.isEnabledFor(logging.WARNING))
    log.warning(message)
    if not by_logging:
        print(message, file=sys.stderr)


# -- writing: what the engine calls -----------------------------------------------------------


@dataclass
class Receipt:
    """One DELETE's receipt: its id, what identifies it, and the last outcome written."""

    id: str
    common: dict[str, Any]
    request_id: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)
    written: Step | None = None  # the last final step recorded (one event per change)
    # metadata.deletionTimestamp: when the server took the deletion, from the DELETE's answer
    # or the first read that carries it (kept once known: a later read cannot move it)
    server_deletion: str | None = None


class Run(Protocol):
    """What a receipt reads of a run (``engine.Deletion``, or a ``Call``)."""

    api: PoolsApi
    via: str
    interrupted: bool


class Sent(Protocol):
    """What a receipt reads of one pool's deletion (``engine.Target``, or a ``Call``)."""

    pool: Pool | None
    impact: Impact | None
    step: Step
    message: str
    error: ModelArtsError | None
    last_poll: datetime | None
    receipt: Receipt | None

    @property
    def phase(self) -> str: ...


class Call:
    """A DELETE sent outside any run (``PoolsClient.delete_pool``): a context that records it
    when it ends (``sent`` if a DELETE left, then ``final`` with how the call ended), and is
    no frame around the request itself: the way down to it stays short."""

    via = "python"

    def __init__(self, api: PoolsApi, pool: Pool) -> None:
        self.api, self.interrupted = api, False
        self.pool: Pool | None = pool
        self.impact: Impact | None = None
        self.step, self.message = Step.SENDING, ""
        self.error: ModelArtsError | None = None
        self.last_poll: datetime | None = None
        self.receipt: Receipt | None = None
        self.wired: list[bool] = []
        self.answers: list[str | None] = []
        self._result: Pool | None = None

    @property
    def phase(self) -> str:
        if self.step is Step.DELETED:
            return "Deleted"
        return (self.pool.phase if self.pool else None) or "unknown"

    def wire(self, sent: bool) -> None:
        self.wired.append(sent)

    def answer(self, request_id: str | None) -> None:
        self.answers.append(request_id)

    def ended(self, accepted: Pool | None) -> Pool | None:
        self._result = accepted
        return accepted

    def __enter__(self) -> Call:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        if not left(self.wired):
            return
        self.receipt = sent(self, self, self.answers)
        if exc is None:
            self.pool = self._result or self.pool
            self.step = Step.ACCEPTED if self._result is not None else Step.DELETED
            self.message = ("Deletion accepted; not watched." if self._result is not None
                            else "The pool is gone.")
        else:
            self.interrupted = isinstance(exc, KeyboardInterrupt)
            self.error = exc if isinstance(exc, ModelArtsError) else None
            self.step = Step.STOPPED if self.interrupted else Step.FAILED
            self.message = str(exc) or type(exc).__name__
        final(self, self)


def left(wired: list[bool]) -> bool:
    """Whether a DELETE may have reached the server: ``on_wire`` said True before each one
    left, and False right after it when the gateway refused it unread (401, 429)."""
    return any(now and (i + 1 == len(wired) or wired[i + 1]) for i, now in enumerate(wired))


def sent(run: Run, target: Sent, request_ids: Iterable[str | None] = ()
         ) -> Receipt | None:
    """Record that a DELETE for ``target`` left (answered or not): its ``sent`` event. Never
    raises: a receipt must not stop a deletion."""
    try:
        return _sent(run, target, request_ids)
    except Exception as exc:  # noqa: BLE001 - said once, the deletion goes on
        log.debug("receipt failed", exc_info=True)
        _warn_once(_where(), f"unexpected {type(exc).__name__}")
        return None


def _sent(run: Run, target: Sent, request_ids: Iterable[str | None]) -> Receipt:
    pool = target.pool
    assert pool is not None
    settings = run.api.settings
    receipt_id = uuid.uuid4().hex
    common: dict[str, Any] = {
        "v": SCHEMA, "receipt": receipt_id, "via": str(getattr(run, "via", "python")),
        "host": _host(settings.endpoint), "project": _str(settings.project_id),
        "tenant": _str(settings.user_id),  # an id, not a secret: who workspace auth judged
        "pool": _str(pool.id), "name": _str(pool.display_name),
    }
    receipt = Receipt(receipt_id, common, _last(request_ids),
                      tuple(s for s in settings.credentials.secrets() if s))
    impact: Impact | None = target.impact or getattr(run, "impact", None)
    _write(receipt, "sent", {
        "region": _str(settings.region), "workspace": _str(pool.workspace_id),
        "billing": pool.billing_label,
        "flavors": [{"flavor": _str(line.flavor), "count": line.count}
                    for line in pool.spec_resources][:50],
        "nodes": pool.node_count,
        "workloads": None if impact is None or impact.workloads is None else [
            {"type": _str(w.type), "name": _str(w.name), "status": _str(w.status)}
            for w in impact.workloads][:50],
        "request_id": receipt.request_id,
    })
    return receipt


def final(run: Run, target: Sent) -> None:
    """Record ``target``'s outcome: one ``final`` event per new final step. Never raises."""
    try:
        _final(run, target)
    except Exception as exc:  # noqa: BLE001 - said once, the deletion goes on
        log.debug("receipt failed", exc_info=True)
        _warn_once(_where(), f"unexpected {type(exc).__name__}")


def _final(run: Run, target: Sent) -> None:
    receipt = target.receipt
    if receipt is not None and receipt.server_deletion is None and target.pool is not None \
            and target.pool.deleted is not None:
        receipt.server_deletion = _iso(target.pool.deleted)
    if receipt is None or not target.step.final or receipt.written is target.step:
        return
    receipt.written = target.step
    error = target.error
    request_id = receipt.request_id or getattr(error, "request_id", None)
    seen = target.last_poll or (datetime.now(timezone.utc) if target.step is Step.DELETED
                                else None)
    _write(receipt, "final", {
        "outcome": _outcome(run, target), "detail": _str(_URL.sub(_url_host, target.message)),
        "phase": _str(target.phase), "phase_seen": _iso(seen) if seen else None,
        "server_deletion": receipt.server_deletion, "request_id": _str(request_id),
    })


def _outcome(run: Run, target: Sent) -> str:
    step = target.step
    if step is Step.DELETED:
        return "deleted"
    if step is Step.ACCEPTED:
        return "deletion accepted, not watched"
    if step is Step.STOPPED:
        return "interrupted" if getattr(run, "interrupted", False) else \
            "deletion accepted, watch stopped"
    if step is Step.FAILED:
        return "timed out" if isinstance(target.error, WaitTimeout) else "failed"
    return step.value


def _where() -> Path:
    """The receipts file, for a warning (never raises)."""
    try:
        return location()
    except OSError:
        return Path(os.environ.get(ENV, "").strip() or "receipts.jsonl")


def _write(receipt: Receipt, event: str, fields: dict[str, Any]) -> None:
    record = {**receipt.common, "event": event, "time": _iso(datetime.now(timezone.utc)),
              **fields}
    # the client's credentials, and every other one this kernel has used (a renewed token)
    append(_capped(_masked(record, (*receipt.secrets, *known_secrets()))))


def _capped(value: Any) -> Any:
    """Every string capped — after masking, so a cut never leaves part of a secret."""
    if isinstance(value, str):
        return _cap(value)
    if isinstance(value, dict):
        return {k: _capped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_capped(v) for v in value]
    return value


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    """Fail closed: a credential value never reaches the file, even inside a message."""
    if isinstance(value, str):
        return masked(value, secrets)
    if isinstance(value, dict):
        return {k: _masked(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, secrets) for v in value]
    return value


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def _url_host(match: re.Match[str]) -> str:
    """A URL inside a message keeps its host only (no user info, path or query)."""
    return _host(match.group(0))


def _host(endpoint: str) -> str:
    """``host[:port]`` of the endpoint: no scheme, user info, path or query."""
    try:
        parts = urlsplit(endpoint)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "(unreadable)"
    return _cap(f"{host}:{port}" if port else host) or "(unknown)"


def _cap(value: object) -> Any:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= CAP else text[: CAP - 1] + "…"


def _str(value: object) -> str | None:
    """A field's text, uncapped until it is masked (``_capped``)."""
    return None if value is None else str(value)


def _last(values: Iterable[str | None]) -> str | None:
    found = [v for v in values if v]
    return _str(found[-1]) if found else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


# -- reading -------------------------------------------------------------------------------


def read_history(pool: str | None = None, since: str | datetime | None = None,
                 path: str | Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The receipts as rows (merged per receipt id, newest first) and notes to show."""
    start = parse_since(since) if since is not None else None
    try:
        where = Path(path).expanduser() if path is not None else location()
    except (OSError, RuntimeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [], [f"Cannot read the receipts: {shown(why)}."]
    try:
        if not stat.S_ISREG(where.stat().st_mode):  # a FIFO or a terminal would block forever
            raise OSError(0, "not a regular file")
        handle = where.open("rb")  # read line by line: a long history never sits in memory twice
    except FileNotFoundError:
        return [], [f"No receipts yet: they are kept in {shown(where)} "
                    f"(set {ENV} to use another file)."]
    except OSError as exc:
        return [], [f"Cannot read the receipts in {shown(where)}: "
                    f"{one_line(exc.strerror or type(exc).__name__, 100)}."]
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


def last_sent(name: str, endpoint: str, project_id: str | None) -> dict[str, Any] | None:
    """The newest receipt of a DELETE sent from here for the pool ``name`` (its id or display
    name) to this endpoint's host and this project, as a ``read_history`` row; None when
    there is none or the receipts cannot be read. Reads the local file only: when the
    server says it has no such pool, this tells whether it was deleted from here."""
    try:
        rows, _ = read_history(name)
    except (OSError, ValueError):  # read_history says what it cannot read; here: not known
        return None
    host, project = _host(endpoint), None if project_id is None else _flat(str(project_id))
    for row in rows:  # newest first
        if row.get("host") == host and row.get("project") == project:
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


_START = b'{"v": '  # how every event ``_write`` makes starts; never inside a JSON string


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

