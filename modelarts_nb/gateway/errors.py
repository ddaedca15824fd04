"""The exception hierarchy: one base to catch, one actionable line per ``str(exc)``.

Every API error carries the HTTP status, ModelArts' ``error_code``/``error_msg`` and the
request id, because those are what Huawei support asks for. No message ever contains a
credential: messages are built only from status codes, server error fields and pool names.

```
ModelArtsError
├── ConfigError          settings/credentials missing or unusable; nothing was sent
├── InvalidName          a pool id / project id / display name that could change the URL
├── DeletionRefused      prepaid or frozen pool, or a pool that is not ours to delete here
├── ApiError             any other HTTP error answer
│   ├── PoolNotFound         404
│   ├── AuthenticationError  401 (never retried)
│   ├── PermissionDenied     403
│   ├── Throttled            429 after the retry budget
│   └── ServerError          5xx after the retry budget
├── Cancelled            Stop / close / interrupt ended a wait; nothing more was sent
├── ConnectionFailed     the server could not be reached / the answer was lost
└── WaitError
    ├── WaitTimeout          keeps the last observed pool
    └── DeletionFailed       the pool entered an error phase while being deleted
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .text import one_line, quoted

if TYPE_CHECKING:
    from .models import Pool

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Cancelled",
    "ConfigError",
    "ConnectionFailed",
    "DeletionFailed",
    "DeletionRefused",
    "InvalidName",
    "ModelArtsError",
    "PermissionDenied",
    "PoolNotFound",
    "ServerError",
    "Throttled",
    "WaitError",
    "WaitTimeout",
    "one_line",
    "quoted",
]


class ModelArtsError(Exception):
    """Base of every error raised by modelarts_nb."""

    def __str__(self) -> str:
        """Always one line: messages quote server strings (display names, ids, codes) that
        may hold newlines or control characters."""
        return one_line(super().__str__(), 2000)

    def _render_traceback_(self) -> list[str]:
        """IPython hook: show one line instead of a traceback, while the cell still fails."""
        return [f"{type(self).__name__}: {self}"]


class ConfigError(ModelArtsError):
    """Settings or credentials are missing or unusable; no request was sent."""


class InvalidName(ModelArtsError, ValueError):
    """A name or id was refused before any request was built, or a display name that several
    pools share: then ``candidates`` holds them, for views to list (id, phase, created, nodes)."""

    candidates: tuple[Pool, ...] = ()


class DeletionRefused(ModelArtsError):
    """The pool must not be deleted with DELETE (prepaid, frozen, ...)."""

    def __init__(self, message: str, *, pool: Pool | None = None) -> None:
        super().__init__(message)
        self.pool = pool


class ApiError(ModelArtsError):
    """The API answered with an error status."""

    hint = ""

    def __init__(
        self,
        *,
        status: int,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        what: str = "",
        hint: str | None = None,
        from_server: bool = True,
    ) -> None:
        self.from_server = from_server
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.what = what or f"request failed with HTTP {status}"
        if hint is not None:
            self.hint = hint
        super().__init__(self._line())

    def with_hint(self, hint: str) -> ApiError:
        """The same error saying ``hint`` (what to do) instead of the default."""
        self.hint = hint
        self.args = (self._line(),)
        return self

    def _line(self) -> str:
        if not self.from_server:  # decided here, e.g. a name absent from a pool list
            return f"{self.what} — {self.hint}" if self.hint else self.what
        details = [one_line(self.error_code, 64) if self.error_code else f"HTTP {self.status}"]
        if self.error_code:
            details.append(f"HTTP {self.status}")
        request_id = one_line(self.request_id, 64) if self.request_id else "not given"
        details.append(f"request id {request_id}")
        line = f"{self.what} ({', '.join(details)})"
        if self.error_msg:
            line += f': "{one_line(self.error_msg)}"'
        if self.hint:
            line += f" — {self.hint}"
        return line


class PoolNotFound(ApiError):
    hint = (
        "check the name (a pool id or display name) and the project; %pools lists the pools "
        "you can see; a 404 can also mean you have no access to it"
    )


class AuthenticationError(ApiError):
    hint = (
        "check the AK/SK or token and the project id; not retried, because Huawei locks "
        "an AK/SK for 5 minutes after repeated signature failures"
    )


class PermissionDenied(ApiError):
    hint = "ask an administrator for modelarts:pool:* permissions in this project"


class Throttled(ApiError):
    hint = "the API is rate limiting this account; wait a little and try again"

    def __init__(self, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kw)


class ServerError(ApiError):
    hint = "ModelArts had an internal problem; try again later and quote the request id"


class Cancelled(ModelArtsError):
    """Stop, closing a panel or a kernel interrupt ended a wait; nothing more was sent."""


class ConnectionFailed(ModelArtsError):
    """The endpoint could not be reached, or the answer was lost on the way back."""


class WaitError(ModelArtsError):
    """Waiting for a deletion ended without the pool being gone."""

    def __init__(self, message: str, *, last: Pool | None = None) -> None:
        super().__init__(message)
        self.last = last


class WaitTimeout(WaitError):
    """The pool still existed when the wait budget ran out; ``last`` is the final observation."""


class DeletionFailed(WaitError):
    """The pool reported an error phase while being deleted."""

