"""The tenant header ``X-ModelArts-User-ID`` end to end (issue 23): where it comes from, that it
is sent and signed exactly as huaweicloudsdkcore signs it on a pool's GET and DELETE (and
nowhere else), the sandbox's workspace authentication, the one-line 403, and the receipts.
"""

from __future__ import annotations

import html
import json
import os
import sys
import textwrap
from datetime import datetime, timezone

import httpx
import pytest
from conftest import clear_cloud_env, make_client
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkmodelarts.v1 import DeletePoolRequest, ModelArtsClient, ShowPoolRequest

from modelarts_nb import Credentials, InvalidName, PermissionDenied, Settings, resolve_settings
from modelarts_nb.deletion.receipts import location, read_history
from modelarts_nb.gateway import signer
from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.gateway.settings import NOTEBOOK_SESSION
from modelarts_nb.sandbox.workspaces import WORKSPACE_DENIED, WORKSPACE_DENIED_STATUS

AK = "HPUAEXAMPLEAK0000001"
SK = "sEcReTkEy0000000000000000000000000000001"
PROJECT = "0123456789abcdef0123456789abcdef"
MOMENT = datetime(2026, 11, 26, 23, 59, 7, tzinfo=timezone.utc)
POOL = "mypool-8a1f2c3d4e5f60718293a4b5c6d7e8f9"
TENANT = "9d18f8e83393f4421c339ead9c2f43ce"
HEADER = "x-modelarts-user-id"


# -- signed exactly as the official SDK signs it -----------------------------------------------


def _sdk_authorization(method: str, host: str, security_token: str | None) -> str:
    creds = BasicCredentials(AK, SK, PROJECT)
    if security_token:
        creds = creds.with_security_token(security_token)
    request = SdkRequest(
        method=method, schema="https", host=host, resource_path=f"/v2/{PROJECT}/pools/{POOL}",
        query_params=[], body="",
        header_params={"Content-Type": "application/json", "Host": host,
                       "X-Sdk-Date": signer.format_date(MOMENT), "X-ModelArts-User-ID": TENANT},
    )
    return creds.sign_request(request).header_params["Authorization"]


def _our_request(method: str, host: str, security_token: str | None) -> httpx.Request:
    request = httpx.Request(method, f"https://{host}/v2/{PROJECT}/pools/{POOL}", headers={
        "Content-Type": "application/json", "X-ModelArts-User-ID": TENANT})
    auth = AkSkAuth(AK, SK, project_id=PROJECT, security_token=security_token,
                    clock=lambda: MOMENT)
    return next(auth.sync_auth_flow(request))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("host", ["modelarts.cn-north-4.myhuaweicloud.com", "127.0.0.1:8443"])
@pytest.mark.parametrize("security_token", [None, "tEmPoRaRyToKeN-" + "x" * 40])
def test_tenant_header_is_signed_byte_identically_to_the_sdk(method, host, security_token):
    sent = _our_request(method, host, security_token)
    expected = _sdk_authorization(method, host, security_token)
    assert sent.headers["Authorization"] == expected
    _, names, _ = signer.parse_authorization(expected)
    assert HEADER in names  # the SDK signs it: so do we
    assert sent.headers["X-ModelArts-User-ID"] == TENANT  # sent with exactly the signed value


# -- where it comes from ---------------------------------------------------------------------


def _env(**more: str) -> dict[str, str]:
    return {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK,
            "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT, "MODELARTS_REGION": "cn-north-4",
            "HUAWEICLOUD_SDK_CREDENTIALS_FILE": "/nonexistent/profile", **more}


def test_explicit_beats_environment_and_describe_says_where_it_came_from():
    env = _env(MODELARTS_USER_ID="from-env")
    explicit = resolve_settings(user_id="from-flag", env=env, use_notebook_session=False)
    assert explicit.user_id == "from-flag"
    assert "tenant (X-ModelArts-User-ID) from-flag from explicit arguments" in (
        explicit.describe())
    from_env = resolve_settings(env=env, use_notebook_session=False)
    assert from_env.user_id == "from-env" and "from-env from environment" in from_env.describe()


def test_an_empty_flag_sends_no_tenant_whatever_the_environment_holds():
    settings = resolve_settings(user_id="", env=_env(MODELARTS_USER_ID="from-env"),
                                use_notebook_session=False)
    assert settings.user_id is None
    assert "no tenant id (IAM alone decides)" in settings.describe()


@pytest.mark.parametrize("bad", ["a b", "x\nX-Evil: 1", "é", "t" * 129, "\t"])
def test_a_malformed_tenant_id_is_refused_naming_its_source(bad):
    with pytest.raises(InvalidName) as caught:
        resolve_settings(env=_env(MODELARTS_USER_ID=bad), use_notebook_session=False)
    line = str(caught.value)
    assert "from environment" in line and "nothing was sent" in line and "\n" not in line
    with pytest.raises(InvalidName):
        Settings("https://h.example", PROJECT, Credentials(AK, SK), user_id=bad)


def _session_stand_in(tmp_path, monkeypatch, user_id: str) -> None:
    """``modelarts.session.Session`` as in a notebook: the sandbox's session keys, the
    project, the region and a ``user_id``."""
    package = tmp_path / "session_with_user" / "modelarts"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "session.py").write_text(textwrap.dedent(f"""
        import os
        from modelarts_nb.sandbox import DEFAULT_AK, DEFAULT_SK, AdminClient

        class Session:
            def __init__(self):
                agency = AdminClient(os.environ["MODELARTS_ENDPOINT"], DEFAULT_AK, DEFAULT_SK)
                data = agency.session_credentials()
                self.access_key = data["credential"]["access"]
                self.secret_key = data["credential"]["secret"]
                self.security_token = data["credential"]["securitytoken"]
                self.project_id = data["project_id"]
                self.region_name = data["region"]
                self.user_id = {user_id!r}
    """))
    monkeypatch.syspath_prepend(str(tmp_path / "session_with_user"))
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_the_sessions_tenant_goes_only_with_the_sessions_credentials(tmp_path, monkeypatch,
                                                                    sandboxes):
    clear_cloud_env(monkeypatch, tmp_path)
    sb = sandboxes(pools=1)
    monkeypatch.setenv("MODELARTS_ENDPOINT", sb.endpoint)
    sb.issue_session_credentials(lifetime=900)
    _session_stand_in(tmp_path, monkeypatch, TENANT)
    session = resolve_settings()
    assert session.credentials.source == NOTEBOOK_SESSION and session.user_id == TENANT
    assert f"{TENANT} from {NOTEBOOK_SESSION}" in session.describe()
    own_keys = resolve_settings(access_key=sb.ak, secret_key=sb.sk, project_id=PROJECT)
    assert own_keys.user_id is None  # never the session's tenant with other keys
    monkeypatch.setenv("MODELARTS_USER_ID", "from-env")
    assert resolve_settings().user_id == "from-env"  # environment beats session


# -- over real HTTP: each source reaches GET and DELETE, signed ------------------------------


def _magic(shell, capsys, line: str) -> tuple[bool, str]:
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result.success, out.out + out.err


@pytest.mark.parametrize("source", ["flag", "environment", "session"])
def test_each_source_reaches_the_pools_get_and_delete_signed_and_nothing_else(
        source, shell, capsys, monkeypatch, tmp_path, sandboxes):
    clear_cloud_env(monkeypatch, tmp_path)
    sb = sandboxes(pools=3, delete_seconds=0.6)
    monkeypatch.setenv("MODELARTS_ENDPOINT", sb.endpoint)
    if source == "session":
        sb.issue_session_credentials(lifetime=900)
        _session_stand_in(tmp_path, monkeypatch, TENANT)
    else:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
    if source == "environment":
        monkeypatch.setenv("MODELARTS_USER_ID", TENANT)
    (pool_id,) = sb.display_names()["pool-01"]
    flag = f" --user-id {TENANT}" if source == "flag" else ""
    ok, out = _magic(shell, capsys, f"%pool_delete {pool_id} --yes --no-widgets{flag}")
    assert ok, out
    about_pool = [r for r in sb.requests if r.path.endswith(f"/pools/{pool_id}")]
    assert {r.method for r in about_pool} == {"GET", "DELETE"}
    for record in about_pool:
        assert record.headers.get(HEADER) == TENANT
        assert HEADER in record.signed_headers  # signed, and the sandbox verified it
        assert record.status in (200, 404)
    others = [r for r in sb.requests if r not in about_pool]
    assert others and all(HEADER not in r.headers for r in others)  # workloads, nodes
    assert f"tenant (X-ModelArts-User-ID) {TENANT}" in out  # settings.describe()


def test_a_malformed_flag_fails_the_cell_in_one_line_before_any_request(
        shell, capsys, env_sandbox):
    ok, out = _magic(shell, capsys, "%pool_delete pool-01 --user-id 'a b'")
    assert not ok and "InvalidName: invalid tenant id 'a b'" in out
    assert len(out.strip().splitlines()) == 1 and env_sandbox.requests == []


# -- workspace authentication ------------------------------------------------------------------


def _research(sb) -> str:
    return next(p for p in sb.pool_ids(None) if p not in sb.pool_ids())


def test_a_refused_tenant_gets_one_line_naming_tenant_workspace_and_the_way_back(
        shell, capsys, env_sandbox, monkeypatch):
    sb = env_sandbox
    pool = _research(sb)
    workspace = sb.pool_json(pool)["metadata"]["labels"]["os.modelarts/workspace.id"]
    ok, out = _magic(shell, capsys, f"%pool_delete {pool} --user-id intruder-1")
    line = out.strip()
    assert not ok and len(line.splitlines()) == 1
    assert line.startswith("PermissionDenied: reading pool")
    for piece in ("tenant intruder-1", workspace, "ask the workspace's owner to admit tenant",
                  "run it without --user-id", "IAM permissions alone decide", "ModelArts.5014"):
        assert piece in line
    monkeypatch.setenv("MODELARTS_USER_ID", "intruder-2")
    _, out = _magic(shell, capsys, f"%pool_delete {pool}")
    assert "unset MODELARTS_USER_ID" in out and "tenant intruder-2" in out
    assert sb.count(method="DELETE") == 0


def test_a_refused_delete_names_the_workspace_read_before(sandbox):
    pool = _research(sandbox)
    workspace = sandbox.pool_json(pool)["metadata"]["labels"]["os.modelarts/workspace.id"]
    settings = Settings(sandbox.endpoint, sandbox.project_id, Credentials(sandbox.ak, sandbox.sk),
                        user_id="intruder", sources={"user_id": "explicit arguments"})
    with make_client(sandbox) as plain, type(plain)(settings) as client:
        client.list_pools(workspace=workspace)  # no tenant header on a list: IAM alone
        with pytest.raises(PermissionDenied) as caught:
            client.send_delete(pool)
    assert f"for workspace {workspace}:" in str(caught.value)
    assert sandbox.accepted_deletes(pool) == 0


def test_without_the_header_iam_alone_decides_and_an_admitted_tenant_passes(sandbox):
    pool = _research(sandbox)
    with make_client(sandbox) as client:
        assert client.get_pool(pool).id == pool
    admitted = Settings(sandbox.endpoint, sandbox.project_id,
                        Credentials(sandbox.ak, sandbox.sk), user_id=sandbox.research_tenant)
    with make_client(sandbox) as plain, type(plain)(admitted) as client:
        assert client.get_pool(pool).id == pool
        assert client.send_delete(pool) is not None
    assert sandbox.accepted_deletes(pool) == 1


def test_allowed_tenants_are_never_listed_and_a_typo_in_auth_type_is_refused(sandbox):
    assert all("allowed_tenants" not in w for w in sandbox.workspaces())
    with pytest.raises(ValueError):
        sandbox.add_workspace("typo", auth_type="PUBLIK")


# -- Huawei's own SDK against the sandbox ------------------------------------------------------


@pytest.fixture
def sdk_sandbox(monkeypatch, sandboxes):
    for name in list(os.environ):
        if name.upper().startswith(("HUAWEICLOUD_", "HC_CONTAINER_")) or name.upper().endswith(
                "_PROXY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    sb = sandboxes(delete_seconds=30)
    config = HttpConfig.get_default_config()
    config.timeout, config.retry_times = (5, 5), 0
    client = (ModelArtsClient.new_builder()
              .with_credentials(BasicCredentials(sb.ak, sb.sk, sb.project_id))
              .with_endpoint(sb.endpoint).with_http_config(config).build())
    return sb, client


def test_official_sdk_with_an_admitted_tenant_shows_and_deletes(sdk_sandbox):
    sb, client = sdk_sandbox
    pool = _research(sb)
    shown = client.show_pool(ShowPoolRequest(pool_name=pool,
                                             x_model_arts_user_id=sb.research_tenant))
    assert shown.metadata.name == pool
    deleted = client.delete_pool(DeletePoolRequest(pool_name=pool,
                                                   x_model_arts_user_id=sb.research_tenant))
    assert deleted.status.phase == "Deleting" and deleted.metadata.deletion_timestamp
    assert [(r.method, r.status, r.headers[HEADER]) for r in sb.requests] == [
        ("GET", 200, sb.research_tenant), ("DELETE", 200, sb.research_tenant)]
    assert all(HEADER in r.signed_headers for r in sb.requests)


@pytest.mark.parametrize("call", ["show", "delete"])
def test_official_sdk_with_a_refused_tenant_gets_the_chosen_403(sdk_sandbox, call):
    sb, client = sdk_sandbox
    pool = _research(sb)
    request = (ShowPoolRequest if call == "show" else DeletePoolRequest)(
        pool_name=pool, x_model_arts_user_id="intruder")
    with pytest.raises(ClientRequestException) as caught:
        (client.show_pool if call == "show" else client.delete_pool)(request)
    assert caught.value.status_code == WORKSPACE_DENIED_STATUS
    assert caught.value.error_code == WORKSPACE_DENIED["error_code"]
    assert sb.accepted_deletes(pool) == 0
    # the pool of a PUBLIC workspace admits any tenant
    (public,) = sb.display_names()["pool-01"]
    assert client.show_pool(ShowPoolRequest(pool_name=public, x_model_arts_user_id="intruder"))


# -- receipts and the server's deletion time ---------------------------------------------------


def test_receipts_record_the_tenant_and_the_servers_deletion_time(shell, capsys, env_sandbox):
    sb = env_sandbox
    (pool_id,) = sb.display_names()["pool-02"]
    ok, out = _magic(shell, capsys,
                     f"%pool_delete {pool_id} --yes --no-wait --no-widgets --user-id {TENANT}")
    assert ok, out
    taken = sb.pool_json(pool_id)["metadata"]["deletionTimestamp"]
    moment = datetime.fromisoformat(taken.replace("Z", "+00:00"))
    assert f"The server took the deletion at {moment:%Y-%m-%d %H:%M:%S} UTC." in out
    rows, _ = read_history(pool_id)
    assert len(rows) == 1 and rows[0]["tenant"] == TENANT
    recorded = datetime.fromisoformat(rows[0]["server_deletion"].replace("Z", "+00:00"))
    assert recorded == moment
    events = [json.loads(line) for line in location().read_text().splitlines()]
    assert [e["event"] for e in events] == ["sent", "final"]
    assert events[0]["tenant"] == TENANT and events[1]["server_deletion"] == rows[0][
        "server_deletion"]


def test_a_watched_deletion_keeps_the_first_deletion_time_it_saw(shell, capsys, env_sandbox):
    sb = env_sandbox
    (pool_id,) = sb.display_names()["pool-03"]
    ok, out = _magic(shell, capsys, f"%pool_delete {pool_id} --yes --no-widgets")
    assert ok and "DELETED" in out and "The server took the deletion at" in out
    rows, _ = read_history(pool_id)
    assert rows[0]["outcome"] == "deleted" and rows[0]["server_deletion"]
    assert rows[0]["tenant"] is None  # none was sent


def test_the_panel_says_when_the_server_took_the_deletion(shell, capsys, env_sandbox):
    sb = env_sandbox
    (pool_id,) = sb.display_names()["pool-01"]
    result = shell.run_cell(f"p = %pool_delete {pool_id} --yes --no-wait")
    capsys.readouterr()
    panel = shell.user_ns["p"]
    try:
        assert result.success
        taken = sb.pool_json(pool_id)["metadata"]["deletionTimestamp"]
        moment = datetime.fromisoformat(taken.replace("Z", "+00:00"))
        said = f"The server took the deletion at {moment:%Y-%m-%d %H:%M:%S} UTC."
        assert said in html.unescape(panel.status.value)
        assert said in panel._static_copy()[0]  # the saved copy says it too
    finally:
        panel.close()


def test_pools_sends_the_tenant_id_on_the_pools_get_and_delete(shell, capsys, env_sandbox):
    sb = env_sandbox
    (pool_id,) = sb.display_names()["pool-01"]
    ok, out = _magic(shell, capsys, f"%pools --name pool-01 --user-id {TENANT} --delete")
    assert ok and f"--user-id {TENANT} --delete --yes" in out  # the line to copy keeps it
    ok, out = _magic(shell, capsys, f"%pools --name pool-01 --user-id {TENANT} --delete --yes "
                                    "--interval 0.05")
    about_pool = [r for r in sb.requests if r.path.endswith(f"/pools/{pool_id}")]
    assert ok and {r.method for r in about_pool} == {"GET", "DELETE"}, out
    assert all(r.headers.get(HEADER) == TENANT and HEADER in r.signed_headers
               for r in about_pool)
