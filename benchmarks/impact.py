"""What deleting breaks: how much later than the pool itself it is known (target: at most one
more round trip, at 0 and 50 ms latency), and a pool with 2,000 workloads (target: the paged
read and the table under 200 ms on loopback)."""

from __future__ import annotations

from modelarts_nb import Credentials, PoolsClient, Settings
from modelarts_nb.deletion.impact import read_impact
from modelarts_nb.notebook.render import impact_lines
from modelarts_nb.sandbox import Fault, start

from .timing import median_ms


def _client(sb) -> PoolsClient:  # type: ignore[no-untyped-def]
    return PoolsClient(Settings(sb.endpoint, sb.project_id, Credentials(sb.ak, sb.sk)))



def run(runs: int = 7) -> list[dict[str, str]]:
    rows = []
    with start(pools=3) as sb, _client(sb) as client:
        pool = client.resolve("train-gpu")
        for latency in (0.0, 0.05):
            sb.clear_faults()
            if latency:
                sb.inject(Fault(delay=latency, times=100_000))
            get = median_ms(lambda: client.get_pool(pool.id), runs)
            impact = median_ms(lambda: read_impact(client, pool), runs)
            rows.append({"case": f"train-gpu at {latency * 1000:.0f} ms latency",
                         "pool GET (ms)": f"{get:.1f}", "what breaks (ms)": f"{impact:.1f}",
                         "ratio to one GET": f"{impact / get:.2f}", "target": "<= 2 (1 more RTT)"})
        sb.clear_faults()
        busy = client.resolve("pool-01")
        for n in range(2000):
            sb.add_workload(busy.id, "train", "Running", f"job-{n:04d}", 60)
        whole = median_ms(lambda: impact_lines(read_impact(client, busy)), runs)
        rows.append({"case": "2,000 workloads: 5 pages + the shown list", "pool GET (ms)": "",
                     "what breaks (ms)": f"{whole:.1f}", "ratio to one GET": "",
                     "target": "<= 200 ms"})
    return rows
