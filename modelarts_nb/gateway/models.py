"""A lenient, typed view of a ModelArts pool, built from the raw JSON in one visible place.

The server is trusted for nothing structural: every field may be missing or of the wrong type,
unknown phases are kept as strings, and ``status.resources.<state>`` may be a list *or* a single
object (the official SDK silently loses the documented list form; we keep both). Whatever looked
odd is recorded in ``Pool.problems`` so the UI can say so instead of crashing. Each field is read
by ``fields`` (one JSON value, typed or noted); ``pool_details`` lists every documented field
for the Details views.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fields import (
    TAGS_ANNOTATION,
    Tags,
    annotated_tags,
    control_mode,
    count_of,
    is_finite,
    kind_of,
    mapping_of,
    parse_tags,
    scope_of,
    text_labels,
    text_of,
    time_of,
    whole,
)
from .text import quoted

__all__ = [
    "Pool", "ResourceLine", "STATUS_STATES", "PAY_PER_USE", "PREPAID", "FROZEN_BITS", "Tags",
    "parse_tags", "Workspace",
]

STATUS_STATES = ("creating", "available", "abnormal", "deleting")
PREPAID = "1"  # annotation os.modelarts/billing.mode: "0" pay-per-use, "1" yearly/monthly
PAY_PER_USE = "0"
FROZEN_BITS = 8 | 16  # spec.controlMode: 8 frozen, 16 frozen by public security
_BILLING_NAMES = {"0": "pay-per-use", "1": "yearly/monthly"}
DEFAULT_WORKSPACE = "0"


@dataclass(frozen=True)
class ResourceLine:
    """One flavor row of ``spec.resources`` or ``status.resources.<state>``."""

    flavor: str
    count: int | None
    max_count: int | None
    node_pool: str | None
    azs: tuple[tuple[str, int | None], ...] = ()

    @property
    def az_split(self) -> str:
        """``cn-north-4a×2, cn-north-4b×2`` — how the nodes spread over availability zones."""
        return ", ".join(f"{az}×{n if n is not None else '?'}" for az, n in self.azs)


@dataclass(frozen=True)
class Workspace:
    """One ModelArts workspace (docs/modelarts-api.md §10); ``id`` is "0" for the default one."""

    id: str
    name: str = ""
    status: str = ""

    @classmethod
    def from_api(cls, body: object) -> Workspace | None:
        """None for an item without an id (it could not be listed by anyway)."""
        if not isinstance(body, Mapping) or body.get("id") in (None, ""):
            return None
        notes: list[str] = []  # the doc writes the default id as the number 0: compare str(id)
        workspace_id = body["id"]
        if isinstance(workspace_id, bool) or not isinstance(workspace_id, (str, int)):
            return None  # NaN, true, 1e308: no id anyone could list by
        return cls(id=str(workspace_id), name=text_of(body.get("name"), "name", notes) or "",
                   status=text_of(body.get("status"), "status", notes) or "")


@dataclass(frozen=True)
class Pool:
    id: str
    display_name: str | None = None
    type: str | None = None
    scope: tuple[str, ...] = ()
    phase: str | None = None
    message: str | None = None
    billing_mode: str | None = None
    resource_id: str | None = None
    control_mode: int | None = 0  # None: present but unreadable (see rules.refusal)
    parent: str | None = None  # status.parent: the pool this logical sub-pool belongs to
    subpool_count: str | None = None  # os.modelarts.pool/subpools.count, as sent
    workspace_id: str = DEFAULT_WORKSPACE  # label os.modelarts/workspace.id; "0" by default
    tags: Tags | None = None  # None: the pool carries no readable tag annotation (ask the API)
    annotated: bool = False  # it carries one (so tags=None means unreadable, not absent)
    created: datetime | None = None
    deleted: datetime | None = None
    spec_resources: tuple[ResourceLine, ...] = ()
    status_resources: Mapping[str, tuple[ResourceLine, ...]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    labels: Mapping[str, str] = field(default_factory=dict)  # metadata.labels with text values

    @property
    def is_prepaid(self) -> bool:
        return self.billing_mode == PREPAID

    @property
    def is_pay_per_use(self) -> bool:
        """Only the documented "0" counts: 1.0, " 1", true or nothing could hide a prepaid pool."""
        return self.billing_mode == PAY_PER_USE

    @property
    def is_frozen(self) -> bool:
        return bool((self.control_mode or 0) & FROZEN_BITS)

    @property
    def billing_label(self) -> str:
        if self.billing_mode is None:
            return "unknown"
        return _BILLING_NAMES.get(self.billing_mode, f"mode {quoted(self.billing_mode, 40)}")

    @property
    def node_count(self) -> int:
        """Nodes the pool holds now (every status state), falling back to spec counts."""
        lines = [line for lines in self.status_resources.values() for line in lines]
        lines = lines or list(self.spec_resources)
        return sum(line.count or 0 for line in lines)

    def tag_text(self) -> str:
        """``course=ml101, student=s01``; "?" when the tags are unknown."""
        if self.tags is None:
            return "?"
        return ", ".join(f"{key}={'|'.join(values)}" for key, values in sorted(self.tags.items()))

    @property
    def label(self) -> str:
        """``display name (id)`` — both, so nobody confuses two pools with one display name."""
        return f"{self.display_name} ({self.id})" if self.display_name else self.id

    @classmethod
    def from_api(cls, body: object) -> Pool:
        """Build a Pool from a GET/DELETE/list-item body, never raising on odd input."""
        notes: list[str] = []
        body = mapping_of(body, "pool body", notes)
        meta = mapping_of(body.get("metadata"), "metadata", notes)
        spec = mapping_of(body.get("spec"), "spec", notes)
        status = mapping_of(body.get("status"), "status", notes)
        labels = mapping_of(meta.get("labels"), "metadata.labels", notes, required=False)
        notes_ann = mapping_of(meta.get("annotations"), "metadata.annotations", notes,
                               required=False)
        pool_id = text_of(meta.get("name"), "metadata.name", notes) or "<no id>"
        return cls(
            id=pool_id,
            display_name=text_of(labels.get("os.modelarts/name"), "display name", notes),
            type=text_of(spec.get("type"), "spec.type", notes),
            scope=scope_of(spec.get("scope"), notes),
            phase=text_of(status.get("phase"), "status.phase", notes),
            message=text_of(status.get("message"), "status.message", notes),
            billing_mode=text_of(notes_ann.get("os.modelarts/billing.mode"), "billing mode", notes),
            resource_id=text_of(labels.get("os.modelarts/resource.id"), "resource id", notes),
            control_mode=control_mode(spec.get("controlMode"), notes),
            parent=text_of(status.get("parent"), "status.parent", notes) or None,
            subpool_count=text_of(notes_ann.get("os.modelarts.pool/subpools.count"),
                                "sub-pool count", notes),
            workspace_id=text_of(labels.get("os.modelarts/workspace.id"), "workspace id", notes)
            or DEFAULT_WORKSPACE,
            tags=annotated_tags(notes_ann.get(TAGS_ANNOTATION), notes),
            annotated=notes_ann.get(TAGS_ANNOTATION) is not None,
            created=time_of(meta.get("creationTimestamp"), "creationTimestamp", notes),
            deleted=time_of(meta.get("deletionTimestamp"), "deletionTimestamp", notes),
            spec_resources=_lines(spec.get("resources"), "spec.resources", notes),
            status_resources=_status_resources(status.get("resources"), notes),
            problems=tuple(notes),
            raw=body,
            labels=text_labels(labels),
        )


def _lines(value: object, where: str, notes: list[str]) -> tuple[ResourceLine, ...]:
    """Accept a list of flavor objects or one flavor object (both occur)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    lines = []
    for item in items:
        if not isinstance(item, Mapping):
            notes.append(f"{where} holds {kind_of(item)}, expected a flavor object")
            continue
        if not item:
            continue  # the SDK's empty object for "nothing in this state"
        lines.append(_line(item, where, notes))
    return tuple(lines)


def _line(item: Mapping, where: str, notes: list[str]) -> ResourceLine:
    azs = []
    raw_azs = item.get("azs")
    for az in raw_azs if isinstance(raw_azs, list) else []:
        if isinstance(az, Mapping):
            name = text_of(az.get("az"), f"{where}.azs.az", notes) or "?"
            azs.append((name, count_of(az.get("count"), f"{where}.azs.count", notes)))
    if raw_azs is not None and not isinstance(raw_azs, list):
        notes.append(f"{where}.azs is {kind_of(raw_azs)}, expected a list")
    return ResourceLine(
        flavor=text_of(item.get("flavor"), f"{where}.flavor", notes) or "?",
        count=count_of(item.get("count"), f"{where}.count", notes),
        max_count=count_of(item.get("maxCount"), f"{where}.maxCount", notes),
        node_pool=text_of(item.get("nodePool"), f"{where}.nodePool", notes),
        azs=tuple(azs),
    )


def _status_resources(value: object, notes: list[str]) -> dict[str, tuple[ResourceLine, ...]]:
    resources = mapping_of(value, "status.resources", notes, required=False)
    result = {}
    for state in STATUS_STATES:
        lines = _lines(resources.get(state), f"status.resources.{state}", notes)
        if lines:
            result[state] = lines
    return result


# -- every documented field, for the Details views (docs/modelarts-api.md §1.2) ----------------

_PERIOD_TYPES = {"2": "month", "3": "year"}  # os.modelarts/period.type (docs/modelarts-api.md §1.2)
_ON_OFF = {"0": "off", "1": "on"}  # os.modelarts/auto.renew
_LABEL_DETAILS = (("workspace id", "os.modelarts/workspace.id"),
                  ("resource id", "os.modelarts/resource.id"),
                  ("tenant domain id", "os.modelarts/tenant.domain.id"))
_ANNOTATION_DETAILS = (("description", "os.modelarts/description"),
                       ("order id", "os.modelarts/order.id"),
                       ("flavor resource ids", "os.modelarts/flavor.resource.ids"),
                       ("promotion info", "os.modelarts/promotion.info"),
                       ("service console URL", "os.modelarts/service.console.url"))


def pool_details(pool: Pool) -> list[tuple[str, str]]:
    """(label, value) for every documented field the pool's answer carries, in the page's
    order; a field that is absent (or empty) is left out, one of an odd type shown as sent.
    Values are the server's text, not yet made safe: views pass each through one_line or
    html_text."""
    raw = pool.raw if isinstance(pool.raw, Mapping) else {}
    meta, spec, status = (_sub(raw, key) for key in ("metadata", "spec", "status"))
    labels, notes = _sub(meta, "labels"), _sub(meta, "annotations")
    rows = [("type", _plain(spec.get("type"))), ("scope", _scopes(spec, status)),
            ("job flavors", _listed(spec.get("jobFlavors"))),
            ("network", _network(_sub(spec, "network"))),
            ("driver", _drivers(_sub(spec, "driver"), _sub(status, "driver"))),
            ("OS image", _per_flavor(spec, _os_image)),
            ("dockerBaseSize", _per_flavor(spec, _docker_base)),
            ("controlMode", _plain(spec.get("controlMode"))),
            ("status message", _plain(status.get("message"))),
            ("parent", _plain(status.get("parent"))), ("root", _root(pool, status))]
    rows += [(name, _plain(labels.get(key))) for name, key in _LABEL_DETAILS]
    rows += [("billing", pool.billing_label if pool.billing_mode is not None else "")]
    rows += subscription(pool)
    rows += [(name, _plain(notes.get(key))) for name, key in _ANNOTATION_DETAILS
             if name != "order id"]
    return [(name, value) for name, value in rows if value]


def subscription(pool: Pool) -> list[tuple[str, str]]:
    """Period, auto-renew and order id of a yearly/monthly pool, as far as it says them:
    what a person needs to find it in the Billing Center and unsubscribe it."""
    notes = _sub(pool.raw if isinstance(pool.raw, Mapping) else {}, "metadata")
    notes = _sub(notes, "annotations")
    number, kind = _plain(notes.get("os.modelarts/period.num")), _plain(
        notes.get("os.modelarts/period.type"))
    period = ""
    if number or kind:
        unit = _PERIOD_TYPES.get(kind, f"period type {kind or '?'}")
        plural = "s" if number not in ("", "1") and kind in _PERIOD_TYPES else ""
        period = f"{number or '?'} {unit}{plural}"
    renew = _plain(notes.get("os.modelarts/auto.renew"))
    rows = [("period", period), ("auto-renew", _ON_OFF.get(renew, renew)),
            ("order id", _plain(notes.get("os.modelarts/order.id")))]
    return [(name, value) for name, value in rows if value]


def _root(pool: Pool, status: Mapping) -> str:
    """A physical pool is its own root: said so, not its id again (the header names it)."""
    root = _plain(status.get("root"))
    return "this pool (a physical pool is its own root)" if root and root == pool.id else root


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _sub(body: Mapping, key: str) -> Mapping:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _plain(value: object) -> str:
    """A scalar as text ("" for absent); anything else as compact JSON, so nothing is hidden."""
    if value is None:
        return ""
    if isinstance(value, str):
        return whole(value)
    if is_finite(value):
        return str(value)
    try:  # allow_nan=False: a NaN or infinity inside is unreadable, not "NaN"
        return whole(json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)[:2000])
    except (TypeError, ValueError, RecursionError):
        return "(unreadable)"


def _listed(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value if _plain(item))
    return _plain(value)


def _scopes(spec: Mapping, status: Mapping) -> str:
    """``Train (Enabled), Infer (Enabling)``: each scope with its state when status says it."""
    states: dict[str, str] = {}
    for item in _list(status.get("scope")):
        if isinstance(item, Mapping) and _plain(item.get("scopeType")):
            states[_plain(item.get("scopeType"))] = _plain(item.get("state")) or "?"
    names = [_plain(s) for s in _list(spec.get("scope"))]
    names += [name for name in states if name not in names]
    return ", ".join(f"{n} ({states[n]})" if n in states else n for n in names if n)


def _network(network: Mapping) -> str:
    parts = [f"{key} {_plain(network.get(key))}" for key in ("name", "vpcId", "subnetId")
             if _plain(network.get(key))]
    return ", ".join(parts).removeprefix("name ")


def _drivers(spec: Mapping, status: Mapping) -> str:
    """Per accelerator: the version and state status reports, and the version spec asks for
    when it differs (an upgrade under way)."""
    parts = []
    for kind in ("gpu", "npu"):
        now = _sub(status, kind)
        version, state = _plain(now.get("version")), _plain(now.get("state"))
        wanted = _plain(spec.get(f"{kind}Version"))
        if not (version or state or wanted):
            continue
        text = f"{kind.upper()} {version or wanted or '?'}" + (f" ({state})" if state else "")
        if wanted and version and wanted != version:
            text += f", {wanted} requested"
        parts.append(text)
    strategy = _plain(spec.get("updateStrategy"))
    return "; ".join(parts + ([f"update strategy {strategy}"] if strategy else []))


def _per_flavor(spec: Mapping, read: Any) -> str:
    """One value per flavor of spec.resources: ``flavor: value; …`` (just the value when one)."""
    items = [item for item in _list(spec.get("resources")) if isinstance(item, Mapping)]
    found = [(_plain(item.get("flavor")) or "?", read(item)) for item in items]
    found = [(flavor, value) for flavor, value in found if value]
    if len(found) == 1:
        return found[0][1]
    return "; ".join(f"{flavor}: {value}" for flavor, value in found)


def _os_image(item: Mapping) -> str:
    image = _sub(item, "os")
    parts = [_plain(image.get("name"))]
    parts += [f"{key} {_plain(image.get(key))}" for key in ("imageId", "imageType")
              if _plain(image.get(key))]
    return ", ".join(part for part in parts if part)


def _docker_base(item: Mapping) -> str:
    return _plain(_sub(item, "extendParams").get("dockerBaseSize"))
