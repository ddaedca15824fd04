"""Property-based bad input: every invalid name is refused with zero requests; every valid id
round-trips through the URL and the signature; hostile payloads never crash tables or panel."""

from __future__ import annotations

import json
import re

import pytest
from conftest import make_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelarts_nb import (
    InvalidName,
    ModelArtsError,
    Pool,
    PoolNotFound,
    resolve_settings,
    spec_resources_table,
    status_resources_table,
)
from modelarts_nb.gateway.names import check_endpoint, check_region, looks_like_pool_id
from modelarts_nb.notebook.render import pool_html, pool_text
from modelarts_nb.sandbox import Fault

POOL_ID = r"[a-z][a-z0-9-]{34,61}[a-z0-9]"
HTTP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PURE = settings(max_examples=300, deadline=None)
# Text that tends to break URLs: separators, escapes, dots, unicode and control characters.
NASTY = st.text(
    alphabet=st.sampled_from(list("ab-/._?#%& \t\n\x00\u00e9\u202e~+=:;@")) | st.characters(),
    max_size=80,
)


@pytest.fixture(scope="module")
def sb(sandboxes_for_module):
    return sandboxes_for_module(pools=1, delete_seconds=60)


@pytest.fixture(scope="module")
def client(sb):
    with make_client(sb) as c:
        yield c


@HTTP
@given(name=NASTY)
def test_any_name_is_valid_or_refused_without_a_request(client, sb, name):
    before = sb.count()
    if looks_like_pool_id(name):
        with pytest.raises(PoolNotFound):
            client.get_pool(name)
        return
    for call in (client.get_pool, client.delete_pool):
        with pytest.raises(InvalidName, match="nothing was sent"):
            call(name)
    assert sb.count() == before


@HTTP
@given(pool_id=st.from_regex(POOL_ID, fullmatch=True))
def test_valid_ids_round_trip_through_url_and_signature(client, sb, pool_id):
    with pytest.raises(PoolNotFound):  # 404 from the API itself: the signature was accepted
        client.get_pool(pool_id)
    record = sb.requests[-1]
    assert record.path == f"/v2/{sb.project_id}/pools/{pool_id}" and record.status == 404


@HTTP
@given(project=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", fullmatch=True) | NASTY)
def test_project_ids_are_validated_and_signed(sb, project, tmp_path_factory):
    env = {"HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(tmp_path_factory.mktemp("p") / "none")}
    kw = dict(access_key=sb.ak, secret_key=sb.sk, endpoint=sb.endpoint, env=env)
    try:
        settings_ = resolve_settings(project_id=project, **kw)
    except ModelArtsError as exc:
        assert isinstance(exc, InvalidName) or "project id" in str(exc)
        return
    from modelarts_nb import PoolsClient

    with PoolsClient(settings_) as client:
        try:
            client.list_pools()
        except ModelArtsError as exc:  # someone else's project: refused after the signature
            assert getattr(exc, "error_code", None) == "ModelArts.0210"


@PURE
@given(endpoint=NASTY | st.from_regex(r"https?://[a-z0-9.:\[\]-]{1,30}(/[a-z/]*)?", fullmatch=True))
def test_endpoints_are_refused_clearly_or_safe(endpoint):
    try:
        value = check_endpoint(endpoint)
    except InvalidName as exc:
        assert "\n" not in str(exc)
        return
    assert value.startswith("https://") or re.match(r"http://(127\.|localhost|\[::1\])", value)


@PURE
@given(region=NASTY | st.from_regex(r"[a-z]{2}-[a-z]+-[0-9]", fullmatch=True))
def test_regions_are_refused_clearly_or_well_formed(region):
    try:
        check_region(region)
    except InvalidName:
        return
    assert re.fullmatch(r"[a-z]{2,}(-[a-z0-9]+)+", region)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "resources",
        "labels",
        "annotations",
        "phase",
        "name",
        "available",
        "deleting",
        "azs",
        "flavor",
        "count",
        "controlMode",
        "creationTimestamp",
        "os.modelarts/name",
    ]
)


def _graft(base: dict, path: list[str], junk: object) -> dict:
    node = base
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict) and path:
        node[path[-1]] = junk
    return base


@PURE
@given(junk=JSON, path=st.lists(KEYS, min_size=1, max_size=4))
def test_hostile_payloads_never_crash_tables_or_text(junk, path):
    body = _graft({"metadata": {"name": "x"}, "spec": {}, "status": {}}, path, junk)
    pool = Pool.from_api(body)
    spec_resources_table(pool)
    status_resources_table(pool)
    pool_text(pool)
    pool_html(pool, region="cn-north-4", endpoint="https://x")


@settings(max_examples=40, deadline=None)
@given(junk=JSON, path=st.lists(KEYS, min_size=1, max_size=3))
def test_hostile_payloads_never_crash_the_panel(junk, path):
    from modelarts_nb import PoolsClient
    from modelarts_nb.deletion.flow import DeleteFlow
    from modelarts_nb.gateway.settings import Credentials, Settings
    from modelarts_nb.notebook.panel import DeletePanel

    body = _graft({"metadata": {"name": "x"}, "spec": {}, "status": {}}, path, junk)
    client = PoolsClient(Settings("http://127.0.0.1:9", "p", Credentials("a", "b")))
    try:
        panel = DeletePanel(DeleteFlow(client, Pool.from_api(body)))
        assert panel.header.value and panel.tables.value is not None
        json.dumps(panel.mimebundle())
        panel.close()
    finally:
        client.close()


def test_huge_and_non_utf8_answers(sb, client):
    pool_id = sb.pool_ids()[0]
    body = sb.pool_json(pool_id)
    body["spec"]["resources"] = [
        {"flavor": f"f{i}", "count": i, "azs": [{"az": "a", "count": i}]} for i in range(5000)
    ]
    body["status"]["phase"] = "Hibernating"
    sb.add_pool(body)
    pool = client.get_pool(pool_id)
    assert len(spec_resources_table(pool)) == 5000 and pool.phase == "Hibernating"
    sb.inject(Fault(method="GET", status=200, body=b"\xff\xfe{\x80bad", times=10))
    try:
        with pytest.raises(ModelArtsError, match="not valid JSON"):
            client.get_pool(pool_id)
    finally:
        sb.clear_faults()  # the module shares this sandbox: no fault may outlive the test


LINE = st.lists(
    st.sampled_from(
        [
            "--yes",
            "--no-wait",
            "--no-widgets",
            "--timeout",
            "--interval",
            "-1",
            "0",
            "--project-id",
            "--region",
            "--endpoint",
            "x/y",
            "..",
            "'a b'",
            '"',
            "http://10.0.0.1",
            "cn-north-4",
            "team-shared",
            "%",
            "#",
            "--bogus",
        ]
    )
    | st.text(
        alphabet=st.characters(
            blacklist_characters="{}$!\\", blacklist_categories=["Cs", "Cc", "Zl", "Zp"]
        ),
        max_size=12,
    ),
    max_size=6,
).map(" ".join)


@HTTP
@given(line=LINE)
def test_junk_magic_lines_fail_in_one_line_and_never_delete(shell, capsys, env_sandbox, line):
    result = shell.run_cell(f"%pool_delete {line}")
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert env_sandbox.count(method="DELETE") == 0
    if not result.success:
        assert "Traceback" not in text
        assert len(text.splitlines()) <= 2, text  # the error line (+ IPython's usage hint)
