"""Numbers and strings from users and servers that once broke a promise (issue #9, item 9).

Over real HTTP against the sandbox's fault injection: every number is finite and in range,
bodies are depth- and size-capped, every server string is one line in an error and escaped in HTML.
"""

from __future__ import annotations

import pytest
from conftest import make_client

from modelarts_nb import ApiError, Pool, ServerError
from modelarts_nb.gateway.retry import parse_retry_after
from modelarts_nb.sandbox import Fault


def pool_01(sb) -> str:
    return next(i for i in sb.pool_ids() if i.startswith("pool-01"))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "NaN", "-5"])
def test_retry_after_that_is_no_number_of_seconds(value):
    parsed = parse_retry_after(value)
    assert parsed is None or parsed == 0.0


def test_retry_after_nan_on_a_real_answer_is_survived(sandbox):
    sandbox.inject(Fault(method="GET", status=503, retry_after="nan"))
    with make_client(sandbox) as client:
        assert client.get_pool(pool_01(sandbox)).phase == "Running"
    assert [r.status for r in sandbox.requests] == [503, 200]


def test_deeply_nested_answer_is_one_line_not_a_recursion_traceback(sandbox):
    sandbox.inject(Fault(method="GET", status=200, body=b"[" * 200_000, times=4))
    with make_client(sandbox) as client, pytest.raises(ApiError) as info:
        client.get_pool(pool_01(sandbox))
    assert "not valid JSON" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("answer", [{}, {"metadata": {"name": "another-pool-" + "0" * 30}}])
def test_delete_answered_about_no_pool_or_another_is_read_back(sandbox, answer):
    """A 200 that names no pool (or another) proves nothing: the pool is read back, and the
    outcome comes from that read — never 'nothing was sent'."""
    pool_id = pool_01(sandbox)
    sandbox.inject(Fault(method="DELETE", status=200, body=answer))
    with make_client(sandbox) as client:
        result = client.delete_pool(pool_id)
    assert result is not None and result.id == pool_id
    assert [r.method for r in sandbox.requests] == ["GET", "DELETE", "GET", "DELETE"]


@pytest.mark.parametrize("code", ["Model\nArts.0001", "<script>x</script>", "X" * 2000,
                                  "a\r\nSet-Cookie: y", "\x1b[31mred"])
def test_server_error_code_stays_on_one_line(sandbox, code):
    sandbox.inject(Fault(method="GET", status=500, body={
        "error_code": code, "error_msg": "line one\nline two " * 300, "request_id": "r\nid"},
        times=4))
    with make_client(sandbox) as client, pytest.raises(ServerError) as info:
        client.get_pool(pool_01(sandbox))
    text = str(info.value)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text
    assert len(text) < 900


def test_billing_label_is_escaped_in_the_pools_panel():
    from modelarts_nb.notebook.pools_rows import row_html

    pool = Pool.from_api({"metadata": {"name": "p" * 40, "annotations": {
        "os.modelarts/billing.mode": "<img src=x onerror=alert(1)>"}}})
    row = row_html(pool)
    assert "<img" not in row


@pytest.mark.parametrize("flag", ["--interval nan", "--interval inf", "--interval 0",
                                  "--interval -1", "--timeout nan", "--timeout 1e308",
                                  "--interval 1e-9"])
def test_magic_numbers_are_finite_and_in_range(shell, capsys, env_sandbox, flag):
    result = shell.run_cell(f"%pool_delete pool-01 --yes {flag}")
    out = capsys.readouterr()
    assert not result.success and "must be" in out.out + out.err
    assert env_sandbox.count() == 0
