"""Resource hygiene: after a watch finishes, is stopped, times out, fails or is interrupted, no
thread of ours runs and the client holds no connection; closing the panel stops its watch."""

from __future__ import annotations

import threading

import pytest
from conftest import make_client, our_threads, until

from modelarts_nb import Step
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.notebook.panel import DeletePanel
from modelarts_nb.sandbox import Fault


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=3, delete_seconds=0.5)


def panel_for(sb, name, **kw):
    client = make_client(sb)
    kw.setdefault("interval", 0.05)
    return DeletePanel(DeleteFlow(client, client.resolve(name), **kw))


def confirm(panel):
    panel.typed.value = panel.flow.pool.display_name
    panel.delete_button.click()


def wait_for(panel, step, timeout=5.0):
    deadline = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if panel.flow.step is step:
            return
        deadline.wait(0.02)
    raise AssertionError(f"never reached {step}, still {panel.flow.step}")


def assert_clean(panel):
    panel.flow.join(5)
    assert not our_threads(), our_threads()
    assert panel.flow.client.open_connections == 0


def test_finished(sb):
    panel = panel_for(sb, "pool-01")
    confirm(panel)
    panel.flow.join(10)
    assert panel.flow.step is Step.DELETED
    assert_clean(panel)


def test_stopped(sb):
    panel = panel_for(sb, "pool-01", interval=30)
    confirm(panel)
    wait_for(panel, Step.WATCHING)
    panel.stop_button.click()
    panel.flow.join(2)
    assert panel.flow.step is Step.STOPPED
    assert_clean(panel)


def test_timed_out(sb):
    panel = panel_for(sb, "pool-02", timeout=0.3)
    sb.fail_deletion(panel.flow.pool.id, phase="Deleting")
    confirm(panel)
    panel.flow.join(10)
    assert panel.flow.step is Step.FAILED and "still exists" in panel.flow.message
    assert_clean(panel)


def test_failed_request(sb):
    panel = panel_for(sb, "pool-03")
    sb.inject(Fault(method="DELETE", status=500))
    confirm(panel)
    panel.flow.join(10)
    assert panel.flow.step is Step.FAILED
    assert_clean(panel)


def test_closing_the_panel_stops_its_watch(sb):
    panel = panel_for(sb, "pool-01", interval=30)
    confirm(panel)
    wait_for(panel, Step.WATCHING)
    panel.close()
    assert_clean(panel)


def test_interrupted_foreground_watch(sb):
    """Ctrl-C during `--yes` (a KeyboardInterrupt in the sleeping main thread) stops watching."""
    client = make_client(sb)
    flow = DeleteFlow(client, client.resolve("pool-02"), interval=30)
    interrupted = []

    def sleep_then_interrupt(seconds: float) -> bool:
        interrupted.append(seconds)
        raise KeyboardInterrupt

    flow._stop.wait = sleep_then_interrupt  # type: ignore[method-assign]  # noqa: SLF001
    with pytest.raises(KeyboardInterrupt):
        flow.delete_now(background=False)
    assert interrupted and flow.step is Step.STOPPED
    assert client.open_connections == 0 and not our_threads()
    assert sb.accepted_deletes(flow.pool.id) == 1


def test_review_panel_holds_no_connection(sb, shell, monkeypatch, tmp_path):
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(tmp_path / "none"))
    shell.run_cell("p = %pool_delete pool-03")
    panel = shell.user_ns["p"]
    assert panel.flow.step is Step.REVIEW
    until(lambda: not panel.flow.impact_pending and not our_threads(), what="the checks")
    assert panel.flow.client.open_connections == 0
