"""Change listeners for long-running work (a deletion, a batch) and the views that render it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Listeners"]

T = TypeVar("T")
log = logging.getLogger("modelarts_nb")


class Listeners(Generic[T]):
    """Callbacks told about every change. One that raises is logged, reported to ``on_error``
    (which tells the user) and skipped: a broken view must never break — or silently stop — a
    deletion in progress."""

    def __init__(self, on_error: Callable[[Exception], None] | None = None) -> None:
        self._callbacks: list[Callable[[T], None]] = []
        self._on_error = on_error

    def add(self, callback: Callable[[T], None]) -> None:
        self._callbacks.append(callback)

    def notify(self, subject: T) -> None:
        for callback in list(self._callbacks):
            try:
                callback(subject)
            except Exception as exc:  # noqa: BLE001 - see the class docstring
                log.exception("modelarts-nb: a listener failed")
                if self._on_error is not None:
                    self._on_error(exc)
