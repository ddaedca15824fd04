"""Credentials that expire: a notebook session's temporary AK/SK during long watches.

The sandbox issues temporary credentials with a lifetime and refuses expired ones with
``APIG.0301 ... token expires`` (never counted towards the AK lockout). A stand-in
``modelarts.session`` (tests/fixtures/notebook_session) hands out the sandbox's current session
credentials, renewed when they expire, as the agency behind a real notebook does. The client
must re-read its source once after a 401 that follows earlier successes, resend only with
*different* credentials, and never resend a signature that failed.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import clear_cloud_env

from modelarts_nb import PoolsClient, settings
from modelarts_nb.errors import AuthenticationError, PermissionDenied
from modelarts_nb.sandbox import Fault, start
from modelarts_nb.sandbox.gate import LOCK_AFTER, TOKEN_EXPIRED
from modelarts_nb.settings import NOTEBOOK_SESSION, Credentials, Settings

STAND_IN = Path(__file__).parent / "fixtures" / "notebook_session"


@pytest.fixture
def session_sandbox(monkeypatch, tmp_path):
    """A sandbox whose only credentials in reach are the notebook session's (stand-in SDK)."""
    clear_cloud_env(monkeypatch, tmp_path)
    monkeypatch.syspath_prepend(str(STAND_IN))
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with start(pools=6, delete_seconds=0.6) as sb:
        monkeypatch.setenv("MODELARTS_ENDPOINT", sb.endpoint)
        sb.issue_session_credentials(lifetime=900)
        yield sb


def session_count() -> int:
    return sys.modules["modelarts.session"].Session.created


def key_of(credentials) -> str:
    return hashlib.sha256(credentials.access.encode()).hexdigest()[:12]


def signed(sb, ak: str, sk: str, token: str | None = None) -> PoolsClient:
    creds = Credentials(ak, sk, token, source="explicit arguments")
    return PoolsClient(Settings(sb.endpoint, sb.project_id, creds))


# -- the sandbox's temporary credentials ----------------------------------------------------------


def test_sandbox_accepts_temporary_credentials_until_they_expire(sandbox):
    temp = sandbox.issue_session_credentials(lifetime=900)
    pool = sandbox.pool_ids()[0]
    with signed(sandbox, temp.access, temp.secret, temp.security_token) as client:
        assert client.get_pool(pool).id == pool
        sandbox.expire(temp)
        with pytest.raises(AuthenticationError) as info:
            client.get_pool(pool)
    assert info.value.error_msg == TOKEN_EXPIRED
    assert [r.status for r in sandbox.requests] == [200, 401]


def test_expired_credentials_never_lock_the_ak_but_bad_signatures_do(sandbox):
    temp = sandbox.issue_session_credentials(lifetime=900)
    sandbox.expire(temp)
    pool = sandbox.pool_ids()[0]
    with signed(sandbox, temp.access, temp.secret, temp.security_token) as client:
        for _ in range(LOCK_AFTER + 3):
            with pytest.raises(AuthenticationError) as info:
                client.get_pool(pool)
            assert info.value.error_msg == TOKEN_EXPIRED  # never "locked"
    fresh = sandbox.issue_session_credentials(lifetime=900)
    with signed(sandbox, fresh.access, "W" * 40, fresh.security_token) as client:
        messages = []
        for _ in range(LOCK_AFTER + 2):
            with pytest.raises(AuthenticationError) as info:
                client.get_pool(pool)
            messages.append(info.value.error_msg or "")
    assert "verify aksk signature fail" in messages[0] and "locked" in messages[-1]


def test_temporary_credentials_need_their_security_token(sandbox):
    temp = sandbox.issue_session_credentials(lifetime=900)
    with signed(sandbox, temp.access, temp.secret, None) as client:
        with pytest.raises(AuthenticationError, match="security token"):
            client.get_pool(sandbox.pool_ids()[0])


def test_official_sdk_signs_with_temporary_credentials(sandbox):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient, ShowPoolRequest

    temp = sandbox.issue_session_credentials(lifetime=900)
    creds = BasicCredentials(temp.access, temp.secret, sandbox.project_id)
    creds = creds.with_security_token(temp.security_token)
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    sdk = (ModelArtsClient.new_builder().with_http_config(config).with_credentials(creds)
           .with_endpoint(sandbox.endpoint).build())
    pool = sandbox.pool_ids()[0]
    assert sdk.show_pool(ShowPoolRequest(pool_name=pool)).metadata.name == pool
    sandbox.expire(temp)
    with pytest.raises(ClientRequestException) as info:
        sdk.show_pool(ShowPoolRequest(pool_name=pool))
    assert info.value.status_code == 401 and "token expires" in info.value.error_msg


def test_admin_endpoint_hands_out_iam_shaped_session_credentials(sandbox):
    base = sandbox.endpoint + "/_sandbox/session-credentials"
    with httpx.Client(trust_env=False) as http:
        assert http.get(base).status_code == 404  # nothing issued yet
        issued = http.post(base, json={"lifetime": 60}).json()
        assert http.get(base).json() == issued
        assert http.post(base, json={"lifetime": "nan"}).status_code == 400
        assert http.post(base, json={"lifetime": 1e12}).status_code == 400
    assert set(issued["credential"]) == {"access", "secret", "securitytoken", "expires_at"}
    assert issued["credential"]["expires_at"].endswith("Z")
    assert issued["project_id"] == sandbox.project_id


# -- the client: renew once, never resend a failed signature ---------------------------------------


def test_watch_outlives_the_session_credentials(session_sandbox):
    sb = session_sandbox
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        assert client.settings.credentials.source == NOTEBOOK_SESSION
        first = sb.session_credentials()
        client.delete_pool(pool)
        sb.expire(first)  # the agency's keys run out during the watch
        client.wait_until_deleted(pool, interval=0.1, timeout=30)
    statuses = [(r.method, r.status) for r in sb.requests]
    assert statuses.count(("GET", 401)) == 1, statuses
    assert sb.accepted_deletes(pool) == 1
    keys = [r.key for r in sb.requests]
    assert keys[0] == key_of(first) and keys[-1] != key_of(first)  # renewed, used from then on
    assert session_count() == 2  # read at the start, re-read once after the 401


def test_delete_refused_for_expiry_is_sent_once_more_newly_signed(session_sandbox):
    """The keys expire between the preflight read and the DELETE: the gateway refused it before
    ModelArts saw it, so one resend with the renewed keys is safe — and exactly one is sent."""
    sb = session_sandbox
    with PoolsClient.from_env() as client:
        pool = client.get_pool(sb.pool_ids()[0])
        sb.expire(sb.session_credentials())
        client.delete_listed(pool)
    records = sb.requests
    assert [(r.method, r.status) for r in records] == [("GET", 200), ("DELETE", 401),
                                                       ("DELETE", 200)]
    assert records[1].key != records[2].key and records[1].signature != records[2].signature
    assert sb.accepted_deletes(pool.id) == 1


def test_a_failed_signature_is_never_resent(session_sandbox):
    sb = session_sandbox
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        client.delete_pool(pool)
    records = sb.requests
    refused = [i for i, r in enumerate(records) if r.status == 401]
    assert len(refused) == 2
    for i in refused:
        later = [r.signature for r in records[i + 1:]]
        assert records[i].signature not in later, "a refused signature was sent again"


def test_session_that_gives_the_same_credentials_fails_in_one_line(session_sandbox):
    sb = session_sandbox
    sb.session_rotates = False  # the session keeps handing out the expired keys
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        with pytest.raises(AuthenticationError) as info:
            client.get_pool(pool)
    assert [r.status for r in sb.requests] == [200, 401]  # nothing resent
    assert session_count() == 2
    text = str(info.value)
    assert "\n" not in text and "restart the kernel" in text and "token expires" in text


def test_credentials_that_never_worked_are_not_re_read(session_sandbox):
    sb = session_sandbox
    sb.expire(sb.session_credentials())
    sb.session_rotates = False
    with PoolsClient.from_env() as client, pytest.raises(AuthenticationError):
        client.get_pool(sb.pool_ids()[0])
    assert len(sb.requests) == 1 and session_count() == 1


def test_a_second_renewal_needs_a_success_in_between(session_sandbox):
    """Renewed credentials that fail at once are wrong, not expired: no loop of re-reads."""
    sb = session_sandbox
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        sb.inject(Fault(status=401, times=2))  # the renewed keys are refused too
        with pytest.raises(AuthenticationError):
            client.get_pool(pool)
    assert [r.status for r in sb.requests] == [200, 401, 401]
    assert session_count() == 2


def test_threads_of_a_batch_renew_once(session_sandbox):
    sb = session_sandbox
    ids = sb.pool_ids()[:6]
    with PoolsClient.from_env() as client:
        client.list_pools()
        sb.expire(sb.session_credentials())
        barrier = threading.Barrier(6)

        def read(pool: str) -> None:
            barrier.wait()
            client.get_pool(pool)

        threads = [threading.Thread(target=read, args=(p,)) for p in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    statuses = Counter(r.status for r in sb.requests)
    assert statuses[200] == 1 + 6, statuses  # every read ended in a success
    assert session_count() == 2  # one re-read for all the threads


def test_environment_credentials_rewritten_by_a_refresher_are_picked_up(env_sandbox, monkeypatch):
    sb = env_sandbox
    pool = sb.pool_ids()[0]
    temp = sb.issue_session_credentials(lifetime=900)
    for name, value in (("AK", temp.access), ("SK", temp.secret),
                        ("SECURITY_TOKEN", temp.security_token)):
        monkeypatch.setenv(f"HUAWEICLOUD_SDK_{name}", value)
    with PoolsClient.from_env() as client:
        client.get_pool(pool)
        sb.expire(temp)
        fresh = sb.issue_session_credentials(lifetime=900)
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", fresh.access)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SK", fresh.secret)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", fresh.security_token)
        client.get_pool(pool)
    assert [r.status for r in sb.requests] == [200, 401, 200]


def test_explicit_credentials_are_never_re_read(sandbox):
    temp = sandbox.issue_session_credentials(lifetime=900)
    pool = sandbox.pool_ids()[0]
    with signed(sandbox, temp.access, temp.secret, temp.security_token) as client:
        client.get_pool(pool)
        sandbox.expire(temp)
        with pytest.raises(AuthenticationError):
            client.get_pool(pool)
    assert [r.status for r in sandbox.requests] == [200, 401]


def test_403_with_session_credentials_names_the_agency_permission(session_sandbox):
    sb = session_sandbox
    sb.inject(Fault(method="DELETE", status=403, body={
        "error_code": "ModelArts.0108", "error_msg": "not authorized to perform (DELETE pool)"}))
    with PoolsClient.from_env() as client, pytest.raises(PermissionDenied) as info:
        client.delete_pool(sb.pool_ids()[0])
    text = str(info.value)
    assert "agency" in text and "modelarts:pool:delete" in text and "\n" not in text


def test_sdk_found_where_the_images_keep_it(session_sandbox, monkeypatch):
    """Not importable from the kernel's path: found in a known folder, appended (never first)."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(STAND_IN)])
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(settings, "SDK_DIRS", ("/nonexistent/sdk", str(STAND_IN)))
    resolved = settings.resolve_settings()
    assert resolved.credentials.source == NOTEBOOK_SESSION
    assert sys.path[-1] == str(STAND_IN)


def test_no_secret_of_the_session_in_errors_or_reprs(session_sandbox):
    sb = session_sandbox
    sb.session_rotates = False
    with PoolsClient.from_env() as client:
        client.get_pool(sb.pool_ids()[0])
        current = sb.session_credentials()
        sb.expire(current)
        with pytest.raises(AuthenticationError) as info:
            client.get_pool(sb.pool_ids()[0])
        shown = " ".join([str(info.value), repr(info.value), repr(client),
                          client.settings.describe(), repr(client.settings)])
    assert current is not None
    for secret in (current.access, current.secret, current.security_token):
        assert secret not in shown


def test_profile_rewritten_by_a_refresher_is_picked_up_and_a_broken_one_is_not(
    env_sandbox, monkeypatch, tmp_path
):
    sb = env_sandbox
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"):
        monkeypatch.delenv(name)
    profile = tmp_path / "credentials"
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(profile))

    def write(temp) -> None:
        profile.write_text(f"[basic]\nak = {temp.access}\nsk = {temp.secret}\n"
                           f"security_token = {temp.security_token}\n")

    pool = sb.pool_ids()[0]
    write(sb.issue_session_credentials(lifetime=900))
    with PoolsClient.from_env() as client:
        assert client.settings.credentials.source.startswith("profile file")
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        write(sb.issue_session_credentials(lifetime=900))
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        profile.write_bytes(b"\xff\xfe not a profile")
        with pytest.raises(AuthenticationError):
            client.get_pool(pool)
    assert [r.status for r in sb.requests] == [200, 401, 200, 401]


def test_magic_yes_watch_outlives_one_second_session_credentials(session_sandbox, shell, capsys):
    """Keys that last 1 s against a deletion that takes 2 s: the watch renews them as it goes."""
    sb = session_sandbox
    sb.issue_session_credentials(lifetime=1.0)
    sb.store.delete_seconds = 2.0
    result = shell.run_cell("%pool_delete pool-01 --yes --interval 0.2")
    out = capsys.readouterr()
    text = out.out + out.err
    assert result.error_in_exec is None, text
    assert "DELETED: pool pool-01" in text
    statuses = [r.status for r in sb.requests]
    renewals = statuses.count(401)
    assert renewals >= 1 and session_count() == 1 + renewals, statuses
    assert sb.count(method="DELETE") == 1
