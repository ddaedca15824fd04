"""PoolsClient over real HTTP against the sandbox: what was sent, what was refused, what it said."""

from __future__ import annotations

import socket

import httpx
import pytest
from conftest import make_client

from modelarts_nb import (
    AuthenticationError,
    ConnectionFailed,
    Credentials,
    DeletionRefused,
    InvalidName,
    PermissionDenied,
    PoolNotFound,
    PoolsClient,
    ServerError,
    Settings,
)
from modelarts_nb.sandbox import Fault


def by_name(sb, display):
    return sb.display_names()[display]


def api_calls(sb, method=None):
    return [(r.method, r.status) for r in sb.requests if method in (None, r.method)]


def test_show_and_list(client, sandbox):
    (pool_id,) = by_name(sandbox, "train-gpu")
    pool = client.get_pool(pool_id)
    assert pool.display_name == "train-gpu" and pool.phase == "Running"
    assert pool.status_resources["abnormal"]
    pools = client.list_pools()
    assert {p.id for p in pools} == set(sandbox.pool_ids())
    assert sandbox.requests[0].auth == "aksk"


def test_list_filters_reach_the_server(client, sandbox):
    creating = client.list_pools(status="creating")
    assert [p.display_name for p in creating] == ["creating-pool"]
    named = client.list_pools(label_selector="os.modelarts/name=pool-02,os.modelarts/region!=x")
    assert [p.display_name for p in named] == ["pool-02"]
    assert ("labelSelector=os.modelarts%2Fname%3Dpool-02%2Cos.modelarts%2Fregion%21%3Dx"
            in sandbox.requests[-1].query)


def test_object_form_status_resources_survive(client, sandbox):
    (pool_id,) = by_name(sandbox, "infer-cpu")
    assert client.get_pool(pool_id).status_resources["available"]


def test_resolve_display_name_and_ambiguity(client, sandbox):
    assert client.resolve("train-gpu").id == by_name(sandbox, "train-gpu")[0]
    with pytest.raises(InvalidName, match="2 pools are named 'team-shared'") as info:
        client.resolve("team-shared")
    for pool_id in by_name(sandbox, "team-shared"):
        assert pool_id in str(info.value)
    with pytest.raises(PoolNotFound, match="no pool with id or display name 'nope'"):
        client.resolve("nope")
    assert sandbox.count(method="DELETE") == 0


def test_delete_and_watch_until_gone(client, sandbox):
    (pool_id,) = by_name(sandbox, "pool-01")
    accepted = client.delete_pool(pool_id)
    assert accepted.phase == "Deleting" and accepted.deleted is not None
    phases = []
    client.wait_until_deleted(
        pool_id, timeout=30, interval=0.2, on_update=lambda p: phases.append(p.phase)
    )
    assert phases and set(phases) == {"Deleting"}
    assert sandbox.accepted_deletes(pool_id) == 1
    assert sandbox.count(method="DELETE") == 1
    assert sandbox.requests[-1].status == 404


def test_prepaid_and_frozen_refused_without_delete(client, sandbox):
    for name, text in (("prepaid-pool", "unsubscrib"), ("frozen-pool", "frozen")):
        (pool_id,) = by_name(sandbox, name)
        with pytest.raises(DeletionRefused, match=text):
            client.delete_pool(pool_id)
    assert sandbox.count(method="DELETE") == 0


def test_lost_delete_answer_is_checked_with_get_not_resent(sandbox):
    (pool_id,) = by_name(sandbox, "pool-02")
    sandbox.inject(Fault(method="DELETE", drop="after"))
    with make_client(sandbox) as client:
        result = client.delete_pool(pool_id)
    assert result.phase == "Deleting"
    assert [r.method for r in sandbox.requests] == ["GET", "DELETE", "GET"]
    assert sandbox.accepted_deletes(pool_id) == 1


def test_dropped_delete_before_processing_gets_one_more_delete(sandbox):
    (pool_id,) = by_name(sandbox, "pool-03")
    sandbox.inject(Fault(method="DELETE", drop="before"))
    with make_client(sandbox) as client:
        assert client.delete_pool(pool_id).phase == "Deleting"
    assert [r.method for r in sandbox.requests] == ["GET", "DELETE", "GET", "DELETE"]
    assert sandbox.accepted_deletes(pool_id) == 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_recovers_from_transient_status(sandbox, status):
    (pool_id,) = by_name(sandbox, "train-gpu")
    sandbox.inject(Fault(method="GET", status=status, retry_after=0, times=2))
    with make_client(sandbox) as client:
        assert client.get_pool(pool_id).id == pool_id
    assert [s for _, s in api_calls(sandbox)] == [status, status, 200]


def test_server_error_is_not_retried_and_carries_request_id(sandbox):
    (pool_id,) = by_name(sandbox, "train-gpu")
    sandbox.inject(Fault(method="GET", status=500))
    with make_client(sandbox) as client, pytest.raises(ServerError) as info:
        client.get_pool(pool_id)
    assert "ModelArts.50005000" in str(info.value)
    assert len(info.value.request_id) == 32
    assert sandbox.count() == 1


def test_wrong_secret_is_one_request_and_one_line(sandbox):
    (pool_id,) = by_name(sandbox, "train-gpu")
    with make_client(sandbox, sk="wrong" * 8) as client, pytest.raises(AuthenticationError) as info:
        client.delete_pool(pool_id)
    text = str(info.value)
    assert "APIGW.0301" in text and "verify aksk signature fail" in text and "\n" not in text
    assert sandbox.count() == 1 and sandbox.count(method="DELETE") == 0
    assert sandbox.ak not in text and sandbox.sk not in text


def test_clock_skew_is_named(sandbox):
    sandbox.clock_offset = -20 * 60  # the server is 20 minutes behind us
    with make_client(sandbox) as client, pytest.raises(AuthenticationError) as info:
        client.get_pool(sandbox.pool_ids()[0])
    assert "signature expired" in str(info.value)
    assert "your clock is 20 minutes ahead of the server's" in str(info.value)


def test_token_auth_and_wrong_project(sandbox):
    with make_client(sandbox, token=True) as client:
        client.get_pool(sandbox.pool_ids()[0])
    assert sandbox.requests[-1].auth == "token"
    settings = Settings(sandbox.endpoint, "f" * 32, Credentials(sandbox.ak, sandbox.sk))
    with PoolsClient(settings) as client, pytest.raises(PermissionDenied, match="ModelArts.0210"):
        client.list_pools()


def test_read_timeout_and_refused_connection(sandbox):
    sandbox.inject(Fault(method="GET", delay=1.0, times=10))
    with make_client(sandbox, timeout=httpx.Timeout(0.2)) as client:
        with pytest.raises(ConnectionFailed, match="timed out"):
            client.get_pool(sandbox.pool_ids()[0])
    assert sandbox.count() == 4  # the GET budget, then one clear error
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket closes
    settings = Settings(f"http://127.0.0.1:{port}", sandbox.project_id, Credentials("a", "b"))
    with (
        PoolsClient(settings) as client,
        pytest.raises(ConnectionFailed, match="could not connect"),
    ):
        client.get_pool(sandbox.pool_ids()[0])


def test_invalid_names_reach_no_server(client, sandbox):
    for bad in ("../pools", "a/b", "x?y=1", "%2e%2e", " train-gpu", ""):
        with pytest.raises(InvalidName):
            client.delete_pool(bad)
    assert sandbox.count() == 0


def test_close_leaves_no_open_connection(sandbox):
    client = make_client(sandbox)
    client.get_pool(sandbox.pool_ids()[0])
    assert client.open_connections == 1
    client.close()
    assert client.open_connections == 0
