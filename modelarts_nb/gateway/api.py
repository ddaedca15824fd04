"""``PoolsApi``: the HTTP verbs of the ModelArts v2 pool API — GET, LIST, DELETE — over httpx.

Only requests live here, with the rules every request obeys: names are validated before any
request; GETs are retried within a small budget; a 401 is never retried with the same
credentials (a 401 after earlier successes re-reads their source once, and only *new*
credentials get one more try: temporary keys expire during long watches); a DELETE is resent
only after an explicit 429 (one that could not connect never left: it is tried again). What a
deletion means — refusals, lost answers, waiting — is the engine's (``engine.py``); this module
never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from . import errors
from .auth import AkSkAuth
from .keys import KeyChain, refusal_hint
from .models import Pool, Tags, Workspace, parse_tags
from .names import check_pool_id, check_workspace_id, is_loopback_host
from .responses import (
    MAX_BODY,
    api_error,
    error_fields,
    read_json,
    request_id,
    retry_after,
    transport_reason,
    workspace_hint,
)
from .retry import RETRYABLE_STATUS, RetryPolicy, Throttle, parse_rate_limit
from .settings import Settings, resolve_settings
from .signer import canonical_query
from .text import one_line

__all__ = ["PoolsApi", "DEFAULT_TIMEOUT", "TENANT_HEADER", "stop_every_client"]

log = logging.getLogger("modelarts_nb")
_Api = TypeVar("_Api", bound="PoolsApi")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_JSON = {"Content-Type": "application/json"}  # sent (and signed) on every call, as the SDK does
# The tenant id, for workspace authentication: sent (and signed) on the GET and DELETE of one
# pool, the two calls whose pages document it (docs/modelarts-api.md §1.1); nowhere else
# (docs/tenant-and-details.md says why).
TENANT_HEADER = "X-ModelArts-User-ID"
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


class PoolsApi:
    """The pool API of one project: HTTP verbs and nothing else.

    ``transport``, ``sleep`` and ``clock`` are seams for tests and simulations; ``retry`` sets
    the GET retry budget.
    Use as a context manager, or call ``close()``: afterwards no connection stays open.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = KeyChain(settings)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        # set by Stop, closing a view or an interrupt: every wait ends, no request follows
        self.cancel = threading.Event()
        self._local = threading.local()  # a run's own stop event, per thread (see cancelled_by)
        self.throttle = Throttle(self._pause, clock, self.retry.max_retry_after)
        self._options: dict[str, Any] = dict(
            timeout=timeout,
            verify=_verify_for(settings),
            transport=transport,
            # loopback (the sandbox) must never be routed through an environment proxy
            trust_env=not is_loopback_host(urlsplit(settings.endpoint).hostname or ""),
            # only what _decoded inflates step by step (httpx would also offer br and zstd)
            headers={"User-Agent": f"modelarts-nb/{__version__}", "Accept-Encoding": "gzip"},
            follow_redirects=False,
        )
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._workspaces: dict[str, str] = {}  # pool id -> its workspace, as last read
        with _LIVE_LOCK:
            _LIVE.add(self)

    @property
    def settings(self) -> Settings:
        """The settings in use (credentials included: they change when renewed)."""
        return self.keys.current.settings

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

    def close(self) -> None:
        """Drop every connection; a later call opens new ones (a panel's Refresh, say)."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    @property
    def open_connections(self) -> int:
        """Connections currently held (0 after ``close()``): for hygiene checks."""
        pool = getattr(getattr(self._http, "_transport", None), "_pool", None)
        return len(getattr(pool, "connections", ()))

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(**self._options)
            return self._http

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
            except _TooLarge as exc:
                hear(exc.request_id)
                return None
            except _NotWritten as exc:
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
        raise AssertionError("unreachable")  # pragma: no cover

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
            except _TooLarge as exc:  # not asked again: it would cost another 32 MB
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

    def _next_wait(self, started: float, attempt: int,
                   response: httpx.Response | None = None) -> float | None:
        """The wait before try ``attempt + 1``, or None when there is none: ``attempt`` was the
        last, or the wait would end past the policy's ``budget`` (counted from ``started``).
        After a 429 the wait is the throttle's, which ``_send`` keeps; else the back-off or
        the answer's Retry-After."""
        if attempt >= self.retry.attempts:
            return None
        if response is not None and response.status_code == 429:
            wait = self.throttle.pending()
        else:
            wait = self.retry.delay(attempt, retry_after(response) if response else None)
        return wait if self.retry.affords(self._clock() - started, wait) else None

    def _send(
        self, method: str, url: str, before: Callable[[], None] | None = None,
        pool: str | None = None,
    ) -> httpx.Response:
        """One request, and once more with renewed credentials if they expired meanwhile;
        a request about one ``pool`` carries the tenant id, if there is one.

        Resending after a 401 is safe even for DELETE: the gateway refused it before ModelArts
        saw it. ``keys`` decides with what, and whether at all (see keys.py). Transport failures
        become ConnectionFailed: httpx types never leak.
        """
        key = None
        for _ in (1, 2):
            with self.keys.turn(key) as used:
                self._check_cancel()
                self.throttle.wait()
                self._check_cancel()  # a Stop during the throttle's pause sends nothing
                if before is not None:
                    before()
                started = time.perf_counter()
                target = self.settings.endpoint + url  # absolute: a base_url parses twice
                headers = self._headers(pool is not None)
                try:
                    response = self._exchange(method, target, headers, used.auth)
                except httpx.HTTPError as exc:
                    raise self._unreachable(method, url, exc) from None
                self._answered(method, url, response, started)
                if response.is_success or response.status_code == 404:  # authenticated
                    self.keys.succeeded(used)
            if response.status_code != 401:
                return response
            key = self.keys.refused(used)
            if key is None:
                return response
        return response

    def _exchange(self, method: str, target: str, headers: dict[str, str],
                  auth: httpx.Auth | None) -> httpx.Response:
        """Send one request (``auth`` signs it) and read its answer within ``MAX_BODY``."""
        client = self._client()
        try:
            response = client.send(client.build_request(method, target, headers=headers),
                                   auth=auth, stream=True)
        except RuntimeError:  # closed by a watch ending in another thread, before the send:
            if not client.is_closed:  # nothing left, so once more
                raise
            client = self._client()
            response = client.send(client.build_request(method, target, headers=headers),
                                   auth=auth, stream=True)
        try:
            self._read_body(response)
        finally:
            response.close()  # unread (refused, stopped): the connection is dropped, not reused
        return response

    def _read_body(self, response: httpx.Response) -> None:
        """Read the body as it arrives and refuse it before it passes ``MAX_BODY`` (or at once,
        when its Content-Length says it will): read whole, a 300 MB answer cost the kernel
        600 MB and an endless one all of it. A Stop ends a slow body between chunks.

        The body is then kept where httpx's own ``Response.read()`` keeps it (``_content``),
        so ``response.content`` and ``.json()`` work as for an answer read whole."""
        if _declared_length(response) > MAX_BODY:
            raise _TooLarge.of(response)
        chunks: list[bytes] = []
        size = 0
        for chunk in _decoded(response):
            self._check_cancel()
            size += len(chunk)
            if size > MAX_BODY:
                raise _TooLarge.of(response)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # noqa: SLF001 - as Response.read() does

    def _headers(self, about_a_pool: bool) -> dict[str, str]:
        """The request's own headers: JSON always, the tenant id on a pool's GET and DELETE."""
        user_id = self.settings.user_id
        return {**_JSON, TENANT_HEADER: user_id} if about_a_pool and user_id else _JSON

    @contextlib.contextmanager
    def cancelled_by(self, event: threading.Event) -> Iterator[None]:
        """Requests of this thread obey ``event`` too: a run's Stop ends its own waits and
        requests, not those of another run sharing the client."""
        outer = getattr(self._local, "event", None)
        self._local.event = event
        try:
            yield
        finally:
            self._local.event = outer

    def stop_event(self) -> threading.Event | None:
        """The stop event this thread's requests obey (``cancelled_by``), if any."""
        event = getattr(self._local, "event", None)
        return event if isinstance(event, threading.Event) else None

    def _pause(self, seconds: float) -> None:
        """Every wait of the client (back-off, Retry-After, throttle): ended early by ``cancel``
        or by the current run's stop event."""
        event = getattr(self._local, "event", None) or self.cancel
        if self._sleep is time.sleep:
            # the run's own stop, and the client's cancel (kernel exit) too, within 0.1 s
            deadline = time.monotonic() + seconds
            while not (event.is_set() or self.cancel.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                event.wait(min(left, 0.1))
        else:
            self._sleep(seconds)  # a simulated clock (tests, benchmarks)
        self._check_cancel()

    def _check_cancel(self) -> None:
        event = getattr(self._local, "event", None)
        if self.cancel.is_set() or (event is not None and event.is_set()):
            raise errors.Cancelled("stopped; no further request was sent")

    def _unreachable(self, method: str, url: str, exc: httpx.HTTPError) -> errors.ConnectionFailed:
        log.debug("%s %s failed: %s", method, url, type(exc).__name__)
        kind = _NotWritten if isinstance(exc, _BEFORE_WRITING) else errors.ConnectionFailed
        return kind(
            f"{method} {self.settings.endpoint}{url.split('?')[0]} failed: {transport_reason(exc)}"
        )

    def _answered(self, method: str, url: str, response: httpx.Response, started: float) -> None:
        if response.status_code == 429:
            self._on_throttled(response)
        log.debug(
            "%s %s -> %s (request id %s, %.0f ms)",
            method,
            url,
            response.status_code,
            request_id(response),
            (time.perf_counter() - started) * 1000,
        )

    def _on_throttled(self, response: httpx.Response) -> None:
        _, message, _ = error_fields(response)
        pause = self.retry.delay(1, retry_after(response))
        self.throttle.throttled(pause, parse_rate_limit(message))

    def _error(self, response: httpx.Response, what: str, pool: str | None = None
               ) -> errors.ApiError:
        """The typed error; a 403 to a request that carried the tenant id says what workspace
        authentication needs, and how to do without it."""
        settings = self.settings
        if pool is not None and settings.user_id and response.status_code == 403:
            hint = workspace_hint(response, settings.user_id, settings.user_id_source,
                                  pool, self._workspaces.get(pool))
            if hint is not None:
                return api_error(response, what, signed=True).with_hint(hint)
        error = api_error(
            response,
            what,
            signed=isinstance(self.keys.current.auth, AkSkAuth),
            notebook_session=self.settings.credentials.from_notebook_session,
        )
        current = self.keys.current  # after a final 401: the key that was refused
        hint = refusal_hint(current) if response.status_code == 401 else None
        if hint and current.refused and error.hint == type(error).hint:  # skew says more
            error.with_hint(hint)
        return error


class _NotWritten(errors.ConnectionFailed):
    """The request failed before any of it was written: it certainly never left."""


class _TooLarge(errors.ApiError):
    """An answer over ``MAX_BODY``, refused before more of it was read."""

    @classmethod
    def of(cls, response: httpx.Response) -> _TooLarge:
        return cls(status=response.status_code, request_id=request_id(response),
                   what=f"the answer was larger than {MAX_BODY // 2**20} MB; nothing further "
                   "was read")

    def reading(self, what: str) -> errors.ApiError:
        """The error a read of ``what`` raises: a plain ApiError, in one line."""
        return errors.ApiError(status=self.status, request_id=self.request_id,
                               what=f"reading {what} failed: {self.what}")


def _declared_length(response: httpx.Response) -> int:
    """The answer's Content-Length, or 0 when it has none (h11 has refused a malformed one)."""
    try:
        return int(response.headers.get("Content-Length", "0"))
    except ValueError:
        return 0


_STEP = 1 << 20  # inflated bytes at most per step, so the cap is checked as a gzip bomb grows
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes, inflated ``_STEP`` at a time: httpx's own decoders inflate a whole
    network read at once (up to 1,000 times its size, and brotli far more). An encoding we
    did not ask for is a DecodingError, as a corrupt one is."""
    if hasattr(response, "_content"):  # built in memory (a test's transport): already read
        yield response.content
        return
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        yield from response.iter_raw()
        return
    if coding not in _WBITS:
        raise httpx.DecodingError(f"unasked encoding {coding[:40]!r}", request=response.request)
    inflate = zlib.decompressobj(_WBITS[coding])
    try:
        for data in response.iter_raw():
            while data:
                yield inflate.decompress(data, _STEP)
                data = inflate.unconsumed_tail
        yield inflate.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc), request=response.request) from None


# raised before a byte of the request is written: connecting (TLS included: httpx reports a
# failed handshake as ConnectError), a proxy refusing the tunnel, no free connection, a bad URL
_BEFORE_WRITING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.PoolTimeout,
                   httpx.UnsupportedProtocol)
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


def _verify_for(settings: Settings) -> ssl.SSLContext | bool:
    if settings.ca_bundle:
        try:
            return ssl.create_default_context(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigError(
                f"cannot load CA bundle {settings.ca_bundle}: {exc.strerror or exc}"
            ) from None
    return True

