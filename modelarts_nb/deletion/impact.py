"""What deleting a pool breaks, read from the API: its workloads, nodes and sub-pools.

Four reads run at once, right after the pool itself (docs/modelarts-api.md §6–8). Each may fail on
its own — a missing permission, an older region — and then says which check could not be made and
why, while the others still count. Parsing is tolerant as the docs require: status keys in any case,
a missing count is 0, ``statics`` for ``statistics``, resource maps left open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..gateway import errors
from ..gateway.api import PoolsApi
from ..gateway.fanout import fan_out
from ..gateway.models import Pool
from ..gateway.text import one_line

__all__ = ["ACTIVE", "Impact", "Node", "Workload", "read_impact"]

# workloads that deleting the pool stops (Queue: waiting for capacity in this pool)
ACTIVE = frozenset({"running", "pending", "queue", "creating"})
_KINDS = {"train": ("training job", "training jobs"), "infer": ("inference service",
          "inference services"), "x-infer": ("inference service", "inference services"),
          "notebook": ("notebook", "notebooks")}
_LOCK = "os.modelarts.node/lock.action"  # UNCONFIRMED key (docs/modelarts-api.md §7.2)


@dataclass(frozen=True)
class Workload:
    name: str  # the job, service or notebook name (jobName), else the workload's
    type: str
    status: str
    running_seconds: int | None
    flavor: str

    @property
    def active(self) -> bool:
        return self.status.lower() in ACTIVE

    @classmethod
    def from_api(cls, item: Any) -> Workload:
        item = item if isinstance(item, dict) else {}
        seconds = item.get("runningDuration")
        return cls(
            name=_text(item.get("jobName") or item.get("name")) or "(unnamed)",
            type=_text(item.get("type")).lower() or "unknown",
            status=_text(item.get("status")) or "unknown",
            running_seconds=seconds if type(seconds) is int and seconds >= 0 else None,
            flavor=_text(item.get("flavor")),
        )


@dataclass(frozen=True)
class Node:
    name: str
    phase: str
    flavor: str
    billing_mode: str | None  # the node's own os.modelarts/billing.mode, None if not given
    locked: bool
    resource_id: str

    @classmethod
    def from_api(cls, item: Any) -> Node:
        item = item if isinstance(item, dict) else {}
        meta = _dict(item.get("metadata"))
        notes, labels = _dict(meta.get("annotations")), _dict(meta.get("labels"))
        mode = notes.get("os.modelarts/billing.mode")
        return cls(
            name=_text(meta.get("name")) or "(unnamed)",
            phase=_text(_dict(item.get("status")).get("phase")) or "unknown",
            flavor=_text(_dict(item.get("spec")).get("flavor")),
            billing_mode=mode if isinstance(mode, str) else None,
            locked=bool(notes.get(_LOCK)),
            resource_id=_text(labels.get("os.modelarts/resource.id")),
        )


@dataclass
class Impact:
    """What the pool carries; ``None`` for a part whose read failed (see ``unchecked``)."""

    counts: dict[str, Counter[str]] | None = None  # type → status (lower-case) → count
    workloads: list[Workload] | None = None
    nodes: list[Node] | None = None
    subpools: list[Pool] | None = None
    unchecked: dict[str, str] = field(default_factory=dict)  # check → why it could not be made

    @property
    def active(self) -> list[Workload]:
        return [w for w in self.workloads or [] if w.active]

    @property
    def needs_force(self) -> bool:
        """Running or waiting work, or sub-pools: deleting stops them."""
        return bool(self.active or self.subpools or self._counted_active())

    def _counted_active(self) -> int:
        """Active work by the statistics, when the list itself could not be read."""
        if self.workloads is not None or not self.counts:
            return 0
        return sum(n for by_status in self.counts.values() for s, n in by_status.items()
                   if s in ACTIVE)

    def stops(self) -> str:
        """``3 training jobs, 1 inference service and 1 sub-pool (infer-cpu)``, or ""."""
        kinds = Counter(w.type for w in self.active)
        parts = [f"{n} {_KINDS.get(k, (k + ' workload', k + ' workloads'))[n != 1]}"
                 for k, n in sorted(kinds.items())]
        if not parts and self._counted_active():
            parts.append(f"{self._counted_active()} running or waiting workload(s)")
        if self.subpools:
            names = ", ".join(p.display_name or p.id for p in self.subpools[:5])
            parts.append(f"{len(self.subpools)} sub-pool{'s' * (len(self.subpools) != 1)} "
                         f"({names})")
        return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)

    def prepaid_nodes(self, pool: Pool) -> list[Node]:
        """Yearly/monthly nodes inside a pay-per-use pool: released by unsubscribing them."""
        if not pool.is_pay_per_use:
            return []
        return [n for n in self.nodes or [] if n.billing_mode not in (None, "0")]


def read_impact(api: PoolsApi, pool: Pool) -> Impact:
    """The four reads, at once (``fan_out``: the caller's stop event reaches them, and a Ctrl-C
    returns at once instead of waiting for reads in back-off). A read that fails leaves its
    part unchecked, with why; a Stop raises ``Cancelled``."""
    reads: dict[str, Callable[[], Any]] = {  # each one frame above the HTTP layer
        "workload counts": partial(api.workload_statistics, pool.id),
        "workloads": partial(api.list_workloads, pool.id),
        "nodes": partial(api.list_nodes, pool.id),
        "sub-pools": partial(_subpools, api, pool),
    }

    def run(read: Callable[[], Any]) -> tuple[Any, str | None]:
        try:
            return read(), None
        except errors.Cancelled:
            raise
        except errors.ModelArtsError as exc:
            return None, one_line(str(exc), 200)

    impact = Impact()
    answers = fan_out(api, run, reads.values(), workers=len(reads), name="modelarts-nb-impact")
    for name, (value, failed) in zip(reads, answers):
        if failed is not None:
            impact.unchecked[name] = failed
        else:
            setattr(impact, _FIELDS[name], _MADE[name](value))
    return impact


_MADE: dict[str, Callable[[Any], Any]] = {  # the answers as the model reads them
    "workload counts": lambda body: _counts(body),
    "workloads": lambda items: [Workload.from_api(w) for w in items],
    "nodes": lambda items: [Node.from_api(n) for n in items],
    "sub-pools": lambda pools: pools,
}
_FIELDS = {"workload counts": "counts", "workloads": "workloads", "nodes": "nodes",
           "sub-pools": "subpools"}


def _counts(body: Any) -> dict[str, Counter[str]]:
    stats = _dict(body).get("statistics", _dict(body).get("statics"))
    counts: dict[str, Counter[str]] = {}
    for item in _dict(stats).get("items") or []:
        item = _dict(item)
        by_status = counts.setdefault(_text(item.get("type")).lower() or "unknown", Counter())
        for status, n in _dict(item.get("status")).items():
            try:
                by_status[str(status).lower()] += max(int(n), 0)
            except (TypeError, ValueError, OverflowError):  # junk, NaN, Infinity
                continue
    return counts


def _subpools(api: PoolsApi, pool: Pool) -> list[Pool]:
    """Sub-pools: ``?parent=``, kept only if ``status.parent`` names this pool (UNCONFIRMED
    whether a server filters)."""
    return [p for p in api.list_pools(parent=pool.id) if p.parent == pool.id and p.id != pool.id]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A server string as one capped line: a job named "x\nWhat deleting breaks: nothing…"
    must not print a line of its own."""
    return one_line(value, 120) if isinstance(value, str) else ""
