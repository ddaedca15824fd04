"""``%pools``: list pools (table or panel) and delete a filtered selection in bulk.

Unattended bulk deletion needs both ``--delete`` and ``--yes`` *and* at least one filter, so that
no line can ever mean "every pool in the project". Without ``--yes`` it prints what it would delete
and sends nothing.

Why it exists: ``magic`` reads the line; this is what ``%pools`` then does with it — the
receipts (``--history``), a saved plan (``--apply``), a table, the panel (``pools_panel``) or
an unattended batch.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import Any

from IPython.core.error import UsageError

from ..deletion.client import PLAN_ATTR, PoolsClient
from ..deletion.engine import Deletion, Target
from ..deletion.idle import keep_busy
from ..deletion.plan import Plan, PlanError, read_plan
from ..deletion.policy import Verdict, decide
from ..deletion.review import PlanReviewer, Reviewer, drifted, review
from ..deletion.selection import Filters, Listing, list_selected, parse_age, parse_tag
from ..deletion.steps import Step
from ..gateway.errors import ModelArtsError
from ..gateway.text import one_line
from .tables import pools_table

__all__ = ["BulkFailed", "filters_from", "run_history", "run_pools"]

_BARE = re.compile(r"[\w./:=@+*?\[\]!,-]+")
_LABEL = re.compile(r"[A-Za-z0-9._/-]+=[A-Za-z0-9._-]*")


class BulkFailed(ModelArtsError):
    """Some pools of an unattended bulk deletion failed (the others went on)."""


def filters_from(args: Any) -> Filters:
    """The line's selectors, validated before any request (UsageError with the reason)."""
    for label in args.label:
        if not _LABEL.fullmatch(label):
            raise UsageError(f"--label {label!r}: expected KEY=VALUE of a system label, e.g. "
                             "os.modelarts/name=train-gpu; to group pools use --tag")
    if args.workspace and args.all_workspaces:
        raise UsageError("--workspace and --all-workspaces exclude each other")
    try:
        return Filters(
            tags=tuple(parse_tag(tag) for tag in args.tag),
            keep=tuple(parse_tag(tag, "--keep-tag") for tag in args.keep_tag),
            older_than=parse_age(args.older_than) if args.older_than is not None else None,
            phase=args.phase, name=args.name, label_selector=",".join(args.label) or None,
            status=args.status, workspace=args.workspace, all_workspaces=args.all_workspaces,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


_SELECTORS = ("tag", "keep_tag", "older_than", "workspace", "all_workspaces", "label", "status",
              "phase", "name", "idle")
_NOT_WITH_HISTORY = ("delete", "yes", "force", *_SELECTORS, "project_id", "region", "endpoint",
                     "user_id", "save_plan", "apply")


def run_history(args: Any) -> Any:
    """``%pools --history [--pool NAME] [--since WHEN]``: the receipts, newest first, as a
    DataFrame with every field, shown as one short line per deletion (``history_view``: when,
    pool, outcome, what it held, how it was sent). Reads one local file: needs no credentials
    and sends no request."""
    from ..deletion.receipts import location, read_history, shown
    from .history_view import view_frame

    if not args.history:
        raise UsageError("--pool and --since go with --history (to select pools to list, use "
                         "--name or --tag)")
    mixed = [f"--{flag.replace('_', '-')}" for flag in _NOT_WITH_HISTORY if getattr(args, flag)]
    if mixed:
        raise UsageError(f"--history only reads the receipts: it does not go with "
                         f"{', '.join(mixed)}")
    try:
        rows, notes = read_history(args.pool, args.since)  # parses --since
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in notes:
        print(note)
    if rows:
        return view_frame(rows)
    if not any(note.startswith(("No receipts yet", "Cannot read")) for note in notes):
        print(f"(no receipts match; they are kept in {shown(location(), 400)})")
    return None


def run_pools(args: Any, shell: Any, *, terminal: bool) -> Any:
    filters = filters_from(args)
    if (args.delete or args.save_plan) and not filters.narrows():
        raise UsageError(
            "--delete needs at least one filter that leaves pools out (--tag, --older-than, "
            "--phase, --status, --label, or a --name pattern that not every pool id matches, "
            "not * or *-* or *[0-9a-f]*; a workspace is a scope, not a filter): a bulk "
            "deletion must never "
            "mean every pool in the project"
        )
    client = PoolsClient.from_env(project_id=args.project_id, region=args.region,
                                  endpoint=args.endpoint, user_id=args.user_id)
    if args.idle and args.force:
        raise UsageError("--idle keeps the pools with work and --force deletes them: choose one")
    try:
        listing = list_selected(client, filters, confirm=args.delete or bool(args.save_plan))
        if args.idle:
            keep_busy(client, listing, concurrency=args.concurrency)
    except KeyboardInterrupt:
        print("Interrupted while listing the pools: nothing was deleted.")
        raise
    finally:
        client.close()
    for note in listing.notes:
        print(one_line(note, 500))
    if args.save_plan:
        _save(_review(client, listing, filters, args, via="python"), args.save_plan)
        return None
    if args.delete:
        plan = _review(client, listing, filters, args, via="batch" if args.yes else "text")
        if args.yes:
            _unattended(client, plan, args)
        else:
            _show_table(decided_table(listing, plan))
            _dry_run(plan, args)
        return None
    if args.no_widgets or terminal:
        table = decided_table(listing, review(client, listing.pools, filters=filters,
                                              kept=listing.kept, read_work=False))
        _say_kept(listing)
        return table if len(table) else print("(no pools match)")
    from .pools_panel import PoolsPanel

    options = {"concurrency": args.concurrency, "timeout": args.timeout,
               "interval": args.interval}
    return PoolsPanel(Reviewer(client, filters, options, first=[listing], idle=args.idle))


def decided_table(listing: Listing, plan: Plan | None = None) -> Any:
    """The listed pools with their ``decision`` column: ``delete``, ``kept: why`` or ``left
    out: why`` — from the plan when the pools were reviewed, else from the policy on what
    the list shows (their work unread). The plan travels in ``frame.attrs``:
    ``delete_many(frame)`` deletes only its ``delete`` rows, each checked against what the
    frame showed."""
    items = {item.facts.id: item for item in plan.items} if plan is not None else {}

    def column(pool: Any) -> str:
        item = items.get(pool.id)
        if item is None:
            return decide(pool, kept=listing.kept.get(pool.id)).column
        if item.deletes:
            return "delete"
        if item.verdict is Verdict.KEPT:
            return item.reason if item.reason.startswith("kept") else f"kept: {item.reason}"
        return f"left out: {item.reason}"

    table = pools_table(listing.pools, decisions={p.id: column(p) for p in listing.pools})
    if plan is not None:
        table.attrs[PLAN_ATTR] = plan.to_json()
    return table


def _say_kept(listing: Listing) -> None:
    for pool in listing.pools:
        if pool.id in listing.kept:
            print(one_line(f"kept {pool.label}: {listing.kept[pool.id]}", 500))


def _show_table(table: Any) -> None:
    from IPython.display import display

    text = table.to_string(index=False) if len(table) else "(no pools match)"
    display({"text/plain": text, "text/html": table.to_html(index=False, border=0)}, raw=True)


def _review(client: PoolsClient, listing: Listing, filters: Filters, args: Any, *,
            via: str) -> Plan:
    """The plan of what the line deletes: each selected pool's work read
    (``concurrency`` pools at once) and decided by the one policy."""
    try:
        return review(client, listing.pools, filters=filters, kept=listing.kept,
                      force=args.force, via=via, concurrency=args.concurrency)
    except KeyboardInterrupt:
        print("Interrupted while checking what the pools run: nothing was deleted.")
        raise


def _save(plan: Plan, path: str) -> None:
    """Write the plan for a later ``--apply`` (here, elsewhere, or by ``modelarts-nb apply``)."""
    try:
        with open(os.path.expanduser(path), "w", encoding="utf-8") as out:
            out.write(plan.to_json())
    except OSError as exc:
        raise UsageError(f"--save-plan: cannot write {one_line(path, 200)!r}: "
                         f"{exc.strerror or type(exc).__name__}; nothing was deleted") from None
    print(one_line(plan.summary().splitlines()[0], 300) + " — nothing was deleted.")
    for line in _held(plan):
        print(f"  {one_line(line, 500)}")
    print(f"Plan saved to {one_line(path, 300)}. Apply it with:\n  %pools --apply "
          f"{_arg(path) or repr(path)} --yes")


def run_apply(args: Any, *, terminal: bool = True) -> Any:
    """``%pools --apply FILE [--yes]``: the plan in a panel, its pools that changed since it
    was made not tickable (text: what changed, reads only); with ``--yes``, the plan applied
    — its pools only, each checked against it first."""
    mixed = [f"--{flag.replace('_', '-')}" for flag in (*_SELECTORS, "delete", "force",
                                                          "save_plan") if getattr(args, flag)]
    if mixed:
        raise UsageError(f"--apply deletes what the plan holds: it does not go with "
                         f"{', '.join(mixed)} (make a new plan for another selection)")
    plan = _read_plan(args.apply)
    client = PoolsClient.from_env(project_id=args.project_id, region=args.region,
                                  endpoint=args.endpoint, user_id=args.user_id)
    try:
        plan.check_for(client.settings.endpoint, client.settings.project_id)
    except PlanError as exc:
        client.close()
        raise UsageError(f"--apply {one_line(args.apply, 200)!r}: {exc}") from None
    if not (args.yes or args.no_widgets or terminal):
        from .pools_panel import PoolsPanel

        options = {"concurrency": args.concurrency, "timeout": args.timeout,
                   "interval": args.interval}
        return PoolsPanel(PlanReviewer(client, Filters(), options, saved=plan))
    try:
        if args.yes:
            _unattended(client, plan, args)
            return None
        _preview(client, plan, args.apply)
        return None
    finally:
        client.close()


def _read_plan(path: str) -> Plan:
    try:
        return read_plan(path)
    except PlanError as exc:
        raise UsageError(f"--apply: {exc}; nothing was deleted") from None


def _preview(client: PoolsClient, plan: Plan, path: str) -> None:
    """The plan and, for each pool it deletes, what changed since (or that it is gone)."""
    print(one_line(f"Plan of {plan.made_at[:16].replace('T', ' ')} UTC: "
                   f"{plan.summary().splitlines()[0]}", 300))
    for line in _held(plan):
        print(f"  {one_line(line, 500)}")
    changed = 0
    for item, changes in drifted(client, plan):
        changed += bool(changes)
        state = "; ".join(changes) if changes else "unchanged"
        print(f"  {one_line(item.facts.label, 200)}: {one_line(state, 500)}")
    print(f"Nothing was deleted. {changed} pool(s) changed since the plan and would be left "
          f"out. To apply it, run:\n  %pools --apply {_arg(path) or repr(path)} --yes")


def _held(plan: Plan) -> list[str]:
    """One line per pool the plan does not delete: ``kept …``, ``excluded …`` (refused) or
    ``left out …`` (work not acknowledged: ``--force``)."""
    lines = []
    for item in plan.items:
        label = item.facts.label
        if item.verdict is Verdict.KEPT:
            lines.append(f"kept {label}: {item.reason}")
        elif item.verdict is Verdict.ACKNOWLEDGE:
            lines.append(f"left out {label}: deleting it stops {item.reason.removeprefix('runs ')}"
                         "; add --force to include it")
        elif item.verdict in (Verdict.REFUSED, Verdict.UNDERWAY):
            lines.append(f"excluded {label}: {item.reason}")
    return lines


def _dry_run(plan: Plan, args: Any) -> None:
    deletable = plan.deletable()
    print(f"Nothing was deleted. --delete would delete {len(deletable)} pool(s):")
    for item in deletable:
        print(f"  {one_line(item.facts.label, 200)}")
    for line in _held(plan):
        print(f"  {one_line(line, 500)}")
    again = same_line(args)
    busy = bool(plan.pending()) and not args.force
    if again is None:
        print("To delete them, add --delete --yes to the same filters (a value cannot be "
              "written back on one line here).")
        return
    print(f"To delete them, run:\n  {again} --delete --yes"
          + " (add --force to include the pools with running work)" * busy
          + f"\nThat line selects anew. To delete exactly the pools listed here, save a plan "
          f"with\n  {again} --save-plan FILE\nand apply it with %pools --apply FILE --yes.")


def same_line(args: Any) -> str | None:
    """The ``%pools`` line that selects the same pools, to copy with ``--delete --yes``;
    None when a value cannot be written so that the magic reads it back the same."""
    values = [(flag, value) for flag in ("label", "tag", "keep_tag")
              for value in getattr(args, flag)]
    values += [(flag, getattr(args, flag)) for flag in (
        "status", "phase", "name", "older_than", "workspace", "project_id", "region", "endpoint")
        if getattr(args, flag)]
    if args.user_id is not None:  # '' too: it means "no tenant id", not "the default"
        values.append(("user_id", args.user_id))
    parts = ["%pools"]
    for flag, value in values:
        written = _arg(value) if value else "''"
        if written is None:
            return None
        parts += [f"--{flag.replace('_', '-')}", written]
    parts += [f"--{flag}" for flag in ("all-workspaces", "force", "idle")
              if getattr(args, flag.replace("-", "_"))]
    return " ".join(parts)


def _arg(value: str) -> str | None:
    """``value`` as the magic's splitter reads it back: bare, or in the one kind of quote it
    does not hold (the splitter keeps quotes, the magic drops one pair); ``$`` and braces
    doubled against IPython's expansion. None when it holds both quotes or a line break."""
    text = value.replace("$", "$$").replace("{", "{{").replace("}", "}}")
    if not value.isprintable():
        return None
    if _BARE.fullmatch(text):
        return text
    quote = next((q for q in "'\"" if q not in value), None)
    return None if quote is None else f"{quote}{text}{quote}"


def _unattended(client: PoolsClient, plan: Plan, args: Any) -> None:
    """Apply the plan just made: each pool re-checked against it, then deleted and watched."""
    for line in _held(plan):
        print(one_line(_loud(line), 500))
    pools = plan.deletable()
    if not pools:
        print("Nothing to delete: no selected pool may be deleted (see above); nothing was sent.")
        return
    run = Deletion.from_plan(client, plan.only(item.facts.id for item in pools),
                             concurrency=args.concurrency, timeout=args.timeout,
                             interval=args.interval)
    printed: dict[int, Step] = {}
    lock = threading.Lock()  # workers report concurrently: one whole line at a time

    def progress(target: Target) -> None:
        with lock:
            if printed.get(id(target)) is not target.step:
                printed[id(target)] = target.step
                sys.stdout.write(_line(target) + "\n")
                sys.stdout.flush()

    run.on_target = progress
    print(f"Deleting {len(pools)} pool(s), {args.concurrency} at a time…", flush=True)
    try:
        run.run(send=True, wait=True, background=False)
    except KeyboardInterrupt:
        sent = sum(t.sent for t in run.targets)
        print(f"Interrupted: {sent} DELETE(s) sent continue on the server (not watched); "
              f"{len(run.targets) - sent} pool(s) got no DELETE.")
        raise
    print(run.summary())
    if run.run_error is not None:
        raise run.run_error
    failed = [t for t in run.targets if t.step is Step.FAILED]
    if failed:
        raise BulkFailed(
            f"{len(failed)} of {len(run.targets)} pools failed (the others went on): "
            + "; ".join(f"{t.label}: {t.message}" for t in failed[:3])
        )


def _loud(line: str) -> str:
    """``kept …`` → ``KEPT: …``: what an unattended run did not delete stands out."""
    for word in ("kept", "excluded", "left out"):
        if line.startswith(word + " "):
            return f"{word.upper()}:{line[len(word):]}"
    return line


def _line(target: Target) -> str:
    """One line per event: server strings cannot start a line of their own."""
    done = f" after {target.elapsed:.0f} s" if target.step.final else ""
    return one_line(f"{target.step.value.upper()}: {one_line(target.label, 300)}, phase "
                    f"{one_line(target.phase, 40)}{done} — {target.message}", 2000)
