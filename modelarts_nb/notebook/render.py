"""Text and HTML views of a pool and of a deletion, shared by the panel and the text path.

Everything a person must see before deleting — both names, billing mode, the phase, the node
count, the consequences and the two resource tables — is rendered here once, as plain text (for
terminals, logs and saved notebooks) and as HTML (for the panel and nbconvert/GitHub).
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime

from ..deletion.flow import DeleteFlow, Step
from ..deletion.impact import Impact
from ..deletion.lookup import told_apart
from ..gateway.errors import DeletionFailed, WaitTimeout
from ..gateway.models import Pool, pool_details, subscription
from ..gateway.names import is_loopback_host
from ..gateway.text import one_line
from .display import KERNEL_GONE, html_text, kernel_gone_html
from .tables import spec_resources_table, status_resources_table

__all__ = [
    "KERNEL_GONE",
    "kernel_gone_html",
    "on_dark",
    "PANEL_STYLE",
    "PHASE_COLOURS",
    "button_colours",
    "candidates_html",
    "confirm_prompt_html",
    "consequences",
    "console_url",
    "delete_note",
    "details_html",
    "details_lines",
    "flow_html",
    "flow_text",
    "impact_html",
    "impact_lines",
    "phase_badge",
    "pool_html",
    "pool_text",
    "refusal_html",
    "server_took",
    "subscription_text",
    "table_rules",
    "tables_html",
]

PHASE_COLOURS = {  # filled badges of the %pools panel (white text); ours are outlined
    "Running": "#2e7d32",
    "Creating": "#1565c0",
    "Waiting": "#1565c0",
    "Deleting": "#b45309",  # white on it: 5.0:1 (the lighter #ef6c00 gave 3.0:1)
    "Abnormal": "#c62828",
    "Error": "#c62828",
    "CreationFailed": "#c62828",
    "ScalingFailed": "#c62828",
    "Deleted": "#546e7a",
}
# Dark themes: JupyterLab 3/4 and Notebook 7 mark the body, VS Code too. Their colour variables
# differ per theme, but a single one is never readable on both: the red that reads on white
# (--jp-error-color0) is too dark on #111, the one that reads on #111 (--jp-error-color2) too
# light on white; so each theme picks its own variable, each with a fallback of the same shade.
_DARK = ('body[data-jp-theme-light="false"] {0}', "body.vscode-dark {0}",
         "body.vscode-high-contrast:not(.vscode-high-contrast-light) {0}")


def _dark(selector: str) -> str:
    return ",".join(d.format(s.strip()) for s in selector.split(",") for d in _DARK)


_ERROR = ".mnb-s-failed,.mnb-s-refused,.mnb-consequences,.mnb-refused"
_BORDER = "var(--jp-border-color2,rgba(128,128,128,.35))"


def on_dark(selector: str) -> str:
    """``selector`` under each dark theme's body (JupyterLab 3/4, Notebook 7, VS Code)."""
    return _dark(selector)


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
            f"{_dark(info)}{{background-color:var(--jp-info-color1,#00bcd4)}}"
            f"{_dark(info)},{_dark(warn)},{_dark(danger)}"
            "{color:var(--jp-ui-inverse-font-color0,#000)}")


_SCOPES = (".mnb-panel", ".mnb-card")
# One stylesheet for the panel and the HTML copies: colours from JupyterLab's variables with
# fallbacks for VS Code / classic Notebook; buttons never cut their labels (rows wrap); a panel
# whose kernel is gone (ipywidgets marks each view .jupyter-widgets-disconnected) looks inert.
# Narrow cells (700 px with the file browser open leaves ~330 px): the panel is as wide as its
# cell and no wider (inline-size containment: its content never widens the output area; and
# width 100%, so that in a box that sizes to its content it still fills the cell), every
# HTML part may shrink to it, and a resource table keeps one line a row and scrolls sideways in
# its own box — so every row, the abnormal one too, stays in sight.
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
    f"{_dark('.mnb-s-deleted')}{{color:var(--jp-success-color2,#81c784)}}"
    f"{_dark(_ERROR)}{{color:var(--jp-error-color2,#e57373)}}"
    + button_colours(".mnb-panel") +
    ".mnb-panel .widget-html-content{line-height:1.5}"
    ".mnb-panel .widget-button{width:auto;min-width:max-content;flex:0 0 auto}"
    ".mnb-panel .mnb-row{flex-flow:row wrap;gap:4px 0}"
    ".mnb-kernel-gone{display:none}"
    # display.py's exit hook may have written its own line first: one note, not two
    ".mnb-kernel-stopped~.mnb-kernel-gone{display:none!important}"
    ".mnb-panel.jupyter-widgets-disconnected .mnb-kernel-gone{display:block;font-weight:600;"
    f"padding:4px 6px;margin:4px 0;border-left:4px solid {_BORDER}}}"
    ".mnb-panel.jupyter-widgets-disconnected .widget-button,"
    ".mnb-panel.jupyter-widgets-disconnected input{pointer-events:none;opacity:.45}"
    "</style>"
)


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"


def console_url(region: str | None, endpoint: str) -> str | None:
    """The ModelArts console for the region (None for the local sandbox)."""
    host = endpoint.split("://", 1)[-1].split("/")[0].rsplit(":", 1)[0]
    if is_loopback_host(host) or not region:
        return None
    # The console's pool page; the exact fragment is not documented (UNCONFIRMED).
    return f"https://console.huaweicloud.com/modelarts/?region={region}#/dedicatedResource"


def consequences(pool: Pool, impact: Impact | None = None) -> str:
    """The warning, matching the pool. Once the impact check read what runs on it, what it
    stops is said there (``impact_lines``), so this says only what cannot be undone — and a
    pool with nothing running is not said to stop every notebook; the generic warning stays
    only while that is unknown. The node count is the node list's when it was read (a
    CreationFailed pool may hold none)."""
    nodes = len(impact.nodes) if impact is not None and impact.nodes is not None else (
        pool.node_count)
    work_known = impact is not None and (impact.workloads is not None or bool(impact.counts))
    first = "Deleting it cannot be undone" if work_known else (
        "Deleting it stops every notebook, training job and inference service that uses this "
        "pool, and cannot be undone")
    held = (f"the pool and its {nodes} node{'s' if nodes != 1 else ''} (with their disks) "
            "cannot be restored" if nodes else "the pool cannot be restored (it holds no nodes)")
    return f"{first}: {held}."


def confirm_prompt_html(pool: Pool, impact: Impact | None = None) -> str:
    name = pool.display_name or pool.id
    return (
        f"<div class='mnb-consequences'><b>{_esc(consequences(pool, impact))}</b> To delete "
        f"it, type <code>{_esc(name)}</code> or the pool id below.</div>"
    )


_GOOD, _BUSY = "var(--jp-success-color1,#388e3c)", "var(--jp-brand-color1,#1976d2)"
_WARN, _BAD = "var(--jp-warn-color1,#f57c00)", "var(--jp-error-color1,#d32f2f)"
# A badge's border only (its text keeps the theme's colour): the theme's own accents.
_BADGE_BORDERS = {"Running": _GOOD, "Creating": _BUSY, "Waiting": _BUSY, "Deleting": _WARN,
                  "Abnormal": _BAD, "Error": _BAD, "CreationFailed": _BAD, "ScalingFailed": _BAD,
                  "Deleted": "var(--jp-border-color1,#757575)"}


def phase_badge(phase: str | None, *, stale: bool = False) -> str:
    """The phase as outlined text: readable in any theme (the text keeps the theme's colour;
    only the border carries the phase's). ``stale``: the phase as last seen, not now."""
    colour = _BADGE_BORDERS.get(phase or "", "var(--jp-border-color1,#757575)")
    label = f"last seen {phase or 'unknown'}" if stale else (phase or "unknown")
    return (
        f'<span class="mnb-phase" style="border:2px {"dashed" if stale else "solid"} {colour};'
        f'color:inherit;border-radius:8px;padding:0 7px;font-weight:600;white-space:nowrap">'
        f'{_esc(label)}</span>'
    )


def refusal_html(flow: DeleteFlow) -> str:
    """The one refusal a panel shows: why, and what to do instead (the names are in the
    header above it, so it says "this pool")."""
    why, how = flow.refusal_parts()
    todo = f" <b>What to do:</b> {_esc(_sentence(how))}" if how else ""
    held = subscription_text(flow.pool)
    which = f" <b>Subscription:</b> {_esc(_sentence(held))}" if held else ""
    return (f"<div class='mnb-refused'><b>Cannot be deleted here.</b> {_esc(_sentence(why))}"
            f"{todo}{which} Nothing was sent.</div>")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


def _facts(pool: Pool, nodes: int | None = None) -> list[tuple[str, str]]:
    """``nodes``: the node list's count once read (the pool's own counts may be its spec's)."""
    return [
        ("type", pool.type or "unknown"),
        ("scope", ", ".join(pool.scope) or "none"),
        ("billing", pool.billing_label),
        ("created", _when(pool.created)),
        ("nodes", str(pool.node_count if nodes is None else nodes)),
    ]


def pool_text(pool: Pool) -> str:
    """A plain-text card: names, facts, phase, consequences and both tables."""
    lines = [  # server strings stay on their line: a name never prints a line of its own
        f"Pool {one_line(pool.display_name or '(no display name)')}  id {one_line(pool.id)}",
        "  " + "  ".join(f"{k}: {one_line(v)}" for k, v in _facts(pool)),
        f"  phase: {one_line(pool.phase or 'unknown', 80)}"
        + (f" ({one_line(pool.message)})" if pool.message else ""),
    ]
    if pool.deleted:
        lines.append(f"  deletion requested: {_when(pool.deleted)}")
    for title, table in (("spec.resources", spec_resources_table(pool)),
                         ("status.resources", status_resources_table(pool))):
        body = "(none)" if table.empty else table.to_string(index=False)
        lines += ["", f"{title}:", body]
    details = details_lines(pool)
    if details:
        lines += ["", *details]
    if pool.problems:
        lines += ["", "The server's answer looked odd: " + "; ".join(pool.problems[:5])]
    return "\n".join(lines)


def tables_html(pool: Pool, *, note: str = "") -> str:
    """Both resource tables (the stylesheet is ``PANEL_STYLE``, shipped once by the caller)."""
    parts = [f"<div><i>{_esc(note)}</i></div>" if note else ""]
    for title, table in (("spec.resources", spec_resources_table(pool)),
                         ("status.resources", status_resources_table(pool))):
        rows = len(table)
        parts.append(f"<b>{title}</b> <small>({rows} row{'' if rows == 1 else 's'})</small>")
        if table.empty:
            parts.append("<div><i>none</i></div>")
        else:
            rendered = table.to_html(index=False, classes="mnb-table", border=0, na_rep="")
            parts.append(f'<div class="mnb-scroll">{rendered}</div>')
    return "".join(parts)


def details_lines(pool: Pool) -> list[str]:
    """The text details block: every documented field the answer carries, one per line, each
    value on its own line only (server strings never start a line of their own)."""
    rows = pool_details(pool)
    if not rows:
        return []
    return ["Details:"] + [f"  {name}: {one_line(value, 300)}" for name, value in rows]


def details_html(pool: Pool) -> str:
    """The folded "Details" section (HTML ``<details>``: closed until clicked, in the panel
    and in saved copies alike)."""
    rows = pool_details(pool)
    if not rows:
        return ""
    body = "".join(f"<tr><th>{html_text(name, 40)}</th><td>{html_text(value, 300)}</td></tr>"
                   for name, value in rows)
    return (f"<details class='mnb-details'><summary><b>Details</b> <small>({len(rows)} "
            f"fields)</small></summary><table class='mnb-table'><tbody>{body}</tbody></table>"
            "</details>")


def subscription_text(pool: Pool) -> str:
    """``period 1 year, auto-renew on, order id CS…`` for a yearly/monthly pool (what to find
    in the Billing Center); "" when it is not one or says none of them."""
    if not pool.is_prepaid:
        return ""
    rows = subscription(pool)
    return ", ".join(f"{name} {one_line(value, 120)}" for name, value in rows)


def server_took(pool: Pool) -> str:
    """"The server took the deletion at …" once an answer carried metadata.deletionTimestamp."""
    return (f"The server took the deletion at {_when(pool.deleted)}." if pool.deleted
            else "")


def header_html(
    pool: Pool, *, region: str | None, endpoint: str, phase: str | None = None,
    stale: bool = False, nodes: int | None = None,
) -> str:
    """``phase`` overrides the pool's own (e.g. "Deleted" once GET answers 404); ``stale``
    says it is the phase as last seen (after a failure, not now)."""
    facts = " · ".join(f"{k}: <b>{_esc(v)}</b>" for k, v in _facts(pool, nodes))
    url = console_url(region, endpoint)
    link = (
        f' · <a href="{_esc(url)}" target="_blank" rel="noopener">open in console</a>'
        if url else " · <i>local sandbox</i>"
    )
    odd = (
        f"<div class='mnb-odd'><b>⚠ The server's answer looked odd:</b> "
        f"{_esc('; '.join(pool.problems[:5]))}</div>" if pool.problems else ""
    )
    return (
        f"<div class='mnb-header'><span style='font-size:1.25em'><b>"
        f"{_esc(pool.display_name or '(no display name)')}</b></span> "
        f"&nbsp;id <code><b>{_esc(pool.id)}</b></code> &nbsp;"
        f"{phase_badge(phase or pool.phase, stale=stale)}"
        f"<div>{facts}{link}</div>{odd}</div>"
    )


def pool_html(
    pool: Pool, *, region: str | None, endpoint: str, phase: str | None = None,
    impact: Impact | None = None, warn: bool = True,
) -> str:
    """The HTML card. ``warn=False``: no "deleting it…" warning (a refused pool, a deleted
    one: nothing is going to be deleted from here)."""
    warning = (f"<div class='mnb-consequences'><b>{_esc(consequences(pool, impact))}</b></div>"
               if warn else "")
    return (
        f"{PANEL_STYLE}<div class='mnb-card'>"
        + header_html(pool, region=region, endpoint=endpoint, phase=phase)
        + tables_html(pool)
        + details_html(pool)
        + impact_html(impact)
        + f"{warning}</div>"
    )


def _outcome_phase(flow: DeleteFlow) -> str:
    return "Deleted" if flow.step is Step.DELETED else (flow.pool.phase or "unknown")


# After these, the phase shown is the one last seen, not necessarily the pool's now.
_STALE = frozenset({Step.FAILED, Step.STOPPED, Step.CANCELLED})


def stale_phase(flow: DeleteFlow) -> bool:
    return flow.step in _STALE


def delete_note(flow: DeleteFlow) -> str:
    """After a failure, whether the DELETE was sent — what a person must know before acting."""
    if flow.step is not Step.FAILED:
        return ""
    if not flow.sent:
        return "no DELETE was sent"
    if flow.refused_by_server:
        return "the DELETE was sent and refused"
    if isinstance(flow.error, DeletionFailed):
        return "the DELETE was accepted; the deletion failed on the server"
    if isinstance(flow.error, WaitTimeout):
        return "the DELETE was accepted; the pool may still be deleting"
    if flow.rechecked:
        return "the DELETE was sent; the pool is not being deleted"
    return "the DELETE was sent; the pool may be deleting — Refresh to check"


def _message(flow: DeleteFlow) -> str:
    if flow.step is Step.REFUSED:
        why, how = flow.refusal_parts()
        held = subscription_text(flow.pool)
        return "; ".join(part for part in (why, how, f"subscription: {held}" if held else "")
                         if part)
    return flow.message


# Steps after which a deletionTimestamp the pool carries is worth saying (not before one).
_TOOK = frozenset({Step.WATCHING, Step.ACCEPTED, Step.DELETED, Step.STOPPED, Step.FAILED})


def flow_text(flow: DeleteFlow) -> str:
    """One true line a person can act on: what happened to which pool, the phase (as last seen
    after a failure), how long it took, when the server last answered, why, and after a
    failure whether the DELETE was sent."""
    pool = flow.pool
    phase = one_line(_outcome_phase(flow), 40)
    parts = [f"{flow.step.value.upper()}: pool {one_line(pool.label, 300)}",
             f"last seen {phase}" if stale_phase(flow) else f"phase {phase}"]
    if flow.elapsed is not None:
        parts.append(f"after {flow.elapsed:.0f} s")
    parts.append(f"last checked {flow.checked.strftime('%H:%M:%S')} UTC")
    line = ", ".join(parts)
    message = one_line(_message(flow), 2000)  # server text never starts a line of its own
    note = delete_note(flow)
    if note:
        message = f"{message.rstrip('.')}; {note}." if message else f"{note[:1].upper()}{note[1:]}."
    took = server_took(pool) if flow.step in _TOOK else ""
    if took:
        message = f"{message} {took}" if message else took
    return f"{line} — {message}" if message else line


def flow_html(flow: DeleteFlow) -> str:
    return (
        f"<div class='mnb-status mnb-s-{flow.step.value}'>"
        f"{phase_badge(_outcome_phase(flow), stale=stale_phase(flow))} "
        f"{_esc(flow_text(flow))}</div>"
    )


def candidates_html(name: str, pools: list[Pool] | tuple[Pool, ...]) -> str:
    """Pools sharing a display name as a table of what tells them apart, oldest first."""
    rows = "".join(f"<tr><td><code>{_esc(i)}</code></td><td>{_esc(ph)}</td><td>{_esc(c)}</td>"
                   f"<td>{_esc(n)}</td></tr>" for i, ph, c, n in told_apart(pools))
    return (f"{PANEL_STYLE}<div class='mnb-card'><b>{len(pools)} pools are named "
            f"<code>{_esc(one_line(name, 80))}</code></b>: give the id of the one you mean."
            "<table class='mnb-table'><thead><tr><th>id</th><th>phase</th><th>created</th>"
            f"<th>nodes</th></tr></thead><tbody>{rows}</tbody></table></div>")


SHOWN_WORKLOADS = 20


def _duration(seconds: int | None) -> str:
    if not seconds:  # not started (queued, pending) or not said
        return ""
    days, rest = divmod(seconds, 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


def impact_lines(impact: Impact | None, pending: bool = False) -> list[str]:
    """What deleting breaks, as lines: a summary, the active workloads (first 20), nodes by
    phase, locked nodes, sub-pools, and each check that could not be made."""
    if impact is None:
        return ["What deleting breaks: checking…"] if pending else []
    stops = impact.stops()
    lines = [f"What deleting breaks: it stops {stops}." if stops else
             "What deleting breaks: nothing is running or waiting on this pool."]
    for w in impact.active[:SHOWN_WORKLOADS]:
        ran = _duration(w.running_seconds)
        lines.append(f"  {w.type:<9} {w.status:<8} {w.name}  {w.flavor}  {ran}".rstrip())
    if len(impact.active) > SHOWN_WORKLOADS:
        lines.append(f"  … and {len(impact.active) - SHOWN_WORKLOADS} more")
    if impact.nodes is not None:
        phases = Counter(n.phase for n in impact.nodes)
        locked = [n.name for n in impact.nodes if n.locked]
        lines.append("Nodes: " + (", ".join(f"{n} {p}" for p, n in sorted(phases.items()))
                                  or "none") + (f"; deletion-locked (the pool can still be "
                                                f"deleted): {', '.join(locked[:5])}" if locked
                                                else ""))
    lines += [f"Could not check {what}: {why}" for what, why in impact.unchecked.items()]
    return [line for line in lines if line]


def impact_html(impact: Impact | None, pending: bool = False) -> str:
    lines = impact_lines(impact, pending)
    if not lines:
        return ""
    head, rest = lines[0], lines[1:]
    body = "".join(f"<div><code>{_esc(line.strip())}</code></div>" if line.startswith("  ")
                   else f"<div>{_esc(line)}</div>" for line in rest)
    return f"<div class='mnb-impact'><b>{_esc(head)}</b>{body}</div>"
