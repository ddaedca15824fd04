"""Reading one JSON value of a server's answer leniently: typed, or noted and left unknown.

The server is trusted for nothing structural: every field may be missing or of the wrong type.
Each reader here returns the value it could read, or a safe unknown (None, (), {}) and a note in
``notes`` saying what looked odd; none raises. Counts outside 0–``MAX_COUNT``, NaN, infinity,
booleans and timestamps that overflow are unknown; lone surrogates become U+FFFD. TMS tags are
read in both shapes (``{key, value}`` and ``{key, values}``).

Why apart from ``models``: these readers know nothing of pools; ``models.Pool.from_api`` says
which field is read with which, in one visible place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone

from .text import quoted

__all__ = ["MAX_COUNT", "MAX_TAGS", "TAGS_ANNOTATION", "Tags", "annotated_tags", "control_mode",
           "count_of", "is_finite", "is_number", "kind_of", "mapping_of", "parse_tags",
           "scope_of", "shown", "text_labels", "text_of", "time_of", "whole"]

# the pool's TMS tags, as a JSON string (docs/modelarts-api.md §9.2)
TAGS_ANNOTATION = "os.modelarts/tms.tags"
MAX_TAGS = 100  # a pool holds at most 20 (UNCONFIRMED); more is a server gone wrong
_MAX_ANNOTATION = 64 * 1024  # 20 tags of 128 + 255 characters fit many times over
_EARLIEST = datetime(2015, 1, 1, tzinfo=timezone.utc)  # before ModelArts: a server's "unknown"
# Counts (nodes, per flavor, per zone) above this are a server gone wrong, not a pool: read as
# unknown, so no sum, table column (pandas Int64) or text grows without bound.
MAX_COUNT = 1_000_000
_MAX_CONTROL_MODE = 2**31 - 1  # a bit field; a larger value is unreadable (deletion refused)

# TMS tags: key → its values (one, as a rule; the SDK's shape allows a list).
Tags = Mapping[str, tuple[str, ...]]


def text_labels(labels: Mapping) -> dict[str, str]:
    """The labels whose key and value are text: a filter on labels is decided on these alone,
    so a label the server sent as a number or a list matches no ``--label`` (fails closed)."""
    return {whole(key): whole(value) for key, value in labels.items()
            if isinstance(key, str) and isinstance(value, str)}


def mapping_of(value: object, where: str, notes: list[str], required: bool = True) -> Mapping:
    """An object, or {} (noted unless it may be absent): a missing part reads as empty."""
    if isinstance(value, Mapping):
        return value
    if value is not None or required:
        notes.append(f"{where} is {kind_of(value)}, expected an object")
    return {}


def kind_of(value: object) -> str:
    """What a value is, for a note ("a list", "missing"), never the value itself."""
    if is_number(value) and not is_finite(value):
        return "not a finite number"  # never "nan" or "inf" in what a view prints
    return "missing" if value is None else f"a {type(value).__name__}"


def shown(value: object) -> str:
    """A server's odd value, quoted for a note (NaN and infinity described, not printed)."""
    return kind_of(value) if is_number(value) and not is_finite(value) else quoted(value, 40)


def text_of(value: object, where: str, notes: list[str]) -> str | None:
    if value is None:
        return value
    if isinstance(value, str):
        return whole(value)
    if is_finite(value):
        return str(value)
    notes.append(f"{where} is {kind_of(value)}, expected text")
    return None


def is_number(value: object) -> bool:
    """An int or float, a bool excluded (JSON's true is no number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: object) -> bool:
    """A number that prints as one: not NaN or infinite (Python's JSON reads both)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_number(value)  # an int: math.isfinite would overflow on a huge one


def whole(text: str) -> str:
    """Lone surrogates (JSON may carry ``"\\ud800"``) become U+FFFD: a kernel cannot send them
    to the notebook, nor a terminal print them."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def count_of(value: object, where: str, notes: list[str]) -> int | None:
    """A count between 0 and ``MAX_COUNT``, from a number or its digits; else None (unknown),
    with a note: a negative, huge, fractional, infinite or boolean count is no count."""
    if value is None:
        return None
    if isinstance(value, bool):
        notes.append(f"{where} is a bool, expected a number")
        return None
    number = value if isinstance(value, int) else _digits(value)
    if number is None or not 0 <= number <= MAX_COUNT:
        notes.append(f"{where} is {shown(value)}, expected a count from 0 to {MAX_COUNT:,}")
        return None
    return number


def _digits(value: object) -> int | None:
    """The whole number a short text (or float) spells, as ``int(str(value))`` reads it."""
    text = str(value) if isinstance(value, (str, float)) else ""
    try:
        return int(text) if len(text) <= 20 else None
    except ValueError:
        return None


def control_mode(value: object, notes: list[str]) -> int | None:
    """Bit flags; missing means 0 (no restriction), anything but a whole number ≥ 0 is None."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_CONTROL_MODE:
        return value
    notes.append(f"spec.controlMode is {shown(value)}, expected a whole number")
    return None


def time_of(value: object, where: str, notes: list[str]) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        notes.append(f"{where} is {shown(value)}, not a timestamp")
        return None
    try:  # in UTC, as every view shows it; year 9999 at -23:59 is past datetime's range
        usable = moment.tzinfo is not None and moment.astimezone(timezone.utc) >= _EARLIEST
    except OverflowError:
        usable = False
    if not usable:  # no zone, Go's/Unix's zero time, or beyond year 9999 in UTC
        notes.append(f"{where} {value!r:.40} is no usable time")
        return None
    return moment


def scope_of(value: object, notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        notes.append(f"spec.scope is {kind_of(value)}, expected a list")
        return ()
    return tuple(str(item) for item in value
                 if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)))


def parse_tags(value: object, where: str, notes: list[str], *, strict: bool = True
               ) -> dict[str, tuple[str, ...]] | None:
    """TMS tags from a list of ``{key, value}`` (OTC, the annotation) or ``{key, values}``
    (Huawei's SDK) objects; None when ``value`` is no list. ``strict`` (one pool's tags): one
    item we cannot read, or more than MAX_TAGS, makes the tags unknown (None) — it might be
    the very tag a keep-list looks for; otherwise odd items are skipped."""
    if not isinstance(value, list):
        notes.append(f"{where} is {kind_of(value)}, expected a list of tags")
        return None
    if strict and len(value) > MAX_TAGS:
        notes.append(f"{where} holds {len(value)} tags, more than a pool can carry")
        return None
    tags: dict[str, tuple[str, ...]] = {}
    for item in value:
        tag = _tag(item)
        if tag is None:
            notes.append(f"{where} holds an unreadable tag {quoted(item, 60)}")
            if strict:
                return None
            continue
        tags[tag[0]] = tags.get(tag[0], ()) + tag[1]
    return tags


def _tag(item: object) -> tuple[str, tuple[str, ...]] | None:
    """``(key, values)`` of one tag object, exactly one of its two shapes; else None."""
    if not isinstance(item, Mapping) or not isinstance(item.get("key"), str) or not item["key"]:
        return None
    if set(item) == {"key", "values"} and isinstance(item["values"], list):
        raw = item["values"]
    elif set(item) <= {"key", "value"}:
        raw = [item.get("value", "")]
    else:
        return None
    if not all(isinstance(v, str) for v in raw):
        return None
    return whole(item["key"]), tuple(whole(v) for v in raw)


def annotated_tags(value: object, notes: list[str]) -> dict[str, tuple[str, ...]] | None:
    """The ``os.modelarts/tms.tags`` annotation: a JSON string (format UNCONFIRMED)."""
    if value is None:
        return None
    if not isinstance(value, str):
        notes.append(f"{TAGS_ANNOTATION} is {kind_of(value)}, expected JSON text")
        return None
    if not value.strip():
        return {}
    try:
        decoded = json.loads(value) if len(value) <= _MAX_ANNOTATION else None
    except (ValueError, RecursionError):
        decoded = None
    if decoded is None:
        notes.append(f"{TAGS_ANNOTATION} is not JSON we can read")
        return None
    return parse_tags(decoded, TAGS_ANNOTATION, notes)


# -- every documented field, for the Details views (docs/modelarts-api.md §1.2) ----------------
