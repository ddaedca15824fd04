"""`make demo` (``python -m modelarts_nb.sandbox.demo``) as a user meets it: run it on free
ports, open the URL it prints, and stop it with Ctrl-C.

What a user would notice, each checked for real: the URL opens the Lab page (not the login
page), everything listens on 127.0.0.1 only, the token is on no command line, in no file others
can read and in no kernel's environment, kernels see the sandbox and no real credential, the
widget state is saved with notebooks, ``~/.jupyter`` is never touched, the seeded Deleting pool is
still there when a class gets to it, and Ctrl-C leaves no process behind.

These tests need JupyterLab: without it they fail (the demo says how to install it). They do not
run in the 3.9 kernel root (tests/kernel39/run.sh leaves them out): it holds a kernel, not a Lab.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelarts_nb.gateway.auth import AkSkAuth
from modelarts_nb.sandbox import demo, start

ROOT = Path(__file__).resolve().parents[1]
URL_RE = re.compile(r"JupyterLab:\s+(http://([^/:]+):(\d+)/lab\?token=([0-9a-f]+))\s*$")
SANDBOX_RE = re.compile(r"Sandbox API: (http://127\.0\.0\.1:(\d+)) ")
# Planted in the demo's environment: none may reach a kernel or the URL.
REAL_LOOKING = {
    "HUAWEICLOUD_SDK_SECURITY_TOKEN": "REAL-LOOKING-SECURITY-TOKEN-0001",
    "MODELARTS_AUTH_TOKEN": "MIIrealLookingIamToken0001",
    "JUPYTER_TOKEN": "users-own-jupyter-token-0001",
}
START_SECONDS = 120.0  # JupyterLab's first start on a loaded CI machine


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    home: Path
    state: Path
    settings: Path
    stderr: Path
    lines: queue.Queue[str]
    out: list[str] = field(default_factory=list)
    url: str = ""
    host: str = ""
    lab_port: int = 0
    token: str = ""
    sandbox: str = ""
    sandbox_port: int = 0

    def lab(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.lab_port}", trust_env=False,
                            timeout=30, headers={"Authorization": f"token {self.token}"})

    def lab_pid(self) -> int:
        (info,) = (self.state / "runtime").glob("jpserver-*.json")
        return int(info.stem.split("-")[1])

    def errors(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")[-3000:]


def _start(base: Path, *extra: str) -> Demo:
    home, notebooks = base / "home", base / "notebooks"
    home.mkdir()
    notebooks.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MODELARTS_"))}
    env.update(REAL_LOOKING, HOME=str(home), PYTHONPATH=str(ROOT))
    state, settings, stderr = base / "state", base / "settings", base / "demo.err"
    command = [
        sys.executable, "-m", "modelarts_nb.sandbox.demo", "--lab-port", "0", "--sandbox-port", "0",
        "--notebook-dir", str(notebooks), "--state-dir", str(state), "--settings-dir",
        str(settings), "--pools", "1", *extra,
    ]
    with open(stderr, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                cwd=base)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()],
                     daemon=True).start()
    found = Demo(proc, home, state, settings, stderr, lines)
    deadline = time.monotonic() + START_SECONDS
    while not found.url:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            _stop(found)
            pytest.fail(f"the demo printed no JupyterLab URL in {START_SECONDS:.0f} s:\n"
                        f"{''.join(found.out)}\n{found.errors()}")
        found.out.append(line)
        if match := SANDBOX_RE.search(line):
            found.sandbox, found.sandbox_port = match[1], int(match[2])
        if match := URL_RE.search(line):
            found.url, found.host, found.lab_port, found.token = (
                match[1], match[2], int(match[3]), match[4])
        if proc.poll() is not None and lines.empty():
            pytest.fail(f"the demo exited ({proc.returncode}) before printing a URL:\n"
                        f"{''.join(found.out)}\n{found.errors()}")
    return found


def _stop(found: Demo, signum: int = signal.SIGINT) -> int:
    if found.proc.poll() is None:
        found.proc.send_signal(signum)
        try:
            return found.proc.wait(60)
        except subprocess.TimeoutExpired:
            found.proc.kill()
    return found.proc.wait()


@pytest.fixture(scope="module")
def busy() -> Iterator[list[int]]:
    """Two ports something else already listens on (as 8888 often is)."""
    sockets = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
    yield [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, busy: list[int]) -> Iterator[Demo]:
    found = _start(tmp_path_factory.mktemp("demo"), "--delete-seconds", "0.5",
                   "--lab-port", str(busy[0]), "--sandbox-port", str(busy[1]))
    try:
        yield found
    finally:
        _stop(found)


# -- what /proc says ---------------------------------------------------------------------------
def _listeners(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on ``port`` (IPv4 dotted, IPv6 as hex)."""
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for row in handle:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state != "0A" or int(hex_port, 16) != port:
                    continue
                if v6:
                    found.add(f"[{address}]")
                else:
                    found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def _processes() -> Iterator[tuple[int, bytes]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "cmdline").read_bytes()
            except OSError:
                continue  # ended meanwhile


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _start_kernel(found: Demo) -> tuple[str, int]:
    """A kernel started as the Lab page would start one; returns its id and process id."""
    with found.lab() as lab:
        kernel = lab.post("/api/kernels", json={"name": "python3"})
        assert kernel.status_code == 201, kernel.text
        kernel_id = kernel.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [pid for pid, cmd in _processes() if f"kernel-{kernel_id}".encode() in cmd]
        if pids:
            return kernel_id, pids[0]
        time.sleep(0.2)
    pytest.fail(f"no process for kernel {kernel_id}")


def _sandbox_client(found: Demo) -> tuple[httpx.Client, str]:
    env = dict(line.split("=", 1) for line in
               (found.state / "sandbox.env").read_text().splitlines() if "=" in line)
    auth = AkSkAuth(env["HUAWEICLOUD_SDK_AK"], env["HUAWEICLOUD_SDK_SK"],
                    project_id=env["HUAWEICLOUD_SDK_PROJECT_ID"])
    client = httpx.Client(auth=auth, trust_env=False, timeout=10)
    return client, f"{env['MODELARTS_ENDPOINT']}/v2/{env['HUAWEICLOUD_SDK_PROJECT_ID']}/pools"


def _phases(client: httpx.Client, url: str) -> dict[str, str]:
    items = client.get(url).json()["items"]
    return {p["metadata"]["labels"]["os.modelarts/name"]: p["status"]["phase"] for p in items}


# -- the tests ---------------------------------------------------------------------------------
def test_the_printed_url_opens_the_lab_page_not_the_login_page(running: Demo) -> None:
    assert running.host == "127.0.0.1"
    assert len(running.token) == 48 and running.token != REAL_LOOKING["JUPYTER_TOKEN"]
    with httpx.Client(trust_env=False, timeout=30) as browser:
        page = browser.get(running.url, follow_redirects=False)
        assert page.status_code == 200, (page.status_code, page.headers.get("location"))
        assert "jupyter-config-data" in page.text and "/login" not in str(page.url)
        assert '"appName": "JupyterLab"' in page.text
    # the token is what opens it: without it (a fresh browser, no cookie) the login page
    with httpx.Client(trust_env=False, timeout=30) as stranger:
        bare = stranger.get(running.url.split("?")[0], follow_redirects=False)
        assert bare.status_code == 302 and "/login" in bare.headers["location"]


def test_both_servers_listen_on_127_0_0_1_only(running: Demo, busy: list[int]) -> None:
    # the ports asked for were taken: each server took another, and the URL says which
    assert running.sandbox_port and running.lab_port
    assert len({running.sandbox_port, running.lab_port, *busy}) == 4
    assert _listeners(running.lab_port) == {"127.0.0.1"}
    assert _listeners(running.sandbox_port) == {"127.0.0.1"}


def test_the_token_is_on_no_command_line_and_in_no_file_others_can_read(running: Demo) -> None:
    token = running.token.encode()
    assert [pid for pid, cmd in _processes() if token in cmd] == []
    assert token.decode() not in running.errors()  # Jupyter's log shows token=... only
    holders = []
    for path in [*running.state.rglob("*"), *running.settings.rglob("*")]:
        if path.is_file() and token in path.read_bytes():
            holders.append(path.relative_to(running.state))
            # readable by its owner only: the file itself, or a folder on the way to it
            assert any(p.stat().st_mode & 0o077 == 0 for p in [path, *path.parents]), path
    # only Jupyter's own runtime files (its server info, its open-in-browser page), in a folder
    # that only the owner can enter
    pid = running.lab_pid()
    assert set(holders) <= {Path("runtime", f"jpserver-{pid}.json"),
                            Path("runtime", f"jpserver-{pid}-open.html")}, holders
    assert (running.state / "runtime").stat().st_mode & 0o077 == 0
    assert (running.state / "sandbox.env").stat().st_mode & 0o077 == 0  # the sandbox's keys


def test_kernels_see_the_sandbox_and_no_token_or_real_credential(running: Demo) -> None:
    kernel_id, pid = _start_kernel(running)
    try:
        env = _environ(pid)  # (failures name variables, never print their values)
        assert env["MODELARTS_ENDPOINT"] == running.sandbox
        assert sorted(set(env) & {*REAL_LOOKING, demo.TOKEN_VARIABLE}) == []
        assert [k for k, v in env.items() if running.token in v] == []
        assert [k for k, v in env.items() if v in REAL_LOOKING.values()] == []
    finally:
        with running.lab() as lab:
            lab.delete(f"/api/kernels/{kernel_id}")


def test_widget_state_is_saved_and_the_users_jupyter_dir_untouched(running: Demo) -> None:
    with running.lab() as lab:
        answer = lab.get("/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin")
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["saveState"] is True  # what JupyterLab itself reads
    assert not (running.home / ".jupyter").exists()
    with running.lab() as lab:  # the demo's workspaces stay in its own folder too
        lab.put("/lab/api/workspaces/demo-check",
                json={"data": {}, "metadata": {"id": "demo-check"}})
    assert list((running.state / "workspaces").iterdir())
    assert not (running.home / ".jupyter").exists()


def test_the_seeded_deleting_pool_stays_while_deleted_pools_go(running: Demo) -> None:
    client, url = _sandbox_client(running)
    with client:
        pool_01 = next(p["metadata"]["name"] for p in client.get(url).json()["items"]
                       if p["metadata"]["labels"]["os.modelarts/name"] == "pool-01")
        assert client.delete(f"{url}/{pool_01}").status_code == 200
        time.sleep(1.5)  # three times --delete-seconds 0.5, long after the demo started
        phases = _phases(client, url)
    assert phases.get("leaving-pool") == "Deleting"
    assert "pool-01" not in phases  # a pool deleted in the demo still goes in seconds
    assert "leaving-pool stays Deleting for 60 min" in "".join(running.out)


def test_ctrl_c_stops_lab_its_kernels_and_the_sandbox(tmp_path: Path) -> None:
    found = _start(tmp_path)
    lab_pid = found.lab_pid()
    _, kernel_pid = _start_kernel(found)
    assert _alive(lab_pid) and _alive(kernel_pid)
    code = _stop(found, signal.SIGINT)
    assert code == 0, found.errors()
    deadline = time.monotonic() + 10
    while (_alive(lab_pid) or _alive(kernel_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(lab_pid) and not _alive(kernel_pid)  # no orphan
    assert _listeners(found.lab_port) == set() and _listeners(found.sandbox_port) == set()
    rest = "".join(found.out)
    while not found.lines.empty():
        rest += found.lines.get()
    assert rest.rstrip().endswith("demo stopped")
    assert not list((found.state / "runtime").glob("jpserver-*"))  # Jupyter cleaned up
    assert not (found.home / ".jupyter").exists()


def test_ctrl_c_while_jupyterlab_starts_leaves_nothing_behind(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelarts_nb.sandbox.demo", "--lab-port", "0", "--sandbox-port",
         "0", "--notebook-dir", str(notebooks), "--state-dir", str(tmp_path / "state"),
         "--settings-dir", str(tmp_path / "settings")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    mine = str(notebooks).encode()
    deadline = time.monotonic() + 30
    while not [p for p, cmd in _processes() if mine in cmd and p != proc.pid]:
        assert time.monotonic() < deadline, "JupyterLab never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # before the URL: JupyterLab is still starting
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "JupyterLab:" not in out and "demo stopped" in out
    time.sleep(0.5)
    assert [p for p, cmd in _processes() if mine in cmd and _alive(p)] == []


def test_without_jupyterlab_it_says_how_to_get_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    real = demo.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "jupyterlab" else real(name, *args)

    monkeypatch.setattr(demo.importlib.util, "find_spec", find_spec)
    state = tmp_path / "state"
    assert demo.main(["--state-dir", str(state), "--sandbox-port", "0", "--lab-port", "0"]) == 2
    said = capsys.readouterr().err
    assert "JupyterLab is not installed" in said and "modelarts-nb[demo]" in said
    assert not state.exists()  # nothing started, nothing written


def test_server_config_pops_the_token_and_fails_closed_without_it() -> None:
    config: Any = type("Config", (), {})()
    config.IdentityProvider = type("Section", (), {})()
    namespace = {"c": config}
    os.environ[demo.TOKEN_VARIABLE] = "t" * 48
    try:
        exec(compile(demo.SERVER_CONFIG, "jupyter_server_config.py", "exec"), namespace)
        assert config.IdentityProvider.token == "t" * 48
        assert demo.TOKEN_VARIABLE not in os.environ  # the kernels cannot inherit it
        exec(compile(demo.SERVER_CONFIG, "jupyter_server_config.py", "exec"), namespace)
        assert len(config.IdentityProvider.token) == 48  # no variable: a random token, not none
        assert config.IdentityProvider.token != "t" * 48
    finally:
        os.environ.pop(demo.TOKEN_VARIABLE, None)


# -- the seeded Deleting pool, in-process and from the command line ----------------------------
def _leaving(sb: Any) -> str:
    (pool_id,) = sb.display_names()["leaving-pool"]
    return str(pool_id)


def test_seeded_deleting_seconds_holds_only_the_seeded_deletion(sandboxes) -> None:
    sb = sandboxes(pools=0, delete_seconds=0.3, seeded_deleting_seconds=60)
    leaving, (failed,) = _leaving(sb), sb.display_names()["failed-pool"]
    with httpx.Client(auth=AkSkAuth(sb.ak, sb.sk, project_id=sb.project_id),
                      trust_env=False, timeout=10) as client:
        url = f"{sb.endpoint}/v2/{sb.project_id}/pools"
        assert client.delete(f"{url}/{failed}").status_code == 200
        time.sleep(0.6)
        body = client.get(f"{url}/{leaving}").json()
        assert body["status"]["phase"] == "Deleting" and body["metadata"]["deletionTimestamp"]
        assert client.get(f"{url}/{failed}").status_code == 404  # deleted: gone in 0.3 s
    sb.clock_offset = 50  # (a loaded machine may take seconds to get here)
    assert sb.pool_json(leaving) is not None
    sb.clock_offset = 61
    assert sb.pool_json(leaving) is None  # the hour (here a minute) is up


def test_reset_starts_the_long_deletion_again_and_a_new_one_is_short(sandboxes) -> None:
    sb = sandboxes(pools=0, delete_seconds=0.3, seeded_deleting_seconds=60)
    sb.clock_offset = 50
    sb.reset()  # a teacher rehearsing again
    sb.clock_offset = 100  # 50 s after the reset, 100 s after start
    assert (sb.pool_json(_leaving(sb)) or {}).get("status", {}).get("phase") == "Deleting"
    leaving = _leaving(sb)
    sb.set_phase(leaving, "Running")
    sb.set_phase(leaving, "Deleting")  # a deletion started now runs on delete_seconds
    time.sleep(0.5)
    assert sb.pool_json(leaving) is None


def test_without_seeded_deleting_seconds_the_seeded_pool_goes_after_delete_seconds(
        sandboxes) -> None:
    sb = sandboxes(pools=0, delete_seconds=0.3)
    leaving = _leaving(sb)
    time.sleep(0.5)
    assert sb.pool_json(leaving) is None  # what the tests and tutorials rely on
    with pytest.raises(ValueError, match="seeded_deleting_seconds"):
        start(pools=0, seeded_deleting_seconds=-1)


def test_the_sandbox_command_holds_the_seeded_pool_for_an_hour() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "MODELARTS_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelarts_nb.sandbox", "--port", "0", "--pools", "0",
         "--delete-seconds", "0.2", "--quiet", "--unique-keys"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        exports: dict[str, str] = {}
        for line in proc.stdout or ():
            if match := re.fullmatch(r"export (\w+)=(\S+)\n", line):
                exports[match[1]] = match[2].strip("'")
            if "MODELARTS_REGION" in exports:
                break
        time.sleep(1.0)  # five times --delete-seconds
        auth = AkSkAuth(exports["HUAWEICLOUD_SDK_AK"], exports["HUAWEICLOUD_SDK_SK"],
                        project_id=exports["HUAWEICLOUD_SDK_PROJECT_ID"])
        with httpx.Client(auth=auth, trust_env=False, timeout=10) as client:
            url = f"{exports['MODELARTS_ENDPOINT']}/v2/{exports['HUAWEICLOUD_SDK_PROJECT_ID']}/pools"
            assert _phases(client, url).get("leaving-pool") == "Deleting"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


# -- the tutorials, Notebook 7, no prompt --------------------------------------------------------


def _printed(found: Demo) -> list[str]:
    """Every line the demo printed so far (the start read only up to the URL)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            found.out.append(found.lines.get(timeout=0.2))
        except queue.Empty:
            if any(line.startswith("Open the JupyterLab link") for line in found.out):
                break
    return found.out


def test_the_demo_works_on_copies_and_never_writes_the_tutorials(tmp_path: Path) -> None:
    """What a class saves (JupyterLab's autosave does) lands in the copies; the tracked
    tutorials stay as they are, and a second start keeps the class's copies."""
    tutorials = tmp_path / "tutorials"
    tutorials.mkdir()
    original = (ROOT / "notebooks" / "quickstart.ipynb").read_bytes()
    (tutorials / "quickstart.ipynb").write_bytes(original)
    copies = tmp_path / "copies"
    found = _start(tmp_path, "--tutorials", str(tutorials), "--notebook-dir", str(copies))
    try:
        with found.lab() as lab:
            model = lab.get("/api/contents/quickstart.ipynb").json()
            model["content"]["cells"][0]["source"] = "edited by the class"
            assert lab.put("/api/contents/quickstart.ipynb", json={
                "type": "notebook", "format": "json", "content": model["content"]}
            ).status_code == 200
    finally:
        _stop(found)
    assert (tutorials / "quickstart.ipynb").read_bytes() == original
    assert "edited by the class" in (copies / "quickstart.ipynb").read_text()
    assert demo.copy_tutorials(tutorials, copies) == []  # a second start keeps the copies
    assert "edited by the class" in (copies / "quickstart.ipynb").read_text()
    assert any(f"Notebooks:   {copies}" in line for line in _printed(found))


def test_notebook7_is_served_and_no_news_prompt_greets(running: Demo) -> None:
    with running.lab() as lab:
        assert lab.get("/tree").status_code == 200
        news = lab.get("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert news.status_code == 200, news.text
    assert news.json()["settings"]["fetchNews"] == "false"
    assert any("Notebook 7:  http://127.0.0.1:" in line for line in _printed(running))
