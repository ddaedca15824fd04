"""Shared fixtures. The sandbox is a real HTTP server on 127.0.0.1: if it cannot start, the
tests that need it fail (they never skip)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

import pytest

from modelarts_nb import Credentials, PoolsClient, RetryPolicy, Settings
from modelarts_nb.sandbox import Sandbox, start

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed (jupyter_events pulls
# it in), which builds a grammar for a second of CPU in every process that reads a notebook; its
# IRI formats are not among what nbformat validates, so the test processes go without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]

# A shell that starts a job in the background (`make test &` from a script, some CI runners)
# leaves SIGINT ignored, and Python then never turns it into KeyboardInterrupt: the tests that
# press Ctrl-C (a SIGINT to this process) would wait for ever. They get Python's own handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
    from modelarts_nb.deletion.engine import _REGISTRY

    with _REGISTRY._lock:  # noqa: SLF001
        _REGISTRY._senders.clear()  # noqa: SLF001


@pytest.fixture(autouse=True)
def _fresh_secrets():
    """Each test is a fresh kernel for the masking registry too (``text.remember_secrets``):
    one test's credentials must not mask another test's text."""
    from modelarts_nb.gateway import text

    with text._known_lock:  # noqa: SLF001
        text._known.clear()  # noqa: SLF001
    yield


@pytest.fixture(autouse=True)
def _receipts_in_tmp(monkeypatch, tmp_path):
    """No test writes a receipt into the real home: MODELARTS_NB_RECEIPTS names a file of the
    test's own, and the data directory fallback (a test may clear MODELARTS_* variables) is the
    test's too. Each test starts with no "could not write" warning said yet."""
    from modelarts_nb.deletion import receipts

    monkeypatch.setenv("MODELARTS_NB_RECEIPTS", str(tmp_path / "receipts.jsonl"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(receipts, "_warned", set())


@contextlib.contextmanager
def _sandbox_factory():
    with contextlib.ExitStack() as started:

        def sandboxes(**options: object) -> Sandbox:
            return started.enter_context(start(**options))

        yield sandboxes


@pytest.fixture
def sandboxes():
    """The one way tests get a sandbox: ``sandboxes(**options)`` starts one with the options of
    :func:`modelarts_nb.sandbox.start` (``pools``, ``delete_seconds``, ``security_token``, …) and
    returns it running. Every sandbox it started is stopped when the test ends, failed or not
    (the last started first). ``sandboxes_for_module`` is the same for module-scoped fixtures."""
    with _sandbox_factory() as factory:
        yield factory


@pytest.fixture(scope="module")
def sandboxes_for_module():
    """:func:`sandboxes`, stopping its sandboxes once the module's last test has run."""
    with _sandbox_factory() as factory:
        yield factory


@pytest.fixture
def sandbox(sandboxes):
    return sandboxes(pools=3, delete_seconds=1.5)


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
    from modelarts_nb.deletion.flow import DeleteFlow
    from modelarts_nb.notebook.panel import DeletePanel

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


def put_in_env(monkeypatch, tmp_path, sb: Sandbox) -> Sandbox:
    """Make ``sb``'s settings the only cloud settings of the environment, as a notebook user
    would have them (``monkeypatch`` undoes it); returns ``sb``."""
    clear_cloud_env(monkeypatch, tmp_path)
    for name, value in sb.env().items():
        monkeypatch.setenv(name, value)
    return sb


@contextlib.contextmanager
def sandbox_in_env(monkeypatch, tmp_path, **options):
    """A sandbox whose settings are in the environment, as a notebook user would have them."""
    with _sandbox_factory() as sandboxes:
        yield put_in_env(monkeypatch, tmp_path, sandboxes(**options))


@pytest.fixture
def env_sandbox(monkeypatch, tmp_path, sandboxes):
    return put_in_env(monkeypatch, tmp_path, sandboxes(pools=3, delete_seconds=0.6))


def until(condition, timeout: float = 10.0, what: str = "the condition") -> None:
    """Wait for ``condition()`` to hold, failing the test after ``timeout`` seconds: no wait in
    a test is open-ended."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def _package_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("modelarts-nb")]


_EARLIER_THREADS: set = set()  # the package's threads already alive when this test began


@pytest.fixture(autouse=True)
def _threads_of_earlier_tests():
    """A thread an earlier test left running is not this test's: under pytest-xdist the test
    before it in the same process may be any test, so :func:`our_threads` leaves those out."""
    _EARLIER_THREADS.clear()
    _EARLIER_THREADS.update(_package_threads())
    yield


def our_threads() -> list:
    """Threads the package started during this test (runners and their workers are all named
    modelarts-nb…)."""
    return [t for t in _package_threads() if t not in _EARLIER_THREADS]


# -- parallel runs: `make test` and `make check` run pytest-xdist --------------------------------

# Slow by nature (real Jupyter servers and browsers, notebooks executed in real kernels, a
# wheel and an sdist built, JupyterLab started): `make check` leaves them out (-m "not slow").
SLOW_FILES = {"test_saved_notebooks.py", "test_packaging.py", "test_demo.py"}
# Tests measured at 3 s or more on the 2-core machine (they wait out real deletions, delays,
# kernels and signals, or 20 s of throttling): `make check` leaves them out too. A test that
# grows that slow belongs here; `make test` runs them all.
SLOW_TESTS = {
    "test_throttling_slows_the_whole_batch",
    "test_pools_lists_as_text_json_and_csv_with_the_decision_each_gets",
    "test_papermill_style_parameters_need_yes_on_the_line",
    "test_nbconvert_execute_deletes_nothing",
    "test_cli_serves_until_sigterm",
    "test_terminal_ipython_needs_yes",
    "test_refresh_clicked_many_times_after_the_end_adds_no_final",
    "test_refresh_of_a_single_pool_obeys_stop_and_close",
    "test_terminal_ipython_prints_text_and_sends_no_delete",
    "test_kernel_exit_ends_every_wait_and_leaves_the_panel_inert_within_2_s",
    "test_ctrl_c_during_an_unattended_batch_sends_no_further_delete",
    "test_retry_after_date_without_zone_is_waited_out_and_the_pool_deleted",
    "test_500_pools_a_table_with_headers_one_model_per_row_and_rows_in_chunks",
    "test_ctrl_c_while_the_receipt_waits_for_the_lock_still_records_the_delete",
    "test_delete_one_pool_with_the_checks_of_pool_delete",
    "test_hostile_payloads_never_crash_tables_or_text",
    "test_run_all_of_dry_cells_deletes_nothing",
    "test_already_deleting_pool_is_watched_not_deleted",
    "test_idle_keeps_pools_with_running_work_or_work_that_cannot_be_read",
    "test_valid_ids_round_trip_through_url_and_signature",
    "test_already_deleting_goes_straight_to_watching",
    "test_pools_table_lines_and_dataframes_show_no_echoed_credential_or_escape",
    "test_pools_panel_and_its_saved_state_show_no_echoed_credential_or_escape",
    "test_a_security_token_renewed_mid_watch_and_echoed_is_masked_in_yes_output",
    "test_two_panels_spelling_the_endpoint_differently_send_one_delete",
    "test_pages_longer_than_asked_for_end_the_reading_at_the_item_cap",
    "test_any_name_is_valid_or_refused_without_a_request",
    "test_a_signal_mid_apply_stops_within_a_second_and_sends_nothing_more",
    "test_read_timeout_and_refused_connection",
    "test_ctrl_c_while_the_selected_pools_are_checked_says_nothing_was_deleted",
    "test_a_kernel_interrupt_between_cells_stops_a_pools_panel_check",
    "test_a_rerun_after_a_failed_deletion_may_send_a_new_delete",
    "test_a_hostile_display_name_stays_text_in_the_note_and_the_saved_copy",
    "test_magic_and_panel_leak_nothing",
    "test_apply_leaves_out_a_pool_replaced_or_newly_kept_since_the_plan",
    "test_a_slow_server_never_holds_the_prompt_over_the_budget",
    "test_delete_many_one_delete_each_and_reasons",
    "test_every_output_of_a_panel_shown_twice_gets_the_final_state",
}
# Timing-sensitive tests seen to fail while other suites and workers loaded the 2 cores (a
# fixed timer meant to land in one phase of a read, "within a second" bounds, a record read
# while the background refresh still writes it): `make test` runs them last, one at a time,
# with nothing else running (-m serial; every other run takes -m "not serial").
SERIAL_TESTS = {  # by file: `make test-serial` collects only these files
    "test_completion.py": {"test_display_names_and_ids_complete_and_nothing_else"},  # a budget
    "test_bulk.py": {"test_throttling_slows_the_whole_batch"},  # 429s on a time axis
    "test_fault_matrix.py": {  # an error at once vs. abnormal after a 0.5 s grace
        "test_watch_reports_error_at_once_and_lasting_abnormal_after_its_grace"},
    "test_interrupt.py": {"test_magic_interrupted_before_the_delete_says_nothing_was_sent",
                          "test_stopping_a_batch_watch_ends_its_back_off_within_a_second",
                          "test_stop_while_a_delete_waits_out_a_429_sends_nothing_more"},
    "test_receipts.py": {"test_stop_then_refresh_adds_the_later_outcome_to_the_same_receipt"},
    "test_receipts_and_panels_under_misuse.py": {
        "test_kernel_exit_while_the_impact_check_runs_leaves_the_panel_inert"},
    "test_runs_stop_retry_and_refresh.py": {
        "test_the_stop_event_of_watch_many_ends_a_retry_after_within_a_second"},
    "test_selection.py": {"test_ctrl_c_while_tags_are_read_ends_the_cell_at_once"},
    "test_stop_reaches_every_wait.py": {
        "test_kernel_exit_ends_every_wait_and_leaves_the_panel_inert_within_2_s"},
}
# Browser tests whose kernel runs in the 3.9 root: `make test` runs them once the root is built.
ROOT_KERNEL_TESTS = {"test_jupyterlab3_host_kernel_in_python39_root"}
# Test files that never touch pandas, IPython or ipywidgets, nor start our command (whose
# filters come from IPython): what they prove holds on every stack, so they run on this venv
# only, while every other file also runs in the 3.9 root and the compat list (Makefile). `make
# test-host` runs them in a process of their own (MODELARTS_NB_TESTS=stackless), which fails if
# one of the three gets imported after all. Measured file by file in fresh processes.
STACKLESS_FILES = {
    "test_api_facts_are_cited.py", "test_client_http.py", "test_client_unit.py",
    "test_demo.py", "test_docs_links.py", "test_engine.py", "test_fault_matrix.py",
    "test_layers.py", "test_official_sdk.py", "test_packaging.py",
    "test_runs_stop_retry_and_refresh.py", "test_sandbox.py", "test_sandbox_tags.py",
    "test_signer.py", "test_tutorials_say_what_they_show.py",
}
NOTEBOOK_STACKS = ("pandas", "IPython", "ipywidgets")


def pytest_ignore_collect(collection_path, config):
    """``MODELARTS_NB_TESTS`` narrows what is collected (files left out are never imported):
    ``stackless`` the files above, ``stacks`` all others (the 3.9 root's and compat's), and
    ``+serial`` only the files holding a ``serial`` test (``make test-serial``)."""
    only = set(filter(None, os.environ.get("MODELARTS_NB_TESTS", "").split("+")))
    name = collection_path.name
    if not only or not (name.startswith("test_") and name.endswith(".py")):
        return None
    stackless = name in STACKLESS_FILES
    left_out = (("stackless" in only and not stackless) or ("stacks" in only and stackless)
                or ("serial" in only and name not in SERIAL_TESTS))
    return True if left_out else None


@pytest.fixture(scope="session", autouse=True)
def _stackless_files_import_no_stack():
    """In the stackless process, a listed file that imported pandas, IPython or ipywidgets
    fails the run: it belongs in the 3.9 root too."""
    yield
    if os.environ.get("MODELARTS_NB_TESTS") == "stackless":
        import sys

        used = [name for name in NOTEBOOK_STACKS if name in sys.modules]
        assert not used, f"a file of STACKLESS_FILES imported {used}: take it off that list"


@pytest.hookimpl(tryfirst=True)  # the shuffle happens before xdist sees the collection
def pytest_collection_modifyitems(config, items):
    """``TEST_SHUFFLE=<seed>`` runs the tests in a random order, to prove they are independent
    (every xdist worker shuffles alike). Marks the tests ``slow``, ``serial`` and
    ``kernel39_root`` that the names above list."""
    seed = os.environ.get("TEST_SHUFFLE")
    if seed:
        import random

        random.Random(seed).shuffle(items)
    for item in items:
        name = getattr(item, "originalname", item.name)
        if item.path.name in SLOW_FILES or "browser" in item.path.parts or name in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if name in SERIAL_TESTS.get(item.path.name, ()):
            item.add_marker(pytest.mark.serial)
        if name in ROOT_KERNEL_TESTS:
            item.add_marker(pytest.mark.kernel39_root)


_TOGETHER: dict[str, bool] = {}


def _keep_together(root, path: str) -> bool:
    """A module whose tests share a fixture made once per module or class (a notebook run, a
    build, a server) runs on one worker, so the fixture is made once; so does the fault matrix,
    whose table lists its cells in order."""
    if path not in _TOGETHER:
        import re
        from pathlib import Path

        try:
            text = (Path(root) / path).read_text(encoding="utf-8")
        except OSError:
            text = ""
        _TOGETHER[path] = (Path(path).name == "test_fault_matrix.py" or re.search(
            r"""scope\s*=\s*["'](module|package|class)["']""", text) is not None)
    return _TOGETHER[path]


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent where xdist is not installed
def pytest_xdist_make_scheduler(config, log):
    """``-n N``: tests go to the workers one at a time (the best balance), except the modules
    :func:`_keep_together` names, each of which goes whole to one worker. (``--dist loadgroup``
    would do it with marks, but xdist 3.8 cannot rename the test ids of pytest 9.2.)"""
    if config.getoption("dist") != "load":
        return None  # an explicit --dist: xdist's own scheduler
    from xdist.scheduler import LoadScopeScheduling

    class OneAtATimeButWholeModules(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if _keep_together(config.rootpath, path) else nodeid

    return OneAtATimeButWholeModules(config, log)


_WORKER_ROWS: list[dict] = []  # fault matrix rows the xdist workers handed back


def pytest_sessionfinish(session):
    """An xdist worker hands its fault matrix rows to the controller, which prints the table."""
    import sys

    module = sys.modules.get("test_fault_matrix")
    output = getattr(session.config, "workeroutput", None)
    if output is not None and module is not None:
        output["fault_matrix"] = list(module.RESULTS)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent where xdist is not installed
def pytest_testnodedown(node, error):
    _WORKER_ROWS.extend(getattr(node, "workeroutput", {}).get("fault_matrix", []))


def pytest_terminal_summary(terminalreporter):
    """Print the fault matrix table that tests/test_fault_matrix.py collected, if it ran."""
    import sys

    module = sys.modules.get("test_fault_matrix")
    if module is None and _WORKER_ROWS:  # run by xdist workers: the rows came back from them
        import test_fault_matrix as module

        module.RESULTS[:] = _WORKER_ROWS
    text = module.write_summary() if module else ""
    if text:
        terminalreporter.write_sep("-", "fault matrix (also in test-artifacts/fault-matrix.md)")
        terminalreporter.write(text)


def pools_panel(client, lister, *, held=None, concurrency: int = 8, timeout: float = 3600.0,
                interval: float | None = None):
    """A ``%pools`` panel over ``client`` listing ``lister()`` (``held(pool)``: why a pool is
    kept, as a keep rule says), built as the magic builds it: through a ``Reviewer``."""
    from modelarts_nb.deletion.review import Reviewer
    from modelarts_nb.deletion.selection import Filters
    from modelarts_nb.gateway.stops import working
    from modelarts_nb.notebook.pools_panel import PoolsPanel

    class Listed(Reviewer):
        def listing(self, stop=None):
            with working(self.api, stop or threading.Event()):  # as Reviewer.listing
                pools = lister()
            return pools, {p.id: why for p in pools if held is not None and (why := held(p))}

    options = {"concurrency": concurrency, "timeout": timeout, "interval": interval}
    return PoolsPanel(Listed(client, Filters(), options))
