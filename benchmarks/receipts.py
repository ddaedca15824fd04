"""Receipts: the cost of one append (every DELETE waits for its own ``sent`` event) and of
reading a long history back (``%pools --history`` over years of class clean-ups)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from modelarts_nb.deletion import receipts

_EVENT = {
    "v": 1, "event": "sent", "time": "2026-12-01T00:00:00.000Z", "via": "batch",
    "host": "modelarts.cn-north-4.myhuaweicloud.com", "project": "p" * 32,
    "pool": "pool-01-" + "a" * 32, "name": "pool-01", "nodes": 4, "workloads": [],
    "flavors": [{"flavor": "modelarts.vm.gpu.8v100", "count": 4}], "request_id": "r" * 32,
}


def run(appends: int = 2000, receipts_read: int = 20000) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="mnb-receipts-") as folder:
        path = Path(folder) / "receipts.jsonl"
        took = []
        for i in range(appends):
            event = dict(_EVENT, receipt=f"{i:032x}", event=("sent", "final")[i % 2])
            t0 = time.perf_counter()
            receipts.append(event, path)
            took.append(time.perf_counter() - t0)
        size = path.stat().st_size / appends
        with path.open("ab") as out:  # a long history, written directly (the append is timed above)
            for i in range(receipts_read):
                day = f"2026-11-{1 + i % 28:02d}T00:00:00Z"
                for kind in ("sent", "final"):
                    line = dict(_EVENT, receipt=f"r{i}", event=kind, time=day, outcome="deleted")
                    out.write((json.dumps(line) + "\n").encode())
        t0 = time.perf_counter()
        frame = receipts.history(path=path)
        read_s = time.perf_counter() - t0
        megabytes = path.stat().st_size / 1e6
    took.sort()
    return [
        {"measure": f"one append ({appends} events, {size:.0f} bytes a line)",
         "median": f"{statistics.median(took) * 1e6:.0f} µs",
         "p99": f"{took[int(len(took) * 0.99)] * 1e6:.0f} µs"},
        {"measure": f"history() over {len(frame)} receipts ({megabytes:.1f} MB)",
         "median": f"{read_s:.2f} s", "p99": "-"},
    ]
