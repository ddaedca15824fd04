"""The deletion engine on a simulated clock: no threads, no sleeping, no network.

A scripted API answers what a real server might (phases in order, lost answers, 401s); the
clock only moves when the engine sleeps. What is asserted is what a user would notice: the
verdict, the message, how many DELETEs went out, and when polling stopped.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from pathlib import Path

import pytest

from modelarts_nb import Deletion, Pool, Step, Target
from modelarts_nb.deletion import rules
from modelarts_nb.deletion.engine import NOTHING_SENT, WATCH_STOPPED
from modelarts_nb.deletion.flow import DeleteFlow
from modelarts_nb.deletion.steps import TRANSITIONS
from modelarts_nb.gateway import errors

RUNNING = json.loads((Path(__file__).parent / "fixtures" / "show_pool_running.json").read_text())
GONE = None  # a GET that answers 404


def pool(pool_id: str, phase: str = "Running", display: str | None = None) -> Pool:
    body = copy.deepcopy(RUNNING)
    body["metadata"]["name"] = pool_id
    body["metadata"]["labels"]["os.modelarts/name"] = display or pool_id.rsplit("-", 1)[0]
    body["status"]["phase"] = phase
    return Pool.from_api(body)


class Settings:
    endpoint = "https://modelarts.sim.example"
    project_id = "0123456789abcdef0123456789abcdef"


class ScriptedApi:
    """Answers GETs from a per-pool script of phases (the last one repeats); DELETEs per
    ``on_delete``. Every request is recorded with the simulated time it was made."""

    def __init__(self, clock: Clock, scripts: dict[str, list[str | None]]) -> None:
        self.clock = clock
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.settings = Settings()
        self.cancel = threading.Event()
        self.requests: list[tuple[float, str, str]] = []
        self.on_delete: dict[str, object] = {}  # pool id -> exception or "lost"

    def close(self) -> None:
        pass

    def cancelled_by(self, _event: threading.Event) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _phase(self, pool_id: str) -> str | None:
        script = self.scripts[pool_id]
        return script.pop(0) if len(script) > 1 else script[0]

    def get_pool(self, pool_id: str) -> Pool:
        self.requests.append((self.clock.now, "GET", pool_id))
        phase = self._phase(pool_id)
        if phase is None:
            raise errors.PoolNotFound(status=404, what=f"pool {pool_id} not found")
        return pool(pool_id, phase)

    def stop_event(self) -> None:
        return None

    # what a pool runs (read right before a planned DELETE): nothing, in these stories
    def workload_statistics(self, _pool_id: str) -> dict:
        return {}

    def list_workloads(self, _pool_id: str) -> list:
        return []

    def list_nodes(self, _pool_id: str) -> list:
        return []

    def list_pools(self, parent: str | None = None) -> list[Pool]:
        if parent is not None:
            return []  # sub-pools
        self.requests.append((self.clock.now, "LIST", ""))
        listed = [(i, self._phase(i)) for i in self.scripts]
        return [pool(i, phase) for i, phase in listed if phase is not None]

    def send_delete(self, pool_id: str, *, first: bool = True, on_wire=None,
                    on_answer=None) -> Pool | None:
        if on_wire is not None:
            on_wire(True)
        self.requests.append((self.clock.now, "DELETE", pool_id))
        effect = self.on_delete.get(pool_id)
        if isinstance(effect, Exception):
            raise effect
        return None if effect == "lost" else pool(pool_id, "Deleting")

    def count(self, method: str) -> int:
        return sum(r[1] == method for r in self.requests)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.stop_after: int | None = None  # report a Stop at this sleep

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if self.stop_after is not None and len(self.sleeps) >= self.stop_after:
            return True
        self.now += seconds
        return False


@pytest.fixture
def clock() -> Clock:
    return Clock()


_serial = iter(range(1, 10**6))


def ids(n: int) -> list[str]:
    """Fresh pool ids: the one-DELETE registry is process-wide, as it is in a kernel."""
    return [f"sim{i}-{i:032x}" for i in (next(_serial) for _ in range(n))]


def batch(api: ScriptedApi, clock: Clock, names: list[str], **kw) -> Deletion:
    return Deletion.for_names(api, names, clock=clock, sleep=clock.sleep, **kw)


def single(api: ScriptedApi, clock: Clock, pool_id: str, **kw) -> DeleteFlow:
    flow = DeleteFlow(api, api.get_pool(pool_id), **kw)  # type: ignore[arg-type]
    flow.clock, flow._sleep = clock, clock.sleep  # noqa: SLF001 - the simulated clock's seams
    return flow


# -- one verdict, whoever asks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "verdict"),
    [
        (["Running", "Running", "Deleting", "Abnormal", "Abnormal", GONE], Step.DELETED),
        (["Running", "Running", "Deleting", "Error"], Step.FAILED),
        (["Running", "Running", "Deleting"] + ["Abnormal"] * 400, Step.FAILED),
        (["Running", "Running", "Deleting", "Deleting", GONE], Step.DELETED),
    ],
    ids=["abnormal-then-gone", "error", "abnormal-for-good", "plain"],
)
def test_single_and_batch_give_the_same_verdict(clock, story, verdict):
    [a] = ids(1)
    one = ScriptedApi(clock, {a: story})
    flow = single(one, clock, a, interval=5)
    flow.delete_now(background=False)
    many = ScriptedApi(Clock(), {i: story[1:] for i in ids(3)})  # a LIST instead of 2 GETs
    run = batch(many, many.clock, list(many.scripts), interval=5, concurrency=1)
    run.run(background=False)
    assert flow.step is verdict
    assert [t.step for t in run.targets] == [verdict] * 3
    assert one.count("DELETE") == 1 and many.count("DELETE") == 3
    if story[-1] == "Abnormal":  # failed only once Abnormal lasted the grace period
        assert "now Abnormal" in flow.message
        first_abnormal = story.index("Abnormal")
        assert clock.now >= rules.ABNORMAL_GRACE + 5 * (first_abnormal - 2)


def test_abnormal_during_a_deletion_is_shown_while_waiting(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Abnormal", "Abnormal", GONE]})
    flow = single(api, clock, a, interval=5)
    seen: list[str] = []
    flow.subscribe(lambda f: seen.append(f.message))
    flow.delete_now(background=False)
    assert flow.step is Step.DELETED
    assert any("Abnormal during the deletion" in m for m in seen)


# -- cadence, timeout, Stop ---------------------------------------------------------------------


def test_adaptive_cadence_and_timeout_on_the_simulated_clock(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Deleting"]})
    flow = single(api, clock, a, timeout=300)
    flow.delete_now(background=False)
    assert flow.step is Step.FAILED and "still exists after 300 s" in flow.message
    assert clock.sleeps[:3] == [2.0, 2.0, 2.0] and max(clock.sleeps) <= 60
    assert clock.now == 300  # the last sleep is cut to end exactly at the timeout
    gets = api.count("GET") - 2  # the review read and the read just before the DELETE
    assert gets <= 45, gets  # ~10 % of the elapsed time between polls, not every 2 s
    assert rules.refusal(flow.pool) is None


def test_stop_ends_the_watch_and_nothing_more_is_sent(clock):
    pools = ids(3)
    api = ScriptedApi(clock, {i: ["Running", "Deleting"] for i in pools})
    clock.stop_after = 2
    run = batch(api, clock, pools, interval=5, concurrency=1)
    run.run(background=False)
    assert [t.step for t in run.targets] == [Step.STOPPED] * 3
    assert all(t.message == WATCH_STOPPED for t in run.targets)
    assert api.count("DELETE") == 3
    assert not [r for r in api.requests if r[0] > clock.now]


# -- the one-DELETE registry ---------------------------------------------------------------------


def test_a_panel_and_a_batch_send_one_delete_for_a_pool(clock):
    a, b = ids(2)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Deleting", GONE], b: ["Running",
                                                                            "Deleting", GONE]})
    flow = single(api, clock, a, interval=5)
    flow.delete_now(wait=False, background=False)  # the panel's DELETE: accepted, not watched
    run = batch(api, clock, [a, b], interval=5, concurrency=1)
    run.run(background=False)
    assert api.count("DELETE") == 2  # one for a (the panel's), one for b
    by_id = {t.pool.id: t for t in run.targets if t.pool}
    assert by_id[a].step is Step.DELETED and by_id[b].step is Step.DELETED
    assert not by_id[a].sent and by_id[b].sent


def test_a_name_given_twice_is_deleted_once(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Deleting", GONE]})
    run = batch(api, clock, [a, a.split("-")[0], a], interval=5, concurrency=4)
    run.run(background=False)
    assert len(run.targets) == 1 and run.targets[0].step is Step.DELETED
    assert api.count("DELETE") == 1 and api.count("LIST") == 1


def test_an_id_that_is_gone_never_becomes_a_pool_displaying_it(clock):
    [a] = ids(1)
    gone = "sim9-" + "9" * 32
    api = ScriptedApi(clock, {a: ["Running"]})
    api.list_pools = lambda: [pool(a, "Running", display=gone)]  # type: ignore[method-assign]
    run = batch(api, clock, [gone], interval=5, concurrency=1)
    run.run(background=False)
    [target] = run.targets
    assert target.step is Step.FAILED and f"no pool has the id '{gone}'" in target.message
    assert a in target.message and api.count("DELETE") == 0


def test_interrupt_before_the_delete_leaves_no_claim_and_a_rerun_deletes(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Running", "Deleting", GONE]})
    flow = single(api, clock, a, interval=5)
    real_get = api.get_pool

    def interrupted(pool_id: str) -> Pool:
        api.get_pool = real_get  # type: ignore[method-assign]
        raise KeyboardInterrupt

    api.get_pool = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        flow.delete_now(background=False)
    assert flow.step is Step.CANCELLED and flow.message == NOTHING_SENT
    rerun = single(api, clock, a, interval=5)
    rerun.delete_now(background=False)
    assert rerun.step is Step.DELETED and api.count("DELETE") == 1


def test_a_failed_delete_releases_the_pool_for_a_rerun(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running"] * 4 + ["Deleting", GONE]})
    api.on_delete[a] = errors.ServerError(status=500, what="deleting failed")
    flow = single(api, clock, a, interval=5)
    flow.delete_now(background=False)
    assert flow.step is Step.FAILED
    del api.on_delete[a]
    rerun = single(api, clock, a, interval=5)
    rerun.delete_now(background=False)
    assert rerun.step is Step.DELETED and api.count("DELETE") == 2


def test_a_lost_answer_is_read_back_before_at_most_one_more_delete(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Running", "Running", "Running"]})
    api.on_delete[a] = "lost"
    flow = single(api, clock, a, interval=5)
    flow.delete_now(background=False)
    methods = [r[1] for r in api.requests]
    assert methods == ["GET", "GET", "DELETE", "GET", "DELETE", "GET"]
    assert flow.step is Step.FAILED and "were lost" in flow.message


def test_a_401_ends_the_batch_and_nothing_more_is_sent(clock):
    pools = ids(5)
    api = ScriptedApi(clock, {i: ["Running"] for i in pools})
    api.on_delete[pools[1]] = errors.AuthenticationError(status=401, what="refused")
    run = batch(api, clock, pools, interval=5, concurrency=1)
    run.run(background=False)
    steps = [t.step for t in run.targets]
    assert steps[1] is Step.FAILED and steps[2:] == [Step.CANCELLED] * 3
    assert api.count("DELETE") == 2
    assert all("after a 401" in t.message for t in run.targets[2:])


def test_a_view_that_raises_is_told_to_the_user_and_the_deletion_goes_on(clock, capsys):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running", "Running", "Deleting", GONE]})
    flow = single(api, clock, a, interval=5)

    def broken_view(_flow: Deletion) -> None:
        raise TypeError("a bug in a view")

    flow.subscribe(broken_view)
    flow.delete_now(background=False)
    assert flow.step is Step.DELETED
    assert "a view of this deletion failed (TypeError)" in flow.summary()
    assert capsys.readouterr().err.count("a view of this deletion failed") == 1


def test_refused_pools_get_no_delete_in_either_path(clock):
    [a] = ids(1)
    api = ScriptedApi(clock, {a: ["Running"]})
    prepaid = copy.deepcopy(RUNNING)
    prepaid["metadata"]["name"] = a
    prepaid["metadata"]["annotations"]["os.modelarts/billing.mode"] = "1.0"
    api.get_pool = lambda _id: Pool.from_api(prepaid)  # type: ignore[method-assign]
    api.list_pools = lambda: [Pool.from_api(prepaid)]  # type: ignore[method-assign]
    flow = single(api, clock, a)
    flow.delete_now(background=False)
    run = batch(api, clock, [a], interval=5)
    run.run(background=False)
    assert flow.step is Step.REFUSED and run.targets[0].step is Step.REFUSED
    assert api.count("DELETE") == 0 and "cannot tell whether" in run.targets[0].message


# -- the steps table ------------------------------------------------------------------------------


def test_steps_table_is_whole_and_consistent():
    assert set(TRANSITIONS) == set(Step)
    for step in Step:
        assert not (step.busy and step.final), step
        assert step.busy or step.final or step.confirmable, step  # every step is one of them
    # only a confirmation sends: nothing but REVIEW leads to SENDING
    assert [s for s in Step if s.may_become(Step.SENDING)] == [Step.REVIEW]
    assert not TRANSITIONS[Step.REFUSED]  # a refused pool stays refused
    assert TRANSITIONS[Step.DELETED] == {Step.DELETED}
    # a busy step can always end: gone, failed or stopped
    assert all({Step.DELETED, Step.FAILED, Step.STOPPED} <= TRANSITIONS[s]
               for s in Step if s.busy)
    assert not Step.DELETED.may_become(Step.SENDING)  # nothing deletes a pool twice
    assert [s for s in Step if s.confirmable] == [Step.REVIEW]


def test_targets_report_what_views_show():
    target = Target("x")
    assert target.label == "x" and target.phase == "unknown" and target.step is Step.REVIEW
