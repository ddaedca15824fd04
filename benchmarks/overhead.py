"""Per-call overhead: ``PoolsClient.get_pool`` vs a raw httpx GET vs the official SDK.

All three clients talk to one in-process sandbox over loopback with AK/SK signing, in interleaved
rounds so that machine noise hits each of them alike. Figures are medians of per-call times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from modelarts_nb import Credentials, PoolsClient, Settings
from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.sandbox import Sandbox, start


def _ours(sb: Sandbox, pool_id: str) -> tuple[Callable[[], object], Callable[[], None]]:
    settings = Settings(sb.endpoint, sb.project_id, Credentials(sb.ak, sb.sk))
    client = PoolsClient(settings)
    return (lambda: client.get_pool(pool_id)), client.close


def _raw(sb: Sandbox, pool_id: str) -> tuple[Callable[[], object], Callable[[], None]]:
    http = httpx.Client(auth=AkSkAuth(sb.ak, sb.sk, project_id=sb.project_id))
    url = f"{sb.endpoint}/v2/{sb.project_id}/pools/{pool_id}"
    headers = {"Content-Type": "application/json"}
    return (lambda: http.get(url, headers=headers).json()), http.close


def _sdk(sb: Sandbox, pool_id: str) -> tuple[Callable[[], object], Callable[[], None]]:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient, ShowPoolRequest

    client = (
        ModelArtsClient.new_builder()
        .with_credentials(BasicCredentials(sb.ak, sb.sk, sb.project_id))
        .with_endpoint(sb.endpoint)
        .build()
    )
    request = ShowPoolRequest(pool_name=pool_id)
    return (lambda: client.show_pool(request)), lambda: None


def per_call(rounds: int, calls: int) -> dict[str, float]:
    """Median seconds per call for each client."""
    with start(pools=0, delete_seconds=60) as sb:
        pool_id = sb.pool_ids()[0]
        makers = {"raw httpx": _raw, "PoolsClient.get_pool": _ours, "SDK show_pool": _sdk}
        runners = {name: make(sb, pool_id) for name, make in makers.items()}
        samples: dict[str, list[float]] = {name: [] for name in runners}
        for call, _ in runners.values():
            for _ in range(20):
                call()  # warm up connections and caches
        for _ in range(rounds):
            for name, (call, _) in runners.items():
                began = time.perf_counter()
                for _ in range(calls):
                    call()
                samples[name].append((time.perf_counter() - began) / calls)
        for _, close in runners.values():
            close()
    return {name: statistics.median(values) for name, values in samples.items()}


def run(rounds: int = 15, calls: int = 40) -> list[dict[str, str]]:
    medians = per_call(rounds, calls)
    floor = medians["raw httpx"]
    return [
        {
            "client": name,
            "median ms per call": f"{value * 1000:.3f}",
            "x raw httpx": f"{value / floor:.2f}",
        }
        for name, value in medians.items()
    ]
