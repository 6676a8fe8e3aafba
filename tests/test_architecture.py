"""Imports flow one way (cli → lake → modules); ingest/ never writes; only cli/ knows terminals, and starts without the heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditlake"
# Every area of the package (a top-level module or a subpackage), bottom to top. An area imports only areas on a
# lower line: the same line is beside it, a higher line is above it (that arrow would point up).
LAYERS = (
    {"errors"},                                  # the error tree: exit codes, warnings
    {"config", "contract", "window", "objectstore"},  # settings; the column contract; user times → one window; buckets via fsspec
    {"duck"},                                    # the one way to open DuckDB (reads config)
    {"ingest", "store", "library", "history", "policy", "demo"},  # read logs · the only writer · saved queries · timelines · audit Policy · simulator
    {"rbac"},                                    # least privilege: the RBAC a subject needs, the grants it never used (saved queries + history)
    {"reports", "scaleout"},                     # packs → Report, …; Iceberg tables; Spark: views and translated saved queries
    {"render"},                                  # every output format (reads Report types, history)
    {"lake"},                                    # the façade: composes everything below, in order
    {"cli", "__init__", "spark"},                # the command and the package's public names (auditlake.spark: register, run)
    {"__main__"},                                # `python -m auditlake`
)
LAYER = {area: rank for rank, areas in enumerate(LAYERS) for area in areas}
# Third-party modules an area must not know: only cli/ knows terminals; render/ runs no SQL; policy/ is pure.
TERMINALS = {"typer", "rich", "click"}
FORBIDDEN = {area: TERMINALS for area in LAYER if area not in ("cli", "__main__")} | {
    "render": TERMINALS | {"duckdb"},
    "policy": TERMINALS | {"duckdb", "polars", "pyarrow"},
}


def area_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


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


def test_every_area_has_a_layer():
    assert {area_of(path) for path in module_files()} <= LAYER.keys(), "add the new area to LAYERS"


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    area = area_of(path)
    for name in imports_of(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN.get(area, set()), f"{path.relative_to(PACKAGE)} imports {name}"
        if top == "auditlake" and name != "auditlake" and (target := name.split(".")[1]) != area and target in LAYER:
            assert LAYER[target] < LAYER[area], f"{path.relative_to(PACKAGE)} ({area}) imports {name}: an arrow up or sideways"


# The CLI reaches the rest through the façade: what it needs from ingest/, store/, policy/, reports/, history
# or demo goes through a `Lake` method or a name `lake` re-exports.
CLI_MAY_IMPORT = ("auditlake.cli", "auditlake.lake", "auditlake.library", "auditlake.render", "auditlake.errors", "auditlake.config")
HEAVY = ("duckdb", "pyarrow", "polars", "jinja2", "auditlake.lake")  # imported where a command runs, never at start-up


def auditlake_imports(tree: ast.AST) -> set[str]:
    """The auditlake modules (or module.name) a tree imports; `from auditlake import config` is `auditlake.config`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("auditlake"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("auditlake"):
            names.update(f"auditlake.{alias.name}" if node.module == "auditlake" else node.module for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda path: path.name)
def test_the_cli_imports_only_the_facade_library_render_errors_and_config(path):
    tree = ast.parse(path.read_text())
    for name in auditlake_imports(tree):
        assert any(name == allowed or name.startswith(allowed + ".") for allowed in CLI_MAY_IMPORT), f"cli/{path.name} imports {name}"
    at_top = imports_of_body(tree)
    for heavy in HEAVY:
        assert not any(name == heavy or name.startswith(heavy + ".") for name in at_top), f"cli/{path.name} imports {heavy} at start-up"


def imports_of_body(tree: ast.Module) -> set[str]:
    """What a module imports when it is imported: its top-level statements, not its functions' (TYPE_CHECKING blocks excepted)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("argument", ["--version", "--help"])
def test_the_cli_starts_without_duckdb_pyarrow_polars_or_jinja2(argument):
    """Not a timing test (benchmarks/startup.py times it): which modules `auditlake --version`/`--help` import at all."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "auditlake", argument], capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {"duckdb", "pyarrow", "polars", "jinja2", "auditlake.lake", "fsspec", "s3fs", "botocore"} & imported


@pytest.mark.parametrize("path", module_files(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path):
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert len(docstring) > 20, f"{path.name} needs a docstring saying what it owns"
