"""Receipts, the note beside each panel and the single-pool panel under misuse, each
the input a careless user or a hostile server gives.

A test marked ``xfail(strict=True, reason="BREAK: …")`` is a break found by trying: it asserts
what the user should see and fails today (strict: it turns red once fixed, so the mark goes).
The others are attacks that held; each asserts what a user would notice (what was sent, what
the panel or the receipts say). Everything goes over real HTTP to the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import threading
import time

import pytest
from conftest import make_client, panels_over, sandbox_in_env, until

from modelarts_nb import Step
from modelarts_nb.deletion import receipts
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.notebook import display
from modelarts_nb.notebook.panel import DeletePanel
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=3, delete_seconds=0.5)


@pytest.fixture
def open_panel(sb):
    with panels_over(sb, interval=0.05, impact=True) as factory:
        yield factory


def press_enter(text_widget):
    """What the browser sends on Enter in a Text (ipywidgets 7 and 8 alike)."""
    text_widget._handle_msg({"content": {"data": {"method": "custom",
                                                  "content": {"event": "submit"}}},
                             "buffers": []})


def events() -> list[dict]:
    where = receipts.location()
    if not where.exists():
        return []
    return [json.loads(line) for line in where.read_text().splitlines()]


def controls(panel) -> list:
    found, stack = [], list(panel.children)
    while stack:
        widget = stack.pop()
        stack.extend(getattr(widget, "children", ()))
        if hasattr(widget, "disabled"):
            found.append(widget)
    return found


def add_named(sb, slug: str, display_name: str) -> str:
    """A copy of pool-01 under a new id whose display name is ``display_name`` (any string)."""
    source = sb.display_names()["pool-01"][0]
    body = copy.deepcopy(sb.pool_json(source))
    body["metadata"]["name"] = f"{slug}-{'a' * 32}"
    body["metadata"]["labels"]["os.modelarts/name"] = display_name
    return sb.add_pool(body)


# -- receipts: where they go -------------------------------------------------------------------

NO_SUCH_HOME = "~nosuchuser-mnb-attack12/receipts.jsonl"


def test_a_receipts_path_whose_home_cannot_be_found_never_stops_a_deletion(
        shell, capsys, monkeypatch, tmp_path):
    with sandbox_in_env(monkeypatch, tmp_path, pools=3, delete_seconds=0.3) as sb:
        monkeypatch.setenv(receipts.ENV, NO_SUCH_HOME)
        result = shell.run_cell("%pool_delete pool-01 --yes --no-widgets")
        out = capsys.readouterr()
        said = out.out + out.err
        assert result.success and sb.count(method="DELETE") == 1
        assert "Traceback" not in said and "unexpected error" not in said
        assert "DELETED: pool pool-01" in said, said[-600:]
        assert said.count("could not write a deletion receipt") == 1


def test_history_of_a_path_whose_home_cannot_be_found_says_so_in_one_line(
        shell, capsys, monkeypatch):
    monkeypatch.setenv(receipts.ENV, NO_SUCH_HOME)
    result = shell.run_cell("%pools --history")
    out = capsys.readouterr()
    assert result.success and result.result is None
    assert "UnexpectedError" not in out.err
    assert "nosuchuser-mnb-attack12" in out.out


def test_history_of_a_fifo_does_not_hang_the_kernel(tmp_path, monkeypatch):
    fifo = tmp_path / "receipts.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv(receipts.ENV, str(fifo))
    done: list[object] = []
    reader = threading.Thread(target=lambda: done.append(receipts.read_history()), daemon=True)
    reader.start()
    reader.join(3.0)
    try:
        assert done, "history() still blocked on the FIFO after 3 s"
        rows, notes = done[0]  # type: ignore[misc]
        assert rows == [] and notes and "Cannot read" in notes[0]
    finally:
        if reader.is_alive():  # a writer that opens and closes gives the reader its EOF
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(3.0)


def test_a_fifo_named_for_receipts_never_holds_the_deletion(sb, tmp_path, monkeypatch, capsys,
                                                            open_panel):
    fifo = tmp_path / "receipts.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv(receipts.ENV, str(fifo))
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED and sb.count(method="DELETE") == 1
    assert capsys.readouterr().err.count("could not write a deletion receipt") == 1


def test_empty_or_blank_variable_means_the_data_directory_not_the_working_directory(
        tmp_path, monkeypatch):
    for value in ("", "   ", "\t"):
        where = receipts.location({receipts.ENV: value, "HOME": str(tmp_path)}, "linux")
        assert where == tmp_path / ".local" / "share" / "modelarts-nb" / "receipts.jsonl"
    assert receipts.location({receipts.ENV: "~/r.jsonl", "HOME": str(tmp_path)}).is_absolute()


def test_ctrl_c_while_the_receipt_waits_for_the_lock_still_records_the_delete(
        shell, capsys, monkeypatch, tmp_path):
    import fcntl
    import signal
    import time

    with sandbox_in_env(monkeypatch, tmp_path, pools=3, delete_seconds=0.3) as sb:
        monkeypatch.setenv(receipts.ENV, str(tmp_path / "receipts.jsonl"))  # cleared above
        where = receipts.location()
        where.touch()
        shell.run_cell("%pool_delete pool-01 --no-widgets")  # imports done: timings are reads
        sb.inject(Fault(method="DELETE", delay=0.5))
        holder = os.open(where, os.O_RDONLY)  # a hung kernel holding the receipts lock
        fcntl.flock(holder, fcntl.LOCK_EX)

        def interrupt():
            until(lambda: sb.count(method="DELETE") == 1, what="the DELETE")
            time.sleep(0.5 + 0.4)  # its answer is in; the receipt waits for the lock
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=interrupt, daemon=True)
        timer.start()
        try:
            shell.run_cell("%pool_delete pool-01 --yes --no-widgets")
        finally:
            timer.join(5)
            os.close(holder)
        said = capsys.readouterr()
        assert sb.count(method="DELETE") == 1
        found = events()
        assert [e["event"] for e in found][:1] == ["sent"], found
        # the cell says, in one line, what became of the pool (IPython still shows where the
        # KeyboardInterrupt landed, as for any Ctrl-C)
        assert "Pool pool-01" in said.out + said.err


# -- receipts: reading back what is there ---------------------------------------------------

GOOD = {"v": 1, "receipt": "r-good", "event": "sent", "time": "2026-11-30T08:00:00.000Z",
        "pool": "pool-good", "name": "good"}


def test_lines_of_the_wrong_shape_are_skipped_and_counted_not_a_traceback(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    hostile = [
        "[1, 2, 3]", "42", '"sent"', "null", "[" * 10_000 + "]" * 10_000,
        '{"v": 1, "receipt": "x", "event": "sent", "time": ' + "[" * 10_000 + "]" * 10_000 + "}",
        json.dumps({**GOOD, "receipt": 7}), json.dumps({**GOOD, "event": "deleted"}),
        json.dumps({**GOOD, "time": None}), "\x00\xff garbage", '{"v": 1, "receipt": "half',
    ]
    odd_but_ours = [  # readable events with fields of the wrong type: shown as unknown
        json.dumps({**GOOD, "receipt": "r-odd", "pool": ["p"], "name": {"n": 1},
                    "flavors": "abc", "workloads": [1, 2], "nodes": "3"}),
        json.dumps({**GOOD, "receipt": "r-odd", "event": "final", "phase_seen": [1],
                    "outcome": ["deleted"], "detail": "d\nx" * 2000}),
    ]
    path.write_text("\n".join([json.dumps(GOOD), *hostile, *odd_but_ours]) + "\n",
                    encoding="utf-8", errors="surrogateescape")
    frame = receipts.history(path=path)
    assert sorted(frame["receipt"]) == ["r-good", "r-odd"]
    odd = frame[frame["receipt"] == "r-odd"].iloc[0]
    assert odd["nodes"] is None and odd["flavors"] is None and odd["phase_seen"] is not None
    assert "\n" not in odd["detail"] and len(odd["detail"]) <= receipts.CAP
    assert f"Skipped {len(hostile)} unreadable line(s)" in capsys.readouterr().out


@pytest.mark.parametrize("since", ["nan", "inf", "-1d", "99999999d", "1e9d", "2026-02-30",
                                   "2026-11-30T25:00", "2026-11-30T08:00+25:00", "yesterday",
                                   "3D", "$(rm -rf ~)"])
def test_odd_since_is_one_line_refusal(shell, capsys, since):
    result = shell.run_cell(f"%pools --history --since '{since}'")
    err = capsys.readouterr().err
    assert not result.success and "expected a date (2026-11-30)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("pattern", [".*", "pool-*", "pool-?ood", "[p]ool-good", "POOL-GOOD",
                                     "good ", " pool-good\t"])
def test_pool_filter_is_an_exact_name_never_a_pattern(tmp_path, pattern):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "receipt": "r2",
                                                           "pool": "pool-bad", "name": "bad"}) + "\n")
    rows, _ = receipts.read_history(pool=pattern, path=path)
    # surrounding blanks are forgiven (as in the confirm box); nothing else widens the match
    expected = ["r-good"] if pattern.strip() in ("pool-good", "good") else []
    assert [r["receipt"] for r in rows] == expected


def test_pool_filter_none_is_a_name_not_a_missing_one(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({**GOOD, "name": None}) + "\n")
    rows, _ = receipts.read_history(pool="None", path=path)
    assert rows == []


# -- receipts: what the panel leaves ---------------------------------------------------------


def test_retry_after_a_failure_that_sent_nothing_leaves_one_receipt_not_two(sb, open_panel):
    panel = open_panel("pool-01")
    panel.typed.value = "pool-01"
    sb.inject(Fault(drop="before", times=40))  # the API is down: nothing leaves
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.FAILED and events() == []
    sb.clear_faults()
    panel.retry_button.click()
    panel.retry_button.click()  # a double click
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED and sb.count(method="DELETE") == 1
    found = events()
    assert len({e["receipt"] for e in found}) == 1
    assert [(e["event"], e.get("outcome")) for e in found] == [("sent", None),
                                                                ("final", "deleted")]


def test_refresh_clicked_many_times_after_the_end_adds_no_final(sb, open_panel):
    panel = open_panel("pool-02")
    panel.typed.value = "pool-02"
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED
    before = events()
    for _ in range(20):
        panel.flow.refresh()  # the button is gone; the flow itself is asked again and again
    assert events() == before and [e["event"] for e in before] == ["sent", "final"]


def test_a_secret_inside_the_display_name_never_reaches_the_receipt(sb, open_panel):
    pool_id = add_named(sb, "leaky", f"k{sb.sk}")
    panel = open_panel(pool_id, by_id=True)
    panel.typed.value = pool_id
    panel.delete_button.click()
    panel.flow.join(10)
    text = receipts.location().read_text()
    assert panel.flow.step is Step.DELETED and sb.sk not in text and '"name": "k***"' in text


def test_capping_a_server_string_never_leaves_part_of_a_secret_in_the_receipt(sb, open_panel):
    pool_id = add_named(sb, "capped", "x" * 280 + sb.sk)
    panel = open_panel(pool_id, by_id=True)
    panel.typed.value = pool_id
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED
    text = receipts.location().read_text()
    pieces = {sb.sk[i:i + 8] for i in range(len(sb.sk) - 7)}
    assert not [piece for piece in pieces if piece in text]


# -- the note beside each panel ----------------------------------------------------------------

HOSTILE_NAMES = ["</style><script>alert(1)</script>", "x}</style><style>body{display:none}",
                 "$x$ \\(y\\)", "n" * 2000, "a\nb\rc", "a\u2028b\u2029c", "<!--", "\u202eevil",
                 "a\x1b[31mred"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_hostile_display_name_stays_text_in_the_note_and_the_saved_copy(sb, open_panel, name):
    pool_id = add_named(sb, "hostile", name)
    panel = open_panel(pool_id, by_id=True)
    for _ in range(2):  # before and after the deletion
        note = panel.note_bundle()
        page = note["text/html"]
        assert page.count("<style>") == 1 and page.count("</style>") == 1
        assert "<script" not in page and "<!--" not in page
        assert "$" not in html.unescape(re.sub(r"<[^>]*>", "", page.split("</style>")[1])) or \
            "&#36;" in page
        lines = note["text/plain"].split("\n")
        assert len(lines) == 2 and len(lines[0]) <= 300
        assert not any(c in note["text/plain"] for c in "\r\x1b\u2028\u2029\u202e")
        text, copy_html = panel._static_copy()
        assert "<script" not in copy_html and not any(c in text for c in "\x1b\u2028\u202e")
        panel.typed.value = pool_id
        panel.delete_button.click()
        panel.flow.join(10)
    assert panel.flow.step is Step.DELETED


def test_every_output_of_a_panel_shown_twice_gets_the_final_state(shell, env_sandbox,
                                                                   monkeypatch):
    sent: list[tuple[str, bool, str]] = []

    def publish(data, metadata=None, source=None, *, transient=None, update=False, **_):
        sent.append(((transient or {}).get("display_id", ""), update,
                     data.get("text/plain", "")))

    monkeypatch.setattr(shell.display_pub, "publish", publish)
    shell.run_cell("%pool_delete pool-01", store_history=True)
    shell.run_cell("_", store_history=True)  # the same panel, shown again in a later cell
    panel = shell.user_ns["_"]
    panel.flow.impact_checked.wait(5)
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED
    shown = {d for d, update, _ in sent if not update}
    assert len(shown) == 4  # two outputs (panel + note) in each of two cells
    last = {d: text for d, _, text in sent}  # what each output reads at the end
    assert all("DELETED" in last[d].split("\n", 1)[0] for d in shown), last
    panel.close()


# -- the single-pool panel ---------------------------------------------------------------------


def test_enter_twice_and_a_click_send_one_delete(sb, open_panel):
    panel = open_panel("pool-01", interval=0.2)
    panel.typed.value = "  pool-01 "
    press_enter(panel.typed)
    press_enter(panel.typed)
    panel.delete_button.click()
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED and sb.count(method="DELETE") == 1


def test_enter_with_the_wrong_name_or_after_cancel_sends_nothing(sb, open_panel):
    panel = open_panel("pool-01")
    for typed in ("pool-0", "pool-01x", "Pool-01", "pool 01", ""):
        panel.typed.value = typed
        press_enter(panel.typed)
        assert panel.flow.step is Step.REVIEW
    panel.typed.value = "pool-01"
    panel.cancel_button.click()
    press_enter(panel.typed)
    panel.delete_button.click()
    assert panel.flow.step is Step.CANCELLED and sb.count(method="DELETE") == 0


@pytest.mark.parametrize("typed", ["pool-01\u200b", "\u200bpool-01", "pool\u00a0-01", "pool-0l",
                                   "pool-01\u0301", "ｐｏｏｌ-01", "pool\t-01", "pool-01\x00"])
def test_invisible_or_lookalike_characters_never_match(sb, open_panel, typed):
    panel = open_panel("pool-01")
    panel.typed.value = typed
    press_enter(panel.typed)
    assert panel.delete_button.disabled and panel.flow.step is Step.REVIEW
    assert sb.count(method="DELETE") == 0


def test_a_pool_named_after_another_pools_id_deletes_only_the_pool_shown(sb, open_panel):
    victim = sb.display_names()["pool-02"][0]
    impostor = add_named(sb, "impostor", victim)
    panel = open_panel(victim)  # the id wins: the panel is the victim's own
    assert panel.flow.pool.id == victim
    other = open_panel(impostor, by_id=True)
    other.typed.value = victim  # its display name: confirms the impostor, and only it
    other.delete_button.click()
    other.flow.join(10)
    assert other.flow.step is Step.DELETED
    assert {r.pool for r in sb.requests if r.method == "DELETE"} == {impostor}
    assert sb.pool_json(victim) is not None


def test_kernel_exit_while_watching_leaves_the_panel_inert(shell, monkeypatch, tmp_path):
    with sandbox_in_env(monkeypatch, tmp_path, pools=3, delete_seconds=5) as sb:
        client = make_client(sb)
        flow = DeleteFlow(client, client.resolve("pool-01"), interval=0.05)
        panel = DeletePanel(flow)
        panel.show()
        panel.typed.value = "pool-01"
        panel.delete_button.click()
        until(lambda: flow.step is Step.WATCHING, what="watching")
        try:
            display._on_kernel_exit()
            assert all(c.disabled for c in controls(panel))
            assert "mnb-kernel-stopped" in panel.header.value
        finally:
            flow.stop()
            flow.join(3)
            client.close()
            panel.close()


def test_kernel_exit_while_the_impact_check_runs_leaves_the_panel_inert(shell, env_sandbox,
                                                                        capsys):
    sb = env_sandbox
    pool_id = sb.display_names()["pool-01"][0]
    shell.run_cell(f"%pool_delete {pool_id} --no-widgets")  # imports done: timings are reads
    sb.inject(Fault(method="GET", pool=pool_id, delay=0.5, times=10))
    panel = shell.run_line_magic("pool_delete", pool_id)
    panel.show()
    try:
        assert panel.flow.impact_pending
        display._on_kernel_exit()
        assert all(c.disabled for c in controls(panel))
        # the check's late answer (or its stop) must not turn a control live again; whether it
        # ends before the process does is not what a person sees (a rare run has not ended in
        # 10 s under load: see docs/bounded-and-clean.md, "Left as they are")
        panel.flow.impact_checked.wait(3)
        assert all(c.disabled for c in controls(panel))
        assert "nothing here acts any more" in panel.header.value
    finally:
        panel.close()


def test_kernel_exit_during_a_slow_batch_leaves_the_pools_panel_inert(shell, monkeypatch,
                                                                      tmp_path):
    from modelarts_nb.notebook.pools_words import confirm_phrase

    with sandbox_in_env(monkeypatch, tmp_path, pools=4, delete_seconds=0.3) as sb:
        panel = shell.run_line_magic("pools", "--name 'pool-*'")
        panel.show()
        try:
            until(lambda: not panel.checking, what="the pools' checks")
            ids = sorted(panel.checks)[:2]
            for pool_id in ids:
                panel.checks[pool_id].value = True
            panel.typed.value = confirm_phrase(len(ids))
            sb.inject(Fault(method="DELETE", delay=2.0, times=2))
            panel.delete_button.click()
            until(lambda: sb.count(method="DELETE") >= 1, what="a DELETE")
            display._on_kernel_exit()
            panel.run.finished.wait(10)
            assert panel.run.finished.is_set()
            assert all(c.disabled for c in controls(panel))
            assert "nothing here acts any more" in panel.children[0].value
        finally:
            panel.close()


def test_kernel_exit_twice_says_it_once(shell, env_sandbox):
    panel = shell.run_line_magic("pool_delete", "pool-01")
    panel.flow.impact_checked.wait(5)
    panel.show()
    try:
        display._on_kernel_exit()
        display._on_kernel_exit()
        assert all(c.disabled for c in controls(panel))
        assert panel.header.value.count("<div class='mnb-kernel-stopped'>") == 1
    finally:
        panel.close()


def test_kernel_exit_skips_closed_panels_and_survives_one_that_raises(shell, env_sandbox,
                                                                      monkeypatch):
    closed = shell.run_line_magic("pool_delete", "pool-01")
    broken = shell.run_line_magic("pool_delete", "pool-02")
    fine = shell.run_line_magic("pool_delete", "pool-03")
    for panel in (closed, broken, fine):
        panel.flow.impact_checked.wait(5)
        panel.show()
    closed.close()

    def explode():
        raise RuntimeError("a widget tree that raises")

    monkeypatch.setattr(broken, "_kernel_exiting", explode)
    try:
        display._on_kernel_exit()  # must not raise: the kernel is going away
        assert all(c.disabled for c in controls(fine))
        assert "mnb-kernel-stopped" in fine.header.value
    finally:
        broken.close()
        fine.close()


def test_a_refresh_racing_the_end_of_the_watch_still_reads_the_pool(sb, open_panel):
    """The watch thread closes the shared client when it ends; a Refresh that got that client
    just before used to fail with httpx's "client has been closed" (the click did nothing and a
    traceback went to the kernel log). Nothing was sent then, so it goes once more."""
    panel = open_panel("pool-01")
    api = panel.flow.client
    closed = api._client()
    api.close()  # what the ending watch does...
    handed = iter([closed])  # ...after this Refresh's thread got the old client
    fresh = api._client

    def racing_client():
        return next(handed, None) or fresh()

    api._client = racing_client
    before = sb.count(method="GET")
    panel.flow.refresh()
    assert sb.count(method="GET") == before + 1
    assert panel.flow.step is Step.REVIEW and "last checked" in panel.status.value


def test_closing_a_panel_ends_its_impact_check(shell, env_sandbox):
    """A panel closed (or its cell re-run) while "What deleting breaks: checking…" used to
    leave its four reads running: retries and back-offs against a struggling server, from a
    thread nobody shows any more. Closing stops the check as it stops a watch."""
    sb = env_sandbox
    pool_id = sb.display_names()["pool-01"][0]
    shell.run_cell(f"%pool_delete {pool_id} --no-widgets")  # imports done: timings are reads
    # the sub-pools read: refused, come back in 5 s
    sb.inject(Fault(method="GET", list_only=True, status=503, retry_after=5, times=200))
    panel = shell.run_line_magic("pool_delete", pool_id)
    assert panel.flow.impact_pending
    until(lambda: any(r.status == 503 for r in sb.requests), what="the check under way")
    panel.close()
    assert panel.flow.impact_checked.wait(2), "the check went on after the panel closed"
    settled = sb.count(method="GET")
    time.sleep(1.5)
    assert sb.count(method="GET") == settled  # nothing more is sent for a closed panel
