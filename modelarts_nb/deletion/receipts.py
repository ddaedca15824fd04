"""Receipts: a durable record of every DELETE this package sends.

Why: a panel forgets when its kernel stops, and a saved notebook may not show how a deletion
ended; the receipts file keeps, per DELETE, what went, from where and how it ended.

What: JSON Lines, appended, never rewritten. A ``sent`` event when a DELETE left (so a kernel
that dies mid-watch still leaves a record), a ``final`` event with each outcome; both carry the
receipt id. A receipt that cannot be written never stops a deletion: it is said once per file,
in one line, the path's credentials masked.

Never a secret: no key, token, header or URL is written, only the endpoint's host; server
strings are capped at 300 characters, and any credential value of the client is masked even
inside a message.

This module composes the events; where the file is and how a line is appended safely is
``receipts_file``'s, reading them back ``receipts_history``'s (both re-exported here: callers
import ``receipts`` alone). Stdlib only; ``history()`` imports pandas when called.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..gateway.errors import ModelArtsError, WaitTimeout
from ..gateway.text import known_secrets, masked
from .receipts_file import CAP, ENV, location, shown, why, write_line
from .receipts_file import cap as _cap
from .receipts_file import host as _host
from .receipts_history import (
    COLUMNS,
    NO_FINAL,
    frame,
    history,
    last_sent,
    parse_since,
    read_history,
)
from .steps import Step

if TYPE_CHECKING:
    from ..gateway.api import PoolsApi
    from ..gateway.models import Pool
    from .impact import Impact

__all__ = ["CAP", "COLUMNS", "ENV", "NO_FINAL", "Receipt", "append", "frame", "history",
           "last_sent", "location", "parse_since", "read_history", "shown"]

log = logging.getLogger("modelarts_nb")
SCHEMA = 1
_warned: set[str] = set()  # files already said unwritable (a test resets it)
_warned_lock = threading.Lock()


def append(event: Mapping[str, Any], path: Path | None = None) -> bool:
    """Append one event as one line in one ``os.write``; False (said once) if it failed."""
    line = (json.dumps(event, ensure_ascii=True, separators=(", ", ": "), allow_nan=False,
                       default=str) + "\n").encode("ascii")  # \n, U+2028 and HTML: escaped
    target = Path(os.environ.get(ENV, "").strip() or "receipts.jsonl")  # named in a warning
    try:
        target = path or location()
        write_line(line, target)
    except OSError as exc:
        _warn_once(target, why(exc, target))
        return False
    return True


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


def _where() -> Path:
    """The receipts file, for a warning (never raises)."""
    try:
        return location()
    except OSError:
        return Path(os.environ.get(ENV, "").strip() or "receipts.jsonl")


# -- the events: what the engine calls --------------------------------------------------------


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


def _str(value: object) -> str | None:
    """A field's text, uncapped until it is masked (``_capped``)."""
    return None if value is None else str(value)


def _last(values: Iterable[str | None]) -> str | None:
    found = [v for v in values if v]
    return _str(found[-1]) if found else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


