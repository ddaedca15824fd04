"""Bulk clean-up: 100 pools at 50 ms injected latency, 8 DELETEs in flight.

DELETE-phase wall time (the LISTs included) against the ideal: ⌈100/8⌉ waves of two round trips
each — the re-check of the pool against the plan (the pool and its work, read at once), then its
DELETE —
against a sequential loop over the official SDK, duplicate DELETEs, and behaviour under a rate
limit (requests answered 429 after the client already knew about the first one).
"""

from __future__ import annotations

import math
import statistics
import time

import httpx

from modelarts_nb import Credentials, PoolsClient, Settings
from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.sandbox import Sandbox, start

POOLS, CONCURRENCY, LATENCY = 100, 8, 0.05


def _client(sb: Sandbox) -> PoolsClient:
    return PoolsClient(Settings(sb.endpoint, sb.project_id, Credentials(sb.ak, sb.sk)))


def _round_trip(sb: Sandbox) -> float:
    auth = AkSkAuth(sb.ak, sb.sk, project_id=sb.project_id)
    url = f"{sb.endpoint}/v2/{sb.project_id}/pools/{sb.pool_ids()[0]}"
    with httpx.Client(auth=auth) as http:
        samples = []
        for _ in range(10):
            began = time.perf_counter()
            http.get(url)
            samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def _names() -> list[str]:
    return [f"pool-{i:02}" for i in range(1, POOLS + 1)]


def _ours() -> tuple[float, float, int, int]:
    with start(pools=POOLS, delete_seconds=600, latency=LATENCY) as sb:
        rtt = _round_trip(sb)
        with _client(sb) as client:
            began = time.perf_counter()
            items = client.delete_many(_names(), concurrency=CONCURRENCY, force=True)
            wall = time.perf_counter() - began
        most = max(sb.accepted_deletes(item.pool.id) for item in items if item.pool)
        return wall, rtt, sb.count(method="DELETE"), most


def _sdk_sequential() -> float:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import DeletePoolRequest, ModelArtsClient

    with start(pools=POOLS, delete_seconds=600, latency=LATENCY) as sb:
        ids = [sb.display_names()[name][0] for name in _names()]
        client = (
            ModelArtsClient.new_builder()
            .with_credentials(BasicCredentials(sb.ak, sb.sk, sb.project_id))
            .with_endpoint(sb.endpoint)
            .build()
        )
        began = time.perf_counter()
        for pool_id in ids:
            client.delete_pool(DeletePoolRequest(pool_name=pool_id))
        return time.perf_counter() - began


def _rate_limited(limit: float = 20.0, pools: int = 60) -> tuple[int, int]:
    """(429 answers in all, 429 answers to requests sent > 100 ms after the first 429)."""
    with start(pools=pools, delete_seconds=600, rate_limit=limit) as sb:
        with _client(sb) as client:
            client.delete_many(
                [f"pool-{i:02}" for i in range(1, pools + 1)], concurrency=CONCURRENCY,
                force=True)
        rejected = [r for r in sb.requests if r.status == 429]
    if not rejected:
        return 0, 0
    return len(rejected), sum(r.time > rejected[0].time + 0.1 for r in rejected)


def run() -> list[dict[str, str]]:
    wall, rtt, deletes, most = _ours()
    waves = math.ceil(POOLS / CONCURRENCY)
    ideal = waves * 2 * rtt
    sdk = _sdk_sequential()
    total, late = _rate_limited()
    return [
        {
            "measure": f"DELETE phase, {POOLS} pools, concurrency {CONCURRENCY}, "
            f"{LATENCY * 1000:.0f} ms latency",
            "value": f"{wall:.2f} s",
            "target": f"<= 1.5x ideal {ideal:.2f} s ({waves} waves x 2 round trips)",
            "result": f"{wall / ideal:.2f}x",
        },
        {
            "measure": "sequential official SDK delete_pool loop",
            "value": f"{sdk:.2f} s",
            "target": ">= 5x slower than ours",
            "result": f"{sdk / wall:.1f}x",
        },
        {
            "measure": "DELETEs sent / most accepted for one pool",
            "value": f"{deletes} / {most}",
            "target": f"{POOLS} / 1",
            "result": "ok" if (deletes, most) == (POOLS, 1) else "NO",
        },
        {
            "measure": "rate limit 20 req/s: 429s in all / after the first was known",
            "value": f"{total} / {late}",
            "target": "- / 0",
            "result": "ok" if late == 0 else "NO",
        },
    ]
