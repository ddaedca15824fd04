"""``%pools``: list pools (table or panel) and delete a filtered selection in bulk.

Unattended bulk deletion needs both ``--delete`` and ``--yes`` *and* at least one filter, so that
no line can ever mean "every pool in the project". Without ``--yes`` it prints what it would delete
and sends nothing.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from IPython.core.error import UsageError

from . import rules
from .client import PoolsClient
from .engine import Deletion, Target
from .errors import ModelArtsError
from .impact import read_impact
from .models import Pool
from .steps import Step
from .tables import pools_table

__all__ = ["BulkFailed", "run_pools", "select_pools"]

_LABEL = re.compile(r"[A-Za-z0-9._/-]+=[A-Za-z0-9._-]*")


class BulkFailed(ModelArtsError):
    """Some pools of an unattended bulk deletion failed (the others went on)."""


def select_pools(pools: list[Pool], *, phase: str | None, name: str | None) -> list[Pool]:
    """Client-side filters: exact phase, and a glob on the display name or the id."""
    return [
        pool
        for pool in pools
        if (phase is None or pool.phase == phase)
        and (
            name is None
            or fnmatch.fnmatchcase(pool.display_name or "", name)
            or fnmatch.fnmatchcase(pool.id, name)
        )
    ]


def label_selector(labels: list[str]) -> str | None:
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise UsageError(f"--label {label!r}: expected KEY=VALUE, e.g. course=ml101")
    return ",".join(labels) or None


def narrows(pattern: str | None) -> bool:
    """Whether a --name glob can leave a pool out: it must hold a literal character beyond
    wildcards and character classes (``*``, ``?*``, ``[a-z]*`` match every pool id)."""
    return bool(pattern and re.sub(r"\[[^\]]*\]|[*?]", "", pattern))


def run_pools(args: Any, shell: Any, *, terminal: bool) -> Any:
    if args.delete and not (args.label or args.status or args.phase or narrows(args.name)):
        raise UsageError(
            "--delete needs at least one filter that leaves pools out (--label, --phase, "
            "--status, or a --name pattern with a literal part, not just * ? or [..]): "
            "a bulk deletion must never mean every pool in the project"
        )
    selector = label_selector(args.label)
    client = PoolsClient.from_env(
        project_id=args.project_id, region=args.region, endpoint=args.endpoint
    )

    def lister() -> list[Pool]:
        listed = client.list_pools(label_selector=selector, status=args.status)
        return select_pools(listed, phase=args.phase, name=args.name)

    try:
        pools = lister()
    finally:
        client.close()
    if args.delete and args.yes:
        _unattended(client, pools, args)
        return None
    if args.no_widgets or terminal:
        _show_table(pools)
        if args.delete:
            _dry_run(client, pools, args)
        return None
    from .pools_panel import PoolsPanel

    return PoolsPanel(
        client, lister, concurrency=args.concurrency, timeout=args.timeout, interval=args.interval
    )


def _show_table(pools: list[Pool]) -> None:
    from IPython.display import display

    table = pools_table(pools)
    text = table.to_string(index=False) if len(table) else "(no pools match)"
    display({"text/plain": text, "text/html": table.to_html(index=False, border=0)}, raw=True)


def _dry_run(client: PoolsClient, pools: list[Pool], args: Any) -> None:
    checked, held = _checked(client, pools, args)
    deletable = [p for p in checked if rules.exclusion(p) is None]
    print(f"Nothing was deleted. --delete would delete {len(deletable)} pool(s):")
    for pool in deletable:
        print(f"  {pool.label}")
    for pool in pools:
        if rules.exclusion(pool):
            print(f"  excluded {pool.label}: {rules.exclusion(pool)}")
    for line in held:
        print(f"  {line}")
    print(f"To delete them, run:\n  {same_line(args)} --delete --yes" + (
        " (add --force to include the pools with running work)" if held and not args.force
        else ""))


def _checked(client: PoolsClient, pools: list[Pool], args: Any) -> tuple[list[Pool], list[str]]:
    """The deletable pools after reading what each carries (``concurrency`` pools at once):
    pools with yearly/monthly nodes are left out, and so are pools with running or waiting
    work or sub-pools unless ``--force``; with one line each saying why."""
    candidates = [p for p in pools if rules.exclusion(p) is None]
    with ThreadPoolExecutor(args.concurrency, thread_name_prefix="modelarts-nb-check") as ex:
        impacts = list(ex.map(lambda pool: read_impact(client, pool), candidates))
    # prepaid, frozen, unknown: kept, for the engine refuses them with the reason
    keep, held = [p for p in pools if rules.exclusion(p) is not None], []
    for pool, impact in zip(candidates, impacts):
        prepaid = rules.node_refusal(pool, [n.name for n in impact.prepaid_nodes(pool)])
        if prepaid:
            held.append(f"excluded {pool.label}: {prepaid}")
        elif impact.needs_force and not args.force:
            held.append(f"left out {pool.label}: deleting it stops {impact.stops()}; "
                        "add --force to include it")
        else:
            keep.append(pool)
    return keep, held


def same_line(args: Any) -> str:
    parts = ["%pools"]
    for label in args.label:
        parts += ["--label", shlex.quote(label)]
    for flag in ("status", "phase", "name", "project_id", "region", "endpoint"):
        value = getattr(args, flag)
        if value:
            parts += [f"--{flag.replace('_', '-')}", shlex.quote(value)]
    if args.force:
        parts.append("--force")
    return " ".join(parts)


def _unattended(client: PoolsClient, pools: list[Pool], args: Any) -> None:
    pools, held = _checked(client, pools, args)
    for line in held:
        print(line.replace("excluded", "EXCLUDED:", 1).replace("left out", "LEFT OUT:", 1))
    run = Deletion(
        client,
        [Target(p.id, p) for p in pools],
        concurrency=args.concurrency,
        timeout=args.timeout,
        interval=args.interval,
    )
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


def _line(target: Target) -> str:
    done = f" after {target.elapsed:.0f} s" if target.step.final else ""
    return (f"{target.step.value.upper()}: {target.label}, phase {target.phase}{done} — "
            f"{target.message}")
