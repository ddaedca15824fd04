"""A plan: what a person reviewed, frozen, so that exactly that — and nothing else — is deleted.

Review makes a ``Plan``: for each pool the facts that were shown (id, creation time, display
name, flavors × counts, nodes, billing, workspace, tags, the work found on it), what the policy
decided then, and what the person acknowledged; plus the filters that selected the pools and
where (endpoint, project). Applying it (``engine.Deletion.from_plan``) re-reads each pool right
before its DELETE and leaves out, saying why, every pool ``drift`` finds changed. A plan is
plain, versioned JSON: it can be saved, diffed, reviewed by someone else and applied later in
another process, through the same check. (Kubernetes would bind the DELETE to a
``resourceVersion``; ModelArts documents no precondition, so: re-read, compare, then DELETE.)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..gateway.errors import InvalidName
from ..gateway.models import Pool
from ..gateway.names import check_endpoint, check_pool_id, endpoint_key
from ..gateway.text import one_line
from .policy import Verdict, decide

if TYPE_CHECKING:
    from .impact import Impact
    from .selection import Filters

__all__ = ["VERSION", "Facts", "Plan", "PlanError", "PlanItem", "drift", "filters_json",
           "read_plan"]

VERSION = 1


class PlanError(ValueError):
    """A plan that cannot be read, or is applied where it was not made."""


@dataclass(frozen=True)
class Facts:
    """What was shown of one pool, in the terms a person compares."""

    id: str
    display_name: str = ""
    created: str = ""  # metadata.creationTimestamp as read (ISO), "" if none
    flavors: tuple[tuple[str, int | None], ...] = ()  # spec.resources: flavor × count
    nodes: int = 0
    billing: str = ""  # os.modelarts/billing.mode as sent ("" if none)
    workspace: str = "0"
    tags: tuple[tuple[str, tuple[str, ...]], ...] | None = None  # None: unknown
    work: tuple[str, ...] | None = None  # active work "type: name"; None: not read
    counted: int = 0  # running/waiting work by the statistics, when the list was unreadable
    subpools: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()  # checks that could not be made at review

    @classmethod
    def of(cls, pool: Pool, impact: Impact | None = None) -> Facts:
        return cls(
            id=pool.id, display_name=pool.display_name or "",
            created=pool.created.isoformat() if pool.created else "",
            flavors=tuple(sorted(((line.flavor, line.count) for line in pool.spec_resources),
                                 key=lambda pair: (pair[0], -1 if pair[1] is None else pair[1]))),
            nodes=pool.node_count, billing=pool.billing_mode or "",
            workspace=pool.workspace_id,
            tags=None if pool.tags is None else tuple(sorted(pool.tags.items())),
            work=None if impact is None else _work(impact),
            counted=0 if impact is None else _counted(impact),
            subpools=() if impact is None else tuple(sorted(p.id for p in impact.subpools or [])),
            unchecked=() if impact is None else tuple(sorted(impact.unchecked)),
        )

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.id})" if self.display_name else self.id


@dataclass(frozen=True)
class PlanItem:
    """One pool of a plan: its facts as shown, the policy's decision then, and whether the
    person acknowledged stopping the work shown (``acknowledged``: the words they saw)."""

    facts: Facts
    verdict: Verdict = Verdict.DELETE
    reason: str = ""  # a few words ("runs 3 training jobs", "kept by --keep-tag keep")
    acknowledged: str = ""
    detail: str = ""  # the whole sentence, with what to do instead

    @property
    def deletes(self) -> bool:
        return self.verdict is Verdict.DELETE

    @classmethod
    def of(cls, pool: Pool, impact: Impact | None = None, *, kept: str | None = None,
           acknowledged: str = "", force: bool = False) -> PlanItem:
        decision = decide(pool, impact, kept=kept, acknowledged=bool(acknowledged), force=force)
        return cls(Facts.of(pool, impact), decision.verdict, decision.reason, acknowledged,
                   decision.detail)


@dataclass(frozen=True)
class Plan:
    """What was reviewed, immutable; ``acknowledge`` and ``only`` give new plans."""

    items: tuple[PlanItem, ...]
    endpoint: str
    project_id: str
    filters: dict[str, Any] | None = None  # the filters that selected the pools (JSON form)
    force: bool = False
    via: str = "python"  # panel / text / batch / python / command
    made_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    made_by: str = field(default_factory=lambda: _who())  # user@host, for the reviewer

    def deletable(self) -> list[PlanItem]:
        return [item for item in self.items if item.deletes]

    def pending(self) -> list[PlanItem]:
        """Items that wait for the person to acknowledge the work they stop."""
        return [item for item in self.items if item.verdict is Verdict.ACKNOWLEDGE]

    def acknowledge(self, ids: Iterable[str] | None = None) -> Plan:
        """The same plan with the work of ``ids`` (default: all pending) acknowledged."""
        chosen = None if ids is None else set(ids)
        items = tuple(
            dataclasses.replace(item, verdict=Verdict.DELETE, reason="",
                                acknowledged=item.reason.removeprefix("runs "))
            if item.verdict is Verdict.ACKNOWLEDGE and (chosen is None or item.facts.id in chosen)
            else item for item in self.items)
        return dataclasses.replace(self, items=items)

    def only(self, ids: Iterable[str]) -> Plan:
        """The same plan for the pools ``ids`` only (a selection narrowed after review)."""
        keep = set(ids)
        return dataclasses.replace(self, items=tuple(i for i in self.items if i.facts.id in keep))

    def check_for(self, endpoint: str, project_id: str) -> None:
        """PlanError unless the plan was made for this endpoint (any spelling of it) and
        project: a plan is never applied somewhere else."""
        here, there = endpoint_key(endpoint), endpoint_key(self.endpoint)
        if (there, self.project_id) != (here, project_id):
            raise PlanError(f"this plan was made for project {one_line(self.project_id, 64)} "
                            f"at {one_line(there, 200)}, not {project_id} at {here}: nothing "
                            "was sent")

    def selection(self) -> Filters | None:
        """The filters as an object whose ``matches``/``kept`` re-check each pool."""
        if self.filters is None:
            return None
        return _filters_from(self.filters)

    def summary(self) -> str:
        """``delete 3 pools; 1 kept, 2 left out`` and one line per pool that does not go."""
        counts = Counter(item.verdict for item in self.items)
        head = f"delete {counts[Verdict.DELETE]} pool{'s' * (counts[Verdict.DELETE] != 1)}"
        rest = [f"{n} {verdict.value}" for verdict, n in counts.items()
                if verdict is not Verdict.DELETE]
        lines = [head + (f"; {', '.join(rest)}" if rest else "")]
        lines += [f"  {one_line(item.facts.label, 200)}: {item.verdict.value} — "
                  f"{one_line(item.reason, 300)}" for item in self.items if not item.deletes]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"version": VERSION, **dataclasses.asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """A plan written by ``to_json``, every value of the type it must have (a hand edit
        can only narrow it: a pool's verdict is decided again when applied); PlanError (one
        line) for anything else."""
        try:
            data = json.loads(text, parse_constant=_no_constant)
            if not isinstance(data, dict) or data.pop("version", None) != VERSION \
                    or isinstance(data.get("version"), bool):
                raise PlanError(f"not a modelarts-nb plan of version {VERSION}")
            items = tuple(_item(raw) for raw in _typed(data.pop("items"), list, "items"))
            for key in ("endpoint", "project_id", "via", "made_at", "made_by"):
                _typed(data.get(key, ""), str, key)
            _typed(data.get("force", False), bool, "force")
            plan = cls(items=items, **data)
            check_endpoint(plan.endpoint)
            plan.selection()  # filters that cannot be rebuilt are refused now, not at apply
            return plan
        except PlanError:
            raise
        except (InvalidName, ValueError, TypeError, KeyError, AttributeError,
                RecursionError) as exc:
            raise PlanError(f"unreadable plan: {one_line(str(exc), 200)}") from None


def _who() -> str:
    """``user@host`` of whoever made the plan (an account name, never a credential)."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container), no USER variable
        user = "unknown"
    return one_line(f"{user}@{socket.gethostname()}", 200)


PLAN_CAP = 64 * 1024 * 1024  # a 10,000-pool plan is ~10 MB


def read_plan(path: str) -> Plan:
    """The plan in the file ``path`` (``~`` expanded); PlanError, one line, when the file
    cannot be read or holds no plan."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as text:
            return Plan.from_json(text.read(PLAN_CAP))
    except OSError as exc:
        raise PlanError(f"cannot read the plan {one_line(path, 200)!r}: "
                        f"{exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{one_line(path, 200)!r} is not a plan: not UTF-8 text") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a plan holds")


def _typed(value: Any, kind: type, what: str) -> Any:
    """``value`` if it is a ``kind`` (a bool is no int here), else TypeError naming it."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{what} is not a {kind.__name__}")
    return value


def _strings(values: Any, what: str) -> tuple[str, ...]:
    return tuple(_typed(v, str, what) for v in _typed(values, list, what))


def _item(raw: Any) -> PlanItem:
    raw = _typed(raw, dict, "an item")
    facts = dict(_typed(raw["facts"], dict, "facts"))
    check_pool_id(_typed(facts.get("id"), str, "facts.id"))
    for key in ("display_name", "created", "billing", "workspace"):
        _typed(facts.get(key, ""), str, f"facts.{key}")
    for key in ("nodes", "counted"):
        _typed(facts.get(key, 0), int, f"facts.{key}")
    facts["flavors"] = tuple((_typed(f, str, "a flavor"), None if c is None else
                              _typed(c, int, "a flavor count"))
                             for f, c in _typed(facts.get("flavors", []), list, "flavors"))
    tags = facts.get("tags")
    facts["tags"] = None if tags is None else tuple(
        (_typed(k, str, "a tag key"), _strings(v, "tag values"))
        for k, v in _typed(tags, list, "tags"))
    work = facts.get("work")
    facts["work"] = None if work is None else _strings(work, "work")
    for key in ("subpools", "unchecked"):
        facts[key] = _strings(facts.get(key, []), key)
    texts = [_typed(raw.get(key, ""), str, key) for key in ("reason", "acknowledged", "detail")]
    return PlanItem(Facts(**facts), Verdict(raw["verdict"]), *texts)


def _work(impact: Impact) -> tuple[str, ...]:
    return tuple(sorted(f"{w.type}: {w.name}" for w in impact.active))


def _counted(impact: Impact) -> int:
    return impact._counted_active()  # noqa: SLF001 - the same count the warning uses


def drift(item: PlanItem, pool: Pool, impact: Impact | None = None,
          filters: Filters | None = None, now: datetime | None = None) -> list[str]:
    """What changed in ``pool`` since ``item`` was reviewed that matters to deleting it, in
    words ("2 → 6 nodes", "created again at 18:02", "new work: train: resnet"); [] if nothing.

    Work that stopped, a phase that moved on, a tag that does not decide: not drift.
    """
    then, now_facts = item.facts, Facts.of(pool, impact)
    changes = [_changed(what, a, b) for what, a, b in (
        ("display name", then.display_name, now_facts.display_name),
        ("flavors", _flavors(then), _flavors(now_facts)),
        ("billing mode", then.billing, now_facts.billing),
        ("workspace", then.workspace, now_facts.workspace))
        if a != b]
    if then.created != now_facts.created:
        changes.insert(0, f"created again at {_when(pool)}")
    if then.nodes != now_facts.nodes:
        changes.append(f"{then.nodes} → {now_facts.nodes} nodes")
    if impact is not None:
        changes += _new_work(then, now_facts)
    if filters is not None:
        changes += _filters(filters, pool, now or datetime.now(timezone.utc))
    return changes


def _changed(what: str, then: str, now: str) -> str:
    return f"{what} {one_line(then or '(none)', 80)} → {one_line(now or '(none)', 80)}"


def _flavors(facts: Facts) -> str:
    return ", ".join(f"{f}×{'?' if c is None else c}" for f, c in facts.flavors)


def _when(pool: Pool) -> str:
    return pool.created.strftime("%Y-%m-%d %H:%M UTC") if pool.created else "an unknown time"


def _new_work(then: Facts, now: Facts) -> list[str]:
    """Work, sub-pools or failed checks that were not there at review."""
    changes = []  # work never read at review: the policy asks for its acknowledgement
    new = list((Counter(now.work or ()) - Counter(then.work or ())).elements())
    if new and then.work is not None:
        changes.append("new work: " + ", ".join(one_line(w, 80) for w in new[:3])
                       + (f" and {len(new) - 3} more" if len(new) > 3 else ""))
    if now.counted > then.counted:
        changes.append(f"{then.counted} → {now.counted} running or waiting workloads")
    added = sorted(set(now.subpools) - set(then.subpools))
    if added:
        changes.append(f"new sub-pool(s): {', '.join(one_line(a, 80) for a in added[:3])}")
    failed = sorted(set(now.unchecked) - set(then.unchecked))
    if failed:
        changes.append(f"could not check its {', '.join(failed)} again")
    return changes


def _filters(filters: Filters, pool: Pool, now: datetime) -> list[str]:
    if pool.tags is None and (filters.tags or filters.keep):
        return ["could not read its tags again (a --tag or --keep-tag decides on them)"]
    changes = []
    if not filters.matches(pool, now):
        changes.append("no longer matches the filters that selected it")
    kept = filters.kept(pool)
    if kept:
        changes.append(f"now {kept}")
    return changes


def filters_json(filters: Filters) -> dict[str, Any]:
    """``Filters`` as plain JSON (an age in seconds), for a plan."""
    data = dataclasses.asdict(filters)
    data["older_than"] = None if filters.older_than is None else filters.older_than.total_seconds()
    return data


def _filters_from(data: dict[str, Any]) -> Filters:
    from .selection import Filters

    tags = {key: tuple((str(k), None if v is None else str(v)) for k, v in data.get(key, ()))
            for key in ("tags", "keep")}
    age = data.get("older_than")
    return Filters(**{**data, **tags,
                      "older_than": None if age is None else timedelta(seconds=float(age))})
