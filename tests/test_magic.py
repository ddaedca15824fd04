"""%pool_delete in a headless IPython shell against the sandbox: what was printed, what was sent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import our_threads, sandbox_in_env, until

from modelarts_nb import Step
from modelarts_nb.notebook.panel import DeletePanel


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


def deletes(sb):
    return sb.count(method="DELETE")


def test_help_lists_every_option(shell, capsys):
    _, out = run(shell, capsys, "%pool_delete?")
    usage = out[out.index("%pool_delete ["):out.index("Show a ModelArts")]
    assert usage.split()[-1] == "pool", usage  # the pool is the one positional argument
    for option in (
        "--project-id",
        "--region",
        "--endpoint",
        "--yes",
        "--no-wait",
        "--timeout",
        "--interval",
        "--no-widgets",
        "--debug",
    ):
        assert option.lower() in out.lower()


def test_returns_panel_and_sends_no_delete(shell, capsys, env_sandbox):
    result, _ = run(shell, capsys, "p = %pool_delete train-gpu")
    assert result.success
    panel = shell.user_ns["p"]
    assert isinstance(panel, DeletePanel) and panel.flow.step is Step.REVIEW
    assert panel.flow.pool.display_name == "train-gpu"
    # reads only: one lookup of the name among the pools, then the panel's check of what this
    # pool runs (workloads, nodes, sub-pools) in the background, begun or not by now
    requests = env_sandbox.requests
    lookups = [r for r in requests if r.path.endswith("/pools") and not r.query]
    checks = [r for r in requests if r not in lookups]
    assert {r.method for r in requests} == {"GET"} and len(lookups) == 1, requests
    assert all(panel.flow.pool.id in r.path + r.query for r in checks), checks


def test_variable_expansion_and_pool_id(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["infer-cpu"]
    shell.user_ns["name"] = pool_id
    run(shell, capsys, "a = %pool_delete $name")
    run(shell, capsys, "b = %pool_delete {name.upper().lower()}")
    assert shell.user_ns["a"].flow.pool.id == pool_id == shell.user_ns["b"].flow.pool.id
    assert deletes(env_sandbox) == 0


@pytest.mark.parametrize(
    "line,text",
    [
        ("%pool_delete no-such-pool", "PoolNotFound: no pool with id or display name"),
        ("%pool_delete ../../x", "InvalidName"),
        ("%pool_delete", "UsageError"),
        ("%pool_delete train-gpu --timeout -1", "UsageError"),
        ("%pool_delete prepaid-pool --yes", "DeletionRefused: pool prepaid-pool"),
        ("%pool_delete frozen-pool --yes --no-widgets", "frozen"),
    ],
)
def test_errors_fail_the_cell_with_one_line(shell, capsys, env_sandbox, line, text):
    result, out = run(shell, capsys, line)
    assert not result.success and result.error_in_exec is not None
    assert text in out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert deletes(env_sandbox) == 0


@pytest.mark.parametrize("mode", ["", " --no-widgets", " --yes"])
def test_shared_display_name_fails_in_one_line_telling_each_candidate_apart(
        shell, capsys, env_sandbox, mode):
    """Each candidate with what tells them apart (id, phase, created, nodes), in the one error
    line; nothing sent."""
    result, out = run(shell, capsys, f"%pool_delete team-shared{mode}")
    assert not result.success and "Traceback" not in out
    (error,) = out.strip().splitlines()
    assert error.startswith("InvalidName: 2 pools are named 'team-shared'")
    for pool_id in env_sandbox.display_names()["team-shared"]:
        created = env_sandbox.pool_json(pool_id)["metadata"]["creationTimestamp"]
        told = f"{pool_id}: Running, created {created[:10]} {created[11:16]} UTC, 1 node"
        assert told in error, error
    assert deletes(env_sandbox) == 0


def test_shared_display_name_table_for_the_panel_escapes_server_text():
    from modelarts_nb.gateway.models import Pool
    from modelarts_nb.notebook.render import candidates_html

    pools = [Pool.from_api({"metadata": {"name": f"p{i}-{'a' * 32}",
                                         "creationTimestamp": "2026-03-01T10:00:00Z"},
                            "status": {"phase": "<img src=x onerror=alert(1)>"}})
             for i in range(2)]
    table = candidates_html("<b>x</b>", pools)
    assert "<img" not in table and "<b>x</b>" not in table
    assert table.count("<tr>") == 3 and "2026-03-01 10:00 UTC" in table


def test_no_credentials_names_what_is_missing(shell, capsys, monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("HUAWEICLOUD_", "MODELARTS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(tmp_path / "none"))
    result, out = run(shell, capsys, "%pool_delete train-gpu")
    assert not result.success
    assert "ConfigError: missing credentials" in out and "HUAWEICLOUD_SDK_AK" in out
    assert "Traceback" not in out


def test_wrong_secret_one_line_one_request(shell, capsys, env_sandbox, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "not-the-secret-000000000000000000000000")
    result, out = run(shell, capsys, "%pool_delete train-gpu --yes")
    assert isinstance(result.error_in_exec, Exception)
    assert "AuthenticationError" in out and "APIGW.0301" in out and "request id" in out
    assert env_sandbox.count() == 1 and deletes(env_sandbox) == 0
    assert "not-the-secret" not in out


def test_debug_shows_the_traceback(shell, capsys, env_sandbox):
    result, out = run(shell, capsys, "%pool_delete no-such-pool --debug")
    assert not result.success and "Traceback" in out and "PoolNotFound" in out


def test_text_mode_without_yes_prints_tables_and_confirm_line(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["train-gpu"]
    result, out = run(shell, capsys, "%pool_delete train-gpu --no-widgets")
    assert result.success and result.result is None
    assert "spec.resources:" in out and "status.resources:" in out and "abnormal" in out
    assert f"%pool_delete {pool_id} --yes" in out and "Nothing was deleted" in out
    assert deletes(env_sandbox) == 0


def test_text_mode_yes_deletes_once_and_watches(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["pool-01"]
    result, out = run(shell, capsys, "%pool_delete pool-01 --no-widgets --yes --interval 0.2")
    assert result.success
    assert "WATCHING" in out and out.strip().splitlines()[-1].startswith("DELETED: pool pool-01")
    assert env_sandbox.accepted_deletes(pool_id) == 1 and deletes(env_sandbox) == 1
    assert env_sandbox.pool_json(pool_id) is None


def test_widget_mode_yes_shows_panel_deletes_once(shell, capsys, env_sandbox):
    result, out = run(shell, capsys, "p = %pool_delete pool-02 --yes --interval 0.2")
    panel = shell.user_ns["p"]
    assert result.success and panel.flow.step is Step.DELETED
    assert "DELETED: pool pool-02" in out and "Deleted" in panel.status.value
    assert deletes(env_sandbox) == 1


def test_no_wait_returns_once_accepted(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["pool-03"]
    env_sandbox.store.delete_seconds = 60  # still Deleting when looked at, however slow
    result, out = run(shell, capsys, "p = %pool_delete pool-03 --yes --no-wait")
    assert result.success and shell.user_ns["p"].flow.step is Step.ACCEPTED
    assert env_sandbox.pool_json(pool_id)["status"]["phase"] == "Deleting"
    assert deletes(env_sandbox) == 1 and "--no-wait" in out


def test_already_deleting_pool_is_watched_not_deleted(shell, capsys, monkeypatch, tmp_path):
    # the seeded Deleting pool lasts 4 s: long enough to be read on a loaded machine (with the
    # usual 0.6 s it was sometimes gone before the magic ran), short enough to watch it go
    with sandbox_in_env(monkeypatch, tmp_path, pools=3, delete_seconds=0.6,
                        seeded_deleting_seconds=4) as sb:
        run(shell, capsys, "p = %pool_delete leaving-pool --interval 0.2")
        panel = shell.user_ns["p"]
        panel.flow.join(10)
        assert panel.flow.step is Step.DELETED
        assert deletes(sb) == 0


def test_terminal_ipython_prints_text_and_sends_no_delete(env_sandbox):
    code = "%load_ext modelarts_nb\n%pool_delete train-gpu"
    out = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--quick", "--colors=NoColor", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env_sandbox.env()},
    )
    assert "status.resources:" in out.stdout and "Nothing was deleted" in out.stdout
    assert "DeletePanel" not in out.stdout
    assert "What deleting breaks: it stops 3 training jobs and 1 sub-pool (infer-cpu)." \
        in out.stdout
    assert "--yes --force" in out.stdout  # the line to run says what it takes
    # the pool, then what it carries: statistics, workloads, nodes, sub-pools
    assert deletes(env_sandbox) == 0 and env_sandbox.count(method="GET") == 5


def test_kernel_interrupt_stops_background_watches(shell, capsys, env_sandbox):
    env_sandbox.store.delete_seconds = 60  # still Deleting when the interrupt comes, however slow
    run(shell, capsys, "p = %pool_delete pool-01 --interval 5")
    panel = shell.user_ns["p"]
    until(lambda: not panel.flow.impact_pending, what="what deleting breaks")
    panel.typed.value = "pool-01"
    panel.delete_button.click()
    until(lambda: panel.flow.step is Step.WATCHING, what="watching")
    result, _ = run(shell, capsys, "raise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    panel.flow.join(2)
    assert panel.flow.step is Step.STOPPED
    assert not our_threads()
    assert env_sandbox.accepted_deletes(panel.flow.pool.id) == 1


@pytest.mark.parametrize(
    "line",
    ["%pool_delete $pool", "%pool_delete {pool}", "%pool_delete $name {flag}",
     "%pools --name $glob --delete {flag}"],
)
def test_expansion_never_supplies_an_option(shell, capsys, env_sandbox, line):
    """``pool = "x --yes"`` must not delete: expansion gives a name or a value, never --yes."""
    (pool_id,) = env_sandbox.display_names()["pool-01"]
    shell.user_ns.update(pool=f"{pool_id} --yes", name=pool_id, flag="--yes", glob="pool-0*")
    result, out = run(shell, capsys, line)
    assert deletes(env_sandbox) == 0, out
    assert not result.success or "--yes" not in line


def test_options_typed_on_the_line_still_work_with_expanded_names(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["pool-01"]
    shell.user_ns["name"] = pool_id
    result, out = run(shell, capsys, "%pool_delete $name --yes --interval 0.1")
    assert result.success and "DELETED" in out and deletes(env_sandbox) == 1


def test_expansion_uses_the_locals_of_a_calling_function(shell, capsys, env_sandbox):
    (pool_id,) = env_sandbox.display_names()["pool-01"]
    run(shell, capsys,
        f"def f():\n    target = {pool_id!r}\n    p = %pool_delete $target\n    return p\n")
    run(shell, capsys, "p = f()")
    assert shell.user_ns["p"].flow.pool.id == pool_id
