"""Secret audit: recognisable AK, SK, security token and IAM token must appear in no repr, log
record (at DEBUG), exception text, stdout/stderr or widget state — on success and on failure."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from modelarts_nb import Credentials, ModelArtsError, PoolsClient, Settings, resolve_settings
from modelarts_nb.gateway.auth import AkSkAuth, TokenAuth
from modelarts_nb.sandbox import Fault

AK = "AKAUDIT7Q2W3E4R5T6Y7"
SK = "SKAUDITzxcvbnmasdfghjklqwertyuiop12345678"
STOKEN = "STOKENAUDIT-" + "s" * 40
TOKEN = "IAMTOKENAUDIT-" + "t" * 60
SECRETS = (AK, SK, STOKEN, TOKEN)


@pytest.fixture
def sb(sandboxes):
    return sandboxes(
        pools=1, delete_seconds=0.3, ak=AK, sk=SK, token=TOKEN, security_token=STOKEN
    )


def assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (
                f"secret leaked: ...{text[max(0, text.find(secret) - 40) :][:80]}"
            )


def everything_we_can_print(client: PoolsClient) -> list[str]:
    settings = client.settings
    return [
        repr(client),
        repr(settings),
        str(settings),
        settings.describe(),
        repr(settings.credentials),
        repr(client.keys.current.auth),
        repr(client._client()),
    ]


def test_success_and_failure_paths_leak_nothing(sb, caplog, capsys):
    settings = resolve_settings(
        access_key=AK,
        secret_key=SK,
        security_token=STOKEN,
        project_id=sb.project_id,
        endpoint=sb.endpoint,
        env={"HUAWEICLOUD_SDK_CREDENTIALS_FILE": "/nonexistent"},
    )
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), PoolsClient(settings) as client:
        texts += everything_we_can_print(client)
        pool_id = sb.pool_ids()[0]
        client.get_pool(pool_id)
        client.delete_pool(pool_id)
        client.wait_until_deleted(pool_id, timeout=10, interval=0.05)
        for fault in (
            Fault(status=401),
            Fault(status=500),
            Fault(html=True, times=9),
            Fault(drop="before", times=9),
        ):
            sb.inject(fault)
            try:
                client.list_pools()
            except ModelArtsError as exc:
                texts += [str(exc), repr(exc), "".join(exc._render_traceback_())]
            sb.clear_faults()
    wrong = Settings(sb.endpoint, sb.project_id, Credentials(AK, SK + "x", STOKEN))
    with caplog.at_level(logging.DEBUG), PoolsClient(wrong) as client:
        with pytest.raises(ModelArtsError) as info:
            client.list_pools()
        texts += [str(info.value), repr(info.value.__dict__)]
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err, repr(sb.requests)]
    texts += [json.dumps(record.to_json()) for record in sb.requests]
    assert_clean(*texts)
    assert "httpx" in caplog.text or "modelarts_nb" in caplog.text  # DEBUG logging did run


def test_token_auth_paths_leak_nothing(sb, caplog):
    settings = Settings(sb.endpoint, sb.project_id, Credentials(token=TOKEN))
    with caplog.at_level(logging.DEBUG), PoolsClient(settings) as client:
        client.list_pools()
        texts = everything_we_can_print(client)
    assert_clean(*texts, caplog.text)


def test_httpx_header_reprs_mask_huawei_token_headers():
    request = httpx.Request(
        "GET", "https://x/v2/p/pools", headers={"X-Auth-Token": TOKEN, "X-Security-Token": STOKEN}
    )
    AkSkAuth(AK, SK, project_id="p", security_token=STOKEN).sign(request)
    assert_clean(repr(request.headers), repr(request), repr(TokenAuth(TOKEN)))


def test_config_errors_name_variables_not_values(tmp_path):
    env = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(tmp_path / "x")}
    with pytest.raises(ModelArtsError) as info:
        resolve_settings(env=env, use_notebook_session=False)
    assert "HUAWEICLOUD_SDK_SK" in str(info.value)
    assert_clean(str(info.value))


def test_magic_and_panel_leak_nothing(sb, shell, capsys, monkeypatch, tmp_path):
    from ipywidgets.embed import embed_data

    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("MODELARTS_AUTH_TOKEN", TOKEN)
    shell.run_cell("p = %pool_delete pool-01 --interval 0.05")
    panel = shell.user_ns["p"]
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    panel.flow.join(10)
    shell.run_cell("%pool_delete pool-01 --no-widgets")  # gone now: a one-line error
    shell.run_cell("%pool_delete pool-01 --debug")  # and its full traceback
    out = capsys.readouterr()
    state = json.dumps(embed_data(views=[panel])["manager_state"])
    assert_clean(out.out, out.err, state, json.dumps(panel.mimebundle()))
