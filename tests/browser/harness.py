"""A throw-away Jupyter server on loopback and Debian's Chromium, for the real-browser tests.

Everything binds to 127.0.0.1 and every piece of per-user Jupyter/IPython state (config, runtime,
data, settings, workspaces) lives in one temp dir, so a run neither reads nor leaves anything in
``~/.jupyter`` and two runs never share a kernel session. ``playwright install`` cannot download
browsers on CI here, so Playwright drives ``/usr/bin/chromium`` (apt package ``chromium``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Playwright adds --headless, a fresh temp --user-data-dir and --remote-debugging-pipe (no port).
# The rest: no sandbox as root, no GPU, and no background traffic to Google (no outside network).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# JupyterLab's "get notified about Jupyter news?" toast covers the lower right of the page, and
# the update check would call out: both off through a user setting in the temp settings dir.
_NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}


def default_jupyter() -> Path:
    """The ``jupyter`` of the interpreter running the tests (the main .venv)."""
    return Path(sys.executable).with_name("jupyter")


def free_port() -> int:
    """A free port on 127.0.0.1; the server gets ``port_retries=0`` so it never drifts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterServer:
    """``jupyter lab`` on 127.0.0.1:<random port> with a known token and a temp root dir.

    ``jupyter`` picks the environment: the server's Python also runs the kernel (jupyter_client
    replaces the kernelspec's ``python`` with its own interpreter), so a server started from
    ``.venv-compat/bin/jupyter`` runs an ipykernel 6 kernel. ``kernelspecs`` (name -> the
    ``kernel.json`` dict) go into the temp data dir, which is searched first, so one named
    ``python3`` replaces the native kernel, e.g. with one whose argv starts another Python.
    """

    def __init__(
        self,
        notebooks: list[Path],
        *,
        jupyter: Path | None = None,
        extra_args: list[str] | None = None,
        kernelspecs: dict[str, dict[str, Any]] | None = None,
        settings: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.jupyter = jupyter or default_jupyter()
        self.notebooks = notebooks
        self.extra_args = extra_args or []
        self.kernelspecs = kernelspecs or {}
        # user settings, by "<package>/<plugin>" (e.g. the widget manager's saveState)
        self.settings = {"@jupyterlab/apputils-extension/notification": _NOTIFICATION_SETTINGS,
                         **(settings or {})}
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="mnb-jupyter-"))
        self.root = self.tmp / "root"
        self.log_path = self.tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None
        self.leftovers: list[int] = []
        # one client for every call: each new httpx client loads the CA bundle (~30 ms of CPU),
        # and a server start alone polls /api/status some twenty times
        self.http = httpx.Client(base_url=self.base, timeout=10,
                                 headers={"Authorization": f"token {self.token}"})

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> JupyterServer:
        if not self.jupyter.is_file():
            raise FileNotFoundError(f"no jupyter at {self.jupyter}: install the test extras")
        self.root.mkdir()
        for notebook in self.notebooks:
            shutil.copy(notebook, self.root / notebook.name)
        for plugin, values in self.settings.items():
            path = self.tmp / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        for name, spec in self.kernelspecs.items():
            (self.tmp / "data" / "kernels" / name).mkdir(parents=True)
            (self.tmp / "data" / "kernels" / name / "kernel.json").write_text(json.dumps(spec))
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, env=self._env(),
                cwd=self.root, start_new_session=True,
            )
        self._wait_ready(t0 + timeout)
        self.started_in = time.perf_counter() - t0
        return self

    def _command(self) -> list[str]:
        cmd = [
            str(self.jupyter), "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabServerApp.workspaces_dir={self.tmp / 'workspaces'}",
            f"--LabServerApp.user_settings_dir={self.tmp / 'settings'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class="
            "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            *self.extra_args,
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")  # CI runs as root; jupyter refuses to start otherwise
        return cmd

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            JUPYTER_DATA_DIR=str(self.tmp / "data"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
            # in a venv, jupyter_core searches the venv's share/jupyter before the user's data
            # dir: the venv's own python3 kernelspec would shadow one given in ``kernelspecs``
            JUPYTER_PREFER_ENV_PATH="0",
        )
        env.pop("VIRTUAL_ENV", None)  # the compat server must not think it runs in .venv
        return env

    def _wait_ready(self, deadline: float) -> None:
        """Ready = ``/api/status`` answers 200 (the port alone opens before the app is up)."""
        assert self.proc is not None
        while self.proc.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if self.http.get("/api/status", timeout=2).status_code == 200:
                    return
            if time.perf_counter() > deadline:
                break
            time.sleep(0.1)
        log = self.log()  # before stop() removes the temp dir (a failed __enter__ has no __exit__)
        self.stop()
        raise RuntimeError(f"jupyter did not start on {self.base}:\n{log}")

    def stop(self) -> None:
        """``POST /api/shutdown`` (which also shuts the kernels down), then signals if need be."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                self.api("POST", "/api/shutdown")
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM, wait=10)
                self._signal_group(signal.SIGKILL, wait=5)
        self.leftovers = self._kill_leftovers()
        self.proc = None
        self.http.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _signal_group(self, signum: int, wait: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=wait)

    def _kill_leftovers(self) -> list[int]:
        """Kernels run in their own session, so killpg misses them: find them by our temp dir
        (their connection file lives in it) and kill exactly those pids."""
        pids = _pids_mentioning(str(self.tmp))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def kernel_states(self) -> list[str]:
        """Execution state of every session's kernel, as the server sees it."""
        return [s["kernel"]["execution_state"] for s in self.api("GET", "/api/sessions").json()]

    def url(self, path: str) -> str:
        return f"{self.base}{path}?token={self.token}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""


def _pids_mentioning(needle: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
    return pids


_SHARED: list[Any] = []  # this process's Playwright and Chromium, once launched


def shared_chromium() -> Any:
    """One Chromium per test process; each test takes a fresh context of it (as private as a
    new browser: no cookies, storage or cache shared), which saves ~1 CPU-s a test."""
    if _SHARED and not _SHARED[1].is_connected():  # it crashed: the next test gets a new one
        close_shared_chromium()
    if not _SHARED:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _SHARED.extend([playwright, launch_chromium(playwright)])
    return _SHARED[1]


def close_shared_chromium() -> None:
    if _SHARED:
        playwright, chromium = _SHARED
        _SHARED.clear()
        with contextlib.suppress(Exception):  # a crashed browser has nothing left to close
            chromium.close()
        playwright.stop()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright; fails (never skips) when it is not installed."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: apt-get install chromium fonts-liberation (see .ci/run)"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
