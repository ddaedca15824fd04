"""Credential and endpoint resolution: order, sources reported, secrets never shown."""

from __future__ import annotations

import sys
import textwrap

import pytest

from modelarts_nb import (
    ConfigError,
    Credentials,
    InvalidName,
    PoolsClient,
    Settings,
    resolve_settings,
)
from modelarts_nb.gateway.settings import endpoint_for_region

AK, SK, TOKEN = "ENVAK000000000000001", "envsecret0000000000000000000000000000001", "iamtoken-abc"
PID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def no_profile(tmp_path):
    return {"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(tmp_path / "absent")}


@pytest.fixture
def full_env(no_profile):
    return {
        **no_profile,
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": SK,
        "HUAWEICLOUD_SDK_PROJECT_ID": PID,
        "MODELARTS_REGION": "cn-north-4",
    }


def test_environment_source(full_env):
    s = resolve_settings(env=full_env)
    assert s.endpoint == "https://modelarts.cn-north-4.myhuaweicloud.com"
    assert s.project_id == PID and s.region == "cn-north-4"
    assert s.credentials.access_key == AK and s.credentials.source == "environment"
    text = s.describe()
    assert "AK/SK from environment" in text and PID in text
    for secret in (AK, SK):
        assert secret not in text and secret not in repr(s)


def test_explicit_arguments_win(full_env):
    s = resolve_settings(
        access_key="ARGAK",
        secret_key="ARGSK",
        project_id="p1",
        endpoint="https://x.example",
        env=full_env,
    )
    assert (s.credentials.access_key, s.project_id, s.endpoint) == (
        "ARGAK",
        "p1",
        "https://x.example",
    )
    assert s.sources["project_id"] == "explicit arguments"


def test_token_and_temporary_credentials(no_profile):
    env = {
        **no_profile,
        "MODELARTS_AUTH_TOKEN": TOKEN,
        "HUAWEICLOUD_SDK_PROJECT_ID": PID,
        "MODELARTS_ENDPOINT": "https://modelarts.example.com/",
    }
    s = resolve_settings(env=env)
    assert s.credentials.kind == "IAM token" and s.endpoint == "https://modelarts.example.com"
    temp = resolve_settings(
        access_key="A",
        secret_key="S",
        security_token="T",
        project_id=PID,
        region="cn-east-3",
        env=no_profile,
    )
    assert temp.credentials.kind == "temporary AK/SK"


@pytest.mark.parametrize("section", ["basic", "basiccredentials", "BasicCredentials"])
def test_profile_file(tmp_path, section):
    profile = tmp_path / "credentials"
    profile.write_text(
        textwrap.dedent(f"""
        [{section}]
        ak = PROFAK
        sk = PROFSK
        project_id = {PID}
    """)
    )
    env = {"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(profile), "MODELARTS_REGION": "cn-north-4"}
    s = resolve_settings(env=env)
    assert s.credentials.access_key == "PROFAK"
    assert s.credentials.source == f"profile file {profile}"
    assert s.sources["region"] == "environment"


def test_half_a_key_pair_is_named(no_profile):
    with pytest.raises(ConfigError, match="secret key \\(SK\\) is missing"):
        resolve_settings(env={**no_profile, "HUAWEICLOUD_SDK_AK": AK})


def test_missing_everything_names_each_piece(no_profile):
    with pytest.raises(ConfigError) as info:
        resolve_settings(env=no_profile, use_notebook_session=False)
    text = str(info.value)
    for piece in (
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_PROJECT_ID",
        "MODELARTS_REGION",
        "nothing was sent",
    ):
        assert piece in text


def test_modelarts_notebook_session(tmp_path, monkeypatch, no_profile):
    pkg = tmp_path / "standin" / "modelarts"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "session.py").write_text(
        textwrap.dedent(f"""
        class Session:
            access_key = "SESSAK"
            secret_key = "SESSSK"
            security_token = "SESSTOKEN"
            project_id = "{PID}"
            region_name = "ap-southeast-1"
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path / "standin"))
    monkeypatch.delitem(sys.modules, "modelarts", raising=False)
    monkeypatch.delitem(sys.modules, "modelarts.session", raising=False)
    s = resolve_settings(env=no_profile)
    assert s.credentials.source == "ModelArts notebook session"
    assert s.credentials.kind == "temporary AK/SK"
    assert s.endpoint == "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    assert "SESSSK" not in s.describe() + repr(s)


def test_region_endpoint_override_variable():
    env = {"HUAWEICLOUD_SDK_REGION_MODELARTS_CN_NORTH_4": "https://ma.internal.example,https://b"}
    assert endpoint_for_region("cn-north-4", env) == "https://ma.internal.example"
    assert endpoint_for_region("la-south-2", {}) == "https://modelarts.la-south-2.myhuaweicloud.com"


@pytest.mark.parametrize(
    "endpoint",
    ["http://modelarts.example.com", "ftp://x", "https://u:p@x.example", "https://x?y=1", "x y"],
)
def test_bad_endpoints_are_refused(no_profile, endpoint):
    with pytest.raises(InvalidName):
        resolve_settings(
            access_key="A", secret_key="S", project_id=PID, endpoint=endpoint, env=no_profile
        )


def test_plain_http_is_allowed_on_loopback(no_profile):
    for endpoint in ("http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9"):
        s = resolve_settings(
            access_key="A", secret_key="S", project_id=PID, endpoint=endpoint, env=no_profile
        )
        assert s.endpoint == endpoint


def test_client_from_env_reports_source_and_hides_secret(full_env, monkeypatch):
    for key, value in full_env.items():
        monkeypatch.setenv(key, value)
    with PoolsClient.from_env() as client:
        text = repr(client) + client.settings.describe() + repr(client.keys.current.auth)
    assert "environment" in text
    assert AK not in text and SK not in text


def test_explicit_region_beats_an_endpoint_from_the_environment(no_profile):
    env = {**no_profile, "HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK,
           "HUAWEICLOUD_SDK_PROJECT_ID": PID, "MODELARTS_ENDPOINT": "https://ma.internal.example",
           "MODELARTS_REGION": "cn-east-3"}
    s = resolve_settings(region="la-south-2", env=env, use_notebook_session=False)
    assert s.endpoint == "https://modelarts.la-south-2.myhuaweicloud.com"
    assert s.region == "la-south-2" and "explicit arguments" in s.describe()
    s = resolve_settings(endpoint="https://other.example", env=env, use_notebook_session=False)
    assert s.endpoint == "https://other.example" and s.region is None
    s = resolve_settings(env=env, use_notebook_session=False)  # same source: endpoint wins
    assert s.endpoint == "https://ma.internal.example" and s.region == "cn-east-3"


def test_magic_region_flag_beats_the_environment_endpoint(shell, capsys, env_sandbox,
                                                          monkeypatch, sandboxes):
    """--region names another region than MODELARTS_ENDPOINT (sandbox A): the request goes to
    that region's endpoint (sandbox B, through the SDK's per-region override), never to A."""
    other = sandboxes(pools=1)
    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_MODELARTS_XX_TEST_9", other.endpoint)
    env_sandbox.clear_requests()
    result = shell.run_cell("%pool_delete pool-01 --region xx-test-9 --no-widgets")
    out = capsys.readouterr()
    assert result.success, out.out + out.err
    assert env_sandbox.count() == 0 and other.count(method="GET") >= 1


@pytest.mark.parametrize("spelling", ["HTTP://127.0.0.1:{port}", "http://LOCALHOST:{port}",
                                      "http://127.0.0.1:{port}/", "Http://LocalHost:{port}"])
def test_loopback_is_decided_on_the_parsed_host_never_through_a_proxy(monkeypatch, spelling,
                                                                     sandboxes):
    """A proxy in the environment (a dead port here) must never see loopback traffic, whatever
    the spelling: it would carry the Authorization and security-token headers in clear."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sb = sandboxes(pools=1)
    creds = Credentials(sb.ak, sb.sk)
    endpoint = spelling.format(port=sb.port)
    with PoolsClient(Settings(endpoint, sb.project_id, creds)) as client:
        assert client.list_pools()
    assert sb.count(method="GET") == 1


@pytest.mark.parametrize("endpoint", ["http://example.com", "http://127.0.0.1.example.com",
                                      "http://[::1].evil", "https://u:p@x.example",
                                      "http://localhost.", "https://x.example:99999",
                                      "https://x_y.example"])
def test_settings_built_by_hand_are_checked_like_resolved_ones(endpoint):
    with pytest.raises(InvalidName):
        Settings(endpoint, PID, Credentials("A", "S"))
    with pytest.raises(InvalidName):
        Settings("https://ok.example", "../other", Credentials("A", "S"))
