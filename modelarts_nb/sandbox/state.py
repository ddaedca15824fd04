"""The pool store: current pool bodies, list filters, and the deletion clock.

Deletion is computed lazily from the sandbox clock whenever a pool is read, so there is no
background thread: a pool deleted at time T renders as ``Deleting`` with shrinking node counts
until ``T + delete_seconds`` and is gone (or, if told so, stuck in an error phase) afterwards.

Each pool also holds its TMS tags (``tags.py``). They are read from the body's
``os.modelarts/tms.tags`` annotation when the pool is added, and a change through the tag API
rewrites that annotation — unless the pool was added with ``annotate=False``: such a pool has
no annotation at all and shows its tags only through the tag API (whether the real service
updates the annotation is UNCONFIRMED; clients must cope with both). An annotation given in a
body is kept verbatim until the tags change, so a test can plant an odd one. A pool's tags go
with it when it is gone.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .select import matches_labels, parse_selector, status_phases
from .tags import TAGS_ANNOTATION, annotation_text, from_annotation
from .workspaces import DEFAULT_WORKSPACE

__all__ = ["Outcome", "PoolStore", "POOL_ID_RE", "iso"]

POOL_ID_RE = re.compile(r"[a-z][a-z0-9-]{34,61}[a-z0-9]")  # docs/modelarts-api.md §1.1
_RESOURCE_KEYS = ("creating", "available", "abnormal", "deleting")
_COPY_KEYS = ("flavor", "count", "maxCount", "nodePool")

NOT_FOUND = {"error_code": "ModelArts.50015001", "error_msg": "pool not found"}
# UNCONFIRMED: the real code/text for DELETE on a yearly/monthly pool is not documented
# (docs/modelarts-api.md §1.4); this is our choice.
PREPAID = {
    "error_code": "ModelArts.50015010",
    "error_msg": "Yearly/monthly pool cannot be deleted directly; "
    "unsubscribe it in the Billing Center.",
}
# UNCONFIRMED: the real refusal for a frozen pool is not documented; ModelArts.4116 is the
# documented "account in arrears" code, the usual reason for a freeze.
FROZEN = {
    "error_code": "ModelArts.4116",
    "error_msg": "The resource is frozen; no operation is allowed on it.",
}


def iso(epoch: float) -> str:
    """ISO-8601 UTC with a ``Z``, the way ModelArts writes timestamps."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Outcome:
    """What a DELETE produced: the HTTP status, the body, and whether a deletion started."""

    status: int
    body: dict[str, Any]
    accepted: bool = False


@dataclass
class _Entry:
    base: dict[str, Any]
    since: float | None = None  # sandbox-clock time the deletion started
    stamp: str | None = None  # metadata.deletionTimestamp
    fail: tuple[str, str] | None = None  # (phase, message) a deletion ends in
    tags: dict[str, str] = field(default_factory=dict)  # TMS tags, in the order they were set
    annotate: bool = True  # mirror tag changes into metadata.annotations (else: no annotation)

    def workspace(self) -> str:
        labels = self.base.get("metadata", {}).get("labels")
        value = labels.get("os.modelarts/workspace.id") if isinstance(labels, dict) else None
        return value if isinstance(value, str) and value else DEFAULT_WORKSPACE


@dataclass
class PoolStore:
    clock: Callable[[], float]
    delete_seconds: float
    _pools: dict[str, _Entry] = field(default_factory=dict)
    _accepted: dict[str, int] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- loading and direct manipulation (Sandbox methods) -------------------------------------
    def load(self, bodies: list[dict[str, Any]], tag_api_only: frozenset[str] = frozenset()
             ) -> None:
        """Replace every pool; those named in ``tag_api_only`` lose their tag annotation."""
        with self._lock:
            self._pools.clear()
            self._accepted.clear()
            for body in bodies:
                self.add(body, annotate=body["metadata"]["name"] not in tag_api_only)

    def add(self, body: dict[str, Any], *, annotate: bool = True) -> str:
        """Insert or replace a pool; a body already in phase Deleting starts its clock now.

        Its tags come from its ``os.modelarts/tms.tags`` annotation; ``annotate=False`` drops
        that annotation and keeps the tags for the tag API only."""
        body = copy.deepcopy(body)
        name = body.get("metadata", {}).get("name", "")
        if not isinstance(name, str) or not POOL_ID_RE.fullmatch(name):
            raise ValueError(f"metadata.name {name!r} is not a valid pool id")
        body.setdefault("apiVersion", "v2")
        body.setdefault("kind", "Pool")
        notes = body["metadata"].get("annotations")
        notes = notes if isinstance(notes, dict) else {}
        tags = from_annotation(notes.get(TAGS_ANNOTATION)) or {}
        if not annotate:
            notes.pop(TAGS_ANNOTATION, None)
        entry = _Entry(body, tags=tags, annotate=annotate)
        if body.get("status", {}).get("phase") == "Deleting":
            entry.since = self.clock()
            entry.stamp = body["metadata"].get("deletionTimestamp") or iso(entry.since)
        with self._lock:
            self._pools[name] = entry
        return name

    def remove(self, pool_id: str) -> None:
        with self._lock:
            self._pools.pop(pool_id, None)

    def ids(self, workspace: str | None = None) -> list[str]:
        """Pool ids in insertion order; only those of ``workspace`` unless it is None."""
        with self._lock:
            self._settle()
            return [pool_id for pool_id, entry in self._pools.items()
                    if workspace is None or entry.workspace() == workspace]

    # -- tags ----------------------------------------------------------------------------------
    def tags(self, pool_id: str) -> dict[str, str] | None:
        """The pool's tags (a copy), or None when there is no such pool."""
        with self._lock:
            self._settle()
            entry = self._pools.get(pool_id)
            return None if entry is None else dict(entry.tags)

    def all_tags(self) -> list[dict[str, str]]:
        """Every pool's tags, in every workspace (as ``ListPoolTags`` answers)."""
        with self._lock:
            self._settle()
            return [dict(entry.tags) for entry in self._pools.values()]

    def change_tags(self, pool_id: str, change: Callable[[dict[str, str]], dict[str, str]],
                    annotate: bool | None = None) -> dict[str, str] | None:
        """Replace the pool's tags by ``change(tags)`` (which may raise: nothing changes) and
        mirror them into the annotation if the pool does; ``annotate`` True/False also switches
        that mirroring on or off (off removes the annotation). None: no such pool."""
        with self._lock:
            self._settle()
            entry = self._pools.get(pool_id)
            if entry is None:
                return None
            entry.tags = change(dict(entry.tags))
            if annotate is not None:
                entry.annotate = annotate
            notes = entry.base["metadata"].get("annotations")
            if not isinstance(notes, dict):
                notes = entry.base["metadata"]["annotations"] = {}
            if entry.annotate:
                notes[TAGS_ANNOTATION] = annotation_text(entry.tags)
            else:
                notes.pop(TAGS_ANNOTATION, None)
            return dict(entry.tags)

    def get(self, pool_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._settle()
            entry = self._pools.get(pool_id)
            return None if entry is None else self._render(entry)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            self._settle()
            return [self._render(entry) for entry in self._pools.values()]

    def set_phase(self, pool_id: str, phase: str, message: str) -> None:
        """Force a phase; "Deleting" starts the deletion clock, anything else stops it."""
        with self._lock:
            self._settle()
            entry = self._pools[pool_id]
            status = entry.base.setdefault("status", {})
            status["phase"], status["message"] = phase, message
            if phase == "Deleting" and entry.since is None:
                entry.since = self.clock()
                entry.stamp = iso(entry.since)
            elif phase != "Deleting":
                entry.since = entry.stamp = None
                entry.base["metadata"].pop("deletionTimestamp", None)

    def fail_deletion(self, pool_id: str, phase: str | None, message: str) -> None:
        with self._lock:
            self._pools[pool_id].fail = None if phase is None else (phase, message)

    def accepted(self, pool_id: str) -> int:
        with self._lock:
            return self._accepted.get(pool_id, 0)

    # -- API operations ------------------------------------------------------------------------
    def select(self, selector: str, status: str, workspace: str) -> list[dict[str, Any]]:
        """Filter like ``GET /pools`` in one workspace; raises ValueError for a bad status or
        selector (-> 400)."""
        phases = status_phases(status)
        terms = parse_selector(selector)
        items = []
        with self._lock:
            self._settle()
            chosen = [e for e in self._pools.values() if e.workspace() == workspace]
            bodies = [self._render(entry) for entry in chosen]
        for body in bodies:
            labels = body["metadata"].get("labels", {})
            if phases is not None and body.get("status", {}).get("phase") not in phases:
                continue
            if matches_labels(labels, terms):
                items.append(body)
        return items

    def delete(self, pool_id: str) -> Outcome:
        with self._lock:
            self._settle()
            entry = self._pools.get(pool_id)
            if entry is None:
                return Outcome(404, dict(NOT_FOUND))
            if entry.since is not None:
                return Outcome(200, self._render(entry))
            if int(entry.base.get("spec", {}).get("controlMode") or 0) & (8 | 16):
                return Outcome(403, dict(FROZEN))
            annotations = entry.base["metadata"].get("annotations", {})
            if annotations.get("os.modelarts/billing.mode") == "1":
                return Outcome(400, dict(PREPAID))
            entry.since = self.clock()
            entry.stamp = iso(entry.since)
            self._accepted[pool_id] = self._accepted.get(pool_id, 0) + 1
            return Outcome(200, self._render(entry), accepted=True)

    # -- the deletion clock --------------------------------------------------------------------
    def _progress(self, entry: _Entry) -> float:
        assert entry.since is not None
        if self.delete_seconds <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.clock() - entry.since) / self.delete_seconds))

    def _settle(self) -> None:
        """Finish deletions whose time is up: drop the pool, or park it in its failure phase."""
        for pool_id, entry in list(self._pools.items()):
            if entry.since is None or self._progress(entry) < 1.0:
                continue
            if entry.fail is None:
                del self._pools[pool_id]
                continue
            status = entry.base.setdefault("status", {})
            status["phase"], status["message"] = entry.fail
            nodes = _shrink(entry.base.get("spec", {}).get("resources", []), 1.0)
            status["resources"] = _shape({"abnormal": nodes}, _object_form(entry.base))
            entry.base["metadata"]["deletionTimestamp"] = entry.stamp
            entry.since = None

    def _render(self, entry: _Entry) -> dict[str, Any]:
        body = copy.deepcopy(entry.base)
        if entry.since is None:
            return body
        remaining = 1.0 - self._progress(entry)
        body["metadata"]["deletionTimestamp"] = entry.stamp
        status = body.setdefault("status", {})
        status["phase"], status["message"] = "Deleting", ""
        for scope in status.get("scope", []):
            scope["state"] = "Disabling" if scope.get("state") != "Disabled" else "Disabled"
        nodes = _shrink(body.get("spec", {}).get("resources", []), remaining)
        status["resources"] = _shape(
            {"creating": [], "available": [], "abnormal": [], "deleting": nodes},
            _object_form(entry.base),
        )
        return body


def _object_form(body: dict[str, Any]) -> bool:
    """Whether this pool's status.resources uses objects (as the SDK models) or lists."""
    resources = body.get("status", {}).get("resources") or {}
    return any(isinstance(resources.get(key), dict) for key in _RESOURCE_KEYS)


def _shape(groups: dict[str, list[dict[str, Any]]], object_form: bool) -> dict[str, Any]:
    """Lists stay lists; in object form each key holds its first entry, or is left out."""
    if not object_form:
        return groups
    return {key: nodes[0] for key, nodes in groups.items() if nodes}


def _shrink(resources: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """Scale each flavor (and each AZ) to ``ceil(count * fraction)`` nodes, dropping zeros."""
    out = []
    for res in resources:
        item = {key: res[key] for key in _COPY_KEYS if key in res}
        azs = [
            {"az": az["az"], "count": math.ceil(az.get("count", 0) * fraction)}
            for az in res.get("azs", [])
        ]
        azs = [az for az in azs if az["count"] > 0]
        count = sum(az["count"] for az in azs) if azs else math.ceil(res.get("count", 0) * fraction)
        if count <= 0:
            continue
        item["count"] = item["maxCount"] = count
        if azs:
            item["azs"] = azs
        out.append(item)
    return out
