"""Shared fixtures. The sandbox is a real HTTP server on 127.0.0.1: if it cannot start, the
tests that need it fail (they never skip)."""

from __future__ import annotations

import pytest

from modelarts_nb import PoolsClient
from modelarts_nb.retry import RetryPolicy
from modelarts_nb.sandbox import Sandbox, start
from modelarts_nb.settings import Credentials, Settings


@pytest.fixture
def sandbox():
    with start(pools=3, delete_seconds=1.5) as sb:
        yield sb


def make_client(sb: Sandbox, *, token: bool = False, sk: str | None = None, **kw) -> PoolsClient:
    creds = (
        Credentials(token=sb.token) if token else Credentials(sb.ak, sk or sb.sk, sb.security_token)
    )
    kw.setdefault("retry", RetryPolicy(base=0.01, cap=0.05))
    return PoolsClient(Settings(sb.endpoint, sb.project_id, creds), **kw)


@pytest.fixture
def client(sandbox):
    with make_client(sandbox) as c:
        yield c
