"""Client rules at the transport seam (httpx.MockTransport): retries, DELETE safety, messages.

Each behaviour here is also exercised over real HTTP against the sandbox in test_client_http.py.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from modelarts_nb import (
    ApiError,
    AuthenticationError,
    ConnectionFailed,
    Credentials,
    DeletionFailed,
    DeletionRefused,
    InvalidName,
    PermissionDenied,
    PoolNotFound,
    PoolsClient,
    RetryPolicy,
    ServerError,
    Settings,
    Throttled,
    WaitTimeout,
)

PID = "0123456789abcdef0123456789abcdef"
AK, SK = "UNITAK00000000000001", "unitsecret000000000000000000000000000001"
BODY = json.loads((Path(__file__).parent / "fixtures" / "show_pool_running.json").read_text())
POOL = BODY["metadata"]["name"]
PATH = f"/v2/{PID}/pools/{POOL}"

Reply = Callable[[httpx.Request], httpx.Response]


class App:
    """A scripted API: per method, a queue of replies (status, body, headers) or exceptions."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.script: dict[str, list] = {"GET": [], "DELETE": []}

    def then(self, method: str, *replies) -> App:
        self.script[method].extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.script[request.method]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        status, body, headers = reply
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers or {})

    def count(self, method: str) -> int:
        return sum(r.method == method for r in self.requests)


def pool(phase="Running", **changes):
    body = copy.deepcopy(BODY)
    body["status"]["phase"] = phase
    for key, value in changes.items():
        body["metadata"]["annotations"][key] = value
    return body


def ok(body=None, **headers):
    return (200, pool() if body is None else body, headers)


def err(status, code=None, msg=None, **headers):
    body = {"error_code": code, "error_msg": msg} if code else {}
    return (status, body, {"X-Request-Id": "req-1", **headers})


NOT_FOUND = err(404, "ModelArts.50015001", "pool not found")


@pytest.fixture
def app():
    return App()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(app, sleeps):
    """Time is simulated: sleeping advances the clock, and every sleep is recorded."""
    settings = Settings(
        endpoint="https://modelarts.cn-north-4.myhuaweicloud.com",
        project_id=PID,
        credentials=Credentials(AK, SK),
    )
    now = [1000.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    transport = httpx.MockTransport(app)
    with PoolsClient(settings, transport=transport, sleep=sleep, clock=lambda: now[0]) as c:
        yield c


def test_get_pool_sends_signed_get(client, app):
    app.then("GET", ok())
    assert client.get_pool(POOL).phase == "Running"
    (request,) = app.requests
    assert request.url.path == PATH
    assert request.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=" + AK)
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_retries_transient_statuses(client, app, sleeps, status):
    app.then("GET", err(status), err(status), ok())
    assert client.get_pool(POOL).id == POOL
    assert app.count("GET") == 3 and len(sleeps) == 2


def test_get_retries_transport_errors_then_gives_one_line(client, app, sleeps):
    app.then("GET", httpx.ReadTimeout("slow"))
    with pytest.raises(ConnectionFailed, match="timed out") as info:
        client.get_pool(POOL)
    assert app.count("GET") == RetryPolicy().attempts == 4
    assert "\n" not in str(info.value)


def test_retry_after_is_honoured_and_capped(client, app, sleeps):
    app.then(
        "GET",
        err(429, "APIG.0308", "limit", **{"Retry-After": "7"}),
        err(503, **{"Retry-After": "9999"}),
        ok(),
    )
    client.get_pool(POOL)
    assert sleeps == [7.0, 60.0]


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(base=1.0, cap=4.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


@pytest.mark.parametrize(
    "reply,cls,text",
    [
        (
            err(
                401,
                "APIGW.0301",
                "Incorrect IAM authentication information: verify aksk signature fail",
            ),
            AuthenticationError,
            "not retried",
        ),
        (
            err(403, "ModelArts.0210", "project id in URL does not match token"),
            PermissionDenied,
            "ModelArts.0210",
        ),
        (NOT_FOUND, PoolNotFound, "%pools lists the pools you can see"),
        (err(500, "ModelArts.50005000", "internal error"), ServerError, "ModelArts.50005000"),
        (err(400, "ModelArts.50004000", "Bad request."), ApiError, "Bad request."),
    ],
)
def test_errors_are_typed_single_line_and_not_retried(client, app, sleeps, reply, cls, text):
    app.then("GET", reply)
    with pytest.raises(cls) as info:
        client.get_pool(POOL)
    assert app.count("GET") == 1 and sleeps == []
    message = str(info.value)
    assert text in message and "req-1" in message and "\n" not in message
    assert info.value.status == reply[0] and info.value.request_id == "req-1"


def test_request_id_from_body_and_html_proxy_page(client, app):
    app.then(
        "GET", (400, {"error_code": "APIG.0101", "error_msg": "no api", "request_id": "b-9"}, {})
    )
    with pytest.raises(ApiError, match="b-9"):
        client.get_pool(POOL)
    app.script["GET"] = [
        (418, b"<html><body>proxy says no</body></html>", {"Content-Type": "text/html"})
    ]
    with pytest.raises(ApiError, match="not JSON \\(text/html\\)"):
        client.get_pool(POOL)


def test_throttled_after_budget_keeps_retry_after(client, app):
    app.then("GET", err(429, "APIG.0308", "over ratelimit", **{"Retry-After": "3"}))
    with pytest.raises(Throttled) as info:
        client.get_pool(POOL)
    assert info.value.retry_after == 3.0 and app.count("GET") == 4


def test_clock_skew_is_explained(client, app):
    server_time = datetime.now(timezone.utc) - timedelta(minutes=20)
    app.then(
        "GET",
        err(401, "APIGW.0301", "signature expired", Date=format_datetime(server_time, usegmt=True)),
    )
    with pytest.raises(AuthenticationError, match="your clock is 20 minutes ahead of"):
        client.get_pool(POOL)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a/b",
        "..",
        "x?y",
        "x#y",
        "x%2e",
        "po ol",
        "pool\n",
        "A" * 40,
        "a" * 64,
        "-" + "a" * 40,
        POOL + "-",
        POOL + "/../other",
    ],
)
def test_invalid_names_send_nothing(client, app, bad):
    with pytest.raises(InvalidName, match="nothing was sent"):
        client.get_pool(bad)
    with pytest.raises(InvalidName):
        client.delete_pool(bad)
    assert app.requests == []


def test_delete_happy_path_sends_exactly_one_delete(client, app):
    app.then("GET", ok()).then("DELETE", ok(pool("Deleting")))
    assert client.delete_pool(POOL).phase == "Deleting"
    assert [r.method for r in app.requests] == ["GET", "DELETE"]


@pytest.mark.parametrize(
    "body,text",
    [
        (pool(**{"os.modelarts/billing.mode": "1"}), "unsubscrib"),
        ({**BODY, "spec": {**BODY["spec"], "controlMode": 8}}, "frozen"),
    ],
)
def test_prepaid_and_frozen_are_refused_before_delete(client, app, body, text):
    app.then("GET", ok(body))
    with pytest.raises(DeletionRefused, match=text):
        client.delete_pool(POOL)
    assert app.count("DELETE") == 0


def test_already_deleting_sends_no_delete(client, app):
    app.then("GET", ok(pool("Deleting")))
    assert client.delete_pool(POOL).phase == "Deleting"
    assert app.count("DELETE") == 0


def test_not_found_before_delete_sends_no_delete(client, app):
    app.then("GET", NOT_FOUND)
    with pytest.raises(PoolNotFound):
        client.delete_pool(POOL)
    assert app.count("DELETE") == 0


@pytest.mark.parametrize(
    "lost", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("closed"), err(502), err(504)]
)
@pytest.mark.parametrize("after,expected", [(ok(pool("Deleting")), "Deleting"), (NOT_FOUND, None)])
def test_lost_delete_answer_is_resolved_by_get_not_resend(client, app, lost, after, expected):
    app.then("GET", ok(), after).then("DELETE", lost)
    result = client.delete_pool(POOL)
    assert (result.phase if result else None) == expected
    assert [r.method for r in app.requests] == ["GET", "DELETE", "GET"]


def test_lost_answer_and_still_running_allows_one_more_delete_only(client, app):
    app.then("GET", ok(), ok(), ok()).then("DELETE", httpx.ReadTimeout("t"))
    with pytest.raises(ConnectionFailed, match="two DELETEs"):
        client.delete_pool(POOL)
    assert [r.method for r in app.requests] == ["GET", "DELETE", "GET", "DELETE", "GET"]


def test_second_delete_answered_404_means_done(client, app):
    app.then("GET", ok(), ok(), NOT_FOUND).then("DELETE", httpx.ReadTimeout("t"), NOT_FOUND)
    assert client.delete_pool(POOL) is None
    assert app.count("DELETE") == 2


def test_delete_not_resent_on_401_nor_anything_else_with_refused_keys(client, app):
    app.then("GET", ok()).then("DELETE", err(401, "APIGW.0301", "verify aksk signature fail"))
    with pytest.raises(AuthenticationError):
        client.delete_pool(POOL)
    sent = len(app.requests)
    with pytest.raises(AuthenticationError, match="refused .* by an earlier request"):
        client.delete_pool(POOL)  # the same client never signs with refused keys again
    assert app.count("DELETE") == 1 and len(app.requests) == sent


def test_delete_not_resent_on_500(client, app):
    app.then("GET", ok(), ok()).then("DELETE", err(500, "ModelArts.50005000", "internal error"))
    for _ in (1, 2):
        with pytest.raises(ServerError):
            client.delete_pool(POOL)
    assert app.count("DELETE") == 2  # one per call


def test_delete_throttled_is_resent_after_retry_after(client, app, sleeps):
    app.then("GET", ok()).then(
        "DELETE", err(429, "APIG.0308", "x", **{"Retry-After": "2"}), ok(pool("Deleting"))
    )
    client.delete_pool(POOL)
    assert app.count("DELETE") == 2 and sleeps == [2.0]


def test_wait_reports_each_observation_until_404(client, app, sleeps):
    app.then("GET", ok(pool("Deleting")), ok(pool("Deleting")), NOT_FOUND)
    seen = []
    last = client.wait_until_deleted(POOL, timeout=600, on_update=seen.append)
    assert [p.phase for p in seen] == ["Deleting", "Deleting"] and last.phase == "Deleting"
    assert sleeps == [2.0, 2.0]


def test_wait_stops_on_error_phase(client, app):
    app.then("GET", ok(pool("Deleting")), ok(pool("Error")))
    with pytest.raises(DeletionFailed, match="now Error") as info:
        client.wait_until_deleted(POOL, timeout=600, interval=0)
    assert info.value.last.phase == "Error"


def test_wait_timeout_keeps_last_pool(client, app):
    app.then("GET", ok(pool("Deleting")))
    with pytest.raises(WaitTimeout, match="still exists") as info:
        client.wait_until_deleted(POOL, timeout=0, interval=0)
    assert info.value.last.phase == "Deleting"


def test_list_and_resolve_display_names(client, app):
    other = copy.deepcopy(BODY)
    other["metadata"]["name"] = "mypool-" + "0" * 32
    app.then("GET", ok({"kind": "PoolList", "items": [BODY, other]}))
    with pytest.raises(InvalidName, match="2 pools are named 'mypool'") as info:
        client.resolve("mypool")
    assert POOL in str(info.value) and other["metadata"]["name"] in str(info.value)
    assert app.requests[0].url.path == f"/v2/{PID}/pools"


def test_list_query_is_sorted_and_percent_encoded(client, app):
    app.then("GET", ok({"items": []}))
    client.list_pools(status="created", label_selector="os.modelarts/name=a b")
    assert (
        app.requests[0]
        .url.raw_path.decode()
        .endswith("?labelSelector=os.modelarts%2Fname%3Da%20b&status=created")
    )
    with pytest.raises(InvalidName):
        client.list_pools(status="gone")


def test_logs_at_debug_carry_no_secret(client, app, caplog):
    app.then("GET", ok())
    with caplog.at_level(logging.DEBUG):
        client.get_pool(POOL)
    text = caplog.text
    assert "200" in text and POOL in text
    assert AK not in text and SK not in text and "Signature=" not in text


def test_throttle_pacing_relaxes_after_a_quiet_minute():
    from modelarts_nb.gateway.retry import QUIET_SECONDS, Throttle

    now = [0.0]
    slept: list[float] = []
    throttle = Throttle(lambda s: (slept.append(s), now.__setitem__(0, now[0] + s)),
                        lambda: now[0])
    for _ in range(5):  # unexplained 429s double the spacing each time
        throttle.throttled(0.0, None)
    assert throttle.interval >= 0.05 * 2 ** 4
    throttle.wait()
    throttle.wait()
    assert slept and slept[-1] > 0
    now[0] += QUIET_SECONDS + 1
    slept.clear()
    for _ in range(20):
        throttle.wait()
    assert throttle.interval == 0.0 and slept == []
