"""Validation of everything that ends up in a URL, done before any request is built.

A pool id goes straight into ``/v2/{project_id}/pools/{pool_name}``; anything that could change
that path (``/``, ``..``, ``?``, ``#``, ``%``, whitespace, control characters) must be refused here,
not escaped later, so that a typo can never address a different resource.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import InvalidName, quoted

__all__ = [
    "check_display_name",
    "check_endpoint",
    "check_pool_id",
    "check_project_id",
    "check_region",
    "check_workspace_id",
    "endpoint_key",
    "is_workspace_id",
    "is_loopback_host",
    "looks_like_pool_id",
]

# docs/modelarts-api.md §1.1: starts with a lowercase letter, only [a-z0-9-], does not end in '-',
# 36-63 chars.
_POOL_ID = re.compile(r"[a-z][a-z0-9-]{34,61}[a-z0-9]")
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_WORKSPACE_ID = _PROJECT_ID  # "0" or 32 hex characters (docs/modelarts-api.md §10)
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+){1,4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Display names are matched locally, but path-like input is refused as a pool name could be.
_DISPLAY_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f/\\?#%]|\.\.")
_NETLOC = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_EXAMPLE_ID = "mypool-8a1f2c3d4e5f60718293a4b5c6d7e8f9"


def looks_like_pool_id(value: str) -> bool:
    return isinstance(value, str) and _POOL_ID.fullmatch(value) is not None


def check_pool_id(value: object) -> str:
    """Return ``value`` if it is a well-formed pool id (``metadata.name``); else InvalidName."""
    return _valid(value, _POOL_ID, (
        "pool id", f"a pool id is 36-63 characters of lowercase letters, digits and '-', "
        f"starting with a letter (e.g. {_EXAMPLE_ID}); nothing was sent"))


def check_project_id(value: object) -> str:
    return _valid(value, _PROJECT_ID, (
        "project id", "expected letters, digits, '-' or '_' (a Huawei project id is 32 hex "
        "characters); nothing was sent"))


def check_workspace_id(value: object) -> str:
    return _valid(value, _WORKSPACE_ID, (
        "workspace id", "expected \"0\" (the default workspace) or a workspace id of letters, "
        "digits, '-' or '_' (see %pools --all-workspaces); nothing was sent"))


def is_workspace_id(value: str) -> bool:
    """Whether we can send ``value`` as a ``workspaceId`` (a server may list odd ones)."""
    return _WORKSPACE_ID.fullmatch(value) is not None


def _valid(value: object, pattern: re.Pattern[str], what: tuple[str, str]) -> str:
    """``value`` if it is a string ``pattern`` matches in full; else InvalidName saying
    ``invalid <what[0]> <value>: <what[1]>``."""
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise InvalidName(f"invalid {what[0]} {quoted(value)}: {what[1]}")
    return value


def check_display_name(value: object) -> str:
    """A display name (label ``os.modelarts/name``) is matched locally, never put in a path."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or value != value.strip()
        or len(value) > 128
        or _DISPLAY_FORBIDDEN.search(value)
    ):
        raise InvalidName(
            f"invalid pool name {quoted(value)}: give a pool id or a display name "
            "(1-128 characters without / \\ ? # % .. or leading/trailing spaces); "
            "nothing was sent"
        )
    return value


def check_region(value: object) -> str:
    return _valid(value, _REGION, ("region", "expected a region id such as cn-north-4"))


def is_loopback_host(host: str) -> bool:
    """Decided on the parsed host (``urlsplit(url).hostname``), never on a string prefix."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(value: object) -> str:
    """Return the endpoint in its one canonical spelling; plain http only on loopback."""
    if not isinstance(value, str) or _CONTROL.search(value) or " " in value:
        raise InvalidName(f"invalid endpoint {quoted(value)}: expected https://host[:port]")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidName(f"invalid endpoint {quoted(value)}: {exc}") from None
    host = parts.hostname or ""
    if not _NETLOC.fullmatch(parts.netloc.rpartition("@")[2]):  # e.g. "[::1].evil": parsers
        raise InvalidName(  # disagree on such hosts, so none of them is accepted
            f"invalid endpoint {quoted(value)}: expected https://host[:port]"
        )
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidName(f"invalid endpoint {quoted(value)}: expected https://host[:port]")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidName(
            f"invalid endpoint {quoted(value)}: no user info, query or fragment allowed"
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise InvalidName(
            f"refusing plain http:// for {host}: credentials and the DELETE would travel "
            "unencrypted; use https:// (http is only allowed for 127.0.0.1/localhost)"
        )
    return _canonical(parts.scheme, host, parts.port, parts.path)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _canonical(scheme: str, host: str, port: int | None, path: str) -> str:
    """One spelling per endpoint (``HTTP://LocalHost:443/`` → ``http://localhost:443``), so
    that the one-DELETE-per-pool registry and the loopback check see the same endpoint."""
    host = f"[{host.lower()}]" if ":" in host else host.lower()
    port_part = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{port_part}{path.rstrip('/')}"


def endpoint_key(endpoint: str) -> str:
    """The server an endpoint names, for comparing endpoints (never for sending): case, a
    trailing dot on the host, any loopback spelling (``localhost``, 127.x, ``::1``) and the
    default port all give one key, so the one-DELETE registry sees one server, not two."""
    try:
        parts = urlsplit(endpoint.strip())
        port = parts.port
    except ValueError:
        return endpoint
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    host = "localhost" if is_loopback_host(host) else f"[{host}]" if ":" in host else host
    port = port if port is not None else _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"
