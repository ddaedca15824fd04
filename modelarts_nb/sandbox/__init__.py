"""A faithful, local ModelArts resource-pool API (v2) for tutorials, demos and tests.

It serves real HTTP on 127.0.0.1 only, verifies real ``SDK-HMAC-SHA256`` signatures and IAM
tokens like Huawei's API gateway, and walks deleted pools through ``Deleting`` to 404 on a
clock, so Huawei's own ``huaweicloudsdkmodelarts`` client works against it unchanged::

    from modelarts_nb.sandbox import start, Fault
    with start(delete_seconds=3) as sb:
        sb.export_env()                       # HUAWEICLOUD_SDK_*, MODELARTS_ENDPOINT/REGION
        sb.inject(Fault(method="DELETE", drop="after"))   # the answer to the next DELETE is lost
        ...                                   # stop() puts the variables back as they were

Seeded pools (ids are ``<slug>-<32 hex>``, stable for a given ``seed``): ``train-gpu``
(Dedicate, 3 flavors over 3 AZs, an abnormal and a creating node), ``infer-cpu`` (Logical;
``status.resources`` in the object form the SDK models), ``prepaid-pool`` (yearly/monthly:
DELETE refused), ``frozen-pool`` (controlMode 8: DELETE refused), two pools displayed as
``team-shared``, ``creating-pool``, ``failed-pool`` (CreationFailed), ``leaving-pool`` (already
Deleting, gone ``delete_seconds`` after start) and ``pools`` generic ``pool-01``.. with the
TMS tags ``course=ml101`` and ``student=sNN`` (never as labels: real pools' labels are system
keys). Credentials are fake and shaped like real ones.

Tags and workspaces (docs/modelarts-api.md §9–10): the pool tag APIs (show, create, delete, list
all: ``tags.py``) and ``GET /v1/{project}/workspaces`` (``workspaces.py``); pools listed without
``workspaceId`` are workspace "0"'s only, and a research team's workspace holds three more.
``add_pool``/``add_pools``/``tag_pool(pool_id, tags, annotate=...)``/``add_workspace`` set them
up from Python. ``export_env()`` can be undone (``with sb.export_env(): ...``, ``restore_env()``,
and ``stop()``). Admin endpoints (``/_sandbox/...``) need a request signed with the sandbox's own
AK/SK (``admin.py``: ``sb.admin().reset()``, ``AdminClient.from_env()``); ``unique_keys=True``
gives a sandbox keys nobody else on a shared machine knows. ``ignore_filters`` (an option of
``start``, or ``sb.ignore_filters = ("labelSelector", "status")``) makes the pool list ignore
those query parameters like a careless server or proxy, to show why a client checks every
filter on the pools it gets back.
"""

from __future__ import annotations

from .admin import AdminClient, AdminError
from .core import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, DEFAULT_TOKEN, Sandbox, start
from .environ import ExportedEnv
from .faults import Fault
from .records import RequestRecord

__all__ = [
    "AdminClient",
    "AdminError",
    "ExportedEnv",
    "DEFAULT_AK",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SK",
    "DEFAULT_TOKEN",
    "Fault",
    "RequestRecord",
    "Sandbox",
    "start",
]
