"""Huawei Cloud ``SDK-HMAC-SHA256`` request signing, as pure functions.

This follows ``huaweicloudsdkcore.signer.Signer`` step by step (docs/modelarts-api.md §3.1) and is
checked byte for byte against it in ``tests/test_signer.py``. It is shared by the client's
``httpx.Auth`` flow and by the sandbox, which verifies signatures the way the real API gateway does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "EMPTY_SHA256",
    "authorization_header",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "format_date",
    "parse_authorization",
    "parse_date",
    "parse_query",
    "signature",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AUTH_RE = re.compile(
    r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)"
)


def _encode(text: str) -> str:
    return quote(text, safe="~")


def format_date(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(DATE_FORMAT)


def parse_date(text: str) -> datetime:
    return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=timezone.utc)


def canonical_uri(path: str) -> str:
    """Decode, re-encode each segment with only '~' safe, and end with '/'."""
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sorted, ``%20``-encoded query; it is both signed and sent verbatim."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def parse_query(raw: str) -> list[tuple[str, str]]:
    """Split a raw query string into decoded pairs (the server side of ``canonical_query``)."""
    pairs = []
    for item in raw.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes = b"",
) -> str:
    """The six-line canonical form; ``headers`` maps lower-case names to values."""
    header_block = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(parse_query(query)),
            header_block,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    key = secret_key.encode("utf-8")
    return hmac.new(key, string_to_sign.encode("utf-8"), "sha256").hexdigest()


def authorization_header(access_key: str, signed_headers: list[str], sig: str) -> str:
    names = ";".join(signed_headers)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={names}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str] | None:
    """Return (access key, signed header names, signature), or None if malformed."""
    match = _AUTH_RE.fullmatch(value.strip())
    if match is None:
        return None
    return match.group(1), match.group(2).split(";"), match.group(3)
