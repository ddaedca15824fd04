"""The %pools panel in a real browser: the clean-up notebook (tick three pools, confirm, watch
them go) and a class of 500 pools (read, search, tick, delete, and readable at 700 px, in light
and dark themes).

What only a browser can prove for the bulk panel: ticking real checkboxes reaches the kernel (its
placeholder then asks for ``delete 3 pools``), the typed sentence must match the number ticked
before **Delete selected** enables, after the click the worker thread's table updates reach the
page until every row says deleted; and at 500 pools every row is at least one text line tall,
no header or button text is cut at 700 px, text keeps its contrast in both themes. JupyterLab 4 +
ipywidgets 8 + ipykernel 7 (the main .venv).

Needs /usr/bin/chromium (apt) and the ``playwright`` package; a missing piece fails, never skips.
Screenshots go to ``test-artifacts/``; ``make screenshots`` writes the README's to ``docs/``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import JupyterServer
from .test_browser import (
    ARTIFACTS,
    COMPAT_JUPYTER,
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
# The README's screenshots are written only by `make screenshots` (it sets this variable): a test
# run leaves the checkout as it found it; otherwise they go to test-artifacts/ with the rest.
DOCS = ROOT / ("docs" if os.environ.get("MODELARTS_NB_SCREENSHOTS") == "docs" else "test-artifacts")
ROWS = ".mnb-rows > .widget-checkbox"  # one Checkbox a pool; its description is the row
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
    """One pool's row: a Checkbox whose label holds the cells, the display name first."""
    cell = panel.page.locator(".mnb-c-name", has_text=re.compile(f"^{re.escape(name)}$"))
    return panel.locator(ROWS).filter(has=cell)


def tick(panel: Locator, names: tuple[str, ...]) -> None:
    """Click each pool's name, as a user clicks a row (the whole row is the box's label); the
    kernel's placeholder proves it counted them all."""
    for name in names:
        row = pool_row(panel, name)
        expect(row).to_have_count(1)
        row.locator(".mnb-c-name").click()
        expect(row.locator("input")).to_be_checked()
    expect(panel.locator(f"{ROWS} input:checked")).to_have_count(len(names))
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
    expect(panel.locator(".mnb-progress-text")).to_have_text("3/3 deleted")
    expect(panel.locator(".mnb-stop")).to_have_count(0)  # nothing left to stop
    expect(panel.locator(".mnb-back")).to_be_visible()


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


# -- a class of 500 pools --------------------------------------------------------------------

CLASS_SETUP = (
    "import copy\n"
    "from modelarts_nb import sandbox\n"
    "sb = sandbox.start(pools=500, delete_seconds=2)  # 500 class pools and nine others\n"
    "# and one whose display name is hostile: HTML, a line break, maths, 2,000 characters\n"
    "_body = copy.deepcopy(sb.pool_json(sb.display_names()['pool-01'][0]))\n"
    "_body['metadata']['name'] = 'pool-999-' + '9' * 32\n"
    "_body['metadata']['labels']['os.modelarts/name'] = "
    "'<img src=x onerror=alert(1)>\\n$x$ and $y$ ' + 'W' * 2000\n"
    "sb.add_pool(_body)\n"
    "_ = sb.export_env()\n"
    "%load_ext modelarts_nb\n"
    'print("sandbox ready:", len(sb.pool_ids()), "pools")'
)
HOSTILE = "<img src=x onerror=alert(1)> $x$ and $y$ WWW"  # the row shows it as text, cut
PANEL_CELL = (
    "import time as _time\n"
    "_began = _time.perf_counter()\n"
    "panel = %pools\n"
    'print(f"kernel ran the cell in {(_time.perf_counter() - _began) * 1000:.0f} ms")\n'
    "panel"
)
# Workspace "0": the nine seeded situations, 500 class pools and the hostile one; 509 once
# leaving-pool (already Deleting in the seed) is gone, which may happen before the listing.
LISTED = 510
FIRST_ROWS = 20  # rows the panel comes with (pools_list.FIRST_ROWS)
# JS helpers. Times are taken in the page (performance.now, checked every animation frame),
# so they hold what a user would see, without Playwright's own round trips.
_LAST_PANEL = "[...document.querySelectorAll('.mnb-pools-panel')].pop()"
_SHOWN_ROWS = ("[...panel.querySelectorAll('.mnb-rows > .widget-checkbox')]"
               ".filter(r => r.offsetParent !== null)")
RUN_PANEL_TIMED_JS = r"""async ([source, first, all_]) => {
  let all = all_;
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = notebook.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  const model = notebook.activeCell.model;
  if (model.sharedModel && model.sharedModel.setSource) model.sharedModel.setSource(source);
  else model.value.text = source;
  const before = document.querySelectorAll('.mnb-pools-panel').length;
  const t0 = performance.now();
  app.commands.execute('notebook:run-cell');
  const result = {};
  await new Promise(resolve => {
    const tick = () => {
      const now = performance.now() - t0;
      const panels = document.querySelectorAll('.mnb-pools-panel');
      const panel = panels.length > before ? panels[panels.length - 1] : null;
      const rows = panel ? panel.querySelectorAll('.mnb-rows > .widget-checkbox').length : 0;
      const title = panel ? panel.querySelector('.mnb-pools-title') : null;
      const listed = title && title.textContent.match(/(\d+) pools? in project/);
      if (all < 0 && listed) all = Number(listed[1]);  // as many as the panel says it lists
      if (result.first_rows_ms === undefined && rows >= first
          && panel.querySelector('.mnb-search input') && panel.querySelector('.mnb-bulk-delete'))
        result.first_rows_ms = now;
      if (all > 0 && rows >= all) { result.all_rows_ms = now; resolve(); }
      else if (now > 60000) resolve();
      else requestAnimationFrame(tick);
    };
    tick();
  });
  return result;
}"""
TICK_TIMED_JS = """async ([name, expected]) => {
  const panel = __PANEL__;
  const cell = [...panel.querySelectorAll('.mnb-rows .mnb-c-name')]
    .find(c => c.textContent === name);
  const count = panel.querySelector('.mnb-selected-count');
  const t0 = performance.now();
  cell.click();  // the row is the box's label: a click anywhere on it ticks the box
  return await new Promise(resolve => {
    const tick = () => {
      const now = performance.now() - t0;
      if (count.textContent.startsWith(expected)) resolve(now);
      else if (now > 10000) resolve(null);
      else requestAnimationFrame(tick);
    };
    tick();
  });
}""".replace("__PANEL__", _LAST_PANEL)
SEARCH_TIMED_JS = """async ([text, expected]) => {
  const panel = __PANEL__;
  const input = panel.querySelector('.mnb-search input');
  const t0 = performance.now();
  input.value = text;
  input.dispatchEvent(new Event('input', {bubbles: true}));  // as typing does
  return await new Promise(resolve => {
    const tick = () => {
      const now = performance.now() - t0;
      if (__SHOWN_ROWS__.length === expected) resolve(now);
      else if (now > 10000) resolve(null);
      else requestAnimationFrame(tick);
    };
    tick();
  });
}""".replace("__PANEL__", _LAST_PANEL).replace("__SHOWN_ROWS__", _SHOWN_ROWS)
# Every shown row: at least as tall as its text's line, and no row overlapping the next one.
ROW_HEIGHTS_JS = """() => {
  const panel = __PANEL__;
  const rows = __SHOWN_ROWS__;
  const bad = [];
  let previous = null;
  for (const row of rows) {
    const box = row.getBoundingClientRect();
    const cell = row.querySelector('.mnb-c-name');
    const style = getComputedStyle(cell);
    const line = style.lineHeight === 'normal' ? 1.2 * parseFloat(style.fontSize)
                                               : parseFloat(style.lineHeight);
    const text = cell.getBoundingClientRect().height;
    if (box.height + 0.5 < line || box.height + 0.5 < text
        || (previous && box.top + 0.5 < previous.bottom))
      bad.push([cell.textContent, box.height, line, text]);
    previous = box;
  }
  return {rows: rows.length, bad: bad.slice(0, 5), min: Math.min(...rows.map(
    r => r.getBoundingClientRect().height))};
}""".replace("__PANEL__", _LAST_PANEL).replace("__SHOWN_ROWS__", _SHOWN_ROWS)
# Texts that must not be cut: buttons, column headers, the title and the selection count.
TRUNCATED_JS = """() => {
  const panel = __PANEL__;
  const els = [...panel.querySelectorAll('.widget-button, .mnb-head .mnb-c, '
    + '.mnb-pools-title .widget-html-content, .mnb-selected-count .widget-html-content, '
    + '.mnb-search input')].filter(e => e.offsetParent !== null);
  return {checked: els.length, cut: els.filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim() || e.className)};
}""".replace("__PANEL__", _LAST_PANEL)
# Contrast (WCAG) of a text against the first opaque background behind it.
CONTRAST_JS = """(selector) => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const panel = __PANEL__;
  const el = panel.querySelector(selector);
  let bg = el, back = null;
  while (bg) {
    const c = rgb(getComputedStyle(bg).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { back = c; break; }
    bg = bg.parentElement;
  }
  back = back || [255, 255, 255];
  const fore = rgb(getComputedStyle(el).color);
  const [a, b] = [lum(fore), lum(back)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}""".replace("__PANEL__", _LAST_PANEL)


def class_notebook(folder: Path) -> Path:
    """A notebook whose one cell starts a sandbox of 510 pools in the kernel."""
    path = folder / "class500.ipynb"
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": CLASS_SETUP}
    path.write_text(json.dumps({"cells": [cell], "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def open_class(page: Page, server: JupyterServer) -> None:
    open_notebook(page, server, "/lab/tree/class500.ipynb")
    run_all(page)
    expect(page.locator(STDOUT, has_text=re.compile(r"^sandbox ready: \d+ pools"))).to_be_visible()


def show_panel(page: Page, figures: dict[str, Any]) -> Locator:
    """Run ``panel = %pools`` and time it: cell start → first rows (interactive) → all rows
    (as many as its title says it lists)."""
    timed = page.evaluate(RUN_PANEL_TIMED_JS, [PANEL_CELL, FIRST_ROWS, -1])
    assert "all_rows_ms" in timed, f"not every row reached the page: {timed}"
    figures.update(timed)
    said = page.locator(STDOUT, has_text="kernel ran the cell in").last.inner_text()
    figures["kernel_ms"] = float(re.search(r"in (\d+) ms", said)[1])  # type: ignore[index]
    return page.locator(".mnb-pools-panel").last


def listed_in(panel: Locator) -> int:
    """How many pools the panel says it lists (510, or 509 once leaving-pool is gone)."""
    title = panel.locator(".mnb-pools-title").inner_text()
    listed = int(re.match(r"(\d+) pools", title)[1])  # type: ignore[index]
    assert listed in (LISTED, LISTED - 1), title
    return listed


def shoot(panel: Locator, path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    panel.page.mouse.move(0, 0)  # no row highlighted by the pointer
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(path))


def set_theme(page: Page, theme: str, light: bool) -> None:
    page.evaluate("async (t) => { await window.jupyterapp.commands.execute("
                  "'apputils:change-theme', {theme: t}); }", theme)
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{str(light).lower()}'")
    page.wait_for_timeout(800)  # the theme's CSS variables land after the attribute


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def measure_500(runs: int = 3) -> dict[str, float]:
    """The browser figures for the benchmark: cell start → first rows / all rows (the first
    panel of the page, then a second one), tick → confirmation shown, search typed → rows
    hidden (medians of ``runs``)."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mnb-class500-") as folder:
        server = JupyterServer([class_notebook(Path(folder))],
                               extra_args=["--LabApp.expose_app_in_browser=True"])
        with server, browser_for(server, "bench-pools-500") as browser:
            page = browser.page
            open_class(page, server)
            show_panel(page, figures)
            page.wait_for_timeout(1000)
            warm: dict[str, Any] = {}
            show_panel(page, warm)  # a second panel: the widget code is loaded by now
            figures.update({f"warm_{key}": value for key, value in warm.items()})
            page.wait_for_timeout(1000)
            listed = listed_in(page.locator(".mnb-pools-panel").last)
            ticks = [page.evaluate(TICK_TIMED_JS, [f"pool-{n}", f"{i + 1} of {listed}"])
                     for i, n in enumerate(range(41, 41 + runs))]
            searches = []
            for _ in range(runs):  # each one changes what is shown
                searches += [page.evaluate(SEARCH_TIMED_JS, ["pool-12", 11]),
                             page.evaluate(SEARCH_TIMED_JS, ["", listed])]
    assert None not in ticks + searches, (ticks, searches)
    figures["tick_ms"] = median(ticks)
    figures["search_ms"] = median(searches)
    return figures


@dataclass
class ClassEvidence:
    figures: dict[str, float] = field(default_factory=dict)
    heights: dict[str, Any] = field(default_factory=dict)
    narrow: dict[str, Any] = field(default_factory=dict)
    contrast: dict[str, float] = field(default_factory=dict)
    deletes: str | None = None


def check_rows(page: Page, panel: Locator, evidence: ClassEvidence) -> None:
    """Every row came (in chunks, as the page showed them), each at least one text line
    tall; the hostile name is text: no element made of it, no maths typeset, one line."""
    listed = listed_in(panel)
    expect(panel.locator(ROWS)).to_have_count(listed)
    evidence.heights = page.evaluate(ROW_HEIGHTS_JS)
    assert evidence.heights["rows"] == listed and not evidence.heights["bad"], evidence
    hostile = panel.locator(ROWS).last.locator(".mnb-c-name")
    expect(hostile).to_contain_text(HOSTILE)
    assert hostile.inner_text().endswith("…") and "\n" not in hostile.inner_text()
    expect(panel.locator(".mnb-rows img, .mnb-rows mjx-container, .mnb-rows .MathJax")
           ).to_have_count(0)
    expect(pool_row(panel, "prepaid-pool").locator(".mnb-why")).to_have_text(
        "yearly/monthly: unsubscribe it instead")
    expect(pool_row(panel, "prepaid-pool").locator("input")).to_be_disabled()


def search_and_select(panel: Locator) -> Locator:
    """Search, Select all (what the search shows), clear, tick one more by its row."""
    listed = listed_in(panel)
    search = panel.locator(".mnb-search input")
    search.fill("pool-12")
    expect(panel.locator(f"{ROWS}:visible")).to_have_count(11)
    expect(panel.locator(".mnb-all")).to_have_text("Select all 11 shown")
    panel.locator(".mnb-all").click()
    expect(panel.locator(".mnb-selected-count")).to_have_text(
        f"11 of {listed} selected · 11 shown by the search")
    search.fill("")
    expect(panel.locator(f"{ROWS}:visible")).to_have_count(listed)
    pool_row(panel, "pool-42").locator(".mnb-c-name").click()  # a click on the row
    expect(panel.locator(".mnb-selected-count")).to_have_text(f"12 of {listed} selected")
    expect(panel.locator(".mnb-bulk-confirmation")).to_contain_text(
        "This deletes 12 pools: pool-12, pool-42, pool-120, pool-121, pool-122, pool-123, "
        "pool-124, pool-125, pool-126, pool-127 and 2 more.By phase: 12 Running. "
        "By billing: 12 pay-per-use.")
    return search


def delete_and_come_back(panel: Locator, shot: str) -> None:
    listed = listed_in(panel)
    panel.locator(".mnb-bulk-confirm input").fill("delete 12 pools")
    delete = panel.locator(".mnb-bulk-delete")
    expect(delete).to_be_enabled()
    delete.click()
    expect(panel.locator(".mnb-progress-text")).to_contain_text(re.compile(r"^\d+/12 deleted"))
    expect(panel.locator(".mnb-pools-title")).not_to_contain_text("Tick pools")
    expect(panel.locator(".mnb-progress-text")).to_have_text("12/12 deleted", timeout=60_000)
    expect(panel.locator(".mnb-pools-title")).to_contain_text("Finished: 12/12 deleted")
    back = panel.locator(".mnb-back")
    expect(back).to_be_visible()
    shoot(panel, ARTIFACTS / shot)
    back.click()  # a list read anew: the twelve are gone (and leaving-pool, by now)
    expect(panel.locator(".mnb-pools-title")).to_contain_text(
        re.compile(f"^({listed - 12}|{listed - 13}) pools"))
    expect(panel.locator(".mnb-selected-count")).to_have_text(
        re.compile(f"^0 of ({listed - 12}|{listed - 13}) selected$"))
    expect(pool_row(panel, "pool-42")).to_have_count(0)
    expect(pool_row(panel, "pool-43")).to_have_count(1)


def count_class_deletes(page: Page, evidence: ClassEvidence) -> None:
    page.evaluate(RUN_NEW_CELL_JS, 'print("DELETE requests in all:", sb.count(method="DELETE"))')
    output = page.locator(STDOUT, has_text="DELETE requests in all:")
    expect(output).to_be_visible(timeout=30_000)
    evidence.deletes = output.inner_text().strip()


def check_readable(page: Page, panel: Locator, evidence: ClassEvidence, theme: str) -> None:
    for name, selector in (("name", ".mnb-rows .mnb-c-name"), ("note", ".mnb-rows .mnb-why"),
                           ("header", ".mnb-head .mnb-c-name"),
                           ("count", ".mnb-selected-count b")):
        evidence.contrast[f"{theme} {name}"] = round(page.evaluate(CONTRAST_JS, selector), 1)


def test_jupyterlab4_pools_panel_at_500_pools(tmp_path: Path) -> None:
    """A class of 500: the panel reads (rows one line tall, headers), searches, selects what
    the search shows, names what goes, deletes, and comes back to a refreshed list."""
    server = JupyterServer([class_notebook(tmp_path)],
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    evidence = ClassEvidence()
    with server, browser_for(server, "jupyterlab4-pools-500") as browser:
        page = browser.page
        open_class(page, server)
        panel = show_panel(page, evidence.figures)
        expect(panel.locator(".mnb-head")).to_contain_text("pool")
        check_rows(page, panel, evidence)
        search = search_and_select(panel)
        panel.locator(f"{ROWS}").first.scroll_into_view_if_needed()
        shoot(panel, DOCS / "pools-panel-500.png")
        check_readable(page, panel, evidence, "light")

        page.set_viewport_size({"width": 700, "height": 1000})
        page.wait_for_timeout(600)
        evidence.narrow = page.evaluate(TRUNCATED_JS)
        shoot(panel, ARTIFACTS / "jupyterlab4-pools-500-700px.png")
        page.set_viewport_size({"width": 1280, "height": 1000})
        assert evidence.narrow["checked"] >= 12 and evidence.narrow["cut"] == [], evidence

        set_theme(page, "JupyterLab Dark", light=False)
        check_readable(page, panel, evidence, "dark")
        shoot(panel, DOCS / "pools-panel-500-dark.png")
        set_theme(page, "JupyterLab Light", light=True)
        assert min(v for k, v in evidence.contrast.items() if "note" not in k) >= 4.5, evidence
        assert min(evidence.contrast.values()) >= 3.0, evidence

        search.fill("pool-3")  # the twelve hidden: still what the sentence deletes
        expect(panel.locator(".mnb-bulk-confirmation")).to_contain_text(
            "12 of them are hidden by the current search and will be deleted too.")
        delete_and_come_back(panel, "jupyterlab4-pools-500-done.png")
        count_class_deletes(page, evidence)
    print(f"evidence: {evidence}")
    assert evidence.deletes == "DELETE requests in all: 12"
    assert_clean(browser, server)


def test_jupyterlab3_ipywidgets7_pools_panel_at_500_pools(tmp_path: Path) -> None:
    """The same class on JupyterLab 3.6 + ipywidgets 7.8 (descriptions are HTML there without
    asking): rows come in chunks as the page shows them, read, search, select and delete."""
    if not COMPAT_JUPYTER.is_file():
        pytest.fail(f"{COMPAT_JUPYTER} is missing: run `make compat` (tests/browser/compat_env.sh)")
    server = JupyterServer([class_notebook(tmp_path)], jupyter=COMPAT_JUPYTER,
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    evidence = ClassEvidence()
    with server, browser_for(server, "jupyterlab3-pools-500") as browser:
        page = browser.page
        open_class(page, server)
        panel = show_panel(page, evidence.figures)
        check_rows(page, panel, evidence)
        search_and_select(panel)
        shoot(panel, ARTIFACTS / "jupyterlab3-pools-500.png")
        delete_and_come_back(panel, "jupyterlab3-pools-500-done.png")
        count_class_deletes(page, evidence)
    print(f"evidence: {evidence}")
    assert evidence.deletes == "DELETE requests in all: 12"
    assert_clean(browser, server)


# -- the ticked pools are frozen while they are checked ----------------------------------------

FROZEN_SETUP = (
    "from modelarts_nb import sandbox\n"
    "sb = sandbox.start(pools=30, delete_seconds=2)\n"
    "_ = sb.export_env()\n"
    "%load_ext modelarts_nb\n"
    "panel = %pools --tag course=ml101\n"
    "panel"
)
# Each of the two ticked pools' four impact reads answers 3 s late: the check lasts ~3 s.
SLOW_CHECK = (
    '_ids = {n: sb.display_names()[n][0] for n in ("pool-01", "pool-02", "pool-04")}\n'
    'sb.inject(sandbox.Fault(method="GET", delay=3, times=8)); print("slow reads armed")'
)
DELETED_PROBE = ('print("DELETE requests:", {n: sb.count(method="DELETE", pool=i) '
                 'for n, i in _ids.items()}, "of", sb.count(method="DELETE"))')


def test_a_pool_ticked_during_the_check_is_not_deleted(tmp_path: Path) -> None:
    """Delete selected freezes the ticked pools: during the (slowed) check, a user's clicks
    neither untick one nor tick another, and exactly the two reviewed pools are deleted."""
    notebook = tmp_path / "frozen.ipynb"
    notebook.write_text(json.dumps({"cells": [{
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
        "source": FROZEN_SETUP}], "metadata": {"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    server = JupyterServer([notebook], extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-pools-frozen") as browser:
        page = browser.page
        open_notebook(page, server, "/lab/tree/frozen.ipynb")
        run_all(page)
        panel = page.locator(".mnb-pools-panel")
        tick(panel, ("pool-01", "pool-02"))
        panel.locator(".mnb-bulk-confirm input").fill("delete 2 pools")
        expect(panel.locator(".mnb-bulk-delete")).to_be_enabled()
        page.evaluate(RUN_NEW_CELL_JS, SLOW_CHECK)
        expect(page.locator(STDOUT, has_text="slow reads armed")).to_be_visible()
        panel.locator(".mnb-bulk-delete").click()
        second, third = pool_row(panel, "pool-02"), pool_row(panel, "pool-04")
        expect(third.locator("input")).to_be_disabled()
        for row in (second, third):  # a user clicks the rows while they are checked (force:
            row.locator(".mnb-c-name").click(force=True)  # Playwright waits for enabled boxes)
        page.wait_for_timeout(300)  # time for a toggled box to reach the kernel and come back
        shoot_whole(panel, "jupyterlab4-pools-frozen-check.png")
        expect(panel.locator(".mnb-hint")).to_contain_text(  # the clicks came during the check
            "Checking what the 2 selected pool(s) run", timeout=1_000)
        expect(second.locator("input")).to_be_checked()
        expect(third.locator("input")).not_to_be_checked()
        expect(third.locator("input")).to_be_disabled()
        expect(panel.locator(".mnb-progress-text")).to_have_text("2/2 deleted", timeout=60_000)
        page.evaluate(RUN_NEW_CELL_JS, DELETED_PROBE)
        probe = page.locator(STDOUT, has_text="DELETE requests:")
        expect(probe).to_be_visible(timeout=30_000)
        deleted = probe.inner_text().strip()
    assert deleted == "DELETE requests: {'pool-01': 1, 'pool-02': 1, 'pool-04': 0} of 2"
    assert_clean(browser, server)
