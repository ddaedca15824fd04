"""Time to first panel: a fresh kernel-like process runs ``%load_ext`` and ``%pool_delete``
until the panel is returned, with 0 and 50 ms of injected latency, against the floor: importing
what the panel needs (modelarts_nb, pandas, ipywidgets) plus one round trip."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from modelarts_nb.sandbox import Fault, Sandbox, start

_PANEL = """
import json, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
t0 = time.perf_counter()
ip.run_line_magic('load_ext', 'modelarts_nb')
panel = ip.run_line_magic('pool_delete', 'train-gpu')
assert type(panel).__name__ == 'DeletePanel'
print(json.dumps({"ms": (time.perf_counter() - t0) * 1000}))
"""
_FLOOR = """
import json, os, time
t0 = time.perf_counter()
import modelarts_nb, pandas, ipywidgets, httpx
t1 = time.perf_counter()
from modelarts_nb.gateway.auth import AkSkAuth
e = os.environ
auth = AkSkAuth(e['HUAWEICLOUD_SDK_AK'], e['HUAWEICLOUD_SDK_SK'],
                project_id=e['HUAWEICLOUD_SDK_PROJECT_ID'])
with httpx.Client(auth=auth) as c:
    t2 = time.perf_counter()
    c.get(e['MODELARTS_ENDPOINT'] + '/v2/' + e['HUAWEICLOUD_SDK_PROJECT_ID'] + '/pools').json()
    t3 = time.perf_counter()
print(json.dumps({"ms": ((t1 - t0) + (t3 - t2)) * 1000}))
"""


def _median_ms(sb: Sandbox, code: str, runs: int) -> float:
    env = {**os.environ, **sb.env()}
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1])["ms"])
    return statistics.median(samples)


def run(runs: int = 5) -> list[dict[str, str]]:
    rows = []
    with start(pools=3) as sb:
        for latency in (0.0, 0.05):
            sb.clear_faults()
            if latency:
                sb.inject(Fault(delay=latency, times=10_000))
            panel = _median_ms(sb, _PANEL, runs)
            floor = _median_ms(sb, _FLOOR, runs)
            rows.append(
                {
                    "injected latency": f"{latency * 1000:.0f} ms",
                    "first panel ms": f"{panel:.0f}",
                    "floor ms (imports + 1 round trip)": f"{floor:.0f}",
                    "x floor": f"{panel / floor:.2f}",
                }
            )
    return rows
