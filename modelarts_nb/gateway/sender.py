"""``Sender``: one signed request at a time, and the rules every request of a client obeys.

Each request: stopped before it leaves if the client's ``cancel`` or the run's own stop event is
set; sent only after the throttle's pause (a 429 slows every later request); signed with the
key chain's current credentials, and once more with renewed ones after a 401 (the gateway
refused it before ModelArts saw it, so even a DELETE may go again: ``keys`` decides with what,
and whether at all); its answer read within ``MAX_BODY`` (``body``). Transport failures become
``ConnectionFailed`` (``NotWritten`` when nothing left): httpx types never leak.

Why apart from the verbs (``api.PoolsApi``, a ``Sender``): the verbs decide what to ask and
what an answer means; this is how any request goes, in one place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._version import __version__
from . import errors
from .auth import AkSkAuth
from .body import read_body
from .keys import KeyChain, refusal_hint
from .names import is_loopback_host
from .responses import (
    api_error,
    error_fields,
    request_id,
    retry_after,
    transport_reason,
    workspace_hint,
)
from .retry import RetryPolicy, Throttle, parse_rate_limit
from .settings import Settings

__all__ = ["DEFAULT_TIMEOUT", "NotWritten", "Sender", "TENANT_HEADER"]

log = logging.getLogger("modelarts_nb")
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_JSON = {"Content-Type": "application/json"}  # sent (and signed) on every call, as the SDK does
# The tenant id, for workspace authentication: sent (and signed) on the GET and DELETE of one
# pool, the two calls whose pages document it (docs/modelarts-api.md §1.1); nowhere else
# (docs/tenant-and-details.md says why).
TENANT_HEADER = "X-ModelArts-User-ID"


class Sender:
    """Requests of one project's client: each signed, throttled, stoppable, and read within
    ``MAX_BODY``. ``transport``, ``sleep`` and ``clock`` are seams for tests and simulations;
    ``retry`` sets the retry budget. ``close()`` drops every connection."""

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
        loopback = is_loopback_host(urlsplit(settings.endpoint).hostname or "")
        self._options: dict[str, Any] = dict(
            timeout=timeout,
            verify=_verify_for(settings, trust_env=not loopback),
            transport=transport,
            # loopback (the sandbox) must never be routed through an environment proxy
            trust_env=not loopback,
            # only what body.read_body inflates step by step (httpx would also offer br and zstd)
            headers={"User-Agent": f"modelarts-nb/{__version__}", "Accept-Encoding": "gzip"},
            follow_redirects=False,
        )
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._workspaces: dict[str, str] = {}  # pool id -> its workspace, as last read
        self._opened()

    def _opened(self) -> None:
        """A hook for what a subclass records of every client made (``PoolsApi``: kernel exit
        closes them all)."""

    @property
    def settings(self) -> Settings:
        """The settings in use (credentials included: they change when renewed)."""
        return self.keys.current.settings

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

    # -- stopping and waiting -----------------------------------------------------------------

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

    # -- one request ---------------------------------------------------------------------------

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
                self._clear_to_send(before)
                started = time.perf_counter()
                try:  # an absolute URL: a base_url would parse it twice
                    response = self._exchange(method, self.settings.endpoint + url,
                                              self._headers(pool is not None), used.auth)
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

    def _clear_to_send(self, before: Callable[[], None] | None) -> None:
        """Right before a request leaves: not stopped, the throttle's pause over (a Stop during
        it sends nothing), then ``before`` (a DELETE's ``on_wire``: it may be on its way)."""
        self._check_cancel()
        self.throttle.wait()
        self._check_cancel()
        if before is not None:
            before()

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
            read_body(response, self._check_cancel)
        finally:
            response.close()  # unread (refused, stopped): the connection is dropped, not reused
        return response

    def _headers(self, about_a_pool: bool) -> dict[str, str]:
        """The request's own headers: JSON always, the tenant id on a pool's GET and DELETE."""
        user_id = self.settings.user_id
        return {**_JSON, TENANT_HEADER: user_id} if about_a_pool and user_id else _JSON

    def _unreachable(self, method: str, url: str, exc: httpx.HTTPError) -> errors.ConnectionFailed:
        log.debug("%s %s failed: %s", method, url, type(exc).__name__)
        kind = NotWritten if isinstance(exc, _BEFORE_WRITING) else errors.ConnectionFailed
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
        """The typed error of a refused answer (the verbs raise it); a 403 to a request that
        carried the tenant id says what workspace authentication needs, and how to do without
        it."""
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


class NotWritten(errors.ConnectionFailed):
    """The request failed before any of it was written: it certainly never left."""


# raised before a byte of the request is written: connecting (TLS included: httpx reports a
# failed handshake as ConnectError), a proxy refusing the tunnel, no free connection, a bad URL
_BEFORE_WRITING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.PoolTimeout,
                   httpx.UnsupportedProtocol)


def _verify_for(settings: Settings, *, trust_env: bool) -> ssl.SSLContext:
    if settings.ca_bundle:
        try:
            return ssl.create_default_context(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise errors.ConfigError(
                f"cannot load CA bundle {settings.ca_bundle}: {exc.strerror or exc}"
            ) from None
    return default_tls(trust_env=trust_env)


_TLS: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def default_tls(*, trust_env: bool = True) -> ssl.SSLContext:
    """httpx's own default TLS context (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR when
    the environment is trusted), made once per process and shared by every client: making one
    reads the whole CA bundle, ~25 ms of CPU, which each new client used to spend."""
    key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _TLS_LOCK:
        if key not in _TLS:
            _TLS[key] = httpx.create_ssl_context(trust_env=trust_env)
        return _TLS[key]

