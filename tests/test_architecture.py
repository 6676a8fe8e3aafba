"""Imports flow one way (cli → lake → modules); ingest/ never writes; only cli.py knows terminals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditlake"
# Everything in auditlake but errors and config: what the lowest modules (contract, duck) may not import.
_ABOVE_CONTRACT = {"auditlake.lake", "auditlake.cli", "auditlake.store", "auditlake.ingest", "auditlake.queries", "auditlake.library",
                   "auditlake.detect", "auditlake.packs", "auditlake.report", "auditlake.reports", "auditlake.review",
                   "auditlake.render", "auditlake.report_render", "auditlake.history", "auditlake.policy", "auditlake.demo",
                   "auditlake.window", "auditlake.duck", "auditlake.contract"}
FORBIDDEN = {
    "ingest": {"auditlake.store", "auditlake.lake", "auditlake.cli", "typer", "rich"},
    # store/ is the only writer under LAKE/: it sits below the façade, the library, reports and render, and beside ingest.
    "store": {"auditlake.lake", "auditlake.cli", "auditlake.ingest", "auditlake.queries", "auditlake.library", "auditlake.detect",
              "auditlake.packs", "auditlake.report", "auditlake.reports", "auditlake.review", "auditlake.render",
              "auditlake.report_render", "auditlake.history", "auditlake.policy", "auditlake.demo", "typer", "rich"},
    "contract": _ABOVE_CONTRACT - {"auditlake.contract"},
    "duck": _ABOVE_CONTRACT - {"auditlake.duck"},
    "lake": {"auditlake.cli", "typer", "rich"},
    "render": {"auditlake.lake", "auditlake.cli", "auditlake.store", "typer", "rich", "duckdb"},
    "demo": {"auditlake.lake", "auditlake.cli", "auditlake.store", "typer", "rich"},
    "policy": {"auditlake.lake", "auditlake.cli", "auditlake.store", "auditlake.render",
               "auditlake.report_render", "typer", "rich", "duckdb", "polars", "pyarrow"},
    # the saved-query library needs no lake: `query list/show` and `policy recommend` read only files
    "library": {"auditlake.lake", "auditlake.cli", "auditlake.render", "auditlake.report_render", "auditlake.reports", "auditlake.store",
                "auditlake.storage", "auditlake.catalog", "typer", "rich"},
    # a report is built from a connection, a manifest and the library, never from the Lake (that was a cycle)
    "reports": {"auditlake.lake", "auditlake.cli", "typer", "rich"},
    "window": {"auditlake.lake", "auditlake.cli", "auditlake.library", "auditlake.reports", "duckdb", "typer", "rich"},
}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from auditlake import lake` imports auditlake.lake
    return names


def module_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = ("auditlake", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the auditlake modules it imports (anywhere in it: a function-level import is an arrow too).

    `from auditlake.x import y` is an arrow to `auditlake.x.y` when that is a module, else to `auditlake.x`.
    """
    modules = {module_name(path): path for path in module_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                               for alias in node.names)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (`a → b → a`), or None: a depth-first search that stops at the first back edge."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    """Every arrow points down: no module imports, directly or not, a module that imports it (a package's
    `__init__` counts as a module, so a package re-exporting a module that imports the package is a cycle)."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    relative = path.relative_to(PACKAGE)
    area = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    imported = imports_of(path)
    for forbidden in FORBIDDEN.get(area, set()):
        assert not any(name == forbidden or name.startswith(forbidden + ".") for name in imported), f"{relative} imports {forbidden}"
    if relative.name != "cli.py":
        assert not {"typer", "rich", "click"} & {name.split(".")[0] for name in imported}, f"{relative} knows about terminals"


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path):
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert len(docstring) > 20, f"{path.name} needs a docstring saying what it owns"
