"""``python -m benchmarks`` (``make bench``): the performance report, printed as Markdown tables.

Every figure is measured in this one run on this machine and printed next to its target; run
it on a quiet machine (other load skews the subprocess import timings most).
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

from . import (
    bulk,
    cadence,
    completion,
    first_panel,
    impact,
    imports,
    overhead,
    receipts,
    selection,
    tables,
)
from .pools_panel import SECTIONS as POOLS_PANEL

Section = tuple[str, str, Callable[[], list[dict[str, str]]]]


def markdown(rows: list[dict[str, str]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row[c] for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", default="", help="comma-separated sections, e.g. imports")
    args = parser.parse_args()
    n = 3 if args.quick else 1
    sections: list[Section] = [
        (
            "overhead",
            "Per-call overhead against the sandbox (target: get_pool <= 1.15x raw httpx)",
            lambda: overhead.run(rounds=15 // n, calls=40),
        ),
        (
            "imports",
            "Cold import (target: neither imports pandas/ipywidgets; %load_ext <= 1.5x httpx)",
            lambda: imports.run(runs=7 // n),
        ),
        (
            "first_panel",
            "Time to first panel (%load_ext + %pool_delete train-gpu in a fresh process)",
            lambda: first_panel.run(runs=5 // n or 1),
        ),
        (
            "tables",
            "Tables for 200 flavors x 3 AZs (target <= 100 ms to build and render to HTML)",
            tables.run,
        ),
        (
            "cadence",
            "Watch cadence on a simulated clock (target: lag <= max(2 s, 10 % of elapsed), "
            "<= 25 GETs for 10 min)",
            cadence.run,
        ),
        ("bulk", "Bulk clean-up (%pools / delete_many)", bulk.run),
        (
            "impact",
            "What deleting breaks (target: <= 1 more round trip; 2,000 workloads <= 200 ms)",
            lambda: impact.run(runs=7 // n or 1),
        ),
        ("selection", "--all-workspaces, 5 workspaces x 100 pools (target: <= 2 RTTs more than "
         "one list at 50 ms)", lambda: selection.run(runs=7 // n or 1)),
        ("completion", "Tab completion at 500 pools (target: cold TAB <= 1 s, warm <= 50 ms)",
         lambda: completion.run(runs=5 // n or 1)),
        ("receipts", "Receipts (every DELETE waits for one append; %pools --history reads all)",
         receipts.run),
        *POOLS_PANEL,  # the %pools panel: in a kernel, then in a browser
    ]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}\n")
    wanted = set(filter(None, args.only.split(",")))
    for key, title, section in sections:
        if wanted and key not in wanted:
            continue
        print(f"### {title}\n\n{markdown(section())}\n", flush=True)


if __name__ == "__main__":
    main()
