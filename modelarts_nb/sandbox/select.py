"""The list endpoint's filters: Kubernetes-style ``labelSelector`` and the ``status`` groups.

Only equality-based selectors are supported (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``), which
is what ModelArts documents; set-based ones (``k in (a,b)``) are refused as a bad request
rather than silently matching everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["STATUS_GROUPS", "Term", "matches_labels", "parse_selector", "status_phases"]

# OTC obtaining_resource_pools.rst: created / failed / creating (docs/modelarts-api.md §2).
STATUS_GROUPS: dict[str, frozenset[str]] = {
    "created": frozenset({"Running", "Abnormal", "Deleting", "Error"}),
    "failed": frozenset({"CreationFailed", "ScalingFailed"}),
    "creating": frozenset({"Creating", "Waiting"}),
}

_KEY = r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?"
_TERM_RE = re.compile(rf"(?P<neg>!)?(?P<key>{_KEY})(?:(?P<op>==|!=|=)(?P<value>{_VALUE}))?")

# (key, operator, value): operator is "=", "!=", "exists" or "absent".
Term = tuple[str, str, str]


def status_phases(status: str) -> frozenset[str] | None:
    """Phases selected by ``status``; None means no filter. Raises ValueError when invalid."""
    if not status:
        return None
    try:
        return STATUS_GROUPS[status]
    except KeyError:
        raise ValueError(f"invalid status {status!r}") from None


def parse_selector(selector: str) -> list[Term]:
    """Parse a comma-separated selector; raises ValueError on anything not understood."""
    terms: list[Term] = []
    for raw in selector.split(","):
        text = raw.strip()
        if not text and not selector.strip():
            continue
        match = _TERM_RE.fullmatch(text)
        if match is None or (match["neg"] and match["op"]):
            raise ValueError(f"invalid label selector term {text!r}")
        if match["op"] is None:
            terms.append((match["key"], "absent" if match["neg"] else "exists", ""))
        else:
            op = "!=" if match["op"] == "!=" else "="
            terms.append((match["key"], op, match["value"] or ""))
    return terms


def matches_labels(labels: Mapping[str, str], terms: list[Term]) -> bool:
    """All terms must hold (Kubernetes semantics: ``k!=v`` also matches when k is absent)."""
    for key, op, value in terms:
        present = key in labels
        if op == "exists" and not present:
            return False
        if op == "absent" and present:
            return False
        if op == "=" and (not present or labels[key] != value):
            return False
        if op == "!=" and present and labels[key] == value:
            return False
    return True
