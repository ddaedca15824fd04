"""What a panel leaves in the notebook besides its widgets: the note shown where the widget
view cannot be drawn, and what happens to a displayed panel when its kernel stops."""

from __future__ import annotations

import ipywidgets as widgets

from modelarts_nb.notebook import display
from modelarts_nb.notebook.theme import KERNEL_GONE, NOTE_HELP


def _controls(root: widgets.Widget) -> list[widgets.Widget]:
    found, stack = [], [root]
    while stack:
        widget = stack.pop()
        stack.extend(getattr(widget, "children", ()))
        if widget is not root and hasattr(widget, "disabled"):
            found.append(widget)
    return found


def test_kernel_exit_leaves_every_shown_panel_inert_and_says_why(shell, env_sandbox):
    single = shell.run_line_magic("pool_delete", "pool-01")
    many = shell.run_line_magic("pools", "")
    never_shown = shell.run_line_magic("pool_delete", "pool-02")
    single.show()
    many.show()
    assert not single.cancel_button.disabled and not single.typed.disabled

    display._on_kernel_exit()  # what the atexit hook runs when the kernel stops or restarts

    for panel in (single, many):
        controls = _controls(panel)
        assert len(controls) >= 3 and all(c.disabled for c in controls), panel
        assert KERNEL_GONE.split(":")[0] in display.html_plain(panel.children[0].value)
    assert not never_shown.cancel_button.disabled  # only what the page shows is touched
    for panel in (single, many, never_shown):
        panel.close()


def test_the_note_names_the_last_state_and_hides_only_beside_its_own_panel(shell, env_sandbox):
    panel = shell.run_line_magic("pool_delete", "pool-01")
    note = panel.note_bundle()
    assert note["text/plain"].startswith("Last seen by this cell: REVIEW: pool pool-01 (")
    assert note["text/plain"].endswith(NOTE_HELP)
    # the <style> hides this note only while this very panel's view is on the page
    assert f"body:has(.mnb-live-{panel.model_id}) .mnb-note-{panel.model_id}" in note["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in note
    panel.show()
    assert f"mnb-live-{panel.model_id}" in panel._dom_classes
    panel.close()


def test_kernel_exit_also_disables_a_control_a_finishing_run_is_about_to_show(shell, env_sandbox):
    """A batch ending while the kernel exits may put "Back to the list" on the page after the
    panel went inert (its thread was past the redraw's lookup): that button is disabled too."""
    many = shell.run_line_magic("pools", "")
    many.show()
    assert many.back_button not in _controls(many) and not many.back_button.disabled

    display._on_kernel_exit()

    assert many.back_button.disabled
    many.close()
