"""Text and HTML views of a pool and of a deletion, shared by the panel and the text path.

Why it exists: everything a person must see before deleting — both names, billing mode, the
phase, the node count, the consequences and the two resource tables — is rendered here once, as
plain text (for terminals, logs and saved notebooks) and as HTML (for the panel and
nbconvert/GitHub), so the panel, ``--no-widgets`` and the command line say the same. Its look
(the stylesheet, the phase badge) is ``theme``'s.
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
from .tables import spec_resources_table, status_resources_table
from .theme import PANEL_STYLE, html_text, phase_badge

__all__ = [
    "candidates_html",
    "confirm_prompt_html",
    "consequences",
    "console_url",
    "delete_note",
    "details_html",
    "details_lines",
    "flow_html",
    "flow_text",
    "header_html",
    "impact_html",
    "impact_lines",
    "pool_html",
    "pool_text",
    "refusal_html",
    "server_took",
    "stale_phase",
    "subscription_text",
    "tables_html",
]


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
