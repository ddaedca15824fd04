"""Print what installing the wheel added to the kernel, after the 3.9 suite's results."""

from __future__ import annotations

import os
from pathlib import Path


def pytest_terminal_summary(terminalreporter):
    folder = os.environ.get("KERNEL39_FREEZE")
    if not folder:
        return
    before, after = (set((Path(folder) / f"freeze-{w}.txt").read_text().splitlines())
                     for w in ("before", "after"))
    added = sorted(line.split(" @ ")[0] for line in after - before)
    terminalreporter.write_sep("-", "pip install of the wheel into the 3.9 kernel")
    terminalreporter.write(f"added {len(added)}: {', '.join(added)}\n")
    terminalreporter.write(f"changed or removed: {sorted(before - after) or 'none'}\n")
