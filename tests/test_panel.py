"""The panel without a browser: drive the widget tree (type, click) against the sandbox."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import finish, our_threads, panels_over, until

from modelarts_nb import Step
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    # the seeded Deleting pool lasts 4 s: still there when a loaded machine reads it
    return sandboxes(pools=3, delete_seconds=0.8, seeded_deleting_seconds=4)


@pytest.fixture
def open_panel(sb):
    with panels_over(sb) as factory:
        yield factory


def classes(panel):
    found = set()
    stack = list(panel.children)
    while stack:
        widget = stack.pop()
        found.update(getattr(widget, "_dom_classes", ()))
        stack.extend(getattr(widget, "children", ()))
    return found


def test_review_shows_names_tables_consequences(open_panel, sb):
    panel = open_panel("train-gpu")
    (pool_id,) = sb.display_names()["train-gpu"]
    assert "train-gpu" in panel.header.value and pool_id in panel.header.value
    assert "Dedicate" in panel.header.value and "pay-per-use" in panel.header.value
    assert "spec.resources" in panel.tables.value and "abnormal" in panel.tables.value
    assert "cannot be restored" in panel.consequences.value
    assert {"mnb-confirm", "mnb-delete", "mnb-cancel"} <= classes(panel)
    assert panel.delete_button.disabled and sb.count(method="DELETE") == 0


@pytest.mark.parametrize("typed", ["train-gp", "TRAIN-GPU", "train gpu", "", "   ", "pool-01",
                                   "train-gpu x"])
def test_wrong_names_keep_delete_disabled(open_panel, sb, typed):
    panel = open_panel("train-gpu")
    panel.typed.value = typed
    assert panel.delete_button.disabled
    panel.delete_button.click()  # even a forced click sends nothing
    assert panel.flow.step is Step.REVIEW and sb.count(method="DELETE") == 0


def test_id_or_display_name_enables_and_double_click_sends_one_delete(open_panel, sb):
    panel = open_panel("pool-01")
    panel.typed.value = panel.flow.pool.id
    assert not panel.delete_button.disabled
    panel.typed.value = "pool-01"
    assert not panel.delete_button.disabled
    panel.delete_button.click()
    assert panel.delete_button.disabled  # immediately
    panel.delete_button.click()
    assert finish(panel) is Step.DELETED
    assert "Deleted" in panel.status.value and "The pool is gone" in panel.status.value
    assert sb.count(method="DELETE") == 1
    # the panel is now a record: no button is left that could no longer do anything
    assert not {"mnb-delete", "mnb-refresh", "mnb-stop", "mnb-retry"} & classes(panel)


def test_concurrent_clicks_from_threads_send_one_delete(open_panel, sb):
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    threads = [threading.Thread(target=panel.delete_button.click) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    finish(panel)
    assert sb.count(method="DELETE") == 1


def test_rerun_retires_old_panel_and_two_panels_send_one_delete(open_panel, sb):
    old = open_panel("pool-02")
    new = open_panel("pool-02")
    assert old.flow.step is Step.CANCELLED and "Superseded" in old.status.value
    new.typed.value = "pool-02"
    new.delete_button.click()
    third = open_panel("pool-02")  # opened while the first deletion is in flight
    third.typed.value = "pool-02"
    third.delete_button.click()
    assert finish(new) is Step.DELETED
    assert finish(third) is Step.DELETED
    assert sb.count(method="DELETE") == 1


def test_prepaid_has_no_delete_button_and_explains(open_panel, sb):
    panel = open_panel("prepaid-pool")
    assert panel.flow.step is Step.REFUSED
    assert "mnb-delete" not in classes(panel) and "mnb-confirm" not in classes(panel)
    assert "unsubscrib" in panel.refusal.value and "Cannot be deleted here" in panel.refusal.value
    frozen = open_panel("frozen-pool")
    assert "frozen" in frozen.refusal.value and "mnb-delete" not in classes(frozen)
    assert sb.count(method="DELETE") == 0


def test_cancel_sends_nothing(open_panel, sb):
    panel = open_panel("pool-03")
    panel.cancel_button.click()
    panel.typed.value = "pool-03"
    assert panel.flow.step is Step.CANCELLED and panel.delete_button.disabled
    assert sb.count(method="DELETE") == 0


def test_already_deleting_goes_straight_to_watching(open_panel, sb):
    panel = open_panel("leaving-pool")
    panel.flow.watch()
    assert finish(panel) is Step.DELETED
    assert sb.count(method="DELETE") == 0


def test_delete_refused_by_server_shows_code_and_request_id(open_panel, sb):
    panel = open_panel("pool-01")
    sb.inject(
        Fault(
            method="DELETE",
            status=403,
            body={"error_code": "ModelArts.5014", "error_msg": "Permission deny"},
        )
    )
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    text = panel.status.value
    assert "ModelArts.5014" in text and "Permission deny" in text
    assert sb.requests[-1].status == 403 and "request id" in text
    assert "Traceback" not in text


def test_error_phase_during_watch_fails_fast_with_message(open_panel, sb):
    panel = open_panel("pool-01")
    sb.fail_deletion(panel.flow.pool.id, phase="Error", message="node drain failed")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    assert "now Error: node drain failed" in panel.status.value


def test_server_errors_during_watch_are_shown_not_lost(open_panel, sb):
    panel = open_panel("pool-02", timeout=30)
    panel.typed.value = "pool-02"
    sb.inject(Fault(method="GET", status=500, times=50))
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    assert "ModelArts.50005000" in panel.status.value


def test_timeout_shows_last_phase(open_panel, sb):
    panel = open_panel("pool-03", timeout=0.3)
    sb.fail_deletion(panel.flow.pool.id, phase="Deleting", message="slow")  # never finishes
    panel.typed.value = "pool-03"
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    assert "still exists" in panel.status.value and "Deleting" in panel.status.value


def test_stop_ends_the_thread_not_the_deletion(open_panel, sb):
    panel = open_panel("pool-01", interval=5)
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    until(lambda: panel.flow.step is Step.WATCHING, what="watching")
    panel.stop_button.click()
    assert finish(panel, timeout=2) is Step.STOPPED
    assert "continues on the server" in panel.status.value
    assert not our_threads()
    panel.refresh_button.click()  # a manual check later
    until(lambda: not panel.flow.refreshing, what="the check")
    assert panel.flow.step in (Step.STOPPED, Step.DELETED)
    assert sb.accepted_deletes(panel.flow.pool.id) == 1


def test_close_stops_the_watch(open_panel, sb):
    panel = open_panel("pool-02", interval=5)
    panel.typed.value = "pool-02"
    panel.delete_button.click()
    panel.close()
    outcome = finish(panel, timeout=2)
    # closed before the DELETE left: never sent; after: it completes on the server
    expected = {Step.CANCELLED: 0, Step.STOPPED: 1, Step.DELETED: 1}
    assert outcome in expected and sb.count(method="DELETE") == expected[outcome]


def test_widget_state_and_static_copy_hold_no_secret(open_panel, sb):
    from ipywidgets.embed import embed_data

    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    finish(panel)
    state = json.dumps(embed_data(views=[panel])["manager_state"])
    bundle = json.dumps(panel.mimebundle())
    for secret in (sb.ak, sb.sk, sb.token):
        assert secret not in state and secret not in bundle
    assert "DELETED: pool pool-01" in panel.mimebundle()["text/plain"]


def test_two_hundred_flavors_render(open_panel, sb):
    body = sb.pool_json(sb.display_names()["train-gpu"][0])
    body["metadata"]["name"] = "big-" + "b" * 40
    body["metadata"]["labels"]["os.modelarts/name"] = "big"
    body["spec"]["resources"] = [
        {
            "flavor": f"flavor-{i:03}",
            "count": 3,
            "maxCount": 3,
            "azs": [{"az": f"cn-north-4{z}", "count": 1} for z in "abc"],
        }
        for i in range(200)
    ]
    sb.add_pool(body)
    panel = open_panel("big")
    assert panel.tables.value.count("<tr>") >= 201 and "(200 rows)" in panel.tables.value
    assert "mnb-scroll" in panel.tables.value


def test_deleted_panel_does_not_contradict_itself(open_panel, sb):
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    assert finish(panel) is Step.DELETED
    assert ">Deleted</span>" in panel.header.value and ">Deleting</span>" not in panel.header.value
    assert "as last seen before it disappeared" in panel.tables.value
