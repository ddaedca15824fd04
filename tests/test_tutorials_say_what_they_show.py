"""The tutorials say what their cells show (issue #20 item 4).

A tutorial teaches by saying what the next cell prints, then printing it. When the two drift
apart (the teaching notebook promised "the exact line that would delete it" over a cell that
printed "Cannot delete here …"; said a trailing space leaves Delete disabled over a cell that
printed the opposite; listed six sections over seven), the reader learns the wrong thing, and
nbval cannot notice: it compares outputs with outputs, never with the words.

What is checked, for every notebook in ``notebooks/``:

* ``CLAIMS``: what a markdown cell says (``said``, words it must still contain) about a code
  cell (``cell``, how its source begins): phrases that cell's output must hold (``shows``; "…"
  stands for anything, runs of spaces are one space), must not hold (``lacks``), and words the
  markdown must not say because the output shows otherwise (``unsaid``). A claim whose words
  are gone fails too: change the words, review the claim.
* conventions any tutorial follows: an output quoted in a fenced block without a language
  (```` ``` ````) is shown by the code cells after it (up to the next markdown cell);
  ``PROMISES``, words that promise an output wherever they are written; the numbered list in
  the title cell is the notebook's ``## N.`` headings, numbered 1, 2, 3…; and every markdown
  cell that ends in ":" before cells with output is covered by a claim.

The outputs read are the committed ones (what a reader sees on GitHub), which nbval keeps equal
to a fresh run (``make test``; refresh with ``tests/notebooks/execute.py``); the same claims are
checked on each tutorial run afresh in a kernel by ``tests/test_saved_notebooks.py``, whose runs
they share (one run a tutorial and environment, not two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TUTORIALS = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


@dataclass(frozen=True)
class Claim:
    """What the markdown cell holding ``said`` claims about the code cell whose source is
    ``cell``, or else the one that begins with it."""

    said: str
    cell: str
    shows: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    unsaid: tuple[str, ...] = ()  # regexes


CLAIMS: dict[str, list[Claim]] = {
    "teaching.ipynb": [
        Claim("Two pools can have the same display name", "from modelarts_nb import PoolsClient",
              shows=("team-shared team-shared-…team-shared team-shared-",)),
        Claim("prints the error's one-line message", "from modelarts_nb import InvalidName",
              shows=("InvalidName: 2 pools are named 'team-shared': team-shared-…, team-shared-…; "
                     "give the pool id instead",)),
        # the id names one pool; both team-shared pools hold a yearly/monthly node: refused
        Claim("Name the pool by its id instead", "shared_ids = sorted(",
              shows=("Pool team-shared id team-shared-",
                     "Cannot delete here: pool team-shared (team-shared-…) is pay-per-use but "
                     "holds 1 yearly/monthly node"),
              lacks=("To delete this pool, run:",),
              unsaid=(r"then the exact line that would delete it",)),
        Claim("the panel below is for `pool-02`", "panel = %pool_delete pool-02",
              shows=("REVIEW: pool pool-02 (pool-02-…), phase Running",)),
        Claim("enables the button", "panel.flow.impact_checked.wait",
              shows=("'pool-2' enables Delete: False", "'Pool-02' enables Delete: False",
                     "'pool-02 ' enables Delete: True", "'pool-02' enables Delete: True",
                     "'pool-02-b306d1a8e5eeac76148b2758d7ab7928' enables Delete: True"),
              unsaid=(r"trailing space[^.]*(leaves?|leave) it disabled",)),
        Claim("The panel says so and shows no Delete button", "prepaid = %pool_delete prepaid-pool",
              shows=("REFUSED: pool prepaid-pool (prepaid-pool-…) … billed yearly/monthly: it is "
                     "released by unsubscribing, not deleted",)),
        Claim("The panel says so and shows no Delete button", "print(\"Delete button shown:\"",
              shows=("Delete button shown: False",)),
        Claim("`train-gpu` runs three training jobs and has a logical sub-pool, `infer-cpu`",
              "%pool_delete train-gpu --no-widgets",
              shows=("What deleting breaks: it stops 3 training jobs and 1 sub-pool (infer-cpu).",
                     "To delete this pool, run: %pool_delete train-gpu-… --yes --force")),
        Claim("A pool with nothing running says so", "shared_ids = sorted(",
              shows=("What deleting breaks: nothing is running or waiting on this pool.",)),
        Claim("Here is the same refusal through the Python API", "from modelarts_nb import DeletionRefused",
              shows=("DeletionRefused: pool prepaid-pool (prepaid-pool-…) is billed yearly/monthly"
                     "…; nothing was deleted",
                     "DeletionRefused: pool frozen-pool (frozen-pool-…) is frozen…; nothing was "
                     "deleted")),
        Claim("Every cell so far only read pools", "print(\"requests:\"",
              shows=("DELETE: 0", "authorization header as recorded: ***"),
              lacks=("DELETE /v2",)),
        Claim("No DELETE was sent.", "print(\"requests:\"", shows=("DELETE: 0",)),
        Claim("`--no-widgets` prints each phase change as a line of text",
              "%pool_delete pool-01-a81ad477fb3675b89cdeb3e60870e15c --yes",
              shows=("SENDING: pool pool-01 (pool-01-a81ad477fb3675b89cdeb3e60870e15c)…WATCHING: "
                     "pool pool-01…DELETED: pool pool-01 (pool-01-a81ad477fb3675b89cdeb3e60870e15c)"
                     ", phase Deleted",)),
        Claim("Only one cell deletes anything (section 5)", "pool_01 = ",
              shows=("DELETE requests sent: 1", "pool-01 still exists: False")),
        Claim("Another tenant is refused, in one line that says what to ask for",
              "from modelarts_nb import ModelArtsError",
              shows=("PermissionDenied — reading pool research-gpu-…: ask the workspace's owner to "
                     "admit tenant someone-else", "nothing was deleted")),
        Claim("reports where each setting came from and never shows a secret",
              "with PoolsClient.from_env() as client:\n    print(client.settings.describe())",
              shows=("AK/SK from environment; project … from environment; endpoint http://127.0.0.1"
                     ":…from environment", "Credentials(kind='AK/SK', source='environment')")),
        Claim("you get one error that names everything that is missing. No request is sent.",
              "from modelarts_nb import ConfigError",
              shows=("ConfigError: missing credentials (…); the project id (…); the region (…); "
                     "nothing was sent",)),
        Claim("the endpoint follows from the region", "from modelarts_nb.gateway.settings import",
              shows=("cn-north-4 -> https://modelarts.cn-north-4.myhuaweicloud.com",)),
    ],
    "quickstart.ipynb": [
        Claim("it ends with the exact line to run to delete it", "%pool_delete train-gpu --no-widgets",
              shows=("Nothing was deleted. To delete this pool, run: %pool_delete train-gpu-… "
                     "--yes",)),
        Claim("shows the phase until the pool is gone", "%pool_delete pool-01 --yes --interval 1",
              shows=("DELETED: pool pool-01 (pool-01-…), phase Deleted",)),
        Claim("Type the pool's name to enable **Delete pool**", "panel = %pool_delete pool-02",
              shows=("REVIEW: pool pool-02", "billing: pay-per-use", "spec.resources:",
                     "status.resources:")),
        Claim("other cells keep running", "print(\"the kernel is free:\"",
              shows=("the kernel is free: 45",)),
        Claim("one line per deletion: when (local time), the pool, how it ended, what it held "
              "and how it was sent", "%pools --history",
              shows=("when (…) pool outcome held sent by",
                     "pool-01 (a81ad477) deleted 1 node · 1 flavor · no workloads %pool_delete --yes",
                     "1 deletion (newest first), all to 127.0.0.1:",
                     "r = %pools --history is the DataFrame of every field")),
        Claim("What it returns is the DataFrame of every field", "deleted = %pools --history",
              shows=("name outcome phase flavors nodes",
                     "0 pool-01 deleted Deleted modelarts.vm.cpu.8u×1 1")),
        Claim("one line says when the pool was deleted from here", "%pool_delete pool-01 --yes",
              shows=("pool pool-01 was deleted from here at … on … (receipt …); %pools --history "
                     "shows it",),
              lacks=("PoolNotFound",)),
    ],
    "cleanup.ipynb": [
        Claim("The sandbox holds 30 student pools", "classes.groupby(\"phase\").size()",
              shows=("Running 30",)),
        Claim("one row per pool and one column per tag key", "classes = %pools --tag course=ml101",
              shows=("display name phase billing student age", "0 pool-01 Running pay-per-use s01")),
        Claim("the output says it was kept",
              "%pools --tag course=ml101 --keep-tag keep --older-than 8h --name 'pool-0*' --delete",
              shows=("Nothing was deleted. --delete would delete 8 pool(s):",
                     "kept pool-03 (pool-03-…): kept by --keep-tag keep",
                     "To delete them, run: %pools --tag course=ml101 --keep-tag keep …--delete --yes")),
        Claim("`--delete` alone prints what it **would** delete and sends nothing",
              "print(\"DELETE requests sent so far:\"", shows=("DELETE requests sent so far: 0",)),
        Claim("This cell deletes the pools of students 10 to 19",
              "%pools --tag course=ml101 --name 'pool-1*' --delete --yes",
              shows=("Deleting 10 pool(s), 8 at a time…", "10 deleted")),
        Claim("also carries `course=ml101`", "everywhere = %pools --all-workspaces",
              shows=("research-notebooks … research",)),
        Claim("one line per deletion", "deleted = %pools --history --since 1h",
              shows=("batch deleted 10",)),
        Claim("what it returns is the DataFrame of every field", "one = %pools --history --pool pool-13",
              shows=("pool-13 deleted Deleted modelarts.vm.cpu.8u×1 1 none",)),
    ],
}

# Words that promise an output wherever a tutorial writes them: (regex of the words, what the
# code cells after them show).
PROMISES = [
    (r"\bthe exact line (?:that would delete it|to run)", "To delete … run: %pool"),
]


# -- reading a notebook ------------------------------------------------------------------------


def flat(text: str) -> str:
    """Runs of white space as one space: tables pad their columns."""
    return " ".join(text.split())


def output_text(cell: nbformat.NotebookNode) -> str:
    """What a reader without widgets sees of a code cell: streams, text/plain, errors."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def holds(text: str, quote: str) -> bool:
    """Whether ``text`` shows ``quote``, "…" standing for anything (white space flattened)."""
    at, text = 0, flat(text)
    for piece in (flat(p) for p in quote.split("…")):
        found = text.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def code_after(cells: list, index: int) -> list:
    """The code cells after cell ``index``, up to the next markdown cell."""
    found = []
    for cell in cells[index + 1:]:
        if cell.cell_type == "markdown":
            break
        if cell.cell_type == "code":
            found.append(cell)
    return found


# -- the checks -------------------------------------------------------------------------------


def broken_claims(name: str, nb: nbformat.NotebookNode) -> list[str]:
    """Every way the notebook's words and outputs disagree, one line each (none: they agree)."""
    cells, problems = nb.cells, []
    marks = [(i, c) for i, c in enumerate(cells) if c.cell_type == "markdown"]
    codes = [c for c in cells if c.cell_type == "code"]
    covered: set[int] = set()
    for claim in CLAIMS.get(name, []):
        saying = [i for i, c in marks if flat(claim.said) in flat(c.source)]
        about = ([c for c in codes if c.source == claim.cell]
                 or [c for c in codes if c.source.startswith(claim.cell)])
        if len(saying) != 1 or len(about) != 1:
            problems.append(f"{name}: {len(saying)} markdown cell(s) say {claim.said!r} and "
                            f"{len(about)} code cell(s) begin {claim.cell!r} (one each)")
            continue
        covered.add(saying[0])
        words, shown = cells[saying[0]].source, output_text(about[0])
        problems += [f"{name}: says {claim.said!r}, but the cell {claim.cell!r} does not show "
                     f"{quote!r}" for quote in claim.shows if not holds(shown, quote)]
        problems += [f"{name}: says {claim.said!r}, but the cell {claim.cell!r} shows {quote!r}"
                     for quote in claim.lacks if holds(shown, quote)]
        problems += [f"{name}: says {re.search(words_re, words).group(0)!r}, which the cell "
                     f"{claim.cell!r} shows otherwise" for words_re in claim.unsaid
                     if re.search(words_re, words)]
    for i, cell in marks:
        after = code_after(cells, i)
        shown = "\n".join(output_text(c) for c in after)
        for quote in re.findall(r"^```[ \t]*\n(.*?)^```", cell.source, re.M | re.S):
            covered.add(i)
            if not holds(shown, quote):
                problems.append(f"{name}: cell {i} quotes {flat(quote)!r}, which the cells after "
                                "it do not show")
        for words_re, quote in PROMISES:
            said = re.search(words_re, cell.source)
            if said and not holds(shown, quote):
                problems.append(f"{name}: cell {i} promises {said.group(0)!r}, but the cells "
                                f"after it do not show {quote!r}")
        if cell.source.rstrip().endswith(":") and shown.strip() and i not in covered:
            problems.append(f"{name}: cell {i} introduces output ({flat(cell.source)[-80:]!r}) "
                            "that no claim checks: add one to CLAIMS")
    return problems + contents_problems(name, nb)


def contents_problems(name: str, nb: nbformat.NotebookNode) -> list[str]:
    """The title cell's numbered list is the ``## N. Title`` headings, numbered 1, 2, 3…"""
    headings = [(int(m.group(1)), m.group(2).strip()) for c in nb.cells
                if c.cell_type == "markdown"
                for m in re.finditer(r"^## (\d+)\. (.+)$", c.source, re.M)]
    problems = []
    numbers = [n for n, _ in headings]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"{name}: the sections are numbered {numbers}")
    title = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "markdown" else ""
    listed = re.findall(r"^\d+\. (.+)$", title, re.M)
    if listed and listed != [t for _, t in headings]:
        problems.append(f"{name}: the contents list {listed}, the headings are "
                        f"{[t for _, t in headings]}")
    return problems


# -- the tests --------------------------------------------------------------------------------


def test_every_tutorial_has_its_claims_written_down():
    assert set(CLAIMS) == set(TUTORIALS)


@pytest.mark.parametrize("name", TUTORIALS)
def test_a_saved_tutorial_says_what_its_cells_show(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert broken_claims(name, nb) == []


# -- the checker itself -----------------------------------------------------------------------


def _notebook(*cells: tuple[str, str, str]) -> nbformat.NotebookNode:
    """(kind, source, printed) triples as a notebook."""
    made = []
    for kind, source, printed in cells:
        if kind == "md":
            made.append(nbformat.v4.new_markdown_cell(source))
        else:
            made.append(nbformat.v4.new_code_cell(source, outputs=[
                nbformat.v4.new_output("stream", name="stdout", text=printed)]))
    return nbformat.v4.new_notebook(cells=made)


def test_the_checker_notices_a_promise_the_output_breaks():
    nb = _notebook(("md", "# T\n\n1. One\n2. Two", ""), ("md", "## 1. One", ""),
                   ("md", "It prints the pool, then the exact line that would delete it:", ""),
                   ("code", "x", "Cannot delete here: prepaid"), ("md", "## 2. Two", ""))
    assert broken_claims("made-up.ipynb", nb) == [
        "made-up.ipynb: cell 2 promises 'the exact line that would delete it', but the cells "
        "after it do not show 'To delete … run: %pool'",
        "made-up.ipynb: cell 2 introduces output ('It prints the pool, then the exact line that "
        "would delete it:') that no claim checks: add one to CLAIMS"]


def test_the_checker_notices_a_wrong_quote_and_a_wrong_contents_list():
    nb = _notebook(("md", "# T\n\n1. One\n2. Two", ""), ("md", "## 1. One", ""),
                   ("md", "It fails with:\n\n```\nInvalidName: 2 pools are named 'x': …\n```\n",
                    ""),
                   ("code", "y", "PoolNotFound: no pool 'x'"), ("md", "## 1. Three", ""))
    assert broken_claims("made-up.ipynb", nb) == [
        "made-up.ipynb: cell 2 quotes \"InvalidName: 2 pools are named 'x': …\", which the "
        "cells after it do not show",
        "made-up.ipynb: the sections are numbered [1, 1]",
        "made-up.ipynb: the contents list ['One', 'Two'], the headings are ['One', 'Three']"]


def test_quotes_match_with_ellipses_and_any_spacing():
    assert holds("a  b\n   c d", "a b … d") and holds("x…y", "x…y")
    assert not holds("b a", "a … b")
