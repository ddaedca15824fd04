"""Re-execute the notebooks in ``notebooks/`` in place, so that their stored outputs are the
references ``pytest --nbval`` compares against.

    .venv/bin/python tests/notebooks/execute.py                 # every notebooks/*.ipynb
    .venv/bin/python tests/notebooks/execute.py notebooks/teaching.ipynb

Each notebook runs top to bottom in a fresh kernel of *this* interpreter (the venv's python,
as ``--nbval-current-env`` does, whatever the notebook's kernelspec says), with the notebook's
directory as working directory. Widget state is executed but not kept in the committed files
(see ``main``). The kernel gets a scrubbed environment: no ``HUAWEICLOUD_*`` or
``MODELARTS_*`` variable of yours and no profile file, so the outputs depend only on the
in-process sandbox each notebook starts, and no credential of yours can reach a committed file.
A failing cell aborts the run and that notebook is not rewritten.

``tests/test_saved_notebooks.py`` imports :func:`execute` to run notebooks with planted secrets.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CLOUD_PREFIXES = ("HUAWEICLOUD_", "MODELARTS_")
# jupyter_client picks free ports for a kernel and closes them before the kernel binds them; on
# a busy machine another process may take one first, and the kernel dies at once ("Address
# already in use", seen in the 3.9 root beside the browser tests). Such a start is tried once
# more; a kernel that dies again fails the run.
KERNEL_DIED = "Kernel died before replying to kernel_info"


class CurrentEnvKernelManager(AsyncKernelManager):
    """Starts ``sys.executable -m ipykernel_launcher``: the kernel is this very venv."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        connection_file = os.path.realpath(self.connection_file)
        return [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file,
                *(extra_arguments or [])]


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any cloud setting or profile file, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLOUD_PREFIXES)}
    # settings chain step 3 (~/.huaweicloud/credentials) must not see a file of yours either
    env["HUAWEICLOUD_SDK_CREDENTIALS_FILE"] = str(ROOT / "tests" / "notebooks" / "no-profile")
    # a tutorial's sandbox deletions are receipts of this run, never of your real history
    env["MODELARTS_NB_RECEIPTS"] = os.path.join(tempfile.mkdtemp(prefix="mnb-nb-"), "receipts.jsonl")
    env.update(extra or {})
    return env


def execute(
    path: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: int = 120,
    allow_errors: bool = False,
    stderr: IO[Any] | None = None,
) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` top to bottom and return it executed (nothing is written).

    ``env`` is the kernel's whole environment (default: :func:`kernel_env`); ``stderr`` a file
    that receives the kernel process's stderr.
    """
    nb = nbformat.read(path, as_version=4)
    launch: dict[str, Any] = {"env": kernel_env() if env is None else env}
    if stderr is not None:
        launch["stderr"] = stderr
    return run_client(lambda: NotebookClient(
        nb,
        kernel_manager_class=CurrentEnvKernelManager,
        kernel_name="python3",
        timeout=timeout,
        allow_errors=allow_errors,
        store_widget_state=True,
        record_timing=False,  # no execution timestamps in cell metadata: stable references
        resources={"metadata": {"path": str(path.parent)}},
    ), **launch)


def run_client(make: Callable[[], NotebookClient], **launch: Any) -> nbformat.NotebookNode:
    """``make().execute(**launch)``, with a second client when the first one's kernel died
    before answering (no cell ran): see ``KERNEL_DIED``."""
    for attempt in (1, 2):
        try:
            return make().execute(**launch)
        except RuntimeError as exc:
            if attempt == 2 or KERNEL_DIED not in str(exc):
                raise
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute notebooks in place (nbval references).")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        started = time.monotonic()
        nb = execute(path)
        # Widget state is tied to the ipywidgets major version that wrote it: a JupyterLab 3.6
        # server (ipywidgets 7) cannot load 8's and logs errors. Every widget output also carries
        # a text/HTML copy, which is what viewers without a live kernel show anyway.
        nb.metadata.pop("widgets", None)
        nbformat.validate(nb)
        nbformat.write(nb, path)
        print(f"{path}: {len(nb.cells)} cells, executed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
