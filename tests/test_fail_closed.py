"""Prepaid and frozen checks fail closed: a pool is deleted only when its billing mode is the
documented pay-per-use "0" and its controlMode reads as a number without the frozen bits.

Over real HTTP against the sandbox: the client, ``%pool_delete --yes`` and ``%pools --delete
--yes`` send no DELETE for such a pool, and say in one line what they could not tell.
"""

from __future__ import annotations

import copy

import pytest
from conftest import make_client

from modelarts_nb import DeletionRefused, Pool
from modelarts_nb.deletion.rules import exclusion, refusal

BILLING = "os.modelarts/billing.mode"


def odd_pool(sb, *, billing: object = "0", control: object = 0, missing: str = "",
             prefix: str = "odd") -> str:
    """Copy pool-01 with the given billing annotation / controlMode; returns the new id."""
    body = copy.deepcopy(sb.pool_json(next(i for i in sb.pool_ids() if i.startswith("pool-01"))))
    pool_id = f"{prefix}-" + body["metadata"]["name"][len("pool-01-"):]
    body["metadata"]["name"] = pool_id
    body["metadata"]["labels"]["os.modelarts/name"] = "odd-pool"
    body["metadata"]["annotations"][BILLING] = billing
    body["spec"]["controlMode"] = control
    if missing == "billing":
        del body["metadata"]["annotations"][BILLING]
    if missing == "control":
        del body["spec"]["controlMode"]
    return sb.add_pool(body)


ODD_BILLING = [1.0, " 1", "1 ", True, "true", "2", "", "0.0", "\n0", "<b>0</b>", "0" * 2000, None,
               {"mode": "0"}]
ODD_CONTROL = ["8", 1.5, -1, True, "x", [8], {"bits": 0}]


@pytest.mark.parametrize("billing", ODD_BILLING, ids=repr)
def test_unreadable_billing_mode_is_refused_before_any_delete(sandbox, billing):
    pool_id = odd_pool(sandbox, billing=billing)
    sandbox.clear_requests()
    with make_client(sandbox) as client, pytest.raises(DeletionRefused) as info:
        client.delete_pool(pool_id)
    text = str(info.value)
    assert "cannot tell whether pool" in text and "prepaid" in text
    assert "\n" not in text and len(text) < 400  # a 2,000-character mode is cut to 40
    assert sandbox.count(method="DELETE") == 0


def test_missing_billing_mode_is_refused_missing_control_mode_is_not(sandbox):
    no_billing = odd_pool(sandbox, missing="billing", prefix="nobill")
    no_control = odd_pool(sandbox, missing="control", prefix="noctl")
    with make_client(sandbox) as client:
        with pytest.raises(DeletionRefused, match="missing or not text"):
            client.delete_pool(no_billing)
        assert client.delete_pool(no_control) is not None  # controlMode absent = 0
    assert sandbox.accepted_deletes(no_control) == 1 and sandbox.accepted_deletes(no_billing) == 0


@pytest.mark.parametrize("control", ODD_CONTROL, ids=repr)
def test_unreadable_control_mode_is_refused(sandbox, control):
    pool_id = odd_pool(sandbox, control=control)
    with make_client(sandbox) as client, pytest.raises(DeletionRefused, match="frozen"):
        client.delete_pool(pool_id)
    assert sandbox.count(method="DELETE") == 0


@pytest.mark.parametrize("billing", ["1", 1, "0", 0])
def test_documented_modes_still_decide(billing):
    pool = Pool.from_api({"metadata": {"name": "x", "annotations": {BILLING: billing}}})
    reason = refusal(pool)
    if str(billing) == "1":
        assert reason and "unsubscrib" in reason
    else:
        assert reason is None and exclusion(pool) is None


def test_magic_yes_refuses_in_one_line(shell, capsys, env_sandbox):
    pool_id = odd_pool(env_sandbox, billing=1.0)
    result = shell.run_cell(f"%pool_delete {pool_id} --yes")
    out = capsys.readouterr()
    text = out.out + out.err
    assert not result.success and "cannot tell whether pool" in text
    assert env_sandbox.count(method="DELETE") == 0


def test_bulk_leaves_it_out_with_the_reason(shell, capsys, env_sandbox):
    odd_pool(env_sandbox, billing=" 1")
    result = shell.run_cell("%pools --name 'odd-*' --delete --yes --interval 0.05")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "EXCLUDED: odd-pool" in text and "cannot tell whether it is prepaid" in text, text
    assert "Nothing to delete" in text
    assert env_sandbox.count(method="DELETE") == 0
    assert result is not None
