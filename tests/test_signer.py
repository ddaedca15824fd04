"""Our AK/SK signature must be byte-identical to huaweicloudsdkcore's for the same request.

huaweicloudsdkcore is a test-only dependency: it is the oracle we did not write.
"""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

from modelarts_nb.gateway import signer
from modelarts_nb.gateway.auth import AkSkAuth, TokenAuth

AK = "HPUAEXAMPLEAK0000001"
SK = "sEcReTkEy0000000000000000000000000000001"
PROJECT = "0123456789abcdef0123456789abcdef"
MOMENT = datetime(2026, 11, 26, 23, 59, 7, tzinfo=timezone.utc)
POOL = "mypool-8a1f2c3d4e5f60718293a4b5c6d7e8f9"

CASES = [
    ("GET", f"/v2/{PROJECT}/pools/{POOL}", []),
    ("DELETE", f"/v2/{PROJECT}/pools/{POOL}", []),
    ("GET", f"/v2/{PROJECT}/pools", [("status", "created")]),
    (
        "GET",
        f"/v2/{PROJECT}/pools",
        [("labelSelector", "os.modelarts/name=my pool,team!=a&b"), ("status", "creating")],
    ),
    ("GET", f"/v2/{PROJECT}/pools", [("workspaceId", "0"), ("labelSelector", "k=v+w/x?y#z~ü")]),
    # pool names that need percent-encoding in the canonical URI (the signer is generic)
    ("DELETE", f"/v2/{PROJECT}/pools/na%20me", []),
    ("GET", f"/v2/{PROJECT}/pools/p%C3%BCl%2Bx", [("a", "")]),
]


def _sdk_sign(method, path, pairs, host, security_token=None):
    creds = BasicCredentials(AK, SK, PROJECT)
    if security_token:
        creds = creds.with_security_token(security_token)
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(pairs),
        header_params={
            "Content-Type": "application/json",
            "Host": host,
            "X-Sdk-Date": signer.format_date(MOMENT),
        },
        body="",
    )
    signed = creds.sign_request(request)
    return signed.header_params["Authorization"], signed.uri


def _our_sign(method, path, pairs, host, security_token=None):
    query = signer.canonical_query(pairs)
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    request = httpx.Request(method, url, headers={"Content-Type": "application/json"})
    auth = AkSkAuth(AK, SK, project_id=PROJECT, security_token=security_token, clock=lambda: MOMENT)
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))  # one request, never re-sent
    return sent


@pytest.mark.parametrize("method,path,pairs", CASES)
@pytest.mark.parametrize("host", ["modelarts.cn-north-4.myhuaweicloud.com", "127.0.0.1:8443"])
def test_authorization_is_byte_identical_to_sdk(method, path, pairs, host):
    sent = _our_sign(method, path, pairs, host)
    expected_auth, expected_uri = _sdk_sign(method, path, pairs, host)
    assert sent.headers["Authorization"] == expected_auth
    # the URL actually sent is the SDK's: sorted, %20-encoded query
    assert sent.url.raw_path.decode() == expected_uri
    assert sent.headers["Host"] == host


@pytest.mark.parametrize("method,path,pairs", CASES[:3])
def test_temporary_credentials_sign_the_security_token(method, path, pairs):
    host = "modelarts.cn-north-4.myhuaweicloud.com"
    token = "tEmPoRaRyToKeN-" + "x" * 40
    sent = _our_sign(method, path, pairs, host, security_token=token)
    expected_auth, _ = _sdk_sign(method, path, pairs, host, security_token=token)
    assert sent.headers["Authorization"] == expected_auth
    assert "x-security-token" in expected_auth
    assert sent.headers["X-Security-Token"] == token


def test_signed_headers_are_the_minimal_fixed_set_and_sent_as_signed():
    sent = _our_sign("GET", f"/v2/{PROJECT}/pools/{POOL}", [], "h.example.com")
    ak, names, sig = signer.parse_authorization(sent.headers["Authorization"])
    assert ak == AK and len(sig) == 64
    assert names == ["content-type", "host", "x-project-id", "x-sdk-date"]
    assert sent.headers["X-Sdk-Date"] == "20261126T235907Z"
    assert sent.headers["X-Project-Id"] == PROJECT


def test_a_different_secret_or_date_changes_the_signature():
    path = f"/v2/{PROJECT}/pools/{POOL}"
    base = _our_sign("GET", path, [], "h").headers["Authorization"]
    other = AkSkAuth(AK, SK + "x", project_id=PROJECT, clock=lambda: MOMENT)
    request = httpx.Request("GET", f"https://h{path}", headers={"Content-Type": "application/json"})
    other.sign(request)
    assert request.headers["Authorization"] != base


def test_auth_reprs_hide_secrets():
    token = "iam-token-" + "q" * 30
    texts = [repr(AkSkAuth(AK, SK, security_token=token)), repr(TokenAuth(token))]
    for text in texts:
        for secret in (AK, SK, token):
            assert secret not in text


def test_token_auth_sends_x_auth_token_once():
    request = httpx.Request("GET", "https://h/v2/p/pools")
    flow = TokenAuth("tok-123").sync_auth_flow(request)
    assert next(flow).headers["X-Auth-Token"] == "tok-123"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401))
