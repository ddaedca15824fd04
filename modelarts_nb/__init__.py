"""modelarts-nb: see, confirm and delete Huawei Cloud ModelArts resource pools from a notebook.

``import modelarts_nb`` stays light: it imports httpx but neither pandas nor ipywidgets; the
table functions import pandas when called.
"""

from __future__ import annotations

from ._version import __version__
from .client import PoolsClient
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
from .settings import Credentials, Settings, resolve_settings
from .tables import spec_resources_table, status_resources_table

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConfigError",
    "ConnectionFailed",
    "Credentials",
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
    "Throttled",
    "WaitError",
    "WaitTimeout",
    "__version__",
    "resolve_settings",
    "spec_resources_table",
    "status_resources_table",
]
