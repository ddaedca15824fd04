"""The receipts file: where it is, and appending one line to it that no other writer can cut.

Where: the file ``MODELARTS_NB_RECEIPTS`` names, else ``modelarts-nb/receipts.jsonl`` in the
user's data directory (``$XDG_DATA_HOME`` or ``~/.local/share``; ``~/Library/Application
Support`` on macOS; ``%LOCALAPPDATA%`` on Windows).

How: each line is ONE ``os.write`` on a file opened ``O_APPEND`` and never through a symbolic
link (kept 0o600, directories it creates 0o700), under ``flock`` where there is one: two kernels
appending at once never interleave (on a local file system; network file systems may not honour
either). Under that lock a line that would follow a fragment (a write cut short by a full disk
or a kill) starts with a newline, so the fragment costs only itself.

Why apart from ``receipts``: this is the only code that touches the file system to write, and
the one place to read when a receipt did not land. What a line says is ``receipts``'s; reading
the lines back is ``receipts_history``'s.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..gateway.text import known_secrets, masked, one_line

try:
    import fcntl
except ImportError:  # Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["CAP", "ENV", "cap", "host", "location", "shown", "why", "write_line"]

log = logging.getLogger("modelarts_nb")
ENV = "MODELARTS_NB_RECEIPTS"
CAP = 300  # characters of any server string
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: a FIFO named by mistake fails at once instead of holding the deletion
_FLAGS = (os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
          | _NOFOLLOW)


def location(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The receipts file: ``MODELARTS_NB_RECEIPTS``, else the user's data directory."""
    env = os.environ if env is None else env
    named = env.get(ENV, "").strip()
    try:
        if named:
            return Path(named).expanduser()
        home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    except (RuntimeError, KeyError) as exc:  # '~nosuchuser', or no HOME and no passwd entry
        raise OSError(0, f"no home directory for {named or '~'!r}") from exc
    platform = platform or sys.platform
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform.startswith("win"):
        local = env.get("LOCALAPPDATA", "")
        base = Path(local) if local else home / "AppData" / "Local"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else home / ".local" / "share"  # spec: absolute
    return base / "modelarts-nb" / "receipts.jsonl"


def write_line(line: bytes, target: Path) -> None:
    """Append ``line`` to ``target`` in one ``os.write``, under the lock; OSError when it could
    not (the caller says so once: a receipt never stops a deletion)."""
    _make_parents(target.parent)  # a file there: os.open says "Not a directory"
    fd = _open(target)
    try:
        try:
            _lock(fd)
        except KeyboardInterrupt:  # Ctrl-C while waiting: the line still goes in
            _add(fd, line)
            raise
        _add(fd, line)
    finally:
        os.close(fd)


def _make_parents(directory: Path) -> None:
    """Create the missing directories, each 0700: receipts say what was deleted where, and
    ``mkdir`` leaves the mode to the umask (for the upper ones of ``parents=True`` entirely)."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:  # another writer made it first, or a dangling link: os.open says
            continue
        os.chmod(made, 0o700)


def _open(target: Path) -> int:
    """The file, to append to; never through a symbolic link (its target may be any file of
    the user's), never blocking (``O_NONBLOCK``: a FIFO with no reader fails at once). Read and
    write, so that ``_add`` can look at the last byte; a FIFO is opened again write-only, or
    one with no reader would swallow the line instead of saying ENXIO."""
    if not _NOFOLLOW and os.path.islink(target):  # no O_NOFOLLOW (Windows): looked at first
        raise OSError(errno.ELOOP, "a symbolic link")
    try:
        fd = os.open(target, _FLAGS | os.O_RDWR, 0o600)
    except PermissionError:  # writable, not readable: appended without a look at its end
        return os.open(target, _FLAGS | os.O_WRONLY, 0o600)
    try:
        fifo = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    if not fifo:
        return fd
    os.close(fd)
    return os.open(target, _FLAGS | os.O_WRONLY, 0o600)


def _add(fd: int, line: bytes) -> None:
    """Write ``line`` (under the lock): the file kept at 0600, and the line started on a line
    of its own. A write cut short (a full disk, a killed process) leaves a fragment with no
    newline; a line appended to it would be read as part of it, and lost."""
    info = os.fstat(fd)
    if stat.S_ISREG(info.st_mode):  # not /dev/full or /dev/null: theirs to keep as they are
        _private(fd, info)
        if info.st_size and not _ends_a_line(fd):
            line = b"\n" + line
    while line:  # a short write goes on: the disk's own error (ENOSPC) is the one said
        done = os.write(fd, line)
        if done <= 0:
            raise OSError(errno.ENOSPC, "the disk took only part of the line (full?)")
        line = line[done:]


def _private(fd: int, info: os.stat_result) -> None:
    """0600, whatever the file had (an older version, a copy, a umask that took the owner's
    write bit): ``fchmod`` on the open file, so no link swapped in meanwhile is changed."""
    if info.st_mode & 0o777 == 0o600 or not hasattr(os, "fchmod"):
        return
    try:
        os.fchmod(fd, 0o600)
    except OSError:  # another user's file: the receipt still goes in
        log.debug("receipts: could not make the file 0600", exc_info=True)


def _ends_a_line(fd: int) -> bool:
    """Whether the (non-empty) file's last byte is a newline; True when it cannot be read."""
    try:
        os.lseek(fd, -1, os.SEEK_END)
        return os.read(fd, 1) in (b"\n", b"")
    except OSError:  # opened write-only (``_open``): appended as before
        return True


def why(exc: OSError, target: Path) -> str:
    """The reason a warning gives; a link refused by ``O_NOFOLLOW`` said as one (its errno
    reads "Too many levels of symbolic links")."""
    if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(target):
        return "it is a symbolic link, and receipts are never written through one"
    return exc.strerror or type(exc).__name__


def _lock(fd: int) -> None:
    """``flock`` for at most a second (released by close); then O_APPEND alone: a lock held by
    a hung process, or a file system without locks (some NFS), never holds a deletion up."""
    if fcntl is None:
        return
    deadline = time.monotonic() + 1.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                log.debug("receipts: lock still held after 1 s; appending without it")
                return
            time.sleep(0.002)
        except OSError:
            return


def shown(path: str | Path, limit: int = 300) -> str:
    """A receipts path as printed: every credential this kernel has used masked (a user may
    name a file after a key), on one line, capped."""
    return one_line(masked(str(path), known_secrets()), limit)


def host(endpoint: str) -> str:
    """``host[:port]`` of the endpoint: no scheme, user info, path or query."""
    try:
        parts = urlsplit(endpoint)
        name, port = parts.hostname or "", parts.port
    except ValueError:
        return "(unreadable)"
    return cap(f"{name}:{port}" if port else name) or "(unknown)"


def cap(value: object) -> Any:
    """A value as text of at most ``CAP`` characters (None stays None)."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= CAP else text[: CAP - 1] + "…"
