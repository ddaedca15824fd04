"""``python -m benchmarks`` (or ``make bench``): per-call overhead and import cost, as ratios.

All three clients talk to one in-process sandbox over loopback with AK/SK signing, in interleaved
rounds so that machine noise hits each of them alike. Figures are medians of per-call times.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from modelarts_nb import PoolsClient
from modelarts_nb.auth import AkSkAuth
from modelarts_nb.sandbox import Sandbox, start
from modelarts_nb.settings import Credentials, Settings


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


def import_cost(module: str, runs: int = 7) -> tuple[float, list[str]]:
    """Median cumulative import time of ``module`` (µs → ms) and the heavy modules it pulled in."""
    times, heavy = [], set()
    probe = (
        f"import sys, {module}; "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pandas', 'ipywidgets', 'numpy'})))"
    )
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", probe],
            capture_output=True,
            text=True,
            check=True,
        )
        heavy |= {name for name in out.stdout.strip().split(",") if name}
        for line in out.stderr.splitlines():
            fields = [f.strip() for f in line.split("|")]
            if len(fields) == 3 and fields[2] == module:
                times.append(int(fields[1]) / 1000)
    return statistics.median(times), sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()

    medians = per_call(args.rounds, args.calls)
    floor = medians["raw httpx"]
    print(f"per-call overhead against the sandbox ({args.rounds} rounds x {args.calls} calls)")
    print(f"{'client':<24}{'median ms':>10}{'x raw httpx':>13}")
    for name, value in medians.items():
        print(f"{name:<24}{value * 1000:>10.3f}{value / floor:>13.2f}")
    ratio = medians["PoolsClient.get_pool"] / floor
    print(
        f"target get_pool <= 1.15x raw httpx: {'met' if ratio <= 1.15 else 'MISSED'} ({ratio:.2f}x)"
    )

    print("\ncold import (python -X importtime, median of 7)")
    base, _ = import_cost("httpx")
    for module in ("httpx", "modelarts_nb"):
        ms, heavy = import_cost(module)
        print(
            f"{module:<24}{ms:>8.1f} ms{ms / base:>8.2f}x httpx  heavy imports: {heavy or 'none'}"
        )


if __name__ == "__main__":
    main()
