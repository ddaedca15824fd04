"""Cold import cost: ``import modelarts_nb`` and ``%load_ext modelarts_nb`` vs ``import httpx``.

Each sample is a fresh interpreter. ``%load_ext`` is timed inside a process that already has an
IPython shell (as a kernel does), from the magic call to its return.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

HEAVY = ("pandas", "ipywidgets", "numpy")
_PROBE = """
import json, sys, time
{setup}
t0 = time.perf_counter()
{statement}
ms = (time.perf_counter() - t0) * 1000
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}) - set(before))
print(json.dumps({{"ms": ms, "heavy": heavy}}))
"""
CASES = {
    "import httpx": ("before = set(sys.modules)", "import httpx"),
    "import modelarts_nb": ("before = set(sys.modules)", "import modelarts_nb"),
    "%load_ext modelarts_nb": (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nbefore = {m.split('.')[0] for m in sys.modules}",
        "ip.run_line_magic('load_ext', 'modelarts_nb')",
    ),
}


def sample(setup: str, statement: str) -> dict:
    code = _PROBE.format(setup=setup, statement=statement, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(runs: int = 7) -> list[dict[str, str]]:
    medians, heavy = {}, {}
    for name, (setup, statement) in CASES.items():
        samples = [sample(setup, statement) for _ in range(runs)]
        medians[name] = statistics.median(s["ms"] for s in samples)
        heavy[name] = sorted({m for s in samples for m in s["heavy"]})
    base = medians["import httpx"]
    return [
        {
            "what": name,
            "median ms": f"{ms:.1f}",
            "x import httpx": f"{ms / base:.2f}",
            "pandas/ipywidgets imported": ", ".join(heavy[name]) or "neither",
        }
        for name, ms in medians.items()
    ]
