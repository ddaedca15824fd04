"""The watch's cadence on a simulated clock: GETs spent and the lag between the pool
disappearing and the watch saying so, for deletions of 10 s, 60 s and 10 min."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from modelarts_nb import Credentials, PoolsClient, Settings

_BODY = json.loads(
    (Path(__file__).parent.parent / "tests" / "fixtures" / "show_pool_deleting.json").read_text()
)
POOL = _BODY["metadata"]["name"]
GONE = {"error_code": "ModelArts.50015001", "error_msg": "pool not found"}


def simulate(duration: float, interval: float | None, delay: float = 0.0) -> tuple[int, float]:
    """(GETs, lag in seconds) for a deletion that ends ``duration`` s after the DELETE."""
    now = [0.0]
    gets = [0]

    def api(request: httpx.Request) -> httpx.Response:
        gets[0] += 1
        if now[0] >= duration:
            return httpx.Response(404, json=GONE)
        return httpx.Response(200, json=_BODY)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    settings = Settings("https://modelarts.example.com", "p", Credentials(token="t"))
    client = PoolsClient(
        settings, transport=httpx.MockTransport(api), sleep=sleep, clock=lambda: now[0]
    )
    sleep(delay)
    with client:
        client.wait_until_deleted(POOL, timeout=4 * 3600, interval=interval)
    return gets[0], now[0] - duration


Strategy = tuple[str, Callable[[float], tuple[int, float]]]
STRATEGIES: list[Strategy] = [
    ("modelarts-nb (adaptive)", lambda d: simulate(d, None)),
    ("fixed 10 s", lambda d: simulate(d, 10.0)),
    ("Terraform (30 s delay, then 10 s)", lambda d: simulate(d, 10.0, delay=30.0)),
]


def run(points: int = 21) -> list[dict[str, str]]:
    """Worst case over end times spread ±10 % around each nominal duration, so that a lucky
    alignment of a fixed cadence with a round duration cannot hide its real lag."""
    rows = []
    for nominal in (10.0, 60.0, 600.0):
        durations = [nominal * (0.9 + 0.2 * i / (points - 1)) for i in range(points)]
        for name, strategy in STRATEGIES:
            results = [(strategy(d), d) for d in durations]
            gets = max(g for (g, _), _ in results)
            worst = max(lag / max(2.0, 0.1 * d) for (_, lag), d in results)
            lag = max(lag for (_, lag), _ in results)
            rows.append(
                {
                    "deletion": f"{nominal:.0f} s ±10 %",
                    "strategy": name,
                    "max GETs": str(gets),
                    "max lag s": f"{lag:.1f}",
                    "lag / target": f"{worst:.2f}",
                    "lag met": "yes" if worst <= 1.0 else "no",
                }
            )
    return rows
