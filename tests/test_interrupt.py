"""Ctrl-C at each step of a deletion, over real HTTP (issue #9, behaviour 1).

A real SIGINT reaches the main thread while it waits on the sandbox (a delayed answer), as a
kernel interrupt does. Before any DELETE left, the user is told nothing was sent and the pool is
not claimed: a rerun deletes normally. After a deletion failed, a rerun may send a new DELETE.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from conftest import make_client, our_threads, until

from modelarts_nb import Step
from modelarts_nb.deletion.flow import NOTHING_SENT, WATCH_STOPPED, DeleteFlow
from modelarts_nb.sandbox import Fault


def pool_01(sb) -> str:
    return next(i for i in sb.pool_ids() if i.startswith("pool-01"))


def interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_interrupt_during_the_preflight_read_sends_nothing_and_claims_nothing(sandbox):
    pool_id = pool_01(sandbox)
    client = make_client(sandbox)
    first = DeleteFlow(client, client.get_pool(pool_id))
    sandbox.inject(Fault(method="GET", pool=pool_id, delay=3.0))  # the read before the DELETE
    timer = interrupt_after(0.5)
    with pytest.raises(KeyboardInterrupt):
        first.delete_now(background=False)
    timer.cancel()
    assert first.step is Step.CANCELLED and first.message == NOTHING_SENT
    assert sandbox.count(method="DELETE") == 0
    sandbox.clear_faults()
    rerun = DeleteFlow(make_client(sandbox), client.get_pool(pool_id))
    rerun.delete_now(background=False, wait=False)  # not blocked by a stale claim
    assert rerun.step is Step.ACCEPTED and sandbox.accepted_deletes(pool_id) == 1


def test_magic_interrupted_before_the_delete_says_nothing_was_sent(shell, capsys, env_sandbox):
    sb = env_sandbox
    pool_id = pool_01(sb)
    shell.run_cell(f"%pool_delete {pool_id} --no-widgets")  # imports done: timings are reads
    capsys.readouterr()
    # each read of the pool takes 1.5 s: its GET, then what it carries (3 GETs at once, with
    # the sub-pool LIST), then the flow's own GET just before its DELETE — interrupted there
    sb.inject(Fault(method="GET", pool=pool_id, delay=1.5, times=5))
    timer = interrupt_after(3.7)
    shell.run_cell(f"%pool_delete {pool_id} --yes")
    timer.cancel()
    out = capsys.readouterr()
    text = out.out + out.err
    label = sb.pool_json(pool_id)["metadata"]["labels"]["os.modelarts/name"]
    assert f"Pool {label} ({pool_id}): {NOTHING_SENT}" in text
    assert WATCH_STOPPED not in text
    sb.inject(Fault(method="GET", pool=pool_id, delay=3.0))
    timer = interrupt_after(0.5)  # during the magic's own first read
    shell.run_cell(f"%pool_delete {pool_id} --yes")
    timer.cancel()
    out = capsys.readouterr()
    assert "Interrupted while reading the pool: nothing was deleted." in out.out
    assert sb.count(method="DELETE") == 0
    result = shell.run_cell(f"%pool_delete {pool_id} --yes --interval 0.1")
    out = capsys.readouterr()
    assert result.success and "DELETED" in out.out, out.out + out.err
    assert sb.accepted_deletes(pool_id) == 1


def test_a_rerun_after_a_failed_deletion_may_send_a_new_delete(sandbox):
    pool_id = pool_01(sandbox)
    sandbox.fail_deletion(pool_id, "Error")
    flow = DeleteFlow(make_client(sandbox), make_client(sandbox).get_pool(pool_id), interval=0.1)
    flow.delete_now(background=False)
    assert flow.step is Step.FAILED
    sandbox.fail_deletion(pool_id, None)
    sandbox.set_phase(pool_id, "Running")
    again = DeleteFlow(make_client(sandbox), make_client(sandbox).get_pool(pool_id), interval=0.1)
    again.delete_now(background=False)
    assert again.step is Step.DELETED
    assert sandbox.count(method="DELETE") == 2


@pytest.mark.parametrize("fault", [
    {"status": 503, "retry_after": 20},  # a server asking for 20 s
    {"status": 429, "retry_after": 20},  # the throttle's pause
    {"status": 502},  # capped exponential back-off (a simulated slow clock: base 5 s)
])
def test_stop_ends_every_wait_within_a_second_and_sends_nothing_after(sandbox, fault):
    from modelarts_nb.gateway.retry import RetryPolicy

    pool_id = pool_01(sandbox)
    client = make_client(sandbox, retry=RetryPolicy(base=5.0, cap=8.0))
    flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.1)
    sandbox.fail_deletion(pool_id, None)
    flow.delete_now(background=True, wait=True)
    until(lambda: flow.step is Step.WATCHING)
    sandbox.inject(Fault(method="GET", pool=pool_id, times=50, **fault))
    time.sleep(0.5)  # the watch is now waiting out the fault
    stopped_at, wall = time.monotonic(), time.time()  # records carry wall-clock times
    flow.stop()
    flow.join(5)
    assert not flow.running and time.monotonic() - stopped_at < 1.0
    assert flow.step is Step.STOPPED and "continues on the server" in flow.message
    after = [r for r in sandbox.requests if r.time > wall + 0.05]
    assert after == [], after


@pytest.mark.parametrize("how", ["Stop", "kernel interrupt"])
def test_stopping_a_batch_watch_ends_its_back_off_within_a_second(sandbox, shell, how):
    """Stop, or Ctrl-C in any cell (the extension's post-run hook), ends a background batch's
    watch — even mid back-off after a Retry-After: 20 — and nothing more is sent."""
    from modelarts_nb.deletion.engine import Deletion
    from modelarts_nb.gateway.retry import RetryPolicy

    ids = [i for i in sandbox.pool_ids() if i.startswith("pool-0")][:3]
    for pool_id in ids:
        sandbox.fail_deletion(pool_id, None)
    client = make_client(sandbox, retry=RetryPolicy(base=5.0, cap=8.0))
    run = Deletion.for_names(client, ids, interval=0.1, concurrency=8)
    run.run(background=True)
    until(lambda: all(t.step is Step.WATCHING and t.last_poll for t in run.targets))
    sandbox.inject(Fault(method="GET", status=503, retry_after=20, times=100))
    time.sleep(0.5)
    stopped_at, wall = time.monotonic(), time.time()
    if how == "Stop":
        run.stop()
    else:
        assert isinstance(shell.run_cell("raise KeyboardInterrupt").error_in_exec,
                          KeyboardInterrupt)
    run.join(5)
    assert run.finished.is_set() and time.monotonic() - stopped_at < 1.0
    assert [t.step for t in run.targets] == [Step.STOPPED] * 3 and not our_threads()
    assert [r for r in sandbox.requests if r.time > wall + 0.05] == []
    assert sandbox.count(method="DELETE") == 3 and not client.cancel.is_set()


@pytest.mark.parametrize("how", ["Stop", "kernel interrupt"])
def test_stop_while_a_delete_waits_out_a_429_sends_nothing_more(sandbox, shell, how):
    """Stop (or Ctrl-C in another cell) while the confirmed DELETE waits out a 429 (which the
    gateway refused unprocessed): the wait ends within a second, the DELETE is never resent,
    and the flow says truthfully that nothing was deleted; the pool stays unclaimed.

    The client's clock is real time plus an offset the test moves on after the stop: the rerun
    comes after the Retry-After has passed, without the test waiting those 20 s out."""
    pool_id = pool_01(sandbox)
    later = {"by": 0.0}
    client = make_client(sandbox, clock=lambda: time.monotonic() + later["by"])
    flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.1)
    sandbox.inject(Fault(method="DELETE", status=429, retry_after=20))
    flow.delete_now(background=True, wait=True)
    until(lambda: sandbox.count(method="DELETE") == 1, what="the refused DELETE")
    time.sleep(0.2)
    assert flow.step is Step.SENDING and not flow.sent
    stopped_at = time.monotonic()
    if how == "Stop":
        flow.stop()
    else:
        shell.run_cell("raise KeyboardInterrupt")
    flow.join(5)
    assert time.monotonic() - stopped_at < 1.0 and not flow.running
    assert flow.step is Step.CANCELLED and flow.message == NOTHING_SENT
    assert sandbox.count(method="DELETE") == 1 and sandbox.accepted_deletes(pool_id) == 0
    later["by"] = 21.0  # the Retry-After: 20 has passed
    rerun = DeleteFlow(client, client.get_pool(pool_id), interval=0.1)
    rerun.delete_now(background=False)
    assert rerun.step is Step.DELETED and sandbox.accepted_deletes(pool_id) == 1


def test_stop_after_the_delete_left_says_it_continues(sandbox):
    """A DELETE on the wire when Stop comes completes on the server, and the flow says so."""
    pool_id = pool_01(sandbox)
    client = make_client(sandbox)
    flow = DeleteFlow(client, client.get_pool(pool_id), interval=0.1)
    sandbox.inject(Fault(method="DELETE", delay=0.8))  # processed, answered late
    flow.delete_now(background=True, wait=True)
    until(lambda: flow.sent, what="the DELETE on the wire")
    flow.stop()
    flow.join(5)
    assert sandbox.accepted_deletes(pool_id) == 1
    assert flow.step is Step.STOPPED and flow.message == WATCH_STOPPED


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_during_an_unattended_batch_sends_no_further_delete(
    shell, capsys, env_sandbox, workers
):
    """``%pools --delete --yes``: Ctrl-C while DELETEs are in flight lets those finish (they
    may already be accepted) and sends none of the others; the cell says which."""
    ids = sorted(i for i in env_sandbox.pool_ids() if i.startswith("pool-0"))
    assert len(ids) == 3
    env_sandbox.inject(Fault(method="DELETE", delay=1.5, times=10))

    def interrupt_once_deletes_are_in_flight() -> None:  # after the checks, whatever the load
        deadline = time.monotonic() + 20
        while env_sandbox.count(method="DELETE") < workers and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_once_deletes_are_in_flight, daemon=True)
    watcher.start()
    result = shell.run_cell(f"%pools --name 'pool-0*' --delete --yes --concurrency {workers}")
    watcher.join(5)
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert env_sandbox.count(method="DELETE") == workers, env_sandbox.requests
    assert f"Interrupted: {workers} DELETE(s) sent continue on the server (not watched); " \
           f"{3 - workers} pool(s) got no DELETE." in out, out
    time.sleep(0.3)
    assert env_sandbox.count(method="DELETE") == workers and not our_threads()
