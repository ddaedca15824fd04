"""The seeded pools: one of each situation a deletion tool must handle, shaped like the docs.

Everything random (ids, timestamps, domain id) comes from ``random.Random(seed)``, so a given
seed always yields byte-identical pools and tutorials can print stable ids.

``leaving-pool`` is seeded already ``Deleting``: its deletion clock starts when the sandbox
loads it, and it is gone ``delete_seconds`` later, or ``seeded_deleting_seconds`` later when
that is given (``core.py``; the command line and ``make demo`` hold it an hour, so a class still
finds it when the tutorial gets there).

Workspaces: every pool above lives in the default workspace "0". The class pools ``pool-NN``
carry the TMS tags ``course=ml101`` and ``student=sNN`` in their ``os.modelarts/tms.tags``
annotation, except ``pool-02`` and ``pool-05`` (``TAG_API_ONLY``), whose tags only the tag API
shows. A research team's workspace ``research-team`` (id from the seed) holds three more pools
tagged ``team=research``: ``research-gpu``, ``research-notebooks`` (also ``course=ml101``) and
``research-archive``; their ids come from a stream of their own, so they do not move when the
number of class pools changes, and nothing about the pools of workspace "0" changed with them.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .tags import TAGS_ANNOTATION, annotation_text
from .workspaces import Workspace, seeded_workspace_id

__all__ = ["REGION", "RESEARCH_WORKSPACE", "Seeded", "TAG_API_ONLY", "seed_pools"]

REGION = "cn-north-4"
_YEAR_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
GPU_T4 = "modelarts.vm.gpu.tnt004"
GPU_P100 = "modelarts.vm.gpu.pnt004"
CPU_8U = "modelarts.vm.cpu.8u"
NPU = "modelarts.vm.npu.snt9b.8"

RESEARCH_WORKSPACE = "research-team"


def research_tenant(seed: int) -> str:
    """The tenant id (X-ModelArts-User-ID) the research workspace admits: 32 hex, stable per
    seed, like a Huawei user id."""
    return seeded_workspace_id(seed, "tenant/research-lead")
TAG_API_ONLY = frozenset({2, 5})  # class pools whose tags have no annotation

# (flavor, {az suffix: count}) — the building block of spec.resources and status.resources.
Nodes = list[tuple[str, dict[str, int]]]


@dataclass(frozen=True)
class Seeded:
    """What a seed makes: pool bodies in a stable order, the ids of pools whose tags must be
    served by the tag API only (their annotation is dropped on load), and the workspaces."""

    pools: list[dict[str, Any]]
    tag_api_only: frozenset[str]
    workspaces: list[Workspace]


class _Maker:
    """Builds pool bodies that share one project, domain and random stream."""

    def __init__(self, project_id: str, seed: int | str, domain_id: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.project_id = project_id
        self.domain_id = domain_id or self.hex()

    def hex(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def stamp(self) -> str:
        moment = _YEAR_START + timedelta(seconds=self.rng.randrange(0, 270 * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def pool(self, slug: str, *, display: str | None = None, kind: str = "Dedicate",
             scope: tuple[str, ...] = ("Train", "Infer", "Notebook"), nodes: Nodes,
             phase: str = "Running", message: str = "", billing: str = "0",
             control: int = 0, labels: dict[str, str] | None = None,
             description: str = "", tags: dict[str, str] | None = None,
             workspace: str = "0") -> dict[str, Any]:
        pool_id = f"{slug}-{self.hex()}"
        suffix = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=5))
        metadata: dict[str, Any] = {
            "name": pool_id,
            "creationTimestamp": self.stamp(),
            "labels": {
                "os.modelarts/name": display or slug,
                "os.modelarts/workspace.id": workspace,
                "os.modelarts/resource.id": f"maos-{slug}-{suffix}",
                "os.modelarts/tenant.domain.id": self.domain_id,
                "os.modelarts/tenant.project.id": self.project_id,
                "os.modelarts/create-from": "console",
                "os.modelarts/region": REGION,
                **(labels or {}),
            },
            "annotations": _annotations(billing, description, self.rng),
        }
        if tags is not None:
            metadata["annotations"][TAGS_ANNOTATION] = annotation_text(tags)
        spec: dict[str, Any] = {
            "type": kind,
            "scope": list(scope),
            "resources": [_resource(f, azs, i) for i, (f, azs) in enumerate(nodes, 1)],
            "controlMode": control,
        }
        if kind == "Dedicate":
            spec["network"] = {"name": f"network-maos-{pool_id[-32:]}"}
        if any(".gpu." in flavor for flavor, _ in nodes):
            spec["driver"] = {"gpuVersion": "470.57.02", "updateStrategy": "idle"}
        status = {
            "phase": phase,
            "message": message,
            "root": pool_id,
            "scope": [{"scopeType": s, "state": _scope_state(phase)} for s in scope],
            "resources": {"creating": [], "available": [], "abnormal": [], "deleting": []},
        }
        return {"apiVersion": "v2", "kind": "Pool", "metadata": metadata, "spec": spec,
                "status": status}


def _annotations(billing: str, description: str, rng: random.Random) -> dict[str, str]:
    notes = {"os.modelarts/description": description, "os.modelarts/billing.mode": billing}
    if billing == "1":
        notes.update({
            "os.modelarts/period.type": "2",
            "os.modelarts/period.num": "1",
            "os.modelarts/auto.renew": "0",
            "os.modelarts/order.id": f"CS2601{rng.randrange(10**14):014d}",
        })
    return notes


def _scope_state(phase: str) -> str:
    return {"Creating": "Enabling", "Waiting": "Enabling", "CreationFailed": "Disabled"}.get(
        phase, "Enabled"
    )


def _resource(flavor: str, azs: dict[str, int], index: int) -> dict[str, Any]:
    count = sum(azs.values())
    return {
        "flavor": flavor,
        "count": count,
        "maxCount": count,
        "nodePool": f"nodepool-{index}",
        "azs": [{"az": f"{REGION}{az}", "count": n} for az, n in azs.items()],
    }


def _counts(nodes: Nodes) -> list[dict[str, Any]]:
    """Status form of node groups (PoolResourceFlavorCount): same shape as spec resources."""
    return [_resource(flavor, azs, i) for i, (flavor, azs) in enumerate(nodes, 1)]


def _set_status(pool: dict[str, Any], **groups: Nodes) -> dict[str, Any]:
    for key, nodes in groups.items():
        pool["status"]["resources"][key] = _counts(nodes)
    return pool


def seed_pools(project_id: str, seed: int, extra: int) -> Seeded:
    """All seeded pools in a stable order (docs/modelarts-api.md §1.2 shapes; see the package
    docstring)."""
    m = _Maker(project_id, seed)
    train = m.pool(
        "train-gpu",
        nodes=[
            (GPU_T4, {"a": 2, "b": 2}), (GPU_P100, {"c": 2}), (CPU_8U, {"a": 1, "b": 1, "c": 1}),
        ],
        description="team training pool",
    )
    _set_status(
        train,
        available=[(GPU_T4, {"a": 2, "b": 1}), (GPU_P100, {"c": 2}), (CPU_8U, {"a": 1, "b": 1})],
        abnormal=[(GPU_T4, {"b": 1})],
        creating=[(CPU_8U, {"c": 1})],
    )
    train["status"]["resources"]["abnormal"][0]["nodePool"] = "nodepool-1"
    train["status"]["resources"]["creating"][0]["nodePool"] = "nodepool-3"
    infer = m.pool("infer-cpu", kind="Logical", scope=("Infer",),
                   nodes=[(CPU_8U, {"a": 1, "b": 1})], description="online inference")
    # The SDK models each status.resources key as an object, the docs as a list: both occur.
    infer["status"]["resources"] = {"available": _counts([(CPU_8U, {"a": 1, "b": 1})])[0]}
    # infer-cpu is train-gpu's logical sub-pool (docs/modelarts-api.md §8): deleting train-gpu
    # breaks it
    infer["status"]["parent"] = infer["status"]["root"] = train["metadata"]["name"]
    train["metadata"]["annotations"]["os.modelarts.pool/subpools.count"] = "1"
    pools = [train, infer]
    pools.append(_set_status(
        m.pool("prepaid-pool", nodes=[(NPU, {"a": 2})], billing="1", description="yearly NPUs"),
        available=[(NPU, {"a": 2})],
    ))
    pools.append(_set_status(
        m.pool("frozen-pool", nodes=[(CPU_8U, {"b": 1})], control=8, description="in arrears"),
        available=[(CPU_8U, {"b": 1})],
    ))
    for az in ("a", "b"):
        pools.append(_set_status(
            m.pool("team-shared", nodes=[(CPU_8U, {az: 1})], description="shared by the team"),
            available=[(CPU_8U, {az: 1})],
        ))
    pools.append(_set_status(
        m.pool("creating-pool", nodes=[(GPU_T4, {"a": 1})], phase="Creating",
               message="Creating the resource pool"),
        creating=[(GPU_T4, {"a": 1})],
    ))
    pools.append(m.pool(
        "failed-pool", nodes=[(GPU_T4, {"b": 2})], phase="CreationFailed",
        message=f"Insufficient capacity for flavor {GPU_T4} in {REGION}b",
    ))
    pools.append(_set_status(
        m.pool("leaving-pool", nodes=[(CPU_8U, {"c": 2})], phase="Deleting"),
        deleting=[(CPU_8U, {"c": 2})],
    ))
    api_only = set()
    for n in range(1, extra + 1):
        student = {"course": "ml101", "student": f"s{n:02d}"}
        pools.append(_set_status(
            m.pool(f"pool-{n:02d}", kind="Logical", scope=("Train", "Notebook"),
                   nodes=[(CPU_8U, {"a": 1})],
                   description=f"ml101 student s{n:02d}", tags=student),
            available=[(CPU_8U, {"a": 1})],
        ))
        if n in TAG_API_ONLY:
            api_only.add(pools[-1]["metadata"]["name"])
    research = seeded_workspace_id(seed, RESEARCH_WORKSPACE)
    pools.extend(_research_pools(_Maker(project_id, f"research/{seed}", m.domain_id), research))
    workspaces = [
        Workspace("0", "default", description="default workspace", auth_type="PUBLIC"),
        Workspace(research, RESEARCH_WORKSPACE, description="the research team's pools",
                  owner="research-lead", auth_type="INTERNAL", create_time=1768435200000,
                  update_time=1771200000000, allowed_tenants=(research_tenant(seed),)),
    ]
    return Seeded(pools, frozenset(api_only), workspaces)


def _research_pools(m: _Maker, workspace: str) -> list[dict[str, Any]]:
    """Three pools of another workspace: invisible to a listing without ``workspaceId``."""
    team = {"team": "research"}
    return [
        _set_status(
            m.pool("research-gpu", nodes=[(GPU_T4, {"a": 2})], workspace=workspace,
                   description="research team GPUs", tags={**team, "project": "llm-eval"}),
            available=[(GPU_T4, {"a": 2})],
        ),
        _set_status(
            m.pool("research-notebooks", kind="Logical", scope=("Notebook",),
                   nodes=[(CPU_8U, {"b": 1})], workspace=workspace,
                   description="teaching assistants' notebooks",
                   tags={**team, "course": "ml101"}),
            available=[(CPU_8U, {"b": 1})],
        ),
        _set_status(
            m.pool("research-archive", nodes=[(CPU_8U, {"c": 1})], workspace=workspace,
                   description="old experiments", tags=team),
            available=[(CPU_8U, {"c": 1})],
        ),
    ]
