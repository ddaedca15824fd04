"""From what a user typed (a pool id or a display name) to the pool, using reads only.

An id-shaped name that answers 404 never becomes another pool whose display name happens to be
that id: guessing is how the wrong pool gets deleted. The hint may name that pool; the user then
gives its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..gateway import errors
from ..gateway.api import PoolsApi
from ..gateway.models import Pool
from ..gateway.names import check_display_name, looks_like_pool_id
from ..gateway.text import one_line

__all__ = ["Resolved", "match", "resolve", "resolve_many", "told_apart"]


def resolve(api: PoolsApi, name: str) -> Pool:
    """The pool whose id is ``name``, else the only one whose display name is.

    Several pools sharing the display name is an error listing their ids (and carrying the
    pools, for a view to tell them apart).
    """
    if looks_like_pool_id(name):
        try:
            return api.get_pool(name)
        except errors.PoolNotFound as missing:
            raise _with_display_hint(api, missing, name) from None
    check_display_name(name)
    listed = api.list_pools()
    pool, why = match(listed, name)
    if pool is not None:
        return pool
    if why.startswith("no pool"):
        raise errors.PoolNotFound(
            status=404,
            what=f"{why} in project {api.settings.project_id} (checked the pool list)",
            from_server=False,
        )
    named = tuple(p for p in listed if p.display_name == name)
    ambiguous = errors.InvalidName(f"{why}; give the pool id instead — {_told_apart(named)}")
    ambiguous.candidates = named
    raise ambiguous


def match(listed: list[Pool], name: str) -> tuple[Pool | None, str]:
    """``name`` looked up in a pool list: the pool, or None and why not."""
    for pool in listed:
        if pool.id == name:
            return pool, ""
    named = [p for p in listed if p.display_name == name]
    if looks_like_pool_id(name):
        hint = f" (pool {_ids(named)} displays it as its name: give that id)" if named else ""
        return None, f"no pool has the id {name!r}{hint}"
    if len(named) == 1:
        return named[0], ""
    if named:
        return None, f"{len(named)} pools are named {name!r}: {_ids(named)}"
    return None, f"no pool with id or display name {name!r}"


Resolved = tuple[str, "Pool | None", str]


def resolve_many(api: PoolsApi, names: Iterable[str]) -> list[Resolved]:
    """One LIST for all ``names``: ``(name, pool or None, why not)`` each, and every pool once
    (a display name and the id of the same pool give one entry)."""
    listed = api.list_pools()
    seen: set[str] = set()
    resolved: list[Resolved] = []
    for name in dict.fromkeys(names):
        pool, why = match(listed, name)
        if pool is not None and pool.id in seen:
            continue
        if pool is not None:
            seen.add(pool.id)
        resolved.append((name, pool, why))
    return resolved


def _with_display_hint(
    api: PoolsApi, missing: errors.PoolNotFound, pool_id: str
) -> errors.PoolNotFound:
    try:
        named = [p for p in api.list_pools() if p.display_name == pool_id]
    except errors.ModelArtsError:
        return missing
    if named:
        missing.with_hint(
            f"no pool has this id, but {len(named)} pool(s) display it as their name "
            f"(id {_ids(named)}); if you meant that, give its id"
        )
    return missing


def told_apart(pools: Iterable[Pool]) -> list[tuple[str, str, str, str]]:
    """What tells pools of one display name apart, oldest first: (id, phase, created, nodes),
    each one line of text (the error line and the panel's table say the same)."""
    ordered = sorted(pools, key=lambda p: (p.created is None, p.created or datetime.min, p.id))
    return [(one_line(p.id, 80), one_line(p.phase or "phase unknown", 40),
             p.created.strftime("%Y-%m-%d %H:%M UTC") if p.created else "unknown",
             f"{p.node_count} node{'s' if p.node_count != 1 else ''}") for p in ordered]


def _told_apart(pools: tuple[Pool, ...], shown: int = 10) -> str:
    rows = told_apart(pools)
    parts = [f"{i}: {phase}, created {created}, {nodes}" for i, phase, created, nodes in
             rows[:shown]]
    more = f"; and {len(rows) - shown} more" if len(rows) > shown else ""
    return "; ".join(parts) + more


def _ids(pools: list[Pool]) -> str:
    return ", ".join(sorted(p.id for p in pools))
