"""Selecting pools the way real pools can be selected: TMS tags, workspaces, age, a keep-list.

The parsing tests are pure; the rest go over real HTTP to the sandbox, from the ``%pools`` line
a teacher types, and assert what was listed, kept, deleted and sent.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from conftest import make_client

from modelarts_nb import Filters, Pool
from modelarts_nb.deletion.selection import list_selected, parse_age, parse_tag
from modelarts_nb.notebook.tables import pools_table

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


def tagged(tags, *, shape="value", created="2026-11-30T12:00:00Z", name="p"):
    items = [{"key": k, "value": v} if shape == "value" else {"key": k, "values": [v]}
             for k, v in tags.items()]
    return Pool.from_api({"metadata": {
        "name": name, "creationTimestamp": created,
        "annotations": {"os.modelarts/tms.tags": json.dumps(items)}}})


# -- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("course=ml101", ("course", "ml101")), ("course", ("course", None)),
    ("course=", ("course", "")), ("a=b=c", ("a", "b=c")), ("team name=Ops Team", ("team name",
                                                                                  "Ops Team")),
])
def test_tags_parse_as_tms_allows_them(text, expected):
    assert parse_tag(text) == expected


@pytest.mark.parametrize("text", ["", "=x", "_sys_owner=me", "k" * 129 + "=v", "a\nb=c",
                                  "course=" + "v" * 256, "course=ml\x00101"])
def test_bad_tags_are_refused_with_the_reason(text):
    with pytest.raises(ValueError, match="--tag|tag value"):
        parse_tag(text)


@pytest.mark.parametrize("text, seconds", [("90m", 5400), ("8h", 28800), ("3d", 259200),
                                           ("1d12h", 129600), ("2w", 1209600), ("45s", 45)])
def test_ages(text, seconds):
    assert parse_age(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "3", "h", "-3d", "3.5d", "nan", "inf", "3 days", "1e9d",
                                  "9999999d"])
def test_bad_ages_are_refused(text):
    with pytest.raises(ValueError, match="90m, 8h, 3d"):
        parse_age(text)


# -- matching -------------------------------------------------------------------------------------


def test_both_tag_shapes_match_and_all_tags_must_hold():
    for shape in ("value", "values"):
        pool = tagged({"course": "ml101", "student": "s01"}, shape=shape)
        assert Filters(tags=(("course", "ml101"),)).matches(pool, NOW)
        assert Filters(tags=(("course", "ml101"), ("student", "s01"))).matches(pool, NOW)
        assert not Filters(tags=(("course", "ml101"), ("student", "s02"))).matches(pool, NOW)
        assert Filters(tags=(("student", None),)).matches(pool, NOW)
        assert not Filters(tags=(("Course", "ml101"),)).matches(pool, NOW)


def test_unknown_tags_never_match_and_are_kept():
    pool = Pool.from_api({"metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"}})
    assert pool.tags is None
    assert not Filters(tags=(("course", None),)).matches(pool, NOW)
    assert Filters(keep=(("keep", None),)).kept(pool) == "kept: its tags could not be read " \
        "(--keep-tag)"


def test_age_is_from_creation_and_an_undated_pool_is_never_old():
    pool = tagged({}, created="2026-11-30T12:00:00Z")
    assert Filters(older_than=timedelta(hours=23)).matches(pool, NOW)
    assert not Filters(older_than=timedelta(hours=25)).matches(pool, NOW)
    undated = tagged({}, created="")
    assert not Filters(older_than=timedelta(0)).matches(undated, NOW)


@pytest.mark.parametrize("filters, narrows", [
    (Filters(), False), (Filters(name="*"), False), (Filters(older_than=timedelta(0)), False),
    (Filters(workspace="0"), False), (Filters(all_workspaces=True), False),
    (Filters(tags=(("course", "ml101"),)), True), (Filters(older_than=timedelta(minutes=1)), True),
    (Filters(keep=(("keep", None),)), False), (Filters(label_selector="os.modelarts/name=x"), True),
])
def test_what_counts_as_a_filter(filters, narrows):
    assert filters.narrows() is narrows


def test_the_table_has_a_column_per_tag_key():
    pools = [tagged({"course": "ml101", "student": "s01"}, name="a"),
             tagged({"team": "cv", "age": "x"}, name="b"),
             Pool.from_api({"metadata": {"name": "c"}})]
    table = pools_table(pools, now=NOW)
    assert list(table.columns[-4:]) == ["tag:age", "course", "student", "team"]
    assert table.set_index("id").loc["a", "course"] == "ml101"
    assert pd.isna(table.set_index("id").loc["c", "course"])  # unknown: not an empty string
    assert list(table["workspace"]) == ["0", "0", "0"]


# -- over HTTP ------------------------------------------------------------------------------------


def add_tagged(sb, source_id, display, tags, *, created=None, annotate=True):
    body = copy.deepcopy(sb.pool_json(source_id))
    meta = body["metadata"]
    meta["name"] = f"{display}-{'a' * 32}"
    meta["labels"] = {k: v for k, v in meta["labels"].items() if "/" in k}  # system labels only
    meta["labels"]["os.modelarts/name"] = display
    meta["annotations"].pop("os.modelarts/tms.tags", None)
    if annotate:
        meta["annotations"]["os.modelarts/tms.tags"] = json.dumps(
            [{"key": k, "value": v} for k, v in tags.items()])
    if created:
        meta["creationTimestamp"] = created
    return sb.add_pool(body)


def test_tag_and_keep_tag_select_from_the_annotation(shell, capsys, env_sandbox):
    sb = env_sandbox
    source = sb.display_names()["team-shared"][0]
    ids = {name: add_tagged(sb, source, name, tags) for name, tags in {
        "lab-a": {"course": "cv200"}, "lab-b": {"course": "cv200", "keep": "yes"},
        "lab-c": {"course": "nlp"}}.items()}
    sb.clear_requests()
    result, out = run(shell, capsys, "%pools --tag course=cv200 --keep-tag keep --delete "
                                     "--no-widgets")
    assert result.success
    assert f"lab-a ({ids['lab-a']})" in out and "lab-c" not in out
    assert f"kept lab-b ({ids['lab-b']}): kept by --keep-tag keep" in out
    assert "--delete would delete 1 pool(s)" in out
    assert "%pools --tag course=cv200 --keep-tag keep --delete --yes" in out
    assert sb.count(method="DELETE") == 0
    result, out = run(shell, capsys, "%pools --tag course=cv200 --keep-tag keep --delete --yes "
                                     "--interval 0.05")
    assert result.success and "KEPT: lab-b" in out and "1 deleted" in out
    assert [r.pool for r in sb.requests if r.method == "DELETE"] == [ids["lab-a"]]


def test_older_than_selects_by_creation_time(shell, capsys, env_sandbox):
    sb = env_sandbox
    source = sb.display_names()["team-shared"][0]
    now = datetime.now(timezone.utc)
    old = add_tagged(sb, source, "old-lab", {"course": "x"},
                     created=(now - timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    add_tagged(sb, source, "new-lab", {"course": "x"},
               created=(now - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    shell.run_cell("r = %pools --tag course=x --older-than 8h --no-widgets")
    capsys.readouterr()
    frame = shell.user_ns["r"]
    assert isinstance(frame, pd.DataFrame) and list(frame["id"]) == [old]
    assert list(frame["course"]) == ["x"]


def test_no_widgets_returns_a_dataframe_with_tag_columns(shell, capsys, env_sandbox):
    shell.run_cell("r = %pools --no-widgets")
    capsys.readouterr()
    frame = shell.user_ns["r"]
    listed = make_client(env_sandbox).list_pools()
    assert isinstance(frame, pd.DataFrame) and sorted(frame["id"]) == sorted(p.id for p in listed)
    assert {"id", "display name", "phase", "billing", "workspace", "age"} <= set(frame.columns)


@pytest.mark.parametrize("line, message", [
    ("%pools --tag _sys_x=1", "does not start with _sys_"),
    ("%pools --older-than 3days", "90m, 8h, 3d"),
    ("%pools --workspace 0 --all-workspaces", "exclude each other"),
    ("%pools --label course", "system label"),
    ("%pools --workspace '../x' ", "invalid workspace id"),
    ("%pools --older-than 0m --delete --yes", "leaves pools out"),
    ("%pools --all-workspaces --delete --yes", "leaves pools out"),
])
def test_bad_selectors_are_refused_before_any_request(shell, capsys, env_sandbox, line, message):
    result, out = run(shell, capsys, line)
    assert not result.success and message in out and "Traceback" not in out
    assert env_sandbox.count() == 0


def test_list_selected_reads_pools_once(env_sandbox):
    client = make_client(env_sandbox)
    env_sandbox.clear_requests()
    listing = list_selected(client, Filters(name="pool-0*"))
    assert len(listing.pools) == 3 and env_sandbox.count() == 1


# -- the tag API and workspaces, as the sandbox seeds them ---------------------------------------


@pytest.fixture
def class_sb(monkeypatch, tmp_path, sandboxes):
    from conftest import put_in_env

    # the seeded leaving-pool is gone from the start: left to go after 0.3 s, it was listed or
    # not by how soon a loaded machine ran the test, and asked for its tags or not
    return put_in_env(monkeypatch, tmp_path,
                      sandboxes(pools=6, delete_seconds=0.3, seeded_deleting_seconds=0))


def gets(sb, part):
    return [r for r in sb.requests if r.method == "GET" and part in r.path]


def test_pools_without_a_tag_annotation_are_asked_through_the_tag_api(shell, capsys, class_sb):
    sb = class_sb
    names = sb.display_names()
    class_sb.clear_requests()
    shell.run_cell("r = %pools --tag course=ml101 --no-widgets")
    capsys.readouterr()
    frame = shell.user_ns["r"]
    assert sorted(frame["display name"]) == [f"pool-{n:02d}" for n in range(1, 7)]
    asked = sorted(r.path.split("/")[4] for r in gets(sb, "/tags"))
    unannotated = sorted(pid for pid in sb.pool_ids() if "os.modelarts/tms.tags" not in
                         sb.pool_json(pid)["metadata"].get("annotations", {}))
    assert names["pool-02"][0] in asked and names["pool-05"][0] in asked
    assert asked == unannotated  # one GET each, for exactly the pools without the annotation
    assert names["pool-01"][0] not in asked
    assert set(frame["student"]) == {f"s{n:02d}" for n in range(1, 7)}


def test_unreadable_tags_leave_a_pool_out_of_tag_and_in_keep(shell, capsys, class_sb):
    from modelarts_nb.sandbox import Fault

    sb = class_sb
    pool_02 = sb.display_names()["pool-02"][0]
    sb.inject(Fault(method="GET", pool=pool_02, status=500, times=10))
    result, out = run(shell, capsys, "%pools --tag course=ml101 --delete --no-widgets")
    assert result.success
    assert ("1 pool(s) whose tags could not be read through the tag API (pool-02 "
            f"({pool_02})): left out of --tag") in out
    assert "--delete would delete 5 pool(s)" in out and f"  pool-02 ({pool_02})" not in out
    result, out = run(shell, capsys, "%pools --name 'pool-0*' --keep-tag keep --delete "
                                     "--no-widgets")
    assert f"kept pool-02 ({pool_02}): kept: its tags could not be read" in out, out
    assert sb.count(method="DELETE") == 0


def test_all_workspaces_lists_each_once_and_finds_the_other_teams_pools(shell, capsys, class_sb):
    sb = class_sb
    research = next(w["id"] for w in sb.workspaces() if w["name"] == "research-team")
    shell.run_cell("r = %pools --no-widgets")
    default = shell.user_ns["r"]
    assert "research-gpu" not in set(default["display name"])
    sb.clear_requests()
    shell.run_cell("r = %pools --all-workspaces --no-widgets")
    capsys.readouterr()
    every = shell.user_ns["r"]
    assert len(gets(sb, "/workspaces")) == 1
    assert sorted(r.query for r in gets(sb, "/pools") if r.path.endswith("/pools")) == sorted(
        [f"workspaceId={w['id']}" for w in sb.workspaces()])
    assert set(every["id"]) == set(default["id"]) | set(sb.pool_ids(workspace=research))
    assert every["id"].is_unique
    assert set(every[every["workspace"] == research]["display name"]) == {
        "research-gpu", "research-notebooks", "research-archive"}
    shell.run_cell(f"r = %pools --workspace {research} --tag course=ml101 --no-widgets")
    capsys.readouterr()
    assert list(shell.user_ns["r"]["display name"]) == ["research-notebooks"]


def test_a_workspace_list_with_repeats_and_odd_ids(shell, capsys, class_sb):
    from modelarts_nb.sandbox import Fault

    sb = class_sb
    listed = {"total_count": 4, "count": 4, "workspaces": [
        {"id": 0, "name": "default"}, {"id": "0", "name": "default again"},
        {"id": "../../x", "name": "odd"}, {"name": "no id"}]}
    sb.inject(Fault(method="GET", status=200, body=listed))
    result, out = run(shell, capsys, "r = %pools --all-workspaces --no-widgets")
    assert result.success
    assert "1 workspace(s) not listed: the server named them with an invalid id ('../../x')" in out
    pool_lists = [r for r in gets(sb, "/pools") if r.path.endswith("/pools")]
    assert [r.query for r in pool_lists] == ["workspaceId=0"]  # "0" and 0 are one workspace


def test_ctrl_c_while_tags_are_read_ends_the_cell_at_once(shell, capsys, class_sb):
    import os
    import signal
    import threading
    import time

    from modelarts_nb.sandbox import Fault

    sb = class_sb
    shell.run_cell("%pools --no-widgets")  # imports done: the timing is the reads'
    for name in ("pool-02", "pool-05"):
        sb.inject(Fault(method="GET", pool=sb.display_names()[name][0], delay=4.0, times=3))
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    result = shell.run_cell("%pools --tag course=ml101 --delete --yes")
    took = time.monotonic() - started
    timer.cancel()
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert "Interrupted while listing the pools: nothing was deleted." in out
    assert took < 2.0, f"the cell held the kernel {took:.1f} s after Ctrl-C"
    assert sb.count(method="DELETE") == 0


def test_every_tag_key_is_read_across_pages(sandboxes):
    sb = sandboxes(pools=30)
    ids = [pid for pid in sb.pool_ids() if pid.startswith("pool-")]  # none is leaving
    for n in range(450):  # 20 tags a pool at most, 2 of them course and student
        sb.tag_pool(ids[n // 15], {f"k{n:03d}": f"v{n % 7}"})
    client = make_client(sb)
    sb.clear_requests()
    tags = client.list_pool_tags()
    assert {f"k{n:03d}" for n in range(450)} <= set(tags) and tags["course"] == ("ml101",)
    assert [r.query for r in sb.requests] == [f"limit=200&offset={page}" for page in range(3)]


def test_an_empty_204_tag_answer_is_unreadable_not_untagged(class_sb):
    from modelarts_nb.gateway.errors import ApiError
    from modelarts_nb.sandbox import Fault

    sb = class_sb
    pool_02 = sb.display_names()["pool-02"][0]
    sb.inject(Fault(method="GET", pool=pool_02, status=204, body=b""))
    client = make_client(sb)
    with pytest.raises(ApiError, match="tags of pool .* are unreadable"):
        client.pool_tags(pool_02)
    assert sb.count() == 1  # no retry of a "no content"
    assert client.pool_tags(pool_02) == {"course": ("ml101",), "student": ("s02",)}


def test_lone_surrogates_from_the_server_become_printable_text(shell, capsys, class_sb):
    sb = class_sb
    pool_01 = sb.display_names()["pool-01"][0]
    sb.tag_pool(pool_01, {"note\ud800": "x\udfffy"})
    result, out = run(shell, capsys, "r = %pools --tag course=ml101 --no-widgets")
    frame = shell.user_ns["r"]
    assert result.success and "note\ufffd" in frame.columns
    frame.to_html().encode("utf-8")  # what the kernel sends must encode
