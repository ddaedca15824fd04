"""Claims and "sent" tell the truth: one claim per server however its endpoint is spelled, a
DELETE counts as sent only once it was written, an odd ``Retry-After`` never leaves a claim
held, a stale claim never blocks a new DELETE, and a read-only look never retires a panel.

Over real HTTP against the sandbox."""

from __future__ import annotations

import contextlib
import json

import pytest
from conftest import finish, panels_over, until

from modelarts_nb import Credentials, PoolsClient, RetryPolicy, Settings, Step
from modelarts_nb.deletion import receipts
from modelarts_nb.deletion.engine import _REGISTRY
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.gateway import names
from modelarts_nb.gateway.api import PoolsApi
from modelarts_nb.gateway.retry import parse_retry_after
from modelarts_nb.notebook.panel import DeletePanel
from modelarts_nb.sandbox import Fault

QUICK = RetryPolicy(base=0.01, cap=0.05, max_retry_after=0.2)


def events() -> list[dict]:
    where = receipts.location()
    return [json.loads(line) for line in where.read_text().splitlines()] if where.exists() else []


def reached_service(sb, method: str = "DELETE") -> int:
    """Requests the service itself answered (not a gateway fault standing in for it)."""
    return sum(r.method == method and r.fault is None for r in sb.requests)


@contextlib.contextmanager
def panel_via(sb, endpoint: str, name: str):
    """A single-pool panel over a client of its own that spells the endpoint ``endpoint``."""
    creds = Credentials(sb.ak, sb.sk, sb.security_token)
    client = PoolsClient(Settings(endpoint, sb.project_id, creds), retry=QUICK)
    panel = DeletePanel(DeleteFlow(client, client.resolve(name), interval=0.1), region=None)
    try:
        yield panel
    finally:
        panel.close()
        panel.flow.join(5)
        client.close()


# -- 1. one claim per server, however its endpoint is spelled ---------------------------------


@pytest.mark.parametrize("spelling", [
    "http://localhost:80", "HTTP://LocalHost", "http://localhost.:80", "http://127.0.0.1",
    "http://127.0.0.2:80/", "http://[::1]",
])
def test_every_spelling_of_loopback_is_one_registry_key(spelling):
    """The registry compares keys: two spellings of one server must not be two servers."""
    assert names.endpoint_key(spelling) == names.endpoint_key("http://localhost")


def test_default_port_and_case_of_a_remote_host_are_one_key():
    """``:443`` on https, upper case and a trailing dot name the same gateway."""
    key = names.endpoint_key("https://modelarts.cn-north-4.myhuaweicloud.com")
    assert names.endpoint_key("HTTPS://ModelArts.cn-north-4.myhuaweicloud.com.:443") == key
    assert names.endpoint_key("https://modelarts.cn-north-4.myhuaweicloud.com:8443") != key


def test_two_panels_spelling_the_endpoint_differently_send_one_delete(sandbox):
    """127.0.0.1 and localhost are one server: the second panel watches the first's DELETE,
    even while the first is still waiting to resend it after a 429."""
    sandbox.inject(Fault(method="DELETE", status=429, retry_after=1))
    localhost = sandbox.endpoint.replace("127.0.0.1", "localhost")
    with panels_over(sandbox, retry=RetryPolicy(base=0.01, cap=0.05)) as factory:
        first = factory("pool-01")
        assert first.flow.confirm("pool-01")
        until(lambda: sandbox.count(method="DELETE") == 1, what="the throttled DELETE")
        with panel_via(sandbox, localhost, "pool-01") as second:
            assert second.flow.confirm("pool-01")
            assert finish(second) is Step.DELETED and finish(first) is Step.DELETED
    assert reached_service(sandbox) == 1


# -- 2. a DELETE that could not connect was not sent ------------------------------------------


def test_delete_refused_at_connect_says_nothing_was_sent_and_offers_retry(sandbox):
    """The port closes between the re-read and the DELETE: the connection is refused, so no
    byte of the DELETE left — no receipt says sent, and Retry is offered."""
    def close_the_port(target) -> None:
        if target.step is Step.SENDING:
            sandbox.stop()
            flow.api.close()  # no kept-alive connection: the DELETE must connect anew

    with panels_over(sandbox) as factory:
        panel = factory("pool-01")
        flow = panel.flow
        flow.on_target = close_the_port
        assert flow.confirm("pool-01")
        assert finish(panel) is Step.FAILED
        assert not flow.sent and flow.can_retry, flow.message
        assert "nothing was sent" in flow.message
        assert "continues on the server" not in panel.status.value
    assert [e for e in events() if e["event"] == "sent"] == []


# -- 3. Retry-After without a time zone -------------------------------------------------------


@pytest.mark.parametrize("when", ["Sun, 06 Dec 2026 18:00:00", "Sun, 06 Dec 2099 18:00:00",
                                  "2026-12-06T18:00:00"])
def test_retry_after_date_without_zone_is_waited_out_and_the_pool_deleted(sandbox, when):
    """A date without a zone is UTC (clamped to the client's maximum): the 429 is resent."""
    sandbox.inject(Fault(method="DELETE", status=429, retry_after=when))
    with panels_over(sandbox, retry=QUICK) as factory:
        panel = factory("pool-01")
        assert panel.flow.confirm("pool-01")
        assert finish(panel) is Step.DELETED, panel.flow.message
    assert sandbox.accepted_deletes(panel.flow.pool.id) == 1
    assert not _REGISTRY._senders  # noqa: SLF001


@pytest.mark.parametrize("value", ["Sun, 06 Dec 2026 18:00:00", "Sun, 06 Dec 99999999999 18:00:00",
                                   "Sun, 06 Dec 2026 18:00:00 +9999", "1e300", "nan"])
def test_retry_after_never_raises_and_stays_between_zero_and_a_day(value):
    """It is read after the DELETE left: an exception there would hide the answer."""
    parsed = parse_retry_after(value)
    assert parsed is None or 0.0 <= parsed <= 86400.0


def test_unexpected_error_after_the_delete_left_releases_the_claim(sandbox, monkeypatch):
    """A bug between "on the wire" and the answer must not hold the pool's claim forever."""
    def bug(self, response) -> None:
        raise RuntimeError("a bug reading the 429")

    monkeypatch.setattr(PoolsApi, "_on_throttled", bug)
    sandbox.inject(Fault(method="DELETE", status=429))
    with panels_over(sandbox) as factory:
        panel = factory("pool-01")
        assert panel.flow.confirm("pool-01")
        finish(panel)
        assert "RuntimeError" in str(panel.flow.error)
    assert not _REGISTRY._senders  # noqa: SLF001


# -- 4. a stale claim stops blocking ----------------------------------------------------------


def test_claim_on_a_pool_the_server_put_back_does_not_block_a_new_delete(sandbox):
    """Panel A's DELETE was accepted and its watch stopped; the server then shows the pool
    Running again: panel B's confirmed DELETE is sent, not an imaginary one watched."""
    with panels_over(sandbox) as factory:
        first = factory("pool-01")
        assert first.flow.confirm("pool-01")
        until(lambda: first.flow.step is Step.WATCHING and first.flow.sent, what="accepted")
        first.flow.stop()
        assert finish(first) is Step.STOPPED
        sandbox.reset()  # the pool is Running again; the request log starts afresh
        second = factory("pool-01")
        assert second.flow.confirm("pool-01")
        until(lambda: sandbox.count(method="DELETE") == 1, 5, "a new DELETE")
        assert finish(second) is Step.DELETED, second.flow.message
    assert sandbox.accepted_deletes(second.flow.pool.id) == 1


# -- 5. a read-only look never retires a panel ------------------------------------------------


def test_text_look_without_yes_leaves_the_open_panel_confirmable(shell, capsys, env_sandbox):
    """``--no-widgets`` without ``--yes`` only reads: the open panel stays in REVIEW."""
    assert shell.run_cell("p = %pool_delete pool-01").success
    panel = shell.user_ns["p"]
    try:
        assert panel.flow.impact_checked.wait(10)
        assert shell.run_cell("%pool_delete pool-01 --no-widgets").success
        capsys.readouterr()
        assert panel.flow.step is Step.REVIEW, panel.flow.message
        assert panel.flow.confirm("pool-01", background=False)
        assert panel.flow.step is Step.DELETED
    finally:
        panel.close()
        panel.flow.join(5)
    assert env_sandbox.count(method="DELETE") == 1

