"""Tables for a pool of 200 flavors over 3 AZs: build both DataFrames and render them to HTML."""

from __future__ import annotations

import statistics
import time

from modelarts_nb import Pool, spec_resources_table, status_resources_table
from modelarts_nb.notebook.render import tables_html


def big_pool(flavors: int = 200) -> Pool:
    lines = [
        {
            "flavor": f"modelarts.vm.gpu.f{i:03}",
            "count": 3,
            "maxCount": 3,
            "nodePool": f"nodepool-{i}",
            "azs": [{"az": f"cn-north-4{z}", "count": 1} for z in "abc"],
        }
        for i in range(flavors)
    ]
    return Pool.from_api(
        {
            "metadata": {"name": "big-" + "0" * 40},
            "spec": {"resources": lines},
            "status": {
                "phase": "Running",
                "resources": {"available": lines, "abnormal": lines[:20]},
            },
        }
    )


def run(runs: int = 15) -> list[dict[str, str]]:
    pool = big_pool()
    tables_html(pool)  # warm up pandas
    build, full = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        spec_resources_table(pool)
        status_resources_table(pool)
        t1 = time.perf_counter()
        tables_html(pool)  # builds both frames again and renders them
        full.append(time.perf_counter() - t1)
        build.append(t1 - t0)
    total = statistics.median(full) * 1000
    return [
        {
            "pool": "200 flavors x 3 AZs (spec 200 rows, status 220 rows)",
            "build ms": f"{statistics.median(build) * 1000:.1f}",
            "build + HTML ms": f"{total:.1f}",
            "target ms": "100",
            "met": "yes" if total <= 100 else "no",
        }
    ]
