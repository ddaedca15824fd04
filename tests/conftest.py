"""Shared fixtures. The sandbox is a real HTTP server on 127.0.0.1: if it cannot start, the
tests that need it fail (they never skip)."""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

from modelarts_nb import PoolsClient
from modelarts_nb.retry import RetryPolicy
from modelarts_nb.sandbox import Sandbox, start
from modelarts_nb.settings import Credentials, Settings

# tests/kernel39 check an install inside the 3.9 root; tests/kernel39/run.sh runs them there.
collect_ignore = [] if os.environ.get("KERNEL39_FREEZE") else ["kernel39"]


@pytest.fixture(autouse=True)
def _forget_stand_in_sdks():
    """A stand-in ``modelarts`` SDK imported by one test must not answer for the next one."""
    import sys

    before = {name for name in sys.modules if name.split(".")[0] == "modelarts"}
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == "modelarts"]:
        if name not in before:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Each test is a fresh kernel for the one-DELETE registry: sandboxes reuse ports and seed
    the same pool ids, so a claim left by one test could otherwise stand for another's pool."""
    yield
    from modelarts_nb.engine import _REGISTRY

    with _REGISTRY._lock:  # noqa: SLF001
        _REGISTRY._senders.clear()  # noqa: SLF001


@pytest.fixture(autouse=True)
def _receipts_in_tmp(monkeypatch, tmp_path):
    """No test writes a receipt into the real home: MODELARTS_NB_RECEIPTS names a file of the
    test's own, and the data directory fallback (a test may clear MODELARTS_* variables) is the
    test's too. Each test starts with no "could not write" warning said yet."""
    from modelarts_nb import receipts

    monkeypatch.setenv("MODELARTS_NB_RECEIPTS", str(tmp_path / "receipts.jsonl"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(receipts, "_warned", set())


@pytest.fixture
def sandbox():
    with start(pools=3, delete_seconds=1.5) as sb:
        yield sb


def make_client(sb: Sandbox, *, token: bool = False, sk: str | None = None, **kw) -> PoolsClient:
    creds = (
        Credentials(token=sb.token) if token else Credentials(sb.ak, sk or sb.sk, sb.security_token)
    )
    kw.setdefault("retry", RetryPolicy(base=0.01, cap=0.05))
    return PoolsClient(Settings(sb.endpoint, sb.project_id, creds), **kw)


@contextlib.contextmanager
def panels_over(sb: Sandbox, *, interval: float = 0.1, impact: bool = False, **client_kw):
    """A factory of single-pool panels, each over a client of its own; every panel and client
    is closed afterwards (an open widget stays in the kernel's widget state, which later tests
    dump whole; a closed panel stops its watch and its impact check)."""
    from modelarts_nb.flow import DeleteFlow
    from modelarts_nb.panel import DeletePanel

    clients, panels = [], []

    def factory(name, *, by_id=False, impact=impact, **flow_kw):
        client = make_client(sb, **client_kw)
        clients.append(client)
        flow_kw.setdefault("interval", interval)
        pool = client.get_pool(name) if by_id else client.resolve(name)
        flow = DeleteFlow(client, pool, **flow_kw)
        if impact:
            flow.check_impact()
        panels.append(DeletePanel(flow, region=None))
        return panels[-1]

    try:
        yield factory
    finally:
        for panel in panels:
            panel.close()
            panel.flow.join(5)
        for client in clients:
            client.close()


def finish(panel, timeout: float = 10):
    """Wait for a panel's run to end; its final step."""
    panel.flow.join(timeout)
    assert not panel.flow.running
    return panel.flow.step


@pytest.fixture
def client(sandbox):
    with make_client(sandbox) as c:
        yield c


@pytest.fixture(scope="session")
def _ipython():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "modelarts_nb")
    return shell


@pytest.fixture
def shell(_ipython):
    """A headless IPython shell with the extension loaded and a clean namespace."""
    before = set(_ipython.user_ns)
    yield _ipython
    for name in set(_ipython.user_ns) - before:
        del _ipython.user_ns[name]


def clear_cloud_env(monkeypatch, tmp_path) -> None:
    """No cloud setting of the environment or of a profile file can reach the code under test."""
    for name in list(os.environ):
        if name.startswith(("HUAWEICLOUD_", "MODELARTS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", str(tmp_path / "no-profile"))


@contextlib.contextmanager
def sandbox_in_env(monkeypatch, tmp_path, **options):
    """A sandbox whose settings are in the environment, as a notebook user would have them."""
    clear_cloud_env(monkeypatch, tmp_path)
    with start(**options) as sb:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        yield sb


@pytest.fixture
def env_sandbox(monkeypatch, tmp_path):
    with sandbox_in_env(monkeypatch, tmp_path, pools=3, delete_seconds=0.6) as sb:
        yield sb


def until(condition, timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait for ``condition()`` to hold, failing the test after ``timeout`` seconds: no wait in
    a test is open-ended."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def our_threads() -> list:
    """Threads the package started (runners and their workers are all named modelarts-nb…)."""
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("modelarts-nb")]


def pytest_collection_modifyitems(config, items):
    """``TEST_SHUFFLE=<seed>`` runs the tests in a random order, to prove they are independent."""
    seed = os.environ.get("TEST_SHUFFLE")
    if seed:
        import random

        random.Random(seed).shuffle(items)


def pytest_terminal_summary(terminalreporter):
    """Print the fault matrix table that tests/test_fault_matrix.py collected, if it ran."""
    import sys

    module = sys.modules.get("test_fault_matrix")
    text = module.write_summary() if module else ""
    if text:
        terminalreporter.write_sep("-", "fault matrix (also in test-artifacts/fault-matrix.md)")
        terminalreporter.write(text)


def pools_panel(client, lister, *, held=None, concurrency: int = 8, timeout: float = 3600.0,
                interval: float | None = None):
    """A ``%pools`` panel over ``client`` listing ``lister()`` (``held(pool)``: why a pool is
    kept, as a keep rule says), built as the magic builds it: through a ``Reviewer``."""
    from modelarts_nb.pools_panel import PoolsPanel
    from modelarts_nb.review import Reviewer
    from modelarts_nb.selection import Filters
    from modelarts_nb.stops import working

    class Listed(Reviewer):
        def listing(self, stop=None):
            with working(self.api, stop or threading.Event()):  # as Reviewer.listing
                pools = lister()
            return pools, {p.id: why for p in pools if held is not None and (why := held(p))}

    options = {"concurrency": concurrency, "timeout": timeout, "interval": interval}
    return PoolsPanel(Listed(client, Filters(), options))
