"""Pool parsing and the two tables, from the documented payloads and from hostile ones."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from modelarts_nb import Pool, spec_resources_table, status_resources_table
from modelarts_nb.deletion.rules import refusal
from modelarts_nb.notebook.tables import SPEC_COLUMNS, STATUS_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def running() -> dict:
    return load("show_pool_running.json")


def test_running_pool_fields(running):
    pool = Pool.from_api(running)
    assert pool.id == "mypool-8a1f2c3d4e5f60718293a4b5c6d7e8f9"
    assert pool.display_name == "mypool"
    assert (pool.type, pool.phase, pool.billing_mode) == ("Dedicate", "Running", "0")
    assert pool.scope == ("Train", "Infer", "Notebook")
    assert pool.created.isoformat() == "2026-03-02T08:15:42+00:00"
    assert pool.deleted is None
    assert not pool.is_prepaid and not pool.is_frozen
    assert pool.resource_id == "maos-mypool-4k7qz"
    assert pool.node_count == 3 + 2 + 1 + 1  # available + creating + abnormal
    assert pool.problems == ()
    assert pool.raw is running


def test_deleting_pool_has_deletion_time():
    pool = Pool.from_api(load("show_pool_deleting.json"))
    assert pool.phase == "Deleting"
    assert pool.deleted.isoformat() == "2026-03-09T11:02:07+00:00"
    assert [line.flavor for line in pool.status_resources["deleting"]] == [
        "modelarts.vm.gpu.tnt004",
        "modelarts.vm.cpu.4ud",
    ]


def test_spec_table_rows_and_az_split(running):
    table = spec_resources_table(Pool.from_api(running))
    assert list(table.columns) == SPEC_COLUMNS
    assert _records(table) == [
        {
            "flavor": "modelarts.vm.gpu.tnt004",
            "count": 4,
            "maxCount": 4,
            "nodePool": "nodepool-1",
            "azs": "cn-north-4a×2, cn-north-4b×2",
        },
        {
            "flavor": "modelarts.vm.cpu.4ud",
            "count": 3,
            "maxCount": 3,
            "nodePool": "nodepool-2",
            "azs": "cn-north-4a×1, cn-north-4c×2",
        },
    ]


def test_status_table_one_row_per_state_and_flavor(running):
    table = status_resources_table(Pool.from_api(running))
    assert list(table.columns) == STATUS_COLUMNS
    rows = [(r["state"], r["flavor"], r["count"]) for r in table.to_dict("records")]
    assert rows == [
        ("creating", "modelarts.vm.cpu.4ud", 1),
        ("available", "modelarts.vm.gpu.tnt004", 3),
        ("available", "modelarts.vm.cpu.4ud", 2),
        ("abnormal", "modelarts.vm.gpu.tnt004", 1),
    ]


def _records(table):
    """Rows as dicts, a missing value as None (pandas 1.x keeps <NA> in to_dict, 2.x gives None)."""
    return [{k: (None if v is None or v is pd.NA else v) for k, v in row.items()}
            for row in table.to_dict("records")]


def test_status_resources_accept_object_form(running):
    body = copy.deepcopy(running)
    body["status"]["resources"] = {
        "available": {"flavor": "f1", "count": 2, "azs": [{"az": "a", "count": 2}]},
        "creating": {},  # the SDK's empty object for "none"
    }
    pool = Pool.from_api(body)
    table = status_resources_table(pool)
    assert _records(table) == [
        {
            "state": "available",
            "flavor": "f1",
            "count": 2,
            "maxCount": None,
            "azs": "a×2",
            "nodePool": None,
        }
    ]
    assert pool.problems == ()


def test_empty_pool_gives_empty_tables_with_columns():
    pool = Pool.from_api({"metadata": {"name": "x"}, "spec": {}, "status": {}})
    for table, columns in (
        (spec_resources_table(pool), SPEC_COLUMNS),
        (status_resources_table(pool), STATUS_COLUMNS),
    ):
        assert table.empty and list(table.columns) == columns


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"metadata": "x", "spec": [], "status": 3},
        {
            "metadata": {"name": 5, "labels": [], "creationTimestamp": "yesterday"},
            "spec": {
                "resources": [1, None, {"count": "many", "azs": "a"}],
                "controlMode": "x",
                "scope": "Train",
            },
            "status": {"phase": {"nested": {"deep": [1]}}, "resources": {"available": 7}},
        },
    ],
)
def test_hostile_payloads_never_raise_and_say_what_was_odd(body):
    pool = Pool.from_api(body)
    assert pool.problems, "odd input must be reported"
    spec_resources_table(pool)
    status_resources_table(pool)


def test_unknown_phase_is_kept(running):
    body = copy.deepcopy(running)
    body["status"]["phase"] = "Hibernating"
    assert Pool.from_api(body).phase == "Hibernating"


def test_prepaid_and_frozen_are_refused_with_guidance(running):
    prepaid = copy.deepcopy(running)
    prepaid["metadata"]["annotations"]["os.modelarts/billing.mode"] = "1"
    text = refusal(Pool.from_api(prepaid))
    assert "unsubscrib" in text and "maos-mypool-4k7qz" in text
    frozen = copy.deepcopy(running)
    frozen["spec"]["controlMode"] = 9
    assert "frozen" in refusal(Pool.from_api(frozen))
    police = copy.deepcopy(running)
    police["spec"]["controlMode"] = 16
    assert "cannot be unsubscribed" in refusal(Pool.from_api(police))
    assert refusal(Pool.from_api(running)) is None


def test_import_is_light():
    code = (
        "import sys, modelarts_nb; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'ipywidgets', 'IPython'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
