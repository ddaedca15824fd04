"""What was reviewed is exactly what gets deleted: the one policy, plans, and the drift check
that leaves out a pool that changed between the review and the DELETE — over real HTTP."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest
from conftest import make_client, panels_over, pools_panel, until

from modelarts_nb import Plan, Pool, Step
from modelarts_nb.deletion.impact import Impact, Node, Workload
from modelarts_nb.deletion.plan import PlanError, PlanItem, drift
from modelarts_nb.deletion.policy import Verdict, decide
from modelarts_nb.sandbox import Fault


def pool(mode="0", control=0, phase="Running", count=2, created="2026-11-30T12:00:00Z"):
    return Pool.from_api({
        "metadata": {"name": "p-" + "a" * 32, "creationTimestamp": created,
                     "labels": {"os.modelarts/name": "p"},
                     "annotations": {"os.modelarts/billing.mode": mode}},
        "spec": {"controlMode": control, "resources": [{"flavor": "gpu", "count": count}]},
        "status": {"phase": phase}})


RUNNING = Workload("resnet", "train", "Running", 60, "gpu")
PREPAID_NODE = Node("n1", "Available", "gpu", "1", False, "r1")
BUSY = Impact(workloads=[RUNNING], nodes=[], subpools=[])
IDLE = Impact(workloads=[Workload("old", "train", "Completed", 60, "gpu")], nodes=[],
              subpools=[])


@pytest.mark.parametrize(("pool_", "impact", "kw", "verdict", "words"), [
    (pool(), None, {}, Verdict.DELETE, ""),
    (pool(), IDLE, {}, Verdict.DELETE, ""),
    (pool(), BUSY, {}, Verdict.ACKNOWLEDGE, "runs 1 training job"),
    (pool(), BUSY, {"acknowledged": True}, Verdict.DELETE, ""),
    (pool(), BUSY, {"force": True}, Verdict.DELETE, ""),
    (pool(mode="1"), None, {"force": True}, Verdict.REFUSED, "unsubscribe"),
    (pool(mode="1.0"), None, {}, Verdict.REFUSED, "billing mode unknown"),
    (pool(control=8), None, {}, Verdict.REFUSED, "frozen"),
    (pool(phase="Deleting"), None, {}, Verdict.UNDERWAY, "already being deleted"),
    (pool(), None, {"kept": "kept by --keep-tag keep"}, Verdict.KEPT, "keep-tag keep"),
    (pool(), Impact(workloads=[], nodes=[PREPAID_NODE], subpools=[]), {"force": True},
     Verdict.REFUSED, "yearly/monthly nodes"),
    (pool(), Impact(workloads=[], nodes=[], subpools=[pool()]), {}, Verdict.ACKNOWLEDGE,
     "1 sub-pool"),
    (pool(), Impact(unchecked={"workloads": "500", "workload counts": "500"}, nodes=[],
                    subpools=[]), {}, Verdict.ACKNOWLEDGE, "could not be checked"),
    (pool(), Impact(workloads=[], nodes=[], unchecked={"sub-pools": "403"}), {"force": True},
     Verdict.DELETE, ""),
], ids=["plain", "idle-work", "busy", "busy-acknowledged", "busy-forced", "prepaid",
        "odd-billing", "frozen", "deleting", "kept", "prepaid-node", "sub-pool",
        "work-unreadable", "sub-pools-unreadable-forced"])
def test_one_policy_decides_every_case(pool_, impact, kw, verdict, words):
    decision = decide(pool_, impact, **kw)
    assert decision.verdict is verdict and words in decision.reason
    assert decision.column == "delete" if decision.deletes else decision.column.startswith(
        ("kept", "left out"))


def test_drift_names_what_changed_and_ignores_what_does_not_matter():
    reviewed = PlanItem.of(pool(), IDLE)
    assert drift(reviewed, pool(phase="Abnormal"), IDLE) == []  # a phase is not the pool
    assert drift(reviewed, pool(), Impact(workloads=[], nodes=[], subpools=[])) == []
    changes = drift(reviewed, pool(count=6, created="2026-12-06T18:02:00Z"), BUSY)
    assert changes == ["created again at 2026-12-06 18:02 UTC", "flavors gpu×2 → gpu×6",
                       "2 → 6 nodes", "new work: train: resnet"]


def test_a_plan_reads_back_from_json_and_refuses_anything_else(sandbox):
    with make_client(sandbox) as client:
        plan = client.plan(["pool-01", "prepaid-pool"])
    again = Plan.from_json(plan.to_json())
    assert again == plan and [i.verdict for i in again.items] == [Verdict.DELETE,
                                                                   Verdict.REFUSED]
    for text in ("{}", "[1]", '{"version": 1, "items": [{"facts": {}}]}', "not json"):
        with pytest.raises(PlanError):
            Plan.from_json(text)


def test_a_saved_plan_applied_elsewhere_goes_through_the_drift_check(sandbox):
    pool_id = sandbox.display_names()["pool-02"][0]
    with make_client(sandbox) as client:
        saved = client.plan(["pool-01", "pool-02"]).to_json()
    body = sandbox.pool_json(pool_id)
    body["spec"]["resources"][0]["count"] += 4  # grown since the review
    sandbox.add_pool(body)
    with make_client(sandbox) as other:  # another session, later
        targets = other.apply(Plan.from_json(saved), wait=False)
    steps = {t.pool.display_name: t for t in targets}
    assert steps["pool-01"].step is Step.ACCEPTED
    assert steps["pool-02"].step is Step.LEFT_OUT and "×1 → " in steps["pool-02"].message
    assert [r.pool for r in sandbox.requests if r.method == "DELETE"] == [
        sandbox.display_names()["pool-01"][0]]


def test_a_plan_for_another_project_is_refused_before_any_request(sandbox):
    with make_client(sandbox) as client:
        plan = client.plan(["pool-01"])
    other = Plan.from_json(plan.to_json().replace(plan.project_id, "0" * 32))
    sandbox.clear_requests()
    with make_client(sandbox) as client, pytest.raises(PlanError, match="another|not"):
        client.apply(other)
    assert sandbox.count() == 0


def replaced(sb, pool_id: str) -> None:
    """The same id, another display name, 6 nodes instead of 2, created again just now."""
    body = copy.deepcopy(sb.pool_json(pool_id))
    body["metadata"]["labels"]["os.modelarts/name"] = "someone-elses"
    body["metadata"]["creationTimestamp"] = datetime.now(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    body["spec"]["resources"] = [{**body["spec"]["resources"][0], "count": 6}]
    body["status"].pop("resources", None)
    sb.add_pool(body)


def test_a_pool_replaced_between_review_and_click_is_left_out(sandbox):
    with panels_over(sandbox, impact=True) as panel_for:
        panel = panel_for("pool-02")
        replaced(sandbox, panel.flow.pool.id)
        panel.typed.value = "pool-02"
        panel.delete_button.click()
        panel.flow.join(10)
        assert panel.flow.step is Step.LEFT_OUT
        message = panel.flow.message
        assert "changed since you reviewed it" in message and "created again" in message
        assert "display name pool-02 → someone-elses" in message and "→ 6 nodes" in message
        assert "nothing was sent" in message and "someone-elses" in panel.header.value
    assert sandbox.count(method="DELETE") == 0


def test_yes_leaves_out_a_pool_whose_work_began_after_the_review(sandbox):
    """``--yes`` reads the work, then a job starts before the DELETE: left out, not sent."""
    from modelarts_nb.deletion.flow import DeleteFlow

    pool_id = sandbox.display_names()["pool-01"][0]
    with make_client(sandbox) as client:
        flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.05)
        flow.check_impact()
        assert not flow.needs_ack  # nothing ran when it was reviewed
        sandbox.add_workload(pool_id, "train", "Running", "late-job")
        flow.delete_now(background=False)
    assert flow.step is Step.LEFT_OUT and "new work: train: late-job" in flow.message
    assert sandbox.count(method="DELETE") == 0


def test_work_that_stopped_since_the_review_is_still_deleted(sandbox):
    from modelarts_nb.deletion.flow import DeleteFlow

    pool_id = sandbox.display_names()["pool-01"][0]
    sandbox.add_workload(pool_id, "train", "Pending", "homework")
    with make_client(sandbox) as client:
        flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.05)
        flow.check_impact()
        assert flow.needs_ack
        sandbox.service.carried.workloads[pool_id].clear()  # the job ended meanwhile
        flow.delete_now(background=False, acknowledged=True)
    assert flow.step is Step.DELETED and sandbox.accepted_deletes(pool_id) == 1


@pytest.fixture
def class_sb(sandboxes):
    return sandboxes(pools=8, delete_seconds=0.5)


def student(sb, n: int) -> str:
    return sb.display_names()[f"pool-{n:02}"][0]


def test_pools_panel_swapped_selection_during_the_check_is_not_deleted(class_sb):
    sb = class_sb
    client = make_client(sb)
    panel = pools_panel(client, client.list_pools, interval=0.05)
    first, second, swapped = student(sb, 1), student(sb, 2), student(sb, 3)
    panel.checks[first].value = panel.checks[second].value = True
    panel.typed.value = "delete 2 pools"
    sb.inject(Fault(method="GET", delay=0.4, times=8))  # the check takes a while
    panel.delete_button.click()
    assert panel.checking and all(check.disabled for check in panel.checks.values())
    panel.checks[second].value, panel.checks[swapped].value = False, True  # still "2 pools"
    assert panel.selected() == [first, second]  # what was ticked at the click
    until(lambda: not panel.checking, what="the check")
    assert panel.run is None and sb.count(method="DELETE") == 0  # a changed selection waits
    panel.delete_button.click()  # a new review: of the pools ticked now
    until(lambda: panel.run is not None, what="the run")
    panel.run.join(10)
    deleted = {r.pool for r in sb.requests if r.method == "DELETE"}
    assert deleted == {first, swapped}
    panel.close()
    client.close()


def test_pools_panel_leaves_out_a_pool_tagged_keep_after_it_opened(shell, env_sandbox):
    sb = env_sandbox
    panel = shell.run_line_magic("pools", "--tag course=ml101 --keep-tag keep --interval 0.05")
    one, two = student(sb, 1), student(sb, 2)
    panel.checks[one].value = panel.checks[two].value = True
    panel.typed.value = "delete 2 pools"
    sb.tag_pool(two, {"course": "ml101", "keep": "yes"})  # after the panel opened
    panel.delete_button.click()
    until(lambda: panel.run is not None and panel.run.finished.is_set(), what="the run")
    by_id = {t.name: t for t in panel.run.targets}
    assert by_id[two].step is Step.LEFT_OUT and "kept by --keep-tag keep" in by_id[two].message
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [one]
    panel.close()


def test_the_dataframe_carries_the_decision_and_delete_many_obeys_it(shell, env_sandbox):
    sb = env_sandbox
    one, two = student(sb, 1), student(sb, 2)
    sb.tag_pool(two, {"course": "ml101", "keep": "yes"})
    frame = shell.run_line_magic("pools", "--tag course=ml101 --keep-tag keep --no-widgets")
    decisions = dict(zip(frame["id"], frame["decision"]))
    assert decisions[one] == "delete" and decisions[two] == "kept by --keep-tag keep"
    with make_client(sb) as client:
        targets = client.delete_many(frame[frame["id"].isin([one, two])])
        with pytest.raises(ValueError, match="carries no plan"):
            client.delete_many(frame.drop(columns="decision"))
    assert [t.name for t in targets if t.sent] == [one]
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [one]


def test_a_dry_run_shows_the_decision_column(shell, capsys, env_sandbox):
    result = shell.run_cell("%pools --name 'pool-0[12]' --delete --no-widgets")
    out = capsys.readouterr().out
    assert result.success and "decision" in out and "delete" in out
    assert env_sandbox.count(method="DELETE") == 0


def test_plans_are_plain_json_a_person_can_read(sandbox):
    with make_client(sandbox) as client:
        data = json.loads(client.plan(["pool-01"]).to_json())
    item = data["items"][0]
    assert data["version"] == 1 and data["project_id"] == sandbox.project_id
    assert "@" in data["made_by"] and data["made_at"].endswith("+00:00")  # who, when
    assert item["facts"]["display_name"] == "pool-01" and item["verdict"] == "delete"
    assert item["facts"]["work"] == [] and item["facts"]["nodes"] >= 1


def test_a_plan_saved_from_pools_is_previewed_then_applied(shell, capsys, env_sandbox, tmp_path):
    sb = env_sandbox
    path = tmp_path / "class.plan.json"
    result = shell.run_cell(f"%pools --name 'pool-0[12]' --save-plan {path}")
    out = capsys.readouterr().out
    assert result.success and "delete 2 pools — nothing was deleted" in out
    assert f"%pools --apply {path} --yes" in out and sb.count(method="DELETE") == 0
    assert json.loads(path.read_text())["version"] == 1
    one, two = sb.display_names()["pool-01"][0], sb.display_names()["pool-02"][0]
    sb.add_workload(two, "train", "Running", "new-run")  # work began after the plan
    result = shell.run_cell(f"%pools --apply {path} --no-widgets")
    out = capsys.readouterr().out
    assert result.success and "pool-01" in out and "unchanged" in out
    assert "new work: train: new-run" in out and "1 pool(s) changed since the plan" in out
    assert sb.count(method="DELETE") == 0
    result = shell.run_cell(f"%pools --apply {path} --yes --interval 0.05")
    out = capsys.readouterr().out
    assert "new work: train: new-run" in out and "1 deleted" in out
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [one]


def test_apply_refuses_a_selection_and_an_unreadable_plan(shell, capsys, env_sandbox, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 99}')
    for line, words in ((f"%pools --apply {bad}", "not a modelarts-nb plan"),
                        (f"%pools --apply {tmp_path / 'none.json'}", "cannot read"),
                        (f"%pools --apply {bad} --tag course=ml101", "does not go with --tag"),
                        ("%pools --save-plan x.json", "--delete needs at least one filter")):
        result = shell.run_cell(line)
        assert not result.success and words in str(result.error_in_exec), line
    assert env_sandbox.count(method="DELETE") == 0


def test_flavors_listed_in_another_order_are_not_a_change():
    body = {"metadata": {"name": "p-" + "a" * 32, "creationTimestamp": "2026-11-30T12:00:00Z",
                         "annotations": {"os.modelarts/billing.mode": "0"}},
            "spec": {"resources": [{"flavor": "a", "count": 1}, {"flavor": "b", "count": 2}]}}
    reviewed = PlanItem.of(Pool.from_api(body))
    body["spec"]["resources"].reverse()
    assert drift(reviewed, Pool.from_api(body)) == []


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"version": true, "items": []}',
    '{"version": 1, "items": [], "endpoint": 5, "project_id": "p"}',
    '{"version": 1, "items": [], "endpoint": "https://x", "project_id": "p", "force": "false"}',
    '{"version": 1, "items": [], "endpoint": "https://x", "project_id": "p", "filters": [1]}',
    '{"version": 1, "items": [], "endpoint": "https://x", "project_id": "p", '
    '"filters": {"colour": "red"}}',
    '{"version": 1, "endpoint": "https://x", "project_id": "p", "items": [{"verdict": '
    '"delete", "facts": {"id": "p-' + "a" * 32 + '", "nodes": NaN}}]}',
    '{"version": 1, "endpoint": "https://x", "project_id": "p", "items": [{"verdict": '
    '"delete", "acknowledged": true, "facts": {"id": "p-' + "a" * 32 + '"}}]}',
    '{"version": 1, "endpoint": "https://x", "project_id": "p", "items": [{"verdict": '
    '"delete", "facts": {"id": 7}}]}',
], ids=["deep", "version-bool", "endpoint-int", "force-string", "filters-list",
        "filters-unknown", "nan-count", "ack-bool", "id-int"])
def test_a_hostile_plan_file_is_refused_in_one_line(text):
    with pytest.raises(PlanError) as caught:
        Plan.from_json(text)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400


def test_a_batch_reads_each_pool_again_right_before_its_delete(sandbox):
    """The run's LIST is old by the time the third pool's turn comes: a pool replaced while
    the first one is being deleted is still left out."""
    ids = [sandbox.display_names()[f"pool-0{i}"][0] for i in (1, 2, 3)]
    with make_client(sandbox) as client:
        plan = client.plan(ids)
        swapped = []

        def replace_third(target) -> None:
            if target.step is Step.SENDING and not swapped:
                swapped.append(target)
                replaced(sandbox, ids[2])

        targets = client.apply(plan, concurrency=1, wait=False, on_update=replace_third)
    third = next(t for t in targets if t.name == ids[2])
    assert third.step is Step.LEFT_OUT and "created again" in third.message
    assert ids[2] not in {r.pool for r in sandbox.requests if r.method == "DELETE"}


def test_a_frame_deletes_what_it_showed_and_a_hand_edit_only_narrows(shell, env_sandbox):
    sb = env_sandbox
    one, two, three = (student(sb, n) for n in (1, 2, 3))
    sb.tag_pool(three, {"course": "ml101", "keep": "yes"})
    frame = shell.run_line_magic("pools", "--tag course=ml101 --keep-tag keep --no-widgets")
    replaced(sb, one)  # after it was shown: same id, another pool
    sb.tag_pool(two, {"course": "other"})  # no longer selected by --tag course=ml101
    frame.loc[frame["id"] == three, "decision"] = "delete"  # a hand edit of a kept row
    with make_client(sb) as client:
        targets = {t.name: t for t in client.delete_many(frame)}
    assert targets[one].step is Step.LEFT_OUT and "created again" in targets[one].message
    assert targets[two].step is Step.LEFT_OUT and "no longer matches" in targets[two].message
    assert targets[three].step is Step.LEFT_OUT and "kept by --keep-tag keep" in \
        targets[three].message
    assert sb.count(method="DELETE") == 0


def test_pools_with_unreadable_work_are_not_deleted_without_force(shell, capsys, env_sandbox):
    sb = env_sandbox
    one = student(sb, 1)
    sb.inject(Fault(method="GET", pool=one, status=500, times=100))  # every read of its work
    result = shell.run_cell("%pools --name pool-01 --delete --yes --interval 0.05")
    out = capsys.readouterr().out
    assert "LEFT OUT: pool-01" in out and "could not be checked" in out
    assert sb.count(method="DELETE") == 0 and result is not None


def test_a_new_review_in_the_pools_panel_is_acknowledged_anew(class_sb):
    sb = class_sb
    client = make_client(sb)
    one, two, three = student(sb, 1), student(sb, 2), student(sb, 3)
    sb.add_workload(one, "train", "Running", "job-1")
    panel = pools_panel(client, client.list_pools, interval=0.05)
    panel.checks[one].value = panel.checks[two].value = True
    panel.typed.value = "delete 2 pools"
    panel.delete_button.click()
    until(lambda: not panel.checking and panel.plan is not None, what="the review")
    panel.busy_ack.value = True  # acknowledges job-1 on pool-01
    panel.checks[two].value, panel.checks[three].value = False, True
    sb.add_workload(three, "train", "Running", "job-3")
    panel.busy_ack.value = True  # ticked again for the old words, before the new review
    panel.delete_button.click()
    until(lambda: not panel.checking and three in panel.work, what="the new review")
    assert not panel.busy_ack.value and "job" in panel.acknowledgement.text
    assert panel.delete_button.disabled and sb.count(method="DELETE") == 0
    panel.close()
    client.close()


def test_apply_refuses_a_plan_made_for_another_project_in_one_line(shell, env_sandbox,
                                                                     tmp_path):
    with make_client(env_sandbox) as client:
        text = client.plan(["pool-01"]).to_json().replace(env_sandbox.project_id, "0" * 32)
    path = tmp_path / "other.json"
    path.write_text(text)
    for line in (f"%pools --apply {path}", f"%pools --apply {path} --yes",
                 f"%pools --apply {path} --no-widgets"):
        result = shell.run_cell(line)
        assert not result.success and "this plan was made for project" in str(
            result.error_in_exec)
    assert env_sandbox.count(method="DELETE") == 0


def test_idle_keeps_the_pools_with_work_in_the_magics(shell, capsys, env_sandbox):
    sb = env_sandbox
    one, two = student(sb, 1), student(sb, 2)
    sb.add_workload(one, "notebook", "Running", "alice")
    frame = shell.run_line_magic("pools", "--name 'pool-0[12]' --idle --no-widgets")
    decisions = dict(zip(frame["id"], frame["decision"]))
    assert decisions[one] == "kept: not idle — runs 1 notebook (--idle)"
    assert decisions[two] == "delete"
    result = shell.run_cell("%pools --name 'pool-0[12]' --idle --delete --yes --interval 0.05")
    out = capsys.readouterr().out
    assert result.success and "KEPT: pool-01" in out and "1 deleted" in out
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [two]
    result = shell.run_cell("%pools --name 'pool-0[12]' --idle --force --delete --yes")
    assert not result.success and "choose one" in str(result.error_in_exec)


def test_a_saved_plan_in_the_panel_offers_only_its_unchanged_pools(shell, env_sandbox,
                                                                    tmp_path):
    sb = env_sandbox
    one, two, three = student(sb, 1), student(sb, 2), student(sb, 3)
    path = tmp_path / "class.plan.json"
    with make_client(sb) as client:
        path.write_text(client.plan([one, two]).to_json())
    replaced(sb, two)  # since the plan
    panel = shell.run_line_magic("pools", f"--apply {path} --interval 0.05")
    assert set(panel.checks) == {one, two} and three not in panel.checks  # the plan's pools
    assert panel.checks[two].disabled and "changed since the plan" in panel.notes[two]
    panel.select_all.click()
    panel.typed.value = "delete 1 pool"
    panel.delete_button.click()
    until(lambda: panel.run is not None and panel.run.finished.is_set(), what="the run")
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [one]
    panel.close()
