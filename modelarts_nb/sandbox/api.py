"""What the gateway and ModelArts do with a request, independent of the HTTP transport.

Order, as on the real service: route (an unknown method/path is APIG.0101 before anything else),
authenticate (401 APIGW.0301), check the project (403 ModelArts.0210), then run the operation.

Routes: pools (v2: list, show, delete; workloads, nodes, workload statistics), the pool tag APIs
(v1: ``pools/{pool}/tags``, ``…/tags/create``, ``…/tags/delete`` with a JSON body, and
``pools/tags`` for every pool's keys; ``tags.py``) and ``GET /v1/{project}/workspaces``
(``workspaces.py``). ``GET /v2/{project}/pools`` lists one workspace: ``workspaceId``, or "0"
when it is omitted or empty.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..gateway import signer
from .carried import Carried, node_list, workload_page, workload_statistics
from .gate import Gate
from .state import NOT_FOUND, PoolStore
from .tags import TagError, all_tags, apply_create, apply_delete, parse_change, pool_tags
from .workspaces import DEFAULT_WORKSPACE, WORKSPACE_DENIED_STATUS, WorkspaceBook, workspace_refusal

__all__ = ["LIST_FILTERS", "Reply", "Route", "Service", "route"]

_LIST_RE = re.compile(r"/v2/(?P<project>[^/]+)/pools")
_POOL_RE = re.compile(r"/v2/(?P<project>[^/]+)/pools/(?P<pool>[^/]+)")
_CARRIED_RE = re.compile(r"/v2/(?P<project>[^/]+)/pools/(?P<pool>[^/]+)/(?P<kind>workloads|nodes)")
_STATS_RE = re.compile(r"/v2/(?P<project>[^/]+)/statistics/pools/(?P<pool>[^/]+)/workloads")
_ALL_TAGS_RE = re.compile(r"/v1/(?P<project>[^/]+)/pools/tags")
_TAGS_RE = re.compile(r"/v1/(?P<project>[^/]+)/pools/(?P<pool>[^/]+)/tags(?P<op>/create|/delete)?")
_WORKSPACES_RE = re.compile(r"/v1/(?P<project>[^/]+)/workspaces")
_ALLOWED = {"list": {"GET"}, "pool": {"GET", "DELETE"}, "workloads": {"GET"}, "nodes": {"GET"},
            "statistics": {"GET"}, "all_tags": {"GET"}, "tags": {"GET"},
            "tags_create": {"POST"}, "tags_delete": {"DELETE"}, "workspaces": {"GET"}}

# The query parameters that narrow GET /v2/{project}/pools (docs/modelarts-api.md §2).
LIST_FILTERS = ("labelSelector", "parent", "status", "workspaceId")

NO_API = "The API does not exist or has not been published in the environment"
PROJECT_MISMATCH = {
    "error_code": "ModelArts.0210",
    "error_msg": "project id in URL does not match token",
}
BAD_REQUEST = {"error_code": "ModelArts.50004000", "error_msg": "Bad request."}


@dataclass(frozen=True)
class Route:
    """``kind`` is "list", "pool", "workloads", "nodes", "statistics", "all_tags", "tags",
    "tags_create", "tags_delete", "workspaces" or None (not an API path); ``pool`` is the
    decoded id."""

    kind: str | None
    project: str | None = None
    pool: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    auth: str | None = None  # credential kind the request presented
    accepted: bool = False  # a DELETE that started a deletion


def route(path: str) -> Route:
    """Match the raw path (no query) against the pool endpoints."""
    if match := _LIST_RE.fullmatch(path):
        return Route("list", unquote(match["project"]))
    if match := _POOL_RE.fullmatch(path):
        return Route("pool", unquote(match["project"]), unquote(match["pool"]))
    if match := _CARRIED_RE.fullmatch(path):
        return Route(match["kind"], unquote(match["project"]), unquote(match["pool"]))
    if match := _STATS_RE.fullmatch(path):
        return Route("statistics", unquote(match["project"]), unquote(match["pool"]))
    if match := _ALL_TAGS_RE.fullmatch(path):  # before _TAGS_RE: "tags" is no pool id
        return Route("all_tags", unquote(match["project"]))
    if match := _TAGS_RE.fullmatch(path):
        kind = "tags" + (match["op"] or "").replace("/", "_")
        return Route(kind, unquote(match["project"]), unquote(match["pool"]))
    if match := _WORKSPACES_RE.fullmatch(path):
        return Route("workspaces", unquote(match["project"]))
    return Route(None)


def apig_error(status: int, code: str, msg: str, request_id: str) -> dict[str, Any]:
    return {"error_code": code, "error_msg": msg, "request_id": request_id}


@dataclass
class Service:
    project_id: str
    store: PoolStore
    gate: Gate
    carried: Carried = field(default_factory=Carried)
    workspaces: WorkspaceBook = field(default_factory=WorkspaceBook)
    ignore_filters: frozenset[str] = frozenset()  # list query parameters dropped (see core.py)
    # A hostile server: every answer's body (a copy) passes through it with the request's
    # headers, e.g. to echo the caller's credentials into every field (``sb.service.rewrite``)
    rewrite: Callable[[dict[str, Any], Mapping[str, str]], dict[str, Any]] | None = None

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes, request_id: str) -> Reply:
        """Answer one API request; ``headers`` maps lower-case names to values."""
        reply = self._answer(method, path, query, headers, body, request_id)
        if self.rewrite is None:
            return reply
        return Reply(reply.status, self.rewrite(copy.deepcopy(reply.body), headers), reply.auth,
                     reply.accepted)

    def _answer(self, method: str, path: str, query: str, headers: Mapping[str, str],
                body: bytes, request_id: str) -> Reply:
        where = route(path)
        if where.kind is None or method not in _ALLOWED[where.kind]:
            return Reply(404, apig_error(404, "APIG.0101", NO_API, request_id))
        result = self.gate.check(method, path, query, headers, body)
        if result.error is not None:
            return Reply(401, apig_error(401, "APIGW.0301", result.error, request_id), result.kind)
        header_project = headers.get("x-project-id")
        if where.project != self.project_id or (
            header_project is not None and header_project != where.project
        ):
            return Reply(403, dict(PROJECT_MISMATCH), result.kind)
        refusal = self._workspace_refusal(where, headers.get("x-modelarts-user-id"))
        if refusal is not None:
            return Reply(WORKSPACE_DENIED_STATUS, refusal, result.kind)
        status, payload, accepted = self._operate(method, where, query, body)
        return Reply(status, payload, result.kind, accepted)

    def _workspace_refusal(self, where: Route, tenant: str | None) -> dict[str, Any] | None:
        """Workspace authentication of a pool's GET or DELETE that carries the tenant id (the
        two APIs documenting it); without it, IAM alone (the signature) decided."""
        if tenant is None or where.kind != "pool" or where.pool is None:
            return None
        entry = self.store.get(where.pool)
        if entry is None:
            return None  # a 404 says so
        labels = entry.get("metadata", {}).get("labels", {})
        workspace_id = str(labels.get("os.modelarts/workspace.id") or DEFAULT_WORKSPACE)
        workspace = self.workspaces.get(workspace_id)
        if workspace is not None and workspace.admits(tenant.strip()):
            return None
        return workspace_refusal(workspace, workspace_id)

    def _operate(self, method: str, where: Route, query: str, body: bytes
                 ) -> tuple[int, dict[str, Any], bool]:
        if where.kind in ("all_tags", "workspaces"):
            pairs = signer.parse_query(query)
            try:
                if where.kind == "workspaces":
                    return 200, self.workspaces.query(pairs), False
                return 200, all_tags(self.store.all_tags(), pairs), False
            except ValueError as exc:  # TagError included
                return 400, _bad_request(exc), False
        if where.kind in ("tags", "tags_create", "tags_delete"):
            assert where.pool is not None
            return self._tags(where.kind, where.pool, body)
        if where.kind == "list":
            params = {key: value for key, value in signer.parse_query(query)
                      if key not in self.ignore_filters}  # a careless server's, if told so
            try:
                items = self.store.select(
                    params.get("labelSelector", ""),
                    params.get("status", ""),
                    params.get("workspaceId") or DEFAULT_WORKSPACE,
                )
            except ValueError:
                return 400, dict(BAD_REQUEST), False
            parent = params.get("parent")
            if parent is not None:  # docs/modelarts-api.md §8: the sub-pools of a pool
                items = [p for p in items if p.get("status", {}).get("parent") == parent]
            return 200, pool_list(items), False
        assert where.pool is not None
        if where.kind != "pool":
            return self._carried(where.kind, where.pool, query)
        if method == "DELETE":
            outcome = self.store.delete(where.pool)
            return outcome.status, outcome.body, outcome.accepted
        pool = self.store.get(where.pool)
        return (404, dict(NOT_FOUND), False) if pool is None else (200, pool, False)

    def _carried(self, kind: str | None, pool_id: str, query: str
                 ) -> tuple[int, dict[str, Any], bool]:
        """Workloads, their statistics and nodes; a pool that is gone takes them with it."""
        pool = self.store.get(pool_id)
        if pool is None:
            return 404, dict(NOT_FOUND), False
        params = signer.parse_query(query)
        workloads = self.carried.workloads.get(pool_id, [])
        try:
            if kind == "statistics":
                return 200, workload_statistics(workloads), False
            if kind == "workloads":
                return 200, workload_page(workloads, params), False
            return 200, node_list(pool, params), False
        except ValueError:  # a limit, offset or continue token that is not one
            return 400, dict(BAD_REQUEST), False

    def _tags(self, kind: str, pool_id: str, body: bytes) -> tuple[int, dict[str, Any], bool]:
        """Show, create (add or overwrite) or delete one pool's tags; 400 changes nothing."""
        try:
            if kind == "tags":
                tags = self.store.tags(pool_id)
            else:
                items = parse_change(body, deleting=kind == "tags_delete")
                apply = apply_create if kind == "tags_create" else apply_delete
                tags = self.store.change_tags(pool_id, lambda now: apply(now, items))
        except TagError as exc:
            if self.store.tags(pool_id) is None:  # an unknown pool is a 404 whatever the body
                return 404, dict(NOT_FOUND), False
            return 400, _bad_request(exc), False
        if tags is None:
            return 404, dict(NOT_FOUND), False
        return 200, pool_tags(tags), False

    def peek(self, path: str) -> dict[str, Any]:
        """What a GET on ``path`` would show, with no auth or side effect (malformed faults)."""
        where = route(path)
        if where.kind == "pool" and where.pool is not None:
            return self.store.get(where.pool) or dict(NOT_FOUND)
        if where.kind in ("tags", "tags_create", "tags_delete") and where.pool is not None:
            return pool_tags(self.store.tags(where.pool) or {})
        if where.kind == "all_tags":
            return all_tags(self.store.all_tags(), [])
        if where.kind == "workspaces":
            return self.workspaces.query([])
        return pool_list(self.store.bodies())


def _bad_request(exc: ValueError) -> dict[str, Any]:
    """ModelArts' 400 shape; a TagError's message says what is wrong (never echoing input)."""
    message = str(exc) if isinstance(exc, TagError) else BAD_REQUEST["error_msg"]
    return {"error_code": BAD_REQUEST["error_code"], "error_msg": message}


def pool_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v2", "kind": "PoolList", "metadata": {}, "items": items}
