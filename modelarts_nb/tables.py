"""Pure functions turning a Pool's resources into pandas DataFrames.

pandas is imported inside the functions so that ``import modelarts_nb`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import STATUS_STATES, Pool, ResourceLine

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SPEC_COLUMNS", "STATUS_COLUMNS", "spec_resources_table", "status_resources_table"]

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

    frame = pd.DataFrame(rows, columns=columns)
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
