"""Workspaces (FACTS-2 §6): the records ``GET /v1/{project_id}/workspaces`` lists, and its query.

Pools live in a workspace (label ``os.modelarts/workspace.id``); the default one has id
``"0"``, others a 32-hex id. ``GET /v2/{project_id}/pools`` without ``workspaceId`` lists
workspace "0" only here — the pessimistic reading of the UNCONFIRMED default, which is what
makes a client's "all workspaces" mode necessary.

Query: ``offset`` (0–2147483647, default 0), ``limit`` (1–1000, default 1000), ``sort_by``
(name | update_time | status, default name), ``order`` (asc | desc, default desc),
``enterprise_project_id`` (exact), ``name`` (substring, case-insensitive: "fuzzy" is
UNCONFIRMED) and ``filter_accessible`` (true/false: every sandbox workspace is accessible, so it
changes nothing). Anything else malformed is a 400.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_WORKSPACE", "Workspace", "WorkspaceBook", "seeded_workspace_id"]

DEFAULT_WORKSPACE = "0"
_SORT_KEYS = ("name", "update_time", "status")
_MAX_INT = 2**31 - 1


def seeded_workspace_id(seed: int, name: str) -> str:
    """A stable 32-hex id per (seed, name), independent of how many pools are seeded."""
    return hashlib.sha256(f"modelarts-nb-sandbox/{seed}/{name}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Workspace:
    """One workspace as ``ListWorkspace`` returns it (SDK ``WorkspaceResponse``)."""

    id: str
    name: str
    description: str = ""
    owner: str = "teacher"
    enterprise_project_id: str = "0"
    enterprise_project_name: str = "default"
    auth_type: str = "PUBLIC"  # PUBLIC | PRIVATE | INTERNAL
    create_time: int = 1767571200000  # milliseconds
    update_time: int = 1767571200000
    status: str = "NORMAL"  # CREATE_FAILED | NORMAL | DELETING | DELETE_FAILED
    status_info: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class WorkspaceBook:
    """The project's workspaces; ``"0"`` is always there."""

    _items: dict[str, Workspace] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, workspaces: list[Workspace]) -> None:
        with self._lock:
            self._items = {w.id: w for w in workspaces}
            self._items.setdefault(DEFAULT_WORKSPACE, Workspace(DEFAULT_WORKSPACE, "default"))

    def add(self, workspace: Workspace) -> str:
        with self._lock:
            self._items[workspace.id] = workspace
        return workspace.id

    def all(self) -> list[Workspace]:
        with self._lock:
            return list(self._items.values())

    def query(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        """The ``ListWorkspace`` answer; raises ValueError for a malformed query (→ 400)."""
        query = dict(params)
        offset = _integer(query.get("offset"), 0, 0, _MAX_INT)
        limit = _integer(query.get("limit"), 1000, 1, 1000)
        sort_by = query.get("sort_by") or "name"
        order = (query.get("order") or "desc").lower()
        accessible = (query.get("filter_accessible") or "false").lower()
        if sort_by not in _SORT_KEYS or order not in ("asc", "desc") or accessible not in (
                "true", "false"):
            raise ValueError("bad sort_by, order or filter_accessible")
        chosen = self.all()
        project = query.get("enterprise_project_id")
        if project:
            chosen = [w for w in chosen if w.enterprise_project_id == project]
        name = query.get("name")
        if name:
            chosen = [w for w in chosen if name.lower() in w.name.lower()]
        chosen.sort(key=lambda w: (getattr(w, sort_by), w.id), reverse=order == "desc")
        page = chosen[offset:offset + limit]
        return {"total_count": len(chosen), "count": len(page),
                "workspaces": [w.to_json() for w in page]}


def _integer(text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    value = int(text)  # ValueError for "1.5", "ten", "nan"
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return value
