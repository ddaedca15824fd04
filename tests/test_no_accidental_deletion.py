"""Nothing is deleted by accident: filters that must narrow, ids that must not be reinterpreted,
one endpoint per server, errors that carry no secret.

Over real HTTP against the sandbox, from the magics a user types.
"""

from __future__ import annotations

import copy

import pytest

from modelarts_nb import Filters


def narrows(pattern: str) -> bool:
    return Filters(name=pattern).narrows()


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


@pytest.mark.parametrize("pattern", ["*", "**", "?*", "[a-z]*", "*[0-9a-f]*", "[!x]*?"])
def test_a_match_everything_name_is_not_a_filter(shell, capsys, env_sandbox, pattern):
    assert not narrows(pattern)
    result, out = run(shell, capsys, f"%pools --name '{pattern}' --delete --yes")
    assert not result.success and "leaves pools out" in out
    assert env_sandbox.count() == 0


@pytest.mark.parametrize("pattern", ["pool-0*", "*-01", "team-shared", "p?ol-*"])
def test_patterns_with_a_literal_part_are_filters(pattern):
    assert narrows(pattern)


def test_a_deleted_id_never_becomes_the_pool_displayed_under_that_name(shell, capsys,
                                                                        env_sandbox):
    """Pool A is deleted; pool B's display name happens to be A's id. Re-running
    ``%pool_delete <A's id> --yes`` must not delete B — it may point at B."""
    sb = env_sandbox
    a_id = next(i for i in sb.pool_ids() if i.startswith("pool-01"))
    b_body = copy.deepcopy(sb.pool_json(next(i for i in sb.pool_ids() if i.startswith("pool-02"))))
    b_body["metadata"]["labels"]["os.modelarts/name"] = a_id
    b_id = sb.add_pool(b_body)
    sb.remove_pool(a_id)
    sb.clear_requests()
    result, out = run(shell, capsys, f"%pool_delete {a_id} --yes")
    assert not result.success and sb.count(method="DELETE") == 0
    assert "PoolNotFound" in out and b_id in out and "give its id" in out
    for line in (f"%pool_delete {a_id}", f"%pool_delete {a_id} --no-widgets"):
        run(shell, capsys, line)
    assert sb.count(method="DELETE") == 0


def test_an_answer_about_another_pool_is_refused(env_sandbox, shell, capsys):
    from modelarts_nb.sandbox import Fault

    sb = env_sandbox
    a_id = next(i for i in sb.pool_ids() if i.startswith("pool-01"))
    other = sb.pool_json(next(i for i in sb.pool_ids() if i.startswith("pool-02")))
    sb.inject(Fault(method="GET", pool=a_id, status=200, body=other))
    result, out = run(shell, capsys, f"%pool_delete {a_id} --yes")
    assert not result.success and "instead; nothing was deleted" in out
    assert sb.count(method="DELETE") == 0


@pytest.mark.parametrize("xmode", ["Verbose", "Context", "Plain", "Minimal"])
def test_unexpected_errors_show_no_secret_under_any_xmode(shell, capsys, env_sandbox,
                                                         monkeypatch, xmode):
    """A non-ASCII AK makes httpx raise UnicodeEncodeError (not one of ours) while the signing
    frames hold the SK: the cell must show one line without any value."""
    secret = "VerySecretSK" + "9" * 28
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "ÄKNONASCII0000000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", secret)
    run(shell, capsys, f"%xmode {xmode}")
    try:
        result, out = run(shell, capsys, "%pool_delete pool-01 --yes")
    finally:
        run(shell, capsys, "%xmode Context")
    assert not result.success
    assert secret not in out and "ÄKNONASCII" not in out
    assert "unexpected UnicodeEncodeError" in out and out.strip().count("\n") <= 1, out
    _, debug = run(shell, capsys, "%pool_delete pool-01 --yes --debug")
    assert secret not in debug and "Traceback" in debug


def test_the_same_endpoint_spelled_two_ways_is_one_endpoint_for_the_registry(sandbox):
    """Two panels for one pool, their endpoints spelled differently: the newer one retires the
    older, and only one DELETE is ever sent."""
    from modelarts_nb import PoolsClient
    from modelarts_nb.deletion.flow import DeleteFlow, Step
    from modelarts_nb.gateway.settings import Credentials, Settings

    pool_id = next(i for i in sandbox.pool_ids() if i.startswith("pool-01"))

    def flow(endpoint: str) -> DeleteFlow:
        client = PoolsClient(Settings(endpoint, sandbox.project_id,
                                      Credentials(sandbox.ak, sandbox.sk)))
        return DeleteFlow(client, client.get_pool(pool_id), interval=0.1)

    older = flow(f"HTTP://127.0.0.1:{sandbox.port}/")
    newer = flow(f"http://127.0.0.1:{sandbox.port}")
    assert older.key == newer.key and older.step is Step.CANCELLED
    older.delete_now(background=False, wait=False)  # a retired panel sends nothing
    newer.delete_now(background=False, wait=False)
    assert sandbox.count(method="DELETE") == 1


@pytest.mark.parametrize("spelled,canonical", [
    ("HTTP://LocalHost:8765/", "http://localhost:8765"),
    ("https://MA.Example:443", "https://ma.example"),
    ("https://ma.example:8443/v/", "https://ma.example:8443/v"),
    ("http://[::1]:9", "http://[::1]:9"),
])
def test_endpoints_have_one_spelling(spelled, canonical):
    from modelarts_nb.gateway.names import check_endpoint

    assert check_endpoint(spelled) == canonical


def test_server_strings_never_break_our_one_line_errors(shell, capsys, env_sandbox):
    """A display name (or an id in a list) with newlines and an escape sequence: every error
    that quotes it is still one line."""
    sb = env_sandbox
    prepaid = copy.deepcopy(sb.pool_json(next(i for i in sb.pool_ids()
                                              if i.startswith("prepaid"))))
    prepaid["metadata"]["labels"]["os.modelarts/name"] = "evil\nFAKE: all good\x1b[2K"
    sb.add_pool(prepaid)
    result, out = run(shell, capsys, f"%pool_delete {prepaid['metadata']['name']} --yes")
    assert not result.success and "DeletionRefused" in out
    assert out.strip().count("\n") == 0 and "\x1b" not in out, out
    gone = "gone-" + "0" * 32
    shadow = copy.deepcopy(prepaid)
    shadow["metadata"]["name"] = "odd\nid-" + "1" * 32
    shadow["metadata"]["labels"]["os.modelarts/name"] = gone
    from modelarts_nb.sandbox import Fault

    sb.inject(Fault(method="GET", list_only=True, status=200, body={"items": [shadow]}))
    result, out = run(shell, capsys, f"%pool_delete {gone} --yes")
    assert not result.success and "PoolNotFound" in out and "give its id" in out
    assert out.strip().count("\n") == 0, out
    assert sb.count(method="DELETE") == 0
