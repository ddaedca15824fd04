"""Installing our wheel into the kernel ModelArts ships only adds packages.

``tests/kernel39/run.sh`` records ``pip freeze --all`` of the kernel venv before and after
``pip install modelarts_nb-*.whl`` (dependencies resolved by pip as a user's install would) and
points ``KERNEL39_FREEZE`` at them. These tests run only there, in CPython 3.9.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The kernel stack of the mindspore1.7.0 notebook image (docs/modelarts-api.md §11.2); numpy 1.19.5 stands for
# "whatever numpy the image's pandas 1.1.5 runs on".
KERNEL_STACK = {
    "ipykernel": "6.7.0",
    "ipython": "7.34.0",
    "pandas": "1.1.5",
    "numpy": "1.19.5",
    "ipywidgets": "7.6.5",
    "jupyter-client": "7.3.4",
    "tornado": "6.1",
}


def _freeze(name: str) -> dict[str, str]:
    folder = os.environ.get("KERNEL39_FREEZE")
    if not folder:
        pytest.fail("KERNEL39_FREEZE is not set: run these tests through tests/kernel39/run.sh")
    packages = {}
    for line in (Path(folder) / name).read_text().splitlines():
        if "==" in line:
            project, version = line.split("==", 1)
        elif " @ " in line:
            project, version = line.split(" @ ", 1)
        else:
            continue
        packages[project.strip().lower().replace("_", "-")] = version.strip()
    return packages


def test_runs_in_python_39() -> None:
    assert sys.version_info[:2] == (3, 9), sys.version


def test_the_kernel_stack_is_what_modelarts_ships() -> None:
    before = _freeze("freeze-before.txt")
    assert {name: before.get(name) for name in KERNEL_STACK} == KERNEL_STACK


def test_installing_the_wheel_only_adds_packages() -> None:
    before, after = _freeze("freeze-before.txt"), _freeze("freeze-after.txt")
    changed = {
        name: f"{version} -> {after.get(name, 'removed')}"
        for name, version in before.items()
        if after.get(name) != version
    }
    added = sorted(f"{name}=={after[name]}" for name in after.keys() - before.keys())
    print(f"\npip install of the wheel added {len(added)} packages: {', '.join(added)}")
    assert not changed, f"installing modelarts-nb changed the kernel's packages: {changed}"
    assert "modelarts-nb" in after


def test_installed_package_is_the_one_under_test() -> None:
    import modelarts_nb

    where = Path(modelarts_nb.__file__).resolve()
    assert "site-packages" in where.parts, f"tests import {where}, not the installed wheel"
