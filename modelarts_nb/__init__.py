"""modelarts-nb: see, confirm and delete Huawei Cloud ModelArts resource pools from a notebook.

``import modelarts_nb`` stays light: it imports httpx but neither pandas nor ipywidgets; the
table functions import pandas when called.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .deletion.client import PoolsClient
from .deletion.engine import Deletion
from .deletion.plan import Plan
from .deletion.receipts import history  # the receipts of every DELETE sent (pandas when called)
from .deletion.selection import Filters
from .deletion.steps import Step
from .deletion.target import Target
from .gateway.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    ConnectionFailed,
    DeletionFailed,
    DeletionRefused,
    InvalidName,
    ModelArtsError,
    PermissionDenied,
    PoolNotFound,
    ServerError,
    Throttled,
    WaitError,
    WaitTimeout,
)
from .gateway.models import Pool, ResourceLine
from .gateway.retry import RetryPolicy
from .gateway.settings import Credentials, Settings, resolve_settings
from .notebook.tables import spec_resources_table, status_resources_table

__all__ = [
    "load_ipython_extension",
    "unload_ipython_extension",
    "ApiError",
    "AuthenticationError",
    "ConfigError",
    "ConnectionFailed",
    "Credentials",
    "Deletion",
    "Filters",
    "DeletionFailed",
    "DeletionRefused",
    "InvalidName",
    "ModelArtsError",
    "PermissionDenied",
    "Plan",
    "Pool",
    "PoolNotFound",
    "PoolsClient",
    "ResourceLine",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "Step",
    "Target",
    "Throttled",
    "WaitError",
    "WaitTimeout",
    "__version__",
    "history",
    "resolve_settings",
    "spec_resources_table",
    "status_resources_table",
]


def _stop_watches_on_interrupt(result: Any) -> None:
    """A kernel interrupt also stops every background watch, check and Refresh, of panels and
    batches alike (never a confirmed DELETE already on the wire)."""
    if isinstance(getattr(result, "error_in_exec", None), KeyboardInterrupt):
        from .deletion.runner import stop_all
        from .gateway.stops import stop_everything

        stop_everything()
        stop_all()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext modelarts_nb``: registers ``%pool_delete`` and ``%pools`` and their tab
    completion; imports stay lazy until then."""
    from .notebook.completion import register
    from .notebook.interrupts import watch
    from .notebook.magic import PoolMagics

    ipython.register_magics(PoolMagics)
    register(ipython)
    watch(getattr(ipython, "kernel", None))  # an interrupt between cells stops our work too
    if _stop_watches_on_interrupt not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _stop_watches_on_interrupt)


def unload_ipython_extension(ipython: Any) -> None:
    from .deletion.runner import stop_all
    from .notebook.completion import unregister

    unregister(ipython)
    stop_all()
    if _stop_watches_on_interrupt in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", _stop_watches_on_interrupt)
