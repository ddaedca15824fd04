"""The installed ``modelarts-nb`` command on a (pseudo-)terminal: it asks a person to confirm,
and keeps one live progress line. Apart from tests/test_command.py because it needs /dev/pts,
which the 3.9 root (tests/kernel39) has not mounted: host only."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest
from test_command import COMMAND, assert_no_secret, deleted, env_for, ids, make_plan


@pytest.fixture(scope="module")
def terminal_sandbox(sandboxes_for_module):
    return sandboxes_for_module(pools=3, delete_seconds=0.2)


@pytest.fixture
def sb(terminal_sandbox):
    terminal_sandbox.reset()
    return terminal_sandbox


def test_on_a_terminal_apply_asks_to_type_delete_n_pools(sb, tmp_path):
    planned = sorted(ids(sb, "pool-01", "pool-02"))
    path = make_plan(sb, tmp_path, "--name", "pool-0[1-2]")
    sb.clear_requests()
    wrong, out = in_terminal(sb, tmp_path, ["apply", str(path)], answer="yes")
    assert wrong == 2 and 'Type "delete 2 pools" to delete them' in out
    assert 'not confirmed (expected "delete 2 pools"); nothing was sent' in out
    assert sb.count(method="DELETE") == 0
    right, out = in_terminal(sb, tmp_path, ["apply", str(path), "--interval", "0.05"],
                             answer="delete 2 pools")
    assert right == 0 and "\r\x1b[Kdeleting 0 · gone 2 · left out 0 · failed 0 (of 2)" in out
    assert deleted(sb) == planned


def test_on_a_terminal_delete_asks_for_the_pools_name_or_its_id(sb, tmp_path):
    pool = ids(sb, "pool-01")[0]
    code, out = in_terminal(sb, tmp_path, ["delete", "pool-01", "--interval", "0.05"],
                            answer=pool)
    assert code == 0 and 'Type "pool-01" (or the pool id) to delete it' in out
    assert f"DELETED: pool pool-01 ({pool}), phase Deleted" in out
    assert deleted(sb) == [pool]


def in_terminal(sb, tmp_path, args: list[str], answer: str) -> tuple[int, str]:
    """Run the command on a pseudo-terminal; type ``answer`` when it asks."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(COMMAND), *args], env=env_for(sb, tmp_path), stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen, asked = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        chunk = _read(leader) if ready else b""
        if ready and not chunk:
            break  # the command ended and closed the terminal
        seen += chunk
        if b"Type " in seen and not asked:
            os.write(leader, answer.encode() + b"\n")
            asked = True
    os.close(leader)
    text = seen.decode()
    assert_no_secret(sb, text)
    return proc.wait(timeout=10), text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side closed
        return b""
