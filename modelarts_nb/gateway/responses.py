"""Reading HTTP answers: the error fields, request ids, ``Retry-After`` and clock skew.

Pure functions of an ``httpx.Response``, so the client's retry and delete logic stays short.
This is the edge every server string crosses: ``read_json`` gives the body with each string
through ``text.clean``, and ``header`` does the same for the header values we show (request
id, content type), so no view, print, log, receipt or exception downstream ever holds a
terminal escape, a control character or a credential the server echoed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from . import errors
from .retry import parse_retry_after
from .settings import EXPLICIT, NOTEBOOK_SESSION, USER_ID_ENV
from .text import clean, clean_json, one_line

__all__ = ["FIELD_LIMIT", "api_error", "error_fields", "header", "read_json", "request_id",
           "retry_after", "transport_reason", "workspace_hint"]

_STATUS_ERRORS: dict[int, type[errors.ApiError]] = {
    401: errors.AuthenticationError,
    403: errors.PermissionDenied,
    404: errors.PoolNotFound,
    429: errors.Throttled,
}
_SKEW_WARN_SECONDS = 5 * 60


# A notebook session acts through the agency ModelArts was given (docs/modelarts-api.md §4.2), so a
# 403 there is fixed on the agency, not on the user (IAM action names: docs/modelarts-api.md §1.5).
_AGENCY_HINT = (
    "this notebook acts through its ModelArts agency: add modelarts:pool:list and "
    "modelarts:pool:delete for this project to that agency (IAM > Agencies), or set your own "
    "AK/SK in HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK"
)


# 403 codes whose meaning is not workspace authentication (docs/modelarts-api.md §5.2): project
# mismatch, invalid AK/SK, arrears or suspension. Any other 403 to a request carrying the tenant id
# is read as workspace authentication's; its own code is UNCONFIRMED (docs/tenant-and-details.md).
NOT_WORKSPACE_403 = frozenset({"ModelArts.0210", "ModelArts.0206", "ModelArts.4116",
                               "ModelArts.4118", "ModelArts.5017"})
_DROP = {EXPLICIT: "run it without --user-id",
         "environment": f"unset {USER_ID_ENV}",
         NOTEBOOK_SESSION: "pass --user-id '' (the session's tenant id is then not sent)"}


def workspace_hint(response: httpx.Response, user_id: str, source: str | None, pool: str,
                   workspace: str | None) -> str | None:
    """What a 403 to a request that carried the tenant id means, in one clause: which tenant,
    which workspace, what to ask for, and how to let IAM alone decide; None when its code says
    it is something else."""
    code, _, _ = error_fields(response)
    if code in NOT_WORKSPACE_403:
        return None
    tenant = one_line(user_id, 130)
    where = (f"workspace {one_line(workspace, 80)}" if workspace else
             f"the workspace of pool {pool} (not readable as this tenant)")
    drop = _DROP.get(source or "", "send no tenant id")
    return (f"workspace authentication refused tenant {tenant} (X-ModelArts-User-ID, from "
            f"{source or 'settings'}) for {where}: ask the workspace's owner to admit tenant "
            f"{tenant} to it (or to make it PUBLIC); or {drop}, and IAM permissions alone "
            "decide")


def api_error(
    response: httpx.Response, what: str, *, signed: bool, notebook_session: bool = False
) -> errors.ApiError:
    """The typed error for an error answer; ``signed`` requests get a clock-skew hint on 401,
    credentials from a notebook session a hint about its agency on 403."""
    code, message, request_id = error_fields(response)
    cls = _STATUS_ERRORS.get(response.status_code)
    if cls is None:
        cls = errors.ServerError if response.status_code >= 500 else errors.ApiError
    kw: dict[str, Any] = {}
    if cls is errors.Throttled:
        kw["retry_after"] = retry_after(response)
    if cls is errors.AuthenticationError and signed:
        skew = _clock_skew(response)
        if skew is not None and abs(skew) >= _SKEW_WARN_SECONDS:
            kw["hint"] = _skew_hint(skew)
    if cls is errors.PermissionDenied and notebook_session and code != "ModelArts.0210":
        kw["hint"] = _AGENCY_HINT
    return cls(
        status=response.status_code,
        error_code=code,
        error_msg=message,
        request_id=request_id,
        what=what,
        **kw,
    )


MAX_BODY = 32 * 1024 * 1024  # a list of 500 pools is about 2 MB
# The longest string a pool holds is its tag annotation: JSON of up to 20 tags of 128 + 255
# characters. Longer strings are cut (views cut much shorter).
FIELD_LIMIT = 16 * 1024


def read_json(response: httpx.Response) -> Any:
    """The body as JSON, every string in it (keys too, at any depth) through ``text.clean``;
    ValueError for junk, for nesting too deep to parse, or over MAX_BODY."""
    if len(response.content) > MAX_BODY:
        raise ValueError(f"the answer is larger than {MAX_BODY // 2**20} MB")
    try:
        return clean_json(response.json(), FIELD_LIMIT)
    except RecursionError:
        raise ValueError("the answer is nested too deeply to read") from None


def header(response: httpx.Response, name: str, limit: int = 200) -> str | None:
    """A header's value, cleaned as body strings are (``text.clean``); None when absent."""
    value = response.headers.get(name)
    return None if value is None else clean(value, limit)


def request_id(response: httpx.Response) -> str | None:
    """The answer's ``X-Request-Id``, cleaned: what errors and receipts quote."""
    return header(response, "X-Request-Id", 200) or None


def retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))


def error_fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(error_code, error_msg, request id) from the body forms the SDK accepts."""
    given = request_id(response)
    try:
        body = read_json(response)
    except ValueError:
        kind = (header(response, "Content-Type", 100) or "no content type").split(";")[0]
        why = f"the answer was not JSON ({kind}); a proxy or gateway may be in the way"
        return None, why, given
    if not isinstance(body, dict):
        return None, None, given
    code = body.get("error_code") or body.get("errorCode") or body.get("code")
    message = body.get("error_msg") or body.get("errorMsg") or body.get("message")
    given = given or body.get("request_id")  # a string in it is clean; a number is no risk
    return (
        str(code) if code is not None else None,
        str(message) if message is not None else None,
        str(given) if given else None,
    )


def _clock_skew(response: httpx.Response) -> float | None:
    """Seconds our clock is ahead of the server's (negative: behind), from its Date header."""
    try:
        server = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    return (datetime.now(timezone.utc) - server).total_seconds()


def _skew_hint(skew: float) -> str:
    minutes = round(abs(skew) / 60)
    direction = "ahead of" if skew > 0 else "behind"
    return (
        f"your clock is {minutes} minutes {direction} the server's; signatures older than "
        "15 minutes are refused — sync the clock (e.g. enable NTP) and try again"
    )


def transport_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "could not connect (is the endpoint right and reachable?)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "the connection closed before an answer arrived"
    return type(exc).__name__
