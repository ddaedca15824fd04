"""Every text of both panels, in JupyterLab Light and Dark, measured in the browser.

One notebook puts every state on the page: the single-pool panel in review (with the
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
JupyterLab 3.6 + ipywidgets 7.8 (``.venv-compat``); ``test_browser_layout.py`` reads the same
notebook at 700 px and checks the table headers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .harness import JupyterServer
from .test_browser import COMPAT_JUPYTER, Browser, assert_clean, browser_for, open_notebook, run_all
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


def test_jupyterlab4_every_text_of_both_panels_reaches_aa_in_light_and_dark(
        tmp_path: Path) -> None:
    server = JupyterServer([panels_notebook(tmp_path)],
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-themes") as browser:
        measured = contrast_in_both_themes(browser, server, shots=True)
    assert_aa(measured)
    assert_clean(browser, server)


def test_jupyterlab3_every_text_of_both_panels_reaches_aa_in_light_and_dark(
        tmp_path: Path) -> None:
    if not COMPAT_JUPYTER.is_file():
        pytest.fail(f"{COMPAT_JUPYTER} is missing: run `make compat` (tests/browser/compat_env.sh)")
    server = JupyterServer([panels_notebook(tmp_path)], jupyter=COMPAT_JUPYTER,
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab3-themes") as browser:
        measured = contrast_in_both_themes(browser, server)
    assert_aa(measured)
    assert_clean(browser, server)
