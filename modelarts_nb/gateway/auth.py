"""Authentication as ``httpx.Auth`` flows: IAM token, and AK/SK ``SDK-HMAC-SHA256`` signing.

Both flows yield the request exactly once and never re-send it: a 401 is final (Huawei locks an
AK/SK for 5 minutes after more than 5 failed signatures). Their ``repr`` shows no secret.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from datetime import datetime, timezone

import httpx

from . import signer

__all__ = ["AkSkAuth", "TokenAuth", "SECRET_HEADERS"]

# Headers whose values must never surface anywhere (logs, errors, reprs, notebooks).
SECRET_HEADERS = frozenset({"authorization", "x-auth-token", "x-security-token"})


def _mask_in_httpx_reprs() -> None:
    """httpx masks only Authorization in ``repr(headers)``; add Huawei's token headers.

    The set lives in ``httpx._models`` (0.28) or ``httpx._utils`` (0.24-0.27); widening it only
    ever hides more, for every httpx user in the process.
    """
    for name in ("httpx._models", "httpx._utils"):
        try:
            sensitive = getattr(importlib.import_module(name), "SENSITIVE_HEADERS", None)
        except ImportError:
            continue
        if isinstance(sensitive, set):
            sensitive.update(SECRET_HEADERS)


_mask_in_httpx_reprs()


# Signed when present. The tenant header is signed because the SDK signs every header it sends
# (docs/modelarts-api.md §3.1 step 4): a gateway may then tell that the tenant id was not changed
# on the way.
_SIGNED = ("content-type", "host", "x-modelarts-user-id", "x-project-id", "x-sdk-date",
           "x-security-token")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TokenAuth(httpx.Auth):
    """Send an IAM token as ``X-Auth-Token`` (valid 24 h; obtained from IAM by the user)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token
        yield request

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"


class AkSkAuth(httpx.Auth):
    """Sign each request with AK/SK the way ``huaweicloudsdkcore``'s ``Signer`` does.

    The signed header set is fixed and minimal (content-type, host, x-project-id, x-sdk-date and,
    for temporary credentials, x-security-token; x-modelarts-user-id when the request carries the
    tenant id, as the SDK signs it): everything signed is sent with exactly the signed value, and
    headers httpx adds later (user-agent, accept...) do not affect the signature.
    """

    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        project_id: str | None = None,
        security_token: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ak, self._sk, self._clock = access_key, secret_key, clock
        self._project_id, self._security_token = project_id, security_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        headers = request.headers
        if self._project_id:
            headers["X-Project-Id"] = self._project_id
        if self._security_token:
            headers["X-Security-Token"] = self._security_token
        if "X-Sdk-Date" not in headers:
            headers["X-Sdk-Date"] = signer.format_date(self._clock())
        names = sorted(
            name
            for name in _SIGNED
            if name in headers
        )
        values = {name: headers[name] for name in names}
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        canonical = signer.canonical_request(
            request.method, path, query, values, names, request.content
        )
        sig = signer.signature(self._sk, headers["X-Sdk-Date"], canonical)
        headers["Authorization"] = signer.authorization_header(self._ak, names, sig)

    def __repr__(self) -> str:
        temporary = ", temporary" if self._security_token else ""
        return f"AkSkAuth(access_key=***, secret_key=***{temporary})"
