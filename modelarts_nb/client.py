"""``PoolsClient``: show, list, delete and watch ModelArts resource pools over httpx.

Safety rules live here because every caller (magic, panel, scripts) goes through them:
names are validated before any request; GETs are retried within a small budget; a 401 is never
retried with the same credentials (a 401 after earlier successes re-reads their source once, and
only *new* credentials get one more try: temporary keys expire during long watches); a DELETE is
sent once per call, and when its answer is lost the pool is read back before anything else is
decided (gone or Deleting → accepted; still there → at most one more DELETE).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from . import errors, rules
from ._version import __version__
from .auth import AkSkAuth
from .keys import Key, KeyChain
from .models import Pool
from .names import check_display_name, check_pool_id, is_loopback_host, looks_like_pool_id
from .responses import api_error, error_fields, read_json, retry_after, transport_reason
from .retry import RETRYABLE_STATUS, RetryPolicy, Throttle, parse_rate_limit, poll_delay
from .settings import Settings, resolve_settings
from .signer import canonical_query

if TYPE_CHECKING:
    from .bulk import BulkItem

__all__ = ["PoolsClient", "DEFAULT_TIMEOUT"]

log = logging.getLogger("modelarts_nb")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_JSON = {"Content-Type": "application/json"}  # sent (and signed) on every call, as the SDK does
_LOST = object()  # a DELETE whose outcome is unknown: no answer, a gateway error, junk
_SESSION_401_HINT = (
    "the notebook session's temporary credentials were refused and asking the session again "
    "gave no new ones: restart the kernel, or set your own AK/SK; nothing was resent"
)


class PoolsClient:
    """Client for the ModelArts v2 pool API of one project.

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
        self.throttle = Throttle(self._pause, clock)
        self._options: dict[str, Any] = dict(
            timeout=timeout,
            verify=_verify_for(settings),
            transport=transport,
            # loopback (the sandbox) must never be routed through an environment proxy
            trust_env=not is_loopback_host(urlsplit(settings.endpoint).hostname or ""),
            headers={"User-Agent": f"modelarts-nb/{__version__}"},
            follow_redirects=False,
        )
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """The settings in use (credentials included: they change when renewed)."""
        return self.keys.current.settings

    @classmethod
    def from_env(cls, **kwargs: Any) -> PoolsClient:
        """Resolve settings (arguments → env → profile → notebook session) and build a client.

        Setting keywords (``project_id``, ``region``, ``endpoint``, ``access_key``...) go to
        ``resolve_settings``; the rest (``timeout``, ``retry``, ``transport``...) to the client.
        """
        client_keys = {"timeout", "retry", "transport", "sleep", "clock"}
        client_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in client_keys}
        return cls(resolve_settings(**kwargs), **client_kw)

    def __enter__(self) -> PoolsClient:
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
        return f"PoolsClient(endpoint={settings.endpoint!r}, project_id={settings.project_id!r})"

    # -- reading ---------------------------------------------------------------------------

    def get_pool(self, name: str) -> Pool:
        """GET one pool by id (``metadata.name``); PoolNotFound on 404."""
        path = self._pool_path(check_pool_id(name))
        pool = Pool.from_api(self._get(path, what=f"pool {name}"))
        if pool.id != name:  # anything we do next (a DELETE) must concern the pool asked for
            raise errors.ApiError(
                status=200,
                what=f"reading pool {name} failed: the answer describes "
                f"{errors.one_line(pool.id, 80)!r} instead; nothing was deleted",
                from_server=False,
            )
        return pool

    def list_pools(
        self, *, label_selector: str | None = None, status: str | None = None
    ) -> list[Pool]:
        """GET all pools of the project (the API has no pagination), optionally filtered."""
        if status is not None and status not in ("created", "failed", "creating"):
            raise errors.InvalidName(
                f"invalid status filter {status!r}: use created, failed or creating"
            )
        params = [("labelSelector", label_selector), ("status", status)]
        query = canonical_query((k, v) for k, v in params if v is not None)
        body = self._get(self._pools_path(), query, what="pool list")
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise errors.ApiError(status=200, what="the pool list answer has no 'items' list")
        return [Pool.from_api(item) for item in items]

    def resolve(self, name_or_display: str) -> Pool:
        """The pool whose id is ``name_or_display``, else the one whose display name is.

        Several pools sharing the display name is an error listing their ids: guessing would
        risk deleting the wrong one.
        """
        if looks_like_pool_id(name_or_display):
            try:
                return self.get_pool(name_or_display)
            except errors.PoolNotFound as missing:
                # an id that is gone (deleted a minute ago?) never silently becomes another
                # pool whose display name happens to be that id: say so instead
                raise self._not_found_hint(missing, name_or_display) from None
        check_display_name(name_or_display)
        matches = [p for p in self.list_pools() if p.display_name == name_or_display]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(sorted(p.id for p in matches))
            raise errors.InvalidName(
                f"{len(matches)} pools are named {name_or_display!r}: {ids}; "
                "give the pool id instead"
            )
        raise errors.PoolNotFound(
            status=404,
            what=f"no pool with id or display name {name_or_display!r} in project "
            f"{self.settings.project_id} (checked the pool list)",
            from_server=False,
        )

    def _not_found_hint(self, missing: errors.PoolNotFound, pool_id: str) -> errors.PoolNotFound:
        try:
            named = [p for p in self.list_pools() if p.display_name == pool_id]
        except errors.ModelArtsError:
            return missing
        if named:
            ids = ", ".join(sorted(p.id for p in named))
            missing.with_hint(
                f"no pool has this id, but {len(named)} pool(s) display it as their name "
                f"(id {ids}); if you meant that, give its id"
            )
        return missing

    # -- deleting --------------------------------------------------------------------------

    def delete_pool(self, name: str) -> Pool | None:
        """Delete one pool: read it, refuse prepaid/frozen pools, then send one DELETE.

        Returns the pool as the server reported it after accepting the deletion, or None when
        it was already gone by the time we looked. A pool that is already Deleting is returned
        without sending anything.
        """
        return self.delete_listed(self.get_pool(name))

    def delete_listed(self, pool: Pool) -> Pool | None:
        """``delete_pool`` for a pool the caller has just read (by GET or in a LIST)."""
        reason = rules.refusal(pool)
        if reason:
            raise errors.DeletionRefused(reason + "; nothing was deleted", pool=pool)
        if pool.phase == rules.DELETING:
            return pool
        return self._delete(check_pool_id(pool.id))

    def delete_many(
        self,
        names: Iterable[str],
        *,
        concurrency: int = 8,
        on_update: Callable[[BulkItem], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[BulkItem]:
        """Delete many pools (ids or unique display names): one LIST, then one DELETE each.

        Never raises for a single pool: each ``BulkItem`` says what happened. See ``bulk``.
        """
        from . import bulk  # imported on first use: plain scripts never pay for it

        return bulk.delete_many(self, names, concurrency=concurrency, on_update=on_update,
                                stop=stop)

    def watch_many(
        self,
        items: list[BulkItem],
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[BulkItem], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[BulkItem]:
        """Watch the items ``delete_many`` accepted until each is gone, failed or timed out."""
        from . import bulk

        return bulk.watch_many(self, items, timeout=timeout, interval=interval,
                               on_update=on_update, stop=stop)

    def _delete(self, pool_id: str) -> Pool | None:
        path = self._pool_path(pool_id)
        for sent in (1, 2):
            answer = self._send_delete(path, pool_id, first=sent == 1)
            if isinstance(answer, Pool):
                return answer
            # Outcome unknown: look before acting; a pool not yet deleting gets at most one
            # more DELETE.
            try:
                current = self.get_pool(pool_id)
            except errors.PoolNotFound:
                return None
            if current.phase == rules.DELETING or current.deleted:
                return current
            log.debug("DELETE %s: answer lost and pool still %s", pool_id, current.phase)
        raise errors.ConnectionFailed(
            f"the answers to two DELETEs of pool {pool_id} were lost and it is still "
            f"{current.phase}; nothing more was sent — check the connection, then try again"
        )

    def _send_delete(self, path: str, pool_id: str, *, first: bool) -> Pool | object:
        """Send DELETE, resent only after an explicit 429 refusal.

        Returns the accepted pool, or ``_LOST`` when the outcome is unknown: no answer, a
        gateway's 502/503/504, or a 2xx with an unreadable body (maybe not even from ModelArts)
        or one about another pool.
        """
        for attempt in range(1, self.retry.attempts + 1):
            try:
                response = self._send("DELETE", path)
            except errors.ConnectionFailed:
                return _LOST
            if response.status_code == 429 and attempt < self.retry.attempts:
                continue  # an explicit refusal: resent after the throttle's pause
            if response.status_code in (502, 503, 504):
                return _LOST
            if response.status_code == 404 and not first:
                return _LOST  # our earlier DELETE did it; the caller's GET will confirm
            if response.is_success:
                try:
                    accepted = Pool.from_api(read_json(response))
                except ValueError:
                    return _LOST
                # an answer about another pool (or none: "{}") says nothing about ours
                return accepted if accepted.id == pool_id else _LOST
            raise self._error(response, f"deleting pool {pool_id} failed")
        raise AssertionError("unreachable")  # pragma: no cover

    def watch_deletion(
        self,
        name: str,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Generator[Pool, None, None]:
        """Yield each observed pool until GET answers 404 (done).

        Raises DeletionFailed when the pool reaches an error phase, WaitTimeout (with the last
        observation) when ``timeout`` seconds pass. ``interval`` fixes the poll cadence; by
        default it adapts (2 s at first, then ~10 % of the elapsed time, at most 60 s).
        ``sleep`` replaces the client's sleep, e.g. ``threading.Event().wait`` to make the wait
        interruptible; the caller stops by closing the generator.
        """
        check_pool_id(name)
        sleep = sleep or self._sleep
        start = self._clock()
        seen_deleting = False
        while True:
            try:
                pool = self.get_pool(name)
            except errors.PoolNotFound:
                return
            yield pool
            seen_deleting = seen_deleting or pool.phase == rules.DELETING or bool(pool.deleted)
            _check_failed(pool, seen_deleting)
            elapsed = self._clock() - start
            if elapsed >= timeout:
                raise errors.WaitTimeout(
                    f"pool {pool.label} still exists after {elapsed:.0f} s (phase {pool.phase}); "
                    "the deletion may still finish — watch it again or check the console",
                    last=pool,
                )
            delay = interval if interval is not None else poll_delay(elapsed)
            sleep(max(0.0, min(delay, timeout - elapsed)))

    def wait_until_deleted(
        self,
        name: str,
        *,
        timeout: float = 3600.0,
        interval: float | None = None,
        on_update: Callable[[Pool], None] | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> Pool | None:
        """Block until the pool is gone; report each observation to ``on_update``.

        Returns the last pool observed before the 404 (None if it was already gone).
        """
        last = None
        watch = self.watch_deletion(name, timeout=timeout, interval=interval, sleep=sleep)
        for last in watch:
            if on_update is not None:
                on_update(last)
        return last

    # -- HTTP --------------------------------------------------------------------------------

    def _pools_path(self) -> str:
        return f"/v2/{self.settings.project_id}/pools"

    def _pool_path(self, pool_id: str) -> str:
        return f"{self._pools_path()}/{pool_id}"

    def _get(self, path: str, query: str = "", *, what: str) -> Any:
        """GET with retries on transport errors, 429/502/503/504 and unreadable bodies."""
        url = f"{path}?{query}" if query else path
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._send("GET", url)
            except errors.ConnectionFailed:
                if last:
                    raise
                self._pause(self.retry.delay(attempt))
                continue
            if response.status_code in RETRYABLE_STATUS and not last:
                if response.status_code != 429:  # the throttle already paused for a 429
                    self._pause(self.retry.delay(attempt, retry_after(response)))
                continue
            if not response.is_success:
                raise self._error(response, f"reading {what} failed")
            try:
                return read_json(response)
            except ValueError:
                if last:
                    raise errors.ApiError(
                        status=response.status_code,
                        request_id=response.headers.get("X-Request-Id"),
                        what=f"reading {what} failed: the answer was not valid JSON",
                    ) from None
                self._pause(self.retry.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str) -> httpx.Response:
        """One request, and once more with renewed credentials if they expired meanwhile.

        Resending after a 401 is safe even for DELETE: the gateway refused it before ModelArts
        saw it. ``keys`` decides with what, and whether at all (see keys.py).
        """
        key = None
        for _ in (1, 2):
            with self.keys.turn(key) as used:
                response = self._send_once(method, url, used.auth)
                if response.is_success or response.status_code == 404:  # authenticated
                    self.keys.succeeded(used)
            if response.status_code != 401:
                return response
            key = self.keys.refused(used)
            if key is None:
                return response
        return response

    def _refusal_hint(self, key: Key) -> str | None:
        """What to say about a final 401, from what happened to the credentials."""
        source = key.settings.credentials.source
        if key.renewed:
            return (f"new credentials from {source} were refused too; nothing more was sent — "
                    "check them, then run again")
        if not key.stale:
            return None
        if key.settings.credentials.from_notebook_session:
            return _SESSION_401_HINT
        return (f"the credentials from {source} worked earlier and are refused now (expired?); "
                f"asking {source} again gave no new ones — update them and run again")

    def _pause(self, seconds: float) -> None:
        """Every wait of the client (back-off, Retry-After, throttle): ended early by ``cancel``."""
        if self._sleep is time.sleep:
            self.cancel.wait(seconds)
        else:
            self._sleep(seconds)  # a simulated clock (tests, benchmarks)
        self._check_cancel()

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise errors.Cancelled("stopped; no further request was sent")

    def _send_once(self, method: str, url: str, auth: httpx.Auth) -> httpx.Response:
        """One request; transport failures become ConnectionFailed (httpx types never leak)."""
        self._check_cancel()
        self.throttle.wait()
        started = time.perf_counter()
        try:
            response = self._client().request(  # absolute: a base_url costs a second URL parse
                method, self.settings.endpoint + url, headers=_JSON, auth=auth
            )
        except httpx.HTTPError as exc:
            log.debug("%s %s failed: %s", method, url, type(exc).__name__)
            raise errors.ConnectionFailed(
                f"{method} {self.settings.endpoint}{url.split('?')[0]} failed: "
                f"{transport_reason(exc)}"
            ) from None
        if response.status_code == 429:
            self._on_throttled(response)
        log.debug(
            "%s %s -> %s (request id %s, %.0f ms)",
            method,
            url,
            response.status_code,
            response.headers.get("X-Request-Id"),
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _on_throttled(self, response: httpx.Response) -> None:
        _, message, _ = error_fields(response)
        pause = self.retry.delay(1, retry_after(response))
        self.throttle.throttled(pause, parse_rate_limit(message))

    def _error(self, response: httpx.Response, what: str) -> errors.ApiError:
        error = api_error(
            response,
            what,
            signed=isinstance(self.keys.current.auth, AkSkAuth),
            notebook_session=self.settings.credentials.from_notebook_session,
        )
        current = self.keys.current  # after a final 401: the key that was refused
        hint = self._refusal_hint(current) if response.status_code == 401 else None
        if hint and current.refused and error.hint == type(error).hint:  # skew says more
            error.with_hint(hint)
        return error


def _verify_for(settings: Settings) -> ssl.SSLContext | bool:
    if settings.ca_bundle:
        try:
            return ssl.create_default_context(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigError(
                f"cannot load CA bundle {settings.ca_bundle}: {exc.strerror or exc}"
            ) from None
    return True


def _check_failed(pool: Pool, seen_deleting: bool) -> None:
    failed = pool.phase in rules.FAILED_PHASES or (
        seen_deleting and pool.phase in rules.FAILED_AFTER_DELETING
    )
    if failed:
        detail = f": {pool.message}" if pool.message else ""
        raise errors.DeletionFailed(
            f"deleting pool {pool.label} failed: it is now {pool.phase}{detail}; "
            "check the pool in the ModelArts console",
            last=pool,
        )
