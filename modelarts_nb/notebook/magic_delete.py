"""``%pool_delete``: fetch the pool once, then hand off to the panel or the text path.

Why it exists: ``magic`` declares both magics and parses their lines; this is what
``%pool_delete`` then does with one pool. Nothing is deleted except by the panel's confirmed
click, or by ``--yes`` on the same line as the explicitly named pool; without ``--yes`` the text
path prints the exact line that would delete it (``confirm_line``).
"""

from __future__ import annotations

import shlex
from typing import Any

from ..deletion.client import PoolsClient
from ..deletion.flow import DeleteFlow, Step
from ..deletion.lookup import resolve
from ..gateway.errors import DeletionRefused, InvalidName, PoolNotFound
from ..gateway.text import known_secrets, masked
from .render import (
    candidates_html,
    consequences,
    delete_note,
    flow_text,
    impact_lines,
    pool_html,
    pool_text,
    subscription_text,
)

__all__ = ["confirm_line", "pool_pretext", "run", "safe"]


def safe(text: str) -> str:
    """Printed text never holds a credential. Server strings come masked already (the edge:
    ``responses.read_json``); this also covers what we built around them — a path, a local
    error — with every credential the process knows, renewed ones included."""
    return masked(text, known_secrets())


def _say(text: str, **kw: Any) -> None:
    print(safe(text), **kw)


def run(args: Any, *, terminal: bool) -> Any:
    """``%pool_delete`` with its parsed line; ``terminal``: IPython's terminal shell (no
    widgets: the text path)."""
    client = PoolsClient.from_env(
        project_id=args.project_id, region=args.region, endpoint=args.endpoint,
        user_id=args.user_id,
    )
    return _run(args, client, terminal=terminal)


def _run(args: Any, client: PoolsClient, *, terminal: bool) -> Any:
    try:
        pool = resolve(client, args.pool)
    except InvalidName as exc:
        if exc.candidates and not (args.no_widgets or terminal):
            _show_candidates(args.pool, exc.candidates)  # as a table (the error line says it)
        raise
    except PoolNotFound:
        if not _said_deleted_here(args.pool, client):
            raise
        return None
    except KeyboardInterrupt:
        _say("Interrupted while reading the pool: nothing was deleted.")
        raise
    finally:
        client.close()  # nothing stays connected while a panel waits for a person
    text = args.no_widgets or terminal
    flow = DeleteFlow(client, pool, timeout=args.timeout, interval=args.interval,
                      retire=args.yes or not text)  # a look that only reads retires no panel
    if (args.yes or text) and flow.step is Step.REVIEW and pool.phase != "Deleting":
        try:
            flow.check_impact()  # the four reads at once: one more round trip
        except KeyboardInterrupt:
            _say("Interrupted while reading what the pool carries: nothing was deleted.")
            raise
    if args.yes and flow.step is Step.REFUSED:
        raise DeletionRefused(_refusal(flow) + "; nothing was deleted", pool=pool)
    if args.yes and flow.needs_ack and not args.force:
        assert flow.impact is not None
        raise DeletionRefused(
            f"deleting pool {pool.label} stops {flow.stops}: add --force to delete "
            "it anyway; nothing was deleted", pool=pool)
    if text:
        flow.via = "text"  # what its receipt says sent the DELETE (receipts.py)
        _text_path(flow, args)
        return None
    return _widget_path(flow, args)


def _said_deleted_here(name: str, client: PoolsClient) -> bool:
    """The server has no pool ``name``: if the receipts (the file ``%pools --history`` reads)
    show a DELETE of it sent from here to this endpoint and project, say so in one line —
    deleted at …, or sent and never seen gone — and True: re-running a cell that deleted a
    pool is an outcome, not an error. False (the PoolNotFound stands) otherwise. Reads the
    local file only, no request."""
    from ..deletion.receipts import last_sent
    from .history_view import deleted_line

    settings = client.settings
    row = last_sent(name, settings.endpoint, settings.project_id)
    if row is None:
        return False
    _say(deleted_line(name, row))
    return True


def _show_candidates(name: str, pools: tuple[Any, ...]) -> None:
    """HTML only: the one-line error already says it in text (terminals, logs)."""
    from IPython.display import display

    display({"text/html": safe(candidates_html(name, pools))}, raw=True)


def _widget_path(flow: DeleteFlow, args: Any) -> Any:
    from .panel import DeletePanel

    panel = DeletePanel(flow, region=flow.client.settings.region)
    if args.yes:
        flow.via = "text"  # --yes sent it; the panel only shows it (its receipt says so)
        panel.show()
        _foreground(flow, wait=not args.no_wait, force=args.force)
    elif flow.pool.phase == "Deleting":
        flow.watch(background=True)
    elif flow.step is Step.REVIEW:
        flow.check_impact(background=True)  # the panel shows now and fills this in
    return panel


def _text_path(flow: DeleteFlow, args: Any) -> None:
    from IPython.display import display

    settings = flow.client.settings
    breaks = impact_lines(flow.impact)
    warning = [] if flow.step is Step.REFUSED else [consequences(flow.pool, flow.impact)]
    bundle = {
        "text/plain": pool_pretext(flow) + pool_text(flow.pool) + "".join(
            f"\n{line}" for line in ["", *breaks, *warning]),
        "text/html": pool_html(flow.pool, region=settings.region, endpoint=settings.endpoint,
                               impact=flow.impact,
                               warn=flow.step is not Step.REFUSED),
    }
    display({mime: safe(text) for mime, text in bundle.items()}, raw=True)
    if not args.yes:
        if flow.step is Step.REFUSED:
            _say(f"Cannot delete here: {_refusal(flow)}")
        else:
            _say(f"Nothing was deleted. To delete this pool, run:\n  {confirm_line(flow, args)}")
        flow.client.close()
        return
    flow.subscribe(_Progress())
    _foreground(flow, wait=not args.no_wait, text=True, force=args.force)


def _refusal(flow: DeleteFlow) -> str:
    """Why the pool is refused; for a yearly/monthly one also its period, auto-renew and order
    id: what to look for in the Billing Center to unsubscribe it instead."""
    held = subscription_text(flow.pool)
    return f"{flow.message}; subscription: {held}" if held else flow.message


def _foreground(flow: DeleteFlow, *, wait: bool, text: bool = False, force: bool = False
                ) -> None:
    """Delete and watch in this cell; Ctrl-C stops the watching only. One final line per
    outcome: printed in text mode; with a panel, the panel's status line (and its static copy)
    is it. A failure fails the cell with one line that says whether the DELETE was sent."""
    try:
        flow.delete_now(wait=wait, background=False, acknowledged=force)
    except KeyboardInterrupt:
        _say(f"Pool {flow.pool.label}: {flow.message}")  # says whether a DELETE had left
        raise
    if flow.step is Step.LEFT_OUT:  # changed since it was shown: nothing was sent
        raise DeletionRefused(f"pool {flow.pool.label} {flow.message}", pool=flow.pool)
    if flow.step is Step.FAILED and flow.error is not None:
        error = flow.error
        note = delete_note(flow)
        if note and note not in str(error):
            error.args = (f"{error}; {note}",)
        raise error
    if text:
        _say(flow_text(flow))


class _Progress:
    """Print one line per change of step or phase (text mode's live view)."""

    def __init__(self) -> None:
        self._last: tuple[str, str | None] | None = None

    def __call__(self, flow: DeleteFlow) -> None:
        state = (flow.step.value, flow.pool.phase)
        last = self._last
        changed = last is None or state[0] != last[0] or (
            flow.step is Step.WATCHING and state != last
        )
        if changed and flow.step in (Step.SENDING, Step.WATCHING):
            _say(flow_text(flow), flush=True)
        self._last = state


def pool_pretext(flow: DeleteFlow) -> str:
    return f"({flow.client.settings.describe()})\n"


def confirm_line(flow: DeleteFlow, args: Any) -> str:
    """The exact line that deletes this pool: by id, with the same project/region/endpoint."""
    parts = ["%pool_delete", flow.pool.id, "--yes"] + (["--force"] if flow.needs_ack else [])
    for flag, value in (
        ("--project-id", args.project_id),
        ("--region", args.region),
        ("--endpoint", args.endpoint),
        ("--user-id", args.user_id),
    ):
        if value:
            parts += [flag, shlex.quote(value)]
    if args.user_id == "":
        parts += ["--user-id", "''"]
    return " ".join(parts)
