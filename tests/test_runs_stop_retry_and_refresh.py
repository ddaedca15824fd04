"""Runs of the engine: a failing view, Stop, retry after a failure, refresh and elapsed time,
over real HTTP.

Each test is one break: what a user saw, turned into what they must see now.
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import make_client, until

from modelarts_nb import InvalidName, Step
from modelarts_nb.deletion.engine import _REGISTRY, NOTHING_SENT
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.gateway.names import endpoint_key
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=4, delete_seconds=1.0)


def pool(sb, name: str) -> str:
    return sb.display_names()[name][0]


def claimed(sb, pool_id: str) -> bool:
    """Whether the process-wide registry holds a claim on this sandbox's pool."""
    return (endpoint_key(sb.endpoint), sb.project_id, pool_id) in _REGISTRY._senders  # noqa: SLF001


def test_an_on_update_that_raises_never_stops_a_batch(sb, capsys):
    ids = [pool(sb, f"pool-0{i}") for i in (1, 2, 3)]

    def broken(target) -> None:
        if target.step is Step.SENDING:
            raise RuntimeError("a bug in the caller's progress view")

    with make_client(sb) as client:
        items = client.delete_many(ids, concurrency=1, on_update=broken)
        client.watch_many(items, interval=0.05, timeout=30)
    assert [t.step for t in items] == [Step.DELETED] * 3
    assert sb.count(method="DELETE") == 3
    assert capsys.readouterr().err.count("a view of this deletion failed (RuntimeError)") == 1


def test_ctrl_c_while_sending_is_shown_is_nothing_sent_and_not_stuck(sb):
    """A Ctrl-C that lands while a view prints "Sending…" (before the DELETE left)."""
    pool_id = pool(sb, "pool-01")
    client = make_client(sb)
    flow = DeleteFlow(client, client.get_pool(pool_id))
    calls = []

    def printing(_flow) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    flow.subscribe(printing)
    with pytest.raises(KeyboardInterrupt):
        flow.delete_now(background=False)
    assert flow.step is Step.CANCELLED and flow.message == NOTHING_SENT and not flow.running
    assert sb.count(method="DELETE") == 0 and not claimed(sb, pool_id)


def test_a_deletion_watch_many_saw_fail_may_be_retried(sb):
    pool_id = pool(sb, "pool-01")
    with make_client(sb) as client:
        items = client.delete_many([pool_id])
        assert claimed(sb, pool_id)  # held while the deletion is accepted
        sb.fail_deletion(pool_id, phase="Error", message="disk busy")
        client.watch_many(items, interval=0.05, timeout=10)
        assert items[0].step is Step.FAILED and not claimed(sb, pool_id)
        sb.fail_deletion(pool_id, None)
        again = client.delete_many([pool_id])
    assert again[0].sent and sb.count(method="DELETE") == 2


def test_stopping_one_run_never_cancels_another_on_the_same_client(sb):
    a, b = pool(sb, "pool-01"), pool(sb, "pool-02")
    client = make_client(sb)
    flow = DeleteFlow(client, client.get_pool(a), interval=0.2)
    flow.confirm(a)
    until(lambda: flow.step is Step.WATCHING)
    sb.inject(Fault(method="DELETE", pool=b, status=429, retry_after=0.6))
    threading.Timer(0.3, flow.stop).start()
    items = client.delete_many([b], concurrency=1)
    assert items[0].step is Step.ACCEPTED and sb.accepted_deletes(b) == 1
    flow.join(5)
    assert flow.step is Step.STOPPED


def test_the_stop_event_of_watch_many_ends_a_retry_after_within_a_second(sb):
    pool_id = pool(sb, "pool-01")
    client = make_client(sb)
    items = client.delete_many([pool_id])
    sb.fail_deletion(pool_id, None)  # stays Deleting
    sb.inject(Fault(method="GET", pool=pool_id, status=503, retry_after=8, times=100))
    stop = threading.Event()
    watcher = threading.Thread(target=client.watch_many, args=(items,),
                               kwargs={"interval": 0.2, "stop": stop})
    watcher.start()
    until(lambda: sb.count(method="GET") >= 2, what="the watch's first GETs")
    stopped_at, wall = time.monotonic(), time.time()
    stop.set()
    watcher.join(5)
    assert time.monotonic() - stopped_at < 1.0 and not watcher.is_alive()
    assert not [r for r in sb.requests if r.time > wall + 0.05]
    assert items[0].step is Step.STOPPED


@pytest.mark.parametrize("name", [None, "", " pool-01", "a/../b"])
def test_delete_many_refuses_a_name_resolve_would_refuse(sb, name):
    with make_client(sb) as client, pytest.raises(InvalidName):
        client.delete_many([name, "pool-02"])
    assert sb.requests == []


def test_refresh_that_cannot_read_keeps_the_step_and_a_good_one_follows_the_server(sb):
    pool_id = pool(sb, "pool-02")
    client = make_client(sb)
    flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.2)
    sb.fail_deletion(pool_id, None)  # stays Deleting
    flow.confirm(pool_id)
    until(lambda: flow.step is Step.WATCHING)
    flow.stop()
    flow.join(5)
    assert flow.step is Step.STOPPED
    sb.inject(Fault(method="GET", pool=pool_id, status=500, times=10))
    flow.refresh()
    assert flow.step is Step.STOPPED and flow.message.startswith("Could not check:")
    sb.clear_faults()
    flow.refresh()
    assert flow.step is Step.STOPPED and flow.pool.phase == "Deleting"
    review = DeleteFlow(client, client.get_pool(pool(sb, "pool-03")))
    sb.inject(Fault(method="GET", status=500, times=10))
    review.refresh()
    sb.clear_faults()
    assert review.step is Step.REVIEW and review.can_confirm("pool-03")


def test_elapsed_keeps_counting_while_watch_many_watches(sb):
    pool_id = pool(sb, "pool-01")
    with make_client(sb) as client:
        items = client.delete_many([pool_id])
        seen: list[float] = []
        client.watch_many(items, interval=0.2,
                          on_update=lambda t: seen.append(t.elapsed) if not t.step.final else None)
    assert len(seen) >= 2 and seen[-1] > seen[0]
