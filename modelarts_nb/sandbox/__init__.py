"""A faithful, local ModelArts resource-pool API (v2) for tutorials, demos and tests.

It serves real HTTP on 127.0.0.1 only, verifies real ``SDK-HMAC-SHA256`` signatures and IAM
tokens like Huawei's API gateway, and walks deleted pools through ``Deleting`` to 404 on a
clock, so Huawei's own ``huaweicloudsdkmodelarts`` client works against it unchanged::

    from modelarts_nb.sandbox import start, Fault
    with start(delete_seconds=3) as sb:
        sb.export_env()                       # HUAWEICLOUD_SDK_*, MODELARTS_ENDPOINT/REGION
        sb.inject(Fault(method="DELETE", drop="after"))   # the answer to the next DELETE is lost
        ...

Seeded pools (ids are ``<slug>-<32 hex>``, stable for a given ``seed``): ``train-gpu``
(Dedicate, 3 flavors over 3 AZs, an abnormal and a creating node), ``infer-cpu`` (Logical;
``status.resources`` in the object form the SDK models), ``prepaid-pool`` (yearly/monthly:
DELETE refused), ``frozen-pool`` (controlMode 8: DELETE refused), two pools displayed as
``team-shared``, ``creating-pool``, ``failed-pool`` (CreationFailed), ``leaving-pool`` (already
Deleting, gone ``delete_seconds`` after start) and ``pools`` generic ``pool-01``.. with labels
``course=ml101`` and ``student=sNN``. Credentials are fake and shaped like real ones.
"""

from __future__ import annotations

from .core import DEFAULT_AK, DEFAULT_PROJECT_ID, DEFAULT_SK, DEFAULT_TOKEN, Sandbox, start
from .faults import Fault
from .records import RequestRecord

__all__ = [
    "DEFAULT_AK",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SK",
    "DEFAULT_TOKEN",
    "Fault",
    "RequestRecord",
    "Sandbox",
    "start",
]
