"""``PoolsApi``: the HTTP verbs of the ModelArts v2 pool API — GET, LIST, DELETE — over httpx.

Only requests live here, with what each verb asks and what its answer means: names are
validated before any request; GETs are retried within a small budget (``_get``); a DELETE is
resent only after an explicit 429 (one that could not connect never left: it is tried again).
How any request goes — signing, credentials renewed after a 401, throttle, Stop, the bounded
read — is ``sender.Sender``'s, which ``PoolsApi`` is. What a deletion means — refusals, lost
answers, waiting — is the engine's (``engine.py``); this module never imports it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from . import errors
from .body import TooLarge
from .models import Pool, Tags, Workspace, parse_tags
from .names import check_pool_id, check_workspace_id
from .responses import read_json, request_id
from .retry import RETRYABLE_STATUS
from .sender import DEFAULT_TIMEOUT, TENANT_HEADER, NotWritten, Sender
from .settings import resolve_settings
from .signer import canonical_query
from .text import one_line

__all__ = ["PoolsApi", "DEFAULT_TIMEOUT", "TENANT_HEADER", "stop_every_client"]

log = logging.getLogger("modelarts_nb")
_Api = TypeVar("_Api", bound="PoolsApi")
# Every client built in this process, held weakly: kernel exit stops them all at once.
_LIVE: weakref.WeakSet[PoolsApi] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def stop_every_client() -> None:
    """Set every live client's ``cancel`` and close it, so that at kernel exit no wait holds
    the kernel and no request leaves after. Never raises: it runs in an exit hook, where one
    client's failure must not spare the others."""
    with _LIVE_LOCK:
        clients = list(_LIVE)
    for client in clients:  # every wait ends first; closing may take a moment each
        client.cancel.set()
    for client in clients:
        try:
            client.close()
        except Exception:  # noqa: BLE001
            log.debug("closing %r at exit failed", client, exc_info=True)


class PoolsApi(Sender):
    """The pool API of one project: HTTP verbs and nothing else.

    ``transport``, ``sleep`` and ``clock`` are seams for tests and simulations; ``retry`` sets
    the GET retry budget.
    Use as a context manager, or call ``close()``: afterwards no connection stays open.
    """

    def _opened(self) -> None:
        """Every live client is known, so that kernel exit can close them all."""
        with _LIVE_LOCK:
            _LIVE.add(self)

    @classmethod
    def from_env(cls: type[_Api], **kwargs: Any) -> _Api:
        """Resolve settings (arguments → env → profile → notebook session) and build a client.

        Setting keywords (``project_id``, ``region``, ``endpoint``, ``access_key``...) go to
        ``resolve_settings``; the rest (``timeout``, ``retry``, ``transport``...) to the client.
        """
        client_keys = {"timeout", "retry", "transport", "sleep", "clock"}
        client_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in client_keys}
        return cls(resolve_settings(**kwargs), **client_kw)

    def __enter__(self: _Api) -> _Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        settings = self.settings
        return f"PoolsApi(endpoint={settings.endpoint!r}, project_id={settings.project_id!r})"

    # -- reading ---------------------------------------------------------------------------

    def get_pool(self, name: str) -> Pool:
        """GET one pool by id (``metadata.name``); PoolNotFound on 404."""
        path = self._pool_path(check_pool_id(name))
        pool = Pool.from_api(self._get(path, what=f"pool {name}", pool=name))
        if pool.id != name:  # anything we do next (a DELETE) must concern the pool asked for
            raise errors.ApiError(
                status=200,
                what=f"reading pool {name} failed: the answer describes "
                f"{one_line(pool.id, 80)!r} instead; nothing was deleted",
                from_server=False,
            )
        self._workspaces[pool.id] = pool.workspace_id
        return pool

    def list_pools(
        self, *, label_selector: str | None = None, status: str | None = None,
        parent: str | None = None, workspace: str | None = None,
    ) -> list[Pool]:
        """GET all pools of the project (the API has no pagination), optionally filtered;
        ``parent`` lists a pool's logical sub-pools (docs/modelarts-api.md §8). Without
        ``workspace`` the server may answer for workspace "0" only (UNCONFIRMED,
        docs/modelarts-api.md §2)."""
        if status is not None and status not in ("created", "failed", "creating"):
            raise errors.InvalidName(
                f"invalid status filter {status!r}: use created, failed or creating"
            )
        if parent is not None:
            check_pool_id(parent)
        if workspace is not None:
            check_workspace_id(workspace)
        params = [("labelSelector", label_selector), ("status", status), ("parent", parent),
                  ("workspaceId", workspace)]
        query = canonical_query((k, v) for k, v in params if v is not None)
        body = self._get(self._pools_path(), query, what="pool list")
        pools = [Pool.from_api(item) for item in _items(body, "pool list")]
        self._workspaces.update((pool.id, pool.workspace_id) for pool in pools)
        return pools

    def list_workspaces(self) -> list[Workspace]:
        """GET every workspace of the project, 1,000 a page until a short page
        (docs/modelarts-api.md §10)."""
        found: dict[str, Workspace] = {}
        received = 0
        for page in range(_MAX_PAGES):
            query = canonical_query([("limit", "1000"), ("offset", str(page * 1000))])
            body = self._get(f"/v1/{self.settings.project_id}/workspaces", query,
                             what="the workspace list")
            items = body.get("workspaces") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise errors.ApiError(status=200, what="the workspace list has no 'workspaces'")
            received = _counted(received, items, "workspaces")
            known = len(found)
            for workspace in filter(None, map(Workspace.from_api, items)):
                found.setdefault(workspace.id, workspace)
            if len(items) < 1000 or len(found) == known:  # a server ignoring offset ends too
                return list(found.values())
        raise _too_many("workspaces")

    def pool_tags(self, pool_id: str) -> Tags:
        """GET one pool's TMS tags (docs/modelarts-api.md §9.2): both tag shapes; an empty answer
        (the documented 204) is an error, for "no tags" and "unreadable" must not look alike."""
        path = f"/v1/{self.settings.project_id}/pools/{check_pool_id(pool_id)}/tags"
        body = self._get(path, what=f"the tags of pool {pool_id}")
        notes: list[str] = []
        tags = parse_tags(body.get("tags") if isinstance(body, dict) else None, "tags", notes)
        if tags is None:
            raise errors.ApiError(status=200 if body is not None else 204,
                                  what=f"the tags of pool {pool_id} are unreadable")
        return tags

    def list_pool_tags(self) -> Tags:
        """GET every tag key and its values over the project's pools (all workspaces).
        ``offset`` is read as a page number ("start page"; UNCONFIRMED): a page that brings no
        new key ends the loop either way."""
        tags: dict[str, tuple[str, ...]] = {}
        received = 0
        for page in range(_MAX_PAGES):
            query = canonical_query([("limit", "200"), ("offset", str(page))])
            body = self._get(f"/v1/{self.settings.project_id}/pools/tags", query,
                             what="the pool tags")
            items = body.get("tags") if isinstance(body, dict) else None
            received = _counted(received, items, "pool tags")
            known = len(tags)
            for key, values in (parse_tags(items, "tags", [], strict=False) or {}).items():
                tags[key] = tuple(dict.fromkeys(tags.get(key, ()) + values))
            if not isinstance(items, list) or len(items) < 200 or len(tags) == known:
                return tags
        raise _too_many("pool tags")

    def workload_statistics(self, pool_id: str) -> Any:
        """GET the pool's workload counts by type and status (docs/modelarts-api.md §6.1), as
        sent."""
        path = f"/v2/{self.settings.project_id}/statistics/pools/{check_pool_id(pool_id)}/workloads"
        return self._get(path, what=f"the workload statistics of pool {pool_id}")

    def list_workloads(self, pool_id: str) -> list[Any]:
        """GET every workload of the pool, 500 a page until a short page (docs/modelarts-api.md
        §6.2)."""
        items: list[Any] = []
        for _ in range(_MAX_PAGES):
            query = canonical_query([("limit", str(_PAGE)), ("offset", str(len(items)))])
            body = self._get(f"{self._pool_path(check_pool_id(pool_id))}/workloads", query,
                             what=f"the workloads of pool {pool_id}")
            page = _items(body, "workload list")
            _counted(len(items), page, f"workloads of pool {pool_id}")
            items += page
            if len(page) < _PAGE:
                return items
        raise _too_many(f"workloads of pool {pool_id}")

    def list_nodes(self, pool_id: str) -> list[Any]:
        """GET every node of the pool, following ``metadata.continue`` (docs/modelarts-api.md
        §7.1); a server that ignores paging answers everything at once."""
        items: list[Any] = []
        token = ""
        for _ in range(_MAX_PAGES):
            params = [("limit", str(_PAGE))] + ([("continue", token)] if token else [])
            body = self._get(f"{self._pool_path(check_pool_id(pool_id))}/nodes",
                             canonical_query(params), what=f"the nodes of pool {pool_id}")
            page = _items(body, "node list")
            _counted(len(items), page, f"nodes of pool {pool_id}")
            items += page
            meta = body.get("metadata") if isinstance(body, dict) else None
            following = meta.get("continue") if isinstance(meta, dict) else None
            if not following or not isinstance(following, str) or following == token:
                return items
            token = following
        raise _too_many(f"nodes of pool {pool_id}")

    def send_delete(
        self, pool_id: str, *, first: bool = True, on_wire: Callable[[bool], None] | None = None,
        on_answer: Callable[[str | None], None] | None = None,
    ) -> Pool | None:
        """One DELETE (resent only after an explicit 429 refusal), and what its answer says.

        Returns the accepted pool, or None when the outcome is unknown: no answer, a gateway's
        502/503/504, a 2xx with an unreadable body (maybe not even from ModelArts) or one about
        another pool, an answer over ``MAX_BODY`` (whatever its status: it was not read), or a
        404 to a ``first=False`` resend (our earlier DELETE did it). Deciding what to do then —
        read the pool back, send again — is the engine's job, not this one's.
        ``on_wire(True)`` is called just before a DELETE leaves, ``on_wire(False)`` when the
        gateway refused it unprocessed (401, 429) or it never left (no connection could be
        made: tried again within the retry budget, then ConnectionFailed says nothing was
        sent): whether a deletion may have started.
        ``on_answer`` hears each answer's ``X-Request-Id`` (None if it has none): the receipt's.
        """
        path = self._pool_path(check_pool_id(pool_id))
        wire = on_wire or (lambda _sent: None)
        hear = on_answer or (lambda _request_id: None)
        started = self._clock()
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._send("DELETE", path, before=lambda: wire(True), pool=pool_id)
            except TooLarge as exc:
                hear(exc.request_id)
                return None
            except NotWritten as exc:
                wire(False)  # it never left: trying again is no resend
                wait = self._next_wait(started, attempt)
                if wait is not None:
                    self._pause(wait)
                    continue
                raise errors.ConnectionFailed(f"{exc}; " + (
                    "nothing was sent" if first else "this second DELETE was not sent (the "
                    "first one's answer was lost)")) from None
            except errors.ConnectionFailed:
                return None
            hear(request_id(response))
            if response.status_code in (401, 429):
                wire(False)
            if response.status_code == 429 and self._next_wait(started, attempt, response) \
                    is not None:
                continue  # an explicit refusal: resent after the throttle's pause
            return self._deleted(response, pool_id, first)
        raise AssertionError("unreachable")  # pragma: no cover

    def _deleted(self, response: httpx.Response, pool_id: str, first: bool) -> Pool | None:
        """What a DELETE's final answer says: the accepted pool, None when unknown (see
        ``send_delete``), or the typed error of a refusal."""
        if response.status_code in (502, 503, 504):
            return None
        if response.status_code == 404 and not first:
            return None  # our earlier DELETE did it; the caller's GET will confirm
        if response.is_success:
            try:
                accepted = Pool.from_api(read_json(response))
            except ValueError:
                return None
            # an answer about another pool (or none: "{}") says nothing about ours
            return accepted if accepted.id == pool_id else None
        raise self._error(response, f"deleting pool {pool_id} failed", pool=pool_id)

    # -- HTTP --------------------------------------------------------------------------------

    def _pools_path(self) -> str:
        return f"/v2/{self.settings.project_id}/pools"

    def _pool_path(self, pool_id: str) -> str:
        return f"{self._pools_path()}/{pool_id}"

    def _get(self, path: str, query: str = "", *, what: str, pool: str | None = None) -> Any:
        """GET with retries on transport errors, 429/502/503/504 and unreadable bodies;
        ``pool``: the GET of that one pool (it carries the tenant id)."""
        url = f"{path}?{query}" if query else path
        started = self._clock()
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._send("GET", url, pool=pool)
            except TooLarge as exc:  # not asked again: it would cost another 32 MB
                raise exc.reading(what) from None
            except errors.ConnectionFailed:
                wait = self._next_wait(started, attempt)
                if wait is None:
                    raise
                self._pause(wait)
                continue
            if response.status_code in RETRYABLE_STATUS:
                wait = self._next_wait(started, attempt, response)
                if wait is not None:
                    if response.status_code != 429:  # the throttle pauses for a 429 itself
                        self._pause(wait)
                    continue
            if not response.is_success:
                raise self._error(response, f"reading {what} failed", pool=pool)
            if response.status_code == 204:
                return None  # "no content": nothing to retry for (docs/modelarts-api.md §9.2)
            try:
                return read_json(response)
            except ValueError:
                wait = self._next_wait(started, attempt)
                if wait is None:
                    raise errors.ApiError(
                        status=response.status_code,
                        request_id=request_id(response),
                        what=f"reading {what} failed: the answer was not valid JSON",
                    ) from None
                self._pause(wait)
        raise AssertionError("unreachable")  # pragma: no cover


_PAGE = 500  # the most the service returns at once (docs/modelarts-api.md §6.2, §7.1)
_MAX_PAGES = 200  # 100,000 items: beyond that a server is looping, not paging
_MAX_ITEMS = _PAGE * _MAX_PAGES  # in all, however long the pages a server sends


def _items(body: Any, what: str) -> list[Any]:
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise errors.ApiError(status=200, what=f"the {what} answer has no 'items' list")
    return items


def _too_many(what: str) -> errors.ApiError:
    return errors.ApiError(status=200, what=f"reading the {what} did not end within "
                           f"{_MAX_PAGES} pages or {_MAX_ITEMS:,} items; the server keeps paging")


def _counted(received: int, page: object, what: str) -> int:
    """Items received so far, this page's included; past ``_MAX_ITEMS`` the reading ends
    (pages longer than asked for would otherwise pile up 200 times)."""
    received += len(page) if isinstance(page, list) else 0
    if received > _MAX_ITEMS:
        raise _too_many(what)
    return received

