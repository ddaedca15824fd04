"""Which pools a ``%pools`` line means: the selectors real pools have.

Teams group pools with TMS tags (mirrored in the ``os.modelarts/tms.tags`` annotation, or read
from the pool tag API when a pool has no such annotation), pools live in workspaces (a list
without ``workspaceId`` may cover workspace "0" only), and clean-up tools people trust also select
by age and honour a keep-list. ``metadata.labels`` is a closed set of system keys: ``--label``
stays for those. Everything here fails closed: a pool whose tags or age cannot be read is never
selected by them, and a pool a keep-tag might protect is kept.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .api import PoolsApi
from .errors import ModelArtsError
from .fanout import fan_out
from .models import DEFAULT_WORKSPACE, Pool, Tags
from .names import is_workspace_id
from .text import one_line

__all__ = ["Filters", "Listing", "list_selected", "parse_age", "parse_tag"]

_AGE = re.compile(r"(?:(\d{1,6})([smhdw]))+")
_AGE_PART = re.compile(r"(\d{1,6})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Tag = tuple[str, "str | None"]  # KEY=VALUE, or KEY alone: any value


def parse_tag(text: str, option: str = "--tag") -> Tag:
    """``KEY=VALUE`` or ``KEY`` as TMS allows them (key 1-128 characters, not ``_sys_``;
    value up to 255); ValueError with the reason otherwise."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not key or len(key) > 128 or key.startswith("_sys_") or _CONTROL.search(text):
        raise ValueError(f"{option} {one_line(text, 60)!r}: expected KEY=VALUE (or KEY), e.g. "
                         "course=ml101; a key is 1-128 characters and does not start with _sys_")
    if len(value) > 255:
        raise ValueError(f"{option} {key}=…: a tag value is at most 255 characters")
    return key, (value if sep else None)


def parse_age(text: str) -> timedelta:
    """``90m``, ``8h``, ``3d``, ``2w`` or combinations such as ``1d12h``."""
    if not _AGE.fullmatch(text.strip()):
        raise ValueError(f"--older-than {one_line(text, 40)!r}: expected a duration such as "
                         "90m, 8h, 3d or 1d12h")
    seconds = sum(int(n) * _UNIT[unit] for n, unit in _AGE_PART.findall(text))
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Filters:
    """What a ``%pools`` line selects. ``label_selector``/``status`` go to the server."""

    tags: tuple[Tag, ...] = ()
    keep: tuple[Tag, ...] = ()
    older_than: timedelta | None = None
    phase: str | None = None
    name: str | None = None
    label_selector: str | None = None
    status: str | None = None
    workspace: str | None = None
    all_workspaces: bool = False

    def narrows(self) -> bool:
        """Whether some filter can leave a pool out: a pattern or an age that matches every
        pool is no filter, and a workspace is a scope, not a filter."""
        return bool(self.tags or self.label_selector or self.status or self.phase
                    or _literal(self.name) or (self.older_than and self.older_than.total_seconds()))

    def matches(self, pool: Pool, now: datetime) -> bool:
        """The client-side filters; tags must be known (``None`` never matches a tag)."""
        return (
            (self.phase is None or pool.phase == self.phase)
            and (self.name is None or any(fnmatch.fnmatchcase(text, self.name)
                                          for text in (pool.display_name or "", pool.id)))
            and (self.older_than is None or (pool.created is not None
                                             and now - pool.created >= self.older_than))
            and all(_has(pool.tags, tag) for tag in self.tags)
        )

    def kept(self, pool: Pool) -> str | None:
        """Why a keep-tag protects the pool, if it does (unknown tags count as protected)."""
        if not self.keep:
            return None
        if pool.tags is None:
            return "kept: its tags could not be read (--keep-tag)"
        for tag in self.keep:
            if _has(pool.tags, tag):
                return f"kept by --keep-tag {_show(tag)}"
        return None


@dataclass
class Listing:
    """The selected pools (kept ones included, marked) and what could not be decided."""

    pools: list[Pool] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # pool id → why it is kept
    notes: list[str] = field(default_factory=list)  # one line each: pools left out unread

    def deletable(self) -> list[Pool]:
        return [pool for pool in self.pools if pool.id not in self.kept]


def list_selected(api: PoolsApi, filters: Filters, now: datetime | None = None) -> Listing:
    """List (every workspace at once with ``all_workspaces``), then filter; tags are read
    from the API only for the pools that need them (no annotation, and a tag filter)."""
    now = now or datetime.now(timezone.utc)
    listing = Listing()
    pools = _list(api, filters, listing.notes)
    undated = sum(pool.created is None for pool in pools)
    if filters.older_than is not None and undated:
        listing.notes.append(f"{undated} pool(s) left out: no creation time to compare")
    if filters.tags or filters.keep:  # tags read only for pools the other filters keep
        untagged = dataclasses.replace(filters, tags=())
        pools = _with_tags(api, [pool for pool in pools if untagged.matches(pool, now)])
        unread = [pool.label for pool in pools if pool.tags is None]
        if unread and filters.tags:
            more = ", …" if len(unread) > 3 else ""
            listing.notes.append(f"{len(unread)} pool(s) left out: their tags could not be "
                                 f"read ({', '.join(unread[:3])}{more})")
    listing.pools = [pool for pool in pools if filters.matches(pool, now)]
    listing.kept = {pool.id: why for pool in listing.pools if (why := filters.kept(pool))}
    return listing


def _list(api: PoolsApi, filters: Filters, notes: list[str]) -> list[Pool]:
    """One list, or one per workspace (all at once: one round trip more), de-duplicated by
    id; a workspace whose id we could not even send is skipped, and said."""
    def one(workspace: str | None) -> list[Pool]:
        return api.list_pools(label_selector=filters.label_selector, status=filters.status,
                              workspace=workspace)

    if not filters.all_workspaces:
        return one(filters.workspace)
    ids = list(dict.fromkeys([DEFAULT_WORKSPACE, *(w.id for w in api.list_workspaces())]))
    odd = [wid for wid in ids if not is_workspace_id(wid)]
    if odd:
        notes.append(f"{len(odd)} workspace(s) not listed: the server named them with an "
                     f"invalid id ({', '.join(one_line(repr(w), 40) for w in odd[:3])})")
    seen: dict[str, Pool] = {}
    for listed in fan_out(api, one, [w for w in ids if w not in odd], name="modelarts-nb-list"):
        for pool in listed:
            seen.setdefault(pool.id, pool)
    return list(seen.values())


def _with_tags(api: PoolsApi, pools: list[Pool]) -> list[Pool]:
    """Pools without a readable tag annotation get their tags from the tag API (8 at once);
    a pool whose tags still cannot be read keeps ``tags=None``."""
    def read(pool: Pool) -> Pool:
        if pool.tags is not None:
            return pool
        try:
            return dataclasses.replace(pool, tags=api.pool_tags(pool.id))
        except ModelArtsError:
            return pool

    return fan_out(api, read, pools, name="modelarts-nb-tags")


def _has(tags: Tags | None, tag: Tag) -> bool:
    key, value = tag
    return tags is not None and key in tags and (value is None or value in tags[key])


def _show(tag: Tag) -> str:
    return tag[0] if tag[1] is None else f"{tag[0]}={tag[1]}"


def _literal(pattern: str | None) -> bool:
    """A glob narrows only with a literal character beyond wildcards and character classes
    (``*``, ``?*``, ``[a-z]*`` match every pool id)."""
    return bool(pattern and re.sub(r"\[[^\]]*\]|[*?]", "", pattern))
