"""Where the endpoint, project and credentials come from — and saying so without the secret.

Order (first source that provides a value wins, per value): explicit arguments → environment →
profile file (``$HUAWEICLOUD_SDK_CREDENTIALS_FILE`` or ``~/.huaweicloud/credentials``) → the
ModelArts notebook session (``modelarts.session.Session``). Credentials are never mixed across
sources: the first source holding any credential must hold a complete one. Nothing here contacts
the network — in particular never the cloud metadata address 169.254.169.254.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, InvalidName, quoted
from .names import check_endpoint, check_project_id, check_region
from .text import remember_secrets

__all__ = [
    "Credentials",
    "EXPLICIT",
    "NOTEBOOK_SESSION",
    "Settings",
    "USER_ID_ENV",
    "check_user_id",
    "endpoint_for_region",
    "reread_credentials",
    "resolve_settings",
]

EXPLICIT = "explicit arguments"
NOTEBOOK_SESSION = "ModelArts notebook session"
USER_ID_ENV = "MODELARTS_USER_ID"
# The tenant id sent as X-ModelArts-User-ID (docs/tenant-and-details.md). Its format is not
# documented (UNCONFIRMED): printable ASCII without spaces, 1-128 characters, so it can neither
# break a header line nor be signed differently from what is sent.
_USER_ID = re.compile(r"[\x21-\x7e]{1,128}")

_ENV = {
    "ak": "HUAWEICLOUD_SDK_AK",
    "sk": "HUAWEICLOUD_SDK_SK",
    "security_token": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "project_id": "HUAWEICLOUD_SDK_PROJECT_ID",
    "token": "MODELARTS_AUTH_TOKEN",
    "region": "MODELARTS_REGION",
    "endpoint": "MODELARTS_ENDPOINT",
    "ca_bundle": "MODELARTS_CA_BUNDLE",
    "user_id": USER_ID_ENV,
}
_PROFILE_SECTIONS = ("basic", "basiccredentials")
_SESSION_ATTRS = {
    "ak": "access_key",
    "sk": "secret_key",
    "security_token": "security_token",
    "project_id": "project_id",
    "region": "region_name",
    "user_id": "user_id",
}
# Where ModelArts images keep the ``modelarts`` SDK when it is not on the kernel's path: the
# read-only tools mount, and the Jupyter server's own conda env (docs/modelarts-api.md §4.2;
# community source).
SDK_DIRS = (
    "/modelarts/tools/sdk",
    "/modelarts/authoring/notebook-conda/envs/jp3/lib/python3.9/site-packages",
)
# The SDK's region table maps every region to .com except this one (docs/modelarts-api.md §4.4).
_ENDPOINT_EXCEPTIONS = {"ap-southeast-1": "https://modelarts.ap-southeast-1.myhuaweicloud.cn"}


@dataclass(frozen=True)
class Credentials:
    """AK/SK (optionally temporary, with a security token) or an IAM token. Never printed."""

    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = EXPLICIT

    @property
    def kind(self) -> str:
        if self.access_key:
            return "temporary AK/SK" if self.security_token else "AK/SK"
        return "IAM token"

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r}, source={self.source!r})"

    @property
    def from_notebook_session(self) -> bool:
        return self.source == NOTEBOOK_SESSION

    def secrets(self) -> tuple[str, ...]:
        """The secret strings, for redaction checks."""
        values = (self.access_key, self.secret_key, self.security_token, self.token)
        return tuple(v for v in values if v)


@dataclass(frozen=True)
class Settings:
    endpoint: str
    project_id: str
    credentials: Credentials
    region: str | None = None
    ca_bundle: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    user_id: str | None = None  # the tenant id sent as X-ModelArts-User-ID; None: not sent

    def __post_init__(self) -> None:
        """Built by hand or by resolve_settings, settings get the same checks: no plain http
        off loopback, no project id that could change the URL, no tenant id that could break
        or bend a header. Their credentials join the process's registry (``text``): every
        string shown is masked with it, whichever client, panel or run shows it."""
        object.__setattr__(self, "endpoint", check_endpoint(self.endpoint))
        check_project_id(self.project_id)
        if self.region is not None:
            check_region(self.region)
        if self.user_id is not None:
            check_user_id(self.user_id)
        remember_secrets(*self.credentials.secrets())  # masked wherever a server echoes them

    def describe(self) -> str:
        """One line saying where each setting came from, without any secret (a tenant id is
        an id, and which tenant acts is what a person must see before deleting)."""
        where = self.sources
        tenant = (f"; tenant (X-ModelArts-User-ID) {self.user_id} from "
                  f"{where.get('user_id', '?')}" if self.user_id else
                  "; no tenant id (IAM alone decides)")
        return (
            f"{self.credentials.kind} from {self.credentials.source}; project "
            f"{self.project_id} from {where.get('project_id', '?')}; endpoint {self.endpoint} "
            f"from {where.get('endpoint', '?')}{tenant}"
        )

    @property
    def user_id_source(self) -> str | None:
        """Where the tenant id came from (None when none is sent)."""
        return self.sources.get("user_id") if self.user_id else None


def check_user_id(value: object) -> str:
    """The tenant id, checked before any request: it goes into a signed header verbatim."""
    if not isinstance(value, str) or _USER_ID.fullmatch(value) is None:
        raise InvalidName(
            f"invalid tenant id {quoted(value)} (--user-id / {USER_ID_ENV} / the notebook "
            "session's user_id): expected 1-128 printable ASCII characters without spaces "
            "or line breaks; nothing was sent"
        )
    return value


def endpoint_for_region(region: str, env: Mapping[str, str] | None = None) -> str:
    """Default endpoint of a region, honouring the SDK's per-region override variable."""
    check_region(region)
    env = os.environ if env is None else env
    override = env.get(f"HUAWEICLOUD_SDK_REGION_MODELARTS_{region.replace('-', '_').upper()}")
    if override:
        return override.split(",")[0].strip()
    return _ENDPOINT_EXCEPTIONS.get(region, f"https://modelarts.{region}.myhuaweicloud.com")


def resolve_settings(
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    security_token: str | None = None,
    auth_token: str | None = None,
    project_id: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
    ca_bundle: str | None = None,
    user_id: str | None = None,
    env: Mapping[str, str] | None = None,
    use_notebook_session: bool = True,
) -> Settings:
    """Resolve settings from the sources in order; raise one ConfigError naming what is missing.

    ``user_id`` (the tenant id, X-ModelArts-User-ID): None asks the sources, "" sends none
    whatever they hold — so a person can always fall back to IAM alone."""
    env = os.environ if env is None else env
    explicit = {
        "ak": access_key,
        "sk": secret_key,
        "security_token": security_token,
        "token": auth_token,
        "project_id": project_id,
        "region": region,
        "endpoint": endpoint,
        "ca_bundle": ca_bundle,
        "user_id": user_id,
    }
    layers = _layers(explicit, env, use_notebook_session)
    found: dict[str, tuple[str, str]] = {}
    credentials: Credentials | None = None
    for source, values in layers:
        for key in ("project_id", "ca_bundle", "user_id"):
            if values.get(key) and key not in found and (key, user_id) != ("user_id", ""):
                found[key] = (values[key], source)
        # region and endpoint say one thing, where to send: the first source naming either
        # decides (an explicit --region beats MODELARTS_ENDPOINT); its endpoint beats its region
        if not {"region", "endpoint"} & found.keys():
            for key in ("region", "endpoint"):
                if values.get(key):
                    found[key] = (values[key], source)
        if credentials is None:
            credentials = _credentials(values, source)
        if credentials and {"project_id", "endpoint"} <= found.keys() | _derivable(found):
            break
    return _settings(credentials, found, env)


def reread_credentials(
    credentials: Credentials, env: Mapping[str, str] | None = None
) -> Credentials | None:
    """The credentials ``credentials.source`` holds *now*, or None when it cannot say.

    Temporary AK/SK (a notebook agency's, or ones written to the environment or profile by a
    refresher) last 15 min to 24 h; after a 401 the client asks the same source again instead of
    giving up on a long watch. Explicit arguments cannot be re-read.
    """
    if credentials.source == EXPLICIT:
        return None
    env = os.environ if env is None else env
    try:
        for source, values in _layers({}, env, use_session=credentials.from_notebook_session):
            if source == credentials.source:
                return _credentials(values, source)
    except ConfigError:  # the profile became unreadable, or holds half a pair now
        return None
    return None


def _derivable(found: Mapping[str, object]) -> set[str]:
    return {"endpoint"} if "region" in found else set()


def _layers(
    explicit: dict[str, str | None], env: Mapping[str, str], use_session: bool
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (source name, values) lazily: later sources are read only when still needed."""
    yield EXPLICIT, {k: v for k, v in explicit.items() if v}
    yield "environment", {k: env[name] for k, name in _ENV.items() if env.get(name)}
    default = Path.home() / ".huaweicloud" / "credentials"
    path = Path(env.get("HUAWEICLOUD_SDK_CREDENTIALS_FILE") or default)
    if path.is_file():
        yield f"profile file {path}", _read_profile(path)
    if use_session:
        values = _read_notebook_session()
        if values:
            yield NOTEBOOK_SESSION, values


def _read_profile(path: Path) -> dict[str, str]:
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read profile file {path}: {type(exc).__name__}") from None
    sections = {name.lower(): name for name in parser.sections()}
    for wanted in _PROFILE_SECTIONS:
        if wanted in sections:
            section = parser[sections[wanted]]
            keys = ("ak", "sk", "security_token", "project_id", "region")
            return {k: section[k].strip() for k in keys if section.get(k, "").strip()}
    return {}


def _read_notebook_session() -> dict[str, str]:
    """Inside a ModelArts notebook, ``modelarts.session.Session()`` carries the agency's keys."""
    try:
        session = _session_module().Session()
    except Exception:  # noqa: BLE001 - not in a ModelArts notebook, or its SDK failed: skip it
        return {}
    values = {key: getattr(session, attr, None) for key, attr in _SESSION_ATTRS.items()}
    return {k: str(v) for k, v in values.items() if isinstance(v, str) and v}


def _session_module() -> Any:
    """``modelarts.session``; if the kernel's path lacks it, look where the images keep it."""
    try:
        return importlib.import_module("modelarts.session")
    except ImportError:
        pass
    for folder in SDK_DIRS:
        package = os.path.join(folder, "modelarts")
        if os.path.isfile(os.path.join(package, "session.py")):
            return _import_sdk_from(package)
    raise ImportError("modelarts.session")


def _import_sdk_from(package: str) -> Any:
    """Import the ``modelarts`` package from ``package`` alone.

    Its folder never joins ``sys.path``, so nothing else in it (another Python's site-packages)
    becomes importable in the kernel; a failed import leaves no ``modelarts`` module behind.
    """
    init = os.path.join(package, "__init__.py")
    spec = importlib.util.spec_from_file_location(
        "modelarts", init if os.path.isfile(init) else None, submodule_search_locations=[package]
    )
    if spec is None or spec.loader is None:
        raise ImportError("modelarts")
    module = importlib.util.module_from_spec(spec)
    sys.modules["modelarts"] = module
    try:
        spec.loader.exec_module(module)
        return importlib.import_module("modelarts.session")
    except BaseException:
        for name in [n for n in sys.modules if n == "modelarts" or n.startswith("modelarts.")]:
            del sys.modules[name]
        raise


def _credentials(values: Mapping[str, str], source: str) -> Credentials | None:
    ak, sk = values.get("ak"), values.get("sk")
    if ak and sk:
        return Credentials(ak, sk, values.get("security_token"), source=source)
    if ak or sk:
        missing = "secret key (SK)" if ak else "access key (AK)"
        raise ConfigError(
            f"{source} give only half of an AK/SK pair: the {missing} is missing; "
            f"set both {_ENV['ak']} and {_ENV['sk']}"
        )
    if values.get("token"):
        return Credentials(token=values["token"], source=source)
    return None


def _settings(
    credentials: Credentials | None, found: dict[str, tuple[str, str]], env: Mapping[str, str]
) -> Settings:
    missing = []
    if credentials is None:
        missing.append(
            f"credentials (set {_ENV['ak']} and {_ENV['sk']}, or {_ENV['token']}, "
            "or put ak/sk in ~/.huaweicloud/credentials under [basic])"
        )
    if "project_id" not in found:
        missing.append(f"the project id (set {_ENV['project_id']} or pass project_id=)")
    if "endpoint" not in found and "region" not in found:
        missing.append(f"the region (set {_ENV['region']}, e.g. cn-north-4, or {_ENV['endpoint']})")
    if missing or credentials is None:
        raise ConfigError("missing " + "; ".join(missing) + "; nothing was sent")
    tenant = _tenant(found, credentials)
    sources = {key: source for key, (_, source) in found.items()}
    region = found["region"][0] if "region" in found else None
    if "endpoint" in found:
        endpoint = found["endpoint"][0]
    else:
        endpoint = endpoint_for_region(str(region), env)
        sources["endpoint"] = f"region {region} ({sources['region']})"
    return Settings(  # which checks every value
        endpoint=endpoint,
        project_id=found["project_id"][0],
        credentials=credentials,
        region=region,
        ca_bundle=found["ca_bundle"][0] if "ca_bundle" in found else None,
        sources=sources,
        user_id=tenant,
    )


def _tenant(found: dict[str, tuple[str, str]], credentials: Credentials) -> str | None:
    """The tenant id to send, checked and named by its source; None when there is none.

    The session's ``user_id`` goes only with the session's own credentials: it says for whom
    the notebook's agency acts, and sending it with other keys would mix two identities (the
    rule credentials follow too; docs/tenant-and-details.md)."""
    if "user_id" not in found:
        return None
    value, source = found["user_id"]
    if source == NOTEBOOK_SESSION and credentials.source != NOTEBOOK_SESSION:
        del found["user_id"]
        return None
    try:
        return check_user_id(value)
    except InvalidName:
        raise InvalidName(
            f"invalid tenant id {quoted(value)} from {source}: expected 1-128 printable ASCII "
            "characters without spaces or line breaks; nothing was sent") from None
