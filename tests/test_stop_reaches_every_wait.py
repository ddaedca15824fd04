"""One stop per run: Ctrl-C, Stop, closing a panel, a kernel interrupt between cells and kernel
exit each end every read and wait of the work they concern within a second, with no request
after — over real HTTP, and for the interrupt and the exit in a real kernel process.

The server keeps answering 503 with ``Retry-After: 3`` to the reads concerned, so without the
stop they would go on retrying for ~9 s (four tries).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time

import pytest
from conftest import make_client, panels_over, pools_panel, until

from modelarts_nb import RetryPolicy
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.sandbox import Fault


def pool_01(sb) -> str:
    return next(i for i in sb.pool_ids() if i.startswith("pool-01"))


def busy_reads(sb, pool: str | None = None, *, after: int = 0, list_only: bool = False) -> None:
    """From the ``after``-th matching GET on: 503, Retry-After 3, for good."""
    if after:
        sb.inject(Fault(method="GET", pool=pool, list_only=list_only, times=after))  # answered
    sb.inject(Fault(method="GET", pool=pool, list_only=list_only, status=503, retry_after=3,
                    times=1000))


def quiet_after(sb, moment: float, settle: float = 1.0) -> list:
    """The requests that arrived more than ``settle`` s after ``moment`` (time.time())."""
    time.sleep(max(0.0, moment + settle + 0.5 - time.time()))
    return [r for r in sb.requests if r.time > moment + settle]


def test_ctrl_c_during_the_foreground_check_returns_at_once_and_reads_nothing_more(sandbox):
    """What ``%pool_delete X --no-widgets`` and ``--yes`` do after reading the pool: read what
    it carries, in the foreground (magic.py), where Ctrl-C arrives."""
    pid = pool_01(sandbox)
    client = make_client(sandbox, retry=RetryPolicy())
    flow = DeleteFlow(client, client.get_pool(pid), retire=False)
    busy_reads(sandbox, pid)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        flow.check_impact()
    returned = time.monotonic() - started
    stopped_at = time.time()
    timer.cancel()
    assert returned < 1.6, f"Ctrl-C held the cell {returned:.1f} s"
    assert quiet_after(sandbox, stopped_at) == []
    assert sandbox.count(method="DELETE") == 0


def test_closing_a_pools_panel_during_its_check_stops_the_reads_and_its_connections(sandbox):
    client = make_client(sandbox)
    panel = pools_panel(client, client.list_pools, interval=0.05)
    pid = pool_01(sandbox)
    panel.checks[pid].value = True
    panel.typed.value = "delete 1 pool"
    busy_reads(sandbox, pid)
    panel.delete_button.click()  # the first click: the check of what the pool runs
    until(lambda: sandbox.count(method="GET", pool=pid) >= 2, what="the check under way")
    panel.close()
    closed_at = time.time()
    assert quiet_after(sandbox, closed_at) == []
    assert client.open_connections == 0 and sandbox.count(method="DELETE") == 0


def test_a_pools_panel_refresh_leaves_the_kernel_free_and_closing_ends_it(sandbox):
    client = make_client(sandbox)
    panel = pools_panel(client, client.list_pools, interval=0.05)
    busy_reads(sandbox, list_only=True)
    clicked = time.monotonic()
    panel.refresh_button.click()
    assert time.monotonic() - clicked < 0.5  # in the background: the kernel is free
    assert panel.refresh_button.disabled and "Reading the pools again" in panel.hint.value
    until(lambda: sandbox.count(method="GET") >= 1, what="the list read")
    panel.close()
    closed_at = time.time()
    assert quiet_after(sandbox, closed_at) == []
    assert client.open_connections == 0


def test_a_pools_panel_refresh_keeps_no_connection_open(sandbox):
    client = make_client(sandbox)
    panel = pools_panel(client, client.list_pools, interval=0.05)
    panel.refresh_button.click()
    assert panel.loaded.wait(10)
    assert len(panel.pools) == len(sandbox.pool_ids()) and not panel.refresh_button.disabled
    assert client.open_connections == 0
    panel.close()


def test_refresh_of_a_single_pool_obeys_stop_and_close(sandbox):
    pid = pool_01(sandbox)
    with panels_over(sandbox) as panel_for:
        panel = panel_for(pid)
        panel.flow.cancel()  # reviewed, not deleted: a Refresh still reads the pool
        busy_reads(sandbox, pid)
        clicked = time.monotonic()
        panel.refresh_button.click()
        assert time.monotonic() - clicked < 0.5
        assert panel.flow.refreshing and not panel.stop_button.disabled
        until(lambda: sandbox.count(method="GET", pool=pid) >= 2, what="the refresh's GET")
        panel.stop_button.click()
        stopped_at = time.time()
        until(lambda: not panel.flow.refreshing, timeout=1.5, what="the check to stop")
        assert "Check stopped" in panel.flow.message
        assert quiet_after(sandbox, stopped_at) == []
        panel.refresh_button.click()  # a later Refresh works again, and closing ends it
        until(lambda: sandbox.count(method="GET", pool=pid) >= 4, what="the second refresh")
        panel.close()
        closed_at = time.time()
        assert quiet_after(sandbox, closed_at) == []


# -- a real kernel ------------------------------------------------------------------------------


@pytest.fixture
def kernel(env_sandbox):
    """A kernel of this venv, as JupyterLab starts it, with the sandbox in its environment."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env=dict(os.environ))
    try:
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    """Run ``code``, return what it printed (stdout)."""
    out: list[str] = []

    def hear(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = client.execute_interactive(code, timeout=60, output_hook=hear)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_a_kernel_interrupt_between_cells_stops_a_pools_panel_check(kernel, env_sandbox):
    manager, client = kernel
    sb = env_sandbox
    pid = pool_01(sb)
    run(client, "%load_ext modelarts_nb\n%pools")
    busy_reads(sb, pid)
    run(client, f"""
from modelarts_nb.notebook import display
panel = next(p for p in display._shown if hasattr(p, "checks"))
panel.checks[{pid!r}].value = True
panel.typed.value = "delete 1 pool"
panel.delete_button.click()
""")
    until(lambda: sb.count(method="GET", pool=pid) >= 2, what="the check under way")
    manager.interrupt_kernel()  # the ■ button, with no cell running
    interrupted = time.time()
    assert quiet_after(sb, interrupted) == []
    shown = run(client, "print(panel.hint.value, panel.checking)")
    assert "Stopped before it could check" in shown and shown.strip().endswith("False")
    assert sb.count(method="DELETE") == 0


def test_kernel_exit_ends_every_wait_and_leaves_the_panel_inert_within_2_s(kernel, env_sandbox):
    manager, client = kernel
    sb = env_sandbox
    pid = pool_01(sb)
    run(client, f"""
from modelarts_nb import PoolsClient
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.notebook.panel import DeletePanel
pool = PoolsClient.from_env().get_pool({pid!r})
""")
    busy_reads(sb, pid)  # what the pool carries: read as %pool_delete reads it, in back-off
    run(client, """
flow = DeleteFlow(PoolsClient.from_env(), pool)
panel = DeletePanel(flow)
panel.show()
flow.check_impact(background=True)
""")
    until(lambda: sb.count(method="GET", pool=pid) >= 4, what="the reads in back-off")
    updates: queue.Queue = queue.Queue()

    def listen():
        while True:
            try:
                msg = client.get_iopub_msg(timeout=6)
            except Exception:  # noqa: BLE001 - the kernel (and its channels) went away
                return
            if msg["msg_type"] == "comm_msg" and "has stopped" in str(msg["content"]):
                updates.put(time.monotonic())
                return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    asked = time.monotonic()
    asked_wall = time.time()
    manager.request_shutdown()
    until(lambda: not manager.is_alive(), timeout=4.5, what="the kernel to exit by itself")
    exited = time.monotonic() - asked
    inert = updates.get(timeout=1) - asked
    assert inert < 2.0 and exited < 4.5, (inert, exited)
    assert quiet_after(sb, asked_wall) == []
    assert sb.count(method="DELETE") == 0
