"""The installed ``modelarts-nb`` command, run as a subprocess against the sandbox over real
HTTP: what a person or a cron job sees — exit codes, the lines printed, the plan file — and what
the server was sent (its request log). No output ever holds a credential."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from modelarts_nb import Plan
from modelarts_nb.deletion.receipts import read_history
from modelarts_nb.sandbox import Fault

COMMAND = Path(sys.executable).with_name("modelarts-nb")  # the [project.scripts] entry


@pytest.fixture(scope="module")
def module_sandbox(sandboxes_for_module):
    assert COMMAND.exists(), f"{COMMAND} is missing: run {sys.executable} -m pip install -e ."
    return sandboxes_for_module(pools=22, delete_seconds=0.2)


@pytest.fixture
def sb(module_sandbox):
    """One sandbox for the module (a start costs more than a reset), reseeded for each test."""
    module_sandbox.reset()
    return module_sandbox


def env_for(sb, tmp_path: Path) -> dict[str, str]:
    """The sandbox's settings and nothing else of the cloud's; receipts in the test's file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MODELARTS_"))}
    env.update(sb.env(), HUAWEICLOUD_SDK_CREDENTIALS_FILE=str(tmp_path / "no-profile"),
               MODELARTS_NB_RECEIPTS=os.environ.get("MODELARTS_NB_RECEIPTS",  # conftest's
                                                    str(tmp_path / "receipts.jsonl")))
    return env


def run(sb, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a script runs it: no terminal (stdin /dev/null, output piped)."""
    return run_many(sb, tmp_path, list(args))[0]


def run_many(sb, tmp_path, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Several independent commands at once (each start-up costs ~0.3 s)."""
    procs = [subprocess.Popen([str(COMMAND), *args], env=env_for(sb, tmp_path),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in commands]
    done = []
    for args, proc in zip(commands, procs):
        stdout, stderr = proc.communicate(timeout=60)
        assert_no_secret(sb, stdout + stderr)
        done.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return done


def assert_no_secret(sb, text: str) -> None:
    for secret in (sb.ak, sb.sk, sb.token):
        assert secret not in text and secret[:8] not in text


def ids(sb, *names: str) -> list[str]:
    return [sb.display_names()[name][0] for name in names]


def deleted(sb) -> list[str]:
    return sorted(r.pool for r in sb.requests if r.method == "DELETE")


def make_plan(sb, tmp_path, *filters: str) -> Path:
    path = tmp_path / "plan.json"
    done = run(sb, tmp_path, "plan", *filters, "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path


# -- pools -----------------------------------------------------------------------------------


def test_pools_lists_as_text_json_and_csv_with_the_decision_each_gets(sb, tmp_path):
    keep, other = ids(sb, "pool-01", "pool-02")
    sb.tag_pool(keep, {"keep": "yes"})
    select = ["pools", "--name", "pool-0[1-3]", "--keep-tag", "keep"]
    text, as_json, as_csv = run_many(sb, tmp_path, select, [*select, "--json"],
                                     [*select, "--csv"])
    assert text.returncode == as_json.returncode == as_csv.returncode == 0
    assert text.stderr == as_json.stderr == as_csv.stderr == ""
    assert keep in text.stdout and "kept by --keep-tag keep" in text.stdout
    decisions = {row["id"]: row["decision"] for row in json.loads(as_json.stdout)}
    assert decisions[keep] == "kept by --keep-tag keep" and decisions[other] == "delete"
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["display name"] for row in table] == ["pool-01", "pool-02", "pool-03"]
    assert [row["decision"] for row in table] == ["kept by --keep-tag keep", "delete", "delete"]
    assert sb.count(method="DELETE") == 0


# -- plan ------------------------------------------------------------------------------------


def test_plan_writes_the_reviewed_pools_to_a_file_and_sends_no_delete(sb, tmp_path):
    path = tmp_path / "ml101.plan.json"
    done = run(sb, tmp_path, "plan", "--tag", "course=ml101", "--name", "pool-0[1-3]",
               "--out", str(path))
    assert done.returncode == 0, done.stderr
    assert "delete 3 pools — nothing was deleted." in done.stdout
    assert f"modelarts-nb apply {path}" in done.stdout
    plan = Plan.from_json(path.read_text())
    assert sorted(i.facts.id for i in plan.deletable()) == sorted(ids(sb, "pool-01", "pool-02",
                                                                       "pool-03"))
    assert (plan.project_id, plan.endpoint, plan.via) == (sb.project_id, sb.endpoint, "command")
    assert plan.filters is not None and plan.filters["tags"] == [["course", "ml101"]]
    assert sb.count(method="DELETE") == 0 and sb.count(method="GET") > 0


def test_plan_without_a_filter_that_narrows_is_refused(sb, tmp_path):
    done = run(sb, tmp_path, "plan", "--name", "*", "--idle", "--out", str(tmp_path / "p.json"))
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "nothing was sent" in done.stderr
    assert sb.requests == [] and not (tmp_path / "p.json").exists()


# -- apply -----------------------------------------------------------------------------------


def test_apply_deletes_exactly_the_planned_pools_and_records_receipts(sb, tmp_path):
    path = make_plan(sb, tmp_path, "--tag", "course=ml101", "--name", "pool-0[1-3]")
    planned = sorted(ids(sb, "pool-01", "pool-02", "pool-03"))
    done = run(sb, tmp_path, "apply", str(path), "--yes", "--interval", "0.05")
    assert done.returncode == 0, done.stdout + done.stderr
    assert deleted(sb) == planned
    assert not set(planned) & set(sb.pool_ids()) and ids(sb, "pool-04")[0] in sb.pool_ids()
    events = done.stdout.splitlines()  # piped: one line per event
    assert sum(line.startswith("DELETED: pool-0") for line in events) == 3
    assert events[-1] == "3 deleted"
    receipts = json.loads(run(sb, tmp_path, "history", "--json").stdout)
    assert sorted(r["pool"] for r in receipts) == planned
    assert {(r["outcome"], r["via"]) for r in receipts} == {("deleted", "command")}


def test_apply_leaves_out_a_pool_replaced_or_newly_kept_since_the_plan(sb, tmp_path):
    path = make_plan(sb, tmp_path, "--name", "pool-0[1-4]", "--keep-tag", "keep")
    first, tagged, replaced, last = ids(sb, "pool-01", "pool-02", "pool-03", "pool-04")
    sb.tag_pool(tagged, {"keep": "yes"})
    body = sb.pool_json(replaced)
    body["metadata"]["creationTimestamp"] = datetime.now(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # deleted and created again under the same id
    sb.add_pool(body)
    done = run(sb, tmp_path, "apply", str(path), "--yes", "--interval", "0.05", "--json")
    assert done.returncode == 1, done.stderr
    assert deleted(sb) == sorted([first, last])
    doc = json.loads(done.stdout)  # --json: one document, nothing else
    outcome = {pool["id"]: pool for pool in doc["pools"]}
    assert doc["exit_code"] == 1 and outcome[first]["outcome"] == "deleted"
    assert outcome[tagged]["outcome"] == "left out" and not outcome[tagged]["sent"]
    assert "now kept by --keep-tag keep" in outcome[tagged]["message"]
    assert "created again" in outcome[replaced]["message"] and not outcome[replaced]["sent"]


def test_apply_without_a_terminal_and_without_yes_sends_nothing(sb, tmp_path):
    path = make_plan(sb, tmp_path, "--name", "pool-0[1-2]")
    sb.clear_requests()
    done = run(sb, tmp_path, "apply", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["modelarts-nb: apply: no terminal to confirm on: add "
                                        "--yes to apply the plan unattended; nothing was sent"]
    assert sb.requests == []


@pytest.fixture(scope="module")
def a_plan(module_sandbox, tmp_path_factory) -> str:
    """A plan the command made, for tests that change it and are refused before any request
    (one plan for all of them: a plan costs a start-up)."""
    return make_plan(module_sandbox, tmp_path_factory.mktemp("plan"), "--name",
                     "pool-0[1-2]").read_text()


def _another_project(plan: dict) -> dict:
    return {**plan, "project_id": "0123456789abcdef0123456789abcdef"}


def _yesterday(plan: dict) -> dict:
    made = datetime.now(timezone.utc) - timedelta(hours=25)
    return {**plan, "made_at": made.isoformat()}


@pytest.mark.parametrize(("change", "words"), [
    (_another_project, "this plan was made for project 0123456789abcdef0123456789abcdef"),
    (_yesterday, "more than --max-age 24h"),
    (lambda plan: {**plan, "version": 99}, "not a modelarts-nb plan"),
], ids=["another-project", "older-than-24h", "unreadable"])
def test_apply_refuses_a_plan_made_elsewhere_too_long_ago_or_unreadable(sb, tmp_path, a_plan,
                                                                        change, words):
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(change(json.loads(a_plan))))
    sb.clear_requests()
    done = run(sb, tmp_path, "apply", str(path), "--yes")
    assert done.returncode == 2 and words in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "nothing was sent" in done.stderr
    assert sb.requests == []


def test_apply_takes_an_older_plan_when_max_age_allows_it(sb, tmp_path):
    planned = ids(sb, "pool-01")
    path = make_plan(sb, tmp_path, "--name", "pool-01")
    path.write_text(json.dumps(_yesterday(json.loads(path.read_text()))))
    done = run(sb, tmp_path, "apply", str(path), "--yes", "--max-age", "2d", "--quiet",
               "--interval", "0.05")
    assert done.returncode == 0 and done.stdout == done.stderr == ""  # --quiet: cron's silence
    assert deleted(sb) == planned


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_apply_stops_within_a_second_and_sends_nothing_more(sb, tmp_path, signum):
    first = ids(sb, "pool-01")
    path = make_plan(sb, tmp_path, "--tag", "course=ml101", "--name", "pool-0[1-8]")
    sb.inject(Fault(method="DELETE", delay=3.0, times=10))  # each DELETE answers after 3 s
    proc = subprocess.Popen([str(COMMAND), "apply", str(path), "--yes", "--concurrency", "1"],
                            env=env_for(sb, tmp_path), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while sb.count(method="DELETE") == 0:  # the first DELETE is on the wire
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    signalled = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=10)
    took = time.monotonic() - signalled
    print(f"{signal.Signals(signum).name} → exit: {took:.3f} s")
    assert proc.returncode == 130 and took < 1.0, (took, stderr)
    assert_no_secret(sb, stdout + stderr)
    stop_line = [line for line in stdout.splitlines() if line.startswith("Stopped by")]
    assert len(stop_line) == 1 and "1 DELETE(s) sent (pool-01" in stop_line[0]
    assert "7 pool(s) got no DELETE" in stop_line[0]
    time.sleep(0.3)
    assert deleted(sb) == first  # nothing more was sent
    rows, _ = read_history()  # the DELETE whose answer was not awaited has its receipt
    assert [(r["pool"], r["outcome"], r["via"]) for r in rows] == [
        (first[0], "sent; no final state recorded", "command")]


# -- --idle ----------------------------------------------------------------------------------


def test_idle_keeps_pools_with_running_work_or_work_that_cannot_be_read(sb, tmp_path):
    idle1, idle2, busy, unread, waiting, notebook = ids(
        sb, "pool-01", "pool-02", "pool-03", "pool-04", "pool-21", "pool-22")
    sb.add_workload(busy, "train", "Running", "job")
    sb.inject(Fault(method="GET", pool=unread, status=403, times=10))
    path = make_plan(sb, tmp_path, "--name", "pool-[02][1-4]", "--idle")
    sb.clear_faults()
    plan = Plan.from_json(path.read_text())
    kept = {item.facts.id: item.reason for item in plan.items if not item.deletes}
    assert sorted(i.facts.id for i in plan.deletable()) == sorted([idle1, idle2])
    assert kept == {
        busy: "kept: not idle — runs 1 training job (--idle)",
        unread: "kept: not idle — its workload counts and workloads could not be read (--idle)",
        waiting: "kept: not idle — runs 1 training job (--idle)",  # Pending: waiting is work
        notebook: "kept: not idle — runs 1 notebook (--idle)",
    }
    done = run(sb, tmp_path, "apply", str(path), "--yes", "--interval", "0.05")
    assert done.returncode == 0 and deleted(sb) == sorted([idle1, idle2])
    assert f"kept pool-03 ({busy}): not idle — runs 1 training job (--idle)" in done.stdout


# -- delete, history, help -------------------------------------------------------------------


def test_delete_one_pool_with_the_checks_of_pool_delete(sb, tmp_path):
    pool, busy = ids(sb, "pool-05", "train-gpu")
    gone, refused, unconfirmed = run_many(
        sb, tmp_path, ["delete", "pool-05", "--yes", "--interval", "0.05"],
        ["delete", "train-gpu", "--yes"], ["delete", "pool-06"])
    assert gone.returncode == 0 and gone.stdout.splitlines()[-1].startswith(
        f"DELETED: pool pool-05 ({pool}), phase Deleted, after 0 s")
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        f"modelarts-nb: deleting pool train-gpu ({busy}) stops 3 training jobs and 1 sub-pool "
        "(infer-cpu): add --force to delete it anyway; nothing was sent"]
    assert unconfirmed.returncode == 2 and "add --yes" in unconfirmed.stderr
    assert deleted(sb) == [pool]


def test_history_refuses_a_since_it_cannot_read(sb, tmp_path):
    done = run(sb, tmp_path, "history", "--since", "last tuesday")
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert "--since 'last tuesday': expected a date" in done.stderr


def test_every_sub_command_has_help_with_examples_and_python_m_runs_it(sb, tmp_path):
    env = env_for(sb, tmp_path)
    procs = {name: subprocess.Popen([str(COMMAND), name, "--help"], env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in ("pools", "plan", "apply", "delete", "history")}
    procs["-m"] = subprocess.Popen([sys.executable, "-m", "modelarts_nb", "--help"], env=env,
                                   text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for name, proc in procs.items():
        stdout, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "examples:\n  modelarts-nb" in stdout, name
    assert sb.requests == []
