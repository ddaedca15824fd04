"""What may be deleted with DELETE, and what a watched deletion's phases mean.

Kept as plain data and pure functions so the client, the panel and the magic apply the same rules.
"""

from __future__ import annotations

from ..gateway.models import Pool
from ..gateway.text import quoted

__all__ = [
    "ABNORMAL_GRACE",
    "DELETING",
    "FAILED_AFTER_DELETING",
    "FAILED_PHASES",
    "exclusion",
    "failing",
    "node_refusal",
    "node_refusal_parts",
    "refusal",
    "refusal_parts",
    "underway",
]

DELETING = "Deleting"
# A deletion that reaches one of these will not finish by itself: report it, don't wait it out.
FAILED_PHASES = frozenset({"Error"})
# Abnormal before a deletion starts is a pool with a sick node. After it started, it may be a
# passing state on the way out (Deleting → Abnormal → gone has been seen) or a deletion that
# failed; which, the docs don't say (UNCONFIRMED): it counts as failed once it lasts this long.
FAILED_AFTER_DELETING = frozenset({"Abnormal"})
ABNORMAL_GRACE = 600.0


def underway(pool: Pool) -> bool:
    """Whether the pool shows that its deletion has started."""
    return pool.phase == DELETING or pool.deleted is not None


def failing(pool: Pool, *, underway: bool) -> bool | None:
    """Whether a watched deletion failed: True (it will not finish by itself), False (it looks
    failed but may recover: Abnormal during a deletion, see ``ABNORMAL_GRACE``), None (fine)."""
    if pool.phase in FAILED_PHASES:
        return True
    if underway and pool.phase in FAILED_AFTER_DELETING:
        return False
    return None


def refusal(pool: Pool) -> str | None:
    """Why ``pool`` must not be deleted with DELETE, with what to do instead; None if it may.

    Fails closed: a pool is deletable only when its controlMode reads as a number without the
    frozen bits and its billing mode is the documented pay-per-use "0".
    """
    parts = refusal_parts(pool, f"pool {pool.label}")
    return "; ".join(parts) if parts else None


def refusal_parts(pool: Pool, subject: str = "this pool") -> tuple[str, str] | None:
    """``refusal`` as (why, what to do), naming the pool as ``subject``: a panel that already
    shows the pool's names says "this pool" once instead of repeating its id."""
    if pool.control_mode is None:
        return (f"cannot tell whether {subject} is frozen: its spec.controlMode is not a number",
                "check the pool's status in the ModelArts console")
    if pool.control_mode & 16:
        return (f"{subject} is frozen by public security (controlMode {pool.control_mode}): "
                "it accepts no operation and cannot be unsubscribed",
                "contact Huawei Cloud support")
    if pool.is_frozen:
        return (f"{subject} is frozen (controlMode {pool.control_mode}), usually because the "
                "account is in arrears: frozen pools accept no operation",
                "top up or renew in the Billing Center first, then delete or unsubscribe it")
    if pool.is_prepaid:
        which = f" (resource id {pool.resource_id})" if pool.resource_id else ""
        return (f"{subject} is billed yearly/monthly: it is released by unsubscribing, not "
                "deleted",
                f"in the console open Billing Center → Unsubscriptions and unsubscribe it{which}")
    if not pool.is_pay_per_use:
        return (f"cannot tell whether {subject} is prepaid: its billing mode (annotation "
                f"os.modelarts/billing.mode) is {_shown(pool.billing_mode)}, not \"0\" "
                "(pay-per-use) or \"1\" (yearly/monthly)",
                "check its billing mode in the ModelArts console")
    return None


def _shown(value: str | None) -> str:
    return "missing or not text" if value is None else quoted(value, 40)


def exclusion(pool: Pool) -> str | None:
    """Why a bulk deletion leaves ``pool`` out, in a few words; None if it is deletable."""
    if pool.control_mode is None:
        return "controlMode unreadable: cannot tell whether it is frozen"
    if pool.is_frozen:
        return "frozen: no operation is possible"
    if pool.is_prepaid:
        return "yearly/monthly: unsubscribe it instead"
    if not pool.is_pay_per_use:
        return "billing mode unknown: cannot tell whether it is prepaid"
    if pool.phase == DELETING:
        return "already being deleted"
    return None


def node_refusal(pool: Pool, prepaid: list[str]) -> str | None:
    """Why a pay-per-use pool holding yearly/monthly nodes (``prepaid``: their names) is not
    deleted here: those nodes are released by unsubscribing them first (Terraform does that
    through the billing API; we explain, we don't do billing)."""
    parts = node_refusal_parts(pool, prepaid, f"pool {pool.label}")
    return ": ".join(parts) if parts else None


def node_refusal_parts(pool: Pool, prepaid: list[str], subject: str = "this pool"
                       ) -> tuple[str, str] | None:
    """``node_refusal`` as (why, what to do), naming the pool as ``subject``."""
    if not prepaid:
        return None
    names = ", ".join(prepaid[:5]) + (f" and {len(prepaid) - 5} more" if len(prepaid) > 5 else "")
    return (f"{subject} is pay-per-use but holds {len(prepaid)} yearly/monthly "
            f"node{'s' * (len(prepaid) != 1)} ({names})",
            "unsubscribe them first in the console (Billing Center → Unsubscriptions, by each "
            "node's resource id), then delete the pool")
