"""The sandbox's TMS tags and workspaces over real loopback HTTP (docs/modelarts-api.md §9–10).

Every route and every refusal: what a client sends, what it gets back, and that a refused
request changed nothing. Requests are signed with the package's own ``AkSkAuth``.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.sandbox import Sandbox

ANNOTATION = "os.modelarts/tms.tags"
WORKSPACE_LABEL = "os.modelarts/workspace.id"
BAD_REQUEST = "ModelArts.50004000"
NOT_FOUND = {"error_code": "ModelArts.50015001", "error_msg": "pool not found"}
HEX32 = re.compile(r"[0-9a-f]{32}")
WORKSPACE_FIELDS = {"id", "name", "description", "owner", "enterprise_project_id",
                    "enterprise_project_name", "auth_type", "create_time", "update_time",
                    "status", "status_info"}


@pytest.fixture
def sb(sandboxes) -> Sandbox:
    return sandboxes(delete_seconds=30)


@pytest.fixture
def api(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sb.endpoint}/v1/{sb.project_id}", trust_env=False, timeout=5,
                      auth=AkSkAuth(sb.ak, sb.sk, project_id=sb.project_id)) as client:
        yield client


def pid(sb: Sandbox, display: str) -> str:
    return sb.display_names()[display][0]


def annotation(sb: Sandbox, pool_id: str) -> str | None:
    body = sb.pool_json(pool_id)
    assert body is not None
    return body["metadata"].get("annotations", {}).get(ANNOTATION)


def tags_of(api: httpx.Client, pool_id: str) -> dict[str, list[str]]:
    answer = api.get(f"/pools/{pool_id}/tags")
    assert answer.status_code == 200
    return {tag["key"]: tag["values"] for tag in answer.json()["tags"]}


def create(api: httpx.Client, pool_id: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(f"/pools/{pool_id}/tags/create", content=content,
                    headers={"Content-Type": "application/json"})


def delete(api: httpx.Client, pool_id: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.request("DELETE", f"/pools/{pool_id}/tags/delete", content=content,
                       headers={"Content-Type": "application/json"})


def tagged(**tags: str) -> dict[str, Any]:
    return {"tags": [{"key": k, "value": v} for k, v in tags.items()]}


# -- seeded tags ---------------------------------------------------------------------------------
def test_class_pools_carry_their_tags_in_the_annotation(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")
    assert annotation(sb, pool_id) == (
        '[{"key":"course","value":"ml101"},{"key":"student","value":"s01"}]')
    answer = api.get(f"/pools/{pool_id}/tags")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {"tags": [{"key": "course", "values": ["ml101"]},
                                      {"key": "student", "values": ["s01"]}]}
    labels = (sb.pool_json(pool_id) or {})["metadata"]["labels"]
    assert "course" not in labels and "student" not in labels  # tags, not labels
    assert sb.requests[-1].pool == pool_id and sb.requests[-1].auth == "aksk"


def test_some_class_pools_show_their_tags_only_through_the_tag_api(
        sb: Sandbox, api: httpx.Client, sandboxes) -> None:
    six = sandboxes(pools=6)
    no_annotation = sorted(name for name, ids in six.display_names().items()
                           if name.startswith("pool-")
                           and annotation(six, ids[0]) is None)
    assert no_annotation == ["pool-02", "pool-05"]
    pool_id = pid(sb, "pool-02")
    assert ANNOTATION not in (sb.pool_json(pool_id) or {})["metadata"]["annotations"]
    assert tags_of(api, pool_id) == {"course": ["ml101"], "student": ["s02"]}


def test_other_pools_have_no_tags(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "train-gpu")
    assert annotation(sb, pool_id) is None
    assert api.get(f"/pools/{pool_id}/tags").json() == {"tags": []}


# -- create and delete ---------------------------------------------------------------------------
def test_create_adds_overwrites_and_mirrors_the_annotation(
        sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "train-gpu")
    answer = create(api, pool_id, tagged(team="cv", **{"cost-center": "rd-042"}))
    assert answer.status_code == 200
    assert answer.json() == {"tags": [{"key": "team", "values": ["cv"]},
                                      {"key": "cost-center", "values": ["rd-042"]}]}
    assert json.loads(annotation(sb, pool_id) or "") == [
        {"key": "team", "value": "cv"}, {"key": "cost-center", "value": "rd-042"}]
    assert create(api, pool_id, tagged(team="nlp", empty="")).status_code == 200
    assert tags_of(api, pool_id) == {"team": ["nlp"], "cost-center": ["rd-042"], "empty": [""]}
    assert json.loads(annotation(sb, pool_id) or "")[0] == {"key": "team", "value": "nlp"}


def test_a_pool_without_annotation_stays_without(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-02")
    assert create(api, pool_id, tagged(team="cv")).status_code == 200
    assert delete(api, pool_id, {"tags": [{"key": "student"}]}).status_code == 200
    assert annotation(sb, pool_id) is None
    assert tags_of(api, pool_id) == {"course": ["ml101"], "team": ["cv"]}


def test_delete_by_key_or_by_key_and_value(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")
    assert create(api, pool_id, tagged(team="cv", extra="x")).status_code == 200
    mismatch = delete(api, pool_id, tagged(course="ml102"))  # another value: nothing goes
    assert mismatch.status_code == 200 and "course" in tags_of(api, pool_id)
    assert delete(api, pool_id, {"tags": [{"key": "student"}]}).json()["tags"][0]["key"] == (
        "course")
    assert delete(api, pool_id, tagged(course="ml101")).status_code == 200
    assert delete(api, pool_id, {"tags": [{"key": "team", "value": ""}]}).status_code == 200
    assert delete(api, pool_id, {"tags": [{"key": "never-there"}]}).status_code == 200
    assert tags_of(api, pool_id) == {"extra": ["x"]}
    assert delete(api, pool_id, {"tags": [{"key": "extra", "value": None}]}).status_code == 200
    assert tags_of(api, pool_id) == {} and annotation(sb, pool_id) == "[]"


def test_twenty_tags_a_pool(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")  # holds 2
    assert create(api, pool_id, tagged(**{f"k{i:02d}": str(i) for i in range(18)})
                  ).status_code == 200
    before = tags_of(api, pool_id), annotation(sb, pool_id)
    assert len(before[0]) == 20
    refused = create(api, pool_id, tagged(k99="one too many"))
    assert refused.status_code == 400 and "at most 20 tags" in refused.json()["error_msg"]
    assert (tags_of(api, pool_id), annotation(sb, pool_id)) == before
    assert create(api, pool_id, tagged(k00="overwritten")).status_code == 200  # still 20
    assert tags_of(api, pool_id)["k00"] == ["overwritten"]


def test_racing_creates_never_exceed_twenty(sb: Sandbox) -> None:
    """30 clients add one tag each at once to a pool holding 2: exactly 18 get in, the annotation
    says what the tag API says."""
    pool_id = pid(sb, "pool-01")
    barrier = threading.Barrier(30)
    statuses: list[int] = []

    def add(n: int) -> None:
        with httpx.Client(base_url=f"{sb.endpoint}/v1/{sb.project_id}", trust_env=False,
                          timeout=10, auth=AkSkAuth(sb.ak, sb.sk)) as client:
            barrier.wait(10)
            statuses.append(create(client, pool_id, tagged(**{f"r{n:02d}": "x"})).status_code)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(statuses) == [200] * 18 + [400] * 12
    tags = sb.pool_tags(pool_id) or {}
    assert len(tags) == 20
    assert {t["key"]: t["value"] for t in json.loads(annotation(sb, pool_id) or "")} == tags


def test_a_hostile_value_is_kept_verbatim(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")
    value = '<img src=x onerror="alert(1)">\nstudent=s99\r\n\u202eü€ "quoted"'
    assert create(api, pool_id, tagged(note=value, long="v" * 255)).status_code == 200
    assert tags_of(api, pool_id)["note"] == [value]
    mirrored = {t["key"]: t["value"] for t in json.loads(annotation(sb, pool_id) or "")}
    assert mirrored["note"] == value and mirrored["long"] == "v" * 255
    shown = api.get(f"{sb.endpoint}/v2/{sb.project_id}/pools/{pool_id}").json()
    assert json.loads(shown["metadata"]["annotations"][ANNOTATION]) == json.loads(
        annotation(sb, pool_id) or "")


REFUSED_CREATES: dict[str, Any] = {
    "not JSON": b"tags=course:ml101",
    "not UTF-8": b'{"tags": [{"key": "\xff", "value": ""}]}',
    "deep JSON": b"[" * 100_000,
    "deep tags": b'{"tags": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "no tags": {"tag": []},
    "empty tags": {"tags": []},
    "tags not a list": {"tags": {"key": "a", "value": "b"}},
    "a list body": [{"key": "a", "value": "b"}],
    "tag not an object": {"tags": ["course=ml101"]},
    "reserved key": tagged(_sys_x="v"),
    "reserved key alone": tagged(_sys_=""),
    "empty key": tagged(**{"": "v"}),
    "key of 129": tagged(**{"k" * 129: "v"}),
    "key of 2000 with HTML": tagged(**{"<b>" + "k" * 1997: "v"}),
    "value of 256": tagged(course="v" * 256),
    "value of 2000": tagged(course="<script>" + "v" * 1992),
    "numeric key": {"tags": [{"key": 7, "value": "v"}]},
    "numeric value": {"tags": [{"key": "course", "value": 101}]},
    "null value": {"tags": [{"key": "course", "value": None}]},
    "no value": {"tags": [{"key": "course"}]},
    "same key twice": {"tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
    "a thousand and one": {"tags": [{"key": f"k{i}", "value": ""} for i in range(1001)]},
}


@pytest.mark.parametrize("what", list(REFUSED_CREATES))
def test_create_refusals_change_nothing(sb: Sandbox, api: httpx.Client, what: str) -> None:
    pool_id = pid(sb, "pool-01")
    before = tags_of(api, pool_id), annotation(sb, pool_id)
    answer = create(api, pool_id, REFUSED_CREATES[what])
    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"error_code", "error_msg"} and error["error_code"] == BAD_REQUEST
    assert "\n" not in error["error_msg"] and len(error["error_msg"]) < 120
    assert "<" not in error["error_msg"] and "kkkk" not in error["error_msg"]  # never echoed
    assert (tags_of(api, pool_id), annotation(sb, pool_id)) == before


@pytest.mark.parametrize("body", [b"{", b"[" * 100_000, {"tags": []}, tagged(_sys_x="v"),
                                  {"tags": [{"key": "k" * 129}]},
                                  {"tags": [{"key": "course", "value": 1}]}])
def test_delete_refusals_change_nothing(sb: Sandbox, api: httpx.Client, body: Any) -> None:
    pool_id = pid(sb, "pool-01")
    before = tags_of(api, pool_id)
    answer = delete(api, pool_id, body)
    assert answer.status_code == 400 and answer.json()["error_code"] == BAD_REQUEST
    assert tags_of(api, pool_id) == before


def test_unknown_pool_is_404_on_every_tag_route(sb: Sandbox, api: httpx.Client) -> None:
    missing = "nowhere-" + "0" * 32
    for answer in (api.get(f"/pools/{missing}/tags"), create(api, missing, tagged(a="b")),
                   create(api, missing, b"not json"), delete(api, missing, tagged(a="b"))):
        assert answer.status_code == 404 and answer.json() == NOT_FOUND


def test_tag_routes_are_authenticated_like_every_route(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")
    base = f"{sb.endpoint}/v1/{sb.project_id}"
    wrong = AkSkAuth(sb.ak, "X" * 40, project_id=sb.project_id)
    with httpx.Client(trust_env=False, timeout=5) as anonymous:
        assert anonymous.get(f"{base}/pools/{pool_id}/tags").status_code == 401
        assert anonymous.get(f"{base}/pools/tags").status_code == 401
        assert anonymous.get(f"{base}/workspaces").status_code == 401
        refused = anonymous.post(f"{base}/pools/{pool_id}/tags/create", json=tagged(a="b"),
                                 auth=wrong)
    assert refused.status_code == 401 and refused.json()["error_code"] == "APIGW.0301"
    assert "a" not in tags_of(api, pool_id)
    other = api.get(f"{sb.endpoint}/v1/{'f' * 32}/pools/{pool_id}/tags")
    assert other.status_code == 403 and other.json()["error_code"] == "ModelArts.0210"


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/pools/{pool}/tags/create"), ("GET", "/pools/{pool}/tags/create"),
    ("POST", "/pools/{pool}/tags"), ("GET", "/pools/{pool}/tags/delete"),
    ("DELETE", "/pools/tags"), ("POST", "/workspaces"), ("GET", "/pools/{pool}/tags/reset"),
])
def test_other_methods_and_paths_do_not_exist(sb: Sandbox, api: httpx.Client, method: str,
                                              path: str) -> None:
    answer = api.request(method, path.format(pool=pid(sb, "pool-01")), content=b"{}")
    assert answer.status_code == 404 and answer.json()["error_code"] == "APIG.0101"


def test_a_pool_takes_its_tags_with_it(sandboxes) -> None:
    fast = sandboxes(delete_seconds=0.3, pools=2)
    with httpx.Client(
            base_url=f"{fast.endpoint}/v1/{fast.project_id}", trust_env=False, timeout=5,
            auth=AkSkAuth(fast.ak, fast.sk)) as api:
        pool_id = pid(fast, "pool-01")
        assert api.delete(f"{fast.endpoint}/v2/{fast.project_id}/pools/{pool_id}"
                          ).status_code == 200
        assert tags_of(api, pool_id)["student"] == ["s01"]  # still there while Deleting
        time.sleep(0.4)
        assert api.get(f"/pools/{pool_id}/tags").status_code == 404
        listed = {t["key"]: t["values"] for t in api.get("/pools/tags").json()["tags"]}
        assert listed["student"] == ["s02"]
        fast.remove_pool(pid(fast, "pool-02"))
        assert "student" not in {t["key"] for t in api.get("/pools/tags").json()["tags"]}


def test_reset_brings_the_seeded_tags_back(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "pool-01")
    assert delete(api, pool_id, {"tags": [{"key": "course"}]}).status_code == 200
    sb.admin().reset()
    assert tags_of(api, pool_id) == {"course": ["ml101"], "student": ["s01"]}


# -- every pool's tags ---------------------------------------------------------------------------
def test_list_pool_tags_covers_every_workspace(sb: Sandbox, api: httpx.Client) -> None:
    answer = api.get("/pools/tags")
    assert answer.status_code == 200
    assert answer.json() == {"tags": [
        {"key": "course", "values": ["ml101"]},
        {"key": "project", "values": ["llm-eval"]},
        {"key": "student", "values": ["s01", "s02", "s03"]},
        {"key": "team", "values": ["research"]},
    ]}


def test_list_pool_tags_pages(sb: Sandbox, api: httpx.Client) -> None:
    def keys(query: str) -> list[str]:
        answer = api.get(f"/pools/tags?{query}")
        assert answer.status_code == 200
        return [tag["key"] for tag in answer.json()["tags"]]

    assert keys("limit=2") == ["course", "project"]
    assert keys("limit=2&offset=1") == ["student", "team"]  # offset is the page ("start page")
    assert keys("limit=3&offset=1") == ["team"] and keys("limit=2&offset=2") == []
    assert keys("offset=0") == keys("") == ["course", "project", "student", "team"]
    for query in ("limit=0", "limit=-1", "limit=abc", "offset=-1", "offset=1.5", "limit=nan"):
        answer = api.get(f"/pools/tags?{query}")
        assert answer.status_code == 400 and answer.json()["error_code"] == BAD_REQUEST, query


def test_list_pool_tags_defaults_to_200_keys(sb: Sandbox, api: httpx.Client) -> None:
    template = sb.pool_json(pid(sb, "train-gpu")) or {}
    for n in range(11):  # 11 pools × 20 keys + the 4 seeded keys = 224 keys
        body = copy.deepcopy(template)
        body["metadata"]["name"] = f"many-{n:02d}-{n:032x}"
        sb.tag_pool(sb.add_pool(body), {f"k{n:02d}-{i:02d}": "y" for i in range(20)})
    first = [t["key"] for t in api.get("/pools/tags").json()["tags"]]
    second = [t["key"] for t in api.get("/pools/tags?offset=1").json()["tags"]]
    assert (len(first), len(second)) == (200, 24)
    assert first + second == sorted(set(first + second)) and first[0] == "course"


# -- tags set from Python ------------------------------------------------------------------------
def test_tag_pool_and_add_pool_from_python(sb: Sandbox, api: httpx.Client) -> None:
    pool_id = pid(sb, "train-gpu")
    assert sb.tag_pool(pool_id, {"course": "ml101"}) == {"course": "ml101"}
    assert json.loads(annotation(sb, pool_id) or "") == [{"key": "course", "value": "ml101"}]
    sb.tag_pool(pool_id, {"team": "cv"}, annotate=False)  # from now on: tag API only
    assert annotation(sb, pool_id) is None
    assert tags_of(api, pool_id) == {"course": ["ml101"], "team": ["cv"]}
    for bad in ({"_sys_x": "v"}, {"": "v"}, {"k": "v" * 256}):
        with pytest.raises(ValueError):
            sb.tag_pool(pool_id, bad)
    with pytest.raises(ValueError, match="at most 20"):
        sb.tag_pool(pool_id, {f"k{i}": "" for i in range(19)})
    with pytest.raises(KeyError):
        sb.tag_pool("nowhere-" + "0" * 32, {"a": "b"})
    assert sb.pool_tags(pool_id) == {"course": "ml101", "team": "cv"}
    assert sb.pool_tags("nowhere-" + "0" * 32) is None


@pytest.mark.parametrize(("raw", "served"), [
    ('[{"key":"course","values":["ml101","ml102"]}]', {"course": ["ml101"]}),  # SDK shape
    ("not json", {}), ('{"course": "ml101"}', {}), ("", {}), ("[1, null, {}]", {}),
    ('[{"key":"a\\nb","value":"<i>x</i>"}]', {"a\nb": ["<i>x</i>"]}),
])
def test_an_odd_annotation_is_kept_verbatim(sb: Sandbox, api: httpx.Client, raw: str,
                                            served: dict[str, list[str]]) -> None:
    """What a test plants is what a client reads; the tag API serves what it can make of it."""
    body = copy.deepcopy(sb.pool_json(pid(sb, "pool-01")) or {})
    body["metadata"]["name"] = "planted-" + "a" * 32
    body["metadata"]["annotations"][ANNOTATION] = raw
    pool_id = sb.add_pool(body)
    assert annotation(sb, pool_id) == raw
    assert tags_of(api, pool_id) == served
    assert create(api, pool_id, tagged(z="1")).status_code == 200  # a change rewrites it
    assert json.loads(annotation(sb, pool_id) or "")[-1] == {"key": "z", "value": "1"}


def test_add_pool_without_annotation(sb: Sandbox, api: httpx.Client) -> None:
    body = copy.deepcopy(sb.pool_json(pid(sb, "pool-01")) or {})
    body["metadata"]["name"] = "quiet-" + "b" * 32
    pool_id = sb.add_pool(body, annotate=False)
    assert annotation(sb, pool_id) is None
    assert tags_of(api, pool_id) == {"course": ["ml101"], "student": ["s01"]}


def test_five_hundred_tagged_pools(sb: Sandbox, api: httpx.Client) -> None:
    template = sb.pool_json(pid(sb, "pool-01")) or {}
    bodies = []
    for n in range(500):
        body = copy.deepcopy(template)
        body["metadata"]["name"] = f"class-{n:03d}-{n:032x}"
        body["metadata"]["annotations"][ANNOTATION] = json.dumps(
            [{"key": "course", "value": "ml102"}, {"key": "student", "value": f"t{n:03d}"}])
        bodies.append(body)
    ids = sb.add_pools(bodies)
    assert len(ids) == 500 and len(set(ids)) == 500
    listed = api.get(f"{sb.endpoint}/v2/{sb.project_id}/pools").json()["items"]
    assert sum(item["metadata"]["name"].startswith("class-") for item in listed) == 500
    values = {t["key"]: t["values"] for t in api.get("/pools/tags").json()["tags"]}
    assert values["course"] == ["ml101", "ml102"] and len(values["student"]) == 3 + 500


# -- workspaces ----------------------------------------------------------------------------------
def workspaces(api: httpx.Client, query: str = "") -> dict[str, Any]:
    answer = api.get(f"/workspaces?{query}" if query else "/workspaces")
    assert answer.status_code == 200, answer.text
    return answer.json()


def research(sb: Sandbox) -> str:
    return next(w["id"] for w in sb.workspaces() if w["name"] == "research-team")


def test_list_workspaces(sb: Sandbox, api: httpx.Client) -> None:
    listed = workspaces(api)
    assert (listed["total_count"], listed["count"]) == (2, 2)
    assert [w["name"] for w in listed["workspaces"]] == ["research-team", "default"]  # name desc
    for workspace in listed["workspaces"]:
        assert set(workspace) == WORKSPACE_FIELDS
        assert workspace["status"] == "NORMAL" and isinstance(workspace["create_time"], int)
    default, custom = listed["workspaces"][1], listed["workspaces"][0]
    assert default["id"] == "0" and HEX32.fullmatch(custom["id"])
    assert custom["auth_type"] in ("PUBLIC", "PRIVATE", "INTERNAL")


@pytest.mark.parametrize(("query", "names", "total"), [
    ("limit=1", ["research-team"], 2),
    ("limit=1&offset=1", ["default"], 2),
    ("offset=2", [], 2),
    ("order=asc", ["default", "research-team"], 2),
    ("sort_by=update_time&order=asc", ["default", "research-team"], 2),
    ("sort_by=status", ["research-team", "default"], 2),
    ("name=RESEARCH", ["research-team"], 1),
    ("name=zzz", [], 0),
    ("enterprise_project_id=0", ["research-team", "default"], 2),
    ("enterprise_project_id=other", [], 0),
    ("filter_accessible=true", ["research-team", "default"], 2),
    ("filter_accessible=False&limit=1000", ["research-team", "default"], 2),
])
def test_list_workspaces_query(sb: Sandbox, api: httpx.Client, query: str, names: list[str],
                               total: int) -> None:
    listed = workspaces(api, query)
    assert [w["name"] for w in listed["workspaces"]] == names
    assert (listed["total_count"], listed["count"]) == (total, len(names))


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "offset=-1",
                                   "offset=2147483648", "sort_by=owner", "order=up",
                                   "filter_accessible=maybe", "limit=1e3"])
def test_list_workspaces_bad_query(sb: Sandbox, api: httpx.Client, query: str) -> None:
    answer = api.get(f"/workspaces?{query}")
    assert answer.status_code == 400 and answer.json()["error_code"] == BAD_REQUEST


def test_pools_are_listed_one_workspace_at_a_time(sb: Sandbox, api: httpx.Client) -> None:
    def names(query: str = "") -> set[str]:
        answer = api.get(f"{sb.endpoint}/v2/{sb.project_id}/pools" + (f"?{query}" if query else ""))
        assert answer.status_code == 200
        return {i["metadata"]["labels"]["os.modelarts/name"] for i in answer.json()["items"]}

    default = names()
    assert default == names("workspaceId=0") == names("workspaceId=")
    assert "train-gpu" in default and not any(n.startswith("research-") for n in default)
    assert names(f"workspaceId={research(sb)}") == {
        "research-gpu", "research-notebooks", "research-archive"}
    assert names(f"workspaceId={research(sb)}&status=created") == names(
        f"workspaceId={research(sb)}")
    assert names(f"workspaceId={'e' * 32}") == set()
    assert names(f"workspaceId={research(sb)}&labelSelector=course") == set()  # tags, not labels
    assert len(sb.pool_ids()) == len(default) + 1  # two pools share "team-shared"
    assert len(sb.pool_ids(workspace=None)) == len(sb.pool_ids()) + 3
    assert len(sb.pool_ids(workspace=research(sb))) == 3


def test_research_pools_are_tagged(sb: Sandbox, api: httpx.Client) -> None:
    tags = {pool_id: tags_of(api, pool_id) for pool_id in sb.pool_ids(workspace=research(sb))}
    assert all(t["team"] == ["research"] for t in tags.values())
    assert sum(t.get("course") == ["ml101"] for t in tags.values()) == 1
    for pool_id in tags:
        labels = (sb.pool_json(pool_id) or {})["metadata"]["labels"]
        assert labels[WORKSPACE_LABEL] == research(sb) and "course" not in labels


def test_add_workspace_from_python(sb: Sandbox, api: httpx.Client) -> None:
    new = sb.add_workspace("vision-team", description="CV experiments", auth_type="PRIVATE")
    assert HEX32.fullmatch(new)
    body = copy.deepcopy(sb.pool_json(pid(sb, "pool-01")) or {})
    body["metadata"]["name"] = "vision-" + "c" * 32
    body["metadata"]["labels"][WORKSPACE_LABEL] = new
    sb.add_pool(body)
    listed = workspaces(api, "name=vision")["workspaces"]
    assert [(w["id"], w["auth_type"]) for w in listed] == [(new, "PRIVATE")]
    answer = api.get(f"{sb.endpoint}/v2/{sb.project_id}/pools?workspaceId={new}")
    assert [i["metadata"]["name"] for i in answer.json()["items"]] == ["vision-" + "c" * 32]
    assert "vision-" + "c" * 32 not in sb.pool_ids()
    with pytest.raises(TypeError):
        sb.add_workspace("x", colour="red")
    assert sb.add_workspace("fixed", workspace_id="f" * 32) == "f" * 32

