"""``python -m modelarts_nb.sandbox.demo`` (what ``make demo`` runs): the sandbox API and
JupyterLab, both on 127.0.0.1, and one URL that opens JupyterLab directly.

Why each part is the way it is:

- **The URL carries a fresh token** (``secrets.token_hex(24)``), so it opens the Lab page, not
  the login page. The token reaches JupyterLab in an environment variable that a demo-only
  ``jupyter_server_config.py`` pops (``c.IdentityProvider.token``): it is never on a command
  line (``ps`` shows those to every user), never in a file we write, and not inherited by the
  kernels (a notebook printing ``os.environ`` would otherwise save it). Jupyter's own runtime
  file, which holds it too, lives in a 0700 directory of the demo's.
- **Nothing touches the user's own Jupyter set-up**: ``JUPYTER_CONFIG_DIR``,
  ``JUPYTER_RUNTIME_DIR``, ``JUPYTERLAB_WORKSPACES_DIR`` point under ``--state-dir`` and
  ``JUPYTERLAB_SETTINGS_DIR`` at ``--settings-dir``, where the widget manager's "Save Widget
  State Automatically" is on (``{"saveState": true}``), so a saved and reopened demo notebook
  shows what its panels did.
- **The kernels see the sandbox only**: every inherited ``HUAWEICLOUD_SDK_*`` and
  ``MODELARTS_*`` variable is dropped and the sandbox's are set, so no real credential can mix
  in. The sandbox has keys of its own (``unique_keys``), written (mode 0600) to
  ``STATE/sandbox.env`` for admin calls from a terminal.
- **The seeded leaving-pool stays Deleting for an hour** (``--seeded-deleting-seconds``), so a
  class still finds it when the tutorial gets there; pools deleted in the demo go after
  ``--delete-seconds``.
- **The tutorials are copies**: ``--tutorials`` (``notebooks/``) is copied into
  ``--notebook-dir`` (``.venv/demo/notebooks``) where a copy is not there yet, so JupyterLab's
  autosave writes the copies, never the tracked tutorials, and a second start keeps what the
  class did. Delete that folder to start again.
- **No prompt greets the class**: JupyterLab's "get notified about Jupyter news?" is answered
  (no) in the demo's settings; Notebook 7 (``/tree``) is served beside JupyterLab.
- **Ctrl-C (or SIGTERM/SIGHUP) stops both**: JupyterLab runs in its own session (the
  terminal's Ctrl-C reaches only us, so Jupyter's "Shutdown this server (y/[n])?" never
  blocks), gets SIGTERM, shuts its kernels down, and is killed if it has not exited in time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from .core import Sandbox

__all__ = ["copy_tutorials", "lab_command", "lab_environment", "main", "prepare_state"]

TOKEN_VARIABLE = "MODELARTS_NB_DEMO_TOKEN"
WIDGET_SETTINGS = Path("@jupyter-widgets", "jupyterlab-manager", "plugin.jupyterlab-settings")
NEWS_SETTINGS = Path("@jupyterlab", "apputils-extension", "notification.jupyterlab-settings")
# Popped by the server as it reads its configuration: the kernels it starts never inherit it.
# Without the variable (someone reusing this config dir by hand) the token is random: closed.
SERVER_CONFIG = f'''# Written by python -m modelarts_nb.sandbox.demo; holds no secret.
import os
import secrets

c.IdentityProvider.token = os.environ.pop("{TOKEN_VARIABLE}", "") or secrets.token_hex(24)
'''
# Inherited variables that could point a demo kernel at a real account or region.
_DROPPED_PREFIXES = ("HUAWEICLOUD_SDK_", "MODELARTS_", "JUPYTER_TOKEN")
STOP_SECONDS = 15.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modelarts_nb.sandbox.demo",
        description="Start the sandbox API and JupyterLab on 127.0.0.1 and print a URL that "
        "opens JupyterLab directly. Ctrl-C stops both.",
    )
    parser.add_argument("--lab-port", type=int, default=8888,
                        help="JupyterLab's port (taken: the next free one; 0: any free)")
    parser.add_argument("--sandbox-port", type=int, default=8765,
                        help="the sandbox API's port (taken: any free one; 0: any free)")
    parser.add_argument("--notebook-dir", default=".venv/demo/notebooks",
                        help="where JupyterLab opens: the copies of the tutorials")
    parser.add_argument("--tutorials", default="notebooks" if Path("notebooks").is_dir()
                        else None, help="notebooks copied into --notebook-dir where missing "
                        "(default: ./notebooks; the originals are never written)")
    parser.add_argument("--state-dir", default=".venv/demo",
                        help="the demo's Jupyter config, runtime and workspaces (mode 0700)")
    parser.add_argument("--settings-dir", default=".venv/demo-settings",
                        help="JupyterLab user settings for the demo (widget state saved)")
    parser.add_argument("--pools", type=int, default=3, help="class pools pool-01..")
    parser.add_argument("--delete-seconds", type=float, default=6.0,
                        help="how long a pool you delete stays Deleting")
    parser.add_argument("--seeded-deleting-seconds", type=float, default=3600.0,
                        help="how long the seeded leaving-pool stays Deleting (an hour)")
    return parser


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have had wider bits
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def prepare_state(state_dir: Path, settings_dir: Path) -> dict[str, str]:
    """Create the demo's directories and files; returns the Jupyter variables pointing there.

    The widget setting is rewritten at every start: the demo is only useful with it on."""
    state_dir = _private_dir(state_dir.resolve())
    config = _private_dir(state_dir / "config")
    runtime = _private_dir(state_dir / "runtime")
    workspaces = _private_dir(state_dir / "workspaces")
    _write_private(config / "jupyter_server_config.py", SERVER_CONFIG)
    settings_dir = settings_dir.resolve()
    widget = settings_dir / WIDGET_SETTINGS
    widget.parent.mkdir(parents=True, exist_ok=True)
    widget.write_text(json.dumps({"saveState": True}, indent=2) + "\n", encoding="utf-8")
    news = settings_dir / NEWS_SETTINGS  # "get notified about Jupyter news?" asked: no
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}, indent=2)
                    + "\n", encoding="utf-8")
    return {
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        # the demo's deletions are receipts of the demo, not of the user's real projects
        "MODELARTS_NB_RECEIPTS": str(state_dir / "receipts.jsonl"),
    }


def copy_tutorials(tutorials: Path | None, notebook_dir: Path) -> list[str]:
    """Copy each tutorial into ``notebook_dir`` unless a copy is there already (the class's
    work survives a restart); the names copied now."""
    notebook_dir.mkdir(parents=True, exist_ok=True)
    if tutorials is None or tutorials.resolve() == notebook_dir.resolve():
        return []
    copied = []
    for source in sorted(tutorials.glob("*.ipynb")):
        target = notebook_dir / source.name
        if not target.exists():
            shutil.copyfile(source, target)
            copied.append(source.name)
    return copied


def lab_environment(base: Mapping[str, str], jupyter: Mapping[str, str],
                    sandbox: Mapping[str, str], token: str) -> dict[str, str]:
    """JupyterLab's environment: ``base`` without anything that could reach a real account,
    plus the demo's Jupyter directories, the sandbox's variables and the token to pop."""
    env = {k: v for k, v in base.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(jupyter)
    env.update(sandbox)
    env[TOKEN_VARIABLE] = token
    return env


def lab_command(port: int, notebook_dir: str, *, as_root: bool) -> list[str]:
    """The JupyterLab command line: 127.0.0.1 only, no browser, nothing fetched from outside."""
    command = [
        sys.executable, "-m", "jupyterlab", "--ip", "127.0.0.1", "--port", str(port),
        "--no-browser", f"--ServerApp.root_dir={notebook_dir}",
        "--LabApp.extension_manager=readonly",  # no pip installs from PyPI into the demo
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    return [*command, "--allow-root"] if as_root else command


def _start_sandbox(args: argparse.Namespace) -> Sandbox:
    options = {
        "pools": args.pools, "delete_seconds": args.delete_seconds,
        "seeded_deleting_seconds": args.seeded_deleting_seconds, "unique_keys": True,
    }
    try:
        return Sandbox(port=args.sandbox_port, **options)
    except OSError as exc:
        if args.sandbox_port == 0:
            raise
        print(f"port {args.sandbox_port} is taken ({exc.strerror or exc}); the sandbox takes "
              "a free one", file=sys.stderr, flush=True)
        return Sandbox(port=0, **options)


def _wait_for_lab(lab: subprocess.Popen[bytes], runtime: Path, stop: threading.Event,
                  timeout: float = 120.0) -> int | None:
    """The port JupyterLab listens on, read from the runtime file it writes once it listens;
    None if it exited, ``stop`` was set, or it took longer than ``timeout``."""
    info = runtime / f"jpserver-{lab.pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and lab.poll() is None and not stop.is_set():
        try:
            port = json.loads(info.read_text(encoding="utf-8")).get("port")
        except (OSError, ValueError):
            port = None  # not written yet, or half written
        if isinstance(port, int) and port > 0:
            return port
        time.sleep(0.1)
    return None


def _stop_lab(lab: subprocess.Popen[bytes]) -> int:
    """SIGTERM (Jupyter then shuts its kernels down), then SIGKILL to its process group."""
    if lab.poll() is None:
        lab.terminate()
        try:
            return lab.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print("JupyterLab did not stop in time; killing it", file=sys.stderr, flush=True)
            try:
                os.killpg(lab.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return lab.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if importlib.util.find_spec("jupyterlab") is None:
        print(f"JupyterLab is not installed in {sys.executable}: run `make demo`, or "
              "pip install 'modelarts-nb[demo]'", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    jupyter = prepare_state(Path(args.state_dir), Path(args.settings_dir))
    copy_tutorials(Path(args.tutorials) if args.tutorials else None, Path(args.notebook_dir))
    sandbox = _start_sandbox(args)
    try:
        _write_private(Path(args.state_dir) / "sandbox.env",
                       "".join(f"{k}={v}\n" for k, v in sandbox.env().items()))
        token = secrets.token_hex(24)
        env = lab_environment(os.environ, jupyter, sandbox.env(), token)
        command = lab_command(args.lab_port, args.notebook_dir, as_root=os.geteuid() == 0)
        lab = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                               start_new_session=True)
        try:
            port = _wait_for_lab(lab, Path(jupyter["JUPYTER_RUNTIME_DIR"]), stop)
            if port is None:
                if stop.is_set():
                    return 0
                print("JupyterLab did not start (its messages are above)", file=sys.stderr,
                      flush=True)
                return 1
            hold = args.seeded_deleting_seconds / 60
            print(f"Sandbox API: {sandbox.endpoint} ({len(sandbox.pool_ids())} pools; "
                  f"leaving-pool stays Deleting for {hold:g} min; keys in "
                  f"{args.state_dir}/sandbox.env)", flush=True)
            print(f"JupyterLab:  http://127.0.0.1:{port}/lab?token={token}", flush=True)
            if importlib.util.find_spec("notebook") is not None:
                print(f"Notebook 7:  http://127.0.0.1:{port}/tree?token={token}", flush=True)
            print(f"Notebooks:   {args.notebook_dir} (copies of {args.tutorials or 'nothing'}; "
                  "delete it to start again)", flush=True)
            print("Open the JupyterLab link (it carries this run's token). Ctrl-C stops both.",
                  flush=True)
            while not stop.wait(0.5):
                if lab.poll() is not None:
                    print(f"JupyterLab exited ({lab.returncode})", file=sys.stderr, flush=True)
                    return lab.returncode or 1
            return 0
        finally:
            _stop_lab(lab)
    finally:
        sandbox.stop()
        print("demo stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
