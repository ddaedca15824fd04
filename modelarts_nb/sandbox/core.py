"""The ``Sandbox`` object: a running loopback server plus the handles tests and demos use.

Why one module of 437 lines: ``Sandbox`` is one facade — each method a few lines handing one
call to the part that does the work (``state``, ``gate``, ``faults``, ``records``, ``api``,
``environ``, ``seed``) — and a test or tutorial finds every handle on the one object it holds;
split by topic, a reader would chase one class across files for no less code.
"""

from __future__ import annotations

import dataclasses
import secrets
import selectors
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .admin import AdminClient
from .api import LIST_FILTERS, Service
from .environ import ExportedEnv, export
from .faults import Fault, FaultBook
from .gate import Gate, Temporary
from .limits import RateLimiter
from .records import Recorder, RequestRecord
from .seed import REGION, research_tenant, seed_pools
from .server import SandboxServer
from .state import PoolStore, _Entry
from .tags import apply_create, validate
from .workspaces import DEFAULT_WORKSPACE, Workspace

__all__ = [
    "DEFAULT_AK",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SK",
    "DEFAULT_TOKEN",
    "Sandbox",
    "start",
]

# Obviously fake, but shaped like the real thing so that format checks in clients pass.
DEFAULT_PROJECT_ID = "5a4db0c5fa4e4a1d0000c0ffee5a4db0"  # 32 lowercase hex
DEFAULT_AK = "SANDBOXFAKEAK0000001"  # 20 uppercase alphanumerics
DEFAULT_SK = "SandboxFakeSecretKeyNotRealAnywhere00001"  # 40 alphanumerics
DEFAULT_TOKEN = "MIIS" + "andboxFakeIamTokenNotValidAnywhere" * 6  # IAM tokens start "MII"


def _unique_keys() -> dict[str, str]:
    """A fresh random AK, SK and IAM token shaped like the defaults: what makes a sandbox's
    admin endpoints its owner's alone on a shared machine (the defaults are public)."""
    alnum = string.ascii_letters + string.digits
    return {
        "ak": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20)),
        "sk": "".join(secrets.choice(alnum) for _ in range(40)),
        "token": "MII" + "".join(secrets.choice(alnum) for _ in range(200)),
    }


class _SeededStore(PoolStore):
    """A :class:`PoolStore` in which the pools seeded already ``Deleting`` (``leaving-pool``)
    take ``seeded_seconds`` to go instead of ``delete_seconds``.

    Why: a demo or a class reaches that pool minutes after the sandbox started, while a pool
    the user deletes should still go within seconds. The longer run applies to the seeded
    deletion only: a deletion started later (``set_phase``, a re-added body) runs on
    ``delete_seconds`` as usual, and :meth:`load` (``reset()``) starts the long run again."""

    def __init__(self, clock: Callable[[], float], delete_seconds: float,
                 seeded_seconds: float | None = None) -> None:
        super().__init__(clock, delete_seconds)
        self.seeded_seconds = seeded_seconds
        self._seeded_since: dict[str, float] = {}  # pool id -> start of its seeded deletion

    def load(self, bodies: list[dict[str, Any]], tag_api_only: frozenset[str] = frozenset()
             ) -> None:
        with self._lock:
            super().load(bodies, tag_api_only)
            self._seeded_since = {
                pool_id: entry.since for pool_id, entry in self._pools.items()
                if entry.since is not None
            }

    def _progress(self, entry: _Entry) -> float:
        seconds = self.seeded_seconds
        if seconds is not None and entry.since is not None:
            pool_id = entry.base.get("metadata", {}).get("name")
            if self._seeded_since.get(pool_id) == entry.since:
                if seconds <= 0:
                    return 1.0
                return min(1.0, max(0.0, (self.clock() - entry.since) / seconds))
        return super()._progress(entry)


class Sandbox:
    """A ModelArts pool API on ``http://127.0.0.1:PORT``; created running by :func:`start`."""

    region = REGION

    def __init__(self, *, port: int = 0, project_id: str = DEFAULT_PROJECT_ID,
                 ak: str = DEFAULT_AK, sk: str = DEFAULT_SK, token: str = DEFAULT_TOKEN,
                 security_token: str | None = None, pools: int = 3, delete_seconds: float = 6.0,
                 seed: int = 0, log: Callable[[str], None] | None = None,
                 latency: float = 0.0, rate_limit: float | None = None,
                 unique_keys: bool = False, seeded_deleting_seconds: float | None = None,
                 ignore_filters: Iterable[str] = ()) -> None:
        if unique_keys:  # random credentials of its own instead of the public defaults
            fresh = _unique_keys()
            ak, sk, token = fresh["ak"], fresh["sk"], fresh["token"]
        if not (project_id and ak and sk and token):
            raise ValueError("project_id, ak, sk and token must be non-empty")
        if pools < 0 or delete_seconds < 0 or (seeded_deleting_seconds or 0) < 0:
            raise ValueError("pools, delete_seconds and seeded_deleting_seconds must be >= 0")
        self.project_id, self.ak, self.sk, self.token = project_id, ak, sk, token
        self.security_token = security_token
        self.delete_seconds = delete_seconds
        self.log = log
        self._extra_pools, self._seed = pools, seed
        self.latency = latency  # seconds added to every API answer, like a distant region
        self.limiter = RateLimiter(rate_limit) if rate_limit else None
        self._offset = 0.0
        # the seeded leaving-pool goes after seeded_deleting_seconds (None: delete_seconds)
        self.store: PoolStore = _SeededStore(self.clock, delete_seconds, seeded_deleting_seconds)
        self.gate = Gate(ak, sk, token, security_token, self.clock)
        self._session: Temporary | None = None
        self._session_lifetime = 900.0
        self.session_rotates = True  # a notebook agency renews its credentials when they expire
        self.service = Service(project_id, self.store, self.gate)
        self.ignore_filters = ignore_filters
        self.faults = FaultBook()
        self.recorder = Recorder()
        self._exports: list[ExportedEnv] = []
        self._load()
        self._server = SandboxServer(port, self)
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._wake, self._waker = socket.socketpair()  # stop() writes to _waker: _serve returns
        self._thread = threading.Thread(
            target=self._serve, name=f"modelarts-sandbox-{self.port}", daemon=True,
        )
        self._thread.start()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<Sandbox {self.endpoint} project={self.project_id} {state}>"

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving, including keep-alive connections; safe to call more than once.

        Variables :meth:`export_env` set and that still hold this sandbox's values get their
        previous values back, so the process is not left pointing at a dead port."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.restore_env()
        self._waker.send(b"x")  # wake _serve now, not at its next poll
        self._thread.join(timeout=5)
        self._server.server_close()
        self._server.close_connections()
        self._wake.close()
        self._waker.close()

    def _serve(self) -> None:
        """``serve_forever`` without its poll interval: the loop sleeps until a client connects
        or :meth:`stop` writes to the wake-up socket, so a stop takes no time (a test suite
        stops hundreds of sandboxes; ``serve_forever(poll_interval=0.05)`` made each stop wait
        up to 50 ms, and a shorter interval would keep every idle sandbox spinning)."""
        server = self._server
        server.timeout = 0  # handle_request() below never blocks: it runs only when ready
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while not self._stopped:
                ready = {key.fileobj for key, _ in selector.select()}
                if server in ready and not self._stopped:
                    server.handle_request()  # accept; a thread of its own serves the connection

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Reseed the pools, their tags and the workspaces; forget faults, requests, AK lockouts
        and session credentials (clock_offset and exported variables stay)."""
        self.faults.clear()
        self.recorder.clear()
        self.gate.reset()
        self._session = None
        self._load()

    def _load(self) -> None:
        seeded = seed_pools(self.project_id, self._seed, self._extra_pools)
        self.store.load(seeded.pools, tag_api_only=seeded.tag_api_only)
        self.service.workspaces.load(seeded.workspaces)
        self.service.carried.seed(seeded.pools)

    def add_workload(self, pool_id: str, kind: str = "train", status: str = "Running",
                     job: str = "job", seconds: int = 60) -> None:
        """One more workload on a pool (``kind`` train/infer/notebook, ``status`` as the API
        spells it, e.g. Running, Pending, Queue)."""
        pool = self.store.get(pool_id)
        if pool is None:
            raise KeyError(pool_id)
        self.service.carried.add(pool, kind, status, job, seconds)

    # -- a careless server ----------------------------------------------------------------------
    @property
    def ignore_filters(self) -> tuple[str, ...]:
        """The list filters ``GET /v2/{project}/pools`` ignores, as a careless server or proxy
        might: any of ``labelSelector``, ``parent``, ``status`` and ``workspaceId`` (an ignored
        ``workspaceId`` lists workspace "0"). () by default; ``reset()`` keeps it. Why: it shows
        a class, and tests, that a client must check every filter on the pools it gets back,
        e.g. ``sb.ignore_filters = ("labelSelector",)`` before ``%pools --label … --delete``."""
        return tuple(sorted(self.service.ignore_filters))

    @ignore_filters.setter
    def ignore_filters(self, names: Iterable[str]) -> None:
        names = (names,) if isinstance(names, str) else tuple(names)
        unknown = sorted(set(names) - set(LIST_FILTERS))
        if unknown:
            raise ValueError(f"ignore_filters: {unknown} not among the list filters "
                             f"{', '.join(LIST_FILTERS)}")
        self.service.ignore_filters = frozenset(names)

    # -- the clock -------------------------------------------------------------------------------
    def clock(self) -> float:
        """The server's idea of now (epoch seconds): real time plus ``clock_offset``."""
        return time.time() + self._offset

    @property
    def clock_offset(self) -> float:
        return self._offset

    @clock_offset.setter
    def clock_offset(self, seconds: float) -> None:
        self._offset = float(seconds)

    # -- environment -----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Variables that point the SDK chain and modelarts_nb at this sandbox."""
        env = {
            "HUAWEICLOUD_SDK_AK": self.ak,
            "HUAWEICLOUD_SDK_SK": self.sk,
            "HUAWEICLOUD_SDK_PROJECT_ID": self.project_id,
            "MODELARTS_ENDPOINT": self.endpoint,
            "MODELARTS_REGION": self.region,
        }
        if self.security_token is not None:
            env["HUAWEICLOUD_SDK_SECURITY_TOKEN"] = self.security_token
        return env

    def export_env(self) -> ExportedEnv:
        """Point this process at the sandbox; other credentials in the environment (a real
        security token or IAM token) are removed so they cannot mix with the sandbox's keys.

        Returns the variables set (a dict) which also undoes the export: ``with
        sb.export_env(): ...``, or ``.restore()``; :meth:`restore_env` and :meth:`stop` undo
        every export of this sandbox. Undoing restores the previous values exactly (absent
        ones removed), except for variables changed since, which are left alone."""
        exported = export(self.env(), ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "MODELARTS_AUTH_TOKEN"))
        with self._stop_lock:
            self._exports.append(exported)
        return exported

    def restore_env(self) -> list[str]:
        """Undo every :meth:`export_env` of this sandbox, newest first; returns the names of
        the variables put back."""
        with self._stop_lock:
            exports, self._exports = self._exports, []
        restored: list[str] = []
        for exported in reversed(exports):
            restored += [name for name in exported.restore() if name not in restored]
        return restored

    def admin(self, timeout: float = 5.0) -> AdminClient:
        """A client of this sandbox's admin endpoints, signed with its own keys (in-process
        code can call :meth:`reset` and friends directly; this is the HTTP path)."""
        return AdminClient(self.endpoint, self.ak, self.sk, security_token=self.security_token,
                           timeout=timeout)

    # -- temporary credentials (a notebook session's agency) ------------------------------------
    def issue_session_credentials(self, lifetime: float = 900.0) -> Temporary:
        """New temporary AK/SK + security token, valid ``lifetime`` s; they become what
        :meth:`session_credentials` (and a stand-in ``modelarts.session``) hands out."""
        self._session = self.gate.issue_temporary(lifetime)
        self._session_lifetime = lifetime
        return self._session

    def session_credentials(self) -> Temporary | None:
        """The notebook session's current credentials; expired ones are renewed first while
        ``session_rotates`` is true, as the agency behind a real notebook would."""
        current = self._session
        if current is not None and current.expires_at <= self.clock() and self.session_rotates:
            current = self.issue_session_credentials(self._session_lifetime)
        return current

    def expire(self, credentials: Temporary) -> None:
        """Let temporary credentials run out now."""
        expired = self.gate.expire_temporary(credentials.access)
        if expired is not None and self._session is not None:
            if self._session.access == expired.access:
                self._session = expired

    # -- requests and faults ---------------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        """API requests (admin ones excluded) in arrival order; a copy, safe to keep."""
        return self.recorder.snapshot()

    def count(self, method: str | None = None, pool: str | None = None) -> int:
        return sum(
            1
            for record in self.requests
            if (method is None or record.method == method.upper())
            and (pool is None or record.pool == pool)
        )

    def clear_requests(self) -> None:
        self.recorder.clear()

    def accepted_deletes(self, pool_id: str) -> int:
        """DELETEs that really started a deletion of ``pool_id`` (refusals and repeats excluded)."""
        return self.store.accepted(pool_id)

    def inject(self, fault: Fault) -> None:
        """Queue a fault; a copy is stored, so the caller's object is never consumed."""
        self.faults.add(dataclasses.replace(fault))

    def clear_faults(self) -> None:
        self.faults.clear()

    def pending_faults(self) -> list[Fault]:
        return [dataclasses.replace(fault) for fault in self.faults.pending()]

    # -- pools -----------------------------------------------------------------------------------
    def pool_ids(self, workspace: str | None = DEFAULT_WORKSPACE) -> list[str]:
        """Ids of the pools a listing of ``workspace`` shows — by default workspace "0", what
        ``GET /pools`` without ``workspaceId`` lists; ``None`` for every workspace."""
        return self.store.ids(workspace)

    def pool_json(self, pool_id: str) -> dict[str, Any] | None:
        """The body a GET would return now (a deep copy), or None when the pool is gone."""
        return self.store.get(pool_id)

    def add_pool(self, body: dict[str, Any], *, annotate: bool = True) -> str:
        """Add (or replace) a pool from a full Pool body; returns its id (metadata.name).

        Its tags are read from its ``os.modelarts/tms.tags`` annotation (kept verbatim until
        the tags change); ``annotate=False`` removes that annotation, so the tags are served
        by the tag API only, and later tag changes are not mirrored either."""
        return self.store.add(body, annotate=annotate)

    def add_pools(self, bodies: list[dict[str, Any]], *, annotate: bool = True) -> list[str]:
        """:meth:`add_pool` for many (500 take well under a second)."""
        return [self.store.add(body, annotate=annotate) for body in bodies]

    def tag_pool(self, pool_id: str, tags: Mapping[str, str], *, annotate: bool = True
                 ) -> dict[str, str]:
        """Add or overwrite tags as ``POST …/tags/create`` would (same rules: ValueError for
        a bad key or value, or more than 20 tags); ``annotate=False`` makes the pool's tags
        API-only (its annotation is removed). Returns the pool's tags; KeyError: no pool."""
        for key, value in tags.items():
            validate(key, value)
        items = list(tags.items())
        result = self.store.change_tags(pool_id, lambda now: apply_create(now, items), annotate)
        if result is None:
            raise KeyError(pool_id)
        return result

    def pool_tags(self, pool_id: str) -> dict[str, str] | None:
        """The pool's tags as the tag API shows them; None when there is no such pool."""
        return self.store.tags(pool_id)

    def add_workspace(self, name: str, workspace_id: str | None = None, **fields: Any) -> str:
        """Add (or replace) a workspace; returns its id (32 hex, random unless given). Put a
        pool in it with the label ``os.modelarts/workspace.id``. ``fields``: the other
        ``ListWorkspace`` fields (description, owner, auth_type, status, ...) and
        ``allowed_tenants``: the tenant ids (X-ModelArts-User-ID) a PRIVATE or INTERNAL
        workspace admits (workspaces.py; UNCONFIRMED semantics)."""
        workspace_id = workspace_id or secrets.token_hex(16)
        return self.service.workspaces.add(Workspace(workspace_id, name, **fields))

    @property
    def research_tenant(self) -> str:
        """The tenant id the seeded research workspace (INTERNAL) admits; any other tenant id
        sent about its pools is refused by workspace authentication."""
        return research_tenant(self._seed)

    def workspaces(self) -> list[dict[str, Any]]:
        """Every workspace as ``GET /v1/{project}/workspaces`` lists it."""
        return [w.to_json() for w in self.service.workspaces.all()]

    def remove_pool(self, pool_id: str) -> None:
        self.store.remove(pool_id)

    def set_phase(self, pool_id: str, phase: str, message: str = "") -> None:
        """Force ``status.phase``; "Deleting" starts the deletion clock, others stop it."""
        self.store.set_phase(pool_id, phase, message)

    def fail_deletion(self, pool_id: str, phase: str | None = "Error", message: str = "") -> None:
        """Make deletions of this pool end in ``phase`` instead of a 404 (None undoes it)."""
        self.store.fail_deletion(pool_id, phase, message or "Failed to delete the resource pool")

    def display_names(self) -> dict[str, list[str]]:
        """Display name → ids, in every workspace."""
        names: dict[str, list[str]] = {}
        for body in self.store.bodies():
            label = body["metadata"].get("labels", {}).get("os.modelarts/name", "")
            names.setdefault(label, []).append(body["metadata"]["name"])
        return names


def start(**options: Any) -> Sandbox:
    """Start a sandbox on 127.0.0.1 (``port=0`` picks a free port) and return it running.

    Options are :class:`Sandbox`'s: ``port``, ``project_id``, ``ak``, ``sk``, ``token``,
    ``security_token``, ``pools``, ``delete_seconds``, ``seed``, ``latency``, ``rate_limit``,
    ``unique_keys`` (random AK/SK/token instead of the public defaults: for shared machines),
    ``seeded_deleting_seconds`` (how long the seeded, already Deleting ``leaving-pool`` stays;
    default ``delete_seconds``; ``make demo`` and the CLI hold it an hour, so a class still
    finds it when they get there), ``ignore_filters`` (list filters the server ignores, like a
    careless server or proxy: see :attr:`Sandbox.ignore_filters`).
    """
    return Sandbox(**options)
