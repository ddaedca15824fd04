"""Server strings and values made safe to put inside one of our one-line messages.

Kept apart from ``errors`` so that ``models`` (which ``errors`` names in type hints) can use it
without an import cycle.
"""

from __future__ import annotations

__all__ = ["one_line", "printable", "quoted"]


def one_line(text: str, limit: int = 300) -> str:
    """A server string inside our one-line message: no line breaks or control characters,
    capped (``…`` marks the cut)."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quoted(value: object, limit: int = 80) -> str:
    """A value inside a message: ``repr`` (which escapes newlines and control characters),
    capped at ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def printable(text: str) -> str:
    """A server string as a table cell: every control character (ESC, newline…) shown as
    U+FFFD, so a terminal never acts on one; nothing else changes."""
    return text if text.isprintable() else "".join(
        c if c.isprintable() else "\ufffd" for c in text)
