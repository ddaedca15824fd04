"""modelarts-nb: see, confirm and delete Huawei Cloud ModelArts resource pools from a notebook.

``import modelarts_nb`` stays light: it imports httpx but neither pandas nor ipywidgets; the
table functions import pandas when called.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .client import PoolsClient
from .engine import Deletion, Target
from .errors import (
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
from .models import Pool, ResourceLine
from .receipts import history  # the receipts of every DELETE sent (imports pandas when called)
from .settings import Credentials, Settings, resolve_settings
from .steps import Step
from .tables import spec_resources_table, status_resources_table

__all__ = [
    "load_ipython_extension",
    "unload_ipython_extension",
    "ApiError",
    "AuthenticationError",
    "ConfigError",
    "ConnectionFailed",
    "Credentials",
    "Deletion",
    "DeletionFailed",
    "DeletionRefused",
    "InvalidName",
    "ModelArtsError",
    "PermissionDenied",
    "Pool",
    "PoolNotFound",
    "PoolsClient",
    "ResourceLine",
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
        from .engine import stop_all
        from .stops import stop_everything

        stop_everything()
        stop_all()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext modelarts_nb``: registers ``%pool_delete`` and ``%pools`` and their tab
    completion; imports stay lazy until then."""
    from .completion import register
    from .interrupts import watch
    from .magic import PoolMagics

    ipython.register_magics(PoolMagics)
    register(ipython)
    watch(getattr(ipython, "kernel", None))  # an interrupt between cells stops our work too
    if _stop_watches_on_interrupt not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _stop_watches_on_interrupt)


def unload_ipython_extension(ipython: Any) -> None:
    from .completion import unregister
    from .engine import stop_all

    unregister(ipython)
    stop_all()
    if _stop_watches_on_interrupt in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", _stop_watches_on_interrupt)
