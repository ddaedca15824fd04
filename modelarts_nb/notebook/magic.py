"""``%pool_delete`` and ``%pools``: their options and help, how a line is read, how errors show.

Why it exists: both magics read a line the same way — options only as typed, never from a
``$var``/``{expr}`` expansion (``pool = "x --yes"`` must not delete anything), numbers in range
— and fail the same way: one line (the ``_render_traceback_`` of ModelArtsError), no frame
locals; ``--debug`` shows the traceback instead. What each then does is ``magic_delete``'s
(one pool: the panel or the text path) and ``magic_pools``' (a list, a panel, a batch).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.utils.process import arg_split
from IPython.utils.text import DollarFormatter

from ..gateway.errors import ModelArtsError
from .magic_delete import run, safe

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
        exc.args = tuple(safe(a) if isinstance(a, str) else a for a in exc.args)
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
        terminal = _is_terminal(self.shell)
        return _one_line_errors(args, lambda: run(args, terminal=terminal))

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


def _is_terminal(shell: Any) -> bool:
    """IPython's terminal shell has no widget frontend."""
    return any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__)
