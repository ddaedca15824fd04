"""What deleting breaks (workloads, nodes, sub-pools), read from the sandbox over real HTTP."""

from __future__ import annotations

import pytest
from conftest import make_client, put_in_env, until

from modelarts_nb import Pool, Step
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.deletion.impact import read_impact
from modelarts_nb.notebook.panel import DeletePanel
from modelarts_nb.notebook.render import impact_html, impact_lines
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=3, delete_seconds=0.5)


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


def test_the_text_path_lists_what_stops_and_yes_needs_force(shell, capsys, env_sandbox):
    sb = env_sandbox
    train = sb.display_names()["train-gpu"][0]
    _, out = run(shell, capsys, "%pool_delete train-gpu --no-widgets")
    assert "What deleting breaks: it stops 3 training jobs and 1 sub-pool (infer-cpu)." in out
    assert "resnet50-finetune" in out and "4 d 1 h" in out and "yolo-sweep" in out
    assert "Nodes: 1 Abnormal, 7 Available, 1 Creating" in out
    assert "deletion-locked (the pool can still be deleted): os-node-train-gpu-01" in out
    assert f"%pool_delete {train} --yes --force" in out
    result, out = run(shell, capsys, f"%pool_delete {train} --yes --no-widgets")
    assert type(result.error_in_exec).__name__ == "DeletionRefused"
    assert "stops 3 training jobs and 1 sub-pool (infer-cpu): add --force" in out
    assert "nothing was deleted" in out and sb.count(method="DELETE") == 0
    result, out = run(shell, capsys,
                      f"%pool_delete {train} --yes --force --no-widgets --interval 0.05")
    assert result.error_in_exec is None and "DELETED: pool train-gpu" in out
    assert sb.accepted_deletes(train) == 1


def test_a_pool_with_nothing_running_says_so_and_yes_needs_no_force(shell, capsys, env_sandbox):
    result, out = run(shell, capsys, "%pool_delete pool-01 --yes --no-widgets --interval 0.05")
    assert "What deleting breaks: nothing is running or waiting on this pool." in out
    assert result.error_in_exec is None and env_sandbox.count(method="DELETE") == 1


def test_prepaid_nodes_in_a_pay_per_use_pool_are_refused(shell, capsys, env_sandbox):
    pool_id = env_sandbox.display_names()["team-shared"][0]
    result, out = run(shell, capsys, f"%pool_delete {pool_id} --yes --force --no-widgets")
    assert type(result.error_in_exec).__name__ == "DeletionRefused"
    assert "holds 1 yearly/monthly node (os-node-team-shared-01)" in out
    assert "unsubscribe them first" in out and env_sandbox.count(method="DELETE") == 0


def test_a_check_that_cannot_be_made_is_said_and_needs_the_acknowledgement(sb):
    pool_id = sb.display_names()["pool-01"][0]
    client = make_client(sb)
    flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.05)
    sb.inject(Fault(method="GET", pool=pool_id, status=403, times=3))  # stats, workloads, nodes
    flow.check_impact()
    assert flow.impact is not None and set(flow.impact.unchecked) == {
        "workload counts", "workloads", "nodes"}
    lines = impact_lines(flow.impact)
    assert any(line.startswith("Could not check workloads:") and "HTTP 403" in line
               for line in lines), lines
    # work that could not be read is never taken as none: the person says so first
    assert flow.stops == "workloads that could not be checked"
    assert not flow.can_confirm(pool_id) and flow.can_confirm(pool_id, acknowledged=True)
    flow.delete_now(background=False, acknowledged=True)
    assert flow.step is Step.DELETED and sb.accepted_deletes(pool_id) == 1


def test_the_panel_waits_for_the_checks_then_needs_the_acknowledgement(sb):
    client = make_client(sb)
    train = client.resolve("train-gpu")
    panel = DeletePanel(DeleteFlow(client, train, interval=0.05))
    sb.inject(Fault(method="GET", pool=train.id, delay=0.5, times=3))
    panel.flow.check_impact(background=True)
    panel.typed.value = "train-gpu"
    assert panel.delete_button.disabled and "checking" in panel.impact.value
    until(lambda: panel.flow.impact_checked.is_set(), what="the checks")
    assert panel.acknowledgement.row in panel.children
    assert panel.acknowledgement.text == "Also end 3 training jobs and 1 sub-pool (infer-cpu)"
    assert panel.delete_button.disabled  # the name alone is not enough
    panel.ack.value = True
    assert not panel.delete_button.disabled
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED and sb.count(method="DELETE") == 1


def test_two_thousand_workloads_are_read_in_pages_and_shown_in_part(sb):
    pool_id = sb.display_names()["pool-01"][0]
    for n in range(2000):
        sb.add_workload(pool_id, "train", "Running", f"job-{n:04d}", 60)
    with make_client(sb) as client:
        impact = read_impact(client, client.get_pool(pool_id))
    assert len(impact.active) == 2000 and impact.stops() == "2000 training jobs"
    pages = [r.query for r in sb.requests if r.path.endswith("/workloads")
             and "/statistics/" not in r.path]
    assert pages == [f"limit=500&offset={n}" for n in (0, 500, 1000, 1500, 2000)]
    lines = impact_lines(impact)
    assert "  … and 1980 more" in lines and sum(" job-" in line for line in lines) == 20


@pytest.fixture
def class_env(monkeypatch, tmp_path, sandboxes):
    """24 class pools in the environment: pool-21 has a pending job, pool-22 a notebook."""
    return put_in_env(monkeypatch, tmp_path, sandboxes(pools=24, delete_seconds=0.3))


def test_pools_delete_yes_leaves_out_pools_with_running_work_unless_force(
    shell, capsys, class_env
):
    sb = class_env
    _, out = run(shell, capsys, "%pools --name 'pool-2*' --delete --no-widgets")
    assert "--delete would delete 3 pool(s)" in out
    assert "left out pool-21 (" in out and "stops 1 training job; add --force" in out
    assert "left out pool-22 (" in out and "stops 1 notebook" in out
    assert "(add --force to include the pools with running work)" in out
    result, out = run(shell, capsys, "%pools --name 'pool-2*' --delete --yes --interval 0.05")
    assert result.error_in_exec is None and "LEFT OUT: pool-21" in out
    ids = sb.display_names()
    assert sb.count(method="DELETE") == 3
    assert sb.accepted_deletes(ids["pool-21"][0]) == sb.accepted_deletes(ids["pool-22"][0]) == 0
    result, out = run(shell, capsys,
                      "%pools --name 'pool-2*' --delete --yes --force --interval 0.05")
    assert result.error_in_exec is None and "LEFT OUT" not in out
    assert sb.accepted_deletes(ids["pool-21"][0]) == sb.accepted_deletes(ids["pool-22"][0]) == 1


def test_a_deleted_pool_takes_its_workloads_and_nodes_with_it(sb):
    pool_id = sb.display_names()["infer-cpu"][0]
    with make_client(sb) as client:
        client.delete_pool(pool_id)
        client.wait_until_deleted(pool_id, interval=0.05, timeout=10)
        impact = read_impact(client, client.get_pool(sb.display_names()["train-gpu"][0]))
        assert impact.subpools == [] and impact.stops() == "3 training jobs"
        gone = read_impact(client, Pool.from_api({"metadata": {"name": pool_id}}))
    assert set(gone.unchecked) == {"workload counts", "workloads", "nodes"}
    assert all("HTTP 404" in why for why in gone.unchecked.values())


def test_hostile_workload_answers_stay_one_line_each_and_numbers_stay_sane():
    from modelarts_nb.deletion.impact import Impact, Workload, _counts

    sneaky = Workload.from_api({"jobName": "x\nWhat deleting breaks: nothing is running.",
                                "type": "TRAIN", "status": "Running\r\n", "flavor": "<b>f</b>",
                                "runningDuration": True})
    lines = impact_lines(Impact(workloads=[sneaky]))
    assert len(lines) == 2 and sum("What deleting breaks" in line for line in lines) == 2
    assert lines[1].startswith("  train     Running  x What deleting breaks")
    assert sneaky.type == "train" and sneaky.running_seconds is None  # a bool is no duration
    shown = impact_html(Impact(workloads=[sneaky]))
    assert "<b>f</b>" not in shown and "&lt;b&gt;f&lt;/b&gt;" in shown
    counts = _counts({"statistics": {"items": [{"type": "train", "status": {
        "Running": float("inf"), "Pending": float("nan"), "Queue": -4, "Creating": "2"}}]}})
    assert dict(counts["train"]) == {"queue": 0, "creating": 2}
