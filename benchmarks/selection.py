"""``--all-workspaces`` with 5 workspaces × 100 pools against the same 500 pools in one
workspace (target: at most 2 round trips more than that one list, at 50 ms latency)."""

from __future__ import annotations

import copy
import json

from modelarts_nb import Credentials, Filters, PoolsClient, Settings
from modelarts_nb.deletion.selection import list_selected
from modelarts_nb.sandbox import Fault, start

from .timing import median_ms


def _fill(sb, workspaces: int, per: int) -> None:  # type: ignore[no-untyped-def]
    """``workspaces`` workspaces of ``per`` tagged pools each (the default one included)."""
    template = sb.pool_json(sb.display_names()["team-shared"][0])
    ids = ["0"] + [sb.add_workspace(f"class-{n}") for n in range(1, workspaces)]
    bodies = []
    for w, workspace in enumerate(ids):
        for n in range(per):
            body = copy.deepcopy(template)
            meta = body["metadata"]
            meta["name"] = f"class-{w}-{n:03d}-{'0' * 32}"
            meta["labels"]["os.modelarts/name"] = f"class-{w}-{n:03d}"
            meta["labels"]["os.modelarts/workspace.id"] = workspace
            meta["annotations"]["os.modelarts/tms.tags"] = json.dumps(
                [{"key": "course", "value": "ml101"}, {"key": "student", "value": f"s{n:03d}"}])
            bodies.append(body)
    sb.add_pools(bodies)


def run(runs: int = 7) -> list[dict[str, str]]:
    """The same 500 pools in one workspace (one list) and spread over five."""
    rows = []
    with start(pools=0) as one_sb, start(pools=0) as five_sb:
        _fill(one_sb, 1, 500)
        _fill(five_sb, 5, 100)
        one, five = (PoolsClient(Settings(sb.endpoint, sb.project_id,
                                          Credentials(sb.ak, sb.sk))) for sb in (one_sb, five_sb))
        listing = Filters(all_workspaces=True)
        with one, five:
            for latency in (0.0, 0.05):
                for sb in (one_sb, five_sb):
                    sb.clear_faults()
                    if latency:
                        sb.inject(Fault(delay=latency, times=100_000))
                one.list_pools(), list_selected(five, listing)  # warm: connections, imports
                single = median_ms(lambda: one.list_pools(), runs)
                every = median_ms(lambda: list_selected(five, listing), runs)
                tagged = median_ms(lambda: list_selected(five, Filters(
                    all_workspaces=True, tags=(("course", "ml101"),))), runs)
                rows.append({
                    "case": f"500 pools at {latency * 1000:.0f} ms latency",
                    "one list, 1 workspace (ms)": f"{single:.1f}",
                    "--all-workspaces, 5 (ms)": f"{every:.1f}",
                    "+ --tag course=ml101 (ms)": f"{tagged:.1f}",
                    "extra RTTs": f"{(every - single) / (latency * 1000):.2f}" if latency else "",
                    "target": "<= 2" if latency else "",
                })
    return rows
