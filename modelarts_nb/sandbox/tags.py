"""TMS tags of pools (docs/modelarts-api.md §9.1, §9.2): request validation, the annotation, the
answer shapes.

Rules as documented: a key is 1–128 characters and does not start with ``_sys_``; a value is
0–255 characters; a pool holds at most 20 tags (COMM-KI, UNCONFIRMED officially). Which
characters TMS allows is not stated by our sources, so any string within those lengths is
accepted (a newline or HTML in a value reaches the client, which must show it safely).

Choices where the sources are silent or disagree (all UNCONFIRMED):
- create and delete answer 200 with the pool's tags in the SDK shape ``{"tags": [{"key",
  "values": [...]}]}`` (OTC-old says 204, which neither httpx nor the SDK can read a body from);
- a create naming the same key twice, or an empty ``tags`` list, is a bad request; a delete of
  a key the pool does not have, or with a value it does not hold, changes nothing;
- ``GET /pools/tags`` pages over keys (sorted), ``offset`` being the page number ("start page"
  in the SDK docstring), ``limit`` 200 by default.

Error texts never repeat what the caller sent: a 2,000-character or HTML key is described,
never echoed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_TAGS",
    "TAGS_ANNOTATION",
    "TagError",
    "all_tags",
    "annotation_text",
    "apply_create",
    "apply_delete",
    "from_annotation",
    "parse_change",
    "pool_tags",
    "validate",
]

TAGS_ANNOTATION = "os.modelarts/tms.tags"
MAX_TAGS = 20
KEY_MAX = 128
VALUE_MAX = 255
RESERVED = "_sys_"
LIST_LIMIT = 200
_MAX_ITEMS = 1000  # no request needs more; a bigger list is refused before any work


class TagError(ValueError):
    """A request the tag API refuses with 400; the message is safe to send back."""


def validate(key: object, value: object, *, value_optional: bool = False) -> None:
    """Raise TagError unless ``key``/``value`` follow the documented rules."""
    if not isinstance(key, str) or not 1 <= len(key) <= KEY_MAX:
        raise TagError(f"tag key must be a string of 1 to {KEY_MAX} characters")
    if key.startswith(RESERVED):
        raise TagError(f"tag keys starting with {RESERVED} are reserved for the system")
    if value is None and value_optional:
        return
    if not isinstance(value, str) or len(value) > VALUE_MAX:
        raise TagError(f"tag value must be a string of 0 to {VALUE_MAX} characters")


def parse_change(body: bytes, *, deleting: bool) -> list[tuple[str, str | None]]:
    """``{"tags": [{"key", "value"}]}`` → [(key, value)]; ``value`` None only when deleting
    without one (or with an empty one: "blank ⇒ delete by key", OTC-old)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TagError("the request body is not valid JSON") from None
    tags = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(tags, list) or not tags:
        raise TagError('the request body needs a non-empty "tags" list')
    if len(tags) > _MAX_ITEMS:
        raise TagError(f"too many tags in one request (a pool holds at most {MAX_TAGS})")
    items: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, dict):
            raise TagError('each tag must be an object with "key" and "value"')
        key, value = tag.get("key"), tag.get("value")
        if not deleting and "value" not in tag:
            raise TagError('each tag to create needs a "value" (it may be "")')
        validate(key, value, value_optional=deleting)
        assert isinstance(key, str)
        if not deleting and key in seen:
            raise TagError("the same tag key appears twice in one request")
        seen.add(key)
        items.append((key, (value or None) if deleting else value))
    return items


def apply_create(current: Mapping[str, str], items: Iterable[tuple[str, str | None]]
                 ) -> dict[str, str]:
    """Add or overwrite; refuses (changing nothing) when the pool would exceed 20 tags."""
    tags = dict(current)
    for key, value in items:
        tags[key] = value or ""
    if len(tags) > MAX_TAGS:
        raise TagError(f"a pool holds at most {MAX_TAGS} tags")
    return tags


def apply_delete(current: Mapping[str, str], items: Iterable[tuple[str, str | None]]
                 ) -> dict[str, str]:
    """Remove by key, or by key and value when a value is given (a mismatch changes nothing)."""
    tags = dict(current)
    for key, value in items:
        if key in tags and (value is None or tags[key] == value):
            del tags[key]
    return tags


def from_annotation(value: object) -> dict[str, str] | None:
    """The tags an ``os.modelarts/tms.tags`` annotation holds, or None when it holds none the
    API could serve (absent, not JSON, not a list of tags). Both shapes are read: ``{key,
    value}`` (the annotation's) and ``{key, values}`` (the SDK's: the first value)."""
    if not isinstance(value, str):
        return None
    try:
        decoded = json.loads(value) if value.strip() else []
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, list):
        return None
    tags: dict[str, str] = {}
    for item in decoded:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        raw = item.get("value", "")
        if "values" in item:
            values = item["values"]
            raw = values[0] if isinstance(values, list) and values else ""
        tags[item["key"]] = raw if isinstance(raw, str) else ""
    return tags


def annotation_text(tags: Mapping[str, str]) -> str:
    """The annotation value: compact JSON ``[{"key":…,"value":…}]`` (docs/modelarts-api.md §9.2)."""
    return json.dumps([{"key": k, "value": v} for k, v in tags.items()],
                      separators=(",", ":"), ensure_ascii=False)


def pool_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    """``ShowPoolTags`` (and create/delete) answer, SDK shape."""
    return {"tags": [{"key": k, "values": [v]} for k, v in tags.items()]}


def all_tags(every: Iterable[Mapping[str, str]], params: list[tuple[str, str]]) -> dict[str, Any]:
    """``ListPoolTags``: every key of every pool with its values de-duplicated (first seen
    first), keys sorted, one page. Raises TagError for a limit or offset that is not one."""
    query = dict(params)
    try:
        limit = int(query.get("limit") or LIST_LIMIT)
        page = int(query.get("offset") or 0)
    except ValueError:
        raise TagError("limit and offset must be integers") from None
    if not 1 <= limit <= 2**31 - 1 or not 0 <= page <= 2**31 - 1:
        raise TagError("limit must be at least 1 and offset at least 0")
    values: dict[str, dict[str, None]] = {}
    for tags in every:
        for key, value in tags.items():
            values.setdefault(key, {})[value] = None
    keys = sorted(values)[page * limit:(page + 1) * limit]
    return {"tags": [{"key": key, "values": list(values[key])} for key in keys]}
