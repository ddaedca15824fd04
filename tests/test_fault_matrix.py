"""The fault matrix: every operation × every fault, over real HTTP against the sandbox.

Each cell asserts what a user needs — recovered (and in how many attempts) or one clear error
with its code and request id; the pool's true state; never more than one accepted DELETE; and never
a DELETE resent after a lost answer without a GET in between. The run writes a summary table to
``test-artifacts/fault-matrix.md`` and prints it at the end of the session.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import make_client

from modelarts_nb import (
    ApiError,
    AuthenticationError,
    ModelArtsError,
    PermissionDenied,
    RetryPolicy,
    ServerError,
)
from modelarts_nb.sandbox import Fault

OPS = ("show", "watch", "list", "delete")
FAULTS: dict[str, dict | None] = {
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "504": {"status": 504},
    "429 + Retry-After": {"status": 429, "retry_after": 0.05},
    "429": {"status": 429},
    "read timeout": {"delay": 0.6},
    "connect refused": None,
    "dropped after send": {"drop": "after"},
    "malformed JSON": {"malformed": True},
    "HTML proxy page": {"html": True},
    "401 APIGW.0301": {"status": 401},
    "403 ModelArts.0210": {"status": 403},
    "clock skew": None,
}
ERRORS = {
    "500": (ServerError, "ModelArts.50005000"),
    "401 APIGW.0301": (AuthenticationError, "APIGW.0301"),
    "403 ModelArts.0210": (PermissionDenied, "ModelArts.0210"),
    "clock skew": (AuthenticationError, "APIGW.0301"),
}
RESULTS: list[dict[str, str]] = []


@dataclass
class Cell:
    op: str
    fault: str
    sleeps: list[float]


class RefuseFirst(httpx.HTTPTransport):
    """Real HTTP, except the first request of ``method`` fails to connect (nothing sent)."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.method and not self.refused:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return super().handle_request(request)


@pytest.fixture
def sb(sandboxes):
    return sandboxes(pools=1, delete_seconds=0.4)


def pool_of(sb) -> str:
    return sb.display_names()["pool-01"][0]


def inject(sb, cell: Cell, pool_id: str) -> None:
    spec = FAULTS[cell.fault]
    if cell.fault == "clock skew":
        sb.clock_offset = -20 * 60
        return
    if spec is None:
        return
    method = "DELETE" if cell.op == "delete" else "GET"
    target = {"list_only": True} if cell.op == "list" else {"pool": pool_id}
    sb.inject(Fault(method=method, **target, **spec))


def act(sb, cell: Cell, pool_id: str):
    """Run the operation under test; returns what it returned, or raises a ModelArtsError."""
    transport = None
    if cell.fault == "connect refused":
        transport = RefuseFirst("DELETE" if cell.op == "delete" else "GET")
    retry = RetryPolicy(base=0.01, cap=0.05)

    def sleep(seconds: float) -> None:  # really wait, and remember how long
        cell.sleeps.append(seconds)
        time.sleep(seconds)

    with make_client(
        sb, timeout=httpx.Timeout(0.3), retry=retry, transport=transport, sleep=sleep
    ) as client:
        if cell.op == "show":
            return client.get_pool(pool_id)
        if cell.op == "list":
            return client.list_pools()
        if cell.op == "delete":
            return client.delete_pool(pool_id)
        client.delete_pool(pool_id)  # watch: the fault hits the GETs after a clean DELETE
        sb.clear_requests()
        if cell.fault != "connect refused":
            inject(sb, cell, pool_id)
        elif transport is not None:
            transport.refused = 0
        return client.wait_until_deleted(
            pool_id, timeout=10, interval=0.05, sleep=threading.Event().wait
        )


def op_attempts(sb, cell: Cell) -> int:
    method = "DELETE" if cell.op == "delete" else "GET"
    return sb.count(method=method)


def assert_delete_discipline(sb, pool_id: str) -> None:
    """At most one accepted DELETE; a DELETE follows a DELETE only after an explicit 429."""
    records = [r for r in sb.requests if r.pool == pool_id]
    assert sb.accepted_deletes(pool_id) <= 1
    for prev, nxt in zip(records, records[1:]):
        if prev.method == nxt.method == "DELETE":
            assert prev.status == 429, "DELETE resent without a GET after a lost answer"


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("op", OPS)
def test_fault_cell(sb, op, fault):
    cell = Cell(op, fault, [])
    pool_id = pool_of(sb)
    if op != "watch":
        inject(sb, cell, pool_id)
    expected_error = ERRORS.get(fault)
    try:
        act(sb, cell, pool_id)
    except ModelArtsError as exc:
        outcome = _check_error(sb, cell, exc, expected_error)
    else:
        assert expected_error is None, f"{op}/{fault} should have failed"
        outcome = _check_recovered(sb, cell, pool_id)
    assert_delete_discipline(sb, pool_id)
    sb.clock_offset = 0
    truth = _true_state(sb, pool_id)
    RESULTS.append(
        {
            "op": op,
            "fault": fault,
            "outcome": outcome,
            "attempts": str(op_attempts(sb, cell)),
            "accepted DELETEs": str(sb.accepted_deletes(pool_id)),
            "pool now": truth,
        }
    )


def _check_error(sb, cell: Cell, exc: ModelArtsError, expected) -> str:
    assert expected is not None, f"{cell.op}/{cell.fault} failed unexpectedly: {exc}"
    cls, code = expected
    assert isinstance(exc, cls) and isinstance(exc, ApiError)
    text = str(exc)
    assert code in text and "\n" not in text
    assert exc.request_id and exc.request_id in text
    if cell.fault == "clock skew":
        assert "your clock is 20 minutes ahead" in text
    assert op_attempts(sb, cell) <= 1  # errors are final: never retried
    if cell.op == "delete":
        assert sb.accepted_deletes(pool_of(sb)) == 0
    return f"error {type(exc).__name__} {code}"


def _check_recovered(sb, cell: Cell, pool_id: str) -> str:
    if cell.fault == "429 + Retry-After":
        assert any(0.03 < s <= 0.05 for s in cell.sleeps), "Retry-After was not honoured"
    if cell.op in ("delete", "watch"):
        assert sb.accepted_deletes(pool_id) == 1
    if cell.op == "watch":
        assert sb.pool_json(pool_id) is None  # it really is gone
    return "recovered"


def _true_state(sb, pool_id: str) -> str:
    body = sb.pool_json(pool_id)
    return "gone" if body is None else body["status"]["phase"]


def test_watch_reports_error_at_once_and_lasting_abnormal_after_its_grace(
        sb, monkeypatch, sandboxes):
    """Error fails at once. Abnormal during a deletion may pass (Deleting → Abnormal → gone is
    seen), so it fails only once it has lasted ``ABNORMAL_GRACE`` (shortened here to 0.5 s)."""
    monkeypatch.setattr("modelarts_nb.deletion.rules.ABNORMAL_GRACE", 0.5)
    for phase in ("Error", "Abnormal"):
        box = sandboxes(pools=1, delete_seconds=0.2)
        pool_id = pool_of(box)
        box.fail_deletion(pool_id, phase=phase, message=f"{phase.lower()} while deleting")
        with make_client(box) as client:
            client.delete_pool(pool_id)
            started = time.monotonic()
            with pytest.raises(ModelArtsError, match=f"now {phase}") as info:
                client.wait_until_deleted(pool_id, timeout=60, interval=0.05)
            waited = time.monotonic() - started
        assert info.value.last.phase == phase
        assert (waited >= 0.5) == (phase == "Abnormal"), waited
        gets = box.count(method="GET")
        assert gets < 40, "it must not wait out the timeout"
        RESULTS.append(
            {
                "op": "watch",
                "fault": f"phase {phase} after DELETE",
                "outcome": "error DeletionFailed",
                "attempts": str(gets),
                "accepted DELETEs": "1",
                "pool now": phase,
            }
        )


def write_summary() -> str:
    if not RESULTS:
        return ""
    columns = ["op", "fault", "outcome", "attempts", "accepted DELETEs", "pool now"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in RESULTS]
    held = len(RESULTS)
    text = f"Fault matrix: {held} cells held.\n\n" + "\n".join(lines) + "\n"
    out = Path(__file__).resolve().parent.parent / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "fault-matrix.md").write_text(text)
    return text
