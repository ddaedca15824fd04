"""The look both panels share: colours, stylesheets, the phase badge and the fixed words.

Why it exists: a pool's panel (``panel``), the ``%pools`` panel (``pools_panel``) and the HTML
copies of both (``render``, ``pools_rows``) draw a phase, a warning, a button, a server string
and a panel whose kernel is gone with the same colours and words. They are chosen here once:
change one and every view follows. Colours come from JupyterLab's CSS variables, each with a
fallback of the same shade for VS Code and the classic Notebook, and every text reaches 4.5:1
(WCAG AA) in the light and the dark themes (``tests/test_theme_contrast.py`` reads these
stylesheets; ``tests/browser/test_browser_panels_look.py`` measures them on the page).

In order: server strings as inert HTML (``html_text``); dark themes and the shared rules
(``on_dark``, ``table_rules``, ``button_colours``); the phase badge (``phase_badge``); the fixed
texts (``KERNEL_GONE``, ``NOTE_HELP``, ``ACK_WORDS``); the two stylesheets (``PANEL_STYLE``,
``POOLS_STYLE``), each with the rules of a panel whose kernel is gone.
"""

from __future__ import annotations

import html
import re

from ..gateway.text import one_line

__all__ = [
    "ACK_WORDS", "COLUMNS", "KERNEL_GONE", "NOTE_HELP", "PANEL_STYLE", "PHASE_BORDERS",
    "POOLS_STYLE", "button_colours", "html_plain", "html_text", "kernel_gone_html",
    "kernel_stopped_html", "on_dark", "phase_badge", "table_rules",
]

# -- server strings in our HTML ---------------------------------------------------------------


def html_text(value: object, limit: int = 300) -> str:
    """A server string inside widget HTML: one line, capped, escaped — and no maths. ipywidgets
    typesets descriptions and HTML values with MathJax, and ipywidgets 8 first pairs up every
    ``$`` of a description's source (across tags) as maths: so ``$`` and ``\\`` become
    character references (no ``$`` in the source) each in its own span (no two in one text run
    when MathJax reads the page)."""
    text = str(value)
    flat = text if len(text) <= limit and text.isprintable() else one_line(text, limit)
    escaped = html.escape(flat)
    if "$" in escaped or "\\" in escaped:
        escaped = escaped.replace("$", "<span>&#36;</span>").replace("\\", "<span>&#92;</span>")
    return escaped


def html_plain(value: str) -> str:
    """What an HTML value built with ``html_text`` reads as (tags out, references decoded)."""
    return html.unescape(re.sub(r"<[^>]*>", "", value))


# -- dark themes and shared rules -------------------------------------------------------------

# Dark themes: JupyterLab 3/4 and Notebook 7 mark the body, VS Code too. Their colour variables
# differ per theme, but a single one is never readable on both: the red that reads on white
# (--jp-error-color0) is too dark on #111, the one that reads on #111 (--jp-error-color2) too
# light on white; so each theme picks its own variable, each with a fallback of the same shade.
_DARK = ('body[data-jp-theme-light="false"] {0}', "body.vscode-dark {0}",
         "body.vscode-high-contrast:not(.vscode-high-contrast-light) {0}")
_BORDER = "var(--jp-border-color2,rgba(128,128,128,.35))"


def on_dark(selector: str) -> str:
    """``selector`` under each dark theme's body (JupyterLab 3/4, Notebook 7, VS Code)."""
    return ",".join(d.format(s.strip()) for s in selector.split(",") for d in _DARK)


def table_rules(scopes: tuple[str, ...], part: str) -> str:
    """Selectors for ``part`` (e.g. ``th``) of our tables under each scope, written to win over
    the table styles of the page: pandas ships ``.dataframe thead th {text-align: right}`` with
    every DataFrame shown (its ``<style scoped>`` applies to the whole page, and our resource
    tables are DataFrames: class ``dataframe``), and JupyterLab right-aligns every cell of
    rendered HTML (``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th``): both weigh at
    most two classes, our ``<scope> table.mnb-table th`` two classes and two elements."""
    return ",".join(f"{scope} table.mnb-table {p.strip()}" for scope in scopes
                    for p in part.split(","))


def button_colours(scope: str) -> str:
    """Stock ipywidgets buttons (7 and 8) put white on JupyterLab's mid-tone accents: 3.5:1 on
    the info cyan (Refresh, Back), 2.7:1 on the warning orange (Stop). Within ``scope`` the info
    buttons take the darker accent in light themes (white on it: 7.4:1), and the warning
    buttons black text on their orange (7.8:1); in dark themes every coloured button has black
    text on its stock accent (at least 5.7:1). A disabled button (inactive: no contrast
    requirement in WCAG) keeps ipywidgets' dimming."""
    info, warn, danger = (f"{scope} .jupyter-button.mod-{kind}"
                          for kind in ("info", "warning", "danger"))
    return (f"{info}{{background-color:var(--jp-info-color0,#006064);"
            "color:var(--jp-ui-inverse-font-color0,#fff)}"
            f"{warn}{{color:var(--jp-ui-font-color0,#000)}}"
            f"{on_dark(info)}{{background-color:var(--jp-info-color1,#00bcd4)}}"
            f"{on_dark(info)},{on_dark(warn)},{on_dark(danger)}"
            "{color:var(--jp-ui-inverse-font-color0,#000)}")


# -- the phase badge --------------------------------------------------------------------------

_GOOD, _BUSY = "var(--jp-success-color1,#388e3c)", "var(--jp-brand-color1,#1976d2)"
_WARN, _BAD = "var(--jp-warn-color1,#f57c00)", "var(--jp-error-color1,#d32f2f)"
_NO_PHASE = "var(--jp-border-color1,#757575)"
# A badge's border only (its text keeps the theme's colour): the theme's own accents.
PHASE_BORDERS = {"Running": _GOOD, "Creating": _BUSY, "Waiting": _BUSY, "Deleting": _WARN,
                 "Abnormal": _BAD, "Error": _BAD, "CreationFailed": _BAD, "ScalingFailed": _BAD,
                 "Deleted": _NO_PHASE}
_BADGE = ".mnb-phase{border-radius:8px;padding:0 7px;font-weight:600;white-space:nowrap}"


def phase_badge(phase: str | None, *, stale: bool = False) -> str:
    """A pool's phase as every view draws it: outlined text, readable in any theme (the text
    keeps the theme's colour; only the border carries the phase's). ``stale``: the phase as
    last seen, not now (a dashed border, "last seen …"). Its shape is the stylesheets'
    (``.mnb-phase``), so a row of the ``%pools`` table carries only its colour."""
    colour = PHASE_BORDERS.get(phase or "", _NO_PHASE)
    label = f"last seen {phase or 'unknown'}" if stale else (phase or "unknown")
    line = "dashed" if stale else "solid"
    return (f'<span class="mnb-phase" style="border:2px {line} {colour};color:inherit">'
            f"{html_text(label, 60)}</span>")


# -- fixed texts ------------------------------------------------------------------------------

# One wording for every panel, live (the exit hook's line) or reopened (``kernel_gone_html``).
KERNEL_GONE = (
    "The kernel that drew this panel has stopped: nothing here acts any more. Run the cell "
    "again to see the pools as they are now; %pools --history lists what was deleted (the "
    "receipts)."
)
# What the note under a panel adds, where the panel's view cannot be drawn (display.StaticCopy).
NOTE_HELP = (
    "The live panel needs the kernel that drew it: run the cell again to see the pool as it is "
    "now; %pools --history lists what was deleted from this notebook."
)
# The acknowledgement's first words: never "Stop", which is the name of the button that ends a
# watch or a batch, not of agreeing to end the work a pool runs.
ACK_WORDS = "Also end"


def kernel_gone_html() -> str:
    """The line a panel shows only once its kernel is gone (the stylesheets' gone rules)."""
    text = html.escape(KERNEL_GONE).replace(
        "%pools --history", "<code style='white-space:nowrap'>%pools --history</code>")
    return f"<div class='mnb-kernel-gone'>{text}</div>"


def kernel_stopped_html() -> str:
    """The line the kernel-exit hook writes at the top of a panel (it hides the one above)."""
    return f"<div class='mnb-kernel-stopped'><b>{html.escape(KERNEL_GONE)}</b></div>"


# -- the stylesheets --------------------------------------------------------------------------

# For both panels (class ``mnb-gone-aware``): once their kernel is gone — restarted, shut down,
# or a notebook reopened from its saved widget state — ipywidgets marks every view
# ``.jupyter-widgets-disconnected`` and puts a red broken-link icon before each (one per row of
# a 500-pool list). The panel says it once instead (``kernel_gone_html``), every control looks
# and is inert, and the acknowledgement's sentence wraps and toggles its box.
_GONE = (
    ".mnb-gone-aware .mnb-kernel-gone{display:none}"
    # the exit hook may have written its own line first: one note, not two
    ".mnb-gone-aware .mnb-kernel-stopped~.mnb-kernel-gone{display:none!important}"
    ".mnb-gone-aware .jupyter-widgets-disconnected::before,"
    ".mnb-gone-aware.jupyter-widgets-disconnected::before{display:none!important}"
    ".mnb-gone-aware.jupyter-widgets-disconnected .mnb-kernel-gone{display:block;"
    "font-weight:600;padding:4px 6px;margin:4px 0;"
    "border-left:4px solid var(--jp-warn-color0,#e65100)}"
    ".mnb-gone-aware.jupyter-widgets-disconnected :is(.widget-button,input,.widget-checkbox,"
    ".widget-text,label){pointer-events:none!important;cursor:default}"
    ".mnb-gone-aware.jupyter-widgets-disconnected :is(.widget-button,input,.widget-text)"
    "{opacity:.45}"
    ".mnb-gone-aware .mnb-ack-box{max-width:100%}"
    ".mnb-gone-aware .mnb-ack-box,.mnb-gone-aware .mnb-ack-box :is(label,span)"
    "{white-space:normal!important;overflow:visible!important;text-overflow:clip!important;"
    "height:auto!important;max-width:100%;cursor:pointer;line-height:1.4}"
)
_ERROR = ".mnb-s-failed,.mnb-s-refused,.mnb-consequences,.mnb-refused"
_SCOPES = (".mnb-panel", ".mnb-card")
# A pool's panel and the HTML copies: buttons never cut their labels (rows wrap). Narrow cells
# (700 px with the file browser open leaves ~330 px): the panel is as wide as its cell and no
# wider (inline-size containment: its content never widens the output area; and width 100%,
# so that in a box that sizes to its content it still fills the cell), every HTML part may
# shrink to it, and a resource table keeps one line a row and scrolls sideways in its own box —
# so every row, the abnormal one too, stays in sight.
PANEL_STYLE = (
    "<style>"
    ".mnb-panel,.mnb-card{color:var(--jp-ui-font-color1,inherit)}"
    f".mnb-panel{{border:1px solid {_BORDER};padding:6px;box-sizing:border-box;"
    "width:100%;max-width:100%;contain:inline-size}"
    ".mnb-panel .widget-html,.mnb-panel .widget-html-content{min-width:0;max-width:100%}"
    ".mnb-header{color:var(--jp-ui-font-color1,inherit);line-height:1.5}"
    ".mnb-table{border-collapse:collapse;font-size:12px;margin:2px 0 8px;color:inherit}"
    + table_rules(_SCOPES, "th,td")
    + f"{{padding:2px 8px;border-bottom:1px solid {_BORDER};text-align:left;"
    "vertical-align:top;color:inherit;line-height:1.4;max-width:none;"
    "overflow-wrap:anywhere;white-space:normal}"
    + table_rules(_SCOPES, "th")
    + "{background:var(--jp-layout-color2,rgba(128,128,128,.15));"
    "color:var(--jp-ui-font-color1,inherit);position:sticky;top:0}"
    + ",".join(f"{scope} table.mnb-table" for scope in _SCOPES)
    + "{margin:2px 0 8px;table-layout:auto;font-size:12px}"
    ".mnb-scroll{max-height:320px;max-width:100%;overflow:auto}"
    + table_rules(tuple(f"{scope} .mnb-scroll" for scope in _SCOPES), "th,td")
    + "{white-space:nowrap;overflow-wrap:normal}"
    ".mnb-status{color:var(--jp-ui-font-color1,inherit);line-height:1.5}"
    # ids, URLs and request ids are long words: they wrap rather than run out of a narrow cell
    ".mnb-status,.mnb-header,.mnb-refused,.mnb-consequences{overflow-wrap:anywhere;"
    "word-break:break-word;white-space:normal}"
    ".mnb-s-deleted{color:var(--jp-success-color0,#1b5e20)}"
    f"{_ERROR}{{color:var(--jp-error-color0,#b71c1c)}}"
    f"{on_dark('.mnb-s-deleted')}{{color:var(--jp-success-color2,#81c784)}}"
    f"{on_dark(_ERROR)}{{color:var(--jp-error-color2,#e57373)}}"
    + button_colours(".mnb-panel")
    + _BADGE
    + ".mnb-panel .widget-html-content{line-height:1.5}"
    ".mnb-panel .widget-button{width:auto;min-width:max-content;flex:0 0 auto}"
    ".mnb-panel .mnb-row{flex-flow:row wrap;gap:4px 0}"
    + _GONE
    + "</style>"
)

# The %pools table's columns, (class, header, width in px): the row cells and the column
# headers share them. The note and the tags are wide enough for what they usually say ("runs 3
# training jobs and 1 sub-pool (infer-cpu)", "course=ml101, student=s42"); longer ones end in
# "…", whole in the tooltip.
COLUMNS = (
    ("name", "pool", 170), ("phase", "phase", 136), ("note", "note", 340), ("tags", "tags", 220),
    ("age", "age", 84), ("nodes", "nodes", 170), ("billing", "billing", 112),
    ("type", "type", 80), ("id", "id", 330),
)
_ROW_PX = 24
# Below this panel width the note (why a row cannot be ticked, what deleting it stops) would be
# off to the right of pool and phase: it goes under them instead (see _NARROW).
_NARROW_PX = 700
_P = ".mnb-pools-panel"
# Text colours, each at least 4.5:1 (WCAG AA) on the panel's backgrounds, a hovered row's
# included, in JupyterLab's light and dark themes: no single theme red or orange reads on both
# white and #212121, so each theme gets its own (on_dark); no theme orange reaches 4.5:1 on
# white at all (--jp-warn-color0 is 3.8:1), so the light one is a fixed burnt orange (6.1:1 on
# white, 5.3:1 on a hovered row).
_POOLS_COLOURS = (
    f"{_P} .mnb-why{{color:var(--jp-error-color0,#b71c1c)}}"
    f"{on_dark(f'{_P} .mnb-why')}{{color:var(--jp-error-color2,#e57373)}}"
    f"{_P} .mnb-work{{color:#a84300;font-weight:600}}"
    f"{on_dark(f'{_P} .mnb-work')}{{color:var(--jp-warn-color2,#ffb74d)}}"
    f"{_P} .mnb-muted{{color:var(--jp-ui-font-color2,inherit)}}"
    + button_colours(_P)
)
# The panel is as wide as its cell and never wider (inline-size containment, as a container of
# the query below): its rows scroll sideways inside their own box, the texts wrap. In a narrow
# one (a 700 px window with the file browser open leaves ~330 px) each row puts its note on a
# line of its own under the pool's name, as wide as the panel, so why a pool cannot be ticked
# is in sight without scrolling; the other cells stay on the first line.
_NARROW = (
    f"@container mnb-pools (max-width:{_NARROW_PX}px){{"
    f"{_P} .mnb-rows>.widget-checkbox{{height:auto!important;min-height:{_ROW_PX}px}}"
    f"{_P} .mnb-rows .widget-label-basic{{height:auto;align-items:flex-start}}"
    f"{_P} .mnb-rows input[type=checkbox]{{margin-top:5px;align-self:flex-start}}"
    f"{_P} .mnb-row{{display:grid;grid-template-columns:repeat({len(COLUMNS) - 1},max-content);"
    "align-items:center}"
    f"{_P} .mnb-row>.mnb-c{{grid-row:1}}"
    f"{_P} .mnb-c-name{{width:160px}}{_P} .mnb-c-phase{{width:126px}}"
    f"{_P} .mnb-row>.mnb-c-note{{grid-row:2;grid-column:1/-1;width:auto;"
    "max-width:calc(100cqw - 52px);white-space:normal;overflow-wrap:anywhere;"
    "line-height:1.35;padding-bottom:4px}"
    f"{_P} .mnb-row>.mnb-c-note:empty{{display:none}}"
    f"{_P} .mnb-head .mnb-c-note{{display:none}}"
    "}"
)
# Rows: each a Checkbox whose description is the row (pools_rows.row_html), in a box that
# scrolls both ways under sticky column headers; column widths from COLUMNS.
_ROWS = (
    f"{_P} .mnb-rows{{border:1px solid {_BORDER};"
    "background:var(--jp-layout-color1,transparent)}"
    f"{_P} .mnb-rows>.widget-checkbox{{flex:0 0 auto!important;"
    f"width:max-content!important;min-width:100%;height:{_ROW_PX}px!important;margin:0;"
    f"padding:0;line-height:{_ROW_PX}px}}"
    f"{_P} .mnb-rows>.widget-checkbox:hover{{background:rgba(128,128,128,.12)}}"
    f"{_P} .mnb-rows .widget-label-basic{{display:flex;align-items:center;"
    f"overflow:visible;height:{_ROW_PX}px;line-height:{_ROW_PX}px;color:inherit;"
    "font-size:var(--jp-ui-font-size1,13px);cursor:pointer}"
    # the checkbox's tooltip is the raw description: hovering goes to the row's own title
    # instead; a click on the box still reaches it through its label
    f"{_P} .mnb-rows input[type=checkbox]{{pointer-events:none;flex:0 0 14px;"
    "width:14px;height:14px;margin:0 8px 0 6px}"
    f"{_P} .mnb-row{{display:flex;align-items:center;white-space:nowrap}}"
    f"{_P} .mnb-c{{display:inline-block;overflow:hidden;text-overflow:ellipsis;"
    "white-space:nowrap;padding-right:10px;box-sizing:border-box;flex:0 0 auto}"
    + "".join(f"{_P} .mnb-c-{name}{{width:{px}px}}" for name, _, px in COLUMNS)
    + f"{_P} .mnb-row .mnb-c-name{{font-weight:600}}"
    f"{_P} .mnb-c-id{{font-family:var(--jp-code-font-family,monospace);font-size:12px}}"
    f"{_P} .mnb-head{{position:sticky;top:0;z-index:2;flex:0 0 auto!important;"
    "width:max-content!important;min-width:100%;margin:0!important;"
    f"background:var(--jp-layout-color2,Canvas);border-bottom:1px solid {_BORDER}}}"
    f"{_P} .mnb-head .mnb-row{{padding-left:28px;font-weight:600;"
    f"line-height:{_ROW_PX}px}}"
    f"{_P} .mnb-phase{{font-size:12px;line-height:18px}}"
)
# The %pools panel: as wide as its cell, its rows (above), its batch's status table.
POOLS_STYLE = (
    "<style>"
    f"{_P}{{color:var(--jp-ui-font-color1,inherit);"
    f"border:1px solid {_BORDER};padding:6px;box-sizing:border-box;width:100%;max-width:100%;"
    "container-type:inline-size;container-name:mnb-pools}"
    # (not the column headers: they are as wide as the rows, inside the rows' box)
    f"{_P} .widget-html:not(.mnb-head),{_P} .widget-html:not(.mnb-head)>.widget-html-content"
    "{min-width:0;max-width:100%}"
    f"{_P} .mnb-pools-title .widget-html-content,{_P} .mnb-hint .widget-html-content,"
    f"{_P} .mnb-bulk-confirmation .widget-html-content,{_P} .mnb-stop-note .widget-html-content"
    "{white-space:normal;overflow-wrap:anywhere}"
    + _ROWS
    + _BADGE
    + _POOLS_COLOURS
    + f"{_P} .mnb-table{{border-collapse:collapse;font-size:12px;margin:2px 0 8px;"
    "color:inherit}"
    + table_rules((_P,), "th,td")
    + f"{{padding:2px 8px;border-bottom:1px solid {_BORDER};text-align:left;white-space:nowrap;"
    "max-width:420px;overflow:hidden;text-overflow:ellipsis;vertical-align:middle}"
    + table_rules((_P,), "th")
    + "{background:var(--jp-layout-color2,Canvas);position:sticky;top:0}"
    f"{_P} .mnb-status-scroll{{max-height:320px;max-width:100%;overflow:auto}}"
    f"{_P} .mnb-summary{{white-space:pre-wrap;overflow-wrap:anywhere}}"
    f"{_P} .widget-button{{width:auto;min-width:max-content}}"
    f"{_P} .mnb-progress{{max-width:100%}}"
    # texts that wrap (title, confirmation, hints) read better at a line height of their own
    f"{_P} .widget-html-content{{line-height:1.5;padding:2px 0}}"
    f"{_P} .mnb-head .widget-html-content{{padding:0}}"
    + _NARROW
    + _GONE
    + "</style>"
)
