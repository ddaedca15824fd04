"""The one timing helper the benchmark sections share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_ms(work: Callable[[], Any], runs: int) -> float:
    """Median wall time of ``work()`` over ``runs`` runs, in milliseconds."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)
