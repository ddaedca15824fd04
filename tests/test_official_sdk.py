"""Fidelity proof: Huawei's own ``huaweicloudsdkmodelarts`` client works against the sandbox.

The SDK signs with its own ``Signer`` (it also signs ``user-agent``), encodes queries its own
way and parses answers with its own models and exception handler, so passing here means the
sandbox's gateway behaves like the real one for code we did not write. Credentials and
project are always explicit and the ``HUAWEICLOUD_*`` variables are removed, so the SDK never
reaches for IAM, metadata (169.254.169.254) or a profile file.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    ConnectionException,
    ServerResponseException,
)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkmodelarts.v1 import (
    DeletePoolRequest,
    ListPoolsRequest,
    ModelArtsClient,
    ShowPoolRequest,
)

from modelarts_nb.sandbox import Fault, Sandbox

SECURITY_TOKEN = "SANDBOX-FAKE-SECURITY-TOKEN-0002"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the environment may feed the SDK's credential, region or proxy chains."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("HUAWEICLOUD_", "HC_CONTAINER_")) or upper.endswith("_PROXY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything (IAM, metadata, a region endpoint) tries to leave the machine."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = ipaddress.ip_address(address[0])
            assert host.is_loopback, f"non-loopback connection attempted to {host}"
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def sb(sandboxes) -> Sandbox:
    return sandboxes(delete_seconds=30)


def sdk(
    sandbox: Sandbox, *, sk: str | None = None, security_token: str | None = None, retries: int = 0
) -> ModelArtsClient:
    credentials = BasicCredentials(sandbox.ak, sk or sandbox.sk, sandbox.project_id)
    if security_token is not None:
        credentials = credentials.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    config.timeout = (5, 5)
    config.retry_times = retries
    return (
        ModelArtsClient.new_builder()
        .with_credentials(credentials)
        .with_endpoint(sandbox.endpoint)
        .with_http_config(config)
        .build()
    )


def pid(sandbox: Sandbox, display: str) -> str:
    return sandbox.display_names()[display][0]


def test_show_list_delete(sb: Sandbox) -> None:
    client, pool_id = sdk(sb), pid(sb, "pool-01")
    shown = client.show_pool(ShowPoolRequest(pool_name=pid(sb, "train-gpu")))
    assert shown.kind == "Pool" and shown.status.phase == "Running"
    assert [r.flavor for r in shown.spec.resources] == [
        "modelarts.vm.gpu.tnt004",
        "modelarts.vm.gpu.pnt004",
        "modelarts.vm.cpu.8u",
    ]
    assert shown.metadata.annotations.os_modelarts_billing_mode == "0"
    request = ListPoolsRequest(label_selector="os.modelarts/name=pool-01", status="created")
    listed = client.list_pools(request)
    assert listed.kind == "PoolList" and [p.metadata.name for p in listed.items] == [pool_id]
    deleted = client.delete_pool(DeletePoolRequest(pool_name=pool_id))
    assert deleted.status.phase == "Deleting" and deleted.metadata.deletion_timestamp
    assert sb.accepted_deletes(pool_id) == 1
    records = sb.requests
    assert [(r.method, r.status, r.auth) for r in records] == [
        ("GET", 200, "aksk"),
        ("GET", 200, "aksk"),
        ("DELETE", 200, "aksk"),
    ]
    assert all(r.headers["user-agent"].startswith("huaweicloud-usdk-python/") for r in records)
    assert records[1].query == "labelSelector=os.modelarts%2Fname%3Dpool-01&status=created"


def test_object_and_list_forms_of_status_resources(sb: Sandbox) -> None:
    """The SDK models status.resources keys as objects; fed lists, it silently yields nothing."""
    client = sdk(sb)
    infer = client.show_pool(ShowPoolRequest(pool_name=pid(sb, "infer-cpu")))
    assert infer.status.resources.available.count == 2
    train = client.show_pool(ShowPoolRequest(pool_name=pid(sb, "train-gpu")))
    assert train.status.resources.available.count is None


def test_wrong_sk_is_client_error_401(sb: Sandbox) -> None:
    with pytest.raises(ClientRequestException) as caught:
        sdk(sb, sk="Y" * 40).show_pool(ShowPoolRequest(pool_name=pid(sb, "pool-01")))
    assert caught.value.status_code == 401 and caught.value.error_code == "APIGW.0301"
    assert caught.value.request_id and len(caught.value.request_id) == 32


def test_missing_pool_is_404(sb: Sandbox) -> None:
    with pytest.raises(ClientRequestException) as caught:
        sdk(sb).show_pool(ShowPoolRequest(pool_name="missing-" + "0" * 32))
    assert caught.value.status_code == 404
    assert caught.value.error_code == "ModelArts.50015001"
    assert caught.value.error_msg == "pool not found"


def test_prepaid_delete_refused(sb: Sandbox) -> None:
    pool_id = pid(sb, "prepaid-pool")
    with pytest.raises(ClientRequestException) as caught:
        sdk(sb).delete_pool(DeletePoolRequest(pool_name=pool_id))
    assert caught.value.status_code == 400 and caught.value.error_code == "ModelArts.50015010"
    assert sb.accepted_deletes(pool_id) == 0


def test_security_token(sandboxes) -> None:
    sandbox = sandboxes(security_token=SECURITY_TOKEN)
    pool_id = pid(sandbox, "pool-01")
    shown = sdk(sandbox, security_token=SECURITY_TOKEN).show_pool(
        ShowPoolRequest(pool_name=pool_id)
    )
    assert shown.metadata.name == pool_id
    assert sandbox.requests[-1].headers["x-security-token"] == "***"
    with pytest.raises(ClientRequestException) as caught:
        sdk(sandbox).show_pool(ShowPoolRequest(pool_name=pool_id))
    assert caught.value.status_code == 401
    with pytest.raises(ClientRequestException):
        sdk(sandbox, security_token="wrong").show_pool(ShowPoolRequest(pool_name=pool_id))


def test_sdk_transport_retry_honours_429_retry_after(sb: Sandbox) -> None:
    sb.inject(Fault(method="GET", status=429, retry_after=1))
    shown = sdk(sb, retries=1).show_pool(ShowPoolRequest(pool_name=pid(sb, "pool-01")))
    assert shown.status.phase == "Running"
    assert [(r.status, r.fault) for r in sb.requests] == [(429, "status:429"), (200, None)]


def test_sdk_sees_gateway_faults(sb: Sandbox) -> None:
    client, pool_id = sdk(sb), pid(sb, "pool-01")
    sb.inject(Fault(status=503))
    with pytest.raises(ServerResponseException) as caught:
        client.show_pool(ShowPoolRequest(pool_name=pool_id))
    assert caught.value.status_code == 503 and caught.value.error_code == "APIG.0202"
    sb.inject(Fault(method="DELETE", drop="after"))
    with pytest.raises(ConnectionException):
        client.delete_pool(DeletePoolRequest(pool_name=pool_id))
    assert sb.accepted_deletes(pool_id) == 1


def test_workload_statistics_workloads_and_nodes(sb: Sandbox) -> None:
    """Huawei's SDK reads what a pool carries from the sandbox (docs/modelarts-api.md §6–7), every field kept."""
    from huaweicloudsdkmodelarts.v1 import (
        ListPoolNodesRequest,
        ListWorkloadsRequest,
        ShowWorkloadStatisticsRequest,
    )

    client, train = sdk(sb), pid(sb, "train-gpu")
    stats = client.show_workload_statistics(ShowWorkloadStatisticsRequest(pool_name=train))
    [item] = stats.statistics.items
    assert (item.type, item.total, item.status.running, item.status.queue) == ("train", 3, 2, 1)
    listed = client.list_workloads(ListWorkloadsRequest(pool_name=train, limit=2, offset="1"))
    assert [w.job_name for w in listed.items] == ["bert-pretrain", "yolo-sweep"]
    assert listed.items[0].running_duration == 7200 and listed.items[0].namespace == train
    running = client.list_workloads(ListWorkloadsRequest(pool_name=train, status="Running"))
    assert {w.status for w in running.items} == {"Running"} and len(running.items) == 2
    pages, token = [], ""
    while len(pages) < 5:  # 9 nodes, 4 a page: 3 pages
        page = client.list_pool_nodes(ListPoolNodesRequest(pool_name=train, limit=4,
                                                           _continue=token or None))
        pages.append(page)
        token = page.metadata._continue
        if not token:
            break
    assert [len(p.items) for p in pages] == [4, 4, 1]
    assert [p.metadata.remaining_item_count for p in pages] == [5, 1, 0]
    phases = [n.status.phase for p in pages for n in p.items]
    assert phases.count("Available") == 7 and "Abnormal" in phases and "Creating" in phases
    assert [r.query for r in sb.requests if r.path.endswith("/nodes")][1].startswith("continue=")


def test_pool_tags(sb: Sandbox) -> None:
    """ShowPoolTags, BatchCreatePoolTags, BatchDeletePoolTags (DELETE with a JSON body) and
    ListPoolTags, each parsed by the SDK's own models (docs/modelarts-api.md §9.1)."""
    from huaweicloudsdkmodelarts.v1 import (
        BatchCreatePoolTagsRequest,
        BatchDeletePoolTagsRequest,
        CreateTagRequest,
        DeleteTagItem,
        DeleteTagRequest,
        ListPoolTagsRequest,
        ShowPoolTagsRequest,
        Tag,
    )

    client, pool_id = sdk(sb), pid(sb, "pool-02")  # a pool whose tags only the tag API shows

    def shown() -> dict[str, list[str]]:
        answer = client.show_pool_tags(ShowPoolTagsRequest(pool_name=pool_id))
        return {tag.key: tag.values for tag in answer.tags}

    assert shown() == {"course": ["ml101"], "student": ["s02"]}
    created = client.batch_create_pool_tags(BatchCreatePoolTagsRequest(
        pool_name=pool_id,
        body=CreateTagRequest(tags=[Tag(key="team", value="cv"), Tag(key="student", value="s99")]),
    ))
    assert {t.key: t.values for t in created.tags} == {
        "course": ["ml101"], "student": ["s99"], "team": ["cv"]}
    deleted = client.batch_delete_pool_tags(BatchDeletePoolTagsRequest(
        pool_name=pool_id,
        body=DeleteTagRequest(tags=[DeleteTagItem(key="team", value="cv"),
                                    DeleteTagItem(key="student")]),
    ))
    assert [t.key for t in deleted.tags] == ["course"] and shown() == {"course": ["ml101"]}
    delete_record = [r for r in sb.requests if r.method == "DELETE"][0]
    assert delete_record.path.endswith("/tags/delete") and delete_record.status == 200
    listed = client.list_pool_tags(ListPoolTagsRequest(limit=2, offset=1))
    assert [t.key for t in listed.tags] == ["student", "team"]
    everything = client.list_pool_tags(ListPoolTagsRequest())
    assert {t.key: t.values for t in everything.tags}["student"] == ["s01", "s03"]
    with pytest.raises(ClientRequestException) as caught:
        client.batch_create_pool_tags(BatchCreatePoolTagsRequest(
            pool_name=pool_id, body=CreateTagRequest(tags=[Tag(key="_sys_x", value="v")])))
    assert caught.value.status_code == 400 and caught.value.error_code == "ModelArts.50004000"
    with pytest.raises(ClientRequestException) as missing:
        client.show_pool_tags(ShowPoolTagsRequest(pool_name="missing-" + "0" * 32))
    assert missing.value.status_code == 404 and missing.value.error_code == "ModelArts.50015001"


def test_workspaces_and_pools_per_workspace(sb: Sandbox) -> None:
    """ListWorkspace, then ListPools with workspace_id: the SDK way to see every workspace."""
    from huaweicloudsdkmodelarts.v1 import ListWorkspaceRequest

    client = sdk(sb)
    listed = client.list_workspace(ListWorkspaceRequest(limit=10, offset=0, sort_by="name",
                                                        order="asc", filter_accessible=True))
    assert (listed.total_count, listed.count) == (2, 2)
    default, research = listed.workspaces
    assert (default.id, default.name, research.name) == ("0", "default", "research-team")
    assert len(research.id) == 32 and research.status == "NORMAL" and research.create_time > 0
    fuzzy = client.list_workspace(ListWorkspaceRequest(name="search"))
    assert [w.id for w in fuzzy.workspaces] == [research.id]
    per_workspace = {
        w.id: {p.metadata.labels.os_modelarts_name
               for p in client.list_pools(ListPoolsRequest(workspace_id=w.id)).items}
        for w in listed.workspaces
    }
    assert per_workspace[research.id] == {"research-gpu", "research-notebooks",
                                          "research-archive"}
    unnamed = {p.metadata.labels.os_modelarts_name
               for p in client.list_pools(ListPoolsRequest()).items}
    assert unnamed == per_workspace["0"] and "train-gpu" in unnamed
    queries = [r.query for r in sb.requests if r.path.endswith("/pools")]
    assert queries == ["workspaceId=0", f"workspaceId={research.id}", ""]
    assert [r.query for r in sb.requests if r.path.endswith("/workspaces")][0] == (
        "filter_accessible=true&limit=10&offset=0&order=asc&sort_by=name")
