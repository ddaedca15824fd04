"""How both panels look in the browser: every text at AA in Light and Dark, table headers
over their columns beside a DataFrame, and nothing past the notebook at 700 px, on one page.

Contrast: one notebook puts every state on the page: the single-pool panel in review (with the
acknowledgement of the work it stops), refused, failed and deleted, the table of pools a name
is ambiguous between, and ``%pools`` panels — rows with notes (why a row cannot be ticked), a
work note ("runs 3 training jobs…"), the muted count of rows that cannot be ticked, a selection
hidden by the search, the hint, a batch under way (Stop, progress, per-pool table) and a
stopped one — with a pandas DataFrame shown above them (its stylesheet then applies to the whole
page). For every element with text of its own, the WCAG ratio of its computed colour against
its background, both composited (colours with alpha, ``opacity``) through every ancestor down
from the white canvas, as they are painted; a row under the pointer is measured too. Each must
reach 4.5:1 (AA; 3:1 for large text, at least 24 px or 18.66 px bold) in both themes; disabled
buttons are listed but exempt (WCAG exempts inactive controls). JupyterLab 4 + ipywidgets 8 and
JupyterLab 3.6 + ipywidgets 7.8 (``.venv-compat``).

Headers (back in Light): a DataFrame shown anywhere on the page brings pandas' stylesheet, whose
``.dataframe thead th {text-align: right}`` applies to every DataFrame table of the page — our
resource tables are ones — and JupyterLab right-aligns rendered-HTML table cells. With the
DataFrame of the same notebook on the page (its own headers right-aligned: the
control), every header of every panel table starts where its column's cells start.

700 px: a JupyterLab window 700 px wide with the file browser open leaves the notebook ~330 px.
Nothing of any panel may reach past the cell's output area or the notebook column (what a box
scrolls inside it counts as far as the box shows it); a resource table keeps one line a row and
shows every row, the abnormal one too; in the ``%pools`` panel every reason a row cannot be
ticked (and every work note) is whole and in sight without scrolling sideways; buttons and
column headers are not cut; the intro sentence wraps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .harness import JupyterServer
from .test_browser import (
    ARTIFACTS,
    COMPAT_JUPYTER,
    Browser,
    assert_clean,
    browser_for,
    open_notebook,
    run_all,
)
from .test_browser_bulk import DOCS, set_theme

SETUP = (
    "import time\n"
    "import pandas as pd\n"
    "from modelarts_nb import sandbox\n"
    "sb = sandbox.start(pools=6, delete_seconds=1)\n"
    "_ = sb.export_env()\n"
    "%load_ext modelarts_nb\n"
    "ids = sb.display_names()\n"
    "def wait(condition, limit=60):\n"
    "    end = time.monotonic() + limit\n"
    "    while not condition() and time.monotonic() < end:\n"
    "        time.sleep(0.1)\n"
    "    assert condition(), 'the panel never got there'"
)
DATAFRAME = 'pd.DataFrame({"pool": ["pool-01", "a-much-longer-pool-name"], "nodes": [3, 12]})'
FAILED = (
    "failed = %pool_delete pool-03\n"
    "wait(lambda: failed.flow.can_confirm('pool-03', False))  # its impact check is done\n"
    "sb.inject(sandbox.Fault(method='DELETE', status=403, body={\n"
    "    'error_code': 'ModelArts.5014', 'error_msg': 'Permission deny'}))\n"
    "failed.typed.value = 'pool-03'\n"
    "failed.delete_button.click()\n"
    "wait(lambda: failed.flow.step.final)\n"
    "failed"
)
# Ticked, confirmed and checked: train-gpu's row gets its work note, team-shared (yearly/monthly
# nodes) is unticked with a refusal; the search hides pool-02, which stays selected.
CHECKED_LIST = (
    "listed = %pools\n"
    "for name in ('train-gpu', 'pool-02', 'team-shared'):\n"
    "    listed.checks[ids[name][0]].value = True\n"
    "listed.typed.value = 'delete 3 pools'\n"
    "listed.delete_button.click()\n"
    "wait(lambda: not listed.checking and listed.work)\n"
    "listed.search.value = 'Dedicate'\n"
    "listed"
)
# A batch under way (its one DELETE answers in 5 minutes): Stop is live.
RUNNING = (
    "running = %pools --name pool-06\n"
    "running.checks[ids['pool-06'][0]].value = True\n"
    "running.typed.value = 'delete 1 pool'\n"
    "sb.inject(sandbox.Fault(method='DELETE', pool=ids['pool-06'][0], delay=300))\n"
    "running.delete_button.click()\n"
    "wait(lambda: running.run is not None)\n"
    "time.sleep(1)\n"
    "running"
)
STOPPED = (
    "stopped = %pools --name 'pool-0[25]' --concurrency 1\n"
    "for check in stopped.checks.values():\n"
    "    check.value = not check.disabled\n"
    "stopped.typed.value = f'delete {len(stopped.selected())} pools'\n"
    "sb.inject(sandbox.Fault(method='DELETE', delay=1, times=100))\n"
    "stopped.delete_button.click()\n"
    "wait(lambda: stopped.run is not None and sb.count(method='DELETE') > 1)\n"
    "stopped.stop_button.click()\n"
    "wait(lambda: stopped.run.finished.is_set())\n"
    "stopped"
)
# A name two pools share: the table of what tells them apart (an HTML card), then an error.
AMBIGUOUS = (
    "try:\n"
    "    %pool_delete team-shared\n"
    "except Exception as exc:\n"
    "    print('ambiguous:', type(exc).__name__)"
)
CELLS = (SETUP, DATAFRAME, "%pool_delete train-gpu", "%pool_delete prepaid-pool", FAILED,
         "%pool_delete pool-01 --yes", AMBIGUOUS, CHECKED_LIST, RUNNING, STOPPED)
NAME = "panels.ipynb"
PANELS = ".mnb-panel, .mnb-pools-panel, .mnb-card"
# Every element under ``roots`` with text of its own, as painted: the colour and the background
# composited through every ancestor (backgrounds with alpha, opacity groups) over the white
# canvas; the ratio needed (3 for large text); disabled buttons marked exempt.
CONTRAST_JS = """(roots) => {
  const rgba = s => { const m = (s.match(/[\\d.]+/g) || []).map(Number);
    return m.length < 3 ? [0, 0, 0, 0] : [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const over = (top, back) => { const a = top[3] + back[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    return [0, 1, 2].map(i => (top[i] * top[3] + back[i] * back[3] * (1 - top[3])) / a)
      .concat([a]); };
  const lum = c => { const f = v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const paint = (chain, text) => {
    const group = k => { const style = getComputedStyle(chain[k]);
      const inner = k + 1 < chain.length ? group(k + 1)
        : (text ? rgba(style.color) : [0, 0, 0, 0]);
      const c = over(inner, rgba(style.backgroundColor));
      return [c[0], c[1], c[2], c[3] * parseFloat(style.opacity)]; };
    return over(group(0), [255, 255, 255, 1]);
  };
  const own = el => [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim())
    .map(n => n.textContent.trim()).join(' ');
  const found = [];
  for (const root of document.querySelectorAll(roots)) {
    const where = (root.querySelector('.mnb-header b, .mnb-pools-title b, b') || root)
      .textContent.trim().slice(0, 30);
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const text = own(el);
      const style = getComputedStyle(el);
      if (!text || !el.getClientRects().length || style.visibility !== 'visible'
          || el.closest('style, script')) continue;
      const chain = [];
      for (let e = el; e; e = e.parentElement) chain.unshift(e);
      const fore = paint(chain, true), back = paint(chain, false);
      const [a, b] = [lum(fore), lum(back)].sort((x, y) => y - x);
      const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
      found.push({where, text: text.slice(0, 48), ratio: Math.round((a + .05) / (b + .05) * 100) / 100,
        need: size >= 24 || (bold && size >= 18.66) ? 3 : 4.5,
        exempt: !!el.closest('button:disabled'),
        colour: style.color, back: 'rgb(' + back.slice(0, 3).map(Math.round).join(', ') + ')'});
    }
  }
  return found;
}"""
# The rows a pointer rests on in the test: one with a refusal note, one with a work note.
HOVERED = ("prepaid-pool", "train-gpu")


def panels_notebook(folder: Path) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in CELLS]
    path = folder / NAME
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def show_every_state(page: Page, server: JupyterServer) -> None:
    """Run the notebook and wait until every panel is in the state it is measured in."""
    open_notebook(page, server, f"/lab/tree/{NAME}")
    run_all(page)
    expect(page.locator(".jp-CodeCell .jp-InputPrompt").last).to_have_text(
        f"[{len(CELLS)}]:", timeout=180_000)
    expect(page.locator(".mnb-pools-panel .mnb-stop-note", has_text="Stopped.")).to_be_visible()
    expect(page.locator(".mnb-pools-panel .mnb-work").first).to_be_visible()
    expect(page.locator(".mnb-pools-panel .mnb-stop").first).to_be_enabled()
    for state in ("REVIEW:", "FAILED:", "DELETED:"):
        expect(page.locator(".mnb-panel .mnb-status", has_text=state).first).to_be_attached()
    expect(page.locator(".mnb-panel .mnb-refused")).to_contain_text("Cannot be deleted here")
    expect(page.locator(".mnb-card", has_text="2 pools are named")).to_be_visible()
    page.mouse.move(0, 0)
    page.wait_for_timeout(1000)  # the impact checks' last redraws


def measure(page: Page) -> list[dict[str, Any]]:
    """Every text of every panel, then the hovered rows (the pointer changes their back)."""
    found = page.evaluate(CONTRAST_JS, PANELS)
    rows = page.locator(".mnb-pools-panel").filter(has_text="cannot be ticked").locator(
        ".mnb-rows > .widget-checkbox")
    for name in HOVERED:
        row = rows.filter(has=page.locator(".mnb-c-name", has_text=re.compile(f"^{name}$")))
        row.scroll_into_view_if_needed()
        row.hover()
        page.wait_for_timeout(200)
        for item in page.evaluate(CONTRAST_JS, ".mnb-rows > .widget-checkbox:hover"):
            found.append({**item, "where": f"{name} row, hovered"})
    page.mouse.move(0, 0)
    return found


def listing(found: list[dict[str, Any]]) -> str:
    lines = {f"{item['ratio']:5.2f}:1 (needs {item['need']}){' exempt' * item['exempt']}  "
             f"[{item['where']}] {item['text']!r} {item['colour']} on {item['back']}"
             for item in found}
    return "\n".join(sorted(lines))


def assert_aa(measured: dict[str, list[dict[str, Any]]]) -> None:
    """Every text at AA in every theme; the message lists each element measured."""
    low = {theme: [item for item in found if item["ratio"] < item["need"] and not item["exempt"]]
           for theme, found in measured.items()}
    for theme, found in measured.items():
        print(f"{theme}: {len(found)} texts measured, lowest "
              f"{min(i['ratio'] for i in found if not i['exempt']):.2f}:1")
    assert all(measured.values()), "nothing measured"
    assert not any(low.values()), "\n".join(
        f"--- {theme}: below AA:\n{listing(low[theme])}\n--- {theme}: all measured:\n"
        f"{listing(found)}" for theme, found in measured.items())


def contrast_in_both_themes(browser: Browser, server: JupyterServer,
                            shots: bool = False) -> dict[str, list[dict[str, Any]]]:
    page = browser.page
    show_every_state(page, server)
    train = page.locator(".mnb-panel", has_text="train-gpu").first
    measured = {"light": measure(page)}
    if shots:
        DOCS.mkdir(exist_ok=True)
        train.screenshot(path=str(DOCS / "panel-light.png"))
    set_theme(page, "JupyterLab Dark", light=False)
    measured["dark"] = measure(page)
    if shots:
        train.screenshot(path=str(DOCS / "panel-dark.png"))
    set_theme(page, "JupyterLab Light", light=True)
    return measured


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


def looks_right(browser: Browser, server: JupyterServer, flavour: str, shots: bool = False) -> None:
    """Measure the contrast in both themes, then, back in Light, the headers and 700 px."""
    measured = contrast_in_both_themes(browser, server, shots=shots)
    assert_aa(measured)
    check_headers_line_up(browser.page)
    check_700px(browser.page, f"{flavour}-700px-filebrowser")
    assert_clean(browser, server)


def test_jupyterlab4_every_text_reaches_aa_and_the_layout_holds_beside_a_dataframe_at_700px(
        tmp_path: Path) -> None:
    server = JupyterServer([panels_notebook(tmp_path)],
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-look") as browser:
        looks_right(browser, server, "jupyterlab4", shots=True)


def test_jupyterlab3_every_text_reaches_aa_and_the_layout_holds_beside_a_dataframe_at_700px(
        tmp_path: Path) -> None:
    if not COMPAT_JUPYTER.is_file():
        pytest.fail(f"{COMPAT_JUPYTER} is missing: run `make compat` (tests/browser/compat_env.sh)")
    server = JupyterServer([panels_notebook(tmp_path)], jupyter=COMPAT_JUPYTER,
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab3-look") as browser:
        looks_right(browser, server, "jupyterlab3")
