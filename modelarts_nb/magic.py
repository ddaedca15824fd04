"""``%pool_delete``: parse, fetch the pool once, then hand off to the panel or the text path.

Nothing is deleted except by the panel's confirmed click, or by ``--yes`` on the same line as the
explicitly named pool. Errors before anything is shown fail the cell with one line (the
``_render_traceback_`` of ModelArtsError); ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .client import PoolsClient
from .errors import DeletionRefused, ModelArtsError
from .flow import DeleteFlow, Step
from .render import flow_text, pool_html, pool_text

__all__ = ["PoolMagics", "DebugError"]


class DebugError(Exception):
    """Raised instead of a one-line ModelArtsError under ``--debug``, to show the traceback."""


@magics_class
class PoolMagics(Magics):
    @magic_arguments()
    @argument(
        "pool",
        help="the pool id (metadata.name) or its display name (label os.modelarts/name); "
        "a display name shared by several pools is an error listing their ids",
    )
    @argument("--project-id", dest="project_id", help="project id (default: settings chain)")
    @argument("--region", help="region id such as cn-north-4 (default: settings chain)")
    @argument("--endpoint", help="full API base URL; overrides --region")
    @argument(
        "--yes",
        action="store_true",
        help="delete at once, without typing the name (prepaid and frozen pools are still "
        "refused); the pool must be named on this same line",
    )
    @argument("--no-wait", action="store_true", help="with --yes: return once accepted")
    @argument("--timeout", type=float, default=3600.0, help="seconds to watch (default 3600)")
    @argument(
        "--interval", type=float, default=None,
        help="seconds between checks (default: adaptive, 2 s rising to 60 s)",
    )
    @argument("--no-widgets", action="store_true", help="text and HTML tables, no panel")
    @argument("--debug", action="store_true", help="show full tracebacks")
    @line_magic
    def pool_delete(self, line: str) -> Any:
        """Show a ModelArts resource pool and delete it after confirmation.

        Without --yes this only reads: the panel deletes after you type the pool's name and
        click Delete; in text mode it prints the line to run to confirm. Settings come from
        the arguments, then HUAWEICLOUD_SDK_* / MODELARTS_* variables, then
        ~/.huaweicloud/credentials, then the ModelArts notebook session.
        """
        try:
            args = parse_argstring(self.pool_delete, line)
        except ValueError as exc:  # e.g. shlex's "No closing quotation"
            raise UsageError(f"cannot parse the line: {exc}") from None
        if args.timeout <= 0 or (args.interval is not None and args.interval <= 0):
            raise UsageError("--timeout and --interval must be positive numbers of seconds")
        try:
            return run(args, self.shell)
        except ModelArtsError as exc:
            if args.debug:
                raise DebugError(str(exc)) from exc
            raise


def run(args: Any, shell: Any) -> Any:
    client = PoolsClient.from_env(
        project_id=args.project_id, region=args.region, endpoint=args.endpoint
    )
    try:
        pool = client.resolve(args.pool)
    finally:
        client.close()  # nothing stays connected while a panel waits for a person
    flow = DeleteFlow(client, pool, timeout=args.timeout, interval=args.interval)
    if args.yes and flow.step is Step.REFUSED:
        raise DeletionRefused(flow.message + "; nothing was deleted", pool=pool)
    if args.no_widgets or _is_terminal(shell):
        _text_path(flow, args)
        return None
    return _widget_path(flow, args)


def _widget_path(flow: DeleteFlow, args: Any) -> Any:
    from .panel import DeletePanel

    panel = DeletePanel(flow, region=flow.client.settings.region)
    if args.yes:
        panel.show()
        _foreground(flow, wait=not args.no_wait)
    elif flow.pool.phase == "Deleting":
        flow.watch(background=True)
    return panel


def _text_path(flow: DeleteFlow, args: Any) -> None:
    from IPython.display import display

    settings = flow.client.settings
    bundle = {
        "text/plain": pool_pretext(flow) + pool_text(flow.pool),
        "text/html": pool_html(flow.pool, region=settings.region, endpoint=settings.endpoint),
    }
    display(bundle, raw=True)
    if not args.yes:
        if flow.step is Step.REFUSED:
            print(f"Cannot delete here: {flow.message}")
        else:
            print(f"Nothing was deleted. To delete this pool, run:\n  {confirm_line(flow, args)}")
        flow.client.close()
        return
    flow.subscribe(_Progress())
    _foreground(flow, wait=not args.no_wait)


def _foreground(flow: DeleteFlow, *, wait: bool) -> None:
    """Delete and watch in this cell; Ctrl-C stops the watching only."""
    try:
        flow.delete_now(wait=wait, background=False)
    except KeyboardInterrupt:
        print(f"Stopped watching pool {flow.pool.label}; the deletion continues on the server.")
        raise
    print(flow_text(flow))
    if flow.step is Step.FAILED and flow.error is not None:
        raise flow.error


class _Progress:
    """Print one line per change of step or phase (text mode's live view)."""

    def __init__(self) -> None:
        self._last: tuple[str, str | None] | None = None

    def __call__(self, flow: DeleteFlow) -> None:
        state = (flow.step.value, flow.pool.phase)
        if state != self._last and flow.step in (Step.SENDING, Step.WATCHING):
            print(flow_text(flow), flush=True)
        self._last = state


def pool_pretext(flow: DeleteFlow) -> str:
    return f"({flow.client.settings.describe()})\n"


def confirm_line(flow: DeleteFlow, args: Any) -> str:
    """The exact line that deletes this pool: by id, with the same project/region/endpoint."""
    parts = ["%pool_delete", flow.pool.id, "--yes"]
    for flag, value in (("--project-id", args.project_id), ("--region", args.region),
                        ("--endpoint", args.endpoint)):
        if value:
            parts += [flag, shlex.quote(value)]
    return " ".join(parts)


def _is_terminal(shell: Any) -> bool:
    """IPython's terminal shell has no widget frontend."""
    return any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__)
