"""No deletion without intent, whatever runs the notebook.

Run All / nbclient, `jupyter nbconvert --execute`, papermill-style injected parameters, terminal
IPython and plain Python scripts delete nothing unless `--yes` stands on the same line as the
explicit pool, or the Python API's `delete_pool` is called. DELETEs are counted at the sandbox.
(A person clicking in JupyterLab is covered by tests/browser.)
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from test_saved_notebooks import nb_execute

DRY_CELLS = [
    "%load_ext modelarts_nb",
    "%pool_delete pool-01",
    "p = %pool_delete pool-02\np",
    "p.typed.value = 'pool-0'  # a wrong name typed by a script",
    "p.delete_button.click()",
    "%pool_delete pool-03 --no-widgets",
    "%pool_delete train-gpu --no-wait",
]


@pytest.fixture
def sb(env_sandbox):
    """The sandbox, its settings in os.environ: inherited by kernels and subprocesses."""
    return env_sandbox


def notebook(cells: list[str], *, parameters: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    if parameters is not None:
        tagged = nbformat.v4.new_code_cell(parameters)
        tagged.metadata["tags"] = ["parameters"]
        nb.cells.append(tagged)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


def inject_parameters(nb: nbformat.NotebookNode, source: str) -> None:
    """What papermill does: a cell tagged injected-parameters right after the parameters cell."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)


def run_all(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run All in a fresh kernel (started once more if it died before answering)."""
    return nb_execute.run_client(lambda: NotebookClient(nb, timeout=60, kernel_name="python3"))


def test_run_all_of_dry_cells_deletes_nothing(sb):
    run_all(notebook(DRY_CELLS))
    assert sb.count(method="GET") >= 4
    assert sb.count(method="DELETE") == 0


def test_nbconvert_execute_deletes_nothing(sb, tmp_path):
    path = tmp_path / "dry.ipynb"
    nbformat.write(notebook(DRY_CELLS), path)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--output",
            str(tmp_path / "out.ipynb"),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (tmp_path / "out.ipynb").exists()
    assert sb.count(method="DELETE") == 0


def test_papermill_style_parameters_need_yes_on_the_line(sb):
    dry = notebook(["%load_ext modelarts_nb", "%pool_delete $pool"], parameters="pool = 'x'")
    inject_parameters(dry, "pool = 'pool-01'")
    run_all(dry)
    assert sb.count(method="DELETE") == 0
    wet = notebook(
        ["%load_ext modelarts_nb", "%pool_delete $pool --yes --interval 0.1"],
        parameters="pool = 'x'",
    )
    inject_parameters(wet, "pool = 'pool-02'")
    run_all(wet)
    assert "pool-02" not in sb.display_names()  # gone
    assert sb.count(method="DELETE") == 1
    assert [r.pool for r in sb.requests if r.method == "DELETE"][0].startswith("pool-02-")


def test_terminal_ipython_needs_yes(sb):
    def ipython(code: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "IPython",
                "--no-banner",
                "--quick",
                "--colors=NoColor",
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    ipython("%load_ext modelarts_nb\n%pool_delete pool-01\n%pool_delete pool-02 --no-wait")
    assert sb.count(method="DELETE") == 0
    out = ipython("%load_ext modelarts_nb\n%pool_delete pool-01 --yes --interval 0.1")
    assert "DELETED: pool pool-01" in out
    assert sb.count(method="DELETE") == 1


def test_plain_python_deletes_only_when_asked(sb, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\n"
        "from modelarts_nb import PoolsClient\n"
        "with PoolsClient.from_env() as client:\n"
        "    pools = client.list_pools()\n"
        "    pool = client.resolve('pool-03')\n"
        "    if sys.argv[1:] == ['delete']:\n"
        "        client.delete_pool(pool.id)\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert sb.count(method="DELETE") == 0
    subprocess.run([sys.executable, str(script), "delete"], check=True, timeout=60)
    assert sb.count(method="DELETE") == 1


def test_importing_and_loading_the_extension_sends_nothing(sb):
    code = "import modelarts_nb, modelarts_nb.notebook.magic, modelarts_nb.notebook.panel"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert sb.count() == 0
