"""A kernel interrupt between cells stops this kernel's background work too.

ipykernel ignores SIGINT while idle: it installs Python's default handler while it handles a
message (``pre_handler_hook``) and afterwards puts back the handler it saved
(``post_handler_hook``), normally "ignore". So work running in threads after a cell or a click
— a ``%pools`` panel checking what the ticked pools run, a Refresh, a watch — never heard the
■ button. ``watch()`` puts a handler in that saved slot: between messages a SIGINT stops every
piece of work under way (``stops.stop_everything``) and then does what the saved handler did.
During a cell nothing changes: the cell gets its KeyboardInterrupt as always, and foreground
work turns that into its stop (``stops.working``, the post-run hook in ``__init__``).

Outside ipykernel (a terminal IPython, a script) there is no idle slot and nothing is changed.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from ..gateway.stops import stop_everything

__all__ = ["watch"]


class _StopsWork:
    """The idle SIGINT handler: stop our work, then the handler ipykernel had saved."""

    def __init__(self, then: Any) -> None:
        self.then = then

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        stop_everything()
        if callable(self.then):  # SIG_IGN and SIG_DFL are not: ignored, as ipykernel does
            self.then(signum, frame)


def watch(kernel: Any = None) -> bool:
    """Have idle interrupts of this kernel stop our work (once per kernel; a no-op elsewhere).
    Effective when called while the kernel handles a message (a cell, a click), which is when
    ipykernel's saved slot exists: the magics and the panels call it."""
    kernel = kernel if kernel is not None else _kernel()
    if kernel is None or threading.current_thread() is not threading.main_thread():
        return False
    saved = getattr(kernel, "saved_sigint_handler", None)
    if saved is None:
        return False
    if not isinstance(saved, _StopsWork):
        kernel.saved_sigint_handler = _StopsWork(saved)
    return True


def _kernel() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the notebook face always has IPython
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def installed() -> bool:
    """Whether SIGINT now stops our work (for tests and diagnostics)."""
    return isinstance(signal.getsignal(signal.SIGINT), _StopsWork)
