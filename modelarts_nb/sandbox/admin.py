"""Signed calls to a sandbox's admin endpoints (``/_sandbox/...``), one line each.

On a shared machine (a class on one JupyterHub) every student's sandbox listens on 127.0.0.1,
so "loopback only" keeps out the internet but not the neighbours. The admin endpoints (reset,
faults, the request log, session credentials) therefore take only requests signed with *that*
sandbox's own permanent AK/SK — the same ``SDK-HMAC-SHA256`` signature the API verifies, so no
second secret exists to leak or to print. Unsigned, wrongly signed, token-authenticated or
temporary-credential requests get 401/403 with one line saying why, and change nothing.
A class should start its sandboxes with ``start(unique_keys=True)`` (CLI ``--unique-keys``):
with the default keys, which are public constants, every student could sign for every sandbox.

From another process, with the variables the CLI prints (or ``export_env()`` set)::

    AdminClient.from_env().reset()
    python -m modelarts_nb.sandbox admin reset        # or: requests, clear-faults, fault JSON,
                                                      #     session-credentials [LIFETIME]

In the sandbox's own process, ``sb.admin()`` gives the same client (``sb.reset()`` etc. need no
HTTP at all). The client sends only to a loopback endpoint, so the keys are never signed
towards another host; its repr shows no secret.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..gateway.auth import AkSkAuth
from ..gateway.sender import default_tls
from .faults import Fault

__all__ = ["AdminClient", "AdminError", "main"]

PREFIX = "/_sandbox/"


class AdminError(RuntimeError):
    """An admin call the sandbox refused (or that could not be made): ``status`` (None when
    nothing answered) and the sandbox's one-line reason."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"sandbox admin: {message}" + (f" (HTTP {status})" if status else ""))
        self.status = status
        self.message = message


def _loopback(endpoint: str) -> str:
    """The endpoint without a trailing slash; ValueError unless it is plain http on loopback."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme != "http" or not local:
        raise ValueError("a sandbox endpoint is http:// on 127.0.0.1 (or localhost)")
    return endpoint.rstrip("/")


class AdminClient:
    """Signed requests to one sandbox's admin endpoints."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, *,
                 security_token: str | None = None, timeout: float = 5.0) -> None:
        self.endpoint = _loopback(endpoint)
        self._auth = AkSkAuth(access_key, secret_key, security_token=security_token)
        self.timeout = timeout

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AdminClient:
        """From ``MODELARTS_ENDPOINT`` and ``HUAWEICLOUD_SDK_AK``/``_SK`` (and
        ``HUAWEICLOUD_SDK_SECURITY_TOKEN``), as the CLI prints them."""
        env = os.environ if environ is None else environ
        missing = [n for n in ("MODELARTS_ENDPOINT", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")
                   if not env.get(n)]
        if missing:
            raise ValueError(f"set {', '.join(missing)} (the sandbox prints them)")
        return cls(env["MODELARTS_ENDPOINT"], env["HUAWEICLOUD_SDK_AK"], env["HUAWEICLOUD_SDK_SK"],
                   security_token=env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN") or None)

    def __repr__(self) -> str:
        return f"AdminClient({self.endpoint!r}, access_key=***, secret_key=***)"

    def response(self, method: str, name: str, body: Any = None) -> httpx.Response:
        """Send one signed admin request (``name`` like "reset"); any status is returned."""
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        with httpx.Client(auth=self._auth, timeout=self.timeout, trust_env=False,
                          verify=default_tls(trust_env=False)) as client:
            return client.request(method, self.endpoint + PREFIX + name.strip("/"),
                                  content=content, headers=headers)

    def call(self, method: str, name: str, body: Any = None) -> Any:
        """Send one signed admin request and return its JSON; AdminError unless it succeeded."""
        try:
            answer = self.response(method, name, body)
        except httpx.HTTPError as exc:
            raise AdminError(None, f"no answer from {self.endpoint} ({type(exc).__name__})"
                             ) from None
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not answer.is_success:
            reason = data.get("error") if isinstance(data, dict) else None
            raise AdminError(answer.status_code, str(reason or answer.reason_phrase)[:300])
        return data

    def requests(self) -> list[dict[str, Any]]:
        """The request log (no credential in it), oldest first."""
        data = self.call("GET", "requests")
        return data if isinstance(data, list) else []

    def inject(self, fault: Fault | Mapping[str, Any]) -> None:
        """Queue a fault (a ``Fault`` or its JSON form, e.g. ``{"status": 503}``)."""
        self.call("POST", "faults", _fault_json(fault))

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def reset(self) -> None:
        """Reseed pools, tags and workspaces; forget faults, requests and AK lockouts."""
        self.call("POST", "reset")

    def session_credentials(self, lifetime: float | None = None) -> dict[str, Any]:
        """The notebook session's current credentials (new ones for ``lifetime`` seconds when
        given), IAM-shaped: ``{"credential": {...}, "project_id", "region"}``."""
        if lifetime is None:
            return dict(self.call("GET", "session-credentials"))
        return dict(self.call("POST", "session-credentials", {"lifetime": lifetime}))


def _fault_json(fault: Fault | Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(fault, Fault):
        return dict(fault)
    default = Fault()
    data = {f.name: getattr(fault, f.name) for f in dataclasses.fields(Fault)
            if getattr(fault, f.name) != getattr(default, f.name)}
    if isinstance(data.get("body"), bytes):
        data["body"] = data["body"].decode("utf-8", "replace")
    return data


_USAGE = ("usage: python -m modelarts_nb.sandbox admin "
          "requests | reset | clear-faults | fault JSON | session-credentials [LIFETIME]")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m modelarts_nb.sandbox admin ...``: one admin call, signed with the sandbox's
    keys from the environment; 0 done, 1 refused or unanswered (one line), 2 usage."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        client = AdminClient.from_env()
        if args == ["requests"]:
            print(json.dumps(client.requests(), indent=1))
        elif args == ["reset"]:
            client.reset()
        elif args == ["clear-faults"]:
            client.clear_faults()
        elif len(args) == 2 and args[0] == "fault":
            client.inject(json.loads(args[1]))
        elif args and args[0] == "session-credentials" and len(args) <= 2:
            print(json.dumps(client.session_credentials(
                float(args[1]) if len(args) == 2 else None), indent=1))
        else:
            print(_USAGE, file=sys.stderr)
            return 2
    except (AdminError, ValueError) as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return 1
    return 0

