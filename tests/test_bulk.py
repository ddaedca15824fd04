"""Bulk deletion (%pools, PoolsPanel, delete_many/watch_many) against the sandbox over real HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from conftest import make_client, until

from modelarts_nb.pools_panel import PoolsPanel
from modelarts_nb.sandbox import Fault, start
from modelarts_nb.selection import Filters, list_selected
from modelarts_nb.steps import Step


@pytest.fixture
def sb():
    with start(pools=24, delete_seconds=0.4) as sandbox:
        yield sandbox


def states(items):
    return Counter(item.step.value for item in items)


def class_pools(client):
    """What ``%pools --tag course=ml101`` lists."""
    return list_selected(client, Filters(tags=(("course", "ml101"),))).pools


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
        assert sb.count(method="GET") == 1  # one LIST is the whole preflight
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


def test_throttling_slows_the_whole_batch(sb):
    with start(pools=60, delete_seconds=30, rate_limit=20) as limited:
        with make_client(limited) as client:
            items = client.delete_many(student_pools(60), concurrency=8)
        assert states(items) == {"accepted": 60}
        records = limited.requests
    rejected = [r for r in records if r.status == 429]
    assert rejected, "the rate limit must have been hit"
    first = rejected[0].time
    late = [r for r in rejected if r.time > first + 0.1]  # sent after the client knew
    assert late == [], f"{len(late)} requests beyond the limit after the first 429"
    assert sum(r.method == "DELETE" and r.status == 200 for r in records) == 60


def test_panel_select_three_confirm_and_see_them_deleted(sb):
    client = make_client(sb)
    panel = PoolsPanel(
        client, lambda: class_pools(client), interval=0.05
    )
    assert len(panel.checks) == 24
    ids = sb.display_names()
    chosen = [ids[name][0] for name in ("pool-01", "pool-02", "pool-03")]
    for pool_id in chosen:
        panel.checks[pool_id].value = True
    panel.typed.value = "delete 2 pools"
    assert panel.delete_button.disabled
    panel.typed.value = "delete 3 pools"
    assert not panel.delete_button.disabled
    panel.checks[ids["pool-04"][0]].value = True  # the selection changed: confirm again
    assert panel.delete_button.disabled
    panel.checks[ids["pool-04"][0]].value = False
    panel.delete_button.click()
    panel.delete_button.click()
    until(lambda: panel.run is not None, what="the checks, then the run")
    panel.run.join(10)
    assert panel.progress.value == panel.progress.max == 3
    assert "3 deleted" in panel.status.value
    assert sb.count(method="DELETE") == 3
    assert all(sb.pool_json(pool_id) is None for pool_id in chosen)


def test_panel_excludes_prepaid_and_stop_sends_nothing_more(sb):
    """Stop right after the click: DELETEs already on the wire complete, the others are never
    sent, and each pool says which happened to it."""
    client = make_client(sb)
    panel = PoolsPanel(client, client.list_pools, interval=5)
    ids = sb.display_names()
    for name in ("prepaid-pool", "frozen-pool", "leaving-pool"):
        assert panel.checks[ids[name][0]].disabled
    panel.select_all.click()
    count = len(panel.selected())
    assert ids["prepaid-pool"][0] not in panel.selected()
    panel.typed.value = f"delete {count} pools"
    sb.inject(Fault(method="DELETE", delay=0.3, times=100))
    panel.delete_button.click()  # first, what they carry is read
    until(lambda: not panel.checking, what="the checks")
    # the two team-shared pools hold a yearly/monthly node: unticked; the rest is confirmed anew
    assert not any(panel.checks[i].value for i in ids["team-shared"])
    assert "Also stop the work on 4 pool(s): train-gpu (3 training jobs and 1 sub-pool " \
        "(infer-cpu)); infer-cpu (1 inference service and 1 notebook); pool-21 " \
        "(1 training job); pool-22 (1 notebook)" == panel.acknowledgement.text
    assert "runs 1 training job" in panel.lines[ids["pool-21"][0]].value
    assert "yearly/monthly nodes" in panel.lines[ids["team-shared"][0]].value
    count = len(panel.selected())
    panel.typed.value = f"delete {count} pools"
    assert panel.delete_button.disabled  # until the work is acknowledged
    panel.busy_ack.value = True
    assert not panel.delete_button.disabled
    panel.delete_button.click()
    until(lambda: panel.run is not None, what="the run")
    until(lambda: sb.count(method="DELETE") > 0, what="a first DELETE")
    panel.stop_button.click()
    wall = time.time()
    panel.run.join(10)
    sent = [t for t in panel.run.targets if t.sent]
    assert 0 < len(sent) < count and sb.count(method="DELETE") == len(sent)
    assert all(t.step is Step.STOPPED for t in sent)
    unsent = [t for t in panel.run.targets if not t.sent]
    assert all(t.step is Step.CANCELLED and "nothing was deleted" in t.message for t in unsent)
    assert not [r for r in sb.requests if r.time > wall + 0.05]
    assert f"{len(unsent)} cancelled" in panel.status.value


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


def test_a_batch_that_cannot_even_list_says_why(sb):
    client = make_client(sb)
    panel = PoolsPanel(client, client.list_pools, interval=0.05)
    ids = sb.display_names()
    for name in ("pool-01", "pool-02"):
        panel.checks[ids[name][0]].value = True
    panel.typed.value = "delete 2 pools"
    sb.inject(Fault(method="GET", list_only=True, status=500, times=50))  # the checks too
    panel.delete_button.click()
    until(lambda: panel.run is not None, what="the checks, then the run")
    panel.run.join(10)
    assert "the batch stopped" in panel.status.value and "ModelArts.50005000" in panel.status.value
    assert sb.count(method="DELETE") == 0


def test_panel_static_copy_shows_pools_and_outcome(sb):
    client = make_client(sb)
    panel = PoolsPanel(
        client, lambda: class_pools(client), interval=0.05
    )
    before = panel.mimebundle()
    assert "pool-01" in before["text/plain"] and "pool-01" in before["text/html"]
    panel.checks[sb.display_names()["pool-01"][0]].value = True
    panel.typed.value = "delete 1 pool"
    panel.delete_button.click()
    until(lambda: panel.run is not None, what="the checks, then the run")
    panel.run.join(10)
    after = panel.mimebundle()
    assert "1 deleted" in after["text/plain"] and "1 deleted" in after["text/html"]


def test_a_display_name_and_its_id_are_one_pool_deleted_once(sb):
    pool_id = sb.display_names()["pool-05"][0]
    with make_client(sb) as client:
        items = client.delete_many(["pool-05", pool_id, "pool-06"], concurrency=8)
        client.watch_many(items, interval=0.05)
    assert [item.pool.id for item in items][0] == pool_id and len(items) == 2
    assert states(items) == {"deleted": 2}
    assert sb.count(method="DELETE") == 2 and sb.accepted_deletes(pool_id) == 1


class HeldDeletes(httpx.HTTPTransport):
    """Real HTTP, except that DELETEs wait for ``release`` before they leave."""

    def __init__(self) -> None:
        super().__init__()
        self.release, self.holding = threading.Event(), threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            self.holding.set()
            assert self.release.wait(10)
        return super().handle_request(request)


def test_a_panel_and_a_batch_never_both_delete_a_pool(sb):
    """The one-DELETE registry is shared: a panel's DELETE is on its way (the pool still lists
    as Running) when a %pools batch that includes the same pool is confirmed: one DELETE for
    it; the batch watches the panel's deletion."""
    from modelarts_nb.flow import DeleteFlow
    from modelarts_nb.panel import DeletePanel

    ids = sb.display_names()
    held = HeldDeletes()
    client = make_client(sb, transport=held)
    single = DeletePanel(DeleteFlow(client, client.resolve("pool-07"), interval=0.05))
    single.typed.value = "pool-07"
    single.delete_button.click()
    assert held.holding.wait(10) and single.flow.sent
    batch_client = make_client(sb)
    panel = PoolsPanel(batch_client, batch_client.list_pools, interval=0.05)
    for name in ("pool-07", "pool-08"):
        panel.checks[ids[name][0]].value = True
    panel.typed.value = "delete 2 pools"
    panel.delete_button.click()
    until(lambda: panel.run is not None, what="the checks, then the run")
    until(lambda: all(t.step.busy or t.step.final for t in panel.run.targets)
          and sb.count(method="DELETE") == 1, what="the batch's own DELETE")
    held.release.set()
    panel.run.join(10)
    single.flow.join(10)
    assert sb.count(method="DELETE") == 2 and sb.accepted_deletes(ids["pool-07"][0]) == 1
    assert "2 deleted" in panel.status.value and single.flow.step is Step.DELETED
    batch_item = next(t for t in panel.run.targets if t.pool.id == ids["pool-07"][0])
    assert not batch_item.sent  # the batch watched; the panel's DELETE did it


def test_server_names_in_the_acknowledgement_are_text_not_html(sb):
    """ipywidgets 7 renders a checkbox description as HTML: pool and job names never go there."""
    import copy

    body = copy.deepcopy(sb.pool_json(sb.display_names()["pool-01"][0]))
    body["metadata"]["name"] = "pool-99-" + "9" * 32
    body["metadata"]["labels"]["os.modelarts/name"] = "<img src=x onerror=alert(1)>"
    pool_id = sb.add_pool(body)
    sb.add_workload(pool_id, "train", "Running", "<script>job</script>")
    client = make_client(sb)
    panel = PoolsPanel(client, client.list_pools, interval=0.05)
    panel.checks[pool_id].value = True
    panel.typed.value = "delete 1 pool"
    panel.delete_button.click()
    until(lambda: not panel.checking, what="the checks")
    assert panel.busy_ack.description == ""
    label = panel.acknowledgement.label.value
    assert "<img" not in label and "&lt;img src=x onerror=alert(1)&gt;" in label
    assert "<script>" not in panel.lines[pool_id].value and sb.count(method="DELETE") == 0
