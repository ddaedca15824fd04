"""The clean-up notebook in a real browser: Run All, tick three pools, confirm, watch them go.

What only a browser can prove for the bulk panel: ticking real checkboxes reaches the kernel (its
placeholder then asks for ``delete 3 pools``), the typed sentence must match the number ticked
before **Delete selected** enables, and after the click the worker thread's table updates reach
the page until every row says deleted. JupyterLab 4 + ipywidgets 8 + ipykernel 7 (the main .venv).

Needs /usr/bin/chromium (apt) and the ``playwright`` package; a missing piece fails, never skips.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from .harness import JupyterServer
from .test_browser import (
    ARTIFACTS,
    RUN_NEW_CELL_JS,
    STDOUT,
    Browser,
    assert_clean,
    browser_for,
    clear_outputs,
    open_notebook,
    run_all,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "cleanup.ipynb"
TICKED = ("pool-01", "pool-02", "pool-03")
# Run in a new cell once the panel is done: the sandbox's own count of DELETE requests. The
# notebook's --yes cell sent 10; the panel must add exactly one per ticked pool.
DELETES_PROBE = (
    'print("DELETE requests in all:", sb.count(method="DELETE"), '
    '"| accepted per ticked pool:", [sb.accepted_deletes(t.pool.id) for t in panel.run.targets])'
)


@dataclass
class BulkEvidence:
    """What the page showed, for assertions and for the report printed with -s."""

    timings: dict[str, float] = field(default_factory=dict)
    outcomes: list[tuple[str, ...]] = field(default_factory=list)  # distinct outcome columns
    deletes: str | None = None


def pool_row(panel: Locator, name: str) -> Locator:
    """The HBox holding one pool's checkbox and its HTML line (display name in bold)."""
    bold = panel.page.locator("b", has_text=re.compile(f"^{re.escape(name)}$"))
    return panel.locator(".widget-hbox").filter(has=panel.page.locator(".mnb-check")).filter(
        has=bold
    )


def tick(panel: Locator, names: tuple[str, ...]) -> None:
    """Click each pool's checkbox; the kernel's placeholder proves it counted them all."""
    for name in names:
        row = pool_row(panel, name)
        expect(row).to_have_count(1)
        row.locator(".mnb-check input").check()
    expect(panel.locator(".mnb-check input:checked")).to_have_count(len(names))
    expect(panel.locator(".mnb-bulk-confirm input")).to_have_attribute(
        "placeholder", f"type: delete {len(names)} pools"
    )


def confirm_count(panel: Locator) -> None:
    """Only ``delete 3 pools`` enables the button; wrong sentences are also typed after the
    right one, so a stale "disabled" proves nothing and a stale "enabled" is caught."""
    typed, delete = panel.locator(".mnb-bulk-confirm input"), panel.locator(".mnb-bulk-delete")
    expect(delete).to_be_disabled()
    typed.fill("delete 2 pools")
    panel.page.wait_for_timeout(500)
    expect(delete).to_be_disabled()
    for text, enabled in (("delete 3 pools", True), ("delete 3 pool", False),
                          ("delete 2 pools", False), ("delete 3 pools", True)):
        typed.fill(text)
        if enabled:
            expect(delete).to_be_enabled()
        else:
            expect(delete).to_be_disabled()


def shoot_whole(panel: Locator, name: str) -> None:
    """Screenshot the whole panel: with 20 rows it is taller than the 1000 px viewport, and an
    element screenshot inside JupyterLab's scrolling notebook would show the page around it, so
    the viewport grows to fit it for the shot."""
    page = panel.page
    viewport = page.viewport_size
    box = panel.bounding_box()
    assert viewport is not None and box is not None
    if box["height"] + 300 > viewport["height"]:
        page.set_viewport_size({"width": viewport["width"], "height": int(box["height"]) + 400})
    ARTIFACTS.mkdir(exist_ok=True)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(viewport)


def outcomes(status: Locator) -> tuple[str, ...]:
    """The outcome column of the live table (review/sending/watching/deleted/...), row by row."""
    return tuple(cell.strip() for cell in status.locator("tr td:nth-child(4)").all_inner_texts())


def watch_until_summary(page: Page, status: Locator, evidence: BulkEvidence) -> None:
    """Record every distinct outcome column until the summary appears. The summary is looked
    for first: it comes in the same HTML value as the final table, so the column read after it
    is the final one."""
    summary = status.locator("pre.mnb-summary")
    deadline = time.monotonic() + 60
    while True:
        done = summary.count() > 0
        seen = outcomes(status)
        if seen and (not evidence.outcomes or evidence.outcomes[-1] != seen):
            evidence.outcomes.append(seen)
        if done:
            return
        assert time.monotonic() < deadline, f"no summary; outcomes: {evidence.outcomes}"
        page.wait_for_timeout(200)


def assert_all_deleted(panel: Locator) -> None:
    status = panel.locator(".mnb-bulk-status")
    expect(status.locator("pre.mnb-summary")).to_have_text("3 deleted")
    rows = status.locator("tr").filter(has=panel.page.locator("td"))
    expect(rows).to_have_count(len(TICKED))
    for name in TICKED:
        row = rows.filter(has_text=re.compile(rf"^{re.escape(name)} \("))
        expect(row.locator("td:nth-child(4)")).to_have_text("deleted")
        expect(row.locator(".mnb-phase")).to_have_text("Deleted")
    bar = panel.locator(".mnb-progress .progress-bar")
    expect(bar).to_have_attribute("style", re.compile(r"width: 100%"))
    expect(panel.locator(".mnb-stop")).to_be_disabled()


def count_deletes(page: Page, evidence: BulkEvidence) -> None:
    page.evaluate(RUN_NEW_CELL_JS, DELETES_PROBE)
    output = page.locator(STDOUT, has_text="DELETE requests in all:")
    expect(output).to_be_visible(timeout=30_000)
    evidence.deletes = output.inner_text().strip()


def delete_three(browser: Browser, server: JupyterServer) -> BulkEvidence:
    """The teacher's story, from Run All to "3 deleted"; screenshots before and after."""
    page, evidence, t = browser.page, BulkEvidence(), time.perf_counter()
    open_notebook(page, server, "/lab/tree/cleanup.ipynb")
    evidence.timings["open_s"], t = time.perf_counter() - t, time.perf_counter()
    clear_outputs(page)
    run_all(page)
    panel = page.locator(".mnb-pools-panel")
    expect(panel.locator(".mnb-bulk-delete")).to_be_visible()
    expect(page.locator(STDOUT, has_text="10 deleted")).to_be_visible()  # the --yes cell
    evidence.timings["run_all_s"], t = time.perf_counter() - t, time.perf_counter()
    tick(panel, TICKED)
    confirm_count(panel)
    shoot_whole(panel, "jupyterlab4-pools-review.png")
    panel.locator(".mnb-bulk-delete").click()
    watch_until_summary(page, panel.locator(".mnb-bulk-status"), evidence)
    assert_all_deleted(panel)
    evidence.timings["click_to_deleted_s"] = time.perf_counter() - t
    shoot_whole(panel, "jupyterlab4-pools-panel.png")
    count_deletes(page, evidence)
    return evidence


def test_jupyterlab4_pools_panel_deletes_ticked_pools() -> None:
    started = time.perf_counter()
    server = JupyterServer([NOTEBOOK], extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-pools") as browser:
        evidence = delete_three(browser, server)
    evidence.timings["total_s"] = time.perf_counter() - started
    print(f"evidence: {evidence}")
    assert evidence.deletes == "DELETE requests in all: 13 | accepted per ticked pool: [1, 1, 1]"
    assert any("watching" in seen for seen in evidence.outcomes), evidence.outcomes
    assert evidence.outcomes[-1] == ("deleted",) * len(TICKED), evidence.outcomes
    assert_clean(browser, server)
