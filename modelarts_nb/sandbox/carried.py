"""What a pool carries: its workloads and its nodes, as docs/modelarts-api.md §6–7 describe them.

Nodes are derived from the pool as the store renders it (``status.resources``), so a pool being
deleted loses its nodes with its counts and a deleted pool has none; workloads are seeded per
display name and go with their pool. Answers are paged as the service pages them: workloads by
``offset``/``limit`` (≤ 500, 0 meaning 500), nodes by ``limit``/``continue``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Carried", "SEEDED_WORKLOADS", "node_list", "workload_page", "workload_statistics"]

_PHASES = {"available": "Available", "abnormal": "Abnormal", "creating": "Creating",
           "deleting": "Deleting"}
_STATUSES = ("Queue", "Pending", "Abnormal", "Terminating", "Creating", "Running", "Completed",
             "Terminated", "Failed")
PAGE = 500

# display name → (type, status, job name, running seconds); flavors follow the pool's first one
SEEDED_WORKLOADS: dict[str, list[tuple[str, str, str, int]]] = {
    "train-gpu": [("train", "Running", "resnet50-finetune", 4 * 86400 + 3600),
                  ("train", "Running", "bert-pretrain", 7200),
                  ("train", "Queue", "yolo-sweep", 0)],
    "infer-cpu": [("infer", "Running", "sentiment-api", 12 * 86400),
                  ("notebook", "Running", "alice-notebook", 5400)],
    "pool-21": [("train", "Pending", "s21-homework", 0)],
    "pool-22": [("notebook", "Running", "s22-notebook", 1800)],
}
# display name → node index → annotations that differ from the pool's (docs/modelarts-api.md §7.2)
SEEDED_NODE_NOTES: dict[str, dict[int, dict[str, str]]] = {
    "train-gpu": {1: {"os.modelarts.node/lock.action": "delete"}},  # UNCONFIRMED key
    "team-shared": {1: {"os.modelarts/billing.mode": "1"}},  # a prepaid node, pay-per-use pool
}


@dataclass
class Carried:
    """Workloads per pool id (seeded, or added by a test); thread-safety is the store's lock."""

    workloads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def seed(self, pools: list[dict[str, Any]]) -> None:
        self.workloads.clear()
        for pool in pools:
            display = pool["metadata"]["labels"].get("os.modelarts/name", "")
            for kind, status, job, seconds in SEEDED_WORKLOADS.get(display, []):
                self.add(pool, kind, status, job, seconds)

    def add(self, pool: dict[str, Any], kind: str, status: str, job: str, seconds: int) -> None:
        pool_id = pool["metadata"]["name"]
        flavors = [r.get("flavor", "") for r in pool.get("spec", {}).get("resources", [])]
        items = self.workloads.setdefault(pool_id, [])
        digest = hashlib.sha256(f"{pool_id}/{job}/{len(items)}".encode()).digest()
        job_id = str(uuid.UUID(bytes=digest[:16]))  # stable across runs, unlike hash()
        items.append({
            "apiVersion": "v1", "kind": "Workload", "type": kind, "namespace": pool_id,
            "name": f"modelarts-job-{job_id}", "jobName": job, "uid": job_id,
            "jobUUID": job_id, "flavor": flavors[0] if flavors else "", "status": status,
            "userName": "teacher", "resourceRequirement": {"cpu": "4 Cores", "memory": "16 GiB"},
            "priority": "0", "runningDuration": seconds,
            "pendingDuration": 0 if seconds else 600, "pendingPosition": -1,
            "createTime": 1767571200000, "gvk": "batch.volcano.sh/v1alpha1, Kind=Job",
            "hostIps": "", "nodes": [],
        })


def workload_page(items: list[dict[str, Any]], params: list[tuple[str, str]]) -> dict[str, Any]:
    """``GET …/workloads``: filters ``type`` (once or repeated) and ``status``, then a page."""
    types = {v for k, v in params if k == "type"}
    statuses = {v for k, v in params if k == "status"}
    chosen = [w for w in items if (not types or w["type"] in types)
              and (not statuses or w["status"] in statuses)]
    query = dict(params)
    if "hostip" not in query:  # with hostip, the service does not page
        offset, limit = int(query.get("offset") or 0), int(query.get("limit") or 0) or PAGE
        chosen = chosen[offset:offset + min(limit, PAGE)]
    return {"apiVersion": "v1", "kind": "WorkloadList", "items": chosen}


def workload_statistics(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /statistics/pools/{pool}/workloads``: counts by type, then by capitalised status."""
    by_type: dict[str, Counter[str]] = {}
    for workload in items:
        by_type.setdefault(workload["type"], Counter())[workload["status"]] += 1
    stats = [{"type": kind, "total": sum(counts.values()),
              "status": {s: counts.get(s, 0) for s in _STATUSES}}
             for kind, counts in by_type.items()]
    return {"statistics": {"total": sum(s["total"] for s in stats), "items": stats}}


def node_list(pool: dict[str, Any], params: list[tuple[str, str]]) -> dict[str, Any]:
    """``GET …/nodes``: the pool's nodes by phase, paged by ``limit``/``continue``."""
    nodes = _nodes(pool)
    query = dict(params)
    start = int(base64.urlsafe_b64decode(query["continue"]).decode()) if query.get(
        "continue") else 0
    limit = int(query.get("limit") or 0) or PAGE
    page = nodes[start:start + min(limit, PAGE)]
    rest = len(nodes) - start - len(page)
    token = base64.urlsafe_b64encode(str(start + len(page)).encode()).decode() if rest else ""
    return {"apiVersion": "v2", "kind": "NodeList",
            "metadata": {"continue": token, "remainingItemCount": rest}, "items": page}


def _nodes(pool: dict[str, Any]) -> list[dict[str, Any]]:
    meta = pool["metadata"]
    slug = meta["labels"].get("os.modelarts/name", "pool")
    billing = meta.get("annotations", {}).get("os.modelarts/billing.mode", "0")
    notes = SEEDED_NODE_NOTES.get(slug, {})
    nodes: list[dict[str, Any]] = []
    for key, phase in _PHASES.items():
        for group in _entries(pool.get("status", {}).get("resources", {}).get(key)):
            for az in group.get("azs") or [{"az": "", "count": group.get("count", 0)}]:
                for _ in range(int(az.get("count", 0))):
                    index = len(nodes) + 1
                    nodes.append(_node(meta, slug, index, group, az.get("az", ""), phase,
                                       {"os.modelarts/billing.mode": billing,
                                        **notes.get(index, {})}))
    return nodes


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value or [] if isinstance(v, dict)]


def _node(meta: dict[str, Any], slug: str, index: int, group: dict[str, Any], az: str,
          phase: str, annotations: dict[str, str]) -> dict[str, Any]:
    resource = meta["labels"].get("os.modelarts/resource.id", f"maos-{slug}")
    return {
        "apiVersion": "v2", "kind": "Node",
        "metadata": {
            "name": f"os-node-{slug}-{index:02d}",
            "creationTimestamp": meta.get("creationTimestamp", ""),
            "labels": {"os.modelarts.node/nodepool": group.get("nodePool", ""),
                       "os.modelarts/resource.id": f"{resource}-node-{index:02d}",
                       "os.modelarts/billing.status": "0"},
            "annotations": annotations,
        },
        "spec": {"flavor": group.get("flavor", "")},
        "status": {"phase": phase, "az": az, "privateIp": f"192.168.0.{10 + index}"},
    }
