"""The package's shape: imports flow one way, and a pool name reaches the wire in few steps.

Run on its own to print the import graph's figures: ``python -m pytest tests/test_layers.py -s``.
"""

from __future__ import annotations

import ast
import traceback
from pathlib import Path

import httpx
import pytest
from conftest import make_client

import modelarts_nb

PACKAGE = Path(modelarts_nb.__file__).resolve().parent  # the installed copy, where tested
# The layers, lowest first: each imports only from those before it (the sandbox, a server, uses
# the gateway's signer; the top-level package and __main__ are the doors).
LAYERS = ["modelarts_nb.gateway", "modelarts_nb.deletion", "modelarts_nb.notebook",
          "modelarts_nb.cli"]


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports, module-level, lazy and TYPE_CHECKING alike."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    graph[name].add(full if full in modules else target)
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    return {m: {t for t in ts if t != m and not m.startswith(t + ".")} for m, ts in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    for module in sorted(graph):
        visit(module, [module])
    return found


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} import edges")
    assert len(graph) > 30 and cycles(graph) == []


def test_the_checker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def layer_of(module: str) -> str | None:
    return next((layer for layer in LAYERS if module == layer or module.startswith(layer + ".")),
                None)


def test_every_module_lives_in_a_layer_folder():
    """The folders are the design: nothing but the package's doors sits beside them."""
    loose = {m for m in import_graph() if layer_of(m) is None
             and not m.startswith("modelarts_nb.sandbox")}
    assert loose == {"modelarts_nb", "modelarts_nb.__main__", "modelarts_nb._version"}


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer):
    """The gateway knows nothing of deleting or showing; the deletion core draws nothing; the
    faces (notebook, command) sit on top. ``modelarts_nb.cli`` may use the notebook face's
    plain-text helpers (the history's text view, the filters' parser), never the reverse."""
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    crossing = {(m, t) for m, targets in import_graph().items() if layer_of(m) == layer
                for t in targets if layer_of(t) not in allowed | {None}}
    assert crossing == set()


def test_the_sandbox_uses_only_the_gateway():
    """The sandbox is a server: it borrows the signer and the header names, nothing that
    decides or draws."""
    used = {layer_of(t) for m, targets in import_graph().items()
            if m.startswith("modelarts_nb.sandbox") for t in targets}
    assert used <= {None, "modelarts_nb.gateway"}


@pytest.fixture
def on_the_wire(monkeypatch):
    """The URL and the package's own frames on the stack whenever httpx sends a request."""
    stacks: list[tuple[str, list[str]]] = []
    real = httpx.Client.send

    def spy(self, request, **kw):
        frames = [f for f in traceback.extract_stack() if Path(f.filename).is_relative_to(PACKAGE)]
        method, url = request.method, str(request.url)
        stacks.append((url, [f"{method} {Path(f.filename).stem}.{f.name}" for f in frames]))
        return real(self, request, **kw)

    monkeypatch.setattr(httpx.Client, "send", spy)
    return stacks


def test_a_pool_name_reaches_the_request_through_at_most_six_of_our_functions(on_the_wire,
                                                                             sandboxes):
    """From the call that receives the name (the script API, or the engine's step for one
    confirmed pool) down to httpx: at most 6 of our functions each time — the caller, what
    it reads or deletes, the verb, its retry loop, the signed send and the bounded read."""
    from modelarts_nb.deletion.flow import DeleteFlow

    sb = sandboxes(pools=2, delete_seconds=0.2)
    with make_client(sb) as client:
        pool = client.resolve("pool-01")
        client.delete_pool(sb.display_names()["pool-02"][0])
        flow = DeleteFlow(client, pool, interval=0.05)
        flow.delete_now(background=False)
    deepest = {}
    for url, stack in on_the_wire:
        if not url.startswith(sb.endpoint):
            continue  # a thread another test left behind, talking to its own sandbox
        entry = next((i for i, f in enumerate(stack) if f.split(" ")[1] in (
            "client.resolve", "client.delete_pool", "engine._send_one", "engine._check",
            "engine._reread", "impact.run")), None)  # impact.run: a work read's own thread
        assert entry is not None, stack
        chain = stack[entry:]
        deepest[chain[0]] = max(deepest.get(chain[0], 0), len(chain))
    print("\n" + "\n".join(f"{k}: {v} functions" for k, v in sorted(deepest.items())))
    assert deepest and max(deepest.values()) <= 6, deepest
    assert {"DELETE engine._send_one", "GET engine._check", "GET client.resolve"} <= set(deepest)


# The %pools panel's modules: the widget, its list and batch halves, its rows' HTML, its words.
POOLS_PANEL = {f"modelarts_nb.notebook.pools_{part}"
               for part in ("panel", "list", "batch", "rows", "words")}


def test_the_pools_panel_draws_a_plan_and_makes_no_request_itself():
    """The ``%pools`` panel holds a plan and draws it: none of its modules imports an HTTP,
    impact, fan-out or engine module (a ``Reviewer`` reads and deletes for it), so it has no
    rule of its own."""
    graph = import_graph()
    assert {m for m in graph if m.startswith("modelarts_nb.notebook.pools_")} == POOLS_PANEL
    imported = {m.rsplit(".", 1)[-1] for module in POOLS_PANEL for m in graph[module]}
    assert imported & {"api", "client", "impact", "fanout", "engine", "review", "selection",
                       "rules"} == set()
