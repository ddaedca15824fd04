"""Selection, completion and the sandbox under hostile answers, each one a break found by trying.

Every test here failed when it was written: it is the input a careless user or a hostile
server gives, and asserts what should happen instead (nothing deleted by accident, one line a
person can act on, no secret, the kernel free again). Everything goes over real HTTP to the
sandbox on 127.0.0.1; where a server must misbehave in a way the sandbox does not, an injected
fault replaces its answer. The one test that must not let a request leave the machine (a TAB
aimed at another region) records where the request would go instead of sending it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import threading
import time

import pytest
from conftest import our_threads, put_in_env, until

from modelarts_nb.sandbox import Fault, start

TAGS = "os.modelarts/tms.tags"
WORKSPACE = "os.modelarts/workspace.id"


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


@pytest.fixture
def class_sb(monkeypatch, tmp_path, sandboxes):
    return put_in_env(monkeypatch, tmp_path, sandboxes(pools=6, delete_seconds=0.3))


def add_pool(sb, slug, *, display=None, annotation=None, created=None, workspace=None):
    """A copy of pool-01 under a new id (``slug`` + 32 a's), with the annotation given as the
    raw string the server would send (None: no annotation, tags only through the tag API)."""
    source = sb.display_names()["pool-01"][0]
    body = copy.deepcopy(sb.pool_json(source))
    meta = body["metadata"]
    meta["name"] = f"{slug}-{'a' * 32}"
    meta["labels"]["os.modelarts/name"] = display or slug
    if workspace is not None:
        meta["labels"][WORKSPACE] = workspace
    meta["annotations"].pop(TAGS, None)
    if annotation is not None:
        meta["annotations"][TAGS] = annotation
    if created is not None:
        meta["creationTimestamp"] = created
    return sb.add_pool(body, annotate=annotation is not None)


def tags_text(**tags):
    return json.dumps([{"key": k, "value": v} for k, v in tags.items()])


def deleted(sb):
    return {r.pool for r in sb.requests if r.method == "DELETE"}


# -- --keep-tag fails open -----------------------------------------------------------------------


@pytest.mark.parametrize("item", [
    {"key": "keep", "values": "yes"},  # the SDK shape, its list sent as a plain string
    {"key": "keep", "value": ["yes"]},  # the OTC shape, its value sent as a list
    "keep=yes",  # an item that is no object
    {"Key": "keep", "Value": "yes"},  # an item whose key we cannot read
], ids=["values-string", "value-list", "not-an-object", "capitalised-fields"])
def test_keep_tag_holds_when_an_annotation_item_is_malformed(shell, capsys, class_sb, item):
    """A keep-list fails closed: a pool whose tag annotation holds an item we cannot read
    might carry the keep tag, so it must be kept, not deleted. Today the unreadable item is
    dropped (or read as an empty value) and the pool is deleted."""
    sb = class_sb
    odd = add_pool(sb, "odd-tags", annotation=json.dumps(
        [{"key": "course", "value": "cv300"}, item]))
    plain = add_pool(sb, "plain-tags", annotation=tags_text(course="cv300"))
    result, out = run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep=yes --delete "
                                     "--yes --interval 0.05")
    assert odd not in deleted(sb), out
    assert plain in deleted(sb), out


def test_keep_tag_holds_when_the_tag_api_sends_a_malformed_item(shell, capsys, class_sb):
    """The same through the tag API (a pool without the annotation)."""
    sb = class_sb
    odd = add_pool(sb, "odd-tags")  # no annotation: its tags come from GET …/tags
    sb.inject(Fault(method="GET", pool=odd, status=200, body={"tags": [
        {"key": "course", "values": ["cv300"]}, {"key": "keep", "values": "yes"}]}))
    run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep=yes --delete --yes "
                       "--interval 0.05")
    assert odd not in deleted(sb)


def test_keep_tag_holds_beyond_the_hundredth_tag(shell, capsys, class_sb):
    """Tags past the 100th are dropped with a note nobody sees; the keep tag may be among
    them, so such a pool's tags are not known and --keep-tag must keep it."""
    sb = class_sb
    items = [{"key": "course", "value": "cv300"}]
    items += [{"key": f"filler{n:03d}", "value": "x"} for n in range(100)]
    items += [{"key": "keep", "value": "yes"}]
    crowded = add_pool(sb, "crowded", annotation=json.dumps(items))
    run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep --delete --yes --interval 0.05")
    assert crowded not in deleted(sb)


def test_keep_tag_trusts_the_tag_api_over_a_stale_annotation(shell, capsys, class_sb):
    """Whether the annotation follows ``tags/create`` is UNCONFIRMED (docs/modelarts-api.md §9.2). A teacher
    tags a pool keep=yes through the tag API; the pool list still shows the old annotation.
    The deletion must not rest on the annotation alone: the pool is deleted today."""
    sb = class_sb
    pool = add_pool(sb, "tagged-late", annotation=tags_text(course="cv300"))
    stale = copy.deepcopy(sb.pool_json(pool))
    sb.tag_pool(pool, {"keep": "yes"})  # the tag API now says keep=yes
    assert sb.pool_tags(pool) == {"course": "cv300", "keep": "yes"}
    sb.inject(Fault(method="GET", list_only=True, status=200,
                    body={"apiVersion": "v2", "kind": "PoolList", "items": [stale]}))
    run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep --delete --yes --interval 0.05")
    assert pool not in deleted(sb)


@pytest.mark.parametrize("spelling", ["'keep = yes'", "Keep=yes", "keep=Yes"])
def test_a_keep_tag_spelled_loosely_still_keeps(shell, capsys, class_sb, spelling):
    """A careless keep-list spelling (spaces around '=', another case) matches no tag at all,
    silently, and the pool it was meant to protect is deleted. A keep-list errs towards
    keeping: the line is refused, or the pool is kept."""
    sb = class_sb
    keep = add_pool(sb, "keep-me", annotation=tags_text(course="cv300", keep="yes"))
    other = add_pool(sb, "other-one", annotation=tags_text(course="cv300"))
    result, out = run(shell, capsys, f"%pools --tag course=cv300 --keep-tag {spelling} --delete "
                                     "--yes --interval 0.05")
    assert keep not in deleted(sb), out
    assert other in deleted(sb) or not result.success


# -- --older-than ---------------------------------------------------------------------------------


def test_a_creation_time_without_timezone_is_no_crash(shell, capsys, class_sb):
    """One pool whose creationTimestamp has no timezone makes every --older-than line (and
    any table) fail with "unexpected TypeError": nothing to act on, and no pool is listed."""
    sb = class_sb
    add_pool(sb, "naive-time", annotation=tags_text(course="cv300"),
             created="2026-01-01T00:00:00")
    add_pool(sb, "utc-time", annotation=tags_text(course="cv300"), created="2026-01-01T00:00:00Z")
    result, out = run(shell, capsys, "%pools --tag course=cv300 --older-than 1d --delete "
                                     "--no-widgets")
    assert result.success, out
    assert "unexpected" not in out and "utc-time" in out
    result, out = run(shell, capsys, "r = %pools --tag course=cv300 --no-widgets")
    assert result.success, out
    assert "utc-time" in set(shell.user_ns["r"]["display name"])


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"])
def test_a_zero_creation_time_is_not_an_old_pool(shell, capsys, class_sb, stamp):
    """Go's zero time and the Unix epoch are what a server writes for "unknown", not the age
    of a ModelArts pool: --older-than must not delete a pool on such a date (it is left out
    and said, as an undated pool is)."""
    sb = class_sb
    zero = add_pool(sb, "zero-time", annotation=tags_text(course="cv300"), created=stamp)
    result, out = run(shell, capsys, "%pools --tag course=cv300 --older-than 30d --delete "
                                     "--yes --interval 0.05")
    assert zero not in deleted(sb), out


def test_a_huge_combined_age_is_refused_in_one_line(shell, capsys, env_sandbox):
    """Each part is in range, their sum overflows timedelta: "unexpected OverflowError"
    instead of the usage line that says what an age looks like."""
    result, out = run(shell, capsys, "%pools --older-than " + "999999w" * 150 + " --no-widgets")
    assert not result.success
    assert "OverflowError" not in out and "90m, 8h, 3d" in out, out
    assert env_sandbox.count() == 0


# -- hostile annotations --------------------------------------------------------------------------


def test_a_deeply_nested_annotation_leaves_one_pool_unknown_not_the_listing_broken(
        shell, capsys, class_sb):
    """json.loads of the annotation raises RecursionError (not ValueError): one such pool makes
    %pools — and %pool_delete by display name — fail for every pool."""
    sb = class_sb
    deep = add_pool(sb, "deep-tags", annotation="[" * 100_000 + "]" * 100_000)
    result, out = run(shell, capsys, "r = %pools --no-widgets")
    assert result.success, out
    frame = shell.user_ns["r"]
    assert deep in set(frame["id"]) and {p for p in sb.pool_ids() if p.startswith("pool-")} <= set(
        frame["id"])  # (not a count: leaving-pool goes at any moment)
    result, out = run(shell, capsys, "%pools --name 'deep-*' --keep-tag keep --delete --no-widgets")
    assert result.success and "kept deep-tags" in out, out


# -- workspaces -----------------------------------------------------------------------------------


def research(sb):
    return next(w["id"] for w in sb.workspaces() if w["name"] == "research-team")


@pytest.mark.parametrize("scope", ["--workspace {ws}", "--all-workspaces"])
def test_pools_of_another_workspace_can_be_deleted_in_bulk(shell, capsys, class_sb, scope):
    """The engine re-reads a batch with a list *without* workspaceId, which on the sandbox (and
    likely a region) shows workspace "0" only: every pool of another workspace then fails
    "no pool has the id …". %pools --workspace/--all-workspaces --delete --yes deletes nothing."""
    sb = class_sb
    ws = research(sb)
    team = set(sb.pool_ids(workspace=ws))
    result, out = run(shell, capsys, f"%pools {scope.format(ws=ws)} --tag team=research --delete "
                                     "--yes --interval 0.05")
    assert result.success, out
    assert {p for p in team if sb.accepted_deletes(p)} == team, out


def test_a_server_that_ignores_workspace_id_deletes_nothing_outside_the_workspace(
        shell, capsys, class_sb):
    """``--workspace R`` while the server answers every pool of the project (it ignored
    workspaceId): the pools' own label says which workspace they are in, and only R's may go.
    Today the class pools of workspace "0" are deleted and R's pool fails."""
    sb = class_sb
    ws = research(sb)
    every = [sb.pool_json(p) for p in sb.pool_ids(workspace=None)]
    inside = set(sb.pool_ids(workspace=ws))  # before any of them is deleted
    sb.inject(Fault(method="GET", list_only=True, status=200,
                    body={"apiVersion": "v2", "kind": "PoolList", "items": every}))
    result, out = run(shell, capsys, f"%pools --workspace {ws} --tag course=ml101 --delete --yes "
                                     "--interval 0.05")
    outside = {p for p in deleted(sb) if sb.pool_json(p) is None or
               sb.pool_json(p)["metadata"]["labels"].get(WORKSPACE) != ws}
    elsewhere = [p for p in sb.pool_ids(workspace=None) if p.startswith("pool-0")]
    assert not outside & set(elsewhere), out
    assert not deleted(sb) - inside, out


def test_the_same_pool_listed_twice_with_different_tags_is_kept(shell, capsys, class_sb):
    """De-duplicating by id keeps the first copy whatever the second says; when the copies
    disagree, the tags are not known and --keep-tag must keep the pool."""
    sb = class_sb
    pool = add_pool(sb, "two-copies", annotation=tags_text(course="cv300"))
    plain = copy.deepcopy(sb.pool_json(pool))
    marked = copy.deepcopy(plain)
    marked["metadata"]["annotations"][TAGS] = tags_text(course="cv300", keep="yes")
    sb.inject(Fault(method="GET", list_only=True, status=200, times=2,
                    body={"apiVersion": "v2", "kind": "PoolList", "items": [plain, marked]}))
    result, out = run(shell, capsys, "%pools --all-workspaces --tag course=cv300 --keep-tag keep "
                                     "--delete --yes --interval 0.05")
    assert pool not in deleted(sb), out


def test_workspace_pages_that_bring_nothing_new_end_the_listing(shell, capsys, class_sb):
    """A server that ignores ``offset`` answers the same full page forever: 200 requests
    today before the error (10 s at 50 ms a request). The pool tags stop at a page with no
    new key; the workspaces should too."""
    sb = class_sb
    same = {"total_count": 1000, "count": 1000, "items": [],
            "workspaces": [{"id": "0", "name": "default"}] * 1000}
    sb.inject(Fault(method="GET", status=200, body=same, times=250))
    run(shell, capsys, "%pools --all-workspaces --no-widgets")
    asked = [r for r in sb.requests if r.path.endswith("/workspaces")]
    assert len(asked) <= 2, f"{len(asked)} workspace pages asked for"


def test_a_workspace_the_user_cannot_read_is_skipped_and_named(shell, capsys, class_sb):
    """Workspaces are access-controlled (auth_type PRIVATE; ListWorkspace has
    ``filter_accessible``): one workspace whose pools answer 403 makes --all-workspaces fail
    as a whole, with a line that does not say which workspace — nothing to act on."""
    sb = class_sb
    sb.inject(Fault(method="GET", list_only=True, status=403, body={
        "error_code": "ModelArts.0203", "error_msg": "No permission to access workspace"}))
    result, out = run(shell, capsys, "r = %pools --all-workspaces --no-widgets")
    assert result.success, out
    assert "not listed" in out and "403" in out, out
    assert len(shell.user_ns["r"]) > 0


# -- Ctrl-C ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["--yes", "--no-widgets"])
def test_ctrl_c_while_the_selected_pools_are_checked_says_nothing_was_deleted(
        shell, capsys, env_sandbox, mode):
    """Ctrl-C during the workload/node checks that come before any DELETE: the cell ends
    with a bare KeyboardInterrupt, nobody is told that nothing was deleted."""
    sb = env_sandbox
    ids = [p for p in sb.pool_ids() if p.startswith("pool-0")]
    shell.run_cell("%pools --name 'pool-0*' --no-widgets")  # imports done
    capsys.readouterr()
    for pid in ids:
        sb.inject(Fault(method="GET", pool=pid, delay=3.0, times=4))
    fired = []

    def interrupt_once_checking() -> None:
        deadline = time.monotonic() + 20
        while not any(r.pool in ids for r in sb.requests) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        fired.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_once_checking, daemon=True)
    watcher.start()
    result = shell.run_cell(f"%pools --name 'pool-0*' --delete {mode}")
    ended = time.monotonic()
    watcher.join(5)
    out = capsys.readouterr().out
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert ended - fired[0] < 2.0
    assert sb.count(method="DELETE") == 0
    assert "nothing was deleted" in out, out
    until(lambda: not our_threads(), timeout=10, what="the check threads to end")


# -- the line to copy -----------------------------------------------------------------------------


def test_the_printed_line_runs_as_printed_with_a_quote_in_a_tag(shell, capsys, class_sb):
    """The dry run prints the line to run with shlex quoting ('a'"'"'b'), which IPython's
    splitter does not read back: the printed line fails with "unrecognized arguments"."""
    sb = class_sb
    add_pool(sb, "obrien-lab", annotation=tags_text(course="cv300", owner="o'brien"))
    gone = add_pool(sb, "other-lab", annotation=tags_text(course="cv300"))
    result, out = run(shell, capsys, "%pools --tag course=cv300 --keep-tag \"owner=o'brien\" "
                                     "--delete --no-widgets")
    assert result.success and "kept obrien-lab" in out, out
    line = re.search(r"To delete them, run:\n  (%pools .* --delete --yes)", out).group(1)
    result, out = run(shell, capsys, line + " --interval 0.05")
    assert result.success, f"{line}\n{out}"
    assert deleted(sb) == {gone}


def test_a_kept_pool_does_not_ask_for_force(shell, capsys, class_sb):
    """Pools kept by --keep-tag count as "held", so the dry run adds "(add --force to include
    the pools with running work)" — on the line to copy itself — when no pool runs anything,
    and --force would not include a kept pool anyway."""
    sb = class_sb
    add_pool(sb, "keep-lab", annotation=tags_text(course="cv300", keep="yes"))
    add_pool(sb, "idle-lab", annotation=tags_text(course="cv300"))
    result, out = run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep --delete "
                                     "--no-widgets")
    assert result.success and "kept keep-lab" in out, out
    assert "--force" not in out, out


# -- server text in what we print ----------------------------------------------------------------


def test_server_names_in_kept_and_left_out_lines_print_one_line_each(shell, capsys, class_sb):
    """A display name with a newline prints a line of its own in the "kept …" line and in the
    "left out: their tags could not be read (…)" note — here a fake DELETED line."""
    sb = class_sb
    fake = "lab\nDELETED: prod-train (prod-train-x), phase Deleted after 3 s"
    add_pool(sb, "kept-lab", display=fake, annotation=tags_text(course="cv300", keep="yes"))
    unread = add_pool(sb, "unread-lab", display=fake)  # tags through the API, which fails
    sb.inject(Fault(method="GET", pool=unread, status=500, times=10))
    result, out = run(shell, capsys, "%pools --tag course=cv300 --keep-tag keep --delete "
                                     "--no-widgets")
    assert result.success, out
    assert not [ln for ln in out.splitlines() if ln.startswith("DELETED")], out


def test_escape_sequences_in_tags_never_reach_the_terminal(shell, capsys, class_sb):
    """pandas escapes a newline in to_string but not ESC: the dry run's table sends a tag's
    ``\\x1b[2J`` (clear screen) straight to the terminal."""
    sb = class_sb
    add_pool(sb, "ansi-lab", annotation=tags_text(course="cv300", note="\x1b[2J\x1b[1;1Hall clear"))
    result, out = run(shell, capsys, "%pools --tag course=cv300 --delete --no-widgets")
    assert result.success and "ansi-lab" in out, out
    assert "\x1b" not in out


def test_a_tag_key_named_like_a_prefixed_column_keeps_both_values(shell, capsys, class_sb):
    """Keys "id" and "tag:id" both become the column "tag:id": one value is lost and the other
    shown twice, so the DataFrame says something the pool does not carry."""
    sb = class_sb
    add_pool(sb, "clash-lab", annotation=json.dumps(
        [{"key": "course", "value": "cv300"}, {"key": "id", "value": "first"},
         {"key": "tag:id", "value": "second"}]))
    result, out = run(shell, capsys, "r = %pools --tag course=cv300 --no-widgets")
    assert result.success, out
    frame = shell.user_ns["r"]
    assert frame.columns.is_unique, list(frame.columns)
    row = frame.iloc[0]
    assert {"first", "second"} <= {v for v in row.values if isinstance(v, str)}, row


# -- completion -----------------------------------------------------------------------------------


def test_a_region_on_the_line_sends_no_tab_request_away_from_the_configured_endpoint(
        shell, env_sandbox, monkeypatch):
    """MODELARTS_ENDPOINT names where requests go (the sandbox here; an OTC or private endpoint
    for others). A pasted ``--region`` makes a mere TAB sign a request for
    modelarts.<region>.myhuaweicloud.com — another host, as a pasted --endpoint would, which
    completion refuses. (Nothing leaves the machine: the request is recorded, not sent.)"""
    from modelarts_nb.gateway import api, errors
    from modelarts_nb.notebook.completion import completer_of, register

    register(shell)
    completer = completer_of(shell)
    seen: list[str] = []

    def record(self, method, url, before=None):
        seen.append(self.settings.endpoint)
        raise errors.ConnectionFailed("not sent by this test")

    monkeypatch.setattr(api.PoolsApi, "_send", record)
    completer.suggest("%pools --region ap-southeast-3 --tag co")
    completer.suggest("%pool_delete --region ap-southeast-3 tr")
    until(lambda: not [t for t in our_threads() if t.name == "modelarts-nb-completion"],
          what="the completion threads to end")
    assert set(seen) <= {env_sandbox.endpoint}, seen


def test_a_completed_tag_selects_the_pools_that_carry_it(shell, capsys, class_sb):
    """A tag key with a leading space completes as the quoted word ``' team=x'``, which
    parse_tag strips to ``team``: the completed word selects other pools than the ones that
    carry the tag (with --keep-tag, the pool it names is not kept)."""
    from IPython.core.completer import provisionalcompleter

    from modelarts_nb.notebook.completion import completer_of, register

    sb = class_sb
    spacey = add_pool(sb, "spacey-lab", annotation=json.dumps([{"key": " team", "value": "x"}]))
    add_pool(sb, "plain-lab", annotation=json.dumps([{"key": "team", "value": "x"}]))
    register(shell)
    text = "%pools --tag ' te"
    completer_of(shell).suggest(text)  # the listing arrives within the 1 s budget, or next TAB
    until(lambda: not [t for t in our_threads() if t.name == "modelarts-nb-completion"],
          what="the completion thread to end")
    with provisionalcompleter():
        words = [text[: c.start] + c.text + text[c.end:]
                 for c in shell.Completer.completions(text, len(text))
                 if "modelarts_nb" in c._origin]
    for line in words:
        result, out = run(shell, capsys, f"r = {line} --no-widgets")
        assert result.success, out
        assert set(shell.user_ns["r"]["id"]) == {spacey}, (line, out)


# -- export_env -----------------------------------------------------------------------------------


def test_undoing_an_export_never_pairs_an_old_security_token_with_new_keys(monkeypatch, tmp_path):
    """Temporary keys in the environment, the sandbox exported (it removes their security
    token), then the user sets permanent keys of their own. stop() leaves their AK/SK (changed
    since) but puts the old security token back: a credential mix that fails every signed
    request (and repeated failures lock an AK for 5 minutes on Huawei Cloud)."""
    from conftest import clear_cloud_env

    clear_cloud_env(monkeypatch, tmp_path)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "TEMPORARYAK000000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "TemporarySecretKey000000000000000000001")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", "gQpjOldSessionToken")
    with start(pools=0) as sb:
        sb.export_env()
        os.environ["HUAWEICLOUD_SDK_AK"] = "PERMANENTAK000000001"
        os.environ["HUAWEICLOUD_SDK_SK"] = "PermanentSecretKey000000000000000000001"
    assert os.environ["HUAWEICLOUD_SDK_AK"] == "PERMANENTAK000000001"
    assert "HUAWEICLOUD_SDK_SECURITY_TOKEN" not in os.environ

