"""The README is a front page and the docs hang together: every relative link and image in
README.md and docs/*.md names a file of the repository, every ``#anchor`` names a heading of its
page (GitHub's slugs), every docs page is reachable from the README and links back to it.
External links are not fetched (no network here); they only have to be well-formed URLs."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](x), ![alt](x)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def prose(page: Path) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def links(page: Path) -> list[str]:
    """Every link and image target, code spans left out (a link's text may wrap a line)."""
    return LINK.findall(CODE_SPAN.sub("", "\n".join(prose(page))))


def slug(heading: str) -> str:
    """GitHub's anchor: lowercase, punctuation dropped but hyphens, spaces become hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for line in prose(page):
        match = HEADING.match(line)
        if match:
            name = slug(match[1])
            found.add(f"{name}-{seen[name]}" if seen[name] else name)  # repeats get -1, -2
            seen[name] += 1
    return found


def check(page: Path, target: str, root: Path) -> str | None:
    """What is wrong with one link of ``page``, or None."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
        url = urlsplit(target)
        return None if url.scheme in ("http", "https") and url.netloc else "not an http(s) URL"
    path, _, anchor = target.partition("#")
    dest = (page.parent / unquote(path)).resolve() if path else page
    if not dest.is_relative_to(root.resolve()) or not dest.exists():
        return "no such file in the repository"
    if anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
        return f"no heading #{anchor} in {dest.name}"
    return None


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def broken_links(root: Path) -> list[str]:
    return [f"{page.relative_to(root)}: ({target}): {problem}" for page in pages(root)
            for target in links(page) for problem in [check(page, target, root)] if problem]


def test_every_link_and_image_resolves():
    assert broken_links(ROOT) == []


def test_the_checker_sees_each_kind_of_broken_link(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Idle pools: `--idle`\n")
    (tmp_path / "README.md").write_text(
        "# Front\n\n[fine](docs/a.md#idle-pools---idle) [here](#front) [web](https://example.org/x)\n"
        "[gone](docs/b.md) ![gone](docs/b.png) [no heading](docs/a.md#idle)\n"
        "[bad url](https:/x) `[in code](docs/c.md)`\n```\n[in a block](docs/d.md)\n```\n")
    assert [line.split(": ")[1] for line in broken_links(tmp_path)] == [
        "(docs/b.md)", "(docs/b.png)", "(docs/a.md#idle)", "(https:/x)"]


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_no_docs_page_is_orphaned():
    """Every docs page is reached from the README, directly or through linked docs pages."""
    reached, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        for target in links(page):
            dest = (page.parent / unquote(target.partition("#")[0])).resolve()
            if dest.suffix == ".md" and dest.exists() and dest not in reached:
                reached.add(dest)
                todo.append(dest)
    assert [p.name for p in pages(ROOT)[1:] if p.resolve() not in reached] == []


def test_every_docs_page_says_what_it_is_and_links_back_to_the_readme():
    for page in pages(ROOT)[1:]:
        title, blank, summary = page.read_text(encoding="utf-8").splitlines()[:3]
        assert title.startswith("# ") and blank == "" and summary, page.name
        assert "../README.md" in links(page), page.name
