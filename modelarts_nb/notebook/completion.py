"""Tab completion for ``%pool_delete`` and ``%pools``: pool names and ids, tag keys and values,
option names and choices.

A TAB must never hang the prompt, print, raise, or send a request the user did not set up:

- settings are resolved as the magics resolve them (the line's ``--project-id``/``--region``,
  then the environment, the profile, the notebook session); without credentials there is no
  completion and no request; nor is there for a line whose ``--endpoint`` is not the one the
  settings name anyway (a pasted line must not send credentials elsewhere on a TAB);
- the listing runs in a background thread; the completer waits for it at most ``BUDGET`` (1 s),
  then answers from the cache (or with nothing) and the thread fills the cache for the next TAB;
- answers, failures included, are kept ``TTL`` (30 s) per endpoint and project: a second TAB
  sends nothing, and a 401 is not repeated at every TAB (Huawei locks an AK/SK after a few
  failed signatures);
- a server string is offered only when it makes one word the magic reads back unchanged:
  quoted when it holds spaces or quotes, skipped when it holds control or line-breaking
  characters, ``$``/``{``/``}`` (the magics expand those), or is longer than a real one.

IPython 8.6+ gets a v2 matcher (``IPCompleter.custom_matchers``): it replaces the whole word
(``course=ml101``, ``'team shared'``) and hides Jedi's and the file matcher's guesses. Older
IPython (7.x, ModelArts images) gets a "magic argument" matcher (which, unlike a
``complete_command`` hook, also hides Jedi's guesses); IPython then replaces only its own token
(after ``=`` or a quote), so each completion is trimmed to that token.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional

__all__ = ["BUDGET", "TTL", "Completer", "parse_line", "register", "unregister"]

BUDGET = 1.0  # seconds a TAB may wait for the server
TTL = 30.0  # seconds an answer (or a failure) is kept per endpoint and project
LIMIT = 1000  # completions offered at most for one TAB

# The line of one of our magics, also as ``r = %pools ...``, up to the start of its arguments.
_MAGIC = re.compile(r"[ \t]*(?:[A-Za-z_][\w.]*[ \t]*=[ \t]*)?%(?P<magic>pool_delete|pools)[ \t]")
_SETTINGS = ("project_id", "region", "endpoint")  # options that change where the listing goes
_POOL_VALUES = {"pool": "pool", "name": "name"}  # dest -> the kind of pool word it takes
_TAG_VALUES = ("tag", "keep_tag")
_NEVER = frozenset("$`{}\\")  # expanded or escaped by the magics: the word would change
_GLOB = frozenset("*?[]")
_MAX_NAME, _MAX_TAG_WORD = 128, 400  # display names; KEY=VALUE (128 + 1 + 255, quoted)

Key = tuple[str, str]  # (endpoint, project id)
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


# -- the listing, cached, in the background ---------------------------------------------------


class _Job:
    """One background refresh; ``result`` is valid once ``done`` is set."""

    def __init__(self, work: Callable[[], Any], clock: Callable[[], float]) -> None:
        self.started = clock()
        self.done = threading.Event()
        self.result: Any = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name="modelarts-nb-completion",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._work()
        except BaseException:  # noqa: BLE001 - a completion thread never prints a traceback
            self.result = None
        finally:
            self.done.set()


class Completer:
    """Completions for one IPython shell: the line parsing plus a cache per endpoint+project.

    ``suggest(before)`` is what both IPython registrations call; it never raises.
    """

    def __init__(self, shell: Any, *, budget: float = BUDGET, ttl: float = TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shell = shell
        self.budget, self.ttl = budget, ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
        self._jobs: dict[tuple[str, Overrides], _Job] = {}
        self._last_key: dict[Overrides, Key | None] = {}
        self.closed = False

    def __repr__(self) -> str:
        return f"<modelarts_nb Completer: {len(self._cache)} cached listings>"

    def suggest(self, before: str) -> tuple[str, list[Word]]:
        """(the fragment the completions replace, the completions) for the line ``before``
        the cursor; ("", []) for any line that is not ours, and on any failure or Ctrl-C."""
        try:
            want = None if self.closed else parse_line(before, self._parser)
            if want is None:
                return "", []
            data = None
            if want.kind in ("pool", "name", "tag"):
                data = self._lookup("tags" if want.kind == "tag" else "pools", want.overrides)
                if data is None:
                    return "", []
            return want.fragment, candidates(want, data)
        except (Exception, KeyboardInterrupt):  # noqa: BLE001 - never into IPython's completer
            return "", []

    def _parser(self, magic: str) -> Any:
        method = self._shell.magics_manager.magics["line"].get(magic)
        return getattr(method, "parser", None)

    def _lookup(self, kind: str, overrides: Overrides) -> Any:
        """The listing: from a refresh that ends within the budget, else from the cache."""
        slot = (kind, overrides)
        with self._lock:
            job = self._jobs.get(slot)
            if job is None or job.done.is_set():
                job = self._jobs[slot] = _Job(lambda: self._refresh(kind, overrides),
                                              self._clock)
        # a refresh started by an earlier TAB is waited for only until its own budget ends
        remaining = job.started + self.budget - self._clock()
        if remaining > 0:
            job.done.wait(remaining)
        if job.done.is_set():
            return job.result
        with self._lock:
            key = self._last_key.get(overrides)
            entry = self._cache.get((*key, kind)) if key else None
        return entry[1] if entry else None

    def _refresh(self, kind: str, overrides: Overrides) -> Any:
        from ..gateway.settings import Settings, resolve_settings

        given = dict(overrides)
        settings: Settings | None
        try:
            settings = resolve_settings(project_id=given.get("project_id"),
                                        region=given.get("region"), endpoint=given.get("endpoint"))
            # an endpoint or region typed (or pasted) on the line is used when the cell runs,
            # not on a TAB: credentials go by TAB only where the settings already send them
            if ((given.get("endpoint") or given.get("region"))
                    and settings.endpoint != resolve_settings().endpoint):
                settings = None
        except Exception:  # noqa: BLE001 - no credentials (ConfigError) or bad ones: nothing
            settings = None
        if settings is None:
            with self._lock:
                self._last_key[overrides] = None
            return None
        key = (settings.endpoint, settings.project_id)
        with self._lock:
            self._last_key[overrides] = key
            entry = self._cache.get((*key, kind))
            pools = self._cache.get((*key, "pools"))
        now = self._clock()
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        fresh_pools = pools[1] if pools is not None and now - pools[0] < self.ttl else None
        try:
            found = _fetch(settings, kind, fresh_pools)
        except Exception:  # noqa: BLE001 - garbage, 401, 500, timeout: no completion
            found = {kind: None}  # kept too: a failing server is not asked at every TAB
        when = self._clock()
        with self._lock:
            for name, value in found.items():
                self._cache[(*key, name)] = (when, value)
        return found.get(kind)


def _fetch(settings: Any, kind: str, pools: Any) -> dict[str, Any]:
    """{kind: listing} (plus the pools, when the tags had to come from them)."""
    from ..gateway import stops
    from ..gateway.api import PoolsApi
    from ..gateway.errors import ApiError, AuthenticationError
    from ..gateway.retry import RetryPolicy

    retry = RetryPolicy(attempts=1)  # no retry, no Retry-After wait: the next TAB may ask
    # an interrupt or kernel exit ends these reads too (stops.working)
    with PoolsApi(settings, timeout=10.0, retry=retry) as api, \
            stops.working(api, threading.Event()):
        if kind == "pools":
            return {"pools": _rows(api.list_pools())}
        try:
            return {"tags": dict(api.list_pool_tags())}
        except AuthenticationError:
            raise
        except ApiError:  # no tag API (404) or an unreadable answer: the pools' own tags
            found: dict[str, Any] = {}
            if pools is None:
                pools = found["pools"] = _rows(api.list_pools())
            found["tags"] = _merged(row[2] for row in pools)
            return found


def _rows(pools: Iterable[Any]) -> tuple[PoolRow, ...]:
    return tuple((p.id, p.display_name, p.tags) for p in pools)


def _merged(all_tags: Iterable[Mapping[str, Sequence[str]] | None]) -> dict[str, tuple[str, ...]]:
    merged: dict[str, tuple[str, ...]] = {}
    for tags in all_tags:
        for key, values in (tags or {}).items():
            merged[key] = tuple(dict.fromkeys(merged.get(key, ()) + tuple(values)))
    return merged


# -- IPython ----------------------------------------------------------------------------------

# id(shell) -> (completer, the IPython list it was added to, what was added)
_REGISTERED: dict[int, tuple[Completer, list[Any], Any]] = {}


def register(shell: Any) -> Completer | None:
    """Add the completer to ``shell`` (again after ``%reload_ext``); None if this IPython has
    neither completion API."""
    unregister(shell)
    ip_completer = getattr(shell, "Completer", None)
    try:
        from IPython.core import completer as ipc
    except ImportError:  # pragma: no cover - IPython is how we are called at all
        return None
    completer = Completer(shell)
    matchers = getattr(ip_completer, "custom_matchers", None)
    if hasattr(ipc, "context_matcher") and isinstance(matchers, list):
        added = _v2_matcher(completer, ipc)
    else:
        matchers = getattr(ip_completer, "magic_arg_matchers", None)
        if not isinstance(matchers, list):
            return None
        added = _v1_matcher(completer, ip_completer)
    matchers.append(added)
    _REGISTERED[id(shell)] = (completer, matchers, added)
    return completer


def unregister(shell: Any) -> None:
    """Remove what ``register`` added; a refresh still running ends on its own, unheard."""
    completer, matchers, added = _REGISTERED.pop(id(shell), (None, [], None))
    if completer is not None:
        completer.closed = True
    if added in matchers:
        matchers.remove(added)


def completer_of(shell: Any) -> Completer | None:
    """The completer registered on ``shell`` (tests, benchmarks)."""
    entry = _REGISTERED.get(id(shell))
    return entry[0] if entry else None


def _v2_matcher(completer: Completer, ipc: Any) -> Any:
    """IPython 8.6+: replaces our fragment (which may start before IPython's token)."""

    @ipc.context_matcher(identifier="modelarts_nb.completion")
    def modelarts_nb_matcher(context: Any) -> dict[str, Any]:
        before = context.full_text.split("\n")[context.cursor_line][: context.cursor_position]
        fragment, words = completer.suggest(before)
        return {
            "completions": [ipc.SimpleCompletion(text, type=kind) for text, kind in words],
            "matched_fragment": fragment if words else context.token,
            "suppress": bool(words),  # only ours: no Jedi keywords among pool names
            "ordered": True,
        }

    return modelarts_nb_matcher


def _v1_matcher(completer: Completer, ip_completer: Any) -> Callable[[str], list[str]]:
    """IPython 7: a "magic argument" matcher, whose matches replace everything else (Jedi's
    too). IPython replaces only its own token (what follows ``=`` or a quote), so each
    completion is trimmed to what follows the part of our fragment before that token."""

    def modelarts_nb_matcher(line: str) -> list[str]:
        before = str(getattr(ip_completer, "text_until_cursor", line))
        fragment, words = completer.suggest(before)
        if not words:
            return []
        token = ip_completer.splitter.split_line(before)
        if not fragment.endswith(token):
            return []
        kept = fragment[: len(fragment) - len(token)]
        return [text[len(kept):] for text, _ in words if text.startswith(kept)]

    return modelarts_nb_matcher
