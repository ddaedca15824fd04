"""The single-pool flow: a status line that is always true, words that help, colours
that read in light and dark themes, and a panel that reads as a record once it is over.

Everything is driven as a user would: the widget tree (type, Enter, click) or the magic in a
headless shell, against the sandbox over loopback HTTP.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest
from conftest import finish, make_client, panels_over, until

from modelarts_nb import RetryPolicy, Step
from modelarts_nb.notebook.theme import PANEL_STYLE, html_plain
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=3, delete_seconds=0.8)


@pytest.fixture
def open_panel(sb):
    with panels_over(sb, retry=RetryPolicy(attempts=2, base=0.01, cap=0.02)) as factory:
        yield factory


def shown(panel):
    """The widgets a user sees (the panel's children, recursively)."""
    found, stack = [], list(panel.children)
    while stack:
        widget = stack.pop()
        found.append(widget)
        stack.extend(getattr(widget, "children", ()))
    return found


def visible_text(panel):
    """What the panel reads as: the text of every HTML shown (tags, styles out)."""
    parts = []
    for widget in shown(panel):
        value = getattr(widget, "value", None)
        if isinstance(value, str) and type(widget).__name__ == "HTML":
            value = re.sub(r"<style>.*?</style>", "", value, flags=re.S)
            value = re.sub(r"<div class='mnb-kernel-gone'>.*?</div>", "", value, flags=re.S)
            parts.append(html.unescape(re.sub(r"<[^>]+>", " ", value)))
    return " ".join(" ".join(parts).split())


def buttons(panel):
    return {c for w in shown(panel) if type(w).__name__ == "Button" for c in w._dom_classes}


def status(panel):
    """The status line's words (its phase badge left out)."""
    line = re.sub(r'<span class="mnb-phase".*?</span>', "", panel.status.value)
    return html.unescape(re.sub(r"<[^>]+>", "", line)).strip()


def press_enter(text_widget):
    """What the browser sends on Enter in a Text (ipywidgets 7 and 8 alike)."""
    text_widget._handle_msg({"content": {"data": {"method": "custom",
                                                  "content": {"event": "submit"}}},
                             "buffers": []})


def api_down(sb, times=40):
    sb.inject(Fault(drop="before", times=times))


# -- the status line is always true ---------------------------------------------------------


def test_api_down_says_nothing_was_sent_offers_retry_and_refresh_recovers(open_panel, sb):
    panel = open_panel("pool-01")
    assert re.search(r"last checked \d\d:\d\d:\d\d UTC", status(panel))  # even before anything
    panel.typed.value = "pool-01"
    api_down(sb)
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    line = status(panel)
    assert line.startswith("FAILED: pool pool-01") and "no DELETE was sent" in line
    # the badges say the phase is the one last seen, not a live green "Running"
    assert "last seen Running" in line and ">Running</span>" not in panel.status.value
    assert ">Running</span>" not in panel.header.value and "last seen Running" in panel.header.value
    assert "mnb-retry" in buttons(panel) and "mnb-refresh" in buttons(panel)
    assert sb.count(method="DELETE") == 0

    sb.clear_faults()
    panel.refresh_button.click()  # the API is back: the stale error goes
    until(lambda: not panel.flow.refreshing, what="the check")
    line = status(panel)
    assert "Checked again: the pool is still there (Running)" in line, line
    assert "connect" not in line.lower() and "no DELETE was sent" in line
    assert "mnb-retry" in buttons(panel)

    panel.retry_button.click()  # a new confirmed intent: nothing had been sent
    panel.retry_button.click()  # a double click is the same intent
    assert finish(panel) is Step.DELETED
    assert sb.count(method="DELETE") == 1 and "The pool is gone." in status(panel)
    assert not buttons(panel)


def test_refresh_while_the_api_is_still_down_keeps_saying_nothing_was_sent(open_panel, sb):
    panel = open_panel("pool-02")
    panel.typed.value = "pool-02"
    api_down(sb, times=100)
    panel.delete_button.click()
    finish(panel)
    panel.refresh_button.click()
    until(lambda: not panel.flow.refreshing, what="the check")
    line = status(panel)
    assert "Could not check" in line and "no DELETE was sent" in line
    assert panel.flow.step is Step.FAILED and sb.count(method="DELETE") == 0


def test_lost_delete_answers_say_it_was_sent_and_never_offer_retry(open_panel, sb):
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    sb.inject(Fault(method="DELETE", drop="before", times=2))  # both DELETEs' answers lost
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    line = status(panel)
    assert "the DELETE was sent; the pool may be deleting" in line, line
    assert "mnb-retry" not in buttons(panel) and "mnb-refresh" in buttons(panel)
    sent = sb.count(method="DELETE")
    assert panel.flow.retry() is False  # never resent once a DELETE may have left
    panel.retry_button.click()  # even a click on a hidden button sends nothing
    panel.refresh_button.click()
    until(lambda: not panel.flow.refreshing, what="the check")
    line = status(panel)
    assert "still there (Running)" in line and "the pool is not being deleted" in line, line
    assert sb.count(method="DELETE") == sent


@pytest.mark.parametrize("fault,why", [
    (Fault(method="DELETE", status=401, body={"error_code": "APIGW.0301",
                                              "error_msg": "verify aksk signature fail"}),
     "APIGW.0301"),
    (Fault(method="GET", status=404, times=5), "no DELETE was sent"),
])
def test_no_retry_when_it_cannot_help(open_panel, sb, fault, why):
    """Refused credentials (a retry would count toward Huawei's AK/SK lock) or a pool that
    answers 404: nothing was sent, and no Retry is offered either."""
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    sb.inject(fault)
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    assert why in status(panel) and "mnb-retry" not in buttons(panel)
    assert panel.flow.retry() is False and sb.accepted_deletes(panel.flow.pool.id) == 0


def test_delete_refused_by_the_server_says_so_without_retry(open_panel, sb):
    panel = open_panel("pool-03")
    sb.inject(Fault(method="DELETE", status=409,
                    body={"error_code": "ModelArts.50015003", "error_msg": "pool busy"}))
    panel.typed.value = "pool-03"
    panel.delete_button.click()
    assert finish(panel) is Step.FAILED
    line = status(panel)
    assert "pool busy" in line and "the DELETE was sent and refused" in line
    assert "mnb-retry" not in buttons(panel) and sb.count(method="DELETE") == 1


def test_elapsed_time_freezes_once_the_pool_is_gone(open_panel, sb):
    panel = open_panel("pool-01", interval=5)
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    until(lambda: panel.flow.step is Step.WATCHING, what="watching")
    panel.stop_button.click()
    assert finish(panel, timeout=3) is Step.STOPPED
    until(lambda: sb.pool_json(panel.flow.pool.id) is None, what="the pool to go")
    panel.refresh_button.click()
    until(lambda: not panel.flow.refreshing, what="the check")
    assert panel.flow.step is Step.DELETED
    first = re.search(r"after (\d+) s", status(panel)).group(0)
    elapsed = panel.flow.elapsed
    time.sleep(1.2)
    panel.flow.refresh()  # checked again later: still gone, and the time stays
    assert panel.flow.elapsed == elapsed and first in status(panel)
    assert "The pool is gone." in status(panel) and not buttons(panel)


def test_cancel_removes_the_hint_and_every_button(open_panel, sb):
    panel = open_panel("pool-02")
    assert "To enable Delete, type pool-02" in visible_text(panel)
    panel.cancel_button.click()
    text = visible_text(panel)
    assert "To enable Delete" not in text and "type pool-02" not in text
    assert not buttons(panel) and panel.confirm_row not in panel.children
    assert status(panel).startswith("CANCELLED: pool pool-02") and "nothing was deleted" in text
    assert sb.count(method="DELETE") == 0


def test_final_panel_reads_as_a_record_in_saved_widget_state(open_panel, sb):
    """What a notebook saved with widget state shows: the outcome, no button that looks live."""
    from ipywidgets.embed import embed_data

    panel = open_panel("pool-03")
    panel.typed.value = "pool-03"
    panel.delete_button.click()
    assert finish(panel) is Step.DELETED
    state = embed_data(views=[panel])["manager_state"]["state"]
    root = state[panel.model_id]
    shown_ids = {ref.split("IPY_MODEL_")[1] for ref in root["state"]["children"]}
    kinds = {state[i]["model_name"] for i in shown_ids}
    assert "ButtonModel" not in kinds and "TextModel" not in kinds
    texts = " ".join(state[i]["state"].get("value", "") for i in shown_ids)
    assert "DELETED: pool pool-03" in texts and "The pool is gone." in texts
    # and a panel whose kernel is gone says so, and its buttons do nothing (CSS only)
    assert "jupyter-widgets-disconnected" in PANEL_STYLE and "mnb-kernel-gone" in texts
    assert "%pools --history" in texts


def test_yes_cell_prints_its_outcome_once(shell, capsys, env_sandbox):
    shell.run_cell("p = %pool_delete pool-02 --yes --interval 0.1")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len([x for x in lines if x.startswith("DELETED: pool pool-02")]) == 1, out
    shell.run_cell("%pool_delete pool-01 --yes --no-widgets --interval 0.1")
    out = capsys.readouterr().out
    assert len([x for x in out.splitlines() if "DELETED: pool pool-01" in x]) == 1, out
    assert env_sandbox.count(method="DELETE") == 2


def test_yes_cell_failure_says_in_its_one_line_whether_the_delete_was_sent(
        shell, capsys, env_sandbox):
    env_sandbox.inject(Fault(method="DELETE", status=403,
                             body={"error_code": "ModelArts.5014", "error_msg": "deny"}))
    result = shell.run_cell("%pool_delete pool-01 --yes --no-widgets")
    out = capsys.readouterr()
    text = out.out + out.err
    assert not result.success
    (error,) = [line for line in text.splitlines() if line.startswith("PermissionDenied")]
    assert "the DELETE was sent and refused" in error
    assert "FAILED" not in text  # the error line is the outcome: said once


# -- words that help --------------------------------------------------------------------------


@pytest.mark.parametrize("name,why,todo", [
    ("prepaid-pool", "billed yearly/monthly", "Billing Center → Unsubscriptions"),
    ("frozen-pool", "frozen (controlMode 8)", "top up or renew"),
])
def test_prepaid_and_frozen_get_one_short_refusal(open_panel, sb, name, why, todo):
    panel = open_panel(name)
    (pool_id,) = sb.display_names()[name]
    text = visible_text(panel)
    assert text.count(pool_id) == 1  # in the header, nowhere else
    assert text.count(why) == 1 and text.lower().count(todo.lower()) == 1
    assert "What to do:" in text and "Cannot be deleted here." in text
    assert panel.status not in panel.children and not buttons(panel)
    # the static copy (nbconvert, GitHub) says it in one line too
    first = panel.mimebundle()["text/plain"].splitlines()[0]
    assert first.startswith(f"REFUSED: pool {name}") and first.count(pool_id) == 1
    assert "class='mnb-consequences'" not in panel.mimebundle()["text/html"]  # no warning


def test_text_path_refusal_says_it_once_without_a_deletion_warning(shell, capsys, env_sandbox):
    shell.run_cell("%pool_delete prepaid-pool --no-widgets")
    out = capsys.readouterr().out
    assert out.count("is billed yearly/monthly") == 1 and "Cannot delete here" in out
    assert "cannot be undone" not in out and "every notebook" not in out
    assert env_sandbox.count(method="DELETE") == 0


def test_creation_failed_pool_with_nothing_running_does_not_warn_of_stopped_notebooks(
        open_panel, sb):
    panel = open_panel("failed-pool", impact=True)
    text = visible_text(panel)
    assert "every notebook" not in text and "nothing is running or waiting on this pool" in text
    assert "holds no nodes" in text and "cannot be undone" in text
    assert "nodes: 0" in text and "nodes: 2" not in text  # the header agrees with the warning
    unknown = open_panel("pool-01")  # what runs on it not read yet: the generic warning
    assert "every notebook" in visible_text(unknown)
    busy = open_panel("train-gpu", impact=True)
    assert "it stops 3 training jobs and 1 sub-pool (infer-cpu)" in visible_text(busy)


def test_text_path_warning_matches_the_pool(shell, capsys, env_sandbox):
    shell.run_cell("%pool_delete failed-pool --no-widgets")
    out = capsys.readouterr().out
    assert "every notebook" not in out and "nothing is running or waiting on this pool" in out
    assert "Deleting it cannot be undone: the pool cannot be restored (it holds no nodes)." in out


def test_not_found_suggests_pools_and_accepts_display_names(shell, capsys, env_sandbox):
    shell.run_cell("%pool_delete no-such-pool")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "%pools lists the pools you can see" in text and "not the display name" not in text


@pytest.mark.parametrize("typed", ["  pool-01", "pool-01 ", "\tpool-01\n"])
def test_surrounding_spaces_are_trimmed(open_panel, sb, typed):
    panel = open_panel("pool-01")
    panel.typed.value = typed
    assert not panel.delete_button.disabled
    press_enter(panel.typed)
    assert finish(panel) is Step.DELETED and sb.count(method="DELETE") == 1


def test_enter_confirms_only_a_matching_name(open_panel, sb):
    panel = open_panel("pool-02")
    panel.typed.value = "pool-0"
    press_enter(panel.typed)
    assert panel.flow.step is Step.REVIEW and sb.count(method="DELETE") == 0
    panel.typed.value = "pool-02"
    press_enter(panel.typed)
    press_enter(panel.typed)  # Enter twice: one intent, one DELETE
    assert finish(panel) is Step.DELETED and sb.count(method="DELETE") == 1


def test_enter_needs_the_acknowledgement_when_work_would_stop(open_panel, sb):
    panel = open_panel("train-gpu", impact=True)
    panel.typed.value = "train-gpu"
    press_enter(panel.typed)
    assert panel.flow.step is Step.REVIEW and sb.count(method="DELETE") == 0


def test_hostile_names_stay_text_in_refusal_candidates_and_status(shell, capsys, env_sandbox):
    sb = env_sandbox
    evil = "<img src=x onerror=alert(1)>\nFAKE: DELETED " + "x" * 2000
    for source in ("prepaid-pool", "pool-01", "pool-02"):
        body = json.loads(json.dumps(sb.pool_json(sb.display_names()[source][0])))
        body["metadata"]["name"] = f"{source}-{'e' * 32}"
        body["metadata"]["labels"]["os.modelarts/name"] = "twin" if source != "prepaid-pool" \
            else "evil-prepaid"
        body["status"]["phase"] = evil if source == "pool-02" else body["status"]["phase"]
        sb.add_pool(body)
    result = shell.run_cell("%pool_delete twin")
    out = capsys.readouterr()
    (line,) = (out.out + out.err).strip().splitlines()  # newlines in server text stay inside
    assert not result.success and line.startswith("InvalidName: 2 pools are named 'twin'")
    assert "…" in line and len(line) < 600  # the 2,000-character phase is capped
    for source in ("pool-01", "pool-02"):
        assert f"{source}-{'e' * 32}: " in line  # both candidates told apart
    liar = json.loads(json.dumps(sb.pool_json(sb.display_names()["pool-03"][0])))
    liar["metadata"]["name"] = f"liar-{'f' * 32}"
    liar["metadata"]["labels"]["os.modelarts/name"] = "liar\nFAKE: DELETED: pool prod"
    sb.add_pool(liar)
    shell.run_cell(f"%pool_delete liar-{'f' * 32} --yes --no-widgets --interval 0.05")
    out = capsys.readouterr().out
    assert "DELETED: pool liar FAKE: DELETED: pool prod" in out  # one line, as text
    assert not [line for line in out.splitlines() if line.startswith("FAKE")], out
    shell.run_cell("p = %pool_delete evil-prepaid")
    panel = shell.user_ns["p"]
    assert "<img" not in panel.refusal.value and "<img" not in panel.status.value
    assert "\n" not in status(panel)
    assert sb.count(method="DELETE") == 1  # the liar's, which was asked for; none other


def _pieces(secret: str) -> set[str]:
    return {secret[i:i + 8] for i in range(len(secret) - 7)}


@pytest.mark.parametrize("name", ["k{sk}", "{x}{sk}", "{sk}\n{sk}"])
def test_a_secret_a_server_echoes_never_reaches_widget_state_or_output(
        shell, capsys, env_sandbox, name):
    """A hostile server puts the SK (whole, or where a cap cuts it) in a display name and a
    phase: no 8 characters of it reach the panel's widget state, its static copy, or what the
    text path prints, even when the pool's names are ambiguous."""
    from ipywidgets.embed import embed_data

    sb = env_sandbox
    shown_name = name.format(sk=sb.sk, x="x" * 280)
    for n, source in enumerate(("pool-01", "pool-02")):
        body = json.loads(json.dumps(sb.pool_json(sb.display_names()[source][0])))
        body["metadata"]["name"] = f"leak{n}-{'a' * 32}"
        body["metadata"]["labels"]["os.modelarts/name"] = shown_name if n == 0 else "twin-leak"
        body["status"]["message"] = f"odd {sb.sk}"
        sb.add_pool(body)
        if n == 1:
            extra = json.loads(json.dumps(body))
            extra["metadata"]["name"] = f"leak2-{'a' * 32}"
            extra["status"]["phase"] = "x" * 30 + sb.sk
            sb.add_pool(extra)
    shell.run_cell(f"p = %pool_delete leak0-{'a' * 32} --interval 0.05")
    panel = shell.user_ns["p"]
    assert panel.flow.impact_checked.wait(10)
    panel.typed.value = f"leak0-{'a' * 32}"
    panel.delete_button.click()
    assert finish(panel) is Step.DELETED
    state = json.dumps({k: v for k, v in embed_data(views=[panel])["manager_state"]["state"]
                        .items() if k in {w.model_id for w in [panel, *shown(panel)]}})
    bundle = json.dumps(panel.mimebundle())
    shell.run_cell("%pool_delete twin-leak --no-widgets")  # ambiguous: the error line
    shell.run_cell(f"%pool_delete leak1-{'a' * 32} --no-widgets --yes --interval 0.05")
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "DELETED" in printed and "InvalidName" in printed and "***" in printed
    for text in (state, bundle, printed):
        assert not [piece for piece in _pieces(sb.sk) if piece in text]


# -- colours: every theme ----------------------------------------------------------------------


def test_no_fixed_light_only_colour_is_left():
    """No hard-coded light-theme background (#f3f3f3 under white text in dark) or fixed text
    colour outside a var() fallback in what the panel and the text path render."""
    from modelarts_nb.notebook import panel as panel_module
    from modelarts_nb.notebook import render, theme

    source = "".join(Path(module.__file__).read_text(encoding="utf-8")
                     for module in (render, panel_module, theme))
    assert "#f3f3f3" not in source and "color:#fff" not in source
    bare = re.findall(r"(?<![\w-])color:\s*#[0-9a-fA-F]{3,6}", PANEL_STYLE)
    assert not bare, bare
    from modelarts_nb.notebook.theme import phase_badge

    for phase in ("Running", "Deleting", "Error", "Deleted", "odd"):
        badge = phase_badge(phase)
        assert "color:inherit" in badge and "solid var(--jp-" in badge, badge


def test_buttons_never_shrink_and_rows_wrap(open_panel, sb):
    panel = open_panel("pool-01")
    for button in (panel.delete_button, panel.cancel_button, panel.retry_button,
                   panel.refresh_button, panel.stop_button):
        assert button.layout.width == "auto" and button.layout.flex == "0 0 auto"
    for row in (panel.confirm_row, panel.watch_row):
        assert row.layout.flex_flow == "row wrap"
    assert ".mnb-panel .widget-button{width:auto;min-width:max-content" in PANEL_STYLE


# -- the confirmation says every step still missing -------------------------------------------


def test_the_confirmation_names_every_missing_step_and_enter_says_what_is_missing(sb):
    """A pool that runs work needs its name typed and the work acknowledged: the line under
    the box says which of the two is still missing, Enter says so instead of doing nothing,
    and the acknowledgement is one checkbox whose whole sentence toggles it."""
    from modelarts_nb.deletion.flow import DeleteFlow
    from modelarts_nb.notebook.panel import DeletePanel

    client = make_client(sb)
    train = client.resolve("train-gpu")
    panel = DeletePanel(DeleteFlow(client, train, interval=0.05))
    panel.flow.check_impact()
    missing = lambda: html_plain(panel.missing.value)  # noqa: E731
    assert "To enable Delete, type train-gpu (or the pool id) in the box and tick" in missing()
    panel.typed.value = "train-gpu"
    assert missing().startswith("To enable Delete, tick “Also end") and "type" not in missing()
    panel._on_text_msg(panel.typed, {"event": "submit"}, [])  # Enter
    assert missing().startswith("Enter: nothing was sent.") and panel.delete_button.disabled
    assert panel.acknowledgement.row.children == (panel.ack,)  # the sentence is its label
    sentence = panel.acknowledgement.text
    assert sentence.startswith("Also end 3 training jobs") and "Stop" not in sentence
    assert panel.stop_button.description == "Stop"  # the words differ from the button's
    panel.ack.value = True
    assert missing() == "Ready: press Enter or click Delete pool."
    panel._on_text_msg(panel.typed, {"event": "submit"}, [])  # Enter now deletes
    assert finish(panel) is Step.DELETED and sb.count(method="DELETE") == 1
    assert missing() == ""


def test_a_refresh_after_an_outage_replaces_the_stale_line_with_what_it_read(open_panel, sb):
    """A watch that lost the API stops ("could not connect … continues on the server"); once
    the API is back and the pool reads Running, the line says so, not the old error."""
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    until(lambda: panel.flow.step is Step.WATCHING, what="the watch")
    sb.inject(Fault(method="GET", drop="before", times=1000))  # the watch cannot read it
    sb.set_phase(panel.flow.pool.id, "Running")  # and the deletion does not take
    assert finish(panel) is Step.STOPPED
    assert "continues on the server" in status(panel)
    sb.clear_faults()
    panel.refresh_button.click()
    until(lambda: not panel.flow.refreshing, what="the check")
    line = status(panel)
    assert "the pool is still there (Running) and not being deleted" in line, line
    assert "connect" not in line and "continues on the server" not in line
