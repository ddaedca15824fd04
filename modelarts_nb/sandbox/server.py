"""HTTP transport: a stdlib threading server on loopback that speaks HTTP/1.1 like the gateway.

Every answer carries ``X-Request-Id``, a ``Date`` from the sandbox clock, ``Content-Type`` and
``Content-Length`` (keep-alive clients depend on the latter). Faults are applied here, because
they are transport-level: a gateway answering instead of the service, a slow or lost answer.

Admin endpoints (``/_sandbox/requests``, ``/faults``, ``/reset``, ``/session-credentials``)
answer only requests signed with the sandbox's own permanent AK/SK (``Gate.check_owner``;
``admin.py`` is the client): on a shared machine, loopback is not a boundary between users.
"""

from __future__ import annotations

import functools
import json
import math
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from .api import Service, route
from .faults import Fault, FaultBook, default_error_body, encode_body, html_page
from .gate import Gate, Temporary
from .limits import RateLimiter, throttled_body
from .records import Recorder, RequestRecord, fingerprints, redact, signed_names


class Sandbox(Protocol):
    """What the server needs of the sandbox that owns it (``core.Sandbox``), named here so that
    the two modules don't import each other."""

    log: Callable[[str], None] | None
    latency: float
    limiter: RateLimiter | None
    service: Service
    faults: FaultBook
    recorder: Recorder
    gate: Gate
    project_id: str
    region: str

    @property
    def requests(self) -> list[RequestRecord]: ...
    def clock(self) -> float: ...
    def inject(self, fault: Fault) -> None: ...
    def clear_faults(self) -> None: ...
    def reset(self) -> None: ...
    def issue_session_credentials(self, lifetime: float = 900.0) -> Temporary: ...
    def session_credentials(self) -> Temporary | None: ...

__all__ = ["SandboxServer"]

JSON = "application/json"
_ADMIN = "/_sandbox/"
# The API takes no large bodies (a DELETE has none; an admin call a few hundred bytes): a body
# over this is refused with 413 before it is read, so no request can take the server's memory.
MAX_REQUEST_BODY = 1024 * 1024
_LINE = 1024  # the longest chunk-size or trailer line read; a longer one is no HTTP


class _TooLarge(Exception):
    """A request body over ``MAX_REQUEST_BODY``."""


@dataclass
class _Answer:
    status: int
    payload: bytes
    ctype: str
    extra: dict[str, str] = field(default_factory=dict)


class SandboxServer(ThreadingHTTPServer):
    """Binds 127.0.0.1 only; remembers open connections so ``stop`` really stops serving."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 makes 30 clients connecting at once wait a SYN
    # retransmit (1 s) or be reset; a gateway accepts them all.
    request_queue_size = 128

    def __init__(self, port: int, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request is normal here; only report real bugs."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections, which would otherwise keep being served."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "api-gateway"
    timeout = 60  # idle keep-alive connections end after a minute
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every keep-alive answer, which real gateways do not.
    disable_nagle_algorithm = True
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)

    # every method goes through one dispatcher; unknown method/path pairs get APIG.0101
    def do_GET(self) -> None:
        self._dispatch()

    do_DELETE = do_POST = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, oversized headers...) in the gateway's shape.

        The stdlib message quotes the raw request line; it is not echoed, only the status phrase.
        """
        request_id = uuid.uuid4().hex
        body = {"error_code": "APIG.0201", "error_msg": f"{HTTPStatus(code).phrase}.",
                "request_id": request_id}
        self.close_connection = True
        self.request_version = self.protocol_version  # never fall back to header-less HTTP/0.9
        self._write(code, json.dumps(body).encode(), JSON, request_id, {"Connection": "close"})

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header follows the sandbox clock (real time + clock_offset)."""
        moment = self.server.sandbox.clock() if timestamp is None else timestamp
        return formatdate(moment, usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.sandbox.log
        if log is not None:
            log(f"{self.address_string()} {format % args}")

    # -- request handling ------------------------------------------------------------------------
    def _dispatch(self) -> None:
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form target (via a proxy)
            parts = urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        body = self._read_body()
        if body is None:
            return
        if path.startswith(_ADMIN):
            self._admin(path, query, body)
        else:
            self._api(path, query, body)

    def _read_body(self) -> bytes | None:
        """Read Content-Length or chunked bodies; None after answering 400 to a broken one, or
        413 to one over ``MAX_REQUEST_BODY`` (not read: the connection is closed instead)."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
            if length > MAX_REQUEST_BODY:
                raise _TooLarge
        except ValueError:
            self.send_error(400, "Bad request body framing.")
            return None
        except _TooLarge:
            self.send_error(413)
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        """The chunks, counted before each is read: past ``MAX_REQUEST_BODY`` it is _TooLarge."""
        chunks, total = [], 0
        while size := int(self.rfile.readline(_LINE).split(b";")[0].strip() or b"0", 16):
            total += size
            if size < 0:
                raise ValueError(size)
            if total > MAX_REQUEST_BODY:
                raise _TooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_LINE)
        while self.rfile.readline(_LINE) not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)

    def _api(self, path: str, query: str, body: bytes) -> None:
        """Decide the answer, record it, then deliver it (late, decorated or not at all).

        The record is stored *before* any delay or write, so a client that has just seen an
        answer (or given up waiting for one) always finds its request in ``sandbox.requests``.
        """
        sandbox = self.server.sandbox
        ticket, arrived = sandbox.recorder.ticket(), time.time()
        request_id = uuid.uuid4().hex
        headers = {name.lower(): value for name, value in self.headers.items()}
        where = route(path)
        auth = "aksk" if "authorization" in headers else None
        auth = auth or ("token" if "x-auth-token" in headers else None)
        is_list = where.kind == "list"
        take = functools.partial(sandbox.faults.take, self.command, where.pool, is_list)
        wait = sandbox.limiter.take() if sandbox.limiter else None
        fault = None if wait is not None else take(replacing=True)
        if wait is not None:
            answer = self._throttled(wait, request_id)
        elif fault is not None:
            answer = self._fault_answer(fault, path, request_id)
        else:
            reply = sandbox.service.handle(self.command, path, query, headers, body, request_id)
            auth = reply.auth or auth
            fault = take(replacing=False)
            answer = _Answer(reply.status, json.dumps(reply.body).encode(), JSON)
            if fault is not None:
                answer.extra = fault.extra_headers()
        dropped = fault is not None and fault.drop is not None
        sandbox.recorder.add(ticket, RequestRecord(
            method=self.command, path=path, query=query, headers=redact(headers),
            status=None if dropped else answer.status,
            fault="ratelimit" if wait is not None else (fault.label() if fault else None),
            time=arrived, pool=where.pool,
            auth=auth, **dict(zip(("key", "signature"), fingerprints(headers))),
            signed_headers=signed_names(headers),
        ))
        delay = sandbox.latency + (fault.delay if fault is not None else 0.0)
        if delay:
            time.sleep(delay)
        if dropped:
            self._drop()
        else:
            self._write(answer.status, answer.payload, answer.ctype, request_id, answer.extra)

    def _throttled(self, wait: float, request_id: str) -> _Answer:
        limiter = self.server.sandbox.limiter
        assert limiter is not None
        body = throttled_body(limiter.rate, request_id)
        retry_after = {"Retry-After": str(max(1, math.ceil(wait)))}
        return _Answer(429, json.dumps(body).encode(), JSON, retry_after)

    def _fault_answer(self, fault: Fault, path: str, request_id: str) -> _Answer:
        """What a gateway or proxy sends instead of the service (unused for drop="before")."""
        status = fault.status or (502 if fault.html else 200)
        if fault.html:
            return _Answer(status, html_page(status), "text/html", fault.extra_headers())
        if fault.malformed:
            whole = json.dumps(self.server.sandbox.service.peek(path)).encode()
            return _Answer(status, whole[: max(1, len(whole) // 2)], JSON, fault.extra_headers())
        data = default_error_body(status, request_id) if fault.body is None else fault.body
        return _Answer(status, encode_body(data, request_id), JSON, fault.extra_headers())

    def _admin(self, path: str, query: str, body: bytes) -> None:
        """Control endpoints for a sandbox in another process: loopback only, and signed with
        the sandbox's own AK/SK — checked before anything is parsed or done."""
        sandbox = self.server.sandbox
        key = (self.command, path.rstrip("/"))
        request_id = uuid.uuid4().hex
        if self.client_address[0] != "127.0.0.1":
            self._write_json(403, {"error": "admin endpoints are loopback-only"}, request_id)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        refusal = sandbox.gate.check_owner(self.command, path, query, headers, body)
        if refusal is not None:
            self._write_json(refusal.status, {"error": refusal.message}, request_id)
        elif key == ("GET", "/_sandbox/requests"):
            self._write_json(200, [r.to_json() for r in sandbox.requests], request_id)
        elif key == ("POST", "/_sandbox/faults"):
            try:
                sandbox.inject(Fault.from_json(json.loads(body or b"{}")))
            except (ValueError, TypeError, RecursionError) as exc:
                self._write_json(400, {"error": str(exc)}, request_id)
                return
            self._write_json(200, {"ok": True}, request_id)
        elif key == ("DELETE", "/_sandbox/faults"):
            sandbox.clear_faults()
            self._write_json(200, {"ok": True}, request_id)
        elif key == ("POST", "/_sandbox/reset"):
            sandbox.reset()
            self._write_json(200, {"ok": True}, request_id)
        elif key[1] == "/_sandbox/session-credentials" and key[0] in ("GET", "POST"):
            self._session_credentials(body, request_id)
        else:
            self._write_json(404, {"error": "unknown admin endpoint"}, request_id)

    def _session_credentials(self, body: bytes, request_id: str) -> None:
        """GET: what a notebook's ``Session()`` would hold now; POST {"lifetime": s}: new ones."""
        sandbox = self.server.sandbox
        if self.command == "POST":
            try:
                lifetime = json.loads(body or b"{}").get("lifetime", 900)
                if not isinstance(lifetime, (int, float)):
                    raise TypeError("lifetime must be a number of seconds")
                sandbox.issue_session_credentials(lifetime)
            except (ValueError, TypeError, AttributeError, RecursionError) as exc:
                self._write_json(400, {"error": str(exc)[:200]}, request_id)
                return
        current = sandbox.session_credentials()
        if current is None:
            self._write_json(404, {"error": "no session credentials issued"}, request_id)
            return
        answer = {**current.to_iam(), "project_id": sandbox.project_id, "region": sandbox.region}
        self._write_json(200, answer, request_id)

    # -- writing ---------------------------------------------------------------------------------
    def _write_json(self, status: int, data: Any, request_id: str) -> None:
        self._write(status, json.dumps(data).encode(), JSON, request_id, {})

    def _write(self, status: int, payload: bytes, ctype: str, request_id: str,
               extra: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Request-Id", request_id)
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. its read timeout during a delay fault)
            self.close_connection = True

    def _drop(self) -> None:
        """Close without a single byte of answer, as a lost connection looks to the client."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
