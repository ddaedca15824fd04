"""The sdist and the wheel as someone installing or redistributing them would find them.

Built here from a copy of the source tree (tracked and new files, as ``git`` sees them) into
which files a developer leaves lying around are planted: a ``.env`` with keys, the demo's
``sandbox.env``, a venv, notebook checkpoints, bytecode, screenshots, an old wheel. The build
runs offline (``python -m build --no-isolation``: hatchling from the test venv), so the test
sends nothing outside; ``make dist`` builds the same way with isolation, as an index would.

Checked: ``py.typed`` and the LICENSE ship, the LICENSE is the licence the metadata declares,
the long description is the README and renders (``twine check --strict``), nothing planted or
private ships, and the dependency ranges admit the kernel stack of ModelArts' images (so
installing never upgrades pandas, numpy, IPython, ipykernel or ipywidgets there) and the
stacks we test on. Not run in the 3.9 kernel root (tests/kernel39/run.sh leaves it out): it holds the
installed wheel, not the sources.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # noqa: E402 (after the skip on purpose)

ROOT = Path(__file__).resolve().parents[1]
MARKER = f"PLANTED-SECRET-{secrets.token_hex(16)}"  # random: this file holds no copy
PLANTED = [
    ".env",
    ".env.local",
    "credentials",  # a copy of ~/.huaweicloud/credentials
    ".venv/demo/sandbox.env",
    ".venv/lib/python3.11/site-packages/leak.py",
    ".venv-compat/pyvenv.cfg",
    ".kernel39/root/etc/leak",
    "test-artifacts/screenshot.txt",
    "dist/modelarts_nb-0.0.1-py3-none-any.whl",
    "modelarts_nb/.env",
    "modelarts_nb/sandbox/sandbox.env",
    "modelarts_nb/.ipynb_checkpoints/panel-checkpoint.py",
    "modelarts_nb/__pycache__/leak.cpython-311.pyc",
    "notebooks/.ipynb_checkpoints/quickstart-checkpoint.ipynb",
    "tests/.env",
]
# The kernel of ModelArts' notebook images (README "Where it runs", docs/modelarts-api.md §11.2).
IMAGE_STACK = {"pandas": "1.1.5", "numpy": "1.19.5", "ipython": "7.34.0", "ipykernel": "6.7.0",
               "ipywidgets": "7.6.5"}
KERNEL_PACKAGES = tuple(IMAGE_STACK)


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    source: Path

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()

    def wheel_read(self, name: str) -> bytes:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.read(name)

    def sdist_names(self) -> list[str]:
        with tarfile.open(self.sdist) as archive:
            return [m.name.split("/", 1)[1] for m in archive.getmembers()
                    if m.isfile() and "/" in m.name]

    def sdist_read(self, name: str) -> bytes:
        with tarfile.open(self.sdist) as archive:
            handle = archive.extractfile(f"{self.sdist.name[:-len('.tar.gz')]}/{name}")
            assert handle is not None
            return handle.read()

    def metadata(self) -> Message:
        (name,) = [n for n in self.wheel_names() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(self.wheel_read(name).decode("utf-8"))


def _source_files() -> Iterator[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True).stdout.decode()
    yield from (name for name in listed.split("\0") if name and (ROOT / name).is_file())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("packaging")
    source, out = base / "src", base / "dist"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name in PLANTED:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(f"HUAWEICLOUD_SDK_SK={MARKER}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")  # build makes the wheel from the sdist: it is complete
    return Built(wheel, sdist, source)


def test_the_wheel_ships_py_typed_and_the_license(built: Built) -> None:
    names = built.wheel_names()
    assert "modelarts_nb/py.typed" in names
    assert "modelarts_nb/sandbox/demo.py" in names  # `python -m modelarts_nb.sandbox.demo`
    licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert licence and built.wheel_read(licence[0]) == (ROOT / "LICENSE").read_bytes()
    assert "modelarts_nb/py.typed" in built.sdist_names()


def test_the_license_file_is_the_licence_the_metadata_declares(built: Built) -> None:
    text = " ".join((ROOT / "LICENSE").read_text(encoding="utf-8").split())
    assert text.startswith("Apache License Version 2.0, January 2004")
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    declared = re.search(r'^license = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert declared and declared[1] == "Apache-2.0"
    meta = built.metadata()
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    # PEP 639: no licence classifier next to an expression (tools refuse the mix)
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])
    sdist_meta = email.parser.Parser().parsestr(built.sdist_read("PKG-INFO").decode("utf-8"))
    assert sdist_meta["License-Expression"] == "Apache-2.0"
    assert built.sdist_read("LICENSE") == (ROOT / "LICENSE").read_bytes()


def test_the_long_description_is_the_readme_and_renders(built: Built) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    meta = built.metadata()
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == readme.strip()
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                            str(built.wheel), str(built.sdist)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2


def test_nothing_planted_or_private_ships(built: Built) -> None:
    wheel, sdist = built.wheel_names(), built.sdist_names()
    assert all(n.startswith(("modelarts_nb/", "modelarts_nb-0.1.0.dist-info/")) for n in wheel)
    for name in PLANTED:
        assert name not in sdist and name not in wheel
    private = re.compile(r"(^|/)(\.venv|\.venv-compat|\.kernel39|test-artifacts|dist|"
                         r"__pycache__|\.ipynb_checkpoints)/|\.pyc$|(^|/)\.env|\.env$")
    assert [n for n in sdist + wheel if private.search(n)] == []
    for name in wheel:
        assert MARKER.encode() not in built.wheel_read(name), name
    for name in sdist:
        assert MARKER.encode() not in built.sdist_read(name), name
    top = {n.split("/", 1)[0] for n in sdist}
    assert top <= {"modelarts_nb", "tests", "notebooks", "benchmarks", "docs", ".ci", "Makefile",
                   "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO",
                   ".gitignore"}, top
    assert {"CHANGELOG.md", "README.md", "pyproject.toml", "tests/conftest.py",
            "notebooks/quickstart.ipynb"} <= set(sdist)


def _runtime_requirements(meta: Message) -> dict[str, Requirement]:
    found = {}
    for line in meta.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or "extra" not in str(requirement.marker):
            found[requirement.name.lower()] = requirement
    return found


def test_dependency_ranges_never_upgrade_a_kernels_stack(built: Built) -> None:
    meta = built.metadata()
    needs = _runtime_requirements(meta)
    assert set(needs) == {"httpx", "pandas", "ipywidgets", "ipython"}  # README: nothing else
    # the test-only oracles (they pin pymongo, pull requests) never become runtime needs
    extras = [Requirement(r).name for r in meta.get_all("Requires-Dist") or []]
    assert "huaweicloudsdkcore" in extras and "huaweicloudsdkcore" not in needs
    stacks = {"ModelArts image": IMAGE_STACK, "this venv": {}}
    for name in KERNEL_PACKAGES:  # and what the test venv holds now (the newest majors)
        try:
            stacks["this venv"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    refused = [
        f"{where}: {name} {version} outside {needs[name].specifier}"
        for where, stack in stacks.items() for name, version in stack.items()
        if name in needs and not needs[name].specifier.contains(version, prereleases=True)
    ]
    assert refused == []
    python = meta["Requires-Python"]
    assert python == ">=3.9"
