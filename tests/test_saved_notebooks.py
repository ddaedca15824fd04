"""Secret audit of saved notebooks, and "the outcome survives without widgets".

Three notebooks run in real kernels (this venv's python) whose environments hold recognisable
fake secrets: notebooks/quickstart.ipynb, notebooks/teaching.ipynb, and an error-path notebook
written here (a wrong SK, a wrong IAM token, a missing pool, --debug, --no-widgets, debug
logging). Each executed notebook is saved with its widget state, as JupyterLab saves it. The
test then reads the whole .ipynb text (outputs, tracebacks, widget state, metadata) and the
kernel's stderr and requires that no secret occurs there even once. The saved notebooks must
also show what was deleted and its final phase as plain output, and so must an HTML export
made without widget state.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from test_tutorials_say_what_they_show import broken_claims

from modelarts_nb.sandbox import DEFAULT_AK, DEFAULT_SK, DEFAULT_TOKEN

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _load_execute():
    spec = importlib.util.spec_from_file_location(
        "nb_execute", ROOT / "tests" / "notebooks" / "execute.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


nb_execute = _load_execute()

# Recognisable fake secrets planted in the kernels' environments (and one profile file).
AK = "CANARYAKAUDIT0000042"
SK = "CanarySecretKeyAuditDoNotLeak00000000042"  # the right SK of the error-path sandbox
WRONG_SK = "CanaryWrongSecretKeyDoNotLeak0000000042"
SECURITY_TOKEN = "CanarySecurityTokenDoNotLeak-" + "x7Q" * 20
AUTH_TOKEN = "MIICanaryWrongIamTokenDoNotLeak" + "Zq9" * 30
SANDBOX_TOKEN = "MIICanarySandboxIamTokenDoNotLeak" + "Wv4" * 30
SECRETS = {
    "AK": AK,
    "SK": SK,
    "wrong SK": WRONG_SK,
    "security token": SECURITY_TOKEN,
    "IAM token": AUTH_TOKEN,
    "sandbox token": SANDBOX_TOKEN,
    # the notebooks' own in-process sandboxes use the defaults: their secrets must not show
    "default sandbox AK": DEFAULT_AK,
    "default sandbox SK": DEFAULT_SK,
    "default sandbox token": DEFAULT_TOKEN,
}
# The cell the quickstart browser test and nbval rely on.
YES_CELL = "%pool_delete pool-01 --yes --interval 1"
PANEL_CELL = "panel = %pool_delete pool-02\npanel"

# Error paths, in three credential phases (A: wrong SK, B: wrong IAM token, C: profile file).
ERROR_CELLS = {  # a unique key for each cell -> its code
    "load": "%load_ext modelarts_nb",
    # debug logs of the tool and of httpx/httpcore: to the notebook and the kernel's real stderr
    "logging": "import logging, sys\n"
    "for name in ('modelarts_nb', 'httpx', 'httpcore'):\n"
    "    logger = logging.getLogger(name)\n"
    "    logger.setLevel(logging.DEBUG)\n"
    "    logger.addHandler(logging.StreamHandler(sys.__stderr__))\n"
    "    logger.addHandler(logging.StreamHandler(sys.stdout))",
    # phase A: AK/SK from the environment, with the wrong SK (and a security token). It makes
    # 5 failed signatures; a 6th would lock the AK for 5 minutes, as Huawei's gateway does,
    # and phase C (same AK) could not sign any more.
    "A text": "%pool_delete train-gpu --no-widgets",
    "A panel": "%pool_delete train-gpu",
    "A yes": "%pool_delete train-gpu --yes",
    "A debug": "%pool_delete train-gpu --debug",
    "A reprs": "from modelarts_nb import PoolsClient\n"
    "client = PoolsClient.from_env()\n"
    "print(repr(client), repr(client.settings), repr(client.settings.credentials))\n"
    "try:\n"
    "    client.get_pool('train-gpu-f728b4fa42485e3a0a5d2f346baa9455')\n"
    "except Exception as exc:\n"
    "    print(repr(exc), exc.args)\n"
    "print(client.settings.describe())\n"
    "client",
    # phase B: only an IAM token left in the environment, and it is wrong
    "B switch": "import os\n"
    "del os.environ['HUAWEICLOUD_SDK_AK'], os.environ['HUAWEICLOUD_SDK_SK']",
    "B text": "%pool_delete train-gpu --no-widgets",
    # phase C: no credential in the environment: the profile file's temporary AK/SK work
    "C switch": "del os.environ['MODELARTS_AUTH_TOKEN'], os.environ['HUAWEICLOUD_SDK_SECURITY_TOKEN']",
    "C missing": "%pool_delete no-such-pool",
    "C missing debug": "%pool_delete no-such-pool --debug",
    "C shared": "%pool_delete team-shared",
    "C prepaid": "%pool_delete prepaid-pool --yes",
    "C text": "%pool_delete train-gpu --no-widgets",
    "C yes text": "%pool_delete pool-01 --yes --no-widgets --interval 0.3",
    "C panel": "panel = %pool_delete pool-02\npanel",
    "C yes panel": "%pool_delete pool-03 --yes --interval 0.3",
}


class Run:
    """One executed notebook: its saved file's text, the parsed notebook and kernel stderr."""

    def __init__(self, path: Path, stderr: str) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.nb = nbformat.reads(self.text, as_version=4)
        self.stderr = stderr

    def cell(self, source: str) -> nbformat.NotebookNode:
        (cell,) = [c for c in self.nb.cells if c.cell_type == "code" and c.source == source]
        return cell

    def outputs_text(self, cell: nbformat.NotebookNode | None = None) -> str:
        """Everything a reader without widgets sees: streams, text/plain, errors."""
        cells = [cell] if cell is not None else [c for c in self.nb.cells if c.cell_type == "code"]
        parts = []
        for c in cells:
            for out in c.outputs:
                if out.output_type == "stream":
                    parts.append(out.text)
                elif out.output_type in ("display_data", "execute_result"):
                    parts.append(out.data.get("text/plain", ""))
                elif out.output_type == "error":
                    parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
        return "\n".join(parts)


def _run(source: Path, saved: Path, env: dict[str, str], *, allow_errors: bool = False) -> Run:
    stderr_path = saved.with_suffix(".stderr.txt")
    with stderr_path.open("w", encoding="utf-8") as stderr:
        nb = nb_execute.execute(source, env=env, allow_errors=allow_errors, stderr=stderr)
    nbformat.write(nb, saved)
    return Run(saved, stderr_path.read_text(encoding="utf-8", errors="replace"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("saved-notebooks")


@pytest.fixture(scope="module")
def quickstart(workdir):
    # All four secrets are planted: sb.export_env() must replace AK/SK and drop the others.
    env = nb_execute.kernel_env({
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": WRONG_SK,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN,
        "MODELARTS_AUTH_TOKEN": AUTH_TOKEN,
    })
    return _run(NOTEBOOKS / "quickstart.ipynb", workdir / "quickstart.ipynb", env)


@pytest.fixture(scope="module")
def teaching(workdir):
    env = nb_execute.kernel_env({
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": WRONG_SK,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN,
        "MODELARTS_AUTH_TOKEN": AUTH_TOKEN,
    })
    return _run(NOTEBOOKS / "teaching.ipynb", workdir / "teaching.ipynb", env)


@pytest.fixture(scope="module")
def cleanup(workdir):
    return _run(NOTEBOOKS / "cleanup.ipynb", workdir / "cleanup.ipynb", nb_execute.kernel_env({}))


@pytest.fixture(scope="module")
def error_sandbox(sandboxes_for_module):
    return sandboxes_for_module(ak=AK, sk=SK, token=SANDBOX_TOKEN, security_token=SECURITY_TOKEN,
                                pools=3, delete_seconds=0.6)


@pytest.fixture(scope="module")
def errors_run(workdir, error_sandbox):
    sb = error_sandbox
    profile = workdir / "credentials"
    profile.write_text(
        f"[basic]\nak = {AK}\nsk = {SK}\nsecurity_token = {SECURITY_TOKEN}\n", encoding="utf-8"
    )
    profile.chmod(0o600)
    source = workdir / "errors-source.ipynb"
    nb = new_notebook(
        cells=[new_code_cell(code, metadata={"key": key})
               for key, code in ERROR_CELLS.items()],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )
    nbformat.write(nb, source)
    env = nb_execute.kernel_env({
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": WRONG_SK,
        "HUAWEICLOUD_SDK_SECURITY_TOKEN": SECURITY_TOKEN,
        "MODELARTS_AUTH_TOKEN": AUTH_TOKEN,
        "HUAWEICLOUD_SDK_PROJECT_ID": sb.project_id,
        "MODELARTS_ENDPOINT": sb.endpoint,
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE": str(profile),
    })
    return _run(source, workdir / "errors.ipynb", env, allow_errors=True)


def _leaks(run: Run) -> dict[str, list[str]]:
    """Which secrets occur where: the .ipynb text (whole JSON) and the kernel's stderr."""
    found: dict[str, list[str]] = {}
    for label, secret in SECRETS.items():
        places = [where for where, text in (("ipynb", run.text), ("stderr", run.stderr))
                  if secret in text]
        if places:
            found[label] = places
    return found


def _widget_state(run: Run) -> dict:
    return run.nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


# -- the secret scan ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quickstart", "teaching", "errors_run"])
def test_no_secret_in_saved_notebook_or_kernel_stderr(request, name):
    run = request.getfixturevalue(name)
    assert _leaks(run) == {}
    # the scan covered what matters: outputs and widget state were saved
    assert any(c.get("outputs") for c in run.nb.cells if c.cell_type == "code")
    assert _widget_state(run), "no widget state was saved, so the scan did not cover it"


@pytest.mark.parametrize("name", ["quickstart", "teaching", "cleanup"])
def test_a_tutorial_run_afresh_says_what_its_cells_show(request, name):
    """The tutorials' claims (tests/test_tutorials_say_what_they_show.py) on these fresh runs,
    cells tagged nbval-ignore-output included, whose stored output nbval does not compare."""
    run = request.getfixturevalue(name)
    assert broken_claims(f"{name}.ipynb", run.nb) == []


def test_scan_would_notice_a_leak(workdir):
    """Guard against a scan that can never fail (wrong file, wrong encoding)."""
    leaky = workdir / "leaky.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"sk={WRONG_SK}\n")])]), leaky)
    assert _leaks(Run(leaky, f"token {SANDBOX_TOKEN}")) == {
        "wrong SK": ["ipynb"], "sandbox token": ["stderr"],
    }


def test_verbose_debug_traceback_keeps_secrets_out(workdir):
    source = workdir / "verbose-source.ipynb"
    nbformat.write(new_notebook(cells=[
        new_code_cell("%load_ext modelarts_nb"),
        new_code_cell("%xmode Verbose"),
        new_code_cell("%pool_delete train-gpu --debug"),  # ConfigError: no project id
    ]), source)
    env = nb_execute.kernel_env({
        "HUAWEICLOUD_SDK_AK": AK,
        "HUAWEICLOUD_SDK_SK": WRONG_SK,
        "MODELARTS_REGION": "cn-north-4",  # nothing is sent: the project id is missing
    })
    run = _run(source, workdir / "verbose.ipynb", env, allow_errors=True)
    (error,) = [o for o in run.nb.cells[2].outputs if o.output_type == "error"]
    assert error.ename == "DebugError" and "the project id" in error.evalue
    assert _leaks(run) == {}


# -- the outcome is plain output ------------------------------------------------------------


def test_quickstart_saves_the_outcome_as_text(quickstart, error_sandbox):
    yes = quickstart.outputs_text(quickstart.cell(YES_CELL))
    streams = "".join(o.text for o in quickstart.cell(YES_CELL).outputs if o.output_type == "stream")
    assert "DELETED" not in streams  # said once: by the panel and its copies, not printed again
    # the panel's static copy was updated in place to the final state, too; so was the note
    # shown where the widget cannot be drawn (a reopened notebook without widget state)
    panel_out, note = [o for o in quickstart.cell(YES_CELL).outputs
                       if o.output_type == "display_data"]
    assert panel_out.data["text/plain"].startswith("DELETED: pool pool-01")
    assert "phase Deleted" in yes
    assert note.data["text/plain"].startswith("Last seen by this cell: DELETED: pool pool-01")
    assert "%pools --history" in note.data["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" not in note.data

    (pool_02,) = error_sandbox.display_names()["pool-02"]  # same seed, same ids
    panel, note = [o for o in quickstart.cell(PANEL_CELL).outputs
                   if o.output_type == "display_data"]
    text = panel.data["text/plain"]
    assert note.data["text/plain"].startswith(
        f"Last seen by this cell: REVIEW: pool pool-02 ({pool_02})")
    assert "application/vnd.jupyter.widget-view+json" in panel.data
    assert text.startswith(f"REVIEW: pool pool-02 ({pool_02}), phase Running")
    assert f"Pool pool-02  id {pool_02}" in text and "spec.resources:" in text

    dry_run = quickstart.outputs_text(quickstart.cell("%pool_delete train-gpu --no-widgets"))
    assert "Nothing was deleted" in dry_run and "status.resources:" in dry_run


def test_teaching_saves_refusals_and_outcome_as_text(teaching):
    text = teaching.outputs_text()
    assert re.search(r"InvalidName: 2 pools are named 'team-shared': team-shared-[0-9a-f]{32}, "
                     r"team-shared-[0-9a-f]{32}; give the pool id instead", text)
    assert "REFUSED: pool prepaid-pool" in text and "Delete button shown: False" in text
    assert "DeletionRefused: pool prepaid-pool" in text and "DeletionRefused: pool frozen-pool" in text
    assert "GET: 22  DELETE: 0" in text  # pools, and what they carry (4 reads a pool shown)
    assert "DELETED: pool pool-01 (pool-01-a81ad477fb3675b89cdeb3e60870e15c), phase Deleted" in text
    assert "DELETE requests sent: 1" in text and "pool-01 still exists: False" in text
    assert "Credentials(kind='AK/SK', source='environment')" in text
    assert not [o for c in teaching.nb.cells if c.cell_type == "code"
                for o in c.outputs if o.output_type == "error"]


def test_error_paths_fail_with_one_line_and_show_the_outcome(errors_run, error_sandbox):
    run = errors_run
    cells = {c.metadata["key"]: c for c in run.nb.cells}
    assert list(cells) == list(ERROR_CELLS)

    def error(key):
        (out,) = [o for o in cells[key].outputs if o.output_type == "error"]
        return out

    for key in ("A text", "A panel", "A yes"):
        assert error(key).ename == "AuthenticationError" and len(error(key).traceback) == 1
        assert "APIGW.0301" in error(key).evalue
        assert "verify aksk signature fail" in error(key).evalue
    assert error("A debug").ename == "DebugError" and len(error("A debug").traceback) > 3
    assert "decrypt token fail" in error("B text").evalue  # the wrong IAM token was sent
    missing = error("C missing")
    assert missing.ename == "PoolNotFound" and len(missing.traceback) == 1
    assert error("C missing debug").ename == "DebugError"
    assert error("C shared").ename == "InvalidName"
    assert error("C prepaid").ename == "DeletionRefused"
    for key in ("A reprs", "C text", "C yes text", "C panel", "C yes panel"):
        assert not [o for o in cells[key].outputs if o.output_type == "error"], key

    text = run.outputs_text()
    assert "temporary AK/SK from profile file" in text  # phase C used the profile's keys
    assert "DELETED: pool pool-01" in text and "DELETED: pool pool-03" in text
    assert "REVIEW: pool pool-02" in text
    assert "HTTP Request: GET" in run.stderr  # debug logs reached the kernel's stderr
    # the sandbox received each secret, so each one was really in play
    auths = {r.auth for r in error_sandbox.requests}
    assert auths == {"aksk", "token"}
    assert error_sandbox.count(method="DELETE") == 2


# -- the outcome survives where widgets do not render ---------------------------------------


def test_html_export_without_widget_state_shows_outcome_and_tables(quickstart, workdir):
    nb = nbformat.read(quickstart.path, as_version=4)
    nb.metadata.pop("widgets", None)  # as if the widget state had never been saved
    bare = workdir / "quickstart-no-widget-state.ipynb"
    nbformat.write(nb, bare)
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(bare),
         "--output-dir", str(workdir)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    html = bare.with_suffix(".html").read_text(encoding="utf-8")
    assert "DELETED: pool pool-01" in html
    assert html.count('class="dataframe mnb-table"') >= 6  # 2 tables × 3 pools shown
    for flavor in ("modelarts.vm.gpu.tnt004", "modelarts.vm.cpu.8u"):
        assert flavor in html
    assert "Nothing was deleted. To delete this pool, run:" in html
    assert "REVIEW: pool pool-02" in html
    assert not [label for label, secret in SECRETS.items() if secret in html]


def test_saved_json_is_valid_and_widget_view_keeps_text(quickstart):
    """Every widget output keeps a text/plain copy (nbval and GitHub need it)."""
    nbformat.validate(quickstart.nb)
    for cell in quickstart.nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                assert data.get("text/plain", "").strip()
                assert data.get("text/html", "").strip()
    json.loads(quickstart.text)


class _Client:
    """A notebook client whose kernels die (or fail otherwise) as told, then run."""

    def __init__(self, failures: list[str], calls: list[dict]) -> None:
        self.failures, self.calls = failures, calls

    def execute(self, **launch: object) -> str:
        self.calls.append(launch)
        if self.failures:
            raise RuntimeError(self.failures.pop(0))
        return "executed"


def test_a_kernel_that_died_before_answering_gets_one_more_start_and_no_more():
    died = nb_execute.KERNEL_DIED
    for failures, outcome, starts in (([], "executed", 1), ([died], "executed", 2),
                                      ([died, died], died, 2), (["Kernel crashed"], "crashed", 1)):
        calls: list[dict] = []
        queue = list(failures)
        try:
            result = nb_execute.run_client(lambda q=queue, c=calls: _Client(q, c), env={"A": "1"})
        except RuntimeError as exc:
            result = str(exc)
        assert outcome in result and len(calls) == starts, (failures, result, calls)
        assert all(call == {"env": {"A": "1"}} for call in calls)
