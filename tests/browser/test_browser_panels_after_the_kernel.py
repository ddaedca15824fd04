"""Both panels tell the truth once their kernel is gone, and the confirmation says what is missing.

What only a browser shows: after a kernel restart in the middle of a ``%pools`` batch, and in a
notebook reopened from its saved widget state, the list panel says once that its kernel has
stopped (no red broken-link icon on each of its rows), nothing in it reacts to a click, and it
names where the receipts are. The single-pool panel's acknowledgement is a sentence a click
anywhere on toggles, and Enter with a step missing says which. JupyterLab 4 (ipywidgets 8) and
JupyterLab 3.6 (ipywidgets 7.8, ``.venv-compat``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import JupyterServer
from .test_browser import (
    ARTIFACTS,
    COMPAT_JUPYTER,
    assert_clean,
    browser_for,
    open_notebook,
    reload,
    run_all,
    save_and_stop,
)
from .test_browser_bulk import DOCS, pool_row
from .test_browser_reopen import ALLOWED, SAVE_WIDGET_STATE

NAME = "truth.ipynb"
# Deletions last 30 s unless a test says otherwise: a batch is still running when the kernel
# restarts; a test that only needs the deletion done asks for 2 s (no minute spent waiting).
SETUP = ("from modelarts_nb import sandbox\n"
         "sb = sandbox.start(delete_seconds={delete_seconds})\n"
         "_ = sb.export_env()\n"
         "%load_ext modelarts_nb")
# The broken-link icons ipywidgets draws before every disconnected view, as the page shows them.
ICONS_JS = """(panel) => [panel, ...panel.querySelectorAll('.jupyter-widgets-disconnected')]
  .filter(el => el.classList.contains('jupyter-widgets-disconnected'))
  .filter(el => { const s = getComputedStyle(el, '::before');
                  return s.display !== 'none' && s.content !== 'none' && s.content !== ''; })
  .length"""
GONE = "has stopped: nothing here acts any more"
STACKS = [pytest.param(None, id="jupyterlab4"), pytest.param(COMPAT_JUPYTER, id="jupyterlab3")]


def notebook(folder: Path, *cells: str, delete_seconds: float = 30) -> Path:
    sources = (SETUP.format(delete_seconds=delete_seconds), *cells)
    path = folder / NAME
    path.write_text(json.dumps({"cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": source} for source in sources],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return path


def server_for(path: Path, jupyter: Path | None, **kw: object) -> JupyterServer:
    if jupyter is not None and not jupyter.is_file():
        pytest.fail(f"{jupyter} is missing: run `make compat` (tests/browser/compat_env.sh)")
    return JupyterServer([path], **({"jupyter": jupyter} if jupyter else {}), **kw)


def row(panel: Locator, name: str) -> Locator:
    return pool_row(panel, name)


def tick(panel: Locator, name: str) -> None:
    """As a user ticks a row: a click on its name (the whole row is the box's label)."""
    row(panel, name).locator(".mnb-c-name").click()
    expect(row(panel, name).locator("input")).to_be_checked()


def assert_inert(page: Page, panel: Locator) -> None:
    """Said once, no icon per row, and a click on a row ticks nothing."""
    expect(panel.get_by_text(GONE).filter(visible=True)).to_have_count(1)
    expect(panel).to_contain_text("%pools --history")
    assert panel.evaluate(ICONS_JS) == 0
    box = row(panel, "pool-03").locator("input")
    before = box.is_checked()
    where = row(panel, "pool-03").locator(".mnb-c-name").bounding_box()
    assert where is not None
    page.mouse.click(where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)
    page.wait_for_timeout(300)
    assert box.is_checked() == before


@pytest.mark.parametrize("jupyter", STACKS)
def test_a_pools_panel_restarted_mid_batch_says_its_kernel_stopped(tmp_path, jupyter):
    server = server_for(notebook(tmp_path, "%pools --interval 0.5"), jupyter)
    with server, browser_for(server, "pools-restart") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        run_all(page)
        panel = page.locator(".mnb-pools-panel")
        for name in ("pool-01", "pool-02"):
            tick(panel, name)
        panel.locator(".mnb-bulk-confirm input").fill("delete 2 pools")
        panel.locator(".mnb-bulk-delete").click()
        expect(panel.locator(".mnb-stop")).to_be_enabled()
        page.wait_for_timeout(700)
        (kernel,) = server.api("GET", "/api/kernels").json()
        assert server.api("POST", f"/api/kernels/{kernel['id']}/restart").status_code == 200
        expect(panel.locator(".mnb-kernel-stopped")).to_contain_text(
            "The kernel that drew this panel has stopped")
        expect(panel.locator(".mnb-stop:enabled, .mnb-back:enabled")).to_have_count(0)
        expect(panel.locator(".mnb-progress-text")).not_to_contain_text("waiting")
        expect(panel.get_by_text(GONE).filter(visible=True)).to_have_count(1)
        assert panel.evaluate(ICONS_JS) == 0
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / f"pools-restarted-{jupyter is None}.png"))
    assert_clean(browser, server, allowed=ALLOWED)


@pytest.mark.parametrize("jupyter", STACKS)
def test_a_pools_panel_reopened_from_saved_widget_state_is_inert_and_says_so(tmp_path, jupyter):
    server = server_for(notebook(tmp_path, "%pools"), jupyter, settings=SAVE_WIDGET_STATE)
    with server, browser_for(server, "pools-reopen") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        run_all(page)
        panel = page.locator(".mnb-pools-panel")
        tick(panel, "pool-01")
        expect(panel.locator(".mnb-selected-count")).to_contain_text("1 of")
        save_and_stop(page, server, NAME, until=lambda notebook: "widgets" in notebook["metadata"])
        reload(page)
        panel = page.locator(".mnb-pools-panel")
        expect(panel).to_be_visible()
        assert_inert(page, panel)
        ARTIFACTS.mkdir(exist_ok=True)
        panel.screenshot(path=str(ARTIFACTS / f"pools-reopened-{jupyter is None}.png"))
    assert_clean(browser, server, allowed=ALLOWED)


@pytest.mark.parametrize("jupyter", STACKS)
def test_the_acknowledgement_sentence_toggles_and_enter_says_what_is_missing(tmp_path, jupyter):
    """A pool with running work: the typed name alone leaves Delete disabled and the line says
    what is missing; a click on the sentence that names what stops ticks it; Enter deletes."""
    server = server_for(notebook(tmp_path, "%pool_delete train-gpu --interval 0.5",
                                        delete_seconds=2), jupyter)
    with server, browser_for(server, "ack-enter") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        run_all(page)
        panel = page.locator(".mnb-panel", has_text="train-gpu")
        ack, missing = panel.locator(".mnb-ack"), panel.locator(".mnb-missing")
        expect(ack).to_contain_text("Also end 3 training jobs and 1 sub-pool (infer-cpu)")
        expect(panel.locator(".mnb-impact")).to_contain_text("resnet50-finetune")
        typed = panel.locator(".mnb-confirm input")
        typed.fill("train-gpu")
        expect(missing).to_contain_text("To enable Delete, tick “Also end")
        expect(panel.locator(".mnb-delete")).to_be_disabled()  # the typed name alone is not enough
        typed.press("Enter")
        expect(missing).to_contain_text("Enter: nothing was sent.")
        sentence = ack.get_by_text("Also end 3 training jobs and 1 sub-pool (infer-cpu)")
        box, words = ack.locator("input").bounding_box(), sentence.bounding_box()
        assert box and words and words["height"] < 3 * box["height"]  # one or two lines, whole
        sentence.click()  # the words, not the box
        expect(ack.locator("input")).to_be_checked()
        expect(missing).to_contain_text("Ready: press Enter or click Delete pool.")
        typed.press("Enter")
        expect(panel.locator(".mnb-status-line")).to_contain_text(
            "DELETED: pool train-gpu", timeout=60_000)
    assert_clean(browser, server, allowed=ALLOWED)


def test_history_shows_one_line_per_deletion_in_jupyterlab4(tmp_path):
    """``%pools --history`` after two deletions: one line a row in the notebook, and the
    README's picture of it (``make screenshots``)."""
    cells = ("import os, tempfile\n"
             "os.environ['MODELARTS_NB_RECEIPTS'] = os.path.join(tempfile.mkdtemp(), 'r.jsonl')",
             "%pool_delete pool-01 --yes --interval 0.2",
             "%pool_delete pool-02 --yes --interval 0.2",
             "%pools --history")
    server = server_for(notebook(tmp_path, *cells, delete_seconds=2), None)
    with server, browser_for(server, "history") as browser:
        page = browser.page
        open_notebook(page, server, f"/lab/tree/{NAME}")
        run_all(page)
        table = page.locator(".mnb-history table")
        expect(table.locator("tbody tr")).to_have_count(2, timeout=120_000)
        for row_box in table.locator("tbody tr").all():
            box = row_box.bounding_box()
            assert box is not None and box["height"] < 24, box  # one line of 12 px text
        expect(table).to_contain_text("pool-01")
        expect(table).to_contain_text("%pool_delete --yes")
        DOCS.mkdir(exist_ok=True)
        page.locator(".jp-Cell").last.screenshot(path=str(DOCS / "history.png"))
    assert_clean(browser, server, allowed=ALLOWED)
