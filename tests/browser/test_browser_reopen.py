"""What people see later: a notebook reopened after its kernel stopped, a restarted kernel.

Reopened without its kernel, a widget output shows only "Error displaying widget: model not
found" (the frontends always pick the widget view, never the text/HTML copy beside it). So the
panel leaves a one-line note output of its own beside it, hidden while the panel is drawn, which
the kernel updates when the deletion ends — also after a click, when the cell has finished.
The delete stories of ``test_browser.py`` end that way — save, shut the kernel down, reload —
and check the cell says how it ended, in JupyterLab 4, Notebook 7 and JupyterLab 3.6. Here:
with "Save Widget State Automatically" on (``make demo`` turns it on), the
frontend saves the widgets too and redraws the final panel itself, with nothing clickable left;
and a restarted kernel leaves the panel inert.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from .harness import JupyterServer
from .test_browser import (
    ARTIFACTS,
    NB7_KNOWN_ERROR,
    assert_clean,
    assert_nothing_secret,
    browser_for,
    open_notebook,
    reload,
    run_all,
    save_and_stop,
)

SAVE_WIDGET_STATE = {"@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True}}
SETUP = ("from modelarts_nb import sandbox\n"
         "sb = sandbox.start(delete_seconds=2)\n"
         "_ = sb.export_env()\n"
         "%load_ext modelarts_nb")
PANEL_CELL = "%pool_delete pool-02 --interval 0.5"
NAME = "reopen.ipynb"
# JupyterLab 3.6 logs this when a reloaded notebook's widget state names a model whose kernel
# is gone (the view is then drawn from the saved state all the same)
ALLOWED = (NB7_KNOWN_ERROR,)


def reopen_notebook(folder: Path) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in (SETUP, PANEL_CELL)]
    path = folder / NAME
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def delete_by_click(page: Page) -> None:
    run_all(page)
    panel = page.locator(".mnb-panel", has_text="pool-02")
    delete = panel.locator(".mnb-delete")
    expect(delete).to_be_visible()
    panel.locator(".mnb-confirm input").fill("pool-02")
    expect(delete).to_be_enabled()
    delete.click()
    expect(panel.locator(".mnb-status-line")).to_contain_text("DELETED: pool pool-02",
                                                              timeout=60_000)


def test_jupyterlab4_saved_widget_state_redraws_the_final_panel(tmp_path: Path) -> None:
    """With "Save Widget State Automatically" on, the reopened cell draws the panel itself,
    as it ended, with nothing that looks clickable."""
    server = JupyterServer([reopen_notebook(tmp_path)], settings=SAVE_WIDGET_STATE)
    with server, browser_for(server, "jupyterlab4-reopen-state") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        delete_by_click(page)
        expect(page.locator(".mnb-note")).to_be_hidden()  # hidden while the panel is drawn
        saved = save_and_stop(page, server, NAME, until=lambda notebook: "DELETED: pool pool-02"
                              in json.dumps(notebook["metadata"].get("widgets", {})))
        assert_nothing_secret(saved)
        assert "widgets" in saved["metadata"]
        reload(page)
        panel = page.locator(".mnb-panel", has_text="pool-02")
        expect(panel.locator(".mnb-status-line")).to_contain_text("DELETED: pool pool-02")
        expect(panel.locator(".mnb-status-line")).to_contain_text("The pool is gone.")
        # a record, not a form: nothing left that looks like it would act
        expect(panel.locator(".mnb-delete:visible, .mnb-cancel:visible, .mnb-stop:visible"))\
            .to_have_count(0)
        expect(page.locator(".mnb-note")).to_be_hidden()  # the panel is drawn: no note
        expect(page.get_by_text("Error displaying widget")).to_have_count(0)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".jp-Cell").nth(1).screenshot(
            path=str(ARTIFACTS / "jupyterlab4-state-reopened.png"))
    assert_clean(browser, server)


def test_jupyterlab4_restarted_kernel_leaves_panels_inert(tmp_path: Path) -> None:
    """The views outlive a restarted kernel: the panel must not keep buttons that look like
    they would act, and says why."""
    server = JupyterServer([reopen_notebook(tmp_path)])
    with server, browser_for(server, "jupyterlab4-restart") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        run_all(page)
        panel = page.locator(".mnb-panel", has_text="pool-02")
        expect(panel.locator(".mnb-cancel")).to_be_enabled()
        panel.locator(".mnb-confirm input").fill("pool-02")
        expect(panel.locator(".mnb-delete")).to_be_enabled()
        (kernel,) = server.api("GET", "/api/kernels").json()
        assert server.api("POST", f"/api/kernels/{kernel['id']}/restart").status_code == 200
        expect(panel.locator(".mnb-kernel-stopped")).to_contain_text(
            "The kernel that drew this panel has stopped")
        for button in ("mnb-delete", "mnb-cancel"):
            expect(panel.locator(f".{button}")).to_be_disabled()
        expect(panel.locator(".mnb-confirm input")).to_be_disabled()
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / "jupyterlab4-restarted.png"))
    assert_clean(browser, server)
