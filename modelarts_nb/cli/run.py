"""``modelarts-nb apply`` and ``modelarts-nb delete``: the two sub-commands that send DELETEs.

Why apart from ``cli``: these are the ones that confirm, run the engine in the background
while the main thread shows progress and listens for SIGINT/SIGTERM, and turn what happened
into an exit code. Everything they refuse is refused before any request is sent.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..deletion import plan as plans
from ..deletion import receipts
from ..deletion.client import PoolsClient
from ..deletion.engine import Deletion
from ..deletion.plan import Plan, PlanError
from ..deletion.steps import Step
from ..deletion.target import Target
from ..gateway.errors import DeletionRefused
from ..gateway.names import endpoint_key
from .common import (
    INTERRUPTED,
    OK,
    PARTIAL,
    Out,
    Progress,
    Refused,
    Signals,
    client_for,
    concurrency,
    follow,
    held,
    held_doc,
    quiet_or_json,
    settings_options,
    terminal,
    where,
)

if TYPE_CHECKING:
    from ..deletion.flow import DeleteFlow

__all__ = ["apply_options", "delete_options", "run_apply", "run_delete"]

_SKEW = timedelta(minutes=5)  # a plan dated this far ahead is a clock's error, not a plan's


def _run_options(sub: argparse.ArgumentParser) -> None:
    """What both sub-commands that send DELETEs take: how to confirm, watch and report."""
    sub.add_argument("--yes", action="store_true",
                     help="do not ask (needed without a terminal: cron, CI)")
    sub.add_argument("--no-wait", dest="no_wait", action="store_true",
                     help="end once every DELETE is accepted, without watching the pools go")
    sub.add_argument("--timeout", type=_seconds(1, 7 * 86400), default=3600.0,
                     help="seconds to watch the pools go (default 3600)")
    sub.add_argument("--interval", type=_seconds(0.05, 3600), default=None,
                     help="seconds between checks (default: adaptive, 2 s rising to 60 s)")
    quiet_or_json(sub)
    settings_options(sub)


def apply_options(sub: argparse.ArgumentParser) -> None:
    """``apply FILE``: a plan is only as good as it is fresh, hence ``--max-age``."""
    sub.add_argument("file", metavar="FILE", help="a plan written by `modelarts-nb plan` or "
                     "`%%pools --save-plan`")
    sub.add_argument("--max-age", dest="max_age", default="24h", metavar="AGE",
                     help="refuse a plan older than AGE (default 24h), e.g. 90m, 3d")
    sub.add_argument("--concurrency", type=concurrency, default=8, metavar="N",
                     help="DELETEs in flight at once (1-32, default 8)")
    _run_options(sub)


def delete_options(sub: argparse.ArgumentParser) -> None:
    """``delete POOL``: the options of ``%pool_delete`` that make sense outside a notebook."""
    sub.add_argument("pool", metavar="POOL", help="the pool id, or its display name")
    sub.add_argument("--force", action="store_true",
                     help="delete it even when it runs or queues work or has sub-pools")
    _run_options(sub)


def _seconds(low: float, high: float) -> Any:
    """An argparse type for seconds in [low, high]: NaN, inf and 0 are refused at parse."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # also false for nan
            raise argparse.ArgumentTypeError(f"{text!r}: expected seconds from {low} to {high}")
        return value

    return parse


# -- apply -----------------------------------------------------------------------------------


def run_apply(args: argparse.Namespace, out: Out, signals: Signals) -> int:
    """``apply FILE``: the checks that send nothing, the confirmation, then the run."""
    plan = read_plan(args.file)
    check_age(plan, args.max_age, datetime.now(timezone.utc))
    if plan.deletable() and not (args.yes or terminal()):
        raise Refused("apply: no terminal to confirm on: add --yes to apply the plan "
                      "unattended")
    with client_for(args, out) as client:
        check_place(plan, client)
        return _apply(args, out, signals, client, plan)


def _apply(args: argparse.Namespace, out: Out, signals: Signals, client: PoolsClient,
           plan: Plan) -> int:
    """What the plan does, the typed confirmation on a terminal, then its pools deleted
    (only those it deletes: kept, refused and unacknowledged ones were decided at review)."""
    deletable = plan.deletable()
    out.line(f"{where(plan)}: {plan.summary().splitlines()[0]}")
    for line in held(plan):
        out.line(f"  {line}")
    if not deletable:
        out.line("Nothing to delete: nothing was sent.")
        out.document(_doc("apply", OK, [], plan))
        return OK
    if not args.yes:
        _confirm(phrase(len(deletable)), "to delete them")
    run = Deletion.from_plan(client, plan.only(item.facts.id for item in deletable),
                             concurrency=args.concurrency, timeout=args.timeout,
                             interval=args.interval, stop=signals.stop)
    run.via = "command"  # the receipts say what sent each DELETE
    return _follow_run(run, args, out, signals, plan)


def read_plan(path: str) -> Plan:
    """The plan in ``path``; Refused (one line) when it cannot be read or is not a plan."""
    try:
        return plans.read_plan(path)
    except PlanError as exc:
        raise Refused(str(exc)) from None


def check_age(plan: Plan, max_age: str, now: datetime) -> None:
    """An old plan describes pools as they were: refused past ``--max-age`` (and one dated
    in the future, a clock's error)."""
    from ..deletion.selection import parse_age

    try:
        limit = parse_age(max_age)
    except ValueError:
        raise Refused(f"--max-age {max_age!r}: expected a duration such as 90m, 24h or 3d") \
            from None
    try:
        made = datetime.fromisoformat(plan.made_at.replace("Z", "+00:00"))
        made = made if made.tzinfo else made.replace(tzinfo=timezone.utc)
    except (ValueError, AttributeError):
        raise Refused(f"the plan's made_at {plan.made_at!r} is not a time") from None
    age = now - made
    if age < -_SKEW:
        raise Refused(f"the plan is dated {plan.made_at}, in the future: check this "
                      "machine's clock")
    if age > limit:
        raise Refused(f"the plan was made {_hours(age)} ago ({made:%Y-%m-%d %H:%M} UTC), "
                      f"more than --max-age {max_age}: make a new plan, or accept this one "
                      f"with --max-age {_hours(age + timedelta(hours=1))}")


def _hours(age: timedelta) -> str:
    """An age as ``--max-age`` takes it back (``26h``, ``40m``)."""
    hours = int(age.total_seconds() // 3600)
    return f"{hours}h" if hours else f"{int(age.total_seconds() // 60)}m"


def check_place(plan: Plan, client: PoolsClient) -> None:
    """A plan made for another project or endpoint is refused before any request (the
    engine checks again, but a person must not be asked to confirm it first)."""
    settings = client.settings
    if (endpoint_key(plan.endpoint), plan.project_id) != (
            endpoint_key(settings.endpoint), settings.project_id):
        raise Refused(f"this plan was made for project {plan.project_id} at "
                      f"{endpoint_key(plan.endpoint)}, not {settings.project_id} at "
                      f"{endpoint_key(settings.endpoint)}")


def phrase(count: int) -> str:
    """What a person types to confirm: the ``%pools`` panel's words (``confirm_phrase``)."""
    return f"delete {count} pool" + ("" if count == 1 else "s")


def _confirm(words: str, what: str, accept: Callable[[str], bool] | None = None) -> None:
    """Ask on the terminal; Refused unless ``words`` is typed (spaces around aside), or
    what ``accept`` takes."""
    sys.stderr.write(f'Type "{words}" {what} (anything else cancels): ')
    sys.stderr.flush()
    typed = sys.stdin.readline().strip()
    if not (accept(typed) if accept is not None else typed == words):
        raise Refused(f'not confirmed (expected "{words}")')


# -- delete ----------------------------------------------------------------------------------


def run_delete(args: argparse.Namespace, out: Out, signals: Signals) -> int:
    """``delete POOL``: read it and what it carries, refuse as ``%pool_delete`` does, confirm,
    then one DELETE, watched until it is gone."""
    from ..deletion.flow import DeleteFlow
    from ..deletion.lookup import resolve
    from ..notebook.render import flow_text

    if not (args.yes or terminal()):
        raise Refused("delete: no terminal to confirm on: add --yes to delete the pool "
                      "unattended")
    with client_for(args, out) as client:
        flow = DeleteFlow(client, resolve(client, args.pool), timeout=args.timeout,
                          interval=args.interval, retire=False)
        flow.via = "command"
        if flow.step is Step.REVIEW and flow.pool.phase != "Deleting":
            flow.check_impact()
        _show(out, flow)
        _refuse(flow, args.force)
        if not args.yes:
            _confirm(flow.pool.display_name or flow.pool.id, "(or the pool id) to delete it",
                     lambda typed: flow.can_confirm(typed, acknowledged=args.force))
        return _follow_run(flow, args, out, signals, None, start=lambda: flow.delete_now(
            wait=not args.no_wait, background=True, acknowledged=args.force),
            describe=lambda _target: flow_text(flow))


def _show(out: Out, flow: DeleteFlow) -> None:
    """The pool, what deleting it breaks and what cannot be undone, as ``%pool_delete``."""
    from ..notebook.render import consequences, impact_lines, pool_text

    out.line(f"({flow.client.settings.describe()})")
    out.block(pool_text(flow.pool))
    warning = [] if flow.step is Step.REFUSED else [consequences(flow.pool, flow.impact)]
    for line in ["", *impact_lines(flow.impact), *warning]:
        out.line(line)


def _refuse(flow: DeleteFlow, force: bool) -> None:
    """What ``%pool_delete --yes`` refuses, refused here (exit 1, nothing sent)."""
    if flow.step is Step.REFUSED:
        why, how = flow.refusal_parts()
        raise DeletionRefused(f"cannot delete pool {flow.pool.label}: {why}"
                              f"{'; ' + how if how else ''}; nothing was sent")
    if flow.needs_ack and not force and flow.impact is not None:
        raise DeletionRefused(f"deleting pool {flow.pool.label} stops {flow.stops}: "
                              "add --force to delete it anyway; nothing was sent")


# -- a run, followed -------------------------------------------------------------------------


def _follow_run(run: Deletion, args: argparse.Namespace, out: Out, signals: Signals,
                plan: Plan | None, start: Any = None,
                describe: Callable[[Target], str] | None = None) -> int:
    """Start ``run`` in the background, show it, stop it on a signal; the exit code. One
    pool (``describe``: its line, ``render.flow_text``) ends on that line, many on a
    summary."""
    progress = Progress(out, run, live=sys.stdout.isatty(), describe=describe,
                        finals=describe is None)
    run.on_target = progress.event
    signals.running = True
    if start is None:
        run.run(send=True, wait=not args.no_wait, background=True)
    else:
        start()
    ended = follow(run, signals, progress)
    progress.end()
    if signals.stop.is_set():
        return _stopped(run, out, signals, plan, ended)
    code = _code(run.targets, wait=not args.no_wait)
    if describe is not None and out.chatty:
        out.line(describe(run.targets[0]))
    else:
        _report(run, out, code)
    out.document(_doc(args.command, code, run.targets, plan, run=run))
    return code


def _code(targets: list[Target], *, wait: bool) -> int:
    """0 when every pool is gone (accepted, with --no-wait); else 1."""
    good = {Step.DELETED} if wait else {Step.DELETED, Step.ACCEPTED}
    return OK if targets and all(t.step in good for t in targets) else PARTIAL


def _report(run: Deletion, out: Out, code: int) -> None:
    """The summary (with --quiet: only what did not go, each in one line on stderr)."""
    if out.chatty:
        out.block(run.summary())
        return
    if code != OK:
        if run.run_error is not None:
            out.problem(f"the run stopped: {run.run_error}")
        for target in run.targets:
            if target.step not in (Step.DELETED, Step.ACCEPTED):
                out.problem(f"{target.step.value}: {_label(target)}: {target.message}")


def _stopped(run: Deletion, out: Out, signals: Signals, plan: Plan | None, ended: bool
             ) -> int:
    """Stopped by a signal: what was sent, in one line; then exit 130 — at once when
    something is still on the wire (its answer is not awaited)."""
    targets = list(run.targets)
    sent = [t for t in targets if t.sent]
    waiting = [t for t in sent if t.step is Step.SENDING]
    names = ", ".join(_label(t) for t in sent[:5]) + (", …" if len(sent) > 5 else "")
    line = (f"Stopped by {signals.name} in {signals.since():.2f} s: "
            f"{len(sent)} DELETE(s) sent{f' ({names})' if sent else ''}, whose deletions go "
            f"on on the server; {len(targets) - len(sent)} pool(s) got no DELETE. "
            "Nothing more was sent.")
    if waiting:
        line += f" The answer to {len(waiting)} DELETE(s) was not awaited."
    if not ended:
        for target in waiting:  # its answer is not awaited: the receipt is written now
            if target.receipt is None:
                target.receipt = receipts.sent(run, target)
    out.problem(line)
    out.document(_doc("apply" if plan else "delete", INTERRUPTED, targets, plan, run=run,
                      interrupted=signals.name))
    if not ended:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)  # a request on the wire must not hold up the exit
    return INTERRUPTED


def _label(target: Target) -> str:
    """The pool as shown: by the names it was planned with when it could not be read."""
    if target.pool is None and target.planned is not None:
        return target.planned.facts.label
    return target.label


def _doc(command: str, code: int, targets: list[Target], plan: Plan | None, *,
         run: Deletion | None = None, interrupted: str | None = None) -> dict[str, Any]:
    """The one JSON document of --json: what happened to each pool, and the exit code."""
    doc: dict[str, Any] = {"command": command, "exit_code": code, "interrupted": interrupted}
    if run is not None:
        settings = run.api.settings
        doc.update(project_id=settings.project_id, endpoint=settings.endpoint,
                   counts={step.value: n for step, n in run.counts().items() if n})
    doc["pools"] = [{"id": t.pool.id if t.pool else t.name, "label": _label(t),
                     "outcome": t.step.value, "sent": t.sent, "message": t.message}
                    for t in targets]
    if plan is not None:
        doc.update(plan={"made_at": plan.made_at, "project_id": plan.project_id},
                   held=held_doc(plan))
    return doc

