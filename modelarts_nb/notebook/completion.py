"""Tab completion for ``%pool_delete`` and ``%pools``: pool names and ids, tag keys and values,
option names and choices.

Why it exists: a TAB must never hang the prompt, print, raise, or send a request the user did
not set up. This module holds what makes that so — the listing's cache, its background thread
and IPython's two completion APIs; what a line asks for and how each word is spelled is
``completion_words``'.

- settings are resolved as the magics resolve them (the line's ``--project-id``/``--region``,
  then the environment, the profile, the notebook session); without credentials there is no
  completion and no request; nor is there for a line whose ``--endpoint`` is not the one the
  settings name anyway (a pasted line must not send credentials elsewhere on a TAB);
- the listing runs in a background thread; the completer waits for it at most ``BUDGET`` (1 s),
  then answers from the cache (or with nothing) and the thread fills the cache for the next TAB;
- answers, failures included, are kept ``TTL`` (30 s) per endpoint and project: a second TAB
  sends nothing, and a 401 is not repeated at every TAB (Huawei locks an AK/SK after a few
  failed signatures).

IPython 8.6+ gets a v2 matcher (``IPCompleter.custom_matchers``): it replaces the whole word
(``course=ml101``, ``'team shared'``) and hides Jedi's and the file matcher's guesses. Older
IPython (7.x, ModelArts images) gets a "magic argument" matcher (which, unlike a
``complete_command`` hook, also hides Jedi's guesses); IPython then replaces only its own token
(after ``=`` or a quote), so each completion is trimmed to that token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .completion_words import Overrides, PoolRow, Word, candidates, parse_line

__all__ = ["BUDGET", "TTL", "Completer", "completer_of", "register", "unregister"]

BUDGET = 1.0  # seconds a TAB may wait for the server
TTL = 30.0  # seconds an answer (or a failure) is kept per endpoint and project

Key = tuple[str, str]  # (endpoint, project id)


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
