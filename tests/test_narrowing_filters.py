"""Every filter that narrows a deletion is checked on the pool's own data, whatever the server
did with it: ``--label``/``--status`` are also decided on each listed pool (a server or proxy
that ignores ``labelSelector`` must not turn ``--label … --delete --yes`` into "delete every
pool"), and a ``--name`` pattern that matches every pool through its id is no filter.

Over real HTTP against the sandbox, from the magic a user types, where it matters.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime, timezone

import pytest
from conftest import make_client

from modelarts_nb import Filters, Pool
from modelarts_nb.deletion.selection import list_selected
from modelarts_nb.sandbox.select import STATUS_GROUPS

IGNORED = ("labelSelector", "status")
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
NAME = "os.modelarts/name"


def run(shell, capsys, line):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


def deleted(sb):
    return [r.pool for r in sb.requests if r.method == "DELETE"]


def pool(phase=None, labels=None) -> Pool:
    body = {"metadata": {"name": "pool-01-" + "a" * 32}, "status": {"phase": phase}}
    if labels is not None:
        body["metadata"]["labels"] = labels
    return Pool.from_api(body)


# -- the sandbox can ignore the list filters like a careless server --------------------------------


def test_the_sandbox_can_ignore_the_list_filters_like_a_careless_server(sandbox):
    with make_client(sandbox) as client:
        every = {p.id for p in client.list_pools()}
        assert len(client.list_pools(label_selector=f"{NAME}=pool-01")) == 1
        sandbox.ignore_filters = IGNORED
        assert {p.id for p in client.list_pools(label_selector=f"{NAME}=pool-01")} == every
        assert {p.id for p in client.list_pools(status="failed")} == every
        sandbox.ignore_filters = ()
        assert [p.phase for p in client.list_pools(status="failed")] == ["CreationFailed"]
    with pytest.raises(ValueError, match="workspaceId"):
        sandbox.ignore_filters = ("workspaceld",)


# -- --label and --status over a server that ignores them -----------------------------------------


@pytest.mark.parametrize("line, target", [
    (f"--label {NAME}=pool-02", "pool-02"),
    ("--status failed", "failed-pool"),
    (f"--label {NAME}=failed-pool --status failed", "failed-pool"),
])
def test_a_server_that_ignores_the_filter_deletes_only_the_matching_pool(
        shell, capsys, env_sandbox, line, target):
    """8 of 8 pools were deleted in the issue's repro; only the pool the filter names may go."""
    sb = env_sandbox
    sb.ignore_filters = IGNORED
    only = sb.display_names()[target]
    result, out = run(shell, capsys, f"%pools {line} --delete --yes --interval 0.05")
    assert result.success, out
    assert deleted(sb) == only, out
    assert sb.count(method="DELETE") == 1, out
    assert "the server returned for" in out and "left out" in out, out


def test_a_label_and_status_no_pool_has_together_delete_nothing(shell, capsys, env_sandbox):
    sb = env_sandbox
    sb.ignore_filters = IGNORED
    _, out = run(shell, capsys, f"%pools --label {NAME}=pool-02 --status failed --delete --yes")
    assert "Nothing to delete" in out and sb.count(method="DELETE") == 0, out


def test_list_selected_leaves_out_what_the_server_should_have_filtered(sandbox):
    listed = len(sandbox.pool_ids())
    with make_client(sandbox) as client:
        honest = list_selected(client, Filters(label_selector=f"{NAME}=pool-01"))
        assert [p.id for p in honest.pools] == sandbox.display_names()["pool-01"]
        assert honest.notes == []
        sandbox.ignore_filters = IGNORED
        careless = list_selected(client, Filters(label_selector=f"{NAME}=pool-01"))
        assert [p.id for p in careless.pools] == sandbox.display_names()["pool-01"]
        assert careless.notes == [f"{listed - 1} pool(s) the server returned for --label do "
                                  "not match it: left out"]
        creating = list_selected(client, Filters(status="creating"))
        assert [p.display_name for p in creating.pools] == ["creating-pool"]
        assert "for --status do not match it: left out" in creating.notes[0]


# -- deciding --label and --status on a pool's own data -------------------------------------------


@pytest.mark.parametrize("labels", [None, [], "os.modelarts/name=pool-01", 5,
                                    {NAME: 5}, {NAME: ["pool-01"]}, {5: "pool-01"}])
def test_labels_we_cannot_read_never_match(labels):
    odd = pool("Running", labels)
    assert {key: value for key, value in odd.labels.items() if key == NAME} == {}
    assert not Filters(label_selector=f"{NAME}=pool-01").matches(odd, NOW)


def test_every_term_of_the_selector_must_hold():
    both = pool("Running", {NAME: "pool-01", "os.modelarts/region": "cn-north-4", "e": ""})
    assert both.labels[NAME] == "pool-01"
    assert Filters(label_selector=f"{NAME}=pool-01,os.modelarts/region=cn-north-4").matches(
        both, NOW)
    assert Filters(label_selector="e=").matches(both, NOW)
    assert not Filters(label_selector=f"{NAME}=pool-01,os.modelarts/region=eu").matches(both, NOW)
    assert not Filters(label_selector=f"{NAME}=pool-0").matches(both, NOW)


@pytest.mark.parametrize("selector", [NAME, f"!{NAME}", f"{NAME}!=x", f"{NAME}==pool-01",
                                      f"{NAME}=pool-01,", f"{NAME} in (pool-01)", ","])
def test_a_selector_we_do_not_understand_matches_no_pool(selector):
    """Only KEY=VALUE terms are sent by %pools; anything else fails closed."""
    assert not Filters(label_selector=selector).matches(pool("Running", {NAME: "pool-01"}), NOW)


def test_an_empty_selector_or_status_is_no_filter_here_nor_on_the_server():
    assert not Filters(label_selector="", status="").narrows()
    assert Filters(label_selector="", status="").matches(pool(), NOW)


@pytest.mark.parametrize("phase", sorted(set().union(*STATUS_GROUPS.values()))
                         + [None, "", "running", "Frozen", "Unknown", 5])
@pytest.mark.parametrize("status", sorted(STATUS_GROUPS))
def test_status_is_decided_on_the_phase_as_the_sandbox_groups_it(phase, status):
    """A phase in no documented group matches no --status (fails closed)."""
    expected = phase in STATUS_GROUPS[status]
    assert Filters(status=status).matches(pool(phase), NOW) is expected


# -- a --name pattern that matches every pool through its id is no filter -------------------------


IDS = ["train-gpu-f728b4fa42485e3a0a5d2f346baa9455", "auto-pool-os-86c13962597848eeb29c5861153a391f",
       "pool-01-a81ad477fb3675b89cdeb3e60870e15c", "zz9-" + "f" * 32]


@pytest.mark.parametrize("pattern", ["*", "?*", "[a-z]*", "*-*", "*-" + "?" * 32, "*[0-9a-f]*",
                                     "**", "*0*", "*[0-9]*", "*a*", "*[!x]*", "[!x]*?", ""])
def test_a_pattern_that_can_match_every_pool_is_no_filter(pattern):
    assert not Filters(name=pattern).narrows()


@pytest.mark.parametrize("pattern", ["*", "?*", "[a-z]*", "*-*", "*-" + "?" * 32, "*[0-9a-f]*"])
def test_those_patterns_do_match_every_pool_id(pattern):
    assert all(fnmatch.fnmatchcase(pool_id, pattern) for pool_id in IDS)


@pytest.mark.parametrize("pattern", ["student-*", "*ml101*", "train-gpu", "pool-0?", "*-01",
                                     "p?ol-*", "team-shared", "*-gpu", "???-*", "[", "q*"])
def test_a_pattern_that_leaves_pools_out_is_a_filter(pattern):
    assert Filters(name=pattern).narrows()


@pytest.mark.parametrize("pattern", ["*-*", "*[0-9a-f]*", "*-" + "?" * 32])
def test_bulk_deletion_refuses_a_pattern_that_matches_every_id(shell, capsys, env_sandbox,
                                                               pattern):
    result, out = run(shell, capsys, f"%pools --name '{pattern}' --delete --yes")
    assert not result.success and "leaves pools out" in out
    assert env_sandbox.count() == 0
