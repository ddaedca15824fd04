"""The single-pool panels in JupyterLab Light and Dark, and at 700 px with the file browser open.

Contrast is measured, not eyeballed: for every element of the header, the table headers, the
status line, the warning and the refusal that holds text of its own, the WCAG ratio of its
computed colour against the first opaque background behind it (4.5:1, AA, in both themes).
At 700 px with the file browser open, no button label may be cut ("D…", "Can…").
Screenshots of the light and dark panels go to docs/ for the README.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from .harness import JupyterServer
from .test_browser import ARTIFACTS, assert_clean, browser_for, open_notebook, run_all
from .test_browser_bulk import DOCS, set_theme

CELLS = (
    "from modelarts_nb import sandbox\n"
    "sb = sandbox.start()\n"
    "_ = sb.export_env()\n"
    "%load_ext modelarts_nb",
    "%pool_delete train-gpu",
    "%pool_delete prepaid-pool",
    "%pool_delete pool-02",
    "%pools --name 'pool-0*'",
)
# What must read at AA: every element under these that has text of its own.
READ = {
    "header": ".mnb-panel .mnb-header",
    "table header": ".mnb-panel .mnb-table th",
    "status line": ".mnb-panel .mnb-status-line",
    "warning": ".mnb-panel .mnb-consequences",
    "refusal": ".mnb-panel .mnb-refused",
}
CONTRAST_JS = """(selector) => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const backOf = el => {
    for (let bg = el; bg; bg = bg.parentElement) {
      const c = rgb(getComputedStyle(bg).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return rgb(getComputedStyle(document.body).backgroundColor);
  };
  const ownText = el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const found = [];
  for (const root of document.querySelectorAll(selector)) {
    if (root.offsetParent === null) continue;
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (el.offsetParent === null || !ownText(el)) continue;
      const back = backOf(el), fore = rgb(getComputedStyle(el).color);
      const alpha = fore.length > 3 ? fore[3] : 1;  // a translucent colour shows the back
      const seen = [0, 1, 2].map(i => alpha * fore[i] + (1 - alpha) * back[i]);
      const [a, b] = [lum(seen), lum(back)].sort((x, y) => y - x);
      found.push([el.textContent.trim().slice(0, 40), Math.round((a + 0.05) / (b + 0.05) * 10) / 10]);
    }
  }
  return found;
}"""
TRUNCATED_JS = """() => {
  const els = [...document.querySelectorAll('.mnb-panel .widget-button, '
    + '.mnb-pools-panel .widget-button')].filter(e => e.offsetParent !== null);
  return {checked: els.length, cut: els.filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim() || e.className)};
}"""


def themes_notebook(folder: Path) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in CELLS]
    path = folder / "themes.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def contrast(page: Page, theme: str) -> dict[str, list[tuple[str, float]]]:
    measured = {name: page.evaluate(CONTRAST_JS, selector) for name, selector in READ.items()}
    lowest = {name: min((ratio for _, ratio in found), default=None)
              for name, found in measured.items()}
    print(f"lowest contrast in {theme}: {lowest}")
    return measured


def assert_readable(measured: dict[str, list[tuple[str, float]]]) -> None:
    for name, found in measured.items():
        assert found, f"nothing measured for the {name}"
        low = [(text, ratio) for text, ratio in found if ratio < 4.5]
        assert not low, f"{name} below 4.5:1: {low}"


def test_jupyterlab4_panels_read_in_light_and_dark_and_fit_700px(tmp_path: Path) -> None:
    server = JupyterServer([themes_notebook(tmp_path)],
                           extra_args=["--LabApp.expose_app_in_browser=True"])
    with server, browser_for(server, "jupyterlab4-themes") as browser:
        page = browser.page
        open_notebook(page, server, "/lab/tree/themes.ipynb")
        run_all(page)
        for name in ("train-gpu", "prepaid-pool", "pool-02"):
            expect(page.locator(".mnb-panel", has_text=name).first).to_be_visible()
        expect(page.locator(".mnb-pools-panel .widget-button").first).to_be_visible()
        expect(page.locator(".mnb-panel .mnb-consequences").first).to_be_visible()
        page.wait_for_timeout(1500)  # the impact checks fill in
        train = page.locator(".mnb-panel", has_text="train-gpu").first
        DOCS.mkdir(exist_ok=True)
        light = contrast(page, "light")
        train.screenshot(path=str(DOCS / "panel-light.png"))

        set_theme(page, "JupyterLab Dark", light=False)
        dark = contrast(page, "dark")
        train.screenshot(path=str(DOCS / "panel-dark.png"))
        set_theme(page, "JupyterLab Light", light=True)
        assert_readable(light)
        assert_readable(dark)

        page.set_viewport_size({"width": 700, "height": 1000})
        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        expect(page.locator("#filebrowser")).to_be_visible()
        page.wait_for_timeout(800)
        narrow = page.evaluate(TRUNCATED_JS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab4-700px-filebrowser.png"))
        print(f"700 px with the file browser open: {narrow}")
        assert narrow["checked"] >= 8 and narrow["cut"] == [], narrow
    assert_clean(browser, server)
