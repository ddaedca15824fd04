"""Tab completion at 500 pools: how long a TAB holds the prompt, the way a kernel asks
(``shell.Completer.completions``), cold (the listing is fetched) and warm (from the cache).

Targets: a cold TAB within the 1 s budget (even when the server is slower than that), a warm
TAB fast enough to feel instant (<= 50 ms), one request for any number of TABs within 30 s.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

from modelarts_nb.notebook.completion import register, unregister
from modelarts_nb.sandbox import Fault, Sandbox, start

POOLS = 500


@contextlib.contextmanager
def _sandbox_env(sb: Sandbox) -> Iterator[None]:
    """The sandbox's settings in the environment, as a notebook user has them; restored."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(("HUAWEICLOUD_", "MODELARTS_"))}
    for name in saved:
        del os.environ[name]
    os.environ.update(sb.env())
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith(("HUAWEICLOUD_", "MODELARTS_"))]:
            del os.environ[name]
        os.environ.update(saved)


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "modelarts_nb")
    return shell


def _tab(shell: Any, text: str) -> tuple[float, int]:
    """(ms the prompt was held, completions offered by us)."""
    from IPython.core.completer import provisionalcompleter

    began = time.perf_counter()
    with provisionalcompleter():
        found = list(shell.Completer.completions(text, len(text)))
    held = (time.perf_counter() - began) * 1000
    return held, sum("modelarts_nb" in c._origin for c in found)


def _measure(shell: Any, sb: Sandbox, text: str, runs: int) -> dict[str, tuple[float, int, int]]:
    cold, warm = [], []
    sent_before = sb.count("GET")
    offered = 0
    for _ in range(runs):
        register(shell)  # a fresh kernel: empty cache
        held, offered = _tab(shell, text)
        cold.append(held)
        warm += [_tab(shell, text)[0] for _ in range(5)]
    sent = (sb.count("GET") - sent_before) / runs
    return {"cold": (statistics.median(cold), offered, int(sent)),
            "warm": (statistics.median(warm), offered, 0)}


def run(runs: int = 5) -> list[dict[str, str]]:
    shell = _shell()
    rows: list[dict[str, str]] = []
    cases = [("%pool_delete pool-1", "pool names and ids"), ("%pools --tag co", "tag keys")]
    try:
        for latency in (0.0, 0.05):
            with start(pools=POOLS, latency=latency) as sb, _sandbox_env(sb):
                _tab(shell, "%pool_delete x")  # IPython's own first-use costs (Jedi) aside
                for text, what in cases:
                    for kind, (ms, offered, sent) in _measure(shell, sb, text, runs).items():
                        rows.append({
                            "TAB": f"`{text}` ({what}), {kind}",
                            "latency": f"{latency * 1000:.0f} ms",
                            "prompt held (ms)": f"{ms:.1f}",
                            "offered": str(offered),
                            "requests": str(sent) if kind == "cold" else "0 (cached)",
                            "target": "<= 1000 ms" if kind == "cold" else "<= 50 ms",
                        })
        with start(pools=POOLS) as sb, _sandbox_env(sb):
            register(shell)
            sb.inject(Fault(method="GET", list_only=True, delay=3.0))
            ms, offered = _tab(shell, "%pool_delete pool-1")
            rows.append({"TAB": "server answers after 3 s, cold", "latency": "3000 ms",
                         "prompt held (ms)": f"{ms:.1f}", "offered": str(offered),
                         "requests": "1 (answer fills the cache)",
                         "target": "<= 1000 ms + IPython"})
            _wait_for_refreshes()  # before the sandbox stops under it
    finally:
        unregister(shell)
    return rows


def _wait_for_refreshes(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
            t.name == "modelarts-nb-completion" for t in threading.enumerate()):
        time.sleep(0.05)
