"""Text and HTML views of a pool and of a deletion, shared by the panel and the text path.

Everything a person must see before deleting — both names, billing mode, the phase, the node
count, the consequences and the two resource tables — is rendered here once, as plain text (for
terminals, logs and saved notebooks) and as HTML (for the panel and nbconvert/GitHub).
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime

from .flow import DeleteFlow, Step
from .impact import Impact
from .models import Pool
from .names import is_loopback_host
from .tables import spec_resources_table, status_resources_table

__all__ = [
    "PHASE_COLOURS",
    "confirm_prompt_html",
    "consequences",
    "console_url",
    "flow_html",
    "flow_text",
    "impact_html",
    "impact_lines",
    "phase_badge",
    "pool_html",
    "pool_text",
    "tables_html",
]

PHASE_COLOURS = {
    "Running": "#2e7d32",
    "Creating": "#1565c0",
    "Waiting": "#1565c0",
    "Deleting": "#ef6c00",
    "Abnormal": "#c62828",
    "Error": "#c62828",
    "CreationFailed": "#c62828",
    "ScalingFailed": "#c62828",
    "Deleted": "#546e7a",
}
_STEP_COLOURS = {Step.DELETED: "#2e7d32", Step.FAILED: "#c62828", Step.REFUSED: "#c62828"}
_TABLE_STYLE = (
    "<style>.mnb-table{border-collapse:collapse;font-size:12px;margin:2px 0 8px}"
    ".mnb-table th,.mnb-table td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
    ".mnb-table th{background:#f3f3f3;position:sticky;top:0}"
    ".mnb-scroll{max-height:320px;overflow:auto}</style>"
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
    """The warning: generic until the pool's workloads are known (then they are listed)."""
    nodes = pool.node_count
    known = impact is not None and impact.workloads is not None
    first = ("It cannot be undone" if known else "Deleting it stops every notebook, training "
             "job and inference service that uses this pool")
    return (
        f"{first}; the pool and its nodes' disks cannot be restored. It holds {nodes} "
        f"node{'s' if nodes != 1 else ''}."
    )


def confirm_prompt_html(pool: Pool, impact: Impact | None = None) -> str:
    name = pool.display_name or pool.id
    return (
        "<div class='mnb-consequences' style='color:#b71c1c'><b>"
        f"{_esc(consequences(pool, impact))}</b> Type <code>{_esc(name)}</code> or the pool id "
        "to enable Delete.</div>"
    )


def phase_badge(phase: str | None) -> str:
    colour = PHASE_COLOURS.get(phase or "", "#616161")
    return (
        f'<span class="mnb-phase" style="background:{colour};color:#fff;border-radius:8px;'
        f'padding:1px 8px;font-weight:600">{_esc(phase or "unknown")}</span>'
    )


def _facts(pool: Pool) -> list[tuple[str, str]]:
    return [
        ("type", pool.type or "unknown"),
        ("scope", ", ".join(pool.scope) or "none"),
        ("billing", pool.billing_label),
        ("created", _when(pool.created)),
        ("nodes", str(pool.node_count)),
    ]


def pool_text(pool: Pool) -> str:
    """A plain-text card: names, facts, phase, consequences and both tables."""
    lines = [
        f"Pool {pool.display_name or '(no display name)'}  id {pool.id}",
        "  " + "  ".join(f"{k}: {v}" for k, v in _facts(pool)),
        f"  phase: {pool.phase or 'unknown'}" + (f" ({pool.message})" if pool.message else ""),
    ]
    if pool.deleted:
        lines.append(f"  deletion requested: {_when(pool.deleted)}")
    for title, table in (("spec.resources", spec_resources_table(pool)),
                         ("status.resources", status_resources_table(pool))):
        body = "(none)" if table.empty else table.to_string(index=False)
        lines += ["", f"{title}:", body]
    if pool.problems:
        lines += ["", "The server's answer looked odd: " + "; ".join(pool.problems[:5])]
    return "\n".join(lines)


def tables_html(pool: Pool, *, note: str = "") -> str:
    parts = [_TABLE_STYLE, f"<div><i>{_esc(note)}</i></div>" if note else ""]
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


def header_html(
    pool: Pool, *, region: str | None, endpoint: str, phase: str | None = None
) -> str:
    """``phase`` overrides the pool's own (e.g. "Deleted" once GET answers 404)."""
    facts = " · ".join(f"{k}: <b>{_esc(v)}</b>" for k, v in _facts(pool))
    url = console_url(region, endpoint)
    link = (
        f' · <a href="{_esc(url)}" target="_blank" rel="noopener">open in console</a>'
        if url else " · <i>local sandbox</i>"
    )
    odd = (
        f"<div style='color:#8d6e00'>The server's answer looked odd: "
        f"{_esc('; '.join(pool.problems[:5]))}</div>" if pool.problems else ""
    )
    return (
        f"<div class='mnb-header'><span style='font-size:1.25em'><b>"
        f"{_esc(pool.display_name or '(no display name)')}</b></span> "
        f"&nbsp;id <code><b>{_esc(pool.id)}</b></code> &nbsp;{phase_badge(phase or pool.phase)}"
        f"<div>{facts}{link}</div>{odd}</div>"
    )


def pool_html(
    pool: Pool, *, region: str | None, endpoint: str, phase: str | None = None,
    impact: Impact | None = None,
) -> str:
    return (
        header_html(pool, region=region, endpoint=endpoint, phase=phase)
        + tables_html(pool)
        + impact_html(impact)
        + f"<div><b>{_esc(consequences(pool, impact))}</b></div>"
    )


def _outcome_phase(flow: DeleteFlow) -> str:
    return "Deleted" if flow.step is Step.DELETED else (flow.pool.phase or "unknown")


def flow_text(flow: DeleteFlow) -> str:
    """One line a person can act on: what happened to which pool, phase, time, ids."""
    pool = flow.pool
    parts = [f"{flow.step.value.upper()}: pool {pool.label}", f"phase {_outcome_phase(flow)}"]
    if flow.elapsed is not None:
        parts.append(f"after {flow.elapsed:.0f} s")
    if flow.last_poll is not None:
        parts.append(f"last checked {flow.last_poll.strftime('%H:%M:%S')} UTC")
    line = ", ".join(parts)
    return f"{line} — {flow.message}" if flow.message else line


def flow_html(flow: DeleteFlow) -> str:
    colour = _STEP_COLOURS.get(flow.step, "#37474f")
    return (
        f"<div class='mnb-status' style='color:{colour}'>{phase_badge(_outcome_phase(flow))} "
        f"{_esc(flow_text(flow))}</div>"
    )


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
