"""Server strings and values made safe to show: ``clean`` is the one sanitiser every string from
a server passes through at the edge (``responses.read_json``), before any view, print, log,
receipt or exception sees it; ``one_line`` and ``quoted`` shape text inside our own messages.

Kept apart from ``errors`` so that ``models`` (which ``errors`` names in type hints) can use it
without an import cycle.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
import unicodedata
from typing import Any, NamedTuple

__all__ = ["CLEAN_LIMIT", "clean", "clean_json", "known_secrets", "masked", "one_line", "quoted",
           "remember_secrets"]

_WINDOW = 8  # a run of this many characters of a secret is masked: a cut leaves none behind
_SHORTEST = 4  # shorter "secrets" (empty or test values) would mask ordinary text
CLEAN_LIMIT = 4096  # characters of one server string kept by default; views cap further
# The credentials a process may hold without having built a client yet (``%pools --history``
# reads no settings): the environment's, as the settings chain names them.
_SECRET_VARS = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN",
                "MODELARTS_AUTH_TOKEN")

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
    """Every credential remembered so far (``remember_secrets``), and those the environment
    holds now: a kernel that built no client yet still never shows its own keys."""
    with _known_lock:
        known = tuple(_known)
    in_env = (os.environ.get(name) for name in _SECRET_VARS)
    return known + tuple(v for v in in_env if v and len(v) >= _SHORTEST and v not in _known)


# -- the sanitiser ---------------------------------------------------------------------------

# Whole terminal escape sequences, 7-bit (ESC …) and 8-bit (C1 introducers): CSI with its
# parameters, OSC/DCS/SOS/PM/APC strings up to their terminator (bounded: an unterminated or
# endless one is not matched, and its ESC alone is removed below; no string spans another's
# start, so each character is scanned once), and two-character escapes.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,8}[@-~]"  # CSI … final byte
    r"|(?:\x1b[\]P_^X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90\x98\x9c-\x9f]{0,2048}"
    r"(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]{0,8}[0-~]"  # nF, Fp, Fe, Fs escapes (ESC c, ESC 7, ESC ( B …)
)
_CAP = "…"


def clean(value: str, limit: int = CLEAN_LIMIT) -> str:
    """A server string made safe for any view, print, log, receipt or exception: terminal
    escape sequences removed whole; every other character a terminal or a notebook could act
    on — C0/C1 controls, DEL, line and paragraph separators (spaces now), bidi overrides,
    zero-width and other format characters (removed) — gone; every credential this process
    has used masked (``known_secrets``); at most ``limit`` characters (``…`` marks a cut).
    A printable, short string without a credential comes back as it is."""
    return _clean(str(value), limit, _secret_index(known_secrets()))


def _clean(text: str, limit: int, index: _Index | None) -> str:
    if len(text) <= limit and text.isprintable() and not _hits(text, index):
        return text
    text = text[: 2 * limit + 64]  # the rest could not reach the cap once cleaned
    text = _ESCAPES.sub("", text)
    if not text.isprintable():
        text = "".join(c if c.isprintable() else _inert(c) for c in text)
    text = _masked(text, index)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + _CAP


@functools.lru_cache(maxsize=512)
def _inert(char: str) -> str:
    """What a non-printable character becomes: a control or a separator (a line break) a
    space, a format character (bidi, zero-width) nothing, a lone surrogate (which no output
    can encode) U+FFFD; other spaces and unassigned or private characters stay."""
    kind = unicodedata.category(char)
    if kind in ("Cc", "Zl", "Zp"):
        return " "
    if kind == "Cf":
        return ""
    if kind == "Cs":
        return "\ufffd"
    return char


def clean_json(data: Any, limit: int = CLEAN_LIMIT) -> Any:
    """Decoded JSON with every string — keys and values, at any depth — passed through
    ``clean``. Iterative: a deeply nested answer cannot exhaust the stack. A string that is a
    JSON document itself (a pool's tag annotation) is cleaned inside too, one level deep: its
    reader decodes it, and an escape written there as ``\\u001b`` is plain text out here."""
    return _tree(data, limit, _secret_index(known_secrets()), embedded=True)


def _tree(data: Any, limit: int, index: _Index | None, embedded: bool) -> Any:
    done: dict[str, str] = {}  # keys and values repeat in every item of a list: clean once

    def text(value: str) -> str:
        found = done.get(value)
        if found is None:
            found = done[value] = _string(value, limit, index, embedded)
        return found

    if not isinstance(data, (dict, list)):
        return text(data) if isinstance(data, str) else data
    root: Any = {} if isinstance(data, dict) else []
    stack = [(data, root)]
    while stack:
        source, target = stack.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        for key, value in pairs:
            if isinstance(value, str):
                value = text(value)
            elif isinstance(value, (dict, list)):
                child: Any = {} if isinstance(value, dict) else []
                stack.append((value, child))
                value = child
            if isinstance(target, dict):
                target[text(key) if isinstance(key, str) else key] = value
            else:
                target.append(value)
    return root


def _string(value: str, limit: int, index: _Index | None, embedded: bool) -> str:
    """One string of a JSON answer, cleaned; a JSON document in it cleaned inside first."""
    if embedded and len(value) <= limit and value[:1] in "[{" and value[-1:] in "]}":
        try:
            inner = json.loads(value)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, (dict, list)):
            cleaned = _tree(inner, limit, index, False)
            if cleaned != inner:  # else as sent: "[1,2]" must not become "[1, 2]"
                value = json.dumps(cleaned, ensure_ascii=False)
    return _clean(value, limit, index)


# -- inside our messages ---------------------------------------------------------------------


def one_line(text: str, limit: int = 300) -> str:
    """A string inside our one-line message: cleaned (``clean``: no escape or control
    character, no credential), runs of spaces and line breaks made one space, capped (``…``
    marks the cut). Server strings are clean already; ours (a path, an exception's text) may
    not be."""
    flat = " ".join(clean(str(text), max(4 * limit, CLEAN_LIMIT)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + _CAP


def quoted(value: object, limit: int = 80) -> str:
    """A value inside a message: ``repr`` (which escapes newlines and control characters),
    capped at ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def masked(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every run of 8+ characters of a credential (a shorter one: whole) replaced
    by ``***``: a hostile server may echo a key inside a display name or a message, and views
    and receipts cap server strings, so a cut may leave only part of it. ``text`` itself (the
    same object) when nothing matches."""
    return _masked(text, _secret_index(secrets))


class _Index(NamedTuple):
    """The secrets as set lookups, not one regex of their windows: a renewed security token
    is over a thousand characters, and a regex alternation of all its windows costs
    milliseconds per string — seconds for one pool list."""

    windows: frozenset[str]  # every 8-character window of every secret (not "00000000")
    probes: frozenset[str]  # the 5-character runs of those windows: see _hits
    shorts: tuple[str, ...]  # the secrets shorter than a window, masked whole


_PROBE, _STRIDE = 5, 4  # _PROBE + _STRIDE - 1 == _WINDOW


@functools.lru_cache(maxsize=8)
def _secret_index(secrets: tuple[str, ...]) -> _Index | None:
    """The index of ``secrets``. A window of one repeated character ("00000000") is left
    out: it tells nothing about a key, and ordinary text (numbers, ids) is full of them."""
    secrets = tuple(s for s in secrets if len(s) >= _SHORTEST)
    if not secrets:
        return None
    windows = frozenset(w for s in secrets if len(s) >= _WINDOW
                        for w in _runs(s, _WINDOW) if w.strip(w[0]))
    return _Index(windows, frozenset(w[i:i + _PROBE] for w in windows for i in (0, 1, 2, 3)),
                  tuple(s for s in secrets if len(s) < _WINDOW))


def _runs(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(len(text) - size + 1)]


def _hits(text: str, index: _Index | None) -> bool:
    """Whether ``text`` may hold a secret. A shared 8-character run covers 5 characters
    starting at a multiple of 4, so a quarter of the positions are probed."""
    if index is None:
        return False
    if index.shorts and any(short in text for short in index.shorts):
        return True
    starts, ends = range(0, len(text), _STRIDE), range(_PROBE, len(text) + 1, _STRIDE)
    return not index.probes.isdisjoint(map(text.__getitem__, map(slice, starts, ends)))


def _masked(text: str, index: _Index | None) -> str:
    if index is None or not _hits(text, index):
        return text
    windows = index.windows
    runs = [(i, i + _WINDOW) for i in range(len(text) - _WINDOW + 1)
            if text[i:i + _WINDOW] in windows]
    for short in index.shorts:
        start = text.find(short)
        while start >= 0:
            runs.append((start, start + len(short)))
            start = text.find(short, start + 1)
    return _mask_runs(text, runs) if runs else text


def _mask_runs(text: str, runs: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching [start, end) spans as one ``***``."""
    merged: list[list[int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out += [text[last:start], "***"]
        last = end
    return "".join(out) + text[last:]
