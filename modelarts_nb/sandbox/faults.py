"""Injected faults: what a flaky gateway or network does to a request, scripted by tests.

A fault either *replaces* the answer before authentication (a proxy or the gateway answers: a
status, an HTML page, a truncated body, a connection dropped before the request reaches the
service), or *alters* the real answer after the request was processed (a delay, extra headers,
a connection dropped after processing, i.e. the DELETE happened but its answer was lost).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from typing import Any

__all__ = ["Fault", "FaultBook", "default_error_body", "encode_body", "html_page"]

_DROPS = (None, "before", "after")

# Gateway codes from Huawei's APIG error-code table (usermanual-apig apig_03_0048): 502 is
# APIG.0202 "Backend unavailable", 504 is APIG.0203 "Backend timeout". The code APIG uses for a
# plain 503 is UNCONFIRMED; we reuse APIG.0202.
_APIG_5XX = {
    502: ("APIG.0202", "Backend unavailable."),
    503: ("APIG.0202", "Backend unavailable."),
    504: ("APIG.0203", "Backend timeout."),
}
# docs/modelarts-api.md §5.3.
_THROTTLED_MSG = (
    "The throttling threshold has been reached: policy user over ratelimit,limit:XX,time:1 minute"
)

HTML_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def html_page(status: int) -> bytes:
    """An nginx-style error page, as a proxy in front of the gateway would send."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return HTML_PAGE.format(status=status, phrase=phrase).encode()


@dataclass
class Fault:
    """One scripted misbehaviour; it applies to the next ``times`` matching API requests."""

    method: str | None = None
    pool: str | None = None
    list_only: bool = False
    status: int | None = None
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    retry_after: float | str | None = None
    delay: float = 0.0
    drop: str | None = None
    malformed: bool = False
    html: bool = False
    times: int = 1

    def __post_init__(self) -> None:
        """Refuse nonsense early, so a typo in a test fails at injection, not mysteriously later."""
        if self.drop not in _DROPS:
            raise ValueError(f"drop must be one of {_DROPS}, not {self.drop!r}")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")
        if self.malformed and self.html:
            raise ValueError("a fault cannot be both malformed and html")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Build from the admin endpoint's JSON; a string body is sent as UTF-8 bytes."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        kwargs = dict(data)
        if isinstance(kwargs.get("body"), str):
            kwargs["body"] = kwargs["body"].encode("utf-8")
        return cls(**kwargs)

    @property
    def replaces_answer(self) -> bool:
        """True when a proxy/gateway answers instead of the service (checked before auth)."""
        return (
            self.status is not None or self.html or self.malformed or self.drop == "before"
        )

    def matches(self, method: str, pool: str | None, is_list: bool) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.list_only and not is_list:
            return False
        return self.pool is None or self.pool == pool

    def label(self) -> str:
        """The short text stored in ``RequestRecord.fault``, e.g. ``status:503,delay:2``."""
        parts = []
        if self.html:
            parts.append(f"html:{self.status or 502}")
        elif self.malformed:
            parts.append("malformed")
        elif self.status is not None:
            parts.append(f"status:{self.status}")
        if self.drop:
            parts.append(f"drop:{self.drop}")
        if self.delay:
            parts.append(f"delay:{self.delay:g}")
        if not parts:
            parts.append("headers")
        return ",".join(parts)

    def extra_headers(self) -> dict[str, str]:
        extra = dict(self.headers or {})
        if self.retry_after is not None:
            value = self.retry_after
            extra["Retry-After"] = f"{value:g}" if isinstance(value, (float, int)) else str(value)
        return extra


@dataclass
class FaultBook:
    """The ordered, thread-safe list of pending faults."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(
        self, method: str, pool: str | None, is_list: bool, *, replacing: bool
    ) -> Fault | None:
        """Consume one use of the first matching fault of the given kind (injection order)."""
        with self._lock:
            for fault in self._faults:
                if fault.replaces_answer == replacing and fault.matches(method, pool, is_list):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


def default_error_body(status: int, request_id: str) -> dict[str, Any]:
    """The body a real component would send with ``status`` when the fault gives none."""
    if status == 429:
        return {"error_code": "APIG.0308", "error_msg": _THROTTLED_MSG, "request_id": request_id}
    if status in _APIG_5XX:
        code, msg = _APIG_5XX[status]
        return {"error_code": code, "error_msg": msg, "request_id": request_id}
    if status == 401:
        return {
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
            "request_id": request_id,
        }
    if status == 403:
        return {
            "error_code": "ModelArts.0210",
            "error_msg": "project id in URL does not match token",
        }
    if status == 404:
        return {"error_code": "ModelArts.50015001", "error_msg": "pool not found"}
    if status >= 500:
        return {"error_code": "ModelArts.50005000", "error_msg": "internal error"}
    if status >= 400:
        return {"error_code": "ModelArts.50004000", "error_msg": "Bad request."}
    return {}


def encode_body(body: bytes | dict[str, Any], request_id: str) -> bytes:
    """Serialise a fault body; gateway (APIG*) dicts get the request id like real ones."""
    if isinstance(body, bytes):
        return body
    data = dict(body)
    if str(data.get("error_code", "")).startswith("APIG") and "request_id" not in data:
        data["request_id"] = request_id
    return json.dumps(data).encode("utf-8")
