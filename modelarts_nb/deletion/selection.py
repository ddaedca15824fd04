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

from ..gateway.api import PoolsApi
from ..gateway.errors import ApiError, AuthenticationError, PoolNotFound
from ..gateway.fanout import fan_out
from ..gateway.models import DEFAULT_WORKSPACE, Pool, Tags
from ..gateway.names import is_workspace_id
from ..gateway.text import one_line

__all__ = ["Filters", "Listing", "current_tags", "list_selected", "parse_age", "parse_tag"]

_AGE = re.compile(r"(?:(\d{1,6})([smhdw]))+")
_AGE_PART = re.compile(r"(\d{1,6})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_AGE = 100 * 365 * 86400
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What ``status=created|failed|creating`` asks the list for, by ``status.phase``. The docs name
# the three groups (docs/modelarts-api.md §2) and the phases (docs/modelarts-api.md §1.2,
# status.phase), never which phase is in which group: this is the sandbox's reading
# (sandbox/select.py), UNCONFIRMED. A phase in no
# group (unknown, misspelt, missing) matches no --status: fails closed.
_STATUS_PHASES: dict[str, frozenset[str]] = {
    "created": frozenset({"Running", "Abnormal", "Deleting", "Error"}),
    "failed": frozenset({"CreationFailed", "ScalingFailed"}),
    "creating": frozenset({"Creating", "Waiting"}),
}

Tag = tuple[str, "str | None"]  # KEY=VALUE, or KEY alone: any value


def parse_tag(text: str, option: str = "--tag") -> Tag:
    """``KEY=VALUE`` or ``KEY`` as TMS allows them (key 1-128 characters, not ``_sys_``;
    value up to 255); ValueError with the reason otherwise."""
    key, sep, value = text.partition("=")  # exact: " team" is another key than "team"
    if not key.strip() or len(key) > 128 or key.startswith("_sys_") or _CONTROL.search(text):
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
    if seconds > _MAX_AGE:
        raise ValueError(f"--older-than {one_line(text, 40)!r}: at most 100 years; expected a "
                         "duration such as 90m, 8h, 3d or 1d12h")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Filters:
    """What a ``%pools`` line selects. ``label_selector``/``status`` go to the server, and are
    checked again on each pool it returns: a server or proxy that ignores them must not widen
    a deletion."""

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
                    or _narrows_names(self.name)
                    or (self.older_than and self.older_than.total_seconds()))

    def matches(self, pool: Pool, now: datetime) -> bool:
        """The client-side filters; tags must be known (``None`` never matches a tag)."""
        return (
            (self.phase is None or pool.phase == self.phase)
            and (self.name is None or any(fnmatch.fnmatchcase(text, self.name)
                                          for text in (pool.display_name or "", pool.id)))
            and (self.older_than is None or (pool.created is not None
                                             and now - pool.created >= self.older_than))
            and all(_has(pool.tags, tag) for tag in self.tags)
            and self.as_asked(pool)
        )

    def as_asked(self, pool: Pool) -> bool:
        """Whether the pool is one the server was asked for (``label_selector``, ``status``),
        decided on its own labels and phase: the server's answer is not trusted to be
        filtered. What cannot be decided does not match (fails closed): a selector term other
        than KEY=VALUE, a label that is not text, a phase in no ``_STATUS_PHASES`` group (which
        phase is in which group is UNCONFIRMED)."""
        if self.label_selector:
            terms = _label_terms(self.label_selector)
            if terms is None or any(pool.labels.get(k) != v for k, v in terms):
                return False
        return not self.status or pool.phase in _STATUS_PHASES.get(self.status, ())

    def kept(self, pool: Pool) -> str | None:
        """Why a keep-tag protects the pool, if it does (unknown tags count as protected)."""
        if not self.keep:
            return None
        if pool.tags is None:
            return "kept: its tags could not be read (--keep-tag)"
        for tag in self.keep:  # loosely: "Keep = yes" still keeps keep=yes
            if _has(_loose(pool.tags), _loose_tag(tag)):
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


def list_selected(api: PoolsApi, filters: Filters, now: datetime | None = None, *,
                  confirm: bool = False) -> Listing:
    """List (every workspace at once with ``all_workspaces``), then filter. Tags come from
    the pools' annotation, and from the tag API for a pool without one; with ``confirm``
    (before deleting: an annotation may be stale, UNCONFIRMED) every pool a tag filter or
    keep-tag decides on is read through the tag API, and one it cannot read is left out of
    ``--tag`` and kept by ``--keep-tag``."""
    now = now or datetime.now(timezone.utc)
    listing = Listing()
    pools = _as_asked(filters, _list(api, filters, listing.notes), listing.notes)
    undated = sum(pool.created is None for pool in pools)
    if filters.older_than is not None and undated:
        listing.notes.append(f"{undated} pool(s) left out: no usable creation time to compare")
    listed = {pool.id: pool for pool in pools}  # as the list showed them
    if filters.tags or filters.keep:  # tags read only for pools the other filters keep
        untagged = dataclasses.replace(filters, tags=())
        pools = _with_tags(api, [p for p in pools if untagged.matches(p, now)], confirm)
        unread = [one_line(pool.label, 80) for pool in pools if pool.tags is None]
        if unread:
            more = ", …" if len(unread) > 3 else ""
            effect = " and ".join(["left out of --tag"] * bool(filters.tags)
                                  + ["kept by --keep-tag"] * bool(filters.keep))
            listing.notes.append(
                f"{len(unread)} pool(s) whose tags could not be read"
                f"{' through the tag API' if confirm else ''} ({', '.join(unread[:3])}{more}): "
                f"{effect}")
    listing.pools = [pool for pool in pools if filters.matches(pool, now)]
    listing.kept = {pool.id: why for pool in listing.pools
                    if (why := _kept(filters, pool, listed[pool.id]))}
    return listing


def _as_asked(filters: Filters, pools: list[Pool], notes: list[str]) -> list[Pool]:
    """The pools that match ``--label``/``--status`` on their own data; the others are left
    out in one line, so the person knows the server (or a proxy) did not filter as asked."""
    chosen = [pool for pool in pools if filters.as_asked(pool)]
    if len(chosen) < len(pools):
        flags = [f for f, on in (("--label", filters.label_selector),
                                 ("--status", filters.status)) if on]
        notes.append(f"{len(pools) - len(chosen)} pool(s) the server returned for "
                     f"{' and '.join(flags)} do not match {'them' if len(flags) > 1 else 'it'}: "
                     "left out")
    return chosen


def _kept(filters: Filters, pool: Pool, listed: Pool) -> str | None:
    """Why a keep-tag protects ``pool``: by the tags it was decided on, or by what its
    listing showed (an annotation the tag API contradicts, or one we could not read)."""
    why = filters.kept(pool)
    if why or not filters.keep or listed is pool:
        return why
    if listed.annotated and listed.tags is None:
        return "kept: its tag annotation could not be read (--keep-tag)"
    why = filters.kept(listed) if listed.tags is not None else None
    return why and f"{why} (as its tag annotation says)"


def _list(api: PoolsApi, filters: Filters, notes: list[str]) -> list[Pool]:
    """One list, or one per workspace (all at once: one round trip more), de-duplicated by
    id. A pool the server lists for a workspace it is not in is left out (a server that
    ignores ``workspaceId`` must not widen a selection), and so is a workspace we cannot
    send or read — each said in one line."""
    def one(workspace: str | None) -> list[Pool]:
        try:
            listed = api.list_pools(label_selector=filters.label_selector,
                                    status=filters.status, workspace=workspace)
        except ApiError as exc:
            if not filters.all_workspaces or isinstance(exc, AuthenticationError):
                raise
            notes.append(f"workspace {workspace} not listed: {one_line(str(exc), 200)}")
            return []
        inside = [p for p in listed if workspace is None or p.workspace_id == workspace]
        if len(inside) < len(listed):
            notes.append(f"{len(listed) - len(inside)} pool(s) listed for workspace "
                         f"{workspace} belong to another: left out there")
        return inside

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
            first = seen.setdefault(pool.id, pool)
            if first.tags != pool.tags:  # two answers disagree: the tags are not known
                seen[pool.id] = dataclasses.replace(first, tags=None, annotated=True)
    return list(seen.values())


def current_tags(api: PoolsApi, pool: Pool, filters: Filters | None) -> Pool:
    """For tag filters and keep-tags: ``pool`` with its tags as the tag API says now (an
    annotation may be stale), unknown when they cannot be read — which fails closed: an
    unknown pool matches no ``--tag`` and is kept by any ``--keep-tag``."""
    if filters is None or not (filters.tags or filters.keep):
        return pool
    try:
        return dataclasses.replace(pool, tags=api.pool_tags(pool.id))
    except ApiError:
        return dataclasses.replace(pool, tags=None)


def _with_tags(api: PoolsApi, pools: list[Pool], confirm: bool) -> list[Pool]:
    """Tags from the tag API (8 at once) for the pools without a readable annotation, or for
    all with ``confirm``; a pool whose tags cannot be read that way gets ``tags=None``, and
    one gone since the list (404) is dropped."""
    def read(pool: Pool) -> Pool | None:
        if pool.tags is not None and not confirm:
            return pool
        try:
            return dataclasses.replace(pool, tags=api.pool_tags(pool.id))
        except PoolNotFound:
            return None
        except ApiError:
            return dataclasses.replace(pool, tags=None)

    return [p for p in fan_out(api, read, pools, name="modelarts-nb-tags") if p is not None]


def _loose(tags: Tags | None) -> Tags | None:
    if tags is None:
        return None
    loose: dict[str, tuple[str, ...]] = {}
    for key, values in tags.items():  # "Keep" and "keep" both count
        flat = key.strip().casefold()
        loose[flat] = loose.get(flat, ()) + tuple(v.strip().casefold() for v in values)
    return loose


def _loose_tag(tag: Tag) -> Tag:
    return tag[0].strip().casefold(), None if tag[1] is None else tag[1].strip().casefold()


def _has(tags: Tags | None, tag: Tag) -> bool:
    key, value = tag
    return tags is not None and key in tags and (value is None or value in tags[key])


def _show(tag: Tag) -> str:
    return tag[0] if tag[1] is None else f"{tag[0]}={tag[1]}"


def _label_terms(selector: str) -> list[tuple[str, str]] | None:
    """``KEY=VALUE,…`` as ``%pools --label`` sends it; None for any other term (``k!=v``,
    ``k``, ``!k``, ``k==v``, an empty one): no pool matches what we cannot read."""
    terms = []
    for term in selector.split(","):
        key, sep, value = term.strip().partition("=")
        if not (sep and key) or key.endswith("!") or "=" in value:
            return None
        terms.append((key, value))
    return terms


_HEX = "0123456789abcdef"
_SLUGS = ("qqq", "zzzzzz9")  # ids of 36 and 40 characters, as the pool id grammar allows


def _narrows_names(pattern: str | None) -> bool:
    """Whether a ``--name`` glob can leave a pool out. A pool matches by display name or by id, and
    ids are ``<slug>-<32 hex>`` (the example in docs/modelarts-api.md §1.1, the sandbox): the slug a
    person's choice, the hex random. A glob that, for each of two unrelated slugs, matches some id
    with that slug, whatever hex it takes, matches every pool (or all but a few, by chance): no
    filter. So ``*``, ``?*``, ``[a-z]*``, ``*-*``, ``*[0-9a-f]*`` and ``*0*`` are none, and
    ``student-*``, ``*ml101*``, ``pool-0?`` are filters."""
    if not pattern:
        return False
    return not all(_fits(pattern, [*slug, "-", *[_HEX] * 32]) for slug in _SLUGS)


def _fits(pattern: str, template: list[str]) -> bool:
    """Whether some text whose i-th character is one of ``template[i]`` matches the glob:
    the glob read token by token, keeping every token it may have reached (a small NFA)."""
    tokens = _glob_tokens(pattern)
    alphabet = set("".join(template))
    takes = [{c for c in alphabet if fnmatch.fnmatchcase(c, token)} for token in tokens]
    reach = _after_stars(tokens, {0})
    for chars in template:
        reach = _after_stars(tokens, {k + (tokens[k] != "*") for k in reach
                                      if k < len(tokens) and takes[k] & set(chars)})
    return len(tokens) in reach


def _after_stars(tokens: list[str], reach: set[int]) -> set[int]:
    """A ``*`` may match nothing: reaching it reaches the token after it too."""
    for k, token in enumerate(tokens):
        if k in reach and token == "*":
            reach.add(k + 1)
    return reach


def _glob_tokens(pattern: str) -> list[str]:
    """The glob as fnmatch reads it: ``*``, ``?``, a ``[...]`` class or one character (an
    unclosed ``[`` is one), each tested on a character with fnmatch itself."""
    tokens, i = [], 0
    while i < len(pattern):
        end = i + 1
        if pattern[i] == "[":
            j = i + 1 + pattern.startswith("!", i + 1)
            j += pattern.startswith("]", j)
            end = pattern.find("]", j) + 1 or i + 1
        tokens.append(pattern[i:end])
        i = end
    return tokens
