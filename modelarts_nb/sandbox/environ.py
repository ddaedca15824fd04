"""Pointing the process environment at a sandbox, and undoing it.

``Sandbox.export_env()`` sets the SDK variables and removes credentials that must not mix with
the sandbox's keys; the returned :class:`ExportedEnv` remembers what each variable held before.
Undoing it puts back exactly those values (removing variables that were absent), but only for a
variable that still holds what the export put there: a variable the user changed since is left
as it is. When a later export (another sandbox) overwrote the variable, that later export
inherits the value to restore instead, so undoing both, in any order, ends where we started:
``a.export_env(); b.export_env(); a.stop(); b.stop()`` leaves neither a's nor b's dead port.
That is also what ``Sandbox.stop()`` does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping

__all__ = ["CREDENTIALS", "ExportedEnv", "export"]

CREDENTIALS = frozenset({"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK",
                         "HUAWEICLOUD_SDK_SECURITY_TOKEN", "MODELARTS_AUTH_TOKEN"})

_LOCK = threading.Lock()  # os.environ is process-wide: one export or restore at a time
_LIVE: list[ExportedEnv] = []  # exports not undone yet, oldest first (guarded by _LOCK)


class ExportedEnv(dict[str, str]):  # a dict, as export_env() returned before
    """The variables an export set (a plain ``dict`` of them, as before) and its undo:
    ``restore()``, or use it as a context manager. Its repr names the variables only."""

    def __init__(self, values: Mapping[str, str], previous: Mapping[str, str | None]) -> None:
        super().__init__(values)
        self._previous = dict(previous)
        self._restored = False

    def restore(self) -> list[str]:
        """Undo the export once; returns the names put back (the others had been changed)."""
        restored = []
        with _LOCK:
            if self._restored:
                return []
            self._restored = True
            at = next(i for i, e in enumerate(_LIVE) if e is self)  # identity: dicts compare equal
            del _LIVE[at]
            handed = set()
            for name, before in self._previous.items():
                later = next((e for e in _LIVE[at:] if name in e._previous), None)
                if later is not None and later._previous[name] == self.get(name):
                    later._previous[name] = before  # it overwrote ours: it restores theirs
                    handed.add(name)
            # credentials go back together or not at all: an old security token next to keys
            # the user set since would fail every signed request (and lock the AK)
            credentials = [n for n in self._previous if n in CREDENTIALS and n not in handed]
            theirs = not all(_ours(self, n) for n in credentials)
            for name, before in self._previous.items():
                if name in handed or not _ours(self, name) or (theirs and name in CREDENTIALS):
                    continue  # handed on, or changed by the user since the export: theirs now
                if before is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = before
                restored.append(name)
        return restored

    @property
    def restored(self) -> bool:
        return self._restored

    def __enter__(self) -> ExportedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def __repr__(self) -> str:
        state = "restored" if self._restored else "exported"
        return f"<ExportedEnv {state}: {', '.join(self)} (values hidden)>"

    __str__ = __repr__


def _ours(exported: ExportedEnv, name: str) -> bool:
    """Whether ``name`` still holds what the export left there (set, or removed)."""
    return os.environ.get(name) == exported.get(name)


def export(values: Mapping[str, str], remove: Iterable[str] = ()) -> ExportedEnv:
    """Set ``values`` and delete the ``remove`` variables (unless set by ``values``)."""
    removed = [name for name in remove if name not in values]
    with _LOCK:
        previous = {name: os.environ.get(name) for name in [*values, *removed]}
        for name in removed:
            os.environ.pop(name, None)
        os.environ.update(values)
        exported = ExportedEnv(values, previous)
        _LIVE.append(exported)
    return exported
