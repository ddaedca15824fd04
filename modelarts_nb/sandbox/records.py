"""What the sandbox remembers about each API request, with every secret already removed.

Records are what tests assert on ("was the DELETE sent once?", "was it signed?"), and what the
admin endpoint hands to other processes, so they must never hold a credential: the values of
``SECRET_HEADERS`` are replaced by ``***`` before a record is even built.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..gateway.auth import SECRET_HEADERS

__all__ = ["RequestRecord", "Recorder", "fingerprints", "redact", "signed_names"]

REDACTED = "***"


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the sandbox saw it.

    ``status`` is None when a fault dropped the connection; ``time`` is the arrival time on the
    real wall clock (``time.time()``, not shifted by ``clock_offset``); ``auth`` is the kind of
    credential presented ("aksk"/"token"/None), whether or not it was valid; ``key`` and
    ``signature`` are short one-way fingerprints (sha256 prefixes) of the AK and of the whole
    Authorization header, so tests can tell credentials and resent signatures apart;
    ``signed_headers`` the header names its SignedHeaders listed (names only: no secret), so a
    test can tell that a header was signed, not merely sent.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int | None
    fault: str | None
    time: float
    pool: str | None
    auth: str | None
    key: str | None = None
    signature: str | None = None
    signed_headers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fingerprints(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(AK fingerprint, signature fingerprint) of a signed request; ``headers`` lower-cased."""
    authorization = headers.get("authorization")
    if authorization is None:
        return None, None
    access = authorization.partition("Access=")[2].partition(",")[0]
    return _digest(access), _digest(authorization)


def signed_names(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The names an AK/SK Authorization header says it signed (``headers`` lower-cased)."""
    authorization = headers.get("authorization", "")
    listed = authorization.partition("SignedHeaders=")[2].partition(",")[0].strip()
    return tuple(name for name in listed.split(";") if name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case header names; replace secret values so they cannot leak through records."""
    return {
        name.lower(): REDACTED if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


@dataclass
class Recorder:
    """Thread-safe store of finished records, kept in *arrival* order.

    A request gets its sequence number when it arrives and is stored once its answer is decided
    (before any injected delay), so records keep arrival order even when answers overtake.
    """

    _tickets: list[int] = field(default_factory=list)  # sorted; _records[i] has _tickets[i]
    _records: list[RequestRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def ticket(self) -> int:
        with self._lock:
            return next(self._seq)

    def add(self, ticket: int, record: RequestRecord) -> None:
        with self._lock:
            at = bisect.bisect(self._tickets, ticket)  # insort(key=) needs Python 3.10
            self._tickets.insert(at, ticket)
            self._records.insert(at, record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._tickets.clear()
            self._records.clear()
