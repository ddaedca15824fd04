"""``%pool_delete``: parse, fetch the pool once, then hand off to the panel or the text path.

Nothing is deleted except by the panel's confirmed click, or by ``--yes`` on the same line as the
explicitly named pool. Errors before anything is shown fail the cell with one line (the
``_render_traceback_`` of ModelArtsError); ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.utils.process import arg_split
from IPython.utils.text import DollarFormatter

from ..deletion.client import PoolsClient
from ..deletion.flow import DeleteFlow, Step
from ..deletion.lookup import resolve
from ..gateway.errors import DeletionRefused, InvalidName, ModelArtsError, PoolNotFound
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

__all__ = ["PoolMagics", "DebugError", "UnexpectedError"]


class DebugError(Exception):
    """Raised instead of a one-line ModelArtsError under ``--debug``, to show the traceback.

    It renders the standard Python traceback of the cause itself: IPython's ``%xmode Verbose``
    would print every frame's local variables, and some hold credentials or ``os.environ``.
    """

    def _render_traceback_(self) -> list[str]:
        import traceback

        cause = self.__cause__ or self
        lines = traceback.format_exception(type(cause), cause, cause.__traceback__)
        return [line.rstrip("\n") for line in "".join(lines).splitlines()]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The settings, watch and output options both magics share."""
    options = [
        argument("--project-id", dest="project_id", help="project id (default: settings chain)"),
        argument("--region", help="region id such as cn-north-4 (default: settings chain)"),
        argument("--endpoint", help="full API base URL; overrides --region"),
        argument("--user-id", dest="user_id", metavar="ID",
                 help="tenant id sent (signed) as X-ModelArts-User-ID on a pool's GET and "
                 "DELETE, for workspace authentication (default: MODELARTS_USER_ID, then the "
                 "notebook session's user_id); --user-id '' sends none: IAM alone decides"),
        argument("--timeout", type=float, default=3600.0, help="seconds to watch (default 3600)"),
        argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between checks (default: adaptive, 2 s rising to 60 s)",
        ),
        argument("--no-widgets", action="store_true", help="text and HTML tables, no panel"),
        argument("--debug", action="store_true", help="show full tracebacks"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse(magic: Callable[..., Any], line: str, shell: Any) -> Any:
    """Parse the line as typed, after ``$var``/``{expr}`` expansion.

    The magics receive the line unexpanded (``no_var_expand``) so that an expansion can supply
    a pool name or a value, never an option: ``pool = "x --yes"`` must not delete anything.
    """
    expanded = _expand(line, shell)
    try:
        typed, given = _options(line), _options(expanded)
        args = parse_argstring(magic, expanded)
    except ValueError as exc:  # e.g. shlex's "No closing quotation"
        raise UsageError(f"cannot parse the line: {exc}") from None
    smuggled = sorted(given - typed)
    if smuggled:
        raise UsageError(
            f"{', '.join(smuggled)} came from a variable or expression: options must be typed "
            "on the line itself; nothing was sent"
        )
    if not 0 < args.timeout <= 7 * 86400:  # also false for nan
        raise UsageError("--timeout must be a number of seconds, more than 0 and at most 7 days")
    if args.interval is not None and not 0.05 <= args.interval <= 3600:
        raise UsageError("--interval must be a number of seconds from 0.05 to 3600")
    for key, value in vars(args).items():
        if isinstance(value, str):
            setattr(args, key, _unquote(value))
        elif isinstance(value, list):
            setattr(args, key, [_unquote(v) if isinstance(v, str) else v for v in value])
    return args


def _options(line: str) -> set[str]:
    return {word.split("=")[0] for word in arg_split(line) if word.startswith("-")}


def _expand(line: str, shell: Any) -> str:
    """IPython's own expansion, with the namespace of the code that called the magic."""
    if shell is None:
        return line
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "run_line_magic":
        frame = frame.f_back  # type: ignore[assignment]
    namespace = dict(shell.user_ns)
    if frame is not None and frame.f_back is not None:
        namespace.update(frame.f_back.f_locals)
    try:
        return str(DollarFormatter().vformat(line, args=[], kwargs=namespace))
    except Exception:  # noqa: BLE001 - IPython, too, leaves a line it cannot expand as typed
        return line


def _unquote(value: str) -> str:
    """IPython's argument splitter keeps the quotes of ``'a b'``; the user meant ``a b``."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


_FORCE = ("delete even when it stops running or waiting workloads or sub-pools (named first; "
          "without --force they are refused, or left out of a batch)")


class UnexpectedError(ModelArtsError):
    """Anything but our own errors, shown as one line without values: under ``%xmode Verbose``
    its traceback would print frame locals, and some hold credentials or ``os.environ``."""


def _one_line_errors(args: Any, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ModelArtsError as exc:
        exc.args = tuple(_safe(a) if isinstance(a, str) else a for a in exc.args)
        if args.debug:
            raise DebugError(str(exc)) from exc
        raise
    except UsageError:
        raise  # IPython shows it as one line of its own
    except Exception as exc:  # noqa: BLE001 - made safe to show, not swallowed
        if args.debug:
            raise DebugError(type(exc).__name__) from exc
        raise UnexpectedError(
            f"unexpected {type(exc).__name__} in modelarts-nb; the cell stopped there — "
            "add --debug to see the traceback (without local variables)"
        ) from None


@magics_class
class PoolMagics(Magics):
    @magic_arguments()
    @argument(
        "pool",
        help="the pool id (metadata.name) or its display name (label os.modelarts/name); "
        "a display name shared by several pools is an error listing their ids",
    )
    @argument(
        "--yes",
        action="store_true",
        help="delete at once, without typing the name (prepaid and frozen pools are still "
        "refused); the pool must be named on this same line",
    )
    @argument("--no-wait", action="store_true", help="with --yes: return once accepted")
    @argument("--force", action="store_true", help=f"with --yes: {_FORCE}")
    @_common
    @line_magic
    @no_var_expand
    def pool_delete(self, line: str) -> Any:
        """Show a ModelArts resource pool and delete it after confirmation.

        Without --yes this only reads: the panel deletes after you type the pool's name and
        click Delete; in text mode it prints the line to run to confirm. Settings come from
        the arguments, then HUAWEICLOUD_SDK_* / MODELARTS_* variables, then
        ~/.huaweicloud/credentials, then the ModelArts notebook session.
        """
        args = _parse(self.pool_delete, line, self.shell)
        return _one_line_errors(args, lambda: run(args, self.shell))

    @magic_arguments()
    @argument("--tag", action="append", default=[], metavar="KEY=VALUE",
              help="only pools with this TMS tag (repeatable; all must match; KEY alone: any "
              "value)")
    @argument("--keep-tag", dest="keep_tag", action="append", default=[], metavar="KEY[=VALUE]",
              help="never select pools with this tag (repeatable); they are shown as kept")
    @argument("--older-than", dest="older_than", metavar="AGE",
              help="only pools created longer ago than AGE, e.g. 90m, 8h, 3d, 1d12h")
    @argument("--workspace", metavar="ID",
              help='list this workspace (default: the server\'s default, workspace "0")')
    @argument("--all-workspaces", dest="all_workspaces", action="store_true",
              help="list every workspace of the project")
    @argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only pools with this system label, e.g. os.modelarts/name=x (repeatable)",
    )
    @argument("--status", choices=["created", "failed", "creating"], help="server-side filter")
    @argument("--phase", help="only pools in this phase, e.g. Running")
    @argument("--name", metavar="GLOB", help="display name or id pattern, e.g. 'student-*'")
    @argument("--idle", action="store_true",
              help="keep every pool with running or waiting work, sub-pools, or work that "
              "cannot be read (workload statistics and list); not a filter on its own")
    @argument(
        "--delete",
        action="store_true",
        help="delete the listed pools: with --yes unattended, else prints what it would do",
    )
    @argument("--yes", action="store_true", help="with --delete: really delete, no panel")
    @argument("--force", action="store_true", help=f"with --delete --yes: {_FORCE}")
    @argument("--concurrency", type=int, default=8, help="DELETEs in flight at once (1-32)")
    @argument("--save-plan", dest="save_plan", metavar="FILE",
              help="review the selected pools and write the plan (JSON) to FILE; sends no "
              "DELETE (apply it with --apply FILE, or `modelarts-nb apply FILE`)")
    @argument("--apply", metavar="FILE",
              help="a saved plan: shows what changed since it was made; with --yes deletes "
              "exactly its pools, each checked against it first")
    @argument("--history", action="store_true",
              help="show the receipts of the DELETEs sent from here, newest first (no request)")
    @argument("--pool", metavar="NAME", help="with --history: only this pool id or display name")
    @argument("--since", metavar="WHEN",
              help="with --history: from a date (2026-11-30), an ISO time or an age (3d)")
    @_common
    @line_magic
    @no_var_expand
    def pools(self, line: str) -> Any:
        """List the project's pools as a panel to select and delete several, or as a table
        (``r = %pools --no-widgets`` gives a DataFrame with a column per tag key).

        Select with --tag KEY=VALUE (TMS tags), --older-than 3d, --keep-tag KEY (never
        selected), --workspace ID or --all-workspaces. The panel deletes after you tick pools
        and type "delete N pools" for exactly the number ticked. --delete --yes (both, plus a
        filter) deletes unattended and prints a summary. Prepaid, frozen and already-deleting
        pools are always left out, with the reason.
        """
        from .magic_pools import run_history, run_pools

        args = _parse(self.pools, line, self.shell)
        if args.history or args.pool is not None or args.since is not None:
            return _one_line_errors(args, lambda: run_history(args))
        if args.apply is not None:
            from .magic_pools import run_apply

            terminal = _is_terminal(self.shell)
            return _one_line_errors(args, lambda: run_apply(args, terminal=terminal))
        if not 1 <= args.concurrency <= 32:
            raise UsageError("--concurrency must be between 1 and 32")
        terminal = _is_terminal(self.shell)
        return _one_line_errors(args, lambda: run_pools(args, self.shell, terminal=terminal))


def _safe(text: str) -> str:
    """Printed text never holds a credential. Server strings come masked already (the edge:
    ``responses.read_json``); this also covers what we built around them — a path, a local
    error — with every credential the process knows, renewed ones included."""
    return masked(text, known_secrets())


def _say(text: str, **kw: Any) -> None:
    print(_safe(text), **kw)


def run(args: Any, shell: Any) -> Any:
    client = PoolsClient.from_env(
        project_id=args.project_id, region=args.region, endpoint=args.endpoint,
        user_id=args.user_id,
    )
    return _run(args, shell, client)


def _run(args: Any, shell: Any, client: PoolsClient) -> Any:
    try:
        pool = resolve(client, args.pool)
    except InvalidName as exc:
        if exc.candidates and not (args.no_widgets or _is_terminal(shell)):
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
    text = args.no_widgets or _is_terminal(shell)
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

    display({"text/html": _safe(candidates_html(name, pools))}, raw=True)


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
    display({mime: _safe(text) for mime, text in bundle.items()}, raw=True)
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


def _is_terminal(shell: Any) -> bool:
    """IPython's terminal shell has no widget frontend."""
    return any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__)
