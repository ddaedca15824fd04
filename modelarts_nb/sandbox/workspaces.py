"""Workspaces (docs/modelarts-api.md §10): the records ``GET /v1/{project_id}/workspaces`` lists,
and its query.

Pools live in a workspace (label ``os.modelarts/workspace.id``); the default one has id
``"0"``, others a 32-hex id. ``GET /v2/{project_id}/pools`` without ``workspaceId`` lists
workspace "0" only here — the pessimistic reading of the UNCONFIRMED default, which is what
makes a client's "all workspaces" mode necessary.

Query: ``offset`` (0–2147483647, default 0), ``limit`` (1–1000, default 1000), ``sort_by``
(name | update_time | status, default name), ``order`` (asc | desc, default desc),
``enterprise_project_id`` (exact), ``name`` (substring, case-insensitive: "fuzzy" is
UNCONFIRMED) and ``filter_accessible`` (true/false: every sandbox workspace is accessible, so it
changes nothing). Anything else malformed is a 400.

Workspace authentication (the DeletePool/ShowPool header ``X-ModelArts-User-ID``, "if there is
a tenant ID, it will be used for workspace authentication"): a request carrying it about a pool
in a PUBLIC workspace passes; in a PRIVATE or INTERNAL one only the workspace's
``allowed_tenants`` pass; others get ``WORKSPACE_DENIED``. Without the header IAM alone decides
(here: the signature). What each ``auth_type`` admits, and the refusal's status, code and text,
are UNCONFIRMED choices, kept here and in docs/tenant-and-details.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AUTH_TYPES", "DEFAULT_WORKSPACE", "WORKSPACE_DENIED", "WORKSPACE_DENIED_STATUS",
           "Workspace", "WorkspaceBook", "seeded_workspace_id", "workspace_refusal"]

DEFAULT_WORKSPACE = "0"
_SORT_KEYS = ("name", "update_time", "status")
_MAX_INT = 2**31 - 1
AUTH_TYPES = ("PUBLIC", "PRIVATE", "INTERNAL")
# UNCONFIRMED: the real service's status, error code and text for a tenant refused by workspace
# authentication. Chosen: 403 and ModelArts.5014 "Permission deny" (the OTC error-code table's
# generic refusal), with a text naming the workspace but never echoing the header.
WORKSPACE_DENIED_STATUS = 403
WORKSPACE_DENIED = {"error_code": "ModelArts.5014", "error_msg": "Permission deny"}


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
    # tenant ids (X-ModelArts-User-ID) a PRIVATE or INTERNAL workspace admits; never listed
    allowed_tenants: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """A typo in ``auth_type`` must not quietly make a workspace public."""
        if self.auth_type.upper() not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {', '.join(AUTH_TYPES)}")
        object.__setattr__(self, "allowed_tenants", tuple(self.allowed_tenants))

    def admits(self, tenant: str) -> bool:
        """Whether workspace authentication lets ``tenant`` act on this workspace's pools."""
        return self.auth_type.upper() == "PUBLIC" or tenant in self.allowed_tenants

    def to_json(self) -> dict[str, Any]:
        """As ListWorkspace answers: the allowed tenants are not part of it."""
        body = dataclasses.asdict(self)
        del body["allowed_tenants"]
        return body


def workspace_refusal(workspace: Workspace | None, workspace_id: str) -> dict[str, Any]:
    """The body of ``WORKSPACE_DENIED`` for a pool in ``workspace_id`` (one that does not exist
    admits nobody: fail closed)."""
    kind = workspace.auth_type.upper() if workspace is not None else "unknown"
    return {**WORKSPACE_DENIED,
            "error_msg": f"{WORKSPACE_DENIED['error_msg']}: workspace {workspace_id} ({kind}) "
                         "does not admit this tenant"}


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

    def get(self, workspace_id: str) -> Workspace | None:
        with self._lock:
            return self._items.get(workspace_id)

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
