"""What a TAB after ``%pool_delete`` or ``%pools`` completes, read from the line alone: an
option, a choice, a pool name or id, a tag — and how each is spelled so the magic reads it back.

Why it exists: these are pure functions of the line before the cursor and of a listing, apart
from the cache, the threads and IPython's two completion APIs (``completion``), so they are
read and tested without a shell or a server. A server string is offered only when it makes one
word the magic reads back unchanged: quoted when it holds spaces or quotes, skipped when it
holds control or line-breaking characters, ``$``/``{``/``}`` (the magics expand those), or is
longer than a real one. The magics' own parsers say which options exist, take a value or have
choices, so options the magics gain complete without a change here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional

__all__ = ["LIMIT", "Overrides", "PoolRow", "Want", "Word", "candidates", "parse_line"]

LIMIT = 1000  # completions offered at most for one TAB

# The line of one of our magics, also as ``r = %pools ...``, up to the start of its arguments.
_MAGIC = re.compile(r"[ \t]*(?:[A-Za-z_][\w.]*[ \t]*=[ \t]*)?%(?P<magic>pool_delete|pools)[ \t]")
_SETTINGS = ("project_id", "region", "endpoint")  # options that change where the listing goes
_POOL_VALUES = {"pool": "pool", "name": "name"}  # dest -> the kind of pool word it takes
_TAG_VALUES = ("tag", "keep_tag")
_NEVER = frozenset("$`{}\\")  # expanded or escaped by the magics: the word would change
_GLOB = frozenset("*?[]")
_MAX_NAME, _MAX_TAG_WORD = 128, 400  # display names; KEY=VALUE (128 + 1 + 255, quoted)

Overrides = tuple[tuple[str, str], ...]  # the line's settings options, as resolve_settings keys
Word = tuple[str, str]  # (completion text, its type as Jupyter shows it)
PoolRow = tuple[str, Optional[str], Optional[Mapping[str, tuple[str, ...]]]]  # id, name, tags


class Want:
    """What the word under the cursor is, read from the line before the cursor."""

    __slots__ = ("kind", "fragment", "typed", "quote", "options", "overrides")

    def __init__(self, kind: str, fragment: str, *, quote: str = "",
                 options: Sequence[str] = (), overrides: Overrides = ()) -> None:
        self.kind = kind  # "option", "choice", "pool", "name" or "tag"
        self.fragment = fragment  # what the completions replace: a suffix of the line
        self.quote = quote  # the quote the user opened the word with, or ""
        self.typed = fragment[len(quote):]  # the fragment as the magic will read it
        self.options = tuple(options)  # option names or choices, for "option"/"choice"
        self.overrides = overrides

    def __repr__(self) -> str:
        return f"Want({self.kind!r}, {self.fragment!r})"


def parse_line(before: str, parser_of: Callable[[str], Any]) -> Want | None:
    """What to complete at the end of ``before`` (the cursor's line up to the cursor), or None.

    ``parser_of(magic)`` is the magic's argparse parser: option names, which options take a
    value, and choices are read from it, so options the magics gain complete without a change
    here.
    """
    found = _MAGIC.match(before)
    if found is None:
        return None
    parser = parser_of(found.group("magic"))
    actions = list(getattr(parser, "_actions", None) or ())
    if not actions:
        return None
    words, current, quote = _split(before[found.end():])
    by_option = {name: a for a in actions for name in a.option_strings}
    positional = [a for a in actions if not a.option_strings]
    used: set[str] = set()
    overrides: dict[str, str] = {}
    pending: Any = None  # the option whose value comes next
    seen_positional = 0
    for word in words:
        if pending is not None:
            _note_setting(overrides, pending.dest, word)
            pending = None
        elif word.startswith("-"):
            name, eq, value = word.partition("=")
            action = by_option.get(name)
            used.add(name)
            if action is not None and _takes_value(action):
                if eq:
                    _note_setting(overrides, action.dest, value)
                else:
                    pending = action
        else:
            seen_positional += 1
    if overrides.get("!"):  # a setting that only the cell's expansion can tell
        return None
    settings = tuple(sorted(overrides.items()))
    if pending is not None:
        return _value(pending, current, quote, settings)
    if current.startswith("-") and not quote:
        name, eq, value = current.partition("=")
        action = by_option.get(name)
        if eq:
            return _value(action, value, "", settings) if action is not None else None
        names = [n for a in actions for n in a.option_strings if n.startswith("--")
                 and (n not in used or type(a).__name__ == "_AppendAction")]
        return Want("option", current, options=names)
    if seen_positional < len(positional):
        return _value(positional[seen_positional], current, quote, settings)
    return None


def _value(action: Any, current: str, quote: str, settings: Overrides) -> Want | None:
    dest = getattr(action, "dest", "")
    if getattr(action, "choices", None):
        return Want("choice", current, quote=quote, options=[str(c) for c in action.choices])
    if dest in _POOL_VALUES:
        return Want(_POOL_VALUES[dest], current, quote=quote, overrides=settings)
    if dest in _TAG_VALUES:
        return Want("tag", current, quote=quote, overrides=settings)
    return None


def _takes_value(action: Any) -> bool:
    return getattr(action, "nargs", None) != 0


def _note_setting(found: dict[str, str], dest: str, word: str) -> None:
    if dest not in _SETTINGS:
        return
    value = _unquote(word)
    if any(ch in _NEVER for ch in value):
        found["!"] = "1"  # $var or {expr}: the magic would expand it, we cannot
    found[dest] = value


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    return word


def _split(text: str) -> tuple[list[str], str, str]:
    """Words as IPython's ``arg_split`` keeps them (quotes included), the word under the
    cursor, and the quote it opened (if still open, or "")."""
    words: list[str] = []
    current, quote, opened, started = "", "", "", False
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
            continue
        if ch in " \t":
            if started:
                words.append(current)
            current, opened, started = "", "", False
            continue
        if ch in "'\"":
            quote = ch
            if not started:
                opened = ch
        current += ch
        started = True
    return words, current, opened


# -- what is offered --------------------------------------------------------------------------


def candidates(want: Want, data: Any) -> list[Word]:
    """The completions for ``want`` from the listing ``data`` (pool rows or tags)."""
    if want.kind == "option":
        return [(name, "option") for name in _matching(want.options, want.typed)]
    if want.kind == "choice":
        words = (_word(c, want.quote, _MAX_NAME) for c in _matching(want.options, want.typed))
        return [(w, "choice") for w in words if w]
    if want.kind in ("pool", "name"):
        return _pool_words(data or (), want)
    if want.kind == "tag":
        return _tag_words(data or {}, want)
    return []


def _pool_words(rows: Iterable[PoolRow], want: Want) -> list[Word]:
    from ..gateway.names import check_display_name, looks_like_pool_id

    rows = list(rows)
    ids = sorted(row[0] for row in rows if looks_like_pool_id(row[0]))
    counts: dict[str, int] = {}
    for row in rows:
        if isinstance(row[1], str):
            counts[row[1]] = counts.get(row[1], 0) + 1
    names = []
    for name, count in counts.items():
        try:
            check_display_name(name)
        except ValueError:
            continue
        # %pool_delete refuses a display name several pools share (their ids complete);
        # --name takes a glob, so a name with glob characters would match others
        if (want.kind == "pool" and count > 1) or (want.kind == "name" and _GLOB & set(name)):
            continue
        names.append(name)
    names.sort(key=lambda n: (n.lower(), n))
    words = [(w, "pool") for w in _spelled(_matching(names, want.typed), want.quote, _MAX_NAME)]
    words += [(w, "pool id") for w in _spelled(_matching(ids, want.typed), want.quote, 63)]
    return _unique(words)


def _tag_words(tags: Mapping[str, Sequence[str]], want: Want) -> list[Word]:
    """``key=`` for each key (the values once ``=`` is typed); a key that needs quotes comes
    as whole ``'key=value'`` words, since a quote cannot stay open for the value."""
    key, eq, _ = want.typed.partition("=")
    raws: list[str] = []
    for name in sorted(tags, key=lambda k: (k.lower(), k)):
        if not name or "=" in name or (eq and name != key):
            continue
        pairs = [f"{name}={v}" for v in tags[name] if v]
        bare = _word(f"{name}=", "", _MAX_TAG_WORD)
        raws += pairs if eq or bare != f"{name}=" or want.quote else [f"{name}="]
    words = _spelled(_matching(raws, want.typed), want.quote, _MAX_TAG_WORD)
    return _unique([(w, "tag") for w in words])


def _matching(items: Iterable[str], typed: str) -> list[str]:
    """Items starting with ``typed``; if none does, ignoring case (as IPython does)."""
    items = list(items)
    hits = [item for item in items if item.startswith(typed)]
    if hits or not typed:
        return hits
    low = typed.lower()
    return [item for item in items if item.lower().startswith(low)]


def _spelled(raws: Iterable[str], quote: str, longest: int) -> list[str]:
    words = (_word(raw, quote, longest) for raw in raws)
    return [w for w in words if w is not None]


def _word(raw: str, quote: str, longest: int) -> str | None:
    """``raw`` as one word the magic reads back as ``raw``, or None when none is safe."""
    if not raw or len(raw) > longest or any(_unsafe(ch) for ch in raw):
        return None
    if not quote and not any(ch in " '\"" for ch in raw):
        return raw
    for mark in (quote,) if quote else ("'", '"'):
        if mark not in raw:
            return f"{mark}{raw}{mark}"
    return None


def _unsafe(ch: str) -> bool:
    """Control, format and line-breaking characters, or whitespace other than a plain space
    (a tab or no-break space would be read as a separator, or look like a different name)."""
    if ch in _NEVER:
        return True
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp") or (ch.isspace() and ch != " ")


def _unique(words: list[Word]) -> list[Word]:
    seen: set[str] = set()
    out = []
    for word in words:
        if word[0] not in seen:
            seen.add(word[0])
            out.append(word)
    return out[:LIMIT]
