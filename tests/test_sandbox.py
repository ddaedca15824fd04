"""The sandbox over real loopback HTTP: endpoints, gateway auth, deletion clock, faults, CLI.

No mocks: every test talks HTTP to a server on 127.0.0.1 through httpx and the package's own
``AkSkAuth``/``TokenAuth``. A sandbox that cannot start makes the tests error, never skip.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelarts_nb.gateway.auth import AkSkAuth, TokenAuth
from modelarts_nb.sandbox import (
    DEFAULT_AK,
    DEFAULT_PROJECT_ID,
    DEFAULT_SK,
    DEFAULT_TOKEN,
    AdminClient,
    AdminError,
    Fault,
    RequestRecord,
    Sandbox,
    start,
)

ROOT = Path(__file__).resolve().parents[1]
ID_RE = re.compile(r"[a-z][a-z0-9-]{34,61}[a-z0-9]")
HEX32 = re.compile(r"[0-9a-f]{32}")
WRONG_SK = "X" * 40

Http = Callable[..., httpx.Client]


@pytest.fixture
def sb(sandboxes) -> Sandbox:
    return sandboxes(delete_seconds=30)


@pytest.fixture
def fast(sandboxes) -> Sandbox:
    """Deletions take 0.6 s, for the Running -> Deleting -> 404 walk."""
    return sandboxes(delete_seconds=0.6, pools=1)


@pytest.fixture
def http() -> Iterator[Http]:
    """A factory of httpx clients (AK/SK by default, ``token=`` for IAM tokens), closed after."""
    made: list[httpx.Client] = []

    def make(
        sandbox: Sandbox,
        *,
        sk: str | None = None,
        ak: str | None = None,
        token: str | None = None,
        security_token: str | None = None,
        timeout: float = 5.0,
    ) -> httpx.Client:
        auth: httpx.Auth
        if token is not None:
            auth = TokenAuth(token)
        else:
            auth = AkSkAuth(
                ak or sandbox.ak,
                sk or sandbox.sk,
                project_id=sandbox.project_id,
                security_token=security_token or sandbox.security_token,
            )
        client = httpx.Client(auth=auth, timeout=timeout, trust_env=False)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def pools_url(sandbox: Sandbox, query: str = "") -> str:
    url = f"{sandbox.endpoint}/v2/{sandbox.project_id}/pools"
    return f"{url}?{query}" if query else url


def pool_url(sandbox: Sandbox, pool_id: str) -> str:
    return f"{pools_url(sandbox)}/{pool_id}"


def pid(sandbox: Sandbox, display: str) -> str:
    return sandbox.display_names()[display][0]


def names(response: httpx.Response) -> set[str]:
    return {item["metadata"]["labels"]["os.modelarts/name"] for item in response.json()["items"]}


def assert_gateway_headers(response: httpx.Response) -> None:
    assert HEX32.fullmatch(response.headers["x-request-id"])
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.headers["content-type"] == "application/json"
    parsedate_to_datetime(response.headers["date"])


# -- defaults and seeding ------------------------------------------------------------------------
def test_default_credentials_are_realistically_shaped() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", DEFAULT_PROJECT_ID)
    assert re.fullmatch(r"[A-Z0-9]{20}", DEFAULT_AK)
    assert re.fullmatch(r"[A-Za-z0-9]{40}", DEFAULT_SK)
    assert len(DEFAULT_TOKEN) > 100


def test_seeded_pools_cover_every_situation(sb: Sandbox) -> None:
    shown = {name: ids for name, ids in sb.display_names().items()
             if not name.startswith("research-")}  # another workspace: tests/test_sandbox_tags
    expected = {
        "train-gpu",
        "infer-cpu",
        "prepaid-pool",
        "frozen-pool",
        "team-shared",
        "creating-pool",
        "failed-pool",
        "leaving-pool",
        "pool-01",
        "pool-02",
        "pool-03",
    }
    assert set(shown) == expected
    assert len(shown["team-shared"]) == 2 and len(set(shown["team-shared"])) == 2
    assert set(sb.pool_ids()) == {i for ids in shown.values() for i in ids}  # workspace "0"
    for pool_id in sb.pool_ids(workspace=None):
        assert ID_RE.fullmatch(pool_id)
        body = sb.pool_json(pool_id)
        assert body is not None
        assert body["metadata"]["labels"]["os.modelarts/tenant.project.id"] == sb.project_id
        assert body["metadata"]["creationTimestamp"].startswith("2026-")
    train = sb.pool_json(pid(sb, "train-gpu"))
    assert train is not None and len(train["spec"]["resources"]) == 3
    assert train["status"]["resources"]["abnormal"][0]["count"] == 1
    assert {az["az"] for r in train["spec"]["resources"] for az in r["azs"]} == {
        "cn-north-4a",
        "cn-north-4b",
        "cn-north-4c",
    }
    infer = sb.pool_json(pid(sb, "infer-cpu"))
    assert infer is not None and isinstance(infer["status"]["resources"]["available"], dict)
    prepaid = sb.pool_json(pid(sb, "prepaid-pool"))
    assert prepaid is not None
    assert prepaid["metadata"]["annotations"]["os.modelarts/billing.mode"] == "1"
    frozen = sb.pool_json(pid(sb, "frozen-pool"))
    assert frozen is not None and frozen["spec"]["controlMode"] == 8
    phases = {name: (sb.pool_json(ids[0]) or {})["status"]["phase"] for name, ids in shown.items()}
    assert phases["creating-pool"] == "Creating" and phases["failed-pool"] == "CreationFailed"
    assert phases["leaving-pool"] == "Deleting"
    student = sb.pool_json(pid(sb, "pool-02"))
    assert student is not None  # tags, not labels: real pools' labels are system keys only
    assert all(key.startswith("os.modelarts/") for key in student["metadata"]["labels"])
    assert sb.pool_tags(pid(sb, "pool-02")) == {"course": "ml101", "student": "s02"}


def test_seeding_is_deterministic_per_seed(sandboxes) -> None:
    one, two, other = sandboxes(seed=7), sandboxes(seed=7), sandboxes(seed=8)
    assert one.pool_ids(None) == two.pool_ids(None)
    for pool_id in one.pool_ids(None):  # byte-identical, tags and workspaces included
        if not pool_id.startswith("leaving-pool"):  # its deletion clock starts at start()
            assert json.dumps(one.pool_json(pool_id)) == json.dumps(two.pool_json(pool_id))
        assert one.pool_tags(pool_id) == two.pool_tags(pool_id)
    assert one.workspaces() == two.workspaces() != other.workspaces()
    assert set(one.pool_ids(None)).isdisjoint(other.pool_ids(None))


# -- endpoints -----------------------------------------------------------------------------------
def test_show_pool(sb: Sandbox, http: Http) -> None:
    pool_id = pid(sb, "train-gpu")
    response = http(sb).get(pool_url(sb, pool_id))
    assert response.status_code == 200
    assert_gateway_headers(response)
    body = response.json()
    assert (body["apiVersion"], body["kind"]) == ("v2", "Pool")
    assert body["metadata"]["name"] == pool_id and body["status"]["phase"] == "Running"
    assert sb.requests[-1].auth == "aksk" and sb.requests[-1].pool == pool_id


def test_list_pools(sb: Sandbox, http: Http) -> None:
    response = http(sb).get(pools_url(sb))
    assert response.status_code == 200
    assert_gateway_headers(response)
    body = response.json()
    assert (body["apiVersion"], body["kind"]) == ("v2", "PoolList")
    assert [item["metadata"]["name"] for item in body["items"]] == sb.pool_ids()
    assert sb.requests[-1].pool is None


def test_missing_pool_and_unknown_api(sb: Sandbox, http: Http) -> None:
    client = http(sb)
    missing = client.get(pool_url(sb, "nope-" + "0" * 32))
    assert missing.status_code == 404
    assert missing.json() == {"error_code": "ModelArts.50015001", "error_msg": "pool not found"}
    for response in (
        client.get(f"{sb.endpoint}/v1/{sb.project_id}/pools"),
        client.put(pool_url(sb, pid(sb, "pool-01"))),
    ):
        assert response.status_code == 404
        assert response.json()["error_code"] == "APIG.0101"
        assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("labelSelector=os.modelarts%2Fname%3Dpool-02", {"pool-02"}),
        ("labelSelector=os.modelarts%2Fname%3D%3Dpool-02%2Cos.modelarts%2Fregion%3Dcn-north-4",
         {"pool-02"}),
        ("labelSelector=os.modelarts%2Fname%2Cos.modelarts%2Fname%21%3Dpool-02", {
            "pool-01", "pool-03", "train-gpu", "infer-cpu", "prepaid-pool", "frozen-pool",
            "team-shared", "creating-pool", "failed-pool", "leaving-pool"}),
        ("labelSelector=course%3Dml101", set()),  # a tag is no label
        ("labelSelector=os.modelarts%2Fname%3Dteam-shared", {"team-shared"}),
        ("status=failed", {"failed-pool"}),
        ("status=creating", {"creating-pool"}),
        ("status=created&labelSelector=os.modelarts%2Fname%3Dpool-01", {"pool-01"}),
        ("workspaceId=1", set()),
    ],
)
def test_list_filters(sb: Sandbox, http: Http, query: str, expected: set[str]) -> None:
    response = http(sb).get(pools_url(sb, query))
    assert response.status_code == 200
    assert names(response) == expected


def test_list_status_created_and_negated_label(sb: Sandbox, http: Http) -> None:
    client = http(sb)
    created = names(client.get(pools_url(sb, "status=created")))
    assert "failed-pool" not in created and "creating-pool" not in created
    assert {"train-gpu", "leaving-pool", "team-shared"} <= created
    assert "pool-01" in names(client.get(pools_url(sb, "labelSelector=%21course")))
    assert names(client.get(pools_url(sb, "labelSelector=%21os.modelarts%2Fname"))) == set()


@pytest.mark.parametrize(
    "query", ["status=running", "labelSelector=a%20in%20%28b%29", "labelSelector=%3Dx"]
)
def test_list_bad_request(sb: Sandbox, http: Http, query: str) -> None:
    response = http(sb).get(pools_url(sb, query))
    assert response.status_code == 400
    assert response.json() == {"error_code": "ModelArts.50004000", "error_msg": "Bad request."}


# -- deletion ------------------------------------------------------------------------------------
def test_delete_walks_running_deleting_gone(fast: Sandbox, http: Http) -> None:
    client, pool_id = http(fast), pid(fast, "train-gpu")
    answer = client.delete(pool_url(fast, pool_id))
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"]["phase"] == "Deleting" and body["metadata"]["deletionTimestamp"]
    assert sum(r["count"] for r in body["status"]["resources"]["deleting"]) == 9
    again = client.delete(pool_url(fast, pool_id))  # repeated while Deleting: 200, not counted
    assert again.status_code == 200 and again.json()["status"]["phase"] == "Deleting"
    assert fast.accepted_deletes(pool_id) == 1
    seen, counts, deadline = [], [], time.monotonic() + 5
    while time.monotonic() < deadline:
        response = client.get(pool_url(fast, pool_id))
        if response.status_code == 404:
            break
        seen.append(response.json()["status"]["phase"])
        counts.append(sum(r["count"] for r in response.json()["status"]["resources"]["deleting"]))
        time.sleep(0.05)
    assert response.status_code == 404
    assert set(seen) == {"Deleting"} and counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1] >= 1
    assert pool_id not in fast.pool_ids() and fast.pool_json(pool_id) is None
    assert fast.count(method="DELETE", pool=pool_id) == 2


def test_delete_keeps_object_form(sb: Sandbox, http: Http) -> None:
    response = http(sb).delete(pool_url(sb, pid(sb, "infer-cpu")))
    resources = response.json()["status"]["resources"]
    assert resources == {"deleting": resources["deleting"]}
    assert isinstance(resources["deleting"], dict) and resources["deleting"]["count"] == 2


def test_leaving_pool_disappears_after_delete_seconds(fast: Sandbox, http: Http) -> None:
    leaving = pid(fast, "leaving-pool")
    assert http(fast).get(pool_url(fast, leaving)).json()["metadata"]["deletionTimestamp"]
    time.sleep(0.7)
    assert http(fast).get(pool_url(fast, leaving)).status_code == 404


def test_fail_deletion_parks_the_pool_in_error(fast: Sandbox, http: Http) -> None:
    pool_id = pid(fast, "pool-01")
    fast.fail_deletion(pool_id, phase="Error", message="node drain failed")
    assert http(fast).delete(pool_url(fast, pool_id)).status_code == 200
    time.sleep(0.7)
    body = http(fast).get(pool_url(fast, pool_id)).json()
    assert body["status"]["phase"] == "Error" and body["status"]["message"] == "node drain failed"


@pytest.mark.parametrize(
    ("display", "status", "code"),
    [
        ("prepaid-pool", 400, "ModelArts.50015010"),
        ("frozen-pool", 403, "ModelArts.4116"),
        ("nowhere", 404, "ModelArts.50015001"),
    ],
)
def test_delete_refusals(sb: Sandbox, http: Http, display: str, status: int, code: str) -> None:
    pool_id = pid(sb, display) if display != "nowhere" else "nowhere-" + "0" * 32
    response = http(sb).delete(pool_url(sb, pool_id))
    assert response.status_code == status and response.json()["error_code"] == code
    assert sb.accepted_deletes(pool_id) == 0
    if display != "nowhere":
        assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Running"


# -- authentication ------------------------------------------------------------------------------
def test_wrong_sk_is_401_and_changes_nothing(sb: Sandbox, http: Http) -> None:
    pool_id = pid(sb, "pool-01")
    response = http(sb, sk=WRONG_SK).delete(pool_url(sb, pool_id))
    assert response.status_code == 401
    assert response.json()["error_code"] == "APIGW.0301"
    assert response.json()["error_msg"].endswith("verify aksk signature fail")
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert sb.ak not in response.text
    assert sb.accepted_deletes(pool_id) == 0
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Running"
    assert http(sb, ak="UNKNOWNAK00000000000").get(pools_url(sb)).status_code == 401


def test_tampered_request_is_refused(sb: Sandbox) -> None:
    request = httpx.Request("GET", pool_url(sb, pid(sb, "pool-01")))
    AkSkAuth(sb.ak, sb.sk, project_id=sb.project_id).sign(request)
    other = httpx.Request("GET", pool_url(sb, pid(sb, "pool-02")), headers=request.headers)
    with httpx.Client(trust_env=False) as client:
        assert client.send(request).status_code == 200
        assert client.send(other).status_code == 401


@pytest.mark.parametrize("offset", [20 * 60, -20 * 60])
def test_client_clock_skew_is_signature_expired(sb: Sandbox, http: Http, offset: int) -> None:
    sb.clock_offset = offset
    response = http(sb).get(pools_url(sb))
    assert response.status_code == 401
    assert response.json()["error_msg"].endswith("calc ak sk signature fail: signature expired")
    served = parsedate_to_datetime(response.headers["date"]).timestamp()
    assert abs(served - (time.time() + offset)) < 5
    sb.clock_offset = 10 * 60  # within the 15 minutes tolerance
    assert http(sb).get(pools_url(sb)).status_code == 200


def test_lockout_after_six_failures(sb: Sandbox, http: Http) -> None:
    bad = http(sb, sk=WRONG_SK)
    for _ in range(6):
        assert "verify aksk signature fail" in bad.get(pools_url(sb)).json()["error_msg"]
    locked = http(sb).get(pools_url(sb))  # correct signature, but the AK is now locked
    assert locked.status_code == 401 and "locked for 5 minutes" in locked.json()["error_msg"]
    assert http(sb, token=sb.token).get(pools_url(sb)).status_code == 200
    sb.reset()
    assert http(sb).get(pools_url(sb)).status_code == 200


def test_success_resets_the_failure_count(sb: Sandbox, http: Http) -> None:
    for _ in range(5):
        assert http(sb, sk=WRONG_SK).get(pools_url(sb)).status_code == 401
    assert http(sb).get(pools_url(sb)).status_code == 200
    for _ in range(5):
        assert http(sb, sk=WRONG_SK).get(pools_url(sb)).status_code == 401
    assert http(sb).get(pools_url(sb)).status_code == 200


def test_token_auth(sb: Sandbox, http: Http) -> None:
    assert http(sb, token=sb.token).get(pools_url(sb)).status_code == 200
    assert sb.requests[-1].auth == "token"
    bad = http(sb, token="MIInot-the-token").get(pools_url(sb))
    assert bad.status_code == 401 and bad.json()["error_msg"].endswith("decrypt token fail")
    with httpx.Client(trust_env=False) as anonymous:
        none = anonymous.get(pools_url(sb))
    assert none.status_code == 401
    assert none.json()["error_msg"].endswith("Authorization not found")
    assert sb.requests[-1].auth is None


def test_project_mismatch_is_403(sb: Sandbox, http: Http) -> None:
    other = "f" * 32
    response = http(sb, token=sb.token).get(f"{sb.endpoint}/v2/{other}/pools")
    assert response.status_code == 403
    assert response.json() == {
        "error_code": "ModelArts.0210",
        "error_msg": "project id in URL does not match token",
    }
    header = http(sb, token=sb.token).get(pools_url(sb), headers={"X-Project-Id": other})
    assert header.status_code == 403


def test_security_token_required_when_configured(http: Http, sandboxes) -> None:
    sandbox = sandboxes(security_token="SANDBOX-FAKE-SECURITY-TOKEN")
    assert http(sandbox).get(pools_url(sandbox)).status_code == 200
    assert sandbox.requests[-1].headers["x-security-token"] == "***"
    plain = httpx.Client(
        auth=AkSkAuth(sandbox.ak, sandbox.sk, project_id=sandbox.project_id), trust_env=False
    )
    with plain:
        assert plain.get(pools_url(sandbox)).status_code == 401
    assert http(sandbox, security_token="wrong").get(pools_url(sandbox)).status_code == 401


# -- faults --------------------------------------------------------------------------------------
def test_status_fault_with_retry_after_precedes_auth(sb: Sandbox, http: Http) -> None:
    sb.inject(Fault(method="GET", status=429, retry_after=2, times=2))
    for client in (http(sb, sk=WRONG_SK), http(sb)):  # the gateway answers before checking auth
        response = client.get(pools_url(sb))
        assert response.status_code == 429 and response.headers["retry-after"] == "2"
        assert_gateway_headers(response)
        assert response.json()["error_code"] == "APIG.0308"
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert http(sb).get(pools_url(sb)).status_code == 200
    assert [r.fault for r in sb.requests] == ["status:429", "status:429", None]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "ModelArts.50005000"),
        (502, "APIG.0202"),
        (503, "APIG.0202"),
        (504, "APIG.0203"),
        (401, "APIGW.0301"),
        (403, "ModelArts.0210"),
    ],
)
def test_status_fault_default_bodies(sb: Sandbox, http: Http, status: int, code: str) -> None:
    sb.inject(Fault(status=status))
    response = http(sb).get(pools_url(sb))
    assert response.status_code == status and response.json()["error_code"] == code


def test_fault_matching_and_custom_body(sb: Sandbox, http: Http) -> None:
    target, other = pid(sb, "pool-01"), pid(sb, "pool-02")
    sb.inject(
        Fault(
            pool=target,
            status=500,
            body={"error_code": "X.1", "error_msg": "boom"},
            headers={"X-Extra": "yes"},
        )
    )
    sb.inject(Fault(list_only=True, status=503))
    client = http(sb)
    assert client.get(pool_url(sb, other)).status_code == 200
    faulted = client.get(pool_url(sb, target))
    assert faulted.json() == {"error_code": "X.1", "error_msg": "boom"}
    assert faulted.headers["x-extra"] == "yes"
    assert client.get(pool_url(sb, target)).status_code == 200
    assert client.get(pools_url(sb)).status_code == 503
    assert client.get(pools_url(sb)).status_code == 200


def test_malformed_and_html_faults(sb: Sandbox, http: Http) -> None:
    sb.inject(Fault(malformed=True))
    sb.inject(Fault(html=True))
    client = http(sb)
    malformed = client.get(pool_url(sb, pid(sb, "pool-01")))
    assert malformed.status_code == 200 and malformed.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    html = client.get(pools_url(sb))
    assert html.status_code == 502 and html.headers["content-type"] == "text/html"
    assert "<html>" in html.text and HEX32.fullmatch(html.headers["x-request-id"])
    assert [r.fault for r in sb.requests] == ["malformed", "html:502"]


def test_delay_fault_times_out_client_but_request_is_processed(sb: Sandbox, http: Http) -> None:
    pool_id = pid(sb, "pool-01")
    sb.inject(Fault(method="DELETE", delay=0.6))
    with pytest.raises(httpx.ReadTimeout):
        http(sb, timeout=0.2).delete(pool_url(sb, pool_id))
    assert sb.accepted_deletes(pool_id) == 1
    assert sb.requests[-1].fault == "delay:0.6" and sb.requests[-1].status == 200


def test_drop_before_loses_the_request(sb: Sandbox, http: Http) -> None:
    pool_id = pid(sb, "pool-01")
    sb.inject(Fault(method="DELETE", drop="before"))
    with pytest.raises(httpx.TransportError):
        http(sb).delete(pool_url(sb, pool_id))
    assert sb.accepted_deletes(pool_id) == 0
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Running"
    record = sb.requests[-1]
    assert (record.status, record.fault, record.method) == (None, "drop:before", "DELETE")


def test_drop_after_deletes_but_loses_the_answer(sb: Sandbox, http: Http) -> None:
    pool_id = pid(sb, "pool-01")
    sb.inject(Fault(method="DELETE", drop="after"))
    with pytest.raises(httpx.TransportError):
        http(sb).delete(pool_url(sb, pool_id))
    assert sb.accepted_deletes(pool_id) == 1
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Deleting"
    assert sb.count(method="DELETE") == 1 and sb.requests[-1].fault == "drop:after"


def test_fault_validation_and_consumption(sb: Sandbox) -> None:
    with pytest.raises(ValueError):
        Fault(drop="sideways")
    with pytest.raises(ValueError):
        Fault(times=0)
    fault = Fault(status=503, times=2)
    sb.inject(fault)
    assert fault.times == 2  # the caller's object is not consumed
    sb.clear_faults()
    assert sb.pending_faults() == []


# -- records and admin ---------------------------------------------------------------------------
def test_records_never_hold_secrets(http: Http, sandboxes) -> None:
    secret_token = "SANDBOX-FAKE-SECURITY-TOKEN-0001"
    sandbox = sandboxes(security_token=secret_token)
    http(sandbox).get(pools_url(sandbox))
    http(sandbox, sk=WRONG_SK).get(pools_url(sandbox))
    http(sandbox, token=sandbox.token).get(pools_url(sandbox))
    temporary = sandbox.issue_session_credentials(lifetime=900)
    http(sandbox, ak=temporary.access, sk=temporary.secret,
         security_token=temporary.security_token).get(pools_url(sandbox))
    records = sandbox.requests
    answer = sandbox.admin().response("GET", "requests")
    assert answer.status_code == 200 and len(answer.json()) == 4
    assert all(isinstance(r, RequestRecord) for r in records) and len(records) == 4
    assert records[0].headers["authorization"] == "***"
    assert records[2].headers["x-auth-token"] == "***"
    assert records[3].headers["x-security-token"] == "***"
    for text in (repr(records), answer.text):
        for secret in (sandbox.sk, WRONG_SK, sandbox.token, secret_token, "Signature=",
                       temporary.secret, temporary.security_token):
            assert secret not in text


def test_admin_endpoints(sb: Sandbox, http: Http) -> None:
    admin = sb.admin()
    pool_id = pid(sb, "pool-01")
    assert http(sb).delete(pool_url(sb, pool_id)).status_code == 200
    fault = {"method": "GET", "status": 503, "retry_after": 1, "body": "not json"}
    assert admin.response("POST", "faults", fault).status_code == 200
    assert admin.response("POST", "faults", {"colour": "red"}).status_code == 400
    answer = http(sb).get(pools_url(sb))
    assert (answer.status_code, answer.text) == (503, "not json")
    listed = admin.requests()
    assert [(r["method"], r["status"], r["fault"]) for r in listed] == [
        ("DELETE", 200, None),
        ("GET", 503, "status:503"),
    ]
    admin.inject(Fault(status=500, body=b"boom"))
    assert [(f.status, f.body) for f in sb.pending_faults()] == [(500, b"boom")]
    admin.clear_faults()
    assert sb.pending_faults() == [] and http(sb).get(pools_url(sb)).status_code == 200
    admin.reset()
    assert admin.requests() == []
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Running"
    assert admin.response("GET", "nothing").status_code == 404
    assert sb.count() == 0  # admin calls are never recorded


def _admin_request(sb: Sandbox, method: str, name: str, body: bytes = b"",
                   auth: httpx.Auth | None = None, **headers: str) -> httpx.Request:
    request = httpx.Request(method, f"{sb.endpoint}/_sandbox/{name}", content=body,
                            headers={"Content-Type": "application/json", **headers})
    if isinstance(auth, AkSkAuth):
        auth.sign(request)
    return request


def test_admin_refuses_anything_but_the_owners_signature(sb: Sandbox, sandboxes) -> None:
    """Each refusal is 401/403 with one line saying why, and nothing happens: no fault is
    queued, no reset undoes the deletion, no request log or session credential is handed out."""
    pool_id = pid(sb, "pool-01")
    sb.set_phase(pool_id, "Deleting")  # a reset would make it Running again
    temporary = sb.issue_session_credentials(lifetime=900)
    owner = AkSkAuth(sb.ak, sb.sk)
    fault = json.dumps({"status": 503}).encode()
    stale = AkSkAuth(sb.ak, sb.sk, clock=lambda: datetime.now(timezone.utc) - timedelta(minutes=20))
    neighbour = sandboxes(unique_keys=True)
    other = AkSkAuth(neighbour.ak, neighbour.sk)  # a neighbour's own, valid, keys
    signed_for_requests = _admin_request(sb, "GET", "requests", auth=owner)
    signed_for_fault = _admin_request(sb, "POST", "faults", fault, auth=owner)
    cases = {
        "unsigned": (401, "not signed", _admin_request(sb, "POST", "reset")),
        "IAM token": (401, "IAM token", _admin_request(sb, "POST", "reset",
                                                        **{"X-Auth-Token": sb.token})),
        "wrong SK": (401, "signature does not match",
                     _admin_request(sb, "POST", "reset", auth=AkSkAuth(sb.ak, WRONG_SK))),
        "neighbour": (401, "signature does not match",
                      _admin_request(sb, "POST", "reset", auth=other)),
        "temporary": (403, "temporary (session) credentials",
                      _admin_request(sb, "POST", "reset", auth=AkSkAuth(
                          temporary.access, temporary.secret,
                          security_token=temporary.security_token))),
        "stale date": (401, "15 minutes", _admin_request(sb, "POST", "reset", auth=stale)),
        "garbage": (401, "signature does not match",
                    _admin_request(sb, "POST", "reset", Authorization="SDK-HMAC-SHA256 x")),
        # a signature seen for one call does not authorise another
        "replayed on reset": (401, "signature does not match", httpx.Request(
            "POST", f"{sb.endpoint}/_sandbox/reset", headers=signed_for_requests.headers)),
        "body swapped": (401, "signature does not match", httpx.Request(
            "POST", f"{sb.endpoint}/_sandbox/faults", headers=signed_for_fault.headers,
            content=fault.replace(b"503", b"500"))),  # same length, other fault
        "session credentials": (401, "not signed",
                                _admin_request(sb, "GET", "session-credentials")),
        "request log": (401, "not signed", _admin_request(sb, "GET", "requests")),
    }
    with httpx.Client(trust_env=False, timeout=5) as raw:
        for what, (status, reason, request) in cases.items():
            answer = raw.send(request)
            assert answer.status_code == status, what
            message = answer.json()["error"]
            assert reason in message and "\n" not in message and len(message) < 200, what
            assert message.startswith("admin request refused"), what
            for secret in (sb.sk, sb.token, temporary.secret, temporary.security_token):
                assert secret not in answer.text, what
    assert sb.pending_faults() == []
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Deleting"
    assert sb.session_credentials() == temporary
    # eleven refusals lock nothing: the API and the admin endpoints still take the owner's keys
    with httpx.Client(auth=AkSkAuth(sb.ak, sb.sk), trust_env=False) as api:
        assert api.get(pools_url(sb)).status_code == 200
    assert raw_send(_admin_request(sb, "POST", "reset", auth=owner)).status_code == 200
    assert (sb.pool_json(pool_id) or {})["status"]["phase"] == "Running"


def raw_send(request: httpx.Request) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return client.send(request)


def test_admin_with_a_security_token_needs_it(http: Http, sandboxes) -> None:
    sandbox = sandboxes(security_token="SANDBOX-FAKE-SECURITY-TOKEN-0003")
    assert sandbox.admin().response("POST", "reset").status_code == 200
    without = raw_send(_admin_request(sandbox, "POST", "reset",
                                      auth=AkSkAuth(sandbox.ak, sandbox.sk)))
    assert without.status_code == 401 and "security token" in without.json()["error"]


def test_a_locked_out_or_skewed_owner_can_still_reset(sb: Sandbox, http: Http) -> None:
    for _ in range(6):
        http(sb, sk=WRONG_SK).get(pools_url(sb))
    assert "locked" in http(sb).get(pools_url(sb)).json()["error_msg"]
    sb.clock_offset = 20 * 60  # the sandbox clock is skewed; admin dates use real time
    sb.admin().reset()  # forgets the lockout, as sb.reset() does
    sb.clock_offset = 0
    assert http(sb).get(pools_url(sb)).status_code == 200


def test_admin_client_refusals_and_reprs(sb: Sandbox) -> None:
    wrong = AdminClient(sb.endpoint, sb.ak, WRONG_SK)
    with pytest.raises(AdminError) as caught:
        wrong.reset()
    assert caught.value.status == 401 and "signature does not match" in str(caught.value)
    for text in (repr(sb.admin()), repr(wrong), str(caught.value)):
        assert sb.sk not in text and WRONG_SK not in text and sb.ak not in text
    for endpoint in ("http://10.0.0.1:80", "https://127.0.0.1:1", "http://127.0.0.1.evil.example",
                     "http://169.254.169.254", "file:///etc/passwd"):
        with pytest.raises(ValueError):  # the keys are never signed towards another host
            AdminClient(endpoint, sb.ak, sb.sk)
    with pytest.raises(ValueError, match="MODELARTS_ENDPOINT"):
        AdminClient.from_env({})
    assert AdminClient.from_env(sb.env()).requests() == []
    gone = sb.admin(timeout=1)
    sb.stop()
    with pytest.raises(AdminError) as unanswered:
        gone.reset()
    assert unanswered.value.status is None and "no answer" in str(unanswered.value)


def test_unique_keys_are_the_sandboxs_own(sandboxes) -> None:
    one, two = sandboxes(unique_keys=True), sandboxes(unique_keys=True)
    keys = {(one.ak, one.sk, one.token), (two.ak, two.sk, two.token)}
    assert len(keys) == 2 and DEFAULT_SK not in {one.sk, two.sk}
    assert re.fullmatch(r"[A-Z0-9]{20}", one.ak) and re.fullmatch(r"[A-Za-z0-9]{40}", one.sk)
    assert one.admin().requests() == []
    with pytest.raises(AdminError):
        AdminClient(two.endpoint, one.ak, one.sk).reset()
    assert one.sk not in repr(one)


def test_every_answer_has_gateway_headers(sb: Sandbox, http: Http) -> None:
    client = http(sb)
    answers = [
        client.get(pools_url(sb)),
        client.get(pool_url(sb, "x" * 40)),
        http(sb, sk=WRONG_SK).get(pools_url(sb)),
        client.get(f"{sb.endpoint}/other"),
    ]
    for response in answers:
        assert_gateway_headers(response)
    assert len({r.headers["x-request-id"] for r in answers}) == len(answers)


def test_protocol_errors_and_head_get_gateway_answers(sb: Sandbox, http: Http) -> None:
    with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        head, _, body = raw.makefile("rb").read().partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"X-Request-Id: " in head
    assert json.loads(body)["error_code"] == "APIG.0201"
    response = http(sb).head(pools_url(sb))
    assert response.status_code == 404 and response.content == b""
    assert int(response.headers["content-length"]) > 0


# -- the Python API ------------------------------------------------------------------------------
def test_sandbox_helpers(sb: Sandbox, http: Http) -> None:
    assert sb.region == "cn-north-4" and re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.endpoint)
    assert sb.sk not in repr(sb)
    body = sb.pool_json(pid(sb, "pool-01"))
    assert body is not None
    body["status"]["phase"] = "Mutated"  # a deep copy: the server is unaffected
    assert (sb.pool_json(pid(sb, "pool-01")) or {})["status"]["phase"] == "Running"
    body["metadata"]["name"] = "added-" + "a" * 32
    body["metadata"]["labels"]["os.modelarts/name"] = "added"
    assert sb.add_pool(body) == "added-" + "a" * 32
    assert sb.display_names()["added"] == ["added-" + "a" * 32]
    with pytest.raises(ValueError):
        sb.add_pool({"metadata": {"name": "Bad_Name"}})
    sb.set_phase("added-" + "a" * 32, "Abnormal", "disk full")
    shown = http(sb).get(pool_url(sb, "added-" + "a" * 32)).json()
    assert (shown["status"]["phase"], shown["status"]["message"]) == ("Abnormal", "disk full")
    sb.remove_pool("added-" + "a" * 32)
    assert http(sb).get(pool_url(sb, "added-" + "a" * 32)).status_code == 404
    assert sb.count() == 2 and sb.count(method="get", pool="added-" + "a" * 32) == 2
    assert sb.count(method="DELETE") == 0
    sb.clear_requests()
    assert sb.requests == []


def test_env_and_export_env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, sandboxes) -> None:
    for name in sb.env():
        monkeypatch.delenv(name, raising=False)
    env = sb.export_env()
    assert env == {
        "HUAWEICLOUD_SDK_AK": sb.ak,
        "HUAWEICLOUD_SDK_SK": sb.sk,
        "HUAWEICLOUD_SDK_PROJECT_ID": sb.project_id,
        "MODELARTS_ENDPOINT": sb.endpoint,
        "MODELARTS_REGION": "cn-north-4",
    }
    assert all(os.environ[name] == value for name, value in env.items())
    assert sb.sk not in repr(env) and sb.sk not in str(env) and "MODELARTS_ENDPOINT" in repr(env)
    temporary = sandboxes(security_token="tok")
    assert temporary.env()["HUAWEICLOUD_SDK_SECURITY_TOKEN"] == "tok"


SANDBOX_VARS = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_PROJECT_ID",
                "MODELARTS_ENDPOINT", "MODELARTS_REGION", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
                "MODELARTS_AUTH_TOKEN")


@pytest.fixture
def before(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """A user's environment: some of the variables set (a real token among them), some absent."""
    for name in SANDBOX_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "USERSOWNAK0000000001")
    monkeypatch.setenv("MODELARTS_ENDPOINT", "https://modelarts.cn-north-4.myhuaweicloud.com")
    monkeypatch.setenv("MODELARTS_AUTH_TOKEN", "MIIusersOwnToken")
    return current_env()


def current_env() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in SANDBOX_VARS}


def test_export_env_as_a_context_manager_restores_exactly(
        sb: Sandbox, before: dict[str, str | None]) -> None:
    with sb.export_env() as env:
        assert os.environ["MODELARTS_ENDPOINT"] == sb.endpoint == env["MODELARTS_ENDPOINT"]
        assert "MODELARTS_AUTH_TOKEN" not in os.environ  # a real token never mixes in
    assert current_env() == before  # absent ones absent again, the token back
    assert env.restored and env.restore() == []  # once only


def test_restore_env_and_stop_restore(before: dict[str, str | None]) -> None:
    with start() as sandbox:
        sandbox.export_env()
        sandbox.export_env()  # twice: undone together
        assert sorted(sandbox.restore_env()) == sorted(SANDBOX_VARS)
        assert current_env() == before and sandbox.restore_env() == []
        sandbox.export_env()
    assert current_env() == before  # stop() undid it: no dead port left in the environment


def test_stop_leaves_what_the_user_changed_since(before: dict[str, str | None]) -> None:
    with start() as sandbox:
        sandbox.export_env()
        os.environ["MODELARTS_ENDPOINT"] = "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    assert os.environ["MODELARTS_ENDPOINT"] == "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    assert {k: v for k, v in current_env().items() if k != "MODELARTS_ENDPOINT"} == {
        k: v for k, v in before.items() if k != "MODELARTS_ENDPOINT"}


@pytest.mark.parametrize("order", ["first-stops-first", "last-stops-first"])
def test_two_sandboxes_stopped_in_any_order_leave_no_dead_port(
        before: dict[str, str | None], order: str) -> None:
    one, two = start(), start(security_token="SANDBOX-FAKE-SECURITY-TOKEN-0004")
    try:
        one.export_env()
        two.export_env()
        assert os.environ["HUAWEICLOUD_SDK_SECURITY_TOKEN"] == "SANDBOX-FAKE-SECURITY-TOKEN-0004"
        first, second = (one, two) if order == "first-stops-first" else (two, one)
        first.stop()
        expected = second.endpoint if first is one else one.endpoint
        assert os.environ["MODELARTS_ENDPOINT"] == expected  # the live one, never a dead port
        second.stop()
        assert current_env() == before
    finally:
        one.stop()
        two.stop()


def test_stop_is_idempotent_and_cuts_keep_alive(http: Http) -> None:
    with start() as sandbox:
        client = http(sandbox)
        assert client.get(pools_url(sandbox)).status_code == 200  # leaves a pooled connection
    sandbox.stop()
    with pytest.raises(httpx.TransportError):
        client.get(pools_url(sandbox))


# -- the CLI -------------------------------------------------------------------------------------
def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def test_cli_serves_until_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUAWEICLOUD_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelarts_nb.sandbox",
            "--port",
            "0",
            "--pools",
            "1",
            "--delete-seconds",
            "2",
            "--quiet",
            "--unique-keys",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines = _lines(proc.stdout)
        exports: dict[str, str] = {}
        endpoint = ""
        while "MODELARTS_REGION" not in exports:
            line = lines.get(timeout=10)
            if match := re.search(r"listening on (http://127\.0\.0\.1:\d+)", line):
                endpoint = match[1]
            if match := re.fullmatch(r"export (\w+)=(\S+)\n", line):
                exports[match[1]] = match[2].strip("'")
        assert endpoint and exports["MODELARTS_ENDPOINT"] == endpoint
        auth = AkSkAuth(
            exports["HUAWEICLOUD_SDK_AK"],
            exports["HUAWEICLOUD_SDK_SK"],
            project_id=exports["HUAWEICLOUD_SDK_PROJECT_ID"],
        )
        with httpx.Client(auth=auth, trust_env=False, timeout=5) as client:
            url = f"{endpoint}/v2/{exports['HUAWEICLOUD_SDK_PROJECT_ID']}/pools"
            assert client.get(url).status_code == 200
        assert exports["HUAWEICLOUD_SDK_AK"] != DEFAULT_AK  # --unique-keys
        assert "modelarts_nb.sandbox admin" in lines.get(timeout=10)  # how to make admin calls
        admin = [sys.executable, "-m", "modelarts_nb.sandbox", "admin"]
        run = {"capture_output": True, "text": True, "cwd": ROOT, "timeout": 30}
        done = subprocess.run([*admin, "requests"], env={**env, **exports}, **run)
        assert done.returncode == 0 and len(json.loads(done.stdout)) == 1
        wrong = {**env, **exports, "HUAWEICLOUD_SDK_SK": WRONG_SK}
        refused = subprocess.run([*admin, "reset"], env=wrong, **run)
        assert refused.returncode == 1 and "signature does not match" in refused.stderr
        assert len(refused.stderr.splitlines()) == 1 and WRONG_SK not in refused.stderr
        assert subprocess.run([*admin, "reset"], env={**env, **exports}, **run).returncode == 0
        assert subprocess.run([*admin, "bogus"], env={**env, **exports}, **run).returncode == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
