"""``modelarts-nb``: clean up pools without a notebook — from a terminal, cron or a CI job.

Why a command: a class's pools should go when it ends whether or not anyone opens a notebook,
and a second person should be able to read the list before 40 pools go. It runs on the same
settings, policy and engine as the magics: ``plan`` writes what would be deleted to a file
(sending no DELETE); ``apply`` deletes exactly that, each pool re-checked against it first.

Exit codes, for scripts: 0 every planned pool is gone (or nothing to do); 1 something was left
out, refused or failed (each said in one line); 2 refused before anything was sent (usage, no
confirmation, another project or endpoint, an unreadable or too old plan, missing settings);
130 stopped by SIGINT/SIGTERM (what was sent is said). See docs/command-line.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .._version import __version__
from ..deletion.client import PoolsClient
from ..deletion.plan import Plan, PlanError
from ..gateway.errors import ConfigError, DeletionRefused, InvalidName, ModelArtsError
from .common import (
    INTERRUPTED,
    OK,
    PARTIAL,
    REFUSED,
    Out,
    Refused,
    Signals,
    client_for,
    concurrency,
    held,
    held_doc,
    quiet_or_json,
    settings_options,
    where,
)

if TYPE_CHECKING:
    from ..deletion.selection import Filters, Listing

__all__ = ["main", "parser"]

NARROW = ("needs at least one filter that leaves pools out (--tag, --older-than, --phase, "
          "--status, --label, or a --name pattern that not every pool id matches; a workspace "
          "is a scope and --idle is not enough on its own): a plan must never mean every pool "
          "in the project")


class _Parser(argparse.ArgumentParser):
    """argparse, with its error as one line (and exit 2), as every other error here."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(REFUSED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; its exit code (see the module docstring)."""
    for stream in (sys.stdout, sys.stderr):  # a Latin-1 terminal gets "?" for "—", no error
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    args = parser().parse_args(argv)
    out = Out(quiet=getattr(args, "quiet", False),
              as_json=getattr(args, "json", False) or getattr(args, "csv", False))
    try:
        return _run(args, out)
    except BrokenPipeError:  # `modelarts-nb pools | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return PARTIAL


def _run(args: argparse.Namespace, out: Out) -> int:
    """The sub-command, every error as one line and an exit code."""
    from IPython.core.error import UsageError  # what magic_pools.filters_from raises

    signals = Signals().install()
    try:
        return int(args.handler(args, out, signals))
    except (Refused, UsageError, ConfigError, InvalidName, PlanError) as exc:
        out.error(f"{exc}{'' if 'nothing was' in str(exc) else '; nothing was sent'}")
        return REFUSED
    except DeletionRefused as exc:
        out.error(str(exc))
        return PARTIAL
    except ModelArtsError as exc:
        out.error(str(exc))
        return PARTIAL
    except KeyboardInterrupt:
        out.error("interrupted: nothing was deleted")
        if any(t.name.startswith("modelarts-nb") for t in threading.enumerate()):
            sys.stdout.flush()
            os._exit(INTERRUPTED)  # reads still on the wire must not hold up the exit
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback with values
        if args.debug:
            raise
        out.error(f"unexpected {type(exc).__name__} in modelarts-nb; run it again with --debug "
                  "to see the traceback")
        return PARTIAL


# -- the parser ------------------------------------------------------------------------------

_FORMAT = argparse.RawDescriptionHelpFormatter
_DESCRIPTION = """\
Delete Huawei Cloud ModelArts resource pools from a terminal, cron or CI: list them, write
a plan a second person can review, apply exactly that plan. Settings come from --project-id,
--region, --endpoint, then HUAWEICLOUD_SDK_* / MODELARTS_* variables, then
~/.huaweicloud/credentials.

exit codes: 0 every planned pool is gone (or nothing to do); 1 something was left out,
refused or failed; 2 refused before anything was sent; 130 stopped by SIGINT/SIGTERM."""
_EXAMPLES = """\
examples:
  modelarts-nb pools --tag course=ml101
  modelarts-nb plan --tag course=ml101 --keep-tag keep --idle --out ml101.plan.json
  modelarts-nb apply ml101.plan.json            # asks you to type "delete N pools"
  modelarts-nb apply ml101.plan.json --yes      # unattended (cron, CI)
  modelarts-nb delete pool-01
  modelarts-nb history --since 3d"""


def parser() -> argparse.ArgumentParser:
    """The command line: one sub-command each for pools, plan, apply, delete and history."""
    top = _Parser(prog="modelarts-nb", description=_DESCRIPTION, epilog=_EXAMPLES,
                  formatter_class=_FORMAT)
    top.add_argument("--version", action="version", version=f"modelarts-nb {__version__}")
    subs = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from . import run as cli_run

    for name, add, handler in (("pools", _pools_options, run_pools),
                               ("plan", _plan_options, run_plan),
                               ("apply", cli_run.apply_options, cli_run.run_apply),
                               ("delete", cli_run.delete_options, cli_run.run_delete),
                               ("history", _history_options, run_history)):
        summary, examples = _HELP[name]
        sub = subs.add_parser(name, help=summary.replace("%", "%%"), description=summary,
                              epilog=examples,
                              formatter_class=_FORMAT)
        add(sub)
        sub.add_argument("--debug", action="store_true", help="show tracebacks")
        sub.set_defaults(handler=handler)
    return top


_HELP = {
    "pools": ("List the pools the filters select, with the decision each would get.", """\
examples:
  modelarts-nb pools
  modelarts-nb pools --tag course=ml101 --keep-tag keep
  modelarts-nb pools --older-than 8h --idle --csv > pools.csv
  modelarts-nb pools --all-workspaces --json"""),
    "plan": ("Review the pools the filters select and write the plan (JSON) to a file; sends "
             "no DELETE.", """\
examples:
  modelarts-nb plan --tag course=ml101 --out ml101.plan.json
  modelarts-nb plan --tag course=ml101 --keep-tag keep --idle --out ml101.plan.json
  modelarts-nb plan --name 'student-*' --older-than 1d --force --out old.plan.json"""),
    "apply": ("Delete exactly the pools a plan holds, each re-checked against it first.", """\
examples:
  modelarts-nb apply ml101.plan.json              # on a terminal: type "delete N pools"
  modelarts-nb apply ml101.plan.json --yes        # unattended
  modelarts-nb apply ml101.plan.json --yes --max-age 3d --json"""),
    "delete": ("Delete one pool, with the same checks as %pool_delete.", """\
examples:
  modelarts-nb delete pool-01                     # on a terminal: type its name
  modelarts-nb delete pool-01-0123456789abcdef0123456789abcdef --yes
  modelarts-nb delete train-gpu --yes --force     # it runs work: stop it"""),
    "history": ("Show the receipts of the DELETEs sent from this machine, newest first "
                "(no request).", """\
examples:
  modelarts-nb history
  modelarts-nb history --pool pool-01 --since 2026-11-30
  modelarts-nb history --since 3d --json"""),
}


def _filter_options(sub: argparse.ArgumentParser) -> None:
    """The selectors of ``%pools``, with its dest names (``magic_pools.filters_from``)."""
    sub.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                     help="only pools with this TMS tag (repeatable; KEY alone: any value)")
    sub.add_argument("--keep-tag", dest="keep_tag", action="append", default=[],
                     metavar="KEY[=VALUE]", help="never select pools with this tag (repeatable)")
    sub.add_argument("--older-than", dest="older_than", metavar="AGE",
                     help="only pools created longer ago than AGE, e.g. 90m, 8h, 3d, 1d12h")
    sub.add_argument("--phase", help="only pools in this phase, e.g. Running")
    sub.add_argument("--name", metavar="GLOB", help="display name or id pattern, e.g. 'student-*'")
    sub.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                     help="only pools with this system label (repeatable)")
    sub.add_argument("--status", choices=["created", "failed", "creating"],
                     help="server-side filter")
    sub.add_argument("--workspace", metavar="ID", help='list this workspace (default "0")')
    sub.add_argument("--all-workspaces", dest="all_workspaces", action="store_true",
                     help="list every workspace of the project")
    sub.add_argument("--idle", action="store_true",
                     help="keep every pool with running or waiting work, sub-pools, or work "
                     "that cannot be read (read from its workload statistics and list)")
    sub.add_argument("--concurrency", type=concurrency, default=8,
                     help="pools read at once (1-32, default 8)")
    settings_options(sub)


def _pools_options(sub: argparse.ArgumentParser) -> None:
    """A table for a person, or JSON/CSV for a spreadsheet or a script."""
    _filter_options(sub)
    shape = sub.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the table as a JSON array")
    shape.add_argument("--csv", action="store_true", help="the table as CSV")


def _plan_options(sub: argparse.ArgumentParser) -> None:
    """A plan is a file a second person reads before ``apply``: ``--out`` is required."""
    _filter_options(sub)
    sub.add_argument("--out", required=True, metavar="FILE", help="where to write the plan")
    sub.add_argument("--force", action="store_true",
                     help="plan to delete pools with running or waiting work or sub-pools too")
    quiet_or_json(sub)


def _history_options(sub: argparse.ArgumentParser) -> None:
    """The ``%pools --history`` options: the receipts need no settings."""
    sub.add_argument("--pool", metavar="NAME", help="only this pool id or display name")
    sub.add_argument("--since", metavar="WHEN",
                     help="from a date (2026-11-30), an ISO time or an age (3d)")
    sub.add_argument("--json", action="store_true", help="the receipts as a JSON array")


# -- pools, plan, history --------------------------------------------------------------------


def _listing(args: argparse.Namespace, out: Out, client: PoolsClient, filters: Filters, *,
             confirm: bool) -> Listing:
    """The pools the filters select, busy ones kept with ``--idle``; its notes said."""
    from ..deletion.selection import list_selected

    listing = list_selected(client, filters, confirm=confirm)
    if args.idle:
        from ..deletion.idle import keep_busy

        keep_busy(client, listing, concurrency=args.concurrency)
    for note in listing.notes:
        out.note(note)
    return listing


def run_pools(args: argparse.Namespace, out: Out, _signals: Signals) -> int:
    """``pools``: the table, as text, JSON or CSV, with its decision column."""
    from ..notebook.magic_pools import decided_table, filters_from

    filters = filters_from(args)  # a bad value is refused before any request
    with client_for(args, out) as client:
        listing = _listing(args, out, client, filters, confirm=False)
    table = decided_table(listing)
    if args.json:
        out.data(table.to_json(orient="records", force_ascii=False))
    elif args.csv:
        out.data(table.to_csv(index=False))
    else:
        out.block(table.to_string(index=False) if len(table) else "(no pools match)")
    return OK


def run_plan(args: argparse.Namespace, out: Out, _signals: Signals) -> int:
    """``plan``: review the selected pools and write the plan; sends no DELETE."""
    from ..deletion.review import review
    from ..notebook.magic_pools import filters_from

    filters = filters_from(args)
    if not filters.narrows():
        raise Refused(f"plan {NARROW}")
    if args.idle and args.force:
        raise Refused("--idle and --force exclude each other: --idle keeps every pool with "
                      "work, --force would delete pools with work")
    path = Path(args.out).expanduser()
    if not path.parent.is_dir():
        raise Refused(f"--out {args.out!r}: no such directory {str(path.parent)!r}")
    with client_for(args, out) as client:
        listing = _listing(args, out, client, filters, confirm=True)
        plan = review(client, listing.pools, filters=filters, kept=listing.kept,
                      force=args.force, via="command", concurrency=args.concurrency)
    write_plan(plan, path)
    _say_plan(out, plan, args.out)
    return OK


def write_plan(plan: Plan, path: Path) -> None:
    """The whole file or none: written beside it, then renamed over it (a reviewer, or an
    ``apply`` started by cron, never reads half a plan)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(plan.to_json() + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise Refused(f"--out {str(path)!r}: cannot write it: "
                      f"{exc.strerror or type(exc).__name__}; nothing was deleted") from None


def _say_plan(out: Out, plan: Plan, path: str) -> None:
    """What the plan deletes and keeps, and the line that applies it (or --json's document)."""
    out.line(f"{where(plan)}: {plan.summary().splitlines()[0]} — nothing was deleted.")
    for line in held(plan):
        out.line(f"  {line}")
    out.line(f"Plan written to {path}. Review it, then apply it with:")
    out.line(f"  modelarts-nb apply {shlex.quote(path)}")
    out.document({"command": "plan", "out": path, "made_at": plan.made_at,
                  "project_id": plan.project_id, "endpoint": plan.endpoint,
                  "delete": [item.facts.id for item in plan.deletable()],
                  "held": held_doc(plan)})


def run_history(args: argparse.Namespace, out: Out, _signals: Signals) -> int:
    """``history``: the receipts file, read locally; needs no settings, sends nothing. As
    ``%pools --history`` shows it (``history_view``): one short line per deletion; ``--json``
    has every field."""
    from ..deletion.receipts import COLUMNS, location, read_history, shown
    from ..notebook.history_view import FULL_COMMAND, text_view

    try:
        rows, notes = read_history(args.pool, args.since)  # parses --since
    except ValueError as exc:
        raise Refused(str(exc)) from None
    for note in notes:
        out.note(note)
    if args.json:  # the fields of the receipts, as the DataFrame's columns
        out.data(json.dumps([{k: row[k] for k in COLUMNS} for row in rows],
                            ensure_ascii=False, default=_iso))
    if rows:
        out.block(text_view(rows, FULL_COMMAND))
    if not rows and not notes:
        out.line(f"(no receipts match; they are kept in {shown(location(), 400)})")
    return PARTIAL if any(note.startswith("Cannot read") for note in notes) else OK


def _iso(value: object) -> str:
    """A receipt's times as ISO 8601 in the JSON (json cannot write a datetime)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)
