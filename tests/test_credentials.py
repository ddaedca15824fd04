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
import importlib.util
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import clear_cloud_env, make_client

from modelarts_nb import (
    AuthenticationError,
    ConfigError,
    Credentials,
    PermissionDenied,
    PoolsClient,
    Settings,
)
from modelarts_nb.deletion.engine import delete_once
from modelarts_nb.gateway import settings
from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.gateway.settings import NOTEBOOK_SESSION
from modelarts_nb.sandbox import Fault
from modelarts_nb.sandbox.gate import LOCK_AFTER, TOKEN_EXPIRED

STAND_IN = Path(__file__).parent / "fixtures" / "notebook_session"


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    clear_cloud_env(monkeypatch, tmp_path)


@pytest.fixture
def session_sandbox(monkeypatch, tmp_path, sandboxes):
    """A sandbox whose only credentials in reach are the notebook session's (stand-in SDK)."""
    clear_cloud_env(monkeypatch, tmp_path)
    monkeypatch.syspath_prepend(str(STAND_IN))
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    sb = sandboxes(pools=6, delete_seconds=0.6)
    monkeypatch.setenv("MODELARTS_ENDPOINT", sb.endpoint)
    sb.issue_session_credentials(lifetime=900)
    return sb


def session_count() -> int:
    return sys.modules["modelarts.session"].Session.created


def key_of(credentials) -> str:
    return hashlib.sha256(credentials.access.encode()).hexdigest()[:12]


def all_at_once(work, args) -> None:
    """Run ``work(arg)`` for every arg in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(args))

    def run(arg) -> None:
        barrier.wait(10)
        work(arg)

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


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
    for _ in range(LOCK_AFTER + 3):  # a new client each time: one never resends refused keys
        with signed(sandbox, temp.access, temp.secret, temp.security_token) as client:
            with pytest.raises(AuthenticationError) as info:
                client.get_pool(pool)
            assert info.value.error_msg == TOKEN_EXPIRED  # never "locked"
    fresh = sandbox.issue_session_credentials(lifetime=900)
    messages = []
    for _ in range(LOCK_AFTER + 2):
        with signed(sandbox, fresh.access, "W" * 40, fresh.security_token) as client:
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
    """Only to the sandbox's owner: on a shared machine a neighbour's unsigned GET must not
    receive keys that can delete this sandbox's pools."""
    admin = sandbox.admin()
    base = sandbox.endpoint + "/_sandbox/session-credentials"
    with httpx.Client(trust_env=False) as anonymous:
        assert anonymous.post(base, json={"lifetime": 60}).status_code == 401
        assert sandbox.session_credentials() is None  # the refused POST issued nothing
    assert admin.response("GET", "session-credentials").status_code == 404  # nothing issued yet
    issued = admin.session_credentials(lifetime=60)
    assert admin.session_credentials() == issued
    with httpx.Client(trust_env=False) as anonymous:
        refused = anonymous.get(base)
    assert refused.status_code == 401 and issued["credential"]["secret"] not in refused.text
    for lifetime in ("nan", "900", True, None, [900], 1e-300, 0, -5, 1e12):
        assert admin.response("POST", "session-credentials", {"lifetime": lifetime}
                              ).status_code == 400, lifetime
    for body in (b"[" * 100_000, b"\xff", b"[]", b'{"lifetime": NaN}'):
        request = httpx.Request("POST", base, content=body)
        AkSkAuth(sandbox.ak, sandbox.sk).sign(request)
        with httpx.Client(trust_env=False) as raw:
            assert raw.send(request).status_code == 400, body[:10]
    assert admin.response("POST", "session-credentials/../faults",
                          [[[]]]).status_code in (400, 404)
    assert set(issued["credential"]) == {"access", "secret", "securitytoken", "expires_at"}
    assert issued["credential"]["expires_at"].endswith("Z")
    assert issued["project_id"] == sandbox.project_id
    current = sandbox.session_credentials()
    shown = repr(current) + repr(sandbox.gate) + repr(sandbox) + repr(admin)
    for secret in (sandbox.ak, sandbox.sk, sandbox.token, current.access, current.secret,
                   current.security_token):
        assert secret not in shown


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
        delete_once(client, pool)
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
    with PoolsClient.from_env() as client, pytest.raises(AuthenticationError) as info:
        client.get_pool(sb.pool_ids()[0])
    assert len(sb.requests) == 1 and session_count() == 1
    assert "asking the session again" not in str(info.value)  # it was not asked again


def test_a_second_renewal_needs_a_success_in_between(session_sandbox):
    """Renewed credentials that fail at once are wrong, not expired: no loop of re-reads."""
    sb = session_sandbox
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        sb.inject(Fault(status=401, times=2))  # the renewed keys are refused too
        with pytest.raises(AuthenticationError) as info:
            client.get_pool(pool)
    assert [r.status for r in sb.requests] == [200, 401, 401]
    assert session_count() == 2
    assert "new credentials from ModelArts notebook session were refused too" in str(info.value)


def test_threads_of_a_batch_renew_once(session_sandbox):
    sb = session_sandbox
    ids = sb.pool_ids()[:6]
    with PoolsClient.from_env() as client:
        client.list_pools()
        sb.expire(sb.session_credentials())
        all_at_once(client.get_pool, ids)
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


def test_sdk_found_where_the_images_keep_it(session_sandbox, monkeypatch, tmp_path):
    """Not importable from the kernel's path: the modelarts package alone is imported from a
    known folder; the folder never joins sys.path, so its other packages stay invisible."""
    folder = tmp_path / "jp3-site-packages"
    shutil.copytree(STAND_IN / "modelarts", folder / "modelarts")
    (folder / "leftpad.py").write_text("")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(STAND_IN)])
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(settings, "SDK_DIRS", ("/nonexistent/sdk", str(folder)))
    resolved = settings.resolve_settings()
    assert resolved.credentials.source == NOTEBOOK_SESSION
    assert str(folder) not in sys.path
    assert importlib.util.find_spec("leftpad") is None


def test_a_broken_sdk_in_that_folder_leaves_nothing_behind(monkeypatch, tmp_path, no_env):
    folder = tmp_path / "sdk"
    (folder / "modelarts").mkdir(parents=True)
    (folder / "modelarts" / "__init__.py").write_text("")
    (folder / "modelarts" / "session.py").write_text("import obs_sdk_that_is_not_here\n")
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(settings, "SDK_DIRS", (str(folder),))
    with pytest.raises(ConfigError, match="credentials"):
        settings.resolve_settings(project_id="p" * 32, region="cn-north-4")
    assert "modelarts" not in sys.modules and str(folder) not in sys.path


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


# -- never pile failures on one key ----------------------------------------------------------------


def test_threads_never_pile_failures_on_unproven_keys(sandbox):
    """A fresh client with a wrong SK and 8 threads: one request finds out, the rest send nothing."""
    ids = sandbox.pool_ids()[:8]
    errors_seen: list[str] = []
    with make_client(sandbox, sk="W" * 40) as client:

        def read(pool: str) -> None:
            try:
                client.get_pool(pool)
            except AuthenticationError as exc:
                errors_seen.append(str(exc))

        all_at_once(read, ids)
    assert len(errors_seen) == len(ids)
    assert [r.status for r in sandbox.requests] == [401]
    assert sum("by an earlier request" in e for e in errors_seen) == len(ids) - 1


def test_half_written_renewal_costs_one_failure_on_the_new_key(env_sandbox, monkeypatch):
    """A refresher has written the new AK and token but not yet the SK: the renewed (wrong)
    pair is tried by one request only, never by every thread of a batch."""
    sb = env_sandbox
    ids = sb.pool_ids()[:6]
    old = sb.issue_session_credentials(lifetime=900)
    for name, value in (("AK", old.access), ("SK", old.secret),
                        ("SECURITY_TOKEN", old.security_token)):
        monkeypatch.setenv(f"HUAWEICLOUD_SDK_{name}", value)
    with PoolsClient.from_env() as client:
        client.list_pools()
        sb.expire(old)
        new = sb.issue_session_credentials(lifetime=900)
        monkeypatch.setenv("HUAWEICLOUD_SDK_AK", new.access)
        monkeypatch.setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", new.security_token)

        def read(pool: str) -> None:
            with pytest.raises(AuthenticationError):
                client.get_pool(pool)

        all_at_once(read, ids)
    on_new_key = [r for r in sb.requests if r.key == key_of(new)]
    assert [r.status for r in on_new_key] == [401]
    assert [r.status for r in sb.requests].count(401) <= 1 + len(ids)


def test_a_slow_session_never_blocks_close_or_other_requests(session_sandbox, monkeypatch):
    sb = session_sandbox
    pool = sb.pool_ids()[0]
    with PoolsClient.from_env() as client:
        session_class = sys.modules["modelarts.session"].Session
        client.get_pool(pool)
        sb.expire(sb.session_credentials())
        slow_init = session_class.__init__

        def slow(self) -> None:
            time.sleep(2)
            slow_init(self)

        monkeypatch.setattr(session_class, "__init__", slow)
        renewing = threading.Thread(target=client.get_pool, args=(pool,))
        renewing.start()
        time.sleep(0.3)  # the renewal is now waiting for the slow Session()
        started = time.monotonic()
        client.close()
        closed_in = time.monotonic() - started
        renewing.join(10)
    assert closed_in < 0.5, closed_in
    assert [r.status for r in sb.requests] == [200, 401, 200]


def test_a_thread_starting_while_another_renews_waits_for_the_new_keys():
    """Found by running the suite in a random order: a request that starts while another
    thread is re-reading expired keys used to raise "refused by an earlier request" instead of
    waiting for the renewed keys."""
    from modelarts_nb.gateway.keys import KeyChain

    old = Credentials("AKOLD", "SKOLD", source=NOTEBOOK_SESSION)
    new = Credentials("AKNEW", "SKNEW", source=NOTEBOOK_SESSION)
    renewing, go = threading.Event(), threading.Event()

    def slow_reread(_creds):
        renewing.set()
        assert go.wait(10)
        return new

    chain = KeyChain(Settings("https://x.example", "p" * 32, old), reread=slow_reread)
    first = chain.current
    chain.succeeded(first)
    threading.Thread(target=chain.refused, args=(first,)).start()
    assert renewing.wait(10)
    got: list = []

    def request() -> None:
        with chain.turn() as key:
            got.append(key.settings.credentials.access_key)

    late = threading.Thread(target=request)
    late.start()
    time.sleep(0.2)
    assert got == []  # waiting, not failing
    go.set()
    late.join(10)
    assert got == ["AKNEW"]
