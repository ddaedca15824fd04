"""Which credentials a client signs with, and the rules that keep them from being locked.

Huawei locks an AK/SK for 5 minutes after more than 5 failed authentications, and temporary
credentials (a notebook agency's) expire after 15 minutes to 24 hours. So:

- credentials that drew a 401 are never sent again;
- until credentials have succeeded once (fresh ones, or ones just renewed), requests using them go
  one at a time, so a batch of threads cannot pile up failures on a wrong key;
- after a 401 on credentials that had worked, their source is asked again, once; only
  *different* credentials are tried, and they must prove themselves like fresh ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from . import errors
from .auth import AkSkAuth, TokenAuth
from .settings import EXPLICIT, Credentials, Settings, reread_credentials
from .text import remember_secrets

__all__ = ["Key", "KeyChain", "auth_for", "refusal_hint"]

log = logging.getLogger("modelarts_nb")


def auth_for(settings: Settings) -> httpx.Auth:
    creds = settings.credentials
    if creds.access_key and creds.secret_key:
        return AkSkAuth(
            creds.access_key,
            creds.secret_key,
            project_id=settings.project_id,
            security_token=creds.security_token,
        )
    return TokenAuth(creds.token or "")


@dataclass(eq=False)
class Key:
    """One set of credentials as the client uses them: proven by a success, or refused."""

    settings: Settings
    auth: httpx.Auth
    renewed: bool = False  # it replaced credentials that expired
    proven: bool = False
    refused: bool = False
    stale: bool = False  # refused after working, and its source had nothing newer
    turn: threading.Lock = field(default_factory=threading.Lock, repr=False)


class KeyChain:
    """The current Key of a client, shared by its threads."""

    def __init__(
        self,
        settings: Settings,
        reread: Callable[[Credentials], Credentials | None] = reread_credentials,
    ) -> None:
        self.current = Key(settings, auth_for(settings))
        self._reread = reread
        # not the client's connection lock: a slow source must not freeze close() or requests
        self._renewing = threading.Lock()

    @contextlib.contextmanager
    def turn(self, key: Key | None = None) -> Iterator[Key]:
        """The Key to send with (``key`` or the current one), held one request at a time until
        it has proven itself; refused credentials raise instead of being sent again."""
        key = self._usable(key or self.current)
        if key.proven:
            yield key
            return
        with key.turn:  # interruptible by Ctrl-C on POSIX
            if self._usable(key) is key:
                yield key
                return
        with self.turn(self._usable(key)) as renewed:  # renewed meanwhile: take its turn
            yield renewed

    def _usable(self, key: Key) -> Key:
        if key.refused and self.current is key:
            with self._renewing:  # another thread may be renewing it: wait for the outcome
                pass
        if key.refused and self.current is not key and not self.current.refused:
            key = self.current  # renewed by another thread meanwhile
        if key.refused:
            raise errors.AuthenticationError(
                status=401,
                what=f"the credentials from {key.settings.credentials.source} were refused "
                "(HTTP 401) by an earlier request",
                hint="not sent again, because Huawei locks an AK/SK after repeated failures: "
                "fix them and run again",
                from_server=False,
            )
        return key

    def succeeded(self, key: Key) -> None:
        key.proven = True

    def refused(self, key: Key) -> Key | None:
        """After a 401 with ``key``: the Key to send with once more, or None.

        Only credentials that had worked may have expired, so only those are re-read; the
        answer must differ from the refused credentials, and is itself unproven.
        """
        with self._renewing:  # marked inside: a thread that sees it refused can wait here
            key.refused = True
            if self.current is not key:
                return None if self.current.refused else self.current
            if not key.proven:
                return None
            creds = key.settings.credentials
            if creds.source == EXPLICIT:  # nothing to ask again
                return None
            fresh = self._reread(creds)
            if fresh is None or fresh.secrets() == creds.secrets():
                log.debug("401: %s gave no new credentials", creds.source)
                key.stale = True
                return None
            remember_secrets(*fresh.secrets())  # before they are sent: an echo is masked
            settings = dataclasses.replace(key.settings, credentials=fresh)
            self.current = Key(settings, auth_for(settings), renewed=True)
            log.debug("401: renewed %s from %s; sending once more", fresh.kind, fresh.source)
            return self.current


_SESSION_401_HINT = (
    "the notebook session's temporary credentials were refused and asking the session again "
    "gave no new ones: restart the kernel, or set your own AK/SK; nothing was resent"
)


def refusal_hint(key: Key) -> str | None:
    """What to say about a final 401, from what happened to the credentials."""
    source = key.settings.credentials.source
    if key.renewed:
        return (f"new credentials from {source} were refused too; nothing more was sent — "
                "check them, then run again")
    if not key.stale:
        return None
    if key.settings.credentials.from_notebook_session:
        return _SESSION_401_HINT
    return (f"the credentials from {source} worked earlier and are refused now (expired?); "
            f"asking {source} again gave no new ones — update them and run again")
