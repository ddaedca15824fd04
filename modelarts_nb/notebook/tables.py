"""Pure functions turning a Pool's resources into pandas DataFrames.

pandas is imported inside the functions so that ``import modelarts_nb`` stays light. Every
text cell and column name goes through ``text.clean`` once more: a frame is printed as it is
(``text/plain``, ``to_string``), and a Pool is not always built from an answer that crossed
the edge (``responses.read_json``) — ``Pool.from_api`` takes any dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..gateway.models import STATUS_STATES, Pool, ResourceLine
from ..gateway.text import clean, clean_json

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "POOLS_COLUMNS",
    "age_text",
    "SPEC_COLUMNS",
    "STATUS_COLUMNS",
    "pools_table",
    "spec_resources_table",
    "status_resources_table",
]

SPEC_COLUMNS = ["flavor", "count", "maxCount", "nodePool", "azs"]
STATUS_COLUMNS = ["state", "flavor", "count", "maxCount", "azs", "nodePool"]


def _row(line: ResourceLine) -> dict[str, object]:
    return {
        "flavor": line.flavor,
        "count": line.count,
        "maxCount": line.max_count,
        "nodePool": line.node_pool,
        "azs": line.az_split,
    }


def _frame(rows: list[dict[str, object]], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(clean_json(rows), columns=columns)
    for name in ("count", "maxCount"):
        frame[name] = frame[name].astype("Int64")  # nullable: a missing count stays visible
    return frame


def spec_resources_table(pool: Pool) -> pd.DataFrame:
    """One row per flavor of ``spec.resources``: what the pool was asked to hold."""
    return _frame([_row(line) for line in pool.spec_resources], SPEC_COLUMNS)


def status_resources_table(pool: Pool) -> pd.DataFrame:
    """One row per state × flavor of ``status.resources``: what the pool holds right now."""
    rows = [
        {"state": state, **_row(line)}
        for state in STATUS_STATES
        for line in pool.status_resources.get(state, ())
    ]
    return _frame(rows, STATUS_COLUMNS)


POOLS_COLUMNS = [
    "id", "display name", "phase", "type", "flavors", "billing", "workspace", "created", "age",
]


def pools_table(pools: list[Pool], now: datetime | None = None,
                decisions: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per pool, for the ``%pools`` browser: who, what state, what it holds, how old,
    then (with ``decisions``: pool id → ``delete`` / ``kept: why`` / ``left out: why``) a
    ``decision`` column, then one column per TMS tag key (``tag:<key>`` if a key is also a
    column name before it); a pool without the tag, or whose tags are unknown, has None."""
    import pandas as pd

    now = now or datetime.now(timezone.utc)
    keys = sorted({key for pool in pools for key in (pool.tags or {})})
    fixed = POOLS_COLUMNS + ["decision"] * (decisions is not None)
    named = _tag_columns(keys, fixed)
    rows = [
        {
            "id": pool.id,
            "display name": pool.display_name or "",
            "phase": pool.phase or "unknown",
            "type": pool.type or "",
            "flavors": ", ".join(f"{line.flavor}×{line.count}" for line in pool.spec_resources),
            "billing": pool.billing_label,
            "workspace": pool.workspace_id,
            "created": pool.created.strftime("%Y-%m-%d %H:%M") if pool.created else "",
            "age": age_text(now, pool.created),
            **({} if decisions is None else {"decision": decisions.get(pool.id, "")}),
            **{named[k]: "|".join(values) for k, values in (pool.tags or {}).items()},
        }
        for pool in pools
    ]
    return pd.DataFrame(clean_json(rows), columns=fixed + [named[key] for key in keys])


def _tag_columns(keys: list[str], fixed: list[str]) -> dict[str, str]:
    """Each tag key's column: the key, or ``tag:<key>`` (prefixed again until free) when a
    pool column or an earlier key has that name; cleaned (``text.clean``), so two keys that
    differ only in control characters get two columns."""
    used, named = set(fixed), {}
    for key in keys:
        name = clean(key)
        while name in used:
            name = f"tag:{name}"
        used.add(name)
        named[key] = name
    return named


def age_text(now: datetime, then: datetime | None) -> str:
    """``3d 4h`` or ``2h 5m``: how long ago ``then`` was."""
    if then is None:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"
