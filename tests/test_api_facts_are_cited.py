"""The code cites what it relies on about the ModelArts API in the repository's own page,
``docs/modelarts-api.md``, by section: every citation names a section that exists, and none
points at a document outside the repository (the shared FACTS notes a newcomer cannot open)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "modelarts-api.md"
CITED = re.compile(r"docs/modelarts-api\.md((?:[ ,]*(?:and )?§[0-9.–-]+)+)")
SOURCES = [*ROOT.joinpath("modelarts_nb").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py"),
           *ROOT.joinpath("tests").rglob("*.sh"), *ROOT.joinpath("benchmarks").rglob("*.py")]


def sections() -> set[str]:
    return set(re.findall(r"^#+ §([0-9.]+) ", PAGE.read_text(encoding="utf-8"), re.M))


def cited() -> dict[str, set[str]]:
    """Section → the files that cite it (a range ``§6–8`` cites both ends)."""
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        for match in CITED.finditer(path.read_text(encoding="utf-8")):
            for number in re.findall(r"[0-9][0-9.]*", match[1]):
                found.setdefault(number.rstrip("."), set()).add(path.name)
    return found


def test_every_citation_names_a_section_of_the_page():
    known, used = sections(), cited()
    assert len(used) >= 20  # the code does cite it
    assert {number: files for number, files in used.items() if number not in known} == {}


def test_no_code_cites_a_document_outside_the_repository():
    outside = re.compile(r"FACTS(?:-2)?(?:\.md)? §|FACTS(?:-2)?\.md")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in SOURCES if path.name != Path(__file__).name
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if outside.search(line)]
    assert found == []
