"""The API gateway's authentication, as Huawei's APIG does it (docs/modelarts-api.md §3, §5.2).

AK/SK signatures are recomputed from what actually arrived (method, raw path, raw query, the
received values of the signed headers, the body) with the same pure functions the client uses,
so a client that signs anything differently from ``huaweicloudsdkcore`` is caught here.
Error texts never contain the AK, the signature or any other credential.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..gateway import signer

__all__ = ["AuthResult", "Gate", "LOCK_AFTER", "LOCK_SECONDS", "MAX_SKEW", "Temporary",
           "OwnerRefusal"]

MAX_SKEW = 15 * 60.0  # X-Sdk-Date tolerance (HWC devg-apisign api-sign-0001)
LOCK_AFTER = 5  # more than this many consecutive failures locks the AK (HWC ocr_01_0063)
LOCK_SECONDS = 5 * 60.0
_MAX_TRACKED = 1024  # bound the failure table, whatever AKs strangers send

_PREFIX = "Incorrect IAM authentication information: "
NO_AUTH = _PREFIX + "Authorization not found"
BAD_TOKEN = _PREFIX + "decrypt token fail"
BAD_SIGNATURE = _PREFIX + "verify aksk signature fail"
EXPIRED = _PREFIX + "calc ak sk signature fail: signature expired"
LOCKED = _PREFIX + "AK/SK locked for 5 minutes after repeated authentication failures"
# The exact APIG text for a missing/wrong X-Security-Token is UNCONFIRMED.
BAD_SECURITY_TOKEN = _PREFIX + "verify security token fail"
TOKEN_EXPIRED = _PREFIX + "token expires"  # APIG.0301 (docs/modelarts-api.md §5.2)

# Admin endpoints (``/_sandbox/...``): one line each, saying why and what to do instead.
_HOW = "sign it with this sandbox's own AK/SK (modelarts_nb.sandbox.admin)"
OWNER_UNSIGNED = f"admin request refused: it is not signed; {_HOW}"
OWNER_NOT_AKSK = f"admin request refused: an IAM token is not accepted here; {_HOW}"
OWNER_BAD_SIGNATURE = "admin request refused: the signature does not match this sandbox's AK/SK"
OWNER_EXPIRED = "admin request refused: X-Sdk-Date is missing or more than 15 minutes off"
OWNER_TEMPORARY = f"admin request refused: temporary (session) credentials are not accepted; {_HOW}"
OWNER_SECURITY_TOKEN = "admin request refused: this sandbox's security token is missing or wrong"


@dataclass(frozen=True)
class Temporary:
    """Temporary AK/SK + security token, as IAM's securitytokens API issues them."""

    access: str = field(repr=False)
    secret: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float  # sandbox clock, epoch seconds

    def to_iam(self) -> dict[str, dict[str, str]]:
        """IAM's answer: ``{"credential": {access, secret, securitytoken, expires_at}}``."""
        expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.expires_at))
        millis = int(self.expires_at % 1 * 1000)
        return {"credential": {
            "access": self.access, "secret": self.secret, "securitytoken": self.security_token,
            "expires_at": f"{expires}.{millis:03d}000Z",
        }}


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class OwnerRefusal:
    """Why an admin request is refused: ``status`` 401 (not authenticated) or 403 (authenticated
    with credentials that may not administer the sandbox), and a one-line ``message``."""

    status: int
    message: str


@dataclass(frozen=True)
class AuthResult:
    """``kind`` is what the request presented ("aksk"/"token"/None); ``error`` None means ok."""

    kind: str | None
    error: str | None


@dataclass
class Gate:
    """Credentials the sandbox accepts, plus the per-AK failure counters and locks."""

    ak: str = field(repr=False)
    sk: str = field(repr=False)
    token: str = field(repr=False)
    security_token: str | None = field(repr=False)
    clock: Callable[[], float]  # the sandbox clock (epoch seconds, includes clock_offset)
    _temporary: dict[str, Temporary] = field(default_factory=dict, repr=False)
    _failures: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, method: str, path: str, query: str, headers: Mapping[str, str],
              body: bytes) -> AuthResult:
        """Authenticate one request; ``headers`` maps lower-case names to received values."""
        if "authorization" in headers:
            return AuthResult("aksk", self._check_aksk(method, path, query, headers, body))
        if "x-auth-token" in headers:
            ok = hmac.compare_digest(headers["x-auth-token"].encode(), self.token.encode())
            return AuthResult("token", None if ok else BAD_TOKEN)
        return AuthResult(None, NO_AUTH)

    def check_owner(self, method: str, path: str, query: str, headers: Mapping[str, str],
                    body: bytes) -> OwnerRefusal | None:
        """None when the request is signed with the sandbox's own permanent AK/SK (and its
        security token, when it has one): the only credentials that may use admin endpoints.

        Same canonical request and HMAC as the API. The date window is checked against real
        time, not the skewable sandbox clock, so a test that shifts ``clock_offset`` can still
        reset the sandbox; and admin attempts neither count towards nor are stopped by the AK
        lockout, so a locked-out owner can still reset, and nobody can lock the owner out of
        the admin endpoints by failing on purpose.
        """
        if "authorization" not in headers:
            return OwnerRefusal(401, OWNER_NOT_AKSK if "x-auth-token" in headers
                                else OWNER_UNSIGNED)
        parsed = signer.parse_authorization(headers["authorization"])
        if parsed is None:
            return OwnerRefusal(401, OWNER_BAD_SIGNATURE)
        access, signed, sig = parsed
        with self._lock:
            temporary = access in self._temporary
        if temporary:
            return OwnerRefusal(403, OWNER_TEMPORARY)
        if "x-sdk-date" not in signed or not self._date_ok(headers.get("x-sdk-date", ""),
                                                          time.time()):
            return OwnerRefusal(401, OWNER_EXPIRED)
        if any(name not in headers for name in signed):
            return OwnerRefusal(401, OWNER_BAD_SIGNATURE)
        canonical = signer.canonical_request(method, path, query, headers, signed, body)
        expected = signer.signature(self.sk, headers["x-sdk-date"], canonical)
        good_ak = hmac.compare_digest(access.encode(), self.ak.encode())
        if not (good_ak and hmac.compare_digest(sig.encode(), expected.encode())):
            return OwnerRefusal(401, OWNER_BAD_SIGNATURE)
        if _security_token_error(self.security_token, headers, signed) is not None:
            return OwnerRefusal(401, OWNER_SECURITY_TOKEN)
        return None

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._locked_until.clear()
            self._temporary.clear()

    def issue_temporary(self, lifetime: float) -> Temporary:
        """New temporary credentials valid for ``lifetime`` s (IAM allows 15 min to 24 h; the
        sandbox accepts any positive lifetime, so rehearsals need not wait 15 minutes)."""
        if isinstance(lifetime, bool) or not 1 <= lifetime <= 86400:
            raise ValueError("lifetime must be a number of seconds from 1 to 86400")
        upper = string.ascii_uppercase + string.digits
        temporary = Temporary(
            access=_random(upper, 20),
            secret=_random(string.ascii_letters + string.digits, 40),
            security_token="gQpj" + _random(string.ascii_letters + string.digits + "-_", 200),
            expires_at=self.clock() + lifetime,
        )
        with self._lock:
            now = self.clock()  # forget keys expired over a minute ago: the table stays small
            self._temporary = {k: v for k, v in self._temporary.items()
                               if v.expires_at > now - 60}
            self._temporary[temporary.access] = temporary
        return temporary

    def expire_temporary(self, access: str) -> Temporary | None:
        """End temporary credentials now (as their lifetime running out would)."""
        with self._lock:
            old = self._temporary.get(access)
            if old is None:
                return None
            self._temporary[access] = dataclasses.replace(old, expires_at=self.clock() - 1)
            return self._temporary[access]

    def _check_aksk(self, method: str, path: str, query: str, headers: Mapping[str, str],
                    body: bytes) -> str | None:
        parsed = signer.parse_authorization(headers["authorization"])
        if parsed is None:
            return BAD_SIGNATURE  # not attributable to an AK, so it cannot count towards a lock
        access, signed, sig = parsed
        if self._is_locked(access):
            return LOCKED
        error = self._verify(method, path, query, headers, body, access, signed, sig)
        if error != TOKEN_EXPIRED:  # expiry is not a guessing attempt: it never locks an AK
            self._count(access, failed=error is not None)
        return error

    def _verify(self, method: str, path: str, query: str, headers: Mapping[str, str],
                body: bytes, access: str, signed: list[str], sig: str) -> str | None:
        """Check date window, signature and security token, in the gateway's order."""
        if "x-sdk-date" not in signed or not self._date_ok(headers.get("x-sdk-date", "")):
            return EXPIRED
        if any(name not in headers for name in signed):
            return BAD_SIGNATURE
        with self._lock:
            temporary = self._temporary.get(access)
        sk, token = self.sk, self.security_token
        if temporary is not None:
            sk, token = temporary.secret, temporary.security_token
        canonical = signer.canonical_request(method, path, query, headers, signed, body)
        expected = signer.signature(sk, headers["x-sdk-date"], canonical)
        good_ak = temporary is not None or hmac.compare_digest(access.encode(), self.ak.encode())
        good_sig = hmac.compare_digest(sig.encode(), expected.encode())
        if not (good_ak and good_sig):
            return BAD_SIGNATURE
        error = _security_token_error(token, headers, signed)
        if error is None and temporary is not None and temporary.expires_at <= self.clock():
            return TOKEN_EXPIRED
        return error

    def _date_ok(self, text: str, now: float | None = None) -> bool:
        try:
            sent = signer.parse_date(text.strip()).timestamp()
        except ValueError:
            return False
        return abs(sent - (self.clock() if now is None else now)) <= MAX_SKEW

    def _is_locked(self, access: str) -> bool:
        with self._lock:
            until = self._locked_until.get(access)
            if until is None:
                return False
            if time.monotonic() < until:
                return True
            del self._locked_until[access]
            self._failures.pop(access, None)
            return False

    def _count(self, access: str, *, failed: bool) -> None:
        """Consecutive failures per AK; the 6th locks it (real time, not the skewable clock)."""
        with self._lock:
            if not failed:
                self._failures.pop(access, None)
                return
            if access not in self._failures and len(self._failures) >= _MAX_TRACKED:
                self._failures.pop(next(iter(self._failures)))
            self._failures[access] = self._failures.get(access, 0) + 1
            if self._failures[access] > LOCK_AFTER:
                self._locked_until[access] = time.monotonic() + LOCK_SECONDS


def _security_token_error(expected: str | None, headers: Mapping[str, str],
                          signed: list[str]) -> str | None:
    """Temporary AK/SK need their (signed) token; a permanent AK must not carry one."""
    sent = headers.get("x-security-token")
    if expected is None:
        return None if sent is None else BAD_SECURITY_TOKEN
    if sent is None or "x-security-token" not in signed:
        return BAD_SECURITY_TOKEN
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return BAD_SECURITY_TOKEN
    return None
