"""The browser tests share one Chromium per test process (harness.shared_chromium)."""

from collections.abc import Iterator

import pytest

from .harness import close_shared_chromium


@pytest.fixture(scope="session", autouse=True)
def _one_chromium_per_process() -> Iterator[None]:
    yield
    close_shared_chromium()
