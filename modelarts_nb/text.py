"""Server strings and values made safe to put inside one of our one-line messages.

Kept apart from ``errors`` so that ``models`` (which ``errors`` names in type hints) can use it
without an import cycle.
"""

from __future__ import annotations

import functools
import re
import threading

__all__ = ["known_secrets", "masked", "one_line", "printable", "quoted", "remember_secrets"]

_WINDOW = 8  # a run of this many characters of a secret is masked: a cut leaves none behind
_SHORTEST = 4  # shorter "secrets" (empty or test values) would mask ordinary text


_known: dict[str, None] = {}  # every credential this process has used, in the order first seen
_known_lock = threading.Lock()


def remember_secrets(*values: str | None) -> None:
    """Add credentials to the set masked everywhere: the ones a client was built with and every
    renewed one, so a server echoing an older or newer key is masked as well as the current."""
    with _known_lock:
        for value in values:
            if value and len(value) >= _SHORTEST:
                _known.setdefault(value, None)


def known_secrets() -> tuple[str, ...]:
    """Every credential remembered so far (``remember_secrets``)."""
    with _known_lock:
        return tuple(_known)


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


def masked(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every run of 8+ characters of a credential (a shorter one: whole) replaced
    by ``***``: a hostile server may echo a key inside a display name or a message, and views
    and receipts cap server strings, so a cut may leave only part of it. One regex scan when
    nothing matches."""
    patterns = _secret_patterns(tuple(s for s in secrets if len(s) >= _SHORTEST))
    if patterns is None or not patterns[0].search(text):
        return text
    runs: list[list[int]] = []  # [start, end) of text to mask, merged
    for found in patterns[1].finditer(text):  # a lookahead: overlapping windows, every one
        start, end = found.start(), found.start() + len(found.group(1))
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    out, last = [], 0
    for start, end in runs:
        out += [text[last:start], "***"]
        last = end
    return "".join(out) + text[last:]


@functools.lru_cache(maxsize=8)
def _secret_patterns(secrets: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """(any window, every window with overlaps) of the secrets' 8-character windows."""
    windows = {s[i:i + min(_WINDOW, len(s))] for s in secrets
               for i in range(max(1, len(s) - _WINDOW + 1))}
    if not windows:
        return None
    alternatives = "|".join(map(re.escape, sorted(windows, key=lambda w: (-len(w), w))))
    return re.compile(alternatives), re.compile(f"(?=({alternatives}))")
