"""Ceilings as data: every number a server sends — a 429, a Retry-After, a body's length, a page,
a count — has a bound on our side, and kernel exit stops every client at once.

Over real loopback HTTP: the sandbox, or a small hostile server of the test's own. Where time is
the subject the clock is simulated (sleeping advances it), so nothing here waits for long.
"""

from __future__ import annotations

import functools
import json
import re
import socket
import threading
import time
import tracemalloc
import weakref
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_client, until

from modelarts_nb import (
    ApiError,
    Credentials,
    Pool,
    PoolsClient,
    RetryPolicy,
    ServerError,
    Settings,
    Throttled,
    spec_resources_table,
    status_resources_table,
)
from modelarts_nb.gateway.errors import Cancelled
from modelarts_nb.gateway.models import pool_details
from modelarts_nb.gateway.retry import Throttle
from modelarts_nb.notebook.render import pool_text
from modelarts_nb.sandbox import Fault, Sandbox

MB = 1024 * 1024
CAP_LINE = re.compile(r"the answer was larger than 32 MB; nothing further was read")


class SimulatedTime:
    """A clock that moves only when slept on; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sim() -> SimulatedTime:
    return SimulatedTime()


@pytest.fixture
def sb(sandboxes) -> Sandbox:
    return sandboxes(pools=1, delete_seconds=30)


def simulated_client(sb: Sandbox, sim: SimulatedTime, **retry: float) -> PoolsClient:
    policy = RetryPolicy(**{"base": 0.01, "cap": 0.05, **retry})  # type: ignore[arg-type]
    return make_client(sb, retry=policy, sleep=sim.sleep, clock=sim.clock)


# -- 1. throttle spacing: capped and decaying ---------------------------------------------------

def test_unexplained_429s_never_space_requests_further_than_the_cap(sb, sim):
    pool_id = sb.pool_ids()[0]
    sb.inject(Fault(method="GET", status=429, times=30))  # "limit:XX": no limit named
    with simulated_client(sb, sim, attempts=1) as client:
        for _ in range(30):
            with pytest.raises(Throttled):
                client.get_pool(pool_id)
        sim.sleeps.clear()
        assert client.get_pool(pool_id).id == pool_id
    # was: 155 days before the next request after these 30 (58 h after 24)
    assert sim.sleeps and max(sim.sleeps) <= 2.0  # retry.MAX_INTERVAL


def test_throttle_spacing_halves_with_each_quiet_ten_seconds(sim):
    throttle = Throttle(sim.sleep, sim.clock)
    for _ in range(30):
        throttle.throttled(0.0, None)
    spacing = throttle.interval
    assert spacing <= 2.0
    sim.now += 10.5
    throttle.wait()
    assert throttle.interval == spacing / 2
    sim.now += 20.5
    throttle.wait()
    assert throttle.interval == spacing / 8


def test_a_named_limit_never_spaces_requests_beyond_the_policy_ceiling(sb, sim):
    pool_id = sb.pool_ids()[0]
    refusal = {"error_code": "APIG.0308", "error_msg": "The throttling threshold has been "
               "reached: policy user over ratelimit,limit:1,time:1 minute"}
    sb.inject(Fault(method="GET", status=429, body=refusal))
    with simulated_client(sb, sim, max_retry_after=30.0) as client:
        client.get_pool(pool_id)  # refused once, then read
        client.get_pool(pool_id)
    assert sim.sleeps and max(sim.sleeps) < 30.001  # was 66.7 s: 90 % of 1 a minute


# -- 2. retries: bounded in count and in total time ---------------------------------------------

def test_a_get_stops_retrying_when_the_next_wait_would_pass_the_budget(sb, sim):
    pool_id = sb.pool_ids()[0]
    sb.inject(Fault(method="GET", status=503, retry_after=50, times=20))
    with simulated_client(sb, sim, attempts=20) as client:  # the default budget: 90 s
        with pytest.raises(ServerError, match="HTTP 503"):
            client.get_pool(pool_id)
    assert sim.sleeps == [50.0]  # a second 50 s wait would end 100 s after the first try
    assert sb.count(method="GET") == 2


def test_a_throttled_get_counts_the_throttle_pause_against_the_budget(sb, sim):
    pool_id = sb.pool_ids()[0]
    sb.inject(Fault(method="GET", status=429, retry_after=40, times=20))
    with simulated_client(sb, sim, attempts=20) as client:
        with pytest.raises(Throttled):
            client.get_pool(pool_id)
    assert sum(sim.sleeps) <= 90.0 and sb.count(method="GET") == 3


def test_a_throttled_delete_is_resent_only_within_the_budget(sb, sim):
    pool_id = sb.pool_ids()[0]
    sb.inject(Fault(method="DELETE", status=429, retry_after=50, times=20))
    wire: list[bool] = []
    with simulated_client(sb, sim, attempts=20) as client:
        with pytest.raises(Throttled):
            client.send_delete(pool_id, on_wire=wire.append)
    assert sim.sleeps == [50.0] and sb.count(method="DELETE") == 2
    assert wire == [True, False, True, False]  # each refused unprocessed: nothing deleted
    assert sb.accepted_deletes(pool_id) == 0


# -- 3. bodies: read as a stream, refused at the cap --------------------------------------------

ENDLESS_CHUNK = b"[" + b"0," * (32 * 1024 - 1)  # 64 KB of a JSON list that never ends


@functools.cache
def bomb() -> bytes:
    """100 MB of blanks, gzipped to ~100 KB (built 1 MB at a time)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * MB
    return b"".join(deflate.compress(block) for _ in range(100)) + deflate.flush()


class Hostile(BaseHTTPRequestHandler):
    """Answers by a word in the path: ``endless`` (chunked, until the client hangs up or 96 MB
    went), ``length`` (claims 300 MB, sends 1 MB), ``bomb`` (gzip of 100 MB), ``slow`` (a
    chunk every 0.1 s for 3 s), ``workloads``/``nodes`` (pages of 5,000 items, forever)."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        for word, answer in _ANSWERS.items():
            if word in self.path:
                try:
                    answer(self)
                except OSError:  # the client hung up: what a refusal looks like from here
                    pass
                self.close_connection = True
                return
        self.send_error(404)

    do_DELETE = do_GET

    def head(self, **headers: object) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "hostile-1")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), str(value))
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _endless(h: Hostile) -> None:
    h.head(Transfer_Encoding="chunked")
    for _ in range(96 * MB // len(ENDLESS_CHUNK)):  # bounded, so old code ends too
        h.chunk(ENDLESS_CHUNK)


def _length(h: Hostile) -> None:
    h.head(Content_Length=300 * MB)
    h.wfile.write(b" " * MB)


def _bomb(h: Hostile) -> None:
    h.head(Content_Length=len(bomb()), Content_Encoding="gzip")
    h.wfile.write(bomb())


def _slow(h: Hostile) -> None:
    h.head(Transfer_Encoding="chunked")
    for _ in range(30):
        h.chunk(b" " * 16)
        h.wfile.flush()
        time.sleep(0.1)


def _pages(h: Hostile) -> None:
    page = {"items": [{"n": i} for i in range(5000)],
            "metadata": {"continue": f"token-{len(h.seen)}"}}
    body = json.dumps(page).encode()
    h.head(Content_Length=len(body))
    h.wfile.write(body)


_ANSWERS: dict[str, Callable[[Hostile], None]] = {
    "endless": _endless, "length": _length, "bomb": _bomb, "slow": _slow,
    "workloads": _pages, "nodes": _pages,
}


@pytest.fixture
def hostile() -> Iterator[tuple[PoolsClient, list[str]]]:
    """A client over a hostile loopback server, and the requests that server saw."""
    seen: list[str] = []
    handler = type("Handler", (Hostile,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = Settings(f"http://127.0.0.1:{server.server_address[1]}",
                        "0123456789abcdef0123456789abcdef", Credentials("AK" * 10, "S" * 40))
    client = PoolsClient(settings, retry=RetryPolicy(base=0.01, cap=0.02))
    try:
        yield client, seen
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def pool_named(word: str) -> str:
    return f"{word}-pool-" + "x" * (36 - len(word))


def peak_while(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """The peak of memory allocated (by any thread) while ``call`` ran, and what it raised."""
    tracemalloc.start()
    raised = None
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - returned for the test to judge
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


@pytest.mark.parametrize("word", ["endless", "length", "bomb"])
def test_an_oversized_body_is_refused_at_the_cap_without_reading_it(hostile, word):
    client, seen = hostile
    bomb()  # built before memory is measured
    peak, raised = peak_while(lambda: client.get_pool(pool_named(word)))
    assert type(raised) is ApiError and raised.status == 200
    assert CAP_LINE.search(str(raised)) and "\n" not in str(raised)
    assert str(raised).startswith(f"reading pool {pool_named(word)} failed:")
    assert peak < 64 * MB, f"{peak / MB:.0f} MB"
    assert len(seen) == 1  # not asked again: the next answer would be as large


def test_an_oversized_delete_answer_means_outcome_unknown_never_not_sent(hostile):
    client, seen = hostile
    wire: list[bool] = []
    heard: list[str | None] = []
    outcome: list[Pool | None] = []
    peak, raised = peak_while(lambda: outcome.append(client.send_delete(
        pool_named("endless"), on_wire=wire.append, on_answer=heard.append)))
    assert raised is None and outcome == [None]  # None: the engine reads the pool back
    assert wire == [True] and heard == ["hostile-1"] and len(seen) == 1
    assert peak < 64 * MB, f"{peak / MB:.0f} MB"


def test_a_stop_ends_a_slow_body_between_chunks(hostile):
    client, seen = hostile
    threading.Timer(0.3, client.cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        client.get_pool(pool_named("slow"))
    assert time.monotonic() - began < 1.0 and len(seen) == 1


# -- 4. pages and numbers -----------------------------------------------------------------------

@pytest.mark.parametrize("read", ["list_workloads", "list_nodes"])
def test_pages_longer_than_asked_for_end_the_reading_at_the_item_cap(hostile, read):
    client, seen = hostile
    with pytest.raises(ApiError, match="keeps paging"):
        getattr(client, read)(pool_named(read[5:]))
    assert len(seen) <= 21  # 100,000 items: was 200 pages, a million items held


NOT_NUMBERS = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)


@pytest.mark.parametrize("odd", [float("nan"), float("inf"), -5, 10**40, True],
                         ids=["nan", "inf", "negative", "huge", "bool"])
def test_a_servers_odd_numbers_are_clamped_or_unknown_in_every_view(sb, odd):
    pool_id = sb.pool_ids()[0]
    body = sb.pool_json(pool_id)
    body["metadata"]["labels"]["os.modelarts/name"] = odd
    body["spec"]["scope"] = ["Train", odd]
    line = {"flavor": "modelarts.vm.cpu.8u", "count": odd, "maxCount": odd,
            "azs": [{"az": "cn-north-4a", "count": odd}]}
    body["spec"]["resources"] = [line]
    body["status"]["phase"] = odd
    body["status"]["resources"] = {"available": [line]}
    sb.add_pool(body)  # the sandbox answers NaN and Infinity as Python's JSON writes them
    with make_client(sb) as client:
        pool = client.get_pool(pool_id)
    tables = [spec_resources_table(pool).to_string(), status_resources_table(pool).to_string()]
    shown = " ".join([pool_text(pool), *tables, repr(pool_details(pool))])
    assert not NOT_NUMBERS.search(shown), shown
    assert not re.search(r"\bTrue\b", " ".join([pool_text(pool), *tables]))  # not a scope
    lines = [*pool.spec_resources, *pool.status_resources["available"]]
    counts = [n for line in lines for n in (line.count, line.max_count, *dict(line.azs).values())]
    assert all(n is None or 0 <= n <= 1_000_000 for n in counts), counts
    assert 0 <= pool.node_count <= 1_000_000


def test_a_timestamp_beyond_year_9999_in_utc_is_unknown(sb):
    pool_id = sb.pool_ids()[0]
    body = sb.pool_json(pool_id)
    body["metadata"]["creationTimestamp"] = "9999-12-31T23:59:59-23:59"
    sb.add_pool(body)
    with make_client(sb) as client:
        pool = client.get_pool(pool_id)
    assert pool.created is None and any("creationTimestamp" in p for p in pool.problems)
    assert "created: unknown" in pool_text(pool)


# -- 5. the sandbox refuses bodies over its cap, unread -----------------------------------------

def raw_exchange(sb: Sandbox, head: bytes, body: bytes = b"") -> tuple[bytes, dict]:
    """Send raw bytes; the status line and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as raw:
        raw.sendall(head + body)
        answer = raw.makefile("rb").read()
    status, _, rest = answer.partition(b"\r\n")
    return status, json.loads(rest.partition(b"\r\n\r\n")[2] or b"null")


CHUNK = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"  # 64 KB


@pytest.mark.parametrize("framing,body", [
    (b"Content-Length: 100000000000", b""),
    (b"Transfer-Encoding: chunked", b"ffffffffff\r\n"),
    # 16 chunks are 1 MB, the cap; the 17th's size line passes it (its byte is never sent)
    (b"Transfer-Encoding: chunked", CHUNK * 16 + b"1\r\n"),
], ids=["length", "one-huge-chunk", "chunks-past-the-cap"])
def test_the_sandbox_refuses_a_body_over_its_cap_with_413_unread(sb, framing, body):
    head = (b"DELETE /v2/%s/pools/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n\r\n"
            % (sb.project_id.encode(), sb.pool_ids()[0].encode(), framing))
    status, error = raw_exchange(sb, head, body)
    assert status.startswith(b"HTTP/1.1 413")
    assert set(error) == {"error_code", "error_msg", "request_id"}
    assert sb.accepted_deletes(sb.pool_ids()[0]) == 0
    with make_client(sb) as client:  # and it serves on
        assert client.get_pool(sb.pool_ids()[0]).phase


# -- 6. kernel exit stops every client ----------------------------------------------------------

def test_stop_every_client_ends_a_backoff_at_once_and_sends_nothing_after(sb, monkeypatch):
    from modelarts_nb.gateway import api

    monkeypatch.setattr(api, "_LIVE", weakref.WeakSet())  # this test's clients only
    pool_id = sb.pool_ids()[0]
    waiting, idle = make_client(sb), make_client(sb)
    idle.list_pools()  # one with an open connection, not reading
    sb.inject(Fault(method="GET", status=503, retry_after=30, times=5))
    ended: list[BaseException] = []

    def read() -> None:
        try:
            waiting.get_pool(pool_id)
        except BaseException as exc:  # noqa: BLE001 - judged below
            ended.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    until(lambda: sb.count(method="GET") == 2, 5, "the first 503")
    time.sleep(0.1)  # into the 30 s Retry-After wait
    began = time.monotonic()
    stopper = threading.Thread(target=api.stop_every_client)
    stopper.start()
    reader.join(5)
    assert time.monotonic() - began < 1.0 and isinstance(ended[0], Cancelled)
    stopper.join(5)
    assert idle.cancel.is_set() and waiting.cancel.is_set()
    assert idle.open_connections == waiting.open_connections == 0
    time.sleep(0.2)
    assert sb.count(method="GET") == 2
