"""Every field the DeletePool page documents reaches both views (issue 23): the text path's
details block and the panel's folded Details section, over real HTTP from the sandbox; the
yearly/monthly refusal names period, auto-renew and order id.
"""

from __future__ import annotations

import copy
import html

import pytest

from modelarts_nb import Pool, Step
from modelarts_nb.notebook.render import details_html, details_lines, pool_text
from modelarts_nb.notebook.theme import html_plain

# The page's own example answer (DeletePool, "Example Responses", status 200), verbatim.
PAGE_EXAMPLE = {
    "kind": "Pool", "apiVersion": "v2",
    "metadata": {
        "name": "auto-pool-os-86c13962597848eeb29c5861153a391f",
        "creationTimestamp": "2022-09-16T03:10:40Z",
        "labels": {"os.modelarts/name": "auto-pool-os", "os.modelarts/workspace.id": "0",
                   "os.modelarts/resource.id": "maos-auto-pool-os-72w8d"},
        "annotations": {"os.modelarts/description": "", "os.modelarts/billing.mode": "0"},
    },
    "spec": {"type": "Dedicate", "scope": ["Train", "Infer"],
             "resources": [{"flavor": "modelarts.vm.cpu.4ud", "count": 2}],
             "network": {"name": "network-maos-86c13962597848eeb29c5861153a391f"}},
    "status": {
        "phase": "Running", "root": "auto-pool-os-86c13962597848eeb29c5861153a391f",
        "scope": [{"scopeType": "Train", "state": "Enabled"},
                  {"scopeType": "Infer", "state": "Enabled"}],
        "resources": {"available": [{"flavor": "modelarts.vm.cpu.4ud", "count": 2,
                                     "azs": [{"az": "cn-north-7c", "count": 2}]}]},
    },
}
PAGE_SHOWN = [
    ("type", "Dedicate"), ("scope", "Train (Enabled), Infer (Enabled)"),
    ("network", "network-maos-86c13962597848eeb29c5861153a391f"),
    ("root", "this pool (a physical pool is its own root)"), ("workspace id", "0"),
    ("resource id", "maos-auto-pool-os-72w8d"), ("billing", "pay-per-use"),
]

MAX_ID = "maxpool-0123456789abcdef0123456789abcdef"
# Every field of the page's PoolMetadataDeletion, PoolSpecModel and PoolStatus tables.
MAXIMAL = {
    "kind": "Pool", "apiVersion": "v2",
    "metadata": {
        "name": MAX_ID, "creationTimestamp": "2026-01-05T08:00:00Z",
        "labels": {"os.modelarts/workspace.id": "0", "os.modelarts/name": "max-pool",
                   "os.modelarts/resource.id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                   "os.modelarts/tenant.domain.id": "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"},
        "annotations": {
            "os.modelarts/description": "the whole page $x$ in one pool",
            "os.modelarts/billing.mode": "1", "os.modelarts/period.num": "2",
            "os.modelarts/period.type": "2", "os.modelarts/auto.renew": "1",
            "os.modelarts/promotion.info": "spring-discount-10",
            "os.modelarts/service.console.url": "https://console.example/modelarts/pools",
            "os.modelarts/order.id": "CS2601050800ABCDE",
            "os.modelarts/flavor.resource.ids": "f1e2d3c4b5a6978877665544332211ff",
            "os.modelarts/tms.tags": "[{\"key\":\"team\",\"value\":\"cv\"}]",
        },
    },
    "spec": {
        "type": "Dedicate", "scope": ["Train", "Infer", "Notebook"],
        "resources": [{
            "flavor": "modelarts.vm.gpu.pnt004", "count": 2,
            "azs": [{"az": "cn-north-4a", "count": 2}],
            "extendParams": {"dockerBaseSize": "100"},
            "os": {"name": "EulerOS 2.10", "imageId": "img-0a1b2c3d", "imageType": "private"},
        }],
        "network": {"name": "network-maos-0123456789abcdef"},
        "jobFlavors": ["modelarts.pool.visual.xlarge", "modelarts.pool.visual.2xlarge"],
        "driver": {"gpuVersion": "535.54.03", "npuVersion": "23.0.rc3",
                   "updateStrategy": "idle"},
        "controlMode": 1,
    },
    "status": {
        "phase": "Running", "message": "scaling done\nnode ready",
        "resources": {
            "available": [{"flavor": "modelarts.vm.gpu.pnt004", "count": 2, "maxCount": 2,
                           "azs": [{"az": "cn-north-4a", "count": 2}],
                           "nodePool": "nodepool-1"}],
            "creating": [], "abnormal": [], "deleting": [],
        },
        "scope": [{"scopeType": "Train", "state": "Enabled"},
                  {"scopeType": "Infer", "state": "Disabling"},
                  {"scopeType": "Notebook", "state": "Enabling"}],
        "driver": {"gpu": {"version": "470.57.02", "state": "Upgrading"},
                   "npu": {"version": "23.0.rc3", "state": "Running"}},
        "parent": "parentpool-0123456789abcdef0123456789ab",
        "root": "rootpool-0123456789abcdef0123456789abcd",
    },
}
MAXIMAL_SHOWN = [
    ("type", "Dedicate"),
    ("scope", "Train (Enabled), Infer (Disabling), Notebook (Enabling)"),
    ("job flavors", "modelarts.pool.visual.xlarge, modelarts.pool.visual.2xlarge"),
    ("network", "network-maos-0123456789abcdef"),
    ("driver", "GPU 470.57.02 (Upgrading), 535.54.03 requested; NPU 23.0.rc3 (Running); "
               "update strategy idle"),
    ("OS image", "EulerOS 2.10, imageId img-0a1b2c3d, imageType private"),
    ("dockerBaseSize", "100"), ("controlMode", "1"),
    ("status message", "scaling done node ready"),  # one line: the newline is gone
    ("parent", "parentpool-0123456789abcdef0123456789ab"),
    ("root", "rootpool-0123456789abcdef0123456789abcd"),
    ("workspace id", "0"), ("resource id", "a1b2c3d4e5f60718293a4b5c6d7e8f90"),
    ("tenant domain id", "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"), ("billing", "yearly/monthly"),
    ("period", "2 months"), ("auto-renew", "on"), ("order id", "CS2601050800ABCDE"),
    ("description", "the whole page $x$ in one pool"),
    ("flavor resource ids", "f1e2d3c4b5a6978877665544332211ff"),
    ("promotion info", "spring-discount-10"),
    ("service console URL", "https://console.example/modelarts/pools"),
]


def _magic(shell, capsys, line: str):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


@pytest.mark.parametrize("body,shown", [(PAGE_EXAMPLE, PAGE_SHOWN), (MAXIMAL, MAXIMAL_SHOWN)],
                         ids=["page-example", "maximal"])
def test_every_documented_field_reaches_the_text_details_block(
        shell, capsys, env_sandbox, body, shown):
    pool_id = env_sandbox.add_pool(copy.deepcopy(body))
    result, out = _magic(shell, capsys, f"%pool_delete {pool_id} --no-widgets")
    assert result.success, out
    block = out[out.index("Details:"):].splitlines()
    for name, value in shown:
        assert f"  {name}: {value}" in block, (name, value)
    assert env_sandbox.count(method="DELETE") == 0


@pytest.mark.parametrize("body,shown", [(PAGE_EXAMPLE, PAGE_SHOWN), (MAXIMAL, MAXIMAL_SHOWN)],
                         ids=["page-example", "maximal"])
def test_every_documented_field_reaches_the_panels_folded_details(
        shell, capsys, env_sandbox, body, shown):
    pool_id = env_sandbox.add_pool(copy.deepcopy(body))
    result, out = _magic(shell, capsys, f"p = %pool_delete {pool_id}")
    assert result.success, out
    panel = shell.user_ns["p"]
    try:
        assert panel.details in panel.children
        section = panel.details.value
        assert section.startswith("<details") and " open" not in section.split(">")[0]
        assert "$" not in section  # MathJax never sees a server's dollar signs
        shown_text = html_plain(section)
        for name, value in shown:
            assert f"{name}{value}" in shown_text, (name, value)
        _, static_html = panel._static_copy()  # the saved copy carries it too
        assert "<details class='mnb-details'>" in static_html
    finally:
        panel.close()
        panel.flow.join(5)


def test_the_yearly_monthly_refusal_names_period_auto_renew_and_order_id(
        shell, capsys, env_sandbox):
    pool_id = env_sandbox.add_pool(copy.deepcopy(MAXIMAL))
    needed = ("period 2 months", "auto-renew on", "order id CS2601050800ABCDE")
    result, out = _magic(shell, capsys, f"%pool_delete {pool_id} --no-widgets")
    refusal = next(line for line in out.splitlines() if line.startswith("Cannot delete here"))
    assert all(piece in refusal for piece in needed) and "unsubscrib" in refusal
    result, out = _magic(shell, capsys, f"%pool_delete {pool_id} --yes --no-widgets")
    assert not result.success and len(out.strip().splitlines()) == 1
    assert out.startswith("DeletionRefused") and all(piece in out for piece in needed)
    result, out = _magic(shell, capsys, f"p = %pool_delete {pool_id}")
    panel = shell.user_ns["p"]
    try:
        assert panel.flow.step is Step.REFUSED
        said = html.unescape(panel.refusal.value)
        assert all(piece in said for piece in ("Period 2 months", "auto-renew on",
                                               "order id CS2601050800ABCDE"))
    finally:
        panel.close()
    assert env_sandbox.count(method="DELETE") == 0


def test_absent_fields_are_left_out_and_odd_ones_shown_as_sent():
    bare = Pool.from_api({"metadata": {"name": MAX_ID}})
    assert details_lines(bare) == [] and details_html(bare) == ""
    odd = copy.deepcopy(MAXIMAL)
    odd["spec"]["jobFlavors"] = {"not": "a list"}
    odd["status"]["parent"] = ["x"]
    del odd["status"]["root"]
    lines = details_lines(Pool.from_api(odd))
    assert '  job flavors: {"not": "a list"}' in lines and '  parent: ["x"]' in lines
    assert not any(line.startswith("  root:") for line in lines)
    assert "Details:" in pool_text(Pool.from_api(odd))
