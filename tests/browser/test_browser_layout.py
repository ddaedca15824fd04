"""The panels' layout where it goes wrong: beside a pandas DataFrame, and at 700 px.

Headers: a DataFrame shown anywhere on the page brings pandas' stylesheet, whose
``.dataframe thead th {text-align: right}`` applies to every DataFrame table of the page — our
resource tables are ones — and JupyterLab right-aligns rendered-HTML table cells. With the
DataFrame of ``test_browser_themes``' notebook on the page (its own headers right-aligned: the
control), every header of every panel table starts where its column's cells start.

700 px: a JupyterLab window 700 px wide with the file browser open leaves the notebook ~330 px.
Nothing of any panel may reach past the cell's output area or the notebook column (what a box
scrolls inside it counts as far as the box shows it); a resource table keeps one line a row and
shows every row, the abnormal one too; in the ``%pools`` panel every reason a row cannot be
ticked (and every work note) is whole and in sight without scrolling sideways; buttons and
column headers are not cut; the intro sentence wraps. JupyterLab 4 + ipywidgets 8 and
JupyterLab 3.6 + ipywidgets 7.8 (``.venv-compat``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .harness import JupyterServer
from .test_browser import ARTIFACTS, COMPAT_JUPYTER, assert_clean, browser_for
from .test_browser_themes import PANELS, panels_notebook, show_every_state

# For every table of the panels with a header row: where each header's content starts in its
# cell, against where the first row's cell content starts (both from the cell's left edge), and
# the computed text-align of both; and the same for the DataFrame's own table (the control).
ALIGNMENT_JS = """(roots) => {
  const start = cell => { const range = document.createRange(); range.selectNodeContents(cell);
    return Math.round(range.getBoundingClientRect().left - cell.getBoundingClientRect().left); };
  const read = table => {
    const head = table.querySelector('thead tr'), body = table.querySelector('tbody tr');
    if (!head || !body) return null;
    return [...head.children].map((th, i) => { const td = body.children[i];
      const empty = !td || !td.textContent.trim();  // no content: nothing to line up
      return {header: th.textContent.trim(), th: start(th), td: empty ? null : start(td),
              thAlign: getComputedStyle(th).textAlign,
              tdAlign: td ? getComputedStyle(td).textAlign : null}; });
  };
  const tables = [];
  for (const root of document.querySelectorAll(roots))
    for (const table of root.querySelectorAll('table.mnb-table')) {
      const columns = read(table);
      if (columns) tables.push({where: (root.querySelector('b') || root).textContent.trim()
        .slice(0, 30), columns});
    }
  const frame = document.querySelector('.jp-RenderedHTMLCommon table.dataframe:not(.mnb-table)');
  return {tables, control: frame ? read(frame) : null};
}"""
# Each panel element's right edge as shown (clipped by the boxes that scroll it), against the
# cell's output area and the notebook column (its visible width, scroll bar excluded).
OVERFLOW_JS = """(roots) => {
  const notebook = [...document.querySelectorAll('.jp-Notebook')]
    .find(n => n.getClientRects().length);
  const column = notebook.getBoundingClientRect().left + notebook.clientWidth;
  return [...document.querySelectorAll(roots)].map(root => {
    const area = root.closest('.jp-OutputArea-output');
    const limit = Math.min(area.getBoundingClientRect().right, column);
    const past = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const box = el.getBoundingClientRect();
      if (!el.getClientRects().length || box.width === 0) continue;
      let right = box.right;
      for (let up = el.parentElement; up && up !== root.parentElement; up = up.parentElement)
        if (getComputedStyle(up).overflowX !== 'visible')
          right = Math.min(right, up.getBoundingClientRect().right);
      if (right > limit + 0.5)
        past.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} `
          + `"${el.textContent.trim().slice(0, 30)}" right ${Math.round(right)}`);
    }
    return {where: (root.querySelector('b') || root).textContent.trim().slice(0, 30),
            width: Math.round(root.getBoundingClientRect().width), limit: Math.round(limit),
            area: Math.round(area.getBoundingClientRect().right), column: Math.round(column),
            past};
  });
}"""
# The resource tables: each row's height against a line, and each row inside its scroll box.
TABLE_ROWS_JS = """() => [...document.querySelectorAll('.mnb-panel .mnb-scroll')]
  .filter(box => box.getClientRects().length).map(box => {
    const shown = box.getBoundingClientRect();
    const rows = [...box.querySelectorAll('tbody tr')].map(row => {
      const r = row.getBoundingClientRect(), cell = row.querySelector('td');
      const line = parseFloat(getComputedStyle(cell).lineHeight)
        || 1.2 * parseFloat(getComputedStyle(cell).fontSize);
      return {first: cell.textContent.trim(), lines: Math.round(r.height / line * 10) / 10,
              inside: r.top >= shown.top - 0.5 && r.bottom <= shown.bottom + 0.5};
    });
    return {table: box.querySelector('th') ? box.querySelector('th').textContent : '',
            rows};
  })"""
# In the %pools panels: every note (why a row cannot be ticked, what deleting it stops), whole
# (not cut with "…") and inside its rows' box as shown, that box scrolled to its left.
NOTES_JS = """() => [...document.querySelectorAll('.mnb-pools-panel .mnb-rows')]
  .filter(box => box.getClientRects().length).flatMap(box => {
    box.scrollLeft = 0;
    const shown = box.getBoundingClientRect();
    return [...box.querySelectorAll('.widget-checkbox .mnb-c-note')]
      .filter(note => note.textContent.trim()
              && note.closest('.widget-checkbox').getClientRects().length)
      .map(note => { const r = note.getBoundingClientRect();
        return {row: note.closest('.mnb-row').querySelector('.mnb-c-name').textContent,
                note: note.textContent.trim(), left: Math.round(r.left),
                right: Math.round(r.right), box: [Math.round(shown.left), Math.round(shown.right)],
                whole: note.scrollWidth <= note.clientWidth + 1,
                inside: r.left >= shown.left - 0.5 && r.right <= shown.right + 0.5}; });
  })"""
# Texts that must not be cut: buttons, column headers, the %pools title and count.
CUT_JS = """() => {
  const els = [...document.querySelectorAll('.mnb-panel .widget-button, '
    + '.mnb-pools-panel .widget-button, .mnb-pools-panel .mnb-head .mnb-c, '
    + '.mnb-pools-title .widget-html-content, .mnb-selected-count .widget-html-content')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).display !== 'none');
  return {checked: els.length, cut: els.filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim().slice(0, 40) || e.className)};
}"""


def check_headers_line_up(page: Page) -> dict[str, Any]:
    found = page.evaluate(ALIGNMENT_JS, PANELS)
    print(f"header alignment: {found}")
    assert found["control"] and all(c["thAlign"] == "right" for c in found["control"]), (
        f"the DataFrame's own headers should be right-aligned (pandas' CSS): {found['control']}")
    assert len(found["tables"]) >= 8, found
    off = [(table["where"], column) for table in found["tables"] for column in table["columns"]
           if column["td"] is not None and (column["thAlign"] != column["tdAlign"]
                                            or abs(column["th"] - column["td"]) > 1)]
    assert not off, f"headers not over their columns: {off}\nall tables: {found['tables']}"
    return found


def open_narrow(page: Page) -> None:
    """700 px wide, the file browser open beside the notebook."""
    page.set_viewport_size({"width": 700, "height": 1000})
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    expect(page.locator("#filebrowser")).to_be_visible()
    page.wait_for_timeout(1500)


def check_700px(page: Page, shot: str) -> dict[str, Any]:
    open_narrow(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"))
    for index, panel in enumerate(page.locator(".mnb-panel, .mnb-pools-panel").all()):
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(ARTIFACTS / f"{shot}-{index}.png"))
    found = {"overflow": page.evaluate(OVERFLOW_JS, PANELS),
             "tables": page.evaluate(TABLE_ROWS_JS), "notes": page.evaluate(NOTES_JS),
             "cut": page.evaluate(CUT_JS)}
    print(f"700 px: {found}")
    widths = [(p["where"], p["width"], p["limit"]) for p in found["overflow"]]
    past = {p["where"]: p["past"][:12] + [f"… {len(p['past'])} in all"] for p in found["overflow"]
            if p["past"]}
    assert len(found["overflow"]) >= 8 and not past, (
        f"past the notebook column: {past}\n(panel, width, limit): {widths}")
    tall = [(t["table"], r) for t in found["tables"] for r in t["rows"]
            if r["lines"] > 1.5 or not r["inside"]]
    assert found["tables"] and not tall, f"table rows taller than a line or out of sight: {tall}"
    assert any(r["first"] == "abnormal" for t in found["tables"] for r in t["rows"]), found
    hidden = [note for note in found["notes"] if not (note["whole"] and note["inside"])]
    assert len(found["notes"]) >= 4 and not hidden, (
        f"notes cut or off to the side: {hidden}\nall notes: {found['notes']}")
    assert any(note["note"].startswith("runs 3 training jobs") for note in found["notes"])
    assert found["cut"]["checked"] >= 15 and not found["cut"]["cut"], found["cut"]
    return found


def test_jupyterlab4_headers_line_up_and_nothing_runs_past_700px(tmp_path: Path) -> None:
    server = JupyterServer([panels_notebook(tmp_path)],
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-layout") as browser:
        show_every_state(browser.page, server)
        check_headers_line_up(browser.page)
        check_700px(browser.page, "jupyterlab4-700px-filebrowser")
    assert_clean(browser, server)


def test_jupyterlab3_headers_line_up_and_nothing_runs_past_700px(tmp_path: Path) -> None:
    if not COMPAT_JUPYTER.is_file():
        pytest.fail(f"{COMPAT_JUPYTER} is missing: run `make compat` (tests/browser/compat_env.sh)")
    server = JupyterServer([panels_notebook(tmp_path)], jupyter=COMPAT_JUPYTER,
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab3-layout") as browser:
        show_every_state(browser.page, server)
        check_headers_line_up(browser.page)
        check_700px(browser.page, "jupyterlab3-700px-filebrowser")
    assert_clean(browser, server)
