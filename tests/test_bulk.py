"""Bulk deletion (%pools, delete_many/watch_many) against the sandbox over real HTTP; the
panel itself is tested in test_pools_panel.py."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import make_client

from modelarts_nb import Step
from modelarts_nb.notebook.pools_panel import PoolsPanel
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    # the seeded Deleting pool lasts 3 s: still there when a loaded machine lists it
    return sandboxes(pools=24, delete_seconds=0.4, seeded_deleting_seconds=3)


def states(items):
    return Counter(item.step.value for item in items)


def student_pools(n):
    return [f"pool-{i:02}" for i in range(1, n + 1)]


def test_delete_many_one_delete_each_and_reasons(sb):
    names = [
        *student_pools(20),
        "prepaid-pool",
        "frozen-pool",
        "leaving-pool",
        "team-shared",
        "nope",
        "pool-01",
    ]
    with make_client(sb) as client:
        items = client.delete_many(names, concurrency=8)
        # one LIST names them, one more starts the run; right before its DELETE each of the 20
        # pools is read again with what it runs: its GET and four reads, at once
        assert sb.count(method="GET") == 2 + 5 * 20
        client.watch_many(items, interval=0.05)
    # leaving-pool was already deleting: watched, not sent
    assert states(items) == {"deleted": 21, "refused": 2, "failed": 2}
    reasons = {item.name: item.message for item in items if item.step is not Step.DELETED}
    assert "unsubscrib" in reasons["prepaid-pool"] and "frozen" in reasons["frozen-pool"]
    assert "2 pools are named 'team-shared'" in reasons["team-shared"]
    assert "no pool with id or display name 'nope'" in reasons["nope"]
    assert all("nothing was sent" in reasons[name] for name in ("team-shared", "nope"))
    assert sb.count(method="DELETE") == 20  # a repeated name is one intent
    assert all(sb.accepted_deletes(i.pool.id) <= 1 for i in items if i.pool)


def test_failures_never_stop_the_others(sb):
    with make_client(sb) as client:
        victim = sb.display_names()["pool-03"][0]
        sb.inject(Fault(method="DELETE", pool=victim, status=500))
        sb.fail_deletion(sb.display_names()["pool-04"][0], phase="Error", message="disk busy")
        items = client.delete_many(student_pools(6), concurrency=3)
        client.watch_many(items, interval=0.05)
    by_name = {item.name: item for item in items}
    assert by_name["pool-03"].step is Step.FAILED
    assert (
        "ModelArts.50005000" in by_name["pool-03"].message
        and "request id" in by_name["pool-03"].message
    )
    assert (
        by_name["pool-04"].step is Step.FAILED and "disk busy" in by_name["pool-04"].message
    )
    assert states(items) == {"deleted": 4, "failed": 2}


def test_a_401_stops_the_batch_at_once(sb):
    with make_client(sb) as client:
        sb.inject(Fault(method="DELETE", status=401, times=100))
        items = client.delete_many(student_pools(20), concurrency=4)
    assert sb.count(method="DELETE") <= 4  # only those already in flight
    counts = states(items)
    assert counts["failed"] == sb.count(method="DELETE") and counts["cancelled"] >= 16
    skipped = [i for i in items if i.step is Step.CANCELLED]
    assert all("stopped after a 401" in i.message for i in skipped)


def test_throttling_slows_the_whole_batch(sb, sandboxes):
    limited = sandboxes(pools=30, delete_seconds=30, rate_limit=20)
    with make_client(limited) as client:
        items = client.delete_many(student_pools(30), concurrency=8, force=True)
    assert states(items) == {"accepted": 30}
    records = limited.requests
    rejected = [r for r in records if r.status == 429]
    assert rejected, "the rate limit must have been hit"
    first = rejected[0].time
    late = [r for r in rejected if r.time > first + 0.1]  # sent after the client knew
    assert late == [], f"{len(late)} requests beyond the limit after the first 429"
    assert sum(r.method == "DELETE" and r.status == 200 for r in records) == 30


def test_pools_magic_text_paths(shell, capsys, env_sandbox):
    result = shell.run_cell("%pools --delete --no-widgets")
    out = capsys.readouterr()
    assert not result.success and "needs at least one filter" in out.out + out.err
    shell.run_cell("%pools --tag course=ml101 --delete --no-widgets")
    out = capsys.readouterr().out
    assert "Nothing was deleted" in out and "%pools --tag course=ml101 --delete --yes" in out
    assert env_sandbox.count(method="DELETE") == 0
    result = shell.run_cell("%pools --name 'pool-0*' --delete --yes --interval 0.05")
    out = capsys.readouterr().out
    assert result.success and "3 deleted" in out
    assert env_sandbox.count(method="DELETE") == 3


def test_pools_magic_reports_failures_in_one_line(shell, capsys, env_sandbox):
    env_sandbox.inject(
        Fault(
            method="DELETE",
            pool=env_sandbox.display_names()["pool-02"][0],
            status=403,
            body={"error_code": "ModelArts.5014", "error_msg": "Permission deny"},
        )
    )
    result = shell.run_cell("%pools --name 'pool-0*' --delete --yes --interval 0.05")
    out = capsys.readouterr().out
    assert not result.success
    assert out.strip().splitlines()[-1].startswith("BulkFailed: 1 of 3 pools failed")
    assert "ModelArts.5014" in out and "Traceback" not in out


def test_pools_magic_returns_panel(shell, capsys, env_sandbox):
    shell.run_cell("p = %pools --tag course=ml101")
    panel = shell.user_ns["p"]
    assert isinstance(panel, PoolsPanel) and len(panel.checks) == 3
    assert env_sandbox.count(method="DELETE") == 0


def test_a_display_name_and_its_id_are_one_pool_deleted_once(sb):
    pool_id = sb.display_names()["pool-05"][0]
    with make_client(sb) as client:
        items = client.delete_many(["pool-05", pool_id, "pool-06"], concurrency=8)
        client.watch_many(items, interval=0.05)
    assert [item.pool.id for item in items][0] == pool_id and len(items) == 2
    assert states(items) == {"deleted": 2}
    assert sb.count(method="DELETE") == 2 and sb.accepted_deletes(pool_id) == 1
