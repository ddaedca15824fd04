"""What every ``modelarts-nb`` sub-command shares: what it prints, how it stops, its options.

Why apart from ``command`` (the parser, pools, plan, history) and ``run`` (apply, delete):
every line the command writes goes through ``Out`` (masked, one line per message, quiet or JSON
as asked), a run's progress and its stop on SIGINT/SIGTERM are the same for ``apply`` and
``delete``, and both sides describe a plan and its settings the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ..deletion.client import PoolsClient
from ..deletion.engine import Deletion
from ..deletion.policy import Verdict
from ..deletion.steps import Step
from ..deletion.target import Target
from ..gateway.text import known_secrets, masked, one_line

if TYPE_CHECKING:
    from ..deletion.plan import Plan

__all__ = ["GRACE", "INTERRUPTED", "OK", "PARTIAL", "REFUSED", "Out", "Progress", "Refused",
           "Signals", "client_for", "concurrency", "follow", "held", "held_doc", "quiet_or_json",
           "settings_options", "terminal", "where"]

OK, PARTIAL, REFUSED, INTERRUPTED = 0, 1, 2, 130  # the exit codes: see cli
GRACE = 0.6  # seconds a run gets, after a signal, to finish what is on the wire


def terminal() -> bool:
    """A person can answer a question: stdin and stderr (where it is asked) are a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


class Out:
    """Every line the command writes: never a credential (even one a server echoed back),
    each message on one line. ``--quiet`` keeps stdout silent, ``--json`` keeps it for the
    one document; errors always go to stderr.

    Server strings arrive clean (``responses.read_json``); what is written is masked again
    with every credential the process knows (``text.known_secrets``: the environment's, the
    client's, renewed ones), because a line may also quote a path or a local error."""

    def __init__(self, *, quiet: bool = False, as_json: bool = False) -> None:
        self.quiet, self.as_json = quiet, as_json
        self.secrets: tuple[str, ...] = ()  # more to mask, beyond known_secrets()
        self._drawn = ""

    def know(self, secrets: Iterable[str]) -> None:
        """Mask these too (credentials not in the process's registry)."""
        self.secrets = tuple(dict.fromkeys([*self.secrets, *secrets]))

    @property
    def chatty(self) -> bool:
        return not (self.quiet or self.as_json)

    def line(self, text: str, limit: int = 2000) -> None:
        """One message line on stdout (not with --quiet or --json)."""
        if self.chatty:
            indent = " " * (len(text) - len(text.lstrip(" ")))  # ours: a list's items
            self._write(sys.stdout, indent + one_line(text, limit) + "\n")

    def block(self, text: str) -> None:
        """Several lines made by us (a table, a pool card) on stdout, masked."""
        if self.chatty:
            self._write(sys.stdout, text.rstrip("\n") + "\n")

    def data(self, text: str) -> None:
        """The document asked for (--json, --csv): stdout, whatever --quiet says."""
        self._write(sys.stdout, text.rstrip("\n") + "\n")

    def note(self, text: str) -> None:
        """A remark: stdout, or stderr when stdout carries a document (or is quiet)."""
        stream = sys.stdout if self.chatty else sys.stderr
        self._write(stream, one_line(text, 2000) + "\n")

    def problem(self, text: str) -> None:
        """What did not go as planned: stdout normally, stderr with --quiet, in the JSON
        document only with --json."""
        if not self.as_json:
            self._write(sys.stdout if self.chatty else sys.stderr, one_line(text, 2000) + "\n")

    def error(self, text: str) -> None:
        self._write(sys.stderr, f"modelarts-nb: {one_line(text, 2000)}\n")

    def document(self, doc: dict[str, Any]) -> None:
        if self.as_json:
            self.data(json.dumps(doc, ensure_ascii=False, default=str))

    def live(self, text: str) -> None:
        """Redraw the terminal's progress line (only when it says something new)."""
        if text != self._drawn:
            self._drawn = text
            self._write(sys.stdout, "\r\x1b[K" + one_line(text, 200))

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(masked(text, (*known_secrets(), *self.secrets)))
        stream.flush()


class Signals:
    """SIGINT and SIGTERM. Before a run they end the command at once (KeyboardInterrupt:
    nothing was sent); during one they set ``stop``: nothing more is sent, what is on the wire
    gets ``GRACE`` seconds, and the command says what was sent. A second signal ends it now."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.running = False
        self.at: float | None = None
        self.name = ""

    def install(self) -> Signals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if not self.running:
            raise KeyboardInterrupt
        if self.stop.is_set():
            os._exit(130)
        self.at, self.name = time.monotonic(), signal.Signals(signum).name
        self.stop.set()

    def since(self) -> float:
        return 0.0 if self.at is None else time.monotonic() - self.at


def follow(run: Deletion, signals: Signals, progress: Progress) -> bool:
    """Wait for ``run`` here, redrawing the live line; after a signal, stop it and wait at
    most until ``GRACE`` s after the signal. True when it ended, False when cut short (a
    DELETE or a read still on the wire: its answer is not awaited)."""
    while not run.finished.wait(0.1):
        progress.tick()
        if signals.stop.is_set():
            run.stop()
            left = GRACE - signals.since()
            return run.finished.wait(max(0.0, left))
    return True


class Progress:
    """A run as it goes: one live line on a terminal (deleting / gone / left out / failed,
    elapsed), one line per event when piped, nothing with --quiet or --json."""

    def __init__(self, out: Out, run: Deletion, *, live: bool,
                 describe: Callable[[Target], str] | None = None, finals: bool = True) -> None:
        """``describe``: a target's event line (default ``event_line``); ``finals=False``
        leaves the outcome's line to the caller's report (one pool: ``render.flow_text``)."""
        self.out, self.run, self.live = out, run, live and out.chatty
        self.describe, self.finals = describe or event_line, finals
        self.started = time.monotonic()
        self._seen: dict[int, Step] = {}
        self._lock = threading.Lock()  # workers report at once: one whole line at a time

    def event(self, target: Target) -> None:
        """The engine's ``on_target``: a line when a pool's step changes."""
        with self._lock:
            if self._seen.get(id(target)) is target.step:
                return
            self._seen[id(target)] = target.step
            if self.live:
                self.out.live(self.text())
            elif self.finals or not target.step.final:
                self.out.line(self.describe(target))

    def tick(self) -> None:
        if self.live:
            with self._lock:
                self.out.live(self.text())

    def end(self) -> None:
        if self.live:
            with self._lock:
                self.out.live(self.text())
                self.out.block("")

    def text(self) -> str:
        counts = self.run.counts()
        parts = [f"deleting {counts[Step.SENDING] + counts[Step.WATCHING]}",
                 f"gone {counts[Step.DELETED]}",
                 f"left out {counts[Step.LEFT_OUT] + counts[Step.REFUSED]}",
                 f"failed {counts[Step.FAILED]}"]
        parts += [f"{step.value} {counts[step]}" for step in
                  (Step.ACCEPTED, Step.STOPPED, Step.CANCELLED) if counts[step]]
        return (f"{' · '.join(parts)} (of {len(self.run.targets)}) · "
                f"{time.monotonic() - self.started:.0f} s")


def event_line(target: Target) -> str:
    """``DELETED: pool-01 (pool-01-…), phase Deleted after 3 s — The pool is gone.``"""
    done = f" after {target.elapsed:.0f} s" if target.step.final else ""
    return (f"{target.step.value.upper()}: {target.label}, phase {target.phase}{done} — "
            f"{target.message}")


# -- what the sub-commands share ------------------------------------------------------------


class Refused(Exception):
    """Refused before anything was sent: exit 2, one line."""


def settings_options(sub: argparse.ArgumentParser) -> None:
    """Where to send: the same settings chain as the magics."""
    sub.add_argument("--project-id", dest="project_id",
                     help="project id (default: settings chain)")
    sub.add_argument("--region", help="region id such as cn-north-4 (default: settings chain)")
    sub.add_argument("--endpoint", help="full API base URL; overrides --region")
    sub.add_argument("--user-id", dest="user_id", metavar="ID",
                     help="tenant id sent as X-ModelArts-User-ID on a pool's GET and DELETE "
                     "(default: MODELARTS_USER_ID, then the notebook session; '' for none)")


def quiet_or_json(sub: argparse.ArgumentParser) -> None:
    """Cron wants silence unless something is wrong; a script wants one document."""
    shape = sub.add_mutually_exclusive_group()
    shape.add_argument("--quiet", action="store_true",
                       help="print nothing unless something did not go as planned (stderr)")
    shape.add_argument("--json", action="store_true", help="one JSON document at the end")


def concurrency(text: str) -> int:
    """``--concurrency``: 1-32, as ``%pools`` (more only gets the account throttled)."""
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 32:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number from 1 to 32")
    return value


def client_for(args: argparse.Namespace, out: Out) -> PoolsClient:
    """The client of the settings chain; its credentials (in the registry since its settings
    were built) are masked in everything printed."""
    return PoolsClient.from_env(project_id=args.project_id, region=args.region,
                                endpoint=args.endpoint, user_id=args.user_id)


def held_doc(plan: Plan) -> list[dict[str, str]]:
    """The pools the plan does not delete, for a JSON document."""
    return [{"id": item.facts.id, "label": item.facts.label, "verdict": item.verdict.value,
             "reason": item.reason} for item in plan.items if not item.deletes]


def where(plan: Plan) -> str:
    """``Plan of 2026-11-30 18:02 UTC for project … at host``."""
    from urllib.parse import urlsplit

    made = plan.made_at[:16].replace("T", " ")
    return f"Plan of {made} UTC for project {plan.project_id} at {urlsplit(plan.endpoint).netloc}"


def held(plan: Plan) -> list[str]:
    """One line per pool the plan does not delete, and why."""
    words = {Verdict.KEPT: "kept", Verdict.REFUSED: "excluded", Verdict.UNDERWAY: "excluded",
             Verdict.ACKNOWLEDGE: "left out"}
    lines = []
    for item in plan.items:
        if item.deletes:
            continue
        reason = item.reason.removeprefix("kept: ")
        if item.verdict is Verdict.ACKNOWLEDGE:
            reason = f"deleting it stops {reason.removeprefix('runs ')}; plan with --force " \
                     "to include it"
        lines.append(f"{words[item.verdict]} {item.facts.label}: {reason}")
    return lines
